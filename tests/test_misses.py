"""Messages the bot did not understand: kept masked for staff, counted together, gone with the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import BotApp
from bot.services.misses import grouped_misses, mask_miss, record_miss
from tests.conftest import MONDAY_10_WIB, welcomed


def contact_id_of(chat, db) -> int:
    return db("select id from contacts where external_id = ?", str(chat.chat_id))[0][0]


async def miss(app: BotApp, contact_id: int, text: str, state: str = "main", when: datetime = MONDAY_10_WIB) -> None:
    async with app.dispatcher.sessions.begin() as session:
        await record_miss(session, contact_id, state, text, when)


async def test_a_miss_is_kept_without_phone_numbers_or_nik(app, chat, db):
    await welcomed(chat)
    person = contact_id_of(chat, db)

    await miss(app, person, "tlg hubungi  saya\n di 0812-3456-7890 ya")
    await miss(app, person, "nik sy 3201234567890001 bisa daftar?")
    await miss(app, person, "nik 3201 2345 6789 0001")

    texts = [row["text"] for row in db("select text from misses order by id")]
    assert texts[0] == "tlg hubungi saya di 0812*****890 ya", "masked as in the logs, spaces collapsed"
    assert "3201234567890001" not in texts[1] and "[nomor]" in texts[1]
    assert texts[2] == "nik [nomor]"
    stored = " ".join(texts)
    assert "3456" not in stored and "2345" not in stored
    assert db("select state, created_at from misses")[0][0] == "main"


def test_masking_keeps_amounts_and_long_messages_are_cut():
    assert mask_miss("iuran 16.800 sebulan") == "iuran 16.800 sebulan"
    assert mask_miss("+62 812.3456.7890") == "+628*******890"
    assert "[nomor]" in mask_miss("nol delapan satu dua tiga empat lima enam tujuh delapan")
    assert len(mask_miss("kata " * 200)) == 300


async def test_misses_are_grouped_by_words_and_step_most_frequent_first(app, chat, new_chat, db):
    await welcomed(chat)
    other = new_chat("Rina")
    await welcomed(other)
    siti, rina = contact_id_of(chat, db), contact_id_of(other, db)
    later = MONDAY_10_WIB + timedelta(hours=3)

    await miss(app, siti, "halo bos")
    await miss(app, siti, "Kapan cair?")
    await miss(app, rina, "kapan   CAIR?", when=later)
    await miss(app, rina, "kapan cair?", state="calc", when=MONDAY_10_WIB + timedelta(hours=1))
    await miss(app, siti, "bisa utk anak?", when=later)

    async with app.dispatcher.sessions() as session:
        groups = await grouped_misses(session, None)
        recent = await grouped_misses(session, later)

    assert [(g.text, g.state, g.count) for g in groups] == [
        ("kapan cair?", "main", 2),
        ("bisa utk anak?", "main", 1),  # seen last among the single ones
        ("kapan cair?", "calc", 1),
        ("halo bos", "main", 1),
    ]
    assert groups[0].last_seen == later.astimezone(UTC)
    assert [(g.text, g.count) for g in recent] == [("bisa utk anak?", 1), ("kapan cair?", 1)]


async def test_erasing_a_person_erases_their_misses_and_no_one_elses(app, chat, new_chat, db):
    await welcomed(chat)
    other = new_chat("Rina")
    await welcomed(other)
    await miss(app, contact_id_of(chat, db), "apa itu bpu sih")
    await miss(app, contact_id_of(other, db), "halo bos")

    await chat.say("HAPUS")
    done = await chat.tap("Ya, hapus semua")

    assert "sudah dihapus" in done[0].text
    assert [row["text"] for row in db("select text from misses")] == ["halo bos"]
