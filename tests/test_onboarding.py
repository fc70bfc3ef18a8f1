"""Welcome, occupation, menu, language: what a worker sees in their first taps."""

from bot.channels.telegram.channel import set_commands
from tests.conftest import OPERATOR, labels_of, text_of, welcomed


async def test_start_says_who_runs_the_bot_and_that_it_is_not_bpjs_then_asks_occupation(chat, db):
    replies = await chat.command("start")

    assert len(replies) == 1, "one message per answer"
    welcome = replies[0]
    assert OPERATOR in welcome.text
    assert "bukan BPJS Ketenagakerjaan" in welcome.text
    assert "0736-000000" in welcome.text  # the operator's contact
    assert welcome.labels[:6] == [
        "🌾 Petani",
        "🎣 Nelayan",
        "🛒 Pedagang",
        "🚐 Sopir/angkot",
        "🛵 Mitra ojol",
        "👤 Lainnya",
    ]
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
    await chat.command("start")

    replies = await chat.tap("Nelayan")

    assert "Melaut itu berisiko" in replies[0].text
    assert "Rp16.800" in replies[0].text
    assert {"🧮 Hitung iuran", "✋ Saya tertarik", "🔒 Data & berhenti", "🌐 Bahasa/Language"} <= set(replies[0].labels)
    assert db("select occupation, state from contacts")[0][:] == ("nelayan", "main")


async def test_deep_link_code_is_kept_as_the_source_and_the_first_one_sticks(chat, db):
    await chat.command("start", "PETUGAS_MUKOMUKO_01")
    await chat.command("start", "KAMPANYE_2")

    assert db("select source_code from contacts")[0]["source_code"] == "PETUGAS_MUKOMUKO_01"


async def test_a_malformed_deep_link_code_is_ignored(chat, db):
    await chat.command("start", "<script>")

    assert db("select source_code from contacts")[0]["source_code"] is None


async def test_start_again_goes_straight_to_the_menu(chat):
    await welcomed(chat)

    replies = await chat.command("start")

    assert OPERATOR in replies[0].text
    assert "✋ Saya tertarik" in replies[0].labels


async def test_skipping_the_occupation_still_explains_with_general_examples(chat, db):
    await chat.command("start")
    await chat.tap("Lewati")

    replies = await chat.tap("Apa itu BPU")

    assert "Bukan Penerima Upah" in replies[0].text
    assert "penjahit" in replies[0].text  # the example for other occupations
    assert db("select occupation from contacts")[0]["occupation"] is None


async def test_switching_to_english_and_back(chat, db):
    await welcomed(chat)

    await chat.tap("Bahasa/Language")
    replies = await chat.tap("English")

    assert db("select locale from contacts")[0]["locale"] == "en"
    assert "English" in replies[0].text
    assert "✋ I'm interested" in labels_of(replies) or any("interested" in label for label in labels_of(replies))
    replies = await chat.command("bahasa")
    replies = await chat.tap("Bahasa Indonesia")
    assert "Bahasa Indonesia" in text_of(replies)
    assert db("select locale from contacts")[0]["locale"] == "id"


async def test_greeting_and_thanks_get_a_kind_word_and_the_menu(chat):
    await welcomed(chat)

    hello = await chat.say("Assalamualaikum")
    thanks = await chat.say("makasih ya")

    assert "Halo juga" in hello[0].text and "🧮 Hitung iuran" in hello[0].labels
    assert "Sama-sama" in thanks[0].text


async def test_help_lists_the_commands(chat):
    replies = await chat.command("bantuan")

    assert "/datasaya" in replies[0].text and "/hapus" in replies[0].text


async def test_command_menu_is_set_at_start_up_in_both_languages(app, telegram, bot_api):
    await set_commands(telegram, app)

    indonesian = dict(bot_api.commands())
    english = dict(bot_api.commands("en"))
    assert list(indonesian) == ["start", "menu", "bahasa", "datasaya", "berhenti", "mulai", "hapus", "bantuan"]
    assert indonesian["hapus"] == "Hapus data saya"
    assert list(english) == list(indonesian)
    assert english["hapus"] != indonesian["hapus"]
