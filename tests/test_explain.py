"""Topics, benefits told through the worker's occupation, FAQ, and typed everyday Indonesian."""

import pytest

from tests.conftest import text_of, welcomed
from tests.transcript import dialog


async def test_benefits_use_the_occupations_own_risks(chat):
    await welcomed(chat, "Petani")

    await dialog(chat).play("""
        > [Manfaatnya]
        < Untuk petani
        < parang
        < ... [🚑 Kecelakaan kerja] ... [🕊️ Meninggal dunia] ... [🎓 Beasiswa anak] ... [🐷 Tabungan hari tua] ...
    """)


async def test_death_benefit_states_the_confirmed_amounts_and_hedges_the_waiting_period(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Manfaatnya]
        > [Meninggal dunia]
        < Rp42.000.000
        < Rp20.000.000
        < Rp12.000.000
        < Rp10.000.000
        # one source only (MED): told as theirs
        < Menurut keterangan BPJS Ketenagakerjaan
    """)


async def test_register_explains_jmo_offices_and_perisai_and_never_asks_for_a_nik(chat):
    await welcomed(chat)

    replies = await dialog(chat).play("""
        > [Cara daftar]
        < JMO
        < Perisai
        < tidak pernah meminta NIK
    """)

    assert "kantor cabang" in text_of(replies).lower()


async def test_faq_has_at_least_fifteen_questions_over_pages_and_each_answers(chat):
    await welcomed(chat)
    navigation = ("Pertanyaan lain ›", "‹ Sebelumnya", "🏠 Menu")
    questions = []  # (the list page it is on, the question)
    page = (await chat.tap("Tanya jawab"))[0]
    while True:
        questions += [(page, label) for label in page.labels if label not in navigation]
        if "Pertanyaan lain ›" not in page.labels:
            break
        page = (await chat.tap("Pertanyaan lain ›", page))[0]

    assert len(questions) >= 15
    assert len({question for _, question in questions}) == len(questions)
    for page, question in questions:
        assert len(question) <= 32, "a question must fit a button on a phone"
        answer = (await chat.tap(question, page))[0]
        assert not answer.text.startswith(question), "the answer first: the question is the button tapped"
        assert len(answer.text) > 60, question
        assert "💬 Pertanyaan lain" in answer.labels


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("brp iurannya", "Mulai Rp16.800 per bulan"),
        ("Berapa biayanya?", "Mulai Rp16.800 per bulan"),
        ("klo meninggal dapet apa", "Rp42.000.000 dari JKM"),
        ("cara daftarnya gmn", "aplikasi JMO"),
        ("beasiswa anak", "Beasiswa untuk paling banyak 2 anak"),
        ("apa itu bpu", "Bukan Penerima Upah"),
        ("kalo kecelakaan pas narik gimana", "ditanggung JKK"),
        ("telat bayar kena denda gak", "Tidak ada denda"),
        ("bedanya sama bpjs kesehatan apa", "badan yang berbeda"),
        ("JHT bisa dicairkan kapan", "JHT bisa diklaim"),
        ("saya tertarik", "Sebelum mencatat data Anda"),
        ("menu", "Mau tahu apa?"),
    ],
)
async def test_everyday_indonesian_reaches_the_right_topic(chat, typed, expected):
    await welcomed(chat)

    await dialog(chat).play(f"""
        > {typed}
        < {expected}
    """)


async def test_what_is_not_understood_gets_an_apology_and_the_menu(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > qwerty zxcv
        < Maaf, saya belum mengerti
        < ... [✋ Saya tertarik] ...
    """)


async def test_typing_a_button_label_works_like_tapping_it(chat):
    await welcomed(chat)

    replies = await chat.say("Cara daftar")

    assert replies[0].text.startswith("Anda bisa daftar sendiri lewat aplikasi JMO")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("how much is it?", "per month"),
        ("how do I register", "JMO"),
        ("what if I die", "JKM"),
        ("scholarship for my kids", "Scholarship"),
    ],
)
async def test_a_worker_who_switched_to_english_can_type_in_english(chat, typed, expected):
    await welcomed(chat)

    await dialog(chat).play(f"""
        > /language
        > [English]
        > {typed}
        < {expected}
    """)
