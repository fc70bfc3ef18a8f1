"""The dashboard's Prospek page over HTTP: the leads chosen by the filters against the database's rows, masked
names and numbers, showing one (a POST with the CSRF token, audited), an officer kept to her regions, pages of 50,
bad filters, and the download of the same leads as CSV and Excel (streamed, audited like every export).

Leads come from the chat (saved_lead) or, for numbers of them, from the leads service directly.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import openpyxl
import pytest
from sqlalchemy import select

from bot.models import Lead, LeadStatus
from bot.services.exports import stream_leads
from bot.services.followups import change_lead_status
from bot.services.leads import LeadDetails, save_lead
from bot.services.officers import assign_lead, ensure_contact
from bot.services.reports import LEAD_COLUMNS, spreadsheet_safe
from bot.web.dashboard import lead_download
from tests.conftest import saved_lead
from tests.dashboard import EKO_ID, STAFF_ID, browser, link_from_chat, make_staff, settings, sign_in
from tests.test_officers import RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures

BUDI_PHONE = "+6281234567890"
NEWEST_FIRST = "order by created_at desc, id desc"


@dataclass(frozen=True)
class Officers:
    rina: int
    eko: int
    code: str  # Rina's personal code, Budi's source


async def three_leads(app, new_chat) -> Officers:
    """Rina covers Mukomuko, Eko Kaur. Budi came through Rina's link (in the chat) and registered; Siti (Mukomuko)
    and Made (Kaur), whose name is a formula, are new. Returns the officers' ids and Rina's code."""
    rina, code = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    eko, _ = await make_officer(app, EKO_ID, "Eko Prasetyo", "Kaur")
    budi = new_chat("Budi")
    await budi.command("start", code)
    await saved_lead(budi, name="Budi Santoso", phone=BUDI_PHONE, region="Mukomuko")
    now = app.dispatcher.clock()
    async with app.dispatcher.sessions.begin() as session:
        [budi_lead] = await session.scalars(select(Lead).where(Lead.phone == BUDI_PHONE))
        await change_lead_status(session, budi_lead, LeadStatus.TERDAFTAR, f"officer:{rina}", now)
        for name, phone, region in (
            ("Siti Rahma", "+6281234567891", "Mukomuko"),
            ("=HYPERLINK(1)", "+6281234567892", "Kaur"),
        ):
            contact = await ensure_contact(session, "telegram", phone[-9:], "id")
            lead, _ = await save_lead(session, contact, LeadDetails(name, phone, "nelayan", region, "pagi"), now)
            await assign_lead(session, lead)
    return Officers(rina, eko, code)


async def seeded(app, count: int, region: str, occupation: str = "petani", first: int = 0) -> None:
    """`count` leads saved through the leads service, a minute apart, the newest now."""
    now = app.dispatcher.clock()
    async with app.dispatcher.sessions.begin() as session:
        for n in range(first, first + count):
            contact = await ensure_contact(session, "whatsapp", f"62813{n:08d}", "id")
            details = LeadDetails(f"Pekerja {n}", f"+62813{n:08d}", occupation, region, "pagi")
            await save_lead(session, contact, details, now - timedelta(minutes=n))


def shown_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-lead="(\d+)"', page)]


def ids(db, where: str = "1 = 1") -> list[int]:
    return [row["id"] for row in db(f"select id from leads where {where} {NEWEST_FIRST}")]


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]*)"', select.group(1))[1:]  # after "Semua"


def reveals(db) -> list[tuple]:
    rows = db("select actor, action, allowed, detail from audit_events where action = 'dashboard_reveal' order by id")
    return [(r["actor"], bool(r["allowed"]), _json(r["detail"])) for r in rows]


def exports(db) -> list[tuple]:
    rows = db("select actor, allowed, rows, detail from audit_events where action = 'export' order by id")
    return [(r["actor"], bool(r["allowed"]), r["rows"], _json(r["detail"])) for r in rows]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def as_staff(app, new_chat, browser) -> None:
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))


# ------------------------------------------------------------------------------------------ the list


async def test_staff_narrow_the_list_with_each_filter_and_see_the_databases_rows(app, new_chat, browser, db):
    officers = await three_leads(app, new_chat)
    await seeded(app, 2, "Kaur", occupation="petani")
    await as_staff(app, new_chat, browser)

    every = await browser.get("/dasbor/prospek")
    page = await every.text()
    assert every.status == 200 and shown_ids(page) == ids(db) and len(ids(db)) == 5
    assert "5 prospek" in page
    # Each filter, and two together: the rows the database holds for them, newest first.
    cases = {
        "wilayah=Kaur": "region = 'Kaur'",
        "pekerjaan=petani": "occupation = 'petani'",
        "status=terdaftar": "status = 'terdaftar'",
        f"petugas={officers.rina}": f"officer_id = {officers.rina}",
        f"kode={officers.code}": f"source_code = '{officers.code}'",
        "wilayah=Kaur&pekerjaan=nelayan": "region = 'Kaur' and occupation = 'nelayan'",
    }
    for query, where in cases.items():
        narrowed = await (await browser.get(f"/dasbor/prospek?{query}")).text()
        assert shown_ids(narrowed) == ids(db, where) != [], query
        assert f"{len(ids(db, where))} prospek" in narrowed
    assert shown_ids(await (await browser.get("/dasbor/prospek?status=tidak_tertarik")).text()) == []
    # The period: the days the leads were saved; a period before them has none.
    assert shown_ids(await (await browser.get("/dasbor/prospek?dari=2026-11-01&sampai=2026-11-22")).text()) == []
    assert shown_ids(await (await browser.get("/dasbor/prospek?dari=2026-11-23&sampai=2026-11-23")).text()) == ids(db)
    # The lists offer every configured region and every officer.
    assert {"Mukomuko", "Kaur", "Kota Bengkulu"} <= set(options(page, "wilayah"))
    assert options(page, "petugas") == [str(officers.eko), str(officers.rina)]  # by name
    assert options(page, "status") == ["baru", "dihubungi", "akan_daftar", "terdaftar", "tidak_tertarik",
                                       "tidak_bisa_dihubungi"]  # fmt: skip


async def test_names_and_numbers_are_masked_until_shown_by_a_post_with_the_csrf_token_and_audited(
    app, new_chat, browser, db
):
    await three_leads(app, new_chat)
    await as_staff(app, new_chat, browser)
    [budi] = ids(db, "name = 'Budi Santoso'")

    page = await (await browser.get("/dasbor/prospek?wilayah=Mukomuko")).text()

    for whole in (BUDI_PHONE, "081234567890", "0812-3456-7890", "81234567890", "Budi Santoso", "Siti Rahma"):
        assert whole not in page
    assert "0812*****890" in page and "B*** S***" in page
    # Without the token, with a forged one (letters beyond ASCII too): refused, nothing shown, nothing recorded.
    for data in ({"lihat": str(budi)}, {"lihat": str(budi), "csrf": "0" * 64}, {"lihat": str(budi), "csrf": "é"}):
        refused = await browser.post("/dasbor/prospek?wilayah=Mukomuko", data=data)
        assert refused.status == 403 and "Budi Santoso" not in await refused.text()
    assert reveals(db) == []

    shown = await browser.post("/dasbor/prospek?wilayah=Mukomuko", data={"lihat": str(budi), "csrf": csrf_of(page)})

    answer = await shown.text()
    assert shown.status == 200 and shown_ids(answer) == ids(db, "region = 'Mukomuko'")
    row = re.search(rf'<tr data-lead="{budi}" class="shown">(.*?)</tr>', answer, re.S)
    assert row is not None and "Budi Santoso" in row.group(1) and "0812-3456-7890" in row.group(1)
    assert "Siti Rahma" not in answer and "0812-3456-7891" not in answer  # only that one row
    assert reveals(db) == [(f"telegram:{STAFF_ID}", True, {"lead": budi})]  # the id, never the number
    # A lead that does not exist: 404, and the attempt is recorded.
    missing = await browser.post("/dasbor/prospek", data={"lihat": "999999", "csrf": csrf_of(page)})
    assert missing.status == 404 and reveals(db)[-1] == (f"telegram:{STAFF_ID}", False, {"lead": 999999})
    for forged in ("x'--", "9" * 12, "-1", "１"):
        assert (await browser.post("/dasbor/prospek", data={"lihat": forged, "csrf": csrf_of(page)})).status == 404


async def test_an_officer_sees_chooses_and_shows_only_her_regions_leads(app, new_chat, browser, db):
    officers = await three_leads(app, new_chat)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))
    [made] = ids(db, "region = 'Kaur'")

    page = await (await browser.get("/dasbor/prospek")).text()

    assert shown_ids(page) == ids(db, "region = 'Mukomuko'") and "2 prospek" in page
    assert options(page, "wilayah") == ["Mukomuko"] and options(page, "petugas") == [str(officers.rina)]
    assert "Kaur" not in page and "Eko" not in page and "HYPERLINK" not in page
    # Another region or officer, forged into the address: 400, nothing of theirs shown.
    for forged in ("wilayah=Kaur", f"petugas={officers.eko}"):
        refused = await browser.get(f"/dasbor/prospek?{forged}")
        assert refused.status == 400 and "HYPERLINK" not in await refused.text()
    # Made's id, forged into the form: 404, refused in the audit log, his name not shown.
    forged = await browser.post("/dasbor/prospek", data={"lihat": str(made), "csrf": csrf_of(page)})
    assert forged.status == 404 and "HYPERLINK" not in await forged.text()
    assert reveals(db) == [(f"telegram:{RINA_ID}", False, {"lead": made})]


async def test_fifty_a_page_newest_first_with_links_that_keep_the_filters(app, new_chat, browser, db):
    await seeded(app, 60, "Mukomuko")
    await seeded(app, 3, "Kaur", first=60)
    await as_staff(app, new_chat, browser)
    mukomuko = ids(db, "region = 'Mukomuko'")

    first = await (await browser.get("/dasbor/prospek?wilayah=Mukomuko")).text()
    following = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert following is not None
    second = await (await browser.get(following.group(1).replace("&amp;", "&"))).text()

    assert shown_ids(first) == mukomuko[:50] and "60 prospek" in first and "Halaman 1 dari 2" in first
    assert 'rel="prev"' not in first
    assert "wilayah=Mukomuko" in following.group(1) and "halaman=2" in following.group(1)
    assert shown_ids(second) == mukomuko[50:] and "Halaman 2 dari 2" in second and 'rel="next"' not in second
    assert re.search(r'<a rel="prev" href="[^"]*wilayah=Mukomuko[^"]*halaman=1"', second)
    # Past the end: no such page (404); a page that is no page number, or beyond the 200 reachable: 400.
    past = await browser.get("/dasbor/prospek?wilayah=Mukomuko&halaman=3")
    assert past.status == 404 and "2 halaman" in await past.text()
    for wrong in ("0", "-1", "dua", "201", "9" * 40, "２"):
        assert (await browser.get(f"/dasbor/prospek?halaman={wrong}")).status == 400, wrong


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("wilayah=Atlantis", "Atlantis"),
        ("pekerjaan=astronot", "astronot"),
        ("status=hilang", "hilang"),
        ("petugas=999", "999"),
        ("petugas=1%20or%201=1", "1 or 1=1"),
        ("kode=%3Cscript%3E", "&lt;script&gt;"),
        ("dari=2026-02-30", "2026-02-30"),
    ],
)
async def test_a_filter_the_form_does_not_offer_gets_a_400_page_naming_it(app, new_chat, browser, query, said):
    await as_staff(app, new_chat, browser)

    response = await browser.get(f"/dasbor/prospek?{query}")

    text = await response.text()
    assert response.status == 400 and said in text and "<script>" not in text and "Traceback" not in text


# ------------------------------------------------------------------------------------------ the download


async def test_staff_download_the_filtered_list_as_csv_streamed_and_audited(app, new_chat, browser, db):
    await three_leads(app, new_chat)
    await seeded(app, 2, "Mukomuko", occupation="petani")
    await as_staff(app, new_chat, browser)
    page = await (await browser.get("/dasbor/prospek?wilayah=Mukomuko&pekerjaan=nelayan")).text()
    action = re.search(r'<form class="download" method="post" action="([^"]+)"', page)
    assert action is not None
    address = action.group(1).replace("&amp;", "&")

    assert (await browser.post(address, data={"format": "csv"})).status == 403  # no token
    response = await browser.post(address, data={"format": "csv", "csrf": csrf_of(page)})

    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in response.headers  # streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="prospek-2026-11-23.csv"'
    body = await response.read()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    wanted = db("select name, phone from leads where region = 'Mukomuko' and occupation = 'nelayan' order by id")
    # The export's columns and cells: a phone's "+" kept as text, as every export keeps it.
    assert rows[0][:3] == ["Tanggal masuk", "Nama", "Nomor HP (E.164)"] and len(rows[0]) == len(LEAD_COLUMNS)
    assert [(row[1], row[2]) for row in rows[1:]] == [(r["name"], spreadsheet_safe(r["phone"])) for r in wanted]
    filters = {"since": "2026-10-25", "until": "2026-11-23", "regions": ["Mukomuko"], "occupation": "nelayan"}
    assert exports(db) == [(f"telegram:{STAFF_ID}", True, 2, {"format": "csv", "filters": filters, "via": "dashboard"})]
    # A comma when asked; a format that is none: 400, refused in the audit log.
    comma = await browser.post(address, data={"format": "csv", "pemisah": "comma", "csrf": csrf_of(page)})
    assert (await comma.read()).decode("utf-8-sig").splitlines()[1].count(",") >= 20
    assert (await browser.post(address, data={"format": "pdf", "csrf": csrf_of(page)})).status == 400
    assert exports(db)[-1][:3] == (f"telegram:{STAFF_ID}", False, None)


async def test_an_officer_downloads_her_regions_as_excel_and_no_other(app, new_chat, browser, db, monkeypatch):
    # The workbook's zip handed to the browser 1 KB at a time, from the thread that makes it.
    monkeypatch.setattr(lead_download, "PIECE", 1024)
    await three_leads(app, new_chat)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))
    page = await (await browser.get("/dasbor/prospek")).text()

    response = await browser.post("/dasbor/prospek/unduh", data={"format": "xlsx", "csrf": csrf_of(page)})
    forged = await browser.post("/dasbor/prospek/unduh?wilayah=Kaur", data={"format": "xlsx", "csrf": csrf_of(page)})

    assert response.status == 200 and response.headers["Content-Disposition"].endswith('.xlsx"')
    workbook = openpyxl.load_workbook(io.BytesIO(await response.read()), read_only=True)
    rows = [row for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]
    wanted = db("select name, phone from leads where region = 'Mukomuko' order by id")
    assert [(row[1], row[2]) for row in rows[1:]] == [(r["name"], r["phone"]) for r in wanted]
    assert forged.status == 400 and "HYPERLINK" not in await forged.text()
    audited = exports(db)
    assert audited[0][:3] == (f"telegram:{RINA_ID}", True, 2)
    assert audited[0][3]["filters"]["regions"] == ["Mukomuko"] and audited[0][3]["format"] == "xlsx"
    assert audited[1][:2] == (f"telegram:{RINA_ID}", False)


async def test_a_formula_typed_as_a_name_stays_text_in_the_downloaded_csv(app, new_chat, browser):
    await three_leads(app, new_chat)
    await as_staff(app, new_chat, browser)
    page = await (await browser.get("/dasbor/prospek?wilayah=Kaur")).text()

    response = await browser.post("/dasbor/prospek/unduh?wilayah=Kaur", data={"format": "csv", "csrf": csrf_of(page)})

    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    assert [row[1] for row in rows[1:]] == ["'=HYPERLINK(1)"]


async def test_a_download_failing_halfway_drops_the_connection_rather_than_end_the_file_with_an_error_page(
    app, new_chat, browser, db, monkeypatch
):
    await seeded(app, 3, "Mukomuko")
    await as_staff(app, new_chat, browser)
    page = await (await browser.get("/dasbor/prospek")).text()

    async def failing(*args, **kwargs):
        async for chunk in stream_leads(*args, **{**kwargs, "chunk": 1}):
            yield chunk
            raise ConnectionError("the database went away")

    monkeypatch.setattr(lead_download, "stream_leads", failing)
    response = await browser.post("/dasbor/prospek/unduh", data={"format": "csv", "csrf": csrf_of(page)})

    assert response.status == 200  # sent before the rows
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert exports(db)[0][:3] == (f"telegram:{STAFF_ID}", True, 3)  # recorded before anything left
