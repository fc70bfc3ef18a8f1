"""STOP/BERHENTI, MULAI, DATA SAYA, HAPUS: from any state; STOP at once, HAPUS confirmed; honest about what is kept."""

import json

import pytest

from bot.models import Lead, utcnow
from bot.services.tasks import move_lead
from tests.conftest import OPERATOR, welcomed, whatsapp_text
from tests.test_interest import leave_contact
from tests.test_whatsapp import saved_on_whatsapp
from tests.transcript import dialog


@pytest.mark.parametrize("typed", ["STOP", "berhenti", "Berhenti.", "/berhenti", "/stop"])
async def test_stop_from_the_middle_of_lead_capture_stops_at_once(chat, db, typed):
    await welcomed(chat)

    await dialog(chat).play(f"""
        > [Saya tertarik]
        > {typed}
        < Pesan dihentikan
        < MULAI
    """)

    assert db("select messages_stopped_at from contacts")[0][0] is not None
    assert db("select purpose, granted from consents")[-1][:] == ("reminders", 0), "the withdrawal is evidence too"


async def test_stop_as_the_very_first_message_is_honoured(chat, db):
    await dialog(chat).play("""
        > STOP
        < Pesan dihentikan
    """)

    assert db("select messages_stopped_at from contacts")[0][0] is not None


async def test_mulai_resumes_messages(chat, db):
    await welcomed(chat)

    await dialog(chat).play("""
        > BERHENTI
        > mulai
        < menerima pengingat
    """)

    assert db("select messages_stopped_at from contacts")[0][0] is None


async def test_the_privacy_menus_stop_button_asks_first_and_keeping_changes_nothing(chat, db):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Data & berhenti]
        > [Berhenti terima pesan]
        < Yakin ingin berhenti
        > [Tidak jadi]
        < Mau tahu apa?
    """)

    assert db("select messages_stopped_at from contacts")[0][0] is None


async def test_data_saya_shows_everything_stored(chat):
    await dialog(chat).play("""
        > /start PASAR_SELUMA
        > [Pedagang]
    """)
    await leave_contact(chat, name="Rina Wati", region="Seluma", call_time="Sore")

    await dialog(chat).play("""
        > [Benar, simpan]
        > DATA SAYA
        < WIB
        < Pedagang
        < PASAR_SELUMA
        < Rina Wati
        < 0812-3456-7890
        < Seluma
        < Sore
        < status baru
        < dihubungi petugas: setuju
        < versi 2026-12-07.1
    """)


async def test_data_saya_gives_everything_stored_as_a_file_the_person_keeps(chat, bot_api):
    await welcomed(chat, "Pedagang")
    await leave_contact(chat, name="Rina Wati", region="Seluma", call_time="Sore")
    await chat.tap("Benar, simpan")

    await dialog(chat).play("""
        > DATA SAYA
        < Rina Wati
        < [📄 Kirim sebagai file] [✏️ Ubah data] [🏠 Menu]
        > [Kirim sebagai file]
        < Semua data Anda yang kami simpan, dalam satu file (JSON)
        < Mau tahu apa?
    """)

    [upload] = bot_api.calls_of("sendDocument")
    document = upload.params["document"]
    assert document.filename == "data-saya.json"
    data = json.loads(document.content)
    assert data["operator"] == OPERATOR
    assert data["lead"]["name"] == "Rina Wati" and data["lead"]["phone"] == "+6281234567890"
    assert (data["lead"]["region"], data["lead"]["best_time_to_call"], data["lead"]["stage"]) == (
        "Seluma",
        "sore",
        "baru",
    )
    assert {(c["purpose"], c["granted"]) for c in data["consents"]} == {("lead_contact", True), ("reminders", True)}
    assert all(c["text_version"] and c["decided_at"] for c in data["consents"])
    assert {m["kind"] for m in data["messages_to_come"]} == {"call", "reminder"}
    assert data["chat"]["channel"] == "telegram" and data["chat"]["occupation"] == "pedagang"


async def test_on_whatsapp_the_data_file_is_a_document_with_the_officers_notes(whatsapp, new_chat, db):
    sutarmi = whatsapp.user(name="Sutarmi", phone="6281234567890")
    await saved_on_whatsapp(sutarmi, name="Sutarmi Nelayanwati")
    [lead] = db("select id from leads")
    async with whatsapp.app.dispatcher.sessions.begin() as session:  # an officer called her and wrote a note
        event = await move_lead(session, await session.get_one(Lead, lead["id"]), "dihubungi", "officer:1", utcnow())
        event.note = "Mau daftar lewat JMO"

    await sutarmi.say("DATA SAYA")
    sent = await sutarmi.tap("Kirim sebagai file")

    [document] = [m for m in sent if m.kind == "document"]
    assert document.filename == "data-saya.json" and document.media is not None
    data = json.loads(document.media.content)
    assert data["lead"]["history"] == [
        {"at": data["lead"]["history"][0]["at"], "stage": "dihubungi", "by": "officer", "note": "Mau daftar lewat JMO"}
    ]


async def test_data_saya_before_any_lead_says_nothing_personal_is_kept(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > /datasaya
        < Nama dan nomor HP: tidak disimpan
    """)


async def test_hapus_confirmed_erases_the_person_and_keeps_an_anonymous_count(chat, db):
    await welcomed(chat)
    await leave_contact(chat)

    await dialog(chat).play("""
        > [Benar, simpan]
        > HAPUS
        < tidak bisa dibatalkan
        > [Ya, hapus semua]
        < sudah dihapus
    """)

    assert db("select count(*) from contacts")[0][0] == 0
    assert db("select count(*) from leads")[0][0] == 0
    assert db("select count(*) from consents")[0][0] == 0
    # What remains is a count: no name, number, id or moment, only months and the categories figures need.
    erased = db("select * from erased_counts")[0]
    assert tuple(erased[key] for key in ("reason", "channel", "outcome", "count")) == ("request", "telegram", "baru", 1)
    assert set(erased.keys()) == {
        "id", "reason", "erased_month", "started_month", "lead_month", "channel", "occupation", "region", "outcome",
        "count", "asked_cost",
    }  # fmt: skip


@pytest.mark.sqlite_only("reads the file's bytes, free pages included")
async def test_erased_data_is_gone_from_the_file_itself(chat, db, database_path):
    await welcomed(chat)
    await leave_contact(chat, name="Sutarmi Nelayanwati")
    await chat.tap("Benar, simpan")
    await chat.say("HAPUS")
    await chat.tap("Ya, hapus semua")

    # Read while the bot still runs (as after a kill -9): the write-ahead log holds nothing of the person either.
    files = sorted(database_path.parent.glob("bot.sqlite3*"))
    stored = b"".join(p.read_bytes() for p in files)
    assert b"Sutarmi Nelayanwati" not in stored and b"81234567890" not in stored, [p.name for p in files]


async def test_after_erasure_the_person_starts_fresh(chat, db):
    await welcomed(chat)

    await dialog(chat).play("""
        > /hapus
        > [Ya, hapus semua]
        > /start
        < Apa pekerjaan Anda?
    """)

    assert db("select occupation from contacts")[0][0] is None


async def test_hapus_can_be_cancelled(chat, db):
    await welcomed(chat)
    await chat.say("hapus data saya")

    await chat.tap("Tidak jadi")

    assert db("select count(*) from contacts")[0][0] == 1


async def test_privacy_menu_reaches_the_three_rights(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > [Data & berhenti]
        < [📄 Data saya] [✏️ Ubah data] [🔕 Berhenti terima pesan] [🗑️ Hapus data saya] ...
    """)


@pytest.mark.sqlite_only("reads the file's bytes, free pages included")
async def test_on_whatsapp_an_erasure_leaves_nothing_in_the_files_either(whatsapp, database_path):
    sutarmi = whatsapp.user(name="Sutarmi", phone="6281234567890")
    await saved_on_whatsapp(sutarmi, name="Sutarmi Nelayanwati")
    await sutarmi.say("HAPUS")
    erased = await sutarmi.tap("Ya, hapus semua")

    assert "sudah dihapus" in whatsapp_text(erased)
    files = sorted(database_path.parent.glob("bot.sqlite3*"))
    stored = b"".join(p.read_bytes() for p in files)
    for trace in (b"Sutarmi", b"81234567890", sutarmi.user.user_id.encode()):
        assert trace not in stored, (trace, [p.name for p in files])


async def test_ubah_data_corrects_a_field_with_its_checks_and_keeps_the_lead(chat, db):
    await welcomed(chat)
    await leave_contact(chat, name="Rina Wati", region="Seluma")
    await chat.tap("Benar, simpan")

    await dialog(chat).play("""
        > UBAH DATA
        < Data Anda sudah pernah kami catat
        < 👤 Nama: Rina Wati
        < [✅ Benar, simpan] [✏️ Nama] [✏️ Nomor HP] [✏️ Pekerjaan] [✏️ Wilayah] [✏️ Waktu] [✖️ Batal]
        > [Nomor HP]
        > 12345
        < Nomor itu belum benar
        > 0813 2222 3333
        < 📱 HP: 0813-2222-3333
        > [Benar, simpan]
        < Terima kasih, Rina Wati! Data Anda sudah diperbarui.
    """)

    [lead] = db("select name, phone, region, status from leads")
    assert tuple(lead) == ("Rina Wati", "+6281322223333", "Seluma", "baru")


async def test_ubah_data_with_nothing_stored_says_so(chat):
    await welcomed(chat)

    await dialog(chat).play("""
        > ubah data saya
        < Belum ada nama atau nomor HP Anda yang kami simpan
    """)


async def test_on_whatsapp_ubah_data_and_stop_work_as_typed(whatsapp, db):
    sutarmi = whatsapp.user(name="Sutarmi", phone="6281234567890")
    await saved_on_whatsapp(sutarmi, name="Sutarmi Nelayanwati")

    summary = await sutarmi.say("ubah data saya")
    assert "👤 Nama: Sutarmi Nelayanwati" in whatsapp_text(summary)
    await sutarmi.tap("Wilayah")
    changed = await sutarmi.say("seluma")
    assert "📍 Kabupaten/kota: Seluma" in whatsapp_text(changed)
    saved = await sutarmi.tap("Benar, simpan")
    assert "Data Anda sudah diperbarui" in whatsapp_text(saved)
    assert tuple(db("select name, region, status from leads")[0]) == ("Sutarmi Nelayanwati", "Seluma", "baru")

    stopped = await sutarmi.say("stop")
    assert "Pesan dihentikan" in whatsapp_text(stopped)
    assert db("select messages_stopped_at from contacts")[0][0] is not None
    assert [row[0] for row in db("select status from followups where kind = 'reminder'")] == ["cancelled"] * 2
