"""/ekspor in the chat: staff and officers choose filters with buttons, the file is written in the background
and arrives as a document; officers stay in their regions; refusals are audited; nothing is sent twice.

The exporter is stepped by the test against the Bot API fake, with the app's clock injected.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime, timedelta

import openpyxl
import pytest

from bot.config import Settings
from bot.content import load_content
from bot.models import Role
from bot.services.audit import Actor
from bot.services.exports import recover_interrupted_exports
from bot.services.officers import ensure_contact
from bot.services.roles import set_role
from tests.conftest import WIB, saved_lead, stored_lead, text_of, welcomed
from tests.fakes.telegram import UploadedFile
from tests.test_officers import ADMIN_ID, RINA_ID, make_officer
from tests.transcript import dialog

STAFF_ID = 700_000_555
REGIONS = load_content().regions


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


async def make_staff(app, user_id: int) -> None:
    async with app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "telegram", str(user_id), "id")
        admins = app.settings.admin_telegram_ids
        await set_role(session, contact, Role.STAFF, Actor("cli:test", Role.ADMIN), admins, app.dispatcher.clock())


async def three_leads(new_chat) -> None:
    """Three saved leads, stored through the capture's services (tests/conftest.py's stored_lead)."""
    await stored_lead(new_chat("Budi"), "Budi Santoso", "+6281234567890", "Mukomuko")
    await stored_lead(new_chat("Siti"), 'Siti, "Ani" 🌾 Rahma', "+6281234567891", "Mukomuko")
    await stored_lead(new_chat("Made"), "=HYPERLINK(1)", "+6281234567892", "Kaur")


def documents(bot_api) -> list[tuple[UploadedFile, str]]:
    return [(call.params["document"], call.params["caption"]) for call in bot_api.calls_of("sendDocument")]


def sheet_rows(document: UploadedFile) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(document.content), read_only=True)
    return [tuple(row) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]


async def test_staff_choose_a_region_and_receive_the_excel_file_when_it_is_ready(
    app, new_chat, bot_api, exporter, db, clock
):
    await three_leads(new_chat)
    await make_staff(app, STAFF_ID)
    staff = new_chat("Dewi", user_id=STAFF_ID)

    await dialog(staff).play("""
        > /ekspor
        < Wilayah: Semua
        < 👥 3 prospek · file Excel
        > [Wilayah]
        > [Mukomuko]
        < Wilayah: Mukomuko
        < 👥 2 prospek
        > [Buat file]
        < 2 prospek
        < sedang dibuat
    """)
    assert documents(bot_api) == [], "written in the background, not in the conversation's turn"

    assert await exporter.step()

    [(document, caption)] = documents(bot_api)
    assert caption.startswith("✅ Ekspor selesai: 2 prospek (Excel)")
    assert document.filename == f"prospek-{clock().astimezone(WIB).date().isoformat()}-1.xlsx"
    header, *rows = sheet_rows(document)
    assert header[:4] == ("Tanggal masuk", "Nama", "Nomor HP (E.164)", "Nomor HP")
    assert [row[1:4] for row in rows] == [
        ("Budi Santoso", "+6281234567890", "0812-3456-7890"),
        ('Siti, "Ani" 🌾 Rahma', "+6281234567891", "0812-3456-7891"),
    ]
    assert rows[0][0] == clock().astimezone(WIB).replace(tzinfo=None, second=0, microsecond=0)
    assert not await exporter.step(), "nothing left to do"
    [export] = db("select status, rows, format from exports")
    assert tuple(export) == ("done", 2, "xlsx")
    [event] = db("select actor, actor_role, action, allowed, rows, detail from audit_events where action = 'export'")
    assert (event["actor"], event["actor_role"], event["allowed"], event["rows"]) == (
        f"telegram:{STAFF_ID}",
        "staff",
        1,
        2,
    )
    assert json.loads(event["detail"])["filters"] == {"regions": ["Mukomuko"]}


async def test_an_officer_exports_only_their_regions_and_a_forged_region_is_refused_and_audited(
    app, new_chat, bot_api, exporter, db
):
    await three_leads(new_chat)
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)

    await dialog(rina).play("""
        > /ekspor
        < Wilayah: Mukomuko
        < 👥 2 prospek
    """)
    choices = await rina.tap("Wilayah")
    assert [label for label in choices[-1].labels if label in REGIONS] == ["Mukomuko"]
    forged = await rina.tap_data(f"{choices[-1].buttons[0][0][1].split('|')[0]}|ex_pick:{REGIONS.index('Kaur')}")
    assert "tombol itu tidak saya kenali" in text_of(forged)
    [refused] = db("select actor, allowed, detail from audit_events where action = 'export'")
    assert refused["actor"] == f"telegram:{RINA_ID}" and refused["allowed"] == 0
    assert "Kaur" in json.loads(refused["detail"])["reason"]

    await rina.tap("Semua")
    await rina.tap("Buat file")
    await exporter.step()
    [(document, _)] = documents(bot_api)
    assert {row[5] for row in sheet_rows(document)[1:]} == {"Mukomuko"}, "Kaur's lead is not in the file"


async def test_a_worker_and_someone_new_are_refused_ekspor_and_both_attempts_are_audited(new_chat, db):
    worker = await welcomed(new_chat("Budi"))
    stranger = new_chat("Asing")

    await dialog(worker).play("""
        > /ekspor
        < hanya untuk petugas lapangan
    """)
    await dialog(stranger).play("""
        > /ekspor
        < hanya untuk petugas lapangan
    """)

    events = db("select actor, actor_role, action, allowed from audit_events order by id")
    assert [tuple(e) for e in events] == [
        (f"telegram:{worker.chat_id}", "worker", "export", 0),
        (f"telegram:{stranger.chat_id}", "worker", "export", 0),
    ]
    assert db("select count(*) as n from exports")[0]["n"] == 0


async def test_csv_with_a_period_and_no_matching_leads_says_so_and_makes_nothing(
    app, new_chat, bot_api, exporter, db, clock
):
    await saved_lead(new_chat("Budi"))
    clock.set_local(clock().astimezone(WIB) + timedelta(days=40))
    await saved_lead(new_chat("Siti"), name="Siti Aminah", phone="+6281234567891")
    await make_staff(app, STAFF_ID)
    staff = new_chat("Dewi", user_id=STAFF_ID)

    await dialog(staff).play("""
        > /ekspor
        > [Ganti ke CSV]
        > [Periode]
        > [7 hari terakhir]
        < sejak
        < 👥 1 prospek · file CSV
        > [Status]
        > [terdaftar]
        < 👥 0 prospek
        > [Buat file]
        < Tidak ada prospek
    """)
    assert db("select count(*) as n from exports")[0]["n"] == 0

    await staff.tap("Status")
    await staff.tap("Semua")
    await staff.tap("Buat file")
    await exporter.step()
    [(document, caption)] = documents(bot_api)
    assert document.filename.endswith(".csv") and "(CSV)" in caption
    rows = list(csv.reader(io.StringIO(document.content.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [row[1] for row in rows[1:]] == ["Siti Aminah"], "only the lead of the last 7 days"
    assert rows[0][:2] == ["Tanggal masuk", "Nama"], "columns split on ';', as Excel set to Indonesian reads them"


async def test_a_file_too_large_for_telegram_is_not_sent_and_the_requester_is_told(
    app, new_chat, bot_api, exporter, db
):
    await saved_lead(new_chat("Budi"))
    await make_staff(app, STAFF_ID)
    staff = new_chat("Dewi", user_id=STAFF_ID)
    exporter.senders["telegram"].document_limit = 100  # bytes

    await staff.command("ekspor")
    await staff.tap("Buat file")
    await exporter.step()

    assert documents(bot_api) == []
    assert "lebih besar dari batas Telegram" in staff.transcript[-1].text
    assert tuple(db("select status, outcome from exports")[0]) == ("failed", "too_large")
    assert db("select count(*) as n from audit_events where action = 'export' and allowed = true")[0]["n"] == 0


async def test_after_a_crash_an_export_being_written_is_written_again_and_one_being_sent_is_never_resent(
    app, new_chat, bot_api, exporter, db
):
    await saved_lead(new_chat("Budi"))
    await make_staff(app, STAFF_ID)
    staff = new_chat("Dewi", user_id=STAFF_ID)
    for _ in range(2):
        await staff.command("ekspor")
        await staff.tap("Buat file")
    db("update exports set status = 'running' where id = 1")
    db("update exports set status = 'sending' where id = 2")

    async with app.dispatcher.sessions.begin() as session:
        assert await recover_interrupted_exports(session) == (1, 1)
    while await exporter.step():
        pass

    assert len(documents(bot_api)) == 1
    assert [tuple(r) for r in db("select id, status from exports order by id")] == [(1, "done"), (2, "unknown")]


async def test_the_officer_menu_offers_the_export(app, new_chat):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    form = await dialog(rina).play("""
        > /menu
        < ... [📤 Ekspor data] ...
        > [Ekspor data]
    """)
    assert form[-1].text.startswith("📤 Ekspor daftar prospek")


def test_local_dates_of_the_period_buttons():
    from handlers.export import _period

    today = datetime(2026, 3, 15).date()
    assert _period("7", today) == (datetime(2026, 3, 9).date(), None)
    assert _period("month", today) == (datetime(2026, 3, 1).date(), None)
    assert _period("last_month", today) == (datetime(2026, 2, 1).date(), datetime(2026, 2, 28).date())
    with pytest.raises(ValueError):
        _period("365", today)
