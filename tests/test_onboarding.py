"""Welcome, occupation, menu, language: what a worker sees in their first taps."""

from bot.channels.telegram.menus import set_commands
from tests.conftest import OPERATOR, labels_of, welcomed
from tests.transcript import dialog


async def test_start_says_who_runs_the_bot_and_that_it_is_not_bpjs_then_asks_occupation(chat, db):
    replies = await dialog(chat).play(f"""
        > /start
        < {OPERATOR}
        < bukan BPJS Ketenagakerjaan
        # the operator's contact
        < 0736-000000
        < [🌾 Petani] [🎣 Nelayan] [🛒 Pedagang] [🚐 Sopir/angkot] [🛵 Mitra ojol] [👤 Lainnya] ...
    """)

    assert len(replies) == 1, "one message per answer"
    assert db("select state from contacts")[0]["state"] == "onboarding/occupation"


async def test_a_first_message_that_is_not_start_still_gets_the_welcome_and_an_answer(chat):
    replies = await chat.say("brp iurannya")

    assert "bukan BPJS Ketenagakerjaan" in replies[0].text
    assert replies[-1].text.startswith("Mulai Rp16.800 per bulan")


async def test_a_first_sticker_gets_the_welcome(chat, db):
    replies = await chat.send(chat.user.send_sticker())

    assert OPERATOR in replies[0].text
    assert db("select state from contacts")[0]["state"] == "onboarding/occupation"


async def test_choosing_an_occupation_speaks_to_it_and_shows_the_menu(chat, db):
    await dialog(chat).play("""
        > /start
        > [Nelayan]
        < Melaut itu berisiko
        < Rp16.800
        < ... [🧮 Hitung iuran] ... [✋ Saya tertarik] ... [🌐 Bahasa/Language] [🔒 Data & berhenti] ...
    """)

    assert db("select occupation, state from contacts")[0][:] == ("nelayan", "main")


async def test_deep_link_code_is_kept_as_the_source_and_the_first_one_sticks(chat, db):
    await chat.command("start", "PETUGAS_MUKOMUKO_01")
    await chat.command("start", "KAMPANYE_2")

    assert db("select source_code from contacts")[0]["source_code"] == "PETUGAS_MUKOMUKO_01"


async def test_a_malformed_deep_link_code_is_ignored(chat, db):
    await chat.command("start", "<script>")

    assert db("select source_code from contacts")[0]["source_code"] is None


async def test_start_again_goes_straight_to_the_menu(chat):
    await dialog(chat).play(f"""
        > /start
        > [Nelayan]
        > /start
        < {OPERATOR}
        < ... [✋ Saya tertarik] ...
    """)


async def test_skipping_the_occupation_still_explains_with_general_examples(chat, db):
    await dialog(chat).play("""
        > /start
        > [Lewati]
        > [Apa itu BPU]
        < Bukan Penerima Upah
        # the example for other occupations
        < penjahit
    """)

    assert db("select occupation from contacts")[0]["occupation"] is None


async def test_switching_to_english_and_back(chat, db):
    await welcomed(chat)

    replies = await dialog(chat).play("""
        > [Bahasa/Language]
        > [English]
        < English
    """)

    assert db("select locale from contacts")[0]["locale"] == "en"
    assert "✋ I'm interested" in labels_of(replies) or any("interested" in label for label in labels_of(replies))
    await dialog(chat).play("""
        > /bahasa
        > [Bahasa Indonesia]
        < Bahasa Indonesia
    """)
    assert db("select locale from contacts")[0]["locale"] == "id"


async def test_greeting_and_thanks_get_a_kind_word_and_the_menu(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > Assalamualaikum
        < Halo juga
        < ... [🧮 Hitung iuran] ...
        > makasih ya
        < Sama-sama
    """)


async def test_help_lists_the_commands(chat):
    await dialog(chat).play("""
        > /bantuan
        < /datasaya
        < /hapus
    """)


async def test_command_menu_is_set_at_start_up_in_both_languages(app, telegram, bot_api):
    await set_commands(telegram, app)

    indonesian = dict(bot_api.commands())
    english = dict(bot_api.commands("en"))
    assert list(indonesian) == ["start", "menu", "bahasa", "datasaya", "berhenti", "mulai", "hapus", "bantuan"]
    assert indonesian["hapus"] == "Hapus data saya"
    assert list(english) == list(indonesian)
    assert english["hapus"] != indonesian["hapus"]
