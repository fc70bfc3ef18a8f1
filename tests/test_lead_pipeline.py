"""An officer's day with a lead: the notice the moment a worker signs up, the lead's card with the number and its
story, the stages (dihubungi, akan daftar with a date to check back, terdaftar...), the call task that comes back
on that date, /cari by name or phone in one's own regions, and the welcome, menu and help of an officer's role."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.models import Contact, Role
from bot.services.officers import add_officer, ensure_contact
from bot.services.tasks import LEAD_NAME, fill_lead_names
from tests.conftest import WIB, saved_lead, whatsapp_text, whatsapp_titles
from tests.test_officers import ADMIN_ID, RINA_ID, SARI_ID, invite_from_the_chat, make_officer
from tests.test_whatsapp_webhook import lead_on_whatsapp
from tests.transcript import dialog

STAFF_ID = 900002


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


def local(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(WIB)


async def test_a_lead_reaches_its_officer_at_once_and_is_moved_to_terdaftar_days_later(
    app, new_chat, db, clock, ticker
):
    rina_id, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await saved_lead(new_chat("Budi"))

    await ticker.tick()  # the conversation woke it at once; a test ticks by hand
    [notice] = [m for m in rina.transcript if "Calon peserta baru" in m.text]
    assert notice.text.startswith("🆕 Calon peserta baru: Budi (🎣 Nelayan, Mukomuko).")
    assert "Waktu terbaik ditelepon: 🌅 Pagi" in notice.text
    assert "+62" not in notice.text, "the notice names the worker; the number is on the card"
    assert notice.labels == ["📞 Telepon & catat", "📋 Lihat tugas"]

    # Her first tap ever (the morning's digest came after the notice): she learns what she is here, then the card.
    welcome, card = await rina.tap("Telepon & catat", notice)
    assert "Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko" in welcome.text
    assert card.text.splitlines()[:7] == [
        "👤 Budi Santoso — 🎣 Nelayan, Mukomuko",
        "HP: +6281234567890 (0812-3456-7890)",
        "Waktu telepon: 🌅 Pagi (08.00–11.00)",
        "Tahap: baru",
        "⏰ Jadwal telepon: Senin 23 Nov 2026 10:00",
        "Riwayat:",
        "• 23 Nov 2026 10:00 — baru",
    ]
    assert card.labels[:5] == [
        "✅ Dihubungi",
        "🗓️ Akan daftar",
        "📝 Terdaftar",
        "🚫 Tidak tertarik",
        "📵 Tidak bisa dihubungi",
    ]
    await dialog(rina).play("""
        > [Dihubungi]
        < Tercatat: ✅ Dihubungi.
        < Ada catatan
        > Mau daftar lewat JMO minggu depan, tunggu gajian
        < Catatan disimpan
    """)

    clock.set_local(datetime(2026, 11, 24, 16, 0, tzinfo=WIB))
    await dialog(rina).play("""
        > /cari budi
        < 👤 Budi Santoso
        < Tahap: sudah dihubungi petugas
        < • 23 Nov 2026 10:00 — baru
        < • 23 Nov 2026 10:00 — sudah dihubungi petugas: “Mau daftar lewat JMO minggu depan, tunggu gajian”
        > [Akan daftar]
        < Kapan saya ingatkan Anda
        < [3 hari lagi] [7 hari lagi] [14 hari lagi] [✖️ Batal]
        > [7 hari lagi]
        < Tercatat: 🗓️ Akan daftar.
        < menelepon Budi Santoso lagi pada Selasa 1 Des 2026
        < Ada catatan
        > [Lewati]
    """)

    lead = db("select status, officer_id from leads")[0]
    assert (lead["status"], lead["officer_id"]) == ("akan_daftar", rina_id)
    calls = db("select status, outcome, due_at, officer_id from followups where kind = 'call' order by id")
    assert [(c["status"], c["outcome"]) for c in calls] == [("done", "dihubungi"), ("pending", None)]
    assert local(calls[1]["due_at"]) == datetime(2026, 12, 1, 8, 0, tzinfo=WIB)
    assert calls[1]["officer_id"] == rina_id

    clock.set_local(datetime(2026, 11, 30, 9, 0, tzinfo=WIB))
    await dialog(rina).play("""
        > /tugas
        < Tidak ada tugas untuk hari ini
    """)
    clock.set_local(datetime(2026, 12, 1, 8, 30, tzinfo=WIB))
    await dialog(rina).play("""
        > /tugas
        < 📞 Telepon Budi Santoso
        < Jatuh tempo: 1 Des 2026 08:00
        > [Terdaftar]
        < Tercatat: 📝 Terdaftar.
        > Sudah dapat kartu digital di JMO
        < Catatan disimpan
        < Tidak ada tugas untuk hari ini
    """)

    events = db("select from_status, to_status, actor, note from lead_events order by id")
    assert [tuple(e) for e in events] == [
        ("baru", "dihubungi", f"officer:{rina_id}", "Mau daftar lewat JMO minggu depan, tunggu gajian"),
        ("dihubungi", "akan_daftar", f"officer:{rina_id}", None),
        ("akan_daftar", "terdaftar", f"officer:{rina_id}", "Sudah dapat kartu digital di JMO"),
    ]
    rows = db("select kind, status from followups where kind in ('call', 'reminder') order by id")
    assert [tuple(r) for r in rows] == [
        ("call", "done"),
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
        ("call", "done"),
    ], "registered: no more reminders, no more calls"


async def test_a_lead_after_hours_is_due_the_next_morning_and_still_noticed_at_once(app, new_chat, db, clock, ticker):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    clock.set_local(datetime(2026, 11, 23, 21, 15, tzinfo=WIB))

    await saved_lead(new_chat("Budi"))
    await ticker.tick()

    assert any("Calon peserta baru: Budi" in m.text for m in rina.transcript)
    [call] = db("select due_at from followups where kind = 'call'")
    assert local(call["due_at"]) == datetime(2026, 11, 24, 8, 0, tzinfo=WIB)


async def test_a_lead_nobody_covers_is_noticed_by_the_admins(app, new_chat, ticker):
    admin = new_chat("Admin", user_id=ADMIN_ID)
    await admin.command("start")  # an admin who has talked to the bot hears of the pool

    await saved_lead(new_chat("Tono"), name="Tono Petani", region="Kaur")
    await ticker.tick()

    assert any("Calon peserta baru: Tono" in m.text for m in admin.transcript)


async def test_a_check_back_date_can_be_typed_and_a_wrong_one_is_asked_again(app, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await saved_lead(new_chat("Budi"))

    await dialog(rina).play("""
        > /cari 0812-3456
        < 👤 Budi Santoso
        > [Akan daftar]
        > 31/02
        < Tanggalnya belum bisa saya baca
        < Kapan saya ingatkan Anda
        > 20/11
        < Tanggalnya belum bisa saya baca
        > 5-12-2026
        < menelepon Budi Santoso lagi pada Sabtu 5 Des 2026
        < Ada catatan
    """)

    [call] = db("select due_at from followups where kind = 'call' and status = 'pending'")
    assert local(call["due_at"]) == datetime(2026, 12, 5, 8, 0, tzinfo=WIB)


async def test_an_officer_finds_leads_by_name_or_phone_in_their_own_regions_only(app, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, SARI_ID, "Sari Dewi", "Kaur")
    await saved_lead(new_chat("Budi"))
    await saved_lead(new_chat("Budiman"), name="Budiman Hakim", phone="+6285200001111", region="Kaur")
    await saved_lead(new_chat("Ani"), name="Ani Santosa", phone="+6281399990000", region="Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)

    await dialog(rina).play("""
        > /cari
        < Ketik nama atau sebagian nomor HP
        > b
        < paling sedikit 2 huruf nama atau 3 angka
        > budi
        < 👤 Budi Santoso
        > [Cari lagi]
        > santos
        < Ada 2 calon peserta. Pilih satu:
        < [Ani Santosa · Mukomuko · baru] [Budi Santoso · Mukomuko · baru] [🔎 Cari yang lain]
        > [Ani Santosa]
        < 👤 Ani Santosa
        < HP: +6281399990000
        > /cari hakim
        < Tidak ada calon peserta dengan “hakim” di wilayah Anda.
        > 0852
        < Tidak ada calon peserta dengan “0852” di wilayah Anda.
        > 100%_
        < Tidak ada calon peserta dengan “100%_”
    """)

    admin = new_chat("Admin", user_id=ADMIN_ID)
    await dialog(admin).play("""
        > /cari 0852 0000
        < 👤 Budiman Hakim — 🎣 Nelayan, Kaur
    """)


async def test_stage_buttons_are_refused_outside_ones_regions_and_to_workers(app, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, SARI_ID, "Sari Dewi", "Kaur")
    budi = await saved_lead(new_chat("Budi"))
    [lead] = db("select id from leads")
    sari = new_chat("Sari", user_id=SARI_ID)
    await sari.command("menu")

    refused = await sari.tap_data(f"0|stage:{lead['id']}:terdaftar")
    opened = await sari.tap_data(f"0|lead:{lead['id']}")
    forged = await budi.tap_data(f"0|stage:{lead['id']}:terdaftar")

    assert "calon peserta ini di luar wilayah Anda" in refused[0].text
    assert "calon peserta ini di luar wilayah Anda" in opened[0].text
    assert "0812" not in opened[0].text
    assert "hanya untuk petugas" in forged[0].text
    assert db("select status from leads")[0]["status"] == "baru"
    assert db("select count(*) as n from lead_events")[0]["n"] == 0


async def test_an_officer_is_welcomed_as_one_with_a_menu_of_their_work_and_their_help(app, new_chat):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko", "Seluma")
    rina = new_chat("Rina", user_id=RINA_ID)

    await dialog(rina).play("""
        > /start
        < Halo Rina Marlina! Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko, Seluma.
        < /tugas
        < /cari
        < /kode
        < Apa yang mau Anda kerjakan?
        < [📋 Tugas saya] [🔎 Cari calon peserta] [🏷️ Kode & QR saya] [📣 Siaran] [📤 Ekspor data] ...
        < ... [📚 Info BPU untuk pekerja] [🌐 Bahasa/Language]
        > /bantuan
        < Perintah petugas lapangan:
        < /cari NAMA atau /cari NOMOR
        > [Info BPU untuk pekerja]
        < Mau tahu apa?
        < [❓ Apa itu BPU?] [🧮 Hitung iuran] ... [↩️ Menu petugas]
        > [Menu petugas]
        < Apa yang mau Anda kerjakan?
    """)

    worker = new_chat("Budi")
    await dialog(worker).play("""
        > /start
        < Apa pekerjaan Anda?
        > /bantuan
        < Saya menjelaskan kepesertaan BPU
        < [❓ Apa itu BPU?] ... [🔒 Data & berhenti]
    """)


async def test_an_officer_who_writes_first_without_start_is_welcomed_not_asked_a_job(app, new_chat):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)

    await dialog(rina).play("""
        > halo
        < Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko
        < ... [🌐 Bahasa/Language]
    """)


async def test_staff_are_welcomed_for_every_region_and_see_staff_help(app, new_chat):
    admin = new_chat("Admin", user_id=ADMIN_ID)

    await dialog(admin).play("""
        > /start
        < Anda terdaftar sebagai admin untuk semua wilayah
        > /bantuan
        < Perintah staf dan admin (semua wilayah):
        < bpu-bot officers
    """)


async def test_officers_notices_keep_no_name_and_a_worker_who_erases_their_data_is_not_named_again(
    app, new_chat, db, ticker
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    budi = await saved_lead(new_chat("Budi"))
    await ticker.tick()

    sent = "\n".join(m.text for m in rina.transcript)
    assert "Calon peserta baru: Budi (" in sent and "• Budi Santoso, Mukomuko" in sent, "the officer reads the names"
    assert db("select count(*) as n from followups where text like '%Budi%'")[0]["n"] == 0, "the rows keep none"
    [lead] = db("select id from leads")

    await dialog(budi).play("""
        > HAPUS
        > [Ya, hapus semua]
        < sudah dihapus
    """)

    assert db("select count(*) as n from followups where lead_id = ?", lead["id"])[0]["n"] == 0
    async with app.dispatcher.sessions() as session:  # a digest still to be sent that named him
        later = await fill_lead_names(session, f"• {LEAD_NAME.format(lead['id'])}, Mukomuko")
    assert later == "• …, Mukomuko"


async def test_on_whatsapp_the_officer_gets_the_notice_and_moves_the_lead_from_the_card(whatsapp, db):
    rina = whatsapp.user(name="Rina", phone="6281311112222")
    dispatcher = whatsapp.app.dispatcher
    async with dispatcher.sessions.begin() as session:  # added by staff before she ever wrote
        contact = await ensure_contact(session, "whatsapp", rina.user.user_id, "id")
        await add_officer(session, contact, "Rina Marlina", ["Mukomuko"], dispatcher.clock())

    await lead_on_whatsapp(whatsapp, "Budi Santoso", "6281234567890")
    await whatsapp.runtime.ticker.tick()

    notice = [m for m in rina.transcript if "Calon peserta baru: Budi" in m.text]
    assert len(notice) == 1 and whatsapp_titles(notice) == ["📞 Telepon & catat", "📋 Lihat tugas"]
    opened = await rina.tap("Telepon & catat", notice[0])
    assert "Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko" in whatsapp_text(opened)
    assert "HP: +6281234567890 (0812-3456-7890)" in whatsapp_text(opened)
    assert "🗓️ Akan daftar" in whatsapp_titles(opened)

    await rina.tap("Akan daftar")
    await rina.tap("3 hari lagi")
    noted = await rina.say("Tunggu gajian, daftar lewat JMO")

    assert "Catatan disimpan" in whatsapp_text(noted)
    assert db("select status from leads")[0]["status"] == "akan_daftar"
    [event] = db("select to_status, note from lead_events")
    assert tuple(event) == ("akan_daftar", "Tunggu gajian, daftar lewat JMO")


async def test_a_call_logged_before_the_check_back_date_keeps_the_check_back(app, new_chat, db, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await saved_lead(new_chat("Budi"))
    await dialog(rina).play("""
        > /cari budi
        > [Akan daftar]
        > [14 hari lagi]
        > [Lewati]
    """)

    clock.set_local(datetime(2026, 11, 26, 10, 0, tzinfo=WIB))  # he rang her on day 3: not registered yet
    await dialog(rina).play("""
        > /cari budi
        < ⏰ Jadwal telepon: Senin 7 Des 2026 08:00
        > [Dihubungi]
        > Belum gajian, tetap minggu depan
        > /cari budi
        < Tahap: sudah dihubungi petugas
        < ⏰ Jadwal telepon: Senin 7 Des 2026 08:00
    """)

    calls = db("select status, outcome from followups where kind = 'call' order by id")
    assert [tuple(c) for c in calls] == [("done", "akan_daftar"), ("pending", None)]


async def test_a_leap_day_is_understood_in_the_next_year_that_has_one(app, new_chat, db, clock):
    clock.set_local(datetime(2027, 12, 1, 10, 0, tzinfo=WIB))
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await saved_lead(new_chat("Budi"))

    await dialog(rina).play("""
        > /cari 0812 3456 7890
        > [Akan daftar]
        > 29/02
        < menelepon Budi Santoso lagi pada Selasa 29 Feb 2028
        > [Lewati]
        > /cari 08
        < paling sedikit 2 huruf nama atau 3 angka nomor HP
        > a 0812
        < 👤 Budi Santoso
    """)


async def test_an_officer_who_opens_an_invite_for_more_regions_keeps_her_code_and_adds_them(app, new_chat, db):
    _, code = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    payload = await invite_from_the_chat(new_chat, "Rina Marlina", "Kaur")

    await dialog(new_chat("Rina", user_id=RINA_ID)).play(f"""
        > /start {payload}
        < Anda terdaftar sebagai petugas lapangan BPU untuk Kaur, Mukomuko.
    """)

    assert [r["region"] for r in db("select region from officer_regions order by region")] == ["Kaur", "Mukomuko"]
    assert [tuple(r) for r in db("select code from officers")] == [(code,)], "the same officer, the same code"


async def test_an_admin_granted_by_role_hears_of_a_lead_nobody_covers_too(app, new_chat, ticker):
    granted = new_chat("Dewi", user_id=STAFF_ID)
    await granted.command("start")
    async with app.dispatcher.sessions.begin() as session:
        [contact] = (await session.execute(select(Contact).where(Contact.external_id == str(STAFF_ID)))).scalars()
        contact.role = Role.ADMIN  # as `bpu-bot roles set --phone … admin` leaves it

    await saved_lead(new_chat("Tono"), name="Tono Petani", region="Kaur")
    await ticker.tick()

    assert any("Calon peserta baru: Tono" in m.text for m in granted.transcript)
