"""'Saya tertarik': consent first, then the worker's contact, saved once as a lead with status baru."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from bot.models import Consent
from tests.conftest import welcomed
from tests.transcript import dialog

CONSENT_VERSION = "2026-12-07.1"


async def agree(chat, reminders: str = "Boleh") -> None:
    await dialog(chat).play(f"""
        > [Saya tertarik]
        < Sebelum mencatat data Anda
        > [Setuju]
        > [{reminders}]
    """)


async def leave_contact(chat, name="Budi Santoso", region="Mukomuko", call_time="Pagi"):
    """From the main menu to the summary; returns the summary."""
    await agree(chat)
    return await dialog(chat).play(f"""
        > {name}
        > (contact +6281234567890)
        > [{region}]
        > [{call_time}]
    """)


async def test_a_worker_leaves_their_contact_and_a_lead_is_saved(chat, db, clock):
    await dialog(chat).play("""
        > /start PETUGAS_01
        > [Nelayan]
        > [Saya tertarik]
        < Dinas Tenaga Kerja
        < bukan oleh BPJS
        < nama, nomor HP
        < NIK
        < petugas lapangan
        < HAPUS
        < BERHENTI
        < [✅ Setuju] [❌ Tidak setuju]
    """)
    assert db("select count(*) from consents")[0][0] == 0, "nothing recorded before the answer"

    ask_phone = await dialog(chat).play("""
        > [Setuju]
        < pengingat
        > [Boleh]
        < Siapa nama Anda?
        > Budi Santoso
    """)
    assert ask_phone[0].requests_contact, "Telegram's share-contact button is offered"

    phone_ok, ask_region = await chat.share_contact("+62 812-3456-7890")
    assert "0812-3456-7890 dicatat" in phone_ok.text and phone_ok.removes_keyboard
    assert len(ask_region.labels) == 10 and "Mukomuko" in ask_region.labels  # occupation known: not asked again

    await dialog(chat).play("""
        > [Mukomuko]
        > [Pagi]
        < Budi Santoso
        < 0812-3456-7890
        < Nelayan
        < Mukomuko
        < Pagi
        > [Benar, simpan]
        < Terima kasih, Budi Santoso
    """)

    lead = db("select * from leads")[0]
    assert (lead["name"], lead["phone"], lead["occupation"], lead["region"], lead["call_time"]) == (
        "Budi Santoso",
        "+6281234567890",
        "nelayan",
        "Mukomuko",
        "pagi",
    )
    assert (lead["status"], lead["source_code"], lead["channel"], lead["locale"]) == (
        "baru",
        "PETUGAS_01",
        "telegram",
        "id",
    )
    consents = db("select purpose, text_version, granted, decided_at from consents order by id")
    assert [(c["purpose"], c["text_version"], c["granted"]) for c in consents] == [
        ("lead_contact", CONSENT_VERSION, 1),
        ("reminders", CONSENT_VERSION, 1),
    ]
    decided = datetime.fromisoformat(consents[0]["decided_at"]).replace(tzinfo=UTC)
    assert decided == clock()  # the turn's moment, as every other time of the turn
    assert db("select state, state_data from contacts")[0][:] == ("main", "{}"), "no leftovers in the state"


async def test_asking_again_updates_the_same_lead(chat, db):
    await welcomed(chat)
    await leave_contact(chat)

    await dialog(chat).play("""
        > [Benar, simpan]
        > [Saya tertarik]
        < sudah pernah kami catat
        < Budi Santoso
        > [Wilayah]
        > [Seluma]
        > [Benar, simpan]
        < diperbarui
    """)

    assert [tuple(r) for r in db("select name, region from leads")] == [("Budi Santoso", "Seluma")]


async def test_declining_consent_stores_no_personal_data(chat, db):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Saya tertarik]
        > [Tidak setuju]
        < tidak ada data yang dicatat
    """)

    assert db("select count(*) from leads")[0][0] == 0
    assert [tuple(r) for r in db("select purpose, granted from consents")] == [("lead_contact", 0)]
    await dialog(chat).play("""
        # asked again, never assumed
        > [Saya tertarik]
        < Sebelum mencatat data Anda
    """)


async def test_typed_phone_numbers_are_normalised_and_bad_ones_asked_again(chat, db):
    await welcomed(chat)
    await agree(chat)

    wrong = await dialog(chat).play("""
        > Siti
        > 0812 345
        < belum benar
    """)
    assert wrong[0].requests_contact
    await dialog(chat).play("""
        > +1 202 555 0100
        < belum benar
        > 0812-3456-7890
        < dicatat
    """)

    assert '"phone": "+6281234567890"' in db("select state_data from contacts")[0][0]


@pytest.mark.sqlite_only("reads the file's bytes, free pages included")
async def test_a_nik_is_refused_and_never_written_anywhere(chat, db, database_path):
    nik = "1771012345670001"
    await welcomed(chat)
    await agree(chat)

    await dialog(chat).play(f"""
        > {nik}
        < NIK
        > Siti
        < Nomor HP
        > 1771 0123 4567 0001
        < NIK
    """)

    stored = b"".join(p.read_bytes() for p in database_path.parent.glob("bot.sqlite3*"))
    assert nik.encode() not in stored


async def test_someone_elses_contact_is_not_taken_as_the_workers_number(chat, db):
    await welcomed(chat)
    await agree(chat)
    await chat.say("Siti")

    replies = await chat.share_contact("+6281299998888", user_id=424242)

    assert "kontak orang lain" in replies[0].text
    assert "phone" not in db("select state_data from contacts")[0][0]


async def test_unknown_occupation_is_asked_and_regions_can_be_typed(chat, db):
    await dialog(chat).play("""
        > /start
        > [Lewati]
        > [Saya tertarik]
        < Sebelum mencatat data Anda
        > [Setuju]
        > [Boleh]
        > Rina
        > 081234567890
        > [Pedagang]
        < kabupaten/kota
        # bengkulu is four regions
        > bengkulu
        < Yang mana?
        < [Kota Bengkulu] [Bengkulu Selatan] [Bengkulu Tengah] [Bengkulu Utara]
        > rejang
        < Kapan waktu
    """)

    assert '"region": "Rejang Lebong"' in db("select state_data from contacts")[0][0]


async def test_correcting_the_name_from_the_summary(chat, db):
    await welcomed(chat)
    await leave_contact(chat, name="Budi")

    await chat.tap("Nama")
    summary = await chat.say("Budi Santoso")
    await chat.tap("Benar, simpan", summary[0])

    assert db("select name from leads")[0][0] == "Budi Santoso"


async def test_invalid_names_are_asked_again(chat):
    await welcomed(chat)
    await agree(chat)

    await dialog(chat).play(f"""
        > B
        < nama itu belum bisa
        > 12345
        < nama itu belum bisa
        > {"x" * 61}
        < nama itu belum bisa
        > 😀😀
        < nama itu belum bisa
    """)


async def test_cancel_in_the_middle_saves_nothing(chat, db):
    await welcomed(chat)
    await agree(chat)

    await dialog(chat).play("""
        > Budi
        > ✖️ Batal
        < dibatalkan
    """)

    assert db("select count(*) from leads")[0][0] == 0
    assert db("select state, state_data from contacts")[0][:] == ("main", "{}")


async def test_a_question_in_the_middle_is_answered(chat, db):
    await welcomed(chat)
    await agree(chat)

    replies = await dialog(chat).play("""
        > berapa iurannya?
        < Mulai Rp16.800 per bulan
        # then the step, asked again in one line
        < Lanjut: siapa nama Anda?
    """)

    assert replies[0].text.startswith("Mulai Rp16.800 per bulan")
    assert db("select state from contacts")[0][0] == "interest/name"


async def test_after_a_new_consent_text_agreeing_again_shows_what_is_stored_instead_of_asking_it_all(app, chat, db):
    await welcomed(chat)
    await leave_contact(chat, name="Rina Wati", region="Seluma")
    await chat.tap("Benar, simpan")
    async with app.dispatcher.sessions.begin() as session:  # the text she agreed to has since changed version
        await session.execute(update(Consent).values(text_version="2020-01-01.1"))

    await dialog(chat).play("""
        > [Saya tertarik]
        < Sebelum mencatat data Anda, mohon dibaca
        > [Setuju]
        < bolehkah kami sesekali mengirim pengingat
        > [Boleh]
        < Data Anda sudah pernah kami catat
        < 👤 Nama: Rina Wati
        < 📍 Kabupaten/kota: Seluma
        > [Benar, simpan]
        < Terima kasih, Rina Wati! Data Anda sudah diperbarui.
    """)

    versions = db("select purpose, text_version from consents order by id")
    current = app.dispatcher.content.consent_version
    assert [tuple(v) for v in versions[-2:]] == [("lead_contact", current), ("reminders", current)]
    assert db("select count(*) from leads")[0][0] == 1
