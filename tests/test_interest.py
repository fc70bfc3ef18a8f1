"""'Saya tertarik': consent first, then the worker's contact, saved once as a lead with status baru."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import text_of, welcomed

CONSENT_VERSION = "2026-11-24.1"


async def agree(chat, reminders: str = "Boleh") -> None:
    consent = await chat.tap("Saya tertarik")
    assert "Sebelum mencatat data Anda" in consent[0].text
    await chat.tap("Setuju")
    await chat.tap(reminders)


async def leave_contact(chat, name="Budi Santoso", region="Mukomuko", call_time="Pagi"):
    await agree(chat)
    await chat.say(name)
    await chat.share_contact("+6281234567890")
    await chat.tap(region)
    summary = await chat.tap(call_time)
    return summary


async def test_a_worker_leaves_their_contact_and_a_lead_is_saved(chat, db):
    await chat.command("start", "PETUGAS_01")
    await chat.tap("Nelayan")

    consent = (await chat.tap("Saya tertarik"))[0]
    for says in (
        "Dinas Tenaga Kerja",
        "bukan oleh BPJS",
        "nama, nomor HP",
        "NIK",
        "petugas lapangan",
        "HAPUS",
        "BERHENTI",
    ):
        assert says in consent.text, says
    assert consent.labels == ["✅ Setuju", "❌ Tidak setuju"]
    assert db("select count(*) from consents")[0][0] == 0, "nothing recorded before the answer"

    reminders = await chat.tap("Setuju")
    assert "pengingat" in reminders[0].text
    ask_name = await chat.tap("Boleh")
    assert "Siapa nama Anda?" in ask_name[0].text

    ask_phone = await chat.say("Budi Santoso")
    assert ask_phone[0].requests_contact, "Telegram's share-contact button is offered"

    phone_ok, ask_region = await chat.share_contact("+62 812-3456-7890")
    assert "0812-3456-7890 dicatat" in phone_ok.text and phone_ok.removes_keyboard
    assert len(ask_region.labels) == 10 and "Mukomuko" in ask_region.labels  # occupation known: not asked again

    await chat.tap("Mukomuko")
    summary = (await chat.tap("Pagi"))[0]
    for shown in ("Budi Santoso", "0812-3456-7890", "Nelayan", "Mukomuko", "Pagi"):
        assert shown in summary.text

    saved = await chat.tap("Benar, simpan")

    assert "Terima kasih, Budi Santoso" in saved[0].text
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
    assert abs(datetime.now(UTC) - decided) < timedelta(minutes=1)
    assert db("select state, state_data from contacts")[0][:] == ("main", "{}"), "no leftovers in the state"


async def test_asking_again_updates_the_same_lead(chat, db):
    await welcomed(chat)
    await leave_contact(chat)
    await chat.tap("Benar, simpan")

    again = await chat.tap("Saya tertarik")
    assert "sudah pernah kami catat" in again[0].text and "Budi Santoso" in again[0].text
    await chat.tap("Wilayah")
    await chat.tap("Seluma")
    saved = await chat.tap("Benar, simpan")

    assert "diperbarui" in saved[0].text
    assert [tuple(r) for r in db("select name, region from leads")] == [("Budi Santoso", "Seluma")]


async def test_declining_consent_stores_no_personal_data(chat, db):
    await welcomed(chat)
    await chat.tap("Saya tertarik")

    replies = await chat.tap("Tidak setuju")

    assert "tidak ada data yang dicatat" in replies[0].text
    assert db("select count(*) from leads")[0][0] == 0
    assert [tuple(r) for r in db("select purpose, granted from consents")] == [("lead_contact", 0)]
    again = await chat.tap("Saya tertarik")
    assert "Sebelum mencatat data Anda" in again[0].text, "asked again, never assumed"


async def test_typed_phone_numbers_are_normalised_and_bad_ones_asked_again(chat, db):
    await welcomed(chat)
    await agree(chat)
    await chat.say("Siti")

    wrong = await chat.say("0812 345")
    assert "belum benar" in wrong[0].text and wrong[0].requests_contact
    foreign = await chat.say("+1 202 555 0100")
    assert "belum benar" in foreign[0].text
    ok = await chat.say("0812-3456-7890")
    assert "dicatat" in ok[0].text

    assert '"phone": "+6281234567890"' in db("select state_data from contacts")[0][0]


@pytest.mark.sqlite_only("reads the file's bytes, free pages included")
async def test_a_nik_is_refused_and_never_written_anywhere(chat, db, database_path):
    nik = "1771012345670001"
    await welcomed(chat)
    await agree(chat)

    as_name = await chat.say(nik)
    as_phone_step = await chat.say("Siti")
    as_phone = await chat.say("1771 0123 4567 0001")

    assert "NIK" in as_name[0].text and "NIK" in as_phone[0].text
    assert "Nomor HP" in as_phone_step[0].text
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
    await chat.command("start")
    await chat.tap("Lewati")
    await agree(chat)
    await chat.say("Rina")
    await chat.say("081234567890")

    ask_region = await chat.tap("Pedagang")
    ambiguous = await chat.say("bengkulu")
    typed = await chat.say("rejang")

    assert "kabupaten/kota" in ask_region[0].text
    assert "Yang mana?" in ambiguous[0].text and len(ambiguous[0].labels) == 4, "bengkulu is four regions"
    assert "Kapan waktu" in typed[0].text
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

    for typed in ("B", "12345", "x" * 61, "😀😀"):
        replies = await chat.say(typed)
        assert "nama itu belum bisa" in replies[0].text, typed


async def test_cancel_in_the_middle_saves_nothing(chat, db):
    await welcomed(chat)
    await agree(chat)
    await chat.say("Budi")

    replies = await chat.say("✖️ Batal")

    assert "dibatalkan" in replies[0].text
    assert db("select count(*) from leads")[0][0] == 0
    assert db("select state, state_data from contacts")[0][:] == ("main", "{}")


async def test_a_question_in_the_middle_is_answered(chat, db):
    await welcomed(chat)
    await agree(chat)

    replies = await chat.say("berapa iurannya?")

    assert replies[0].text.startswith("Mulai Rp16.800 per bulan")
    assert "Lanjut: siapa nama Anda?" in text_of(replies), "then the step, asked again in one line"
    assert db("select state from contacts")[0][0] == "interest/name"
