"""`bpu-bot export leads ...` and `bpu-bot audit list` as staff meet them on the server.

The lead list is reopened the way a spreadsheet or a script would read it (the csv module, openpyxl) and
checked cell by cell: names people typed survive exactly, formula-like cells stay text, times are local.
Every mistake ends in exit code 2 and one `bpu-bot: error: ...` line, with no file written. The CLI runs in
this process (main() in a thread, as it runs its own event loop) against the test's migrated SQLite file;
the leads are made through the chat, except the one the chat cannot make (a name with a line break).
"""

from __future__ import annotations

import csv
import json
import re
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from telegram.ext import Application

from bot.app import BotApp
from bot.channels.telegram.channel import build_application
from bot.config import Settings
from bot.content import load_content
from bot.i18n import Messages, load_catalogs
from bot.models import LeadStatus
from bot.services.reports import LocalTimes, write_leads_csv, write_leads_xlsx
from tests.conftest import SYSTEM_USER, WIB, Clock, command_line, saved_lead, stored_lead
from tests.database import TestDatabase
from tests.fakes.telegram import FakeBotAPI, FakeRequest
from tests.population import seed_workers
from tests.test_cli import assert_one_line_error
from tests.test_officers import RINA_ID, make_officer

HEADERS_ID = [
    "Tanggal masuk",
    "Nama",
    "Nomor HP (E.164)",
    "Nomor HP",
    "Pekerjaan",
    "Kabupaten/Kota",
    "Waktu enak ditelepon",
    "Status",
    "Keterangan status",
    "Tanggal cek ulang",
    "Hasil telepon terakhir",
    "Waktu telepon terakhir",
    "Catatan petugas",
    "Riwayat status",
    "Petugas",
    "Sumber/Kampanye",
    "Kanal",
    "Bahasa",
    "Waktu persetujuan",
    "Versi persetujuan",
    "Berhenti pesan sejak",
]
HEADERS_EN = [
    "Created",
    "Name",
    "Phone (E.164)",
    "Phone",
    "Occupation",
    "Regency/City",
    "Best time to call",
    "Status",
    "Status in words",
    "Check back on",
    "Last call outcome",
    "Last call at",
    "Officer's notes",
    "Status history",
    "Officer",
    "Source/Campaign",
    "Channel",
    "Language",
    "Consent time",
    "Consent version",
    "Stopped messages at",
]
STOPPED = HEADERS_ID.index("Berhenti pesan sejak")
SITI = 'Siti, "Ani" 🌾 Rahma'
HYPERLINK = '=HYPERLINK("http://x","y")'
TWO_LINES = "Baris satu\nBaris dua"
LOCAL_MINUTE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


@pytest.fixture
async def telegram(app: BotApp, bot_api: FakeBotAPI) -> AsyncIterator[Application]:
    """The chat without pacing replies to Telegram's 30 a second: these tests make many leads through it,
    and pacing has tests of its own."""
    application = build_application(app, request=FakeRequest(bot_api), rate_limited=False)
    async with application:
        yield application


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path):
    return command_line({"DATABASE_URL": settings.database_url}, monkeypatch, capsys, tmp_path)


def read_csv(path: Path, delimiter: str = ";") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file, delimiter=delimiter))


def by_name(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *lines = rows
    return {line[1]: dict(zip(header, line, strict=True)) for line in lines}


def read_xlsx(path: Path) -> list[list]:
    """Every sheet's rows, cells as openpyxl reads them (value and data_type)."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return [[list(row) for row in sheet.iter_rows()] for sheet in workbook.worksheets]
    finally:
        workbook.close()


def local_minute(stored: str) -> str:
    """A time as SQLite stores it (UTC text) the way a person in Bengkulu reads it."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone(WIB).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
async def special_leads(new_chat, db, database: TestDatabase, clock: Clock) -> dict[str, str]:
    """Leads whose names a spreadsheet would mangle, a worker who sent STOP and one who was erased.

    Returns the stored STOP time of the worker who stopped (UTC text)."""
    await stored_lead(new_chat("Budi"), "Budi Santoso", "+6281234567890")
    await stored_lead(new_chat("Siti"), SITI, "+6281234567891")
    await stored_lead(new_chat("Made"), HYPERLINK, "+6281234567892", region="Kaur")
    await stored_lead(new_chat("Ani"), "+1 Ani", "+6281234567893")
    await stored_lead(new_chat("Dedi"), "-2 Dedi", "+6281234567894")
    await stored_lead(new_chat("Sum"), "@SUM(A1)", "+6281234567895")
    stopped = await stored_lead(new_chat("Wati"), "Wati Berhenti", "+6281234567896", region="Seluma")
    await stopped.say("STOP")  # stops at once
    erased = await stored_lead(new_chat("Hilang"), "Hilang Dihapus", "+6281234567897")
    await erased.say("HAPUS")
    await erased.tap("Ya, hapus semua")
    # The chat joins the lines of a name; a name with a line break can still come from another channel.
    [user_id] = seed_workers(database, 1, 800_001, now=clock())
    db("update leads set name = ? where phone = ?", TWO_LINES, f"+62812{user_id:08d}")
    assert db("select count(*) from leads")[0][0] == 8
    [(stopped_at,)] = db("select messages_stopped_at from contacts where messages_stopped_at is not null")
    return {"stopped_at": stopped_at}


EXPORTED = ["Budi Santoso", SITI, HYPERLINK, "+1 Ani", "-2 Dedi", "@SUM(A1)", "Wati Berhenti", TWO_LINES]


# ------------------------------------------------------------------------------------------ CSV


async def test_csv_reads_back_with_every_name_exact_formulas_kept_as_text_and_local_times(cli, special_leads, tmp_path):
    result = await cli("export", "leads", "--output", "prospek.csv")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "8 leads written to prospek.csv\n"
    assert "prospek.csv holds names and phone numbers: keep it only while you work on it, 30 days at most" in (
        result.stderr
    ), "the file is the staff's to delete"
    rows = read_csv(tmp_path / "prospek.csv")
    assert rows[0] == HEADERS_ID
    assert len(rows) == 9, "a header and one row per lead, the erased worker's gone"
    assert [row[1] for row in rows[1:]] == [
        "Budi Santoso",
        SITI,
        "'" + HYPERLINK,
        "'+1 Ani",
        "'-2 Dedi",
        "'@SUM(A1)",
        "Wati Berhenti",
        TWO_LINES,
    ], "oldest first; a cell a spreadsheet would run starts with '"
    leads = by_name(rows)
    budi = leads["Budi Santoso"]
    assert budi["Tanggal masuk"] == "2026-11-23 10:00", "10:00 in Bengkulu is 03:00 UTC, as stored"
    assert budi["Nomor HP (E.164)"] == "'+6281234567890", "the E.164 number would be a formula without its '"
    assert budi["Nomor HP"] == "0812-3456-7890"
    assert (budi["Pekerjaan"], budi["Kabupaten/Kota"], budi["Status"]) == ("Nelayan", "Mukomuko", "baru")
    assert (budi["Kanal"], budi["Bahasa"], budi["Berhenti pesan sejak"]) == ("telegram", "id", "")
    assert LOCAL_MINUTE.fullmatch(budi["Waktu persetujuan"]), budi["Waktu persetujuan"]
    assert budi["Versi persetujuan"] == load_content().consent_version
    assert leads[TWO_LINES]["Tanggal masuk"] == "2026-11-23 10:00"
    wati = leads["Wati Berhenti"]
    assert wati["Berhenti pesan sejak"] == local_minute(special_leads["stopped_at"]), "still listed, since when"
    assert all(not name.startswith("Hilang") for name in leads)


async def test_csv_is_for_its_owner_only_and_starts_with_a_bom_unless_asked_not_to(cli, special_leads, tmp_path):
    with_bom = await cli("export", "leads", "--output", "dengan-bom.csv")
    without = await cli("export", "leads", "--output", "tanpa-bom.csv", "--no-bom")

    assert (with_bom.returncode, without.returncode) == (0, 0), with_bom.stderr + without.stderr
    for name in ("dengan-bom.csv", "tanpa-bom.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert (tmp_path / "dengan-bom.csv").read_bytes().startswith("\ufeffTanggal masuk;".encode())
    raw = (tmp_path / "tanpa-bom.csv").read_bytes()
    assert raw.startswith(b"Tanggal masuk;")
    assert raw.split(b"\r\n")[0].decode() == ";".join(HEADERS_ID), "RFC 4180 lines end in CRLF"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [], "no temporary file left"


async def test_csv_in_english_has_english_headers_and_labels(cli, special_leads, tmp_path):
    result = await cli("export", "leads", "--output", "leads.csv", "--lang", "en")

    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "leads.csv")
    assert rows[0] == HEADERS_EN
    budi = by_name(rows)["Budi Santoso"]
    assert (budi["Created"], budi["Occupation"], budi["Phone"]) == ("2026-11-23 10:00", "Fisher", "0812-3456-7890")


# ------------------------------------------------------------------------------------------ Excel


async def test_xlsx_reads_back_with_text_cells_never_formulas_and_real_local_times(cli, special_leads, tmp_path):
    result = await cli("export", "leads", "--output", "prospek.xlsx")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "8 leads written to prospek.xlsx\n"
    assert stat.S_IMODE((tmp_path / "prospek.xlsx").stat().st_mode) == 0o600
    [sheet] = read_xlsx(tmp_path / "prospek.xlsx")
    header, *lines = sheet
    assert [cell.value for cell in header] == HEADERS_ID
    assert [line[1].value for line in lines] == EXPORTED, "names exactly as typed: Excel keeps them as text"
    for line in lines:
        assert line[1].data_type == "s", f"{line[1].value!r} is not a text cell"
    cells = {line[1].value: line for line in lines}
    made = cells[HYPERLINK]
    assert made[1].data_type == "s" and made[1].value == HYPERLINK, "a string, not a formula"
    budi = cells["Budi Santoso"]
    assert budi[0].value == datetime(2026, 11, 23, 10, 0), "a real date, in Bengkulu's time"
    assert (budi[2].data_type, budi[2].value) == ("s", "+6281234567890")
    assert budi[3].value == "0812-3456-7890"
    assert budi[STOPPED].value is None, "Budi did not stop messages"
    stopped = cells["Wati Berhenti"][STOPPED].value
    expected = datetime.fromisoformat(special_leads["stopped_at"]).replace(tzinfo=UTC).astimezone(WIB)
    assert isinstance(stopped, datetime)
    assert abs(stopped - expected.replace(tzinfo=None)) < timedelta(milliseconds=1)


def _fake_line(number: int) -> tuple:
    """A row as the database gives it, in LeadLine order, times as SQLite stores them."""
    return (
        f"2026-11-24 03:{number:02d}:00.000000",
        f"Pekerja {number}",
        f"+6281200000{number:03d}",
        "nelayan",
        "Mukomuko",
        "pagi",
        "baru",
        None,
        None,
        None,
        None,
        "telegram",
        "id",
        None,
        None,
        None,
    )


async def _chunks(*sizes: int) -> AsyncIterator[list[tuple]]:
    """Rows numbered from 1 in chunks of the given sizes, as stream_leads gives them."""
    number = 0
    for size in sizes:
        yield [_fake_line(number + i) for i in range(1, size + 1)]
        number += size


async def test_a_full_sheet_continues_on_a_new_one_with_the_headers_again(tmp_path):
    t = Messages(load_content(), load_catalogs())["id"]
    path = tmp_path / "besar.xlsx"

    rows = await write_leads_xlsx(_chunks(2, 3), t, WIB, str(path), sheet_rows=3)

    assert rows == 5
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        assert workbook.sheetnames == ["Prospek", "Prospek 2", "Prospek 3"]
        sheets = [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets]
    finally:
        workbook.close()
    assert [sheet[0] for sheet in sheets] == [HEADERS_ID] * 3, "every sheet starts with the headers"
    assert [[line[1] for line in sheet[1:]] for sheet in sheets] == [
        ["Pekerja 1", "Pekerja 2"],
        ["Pekerja 3", "Pekerja 4"],
        ["Pekerja 5"],
    ]
    assert sheets[2][1][0] == datetime(2026, 11, 24, 10, 5)


async def test_rows_written_directly_to_csv_count_and_convert_the_same(tmp_path):
    t = Messages(load_content(), load_catalogs())["en"]
    path = tmp_path / "leads.csv"

    with path.open("w", encoding="utf-8", newline="") as file:
        rows = await write_leads_csv(_chunks(1, 2), t, WIB, file)

    assert rows == 3
    written = read_csv(path)
    assert written[0] == HEADERS_EN
    assert [(line[0], line[1], line[2]) for line in written[1:]] == [
        ("2026-11-24 10:01", "Pekerja 1", "'+6281200000001"),
        ("2026-11-24 10:02", "Pekerja 2", "'+6281200000002"),
        ("2026-11-24 10:03", "Pekerja 3", "'+6281200000003"),
    ]


async def test_an_export_that_matches_nothing_is_headers_only_and_says_so(cli, special_leads, tmp_path, db):
    as_csv = await cli("export", "leads", "--output", "kosong.csv", "--region", "Lebong")
    as_xlsx = await cli("export", "leads", "--output", "kosong.xlsx", "--region", "Lebong")

    assert as_csv.returncode == 0 and as_xlsx.returncode == 0, as_csv.stderr + as_xlsx.stderr
    assert as_csv.stdout == "0 leads written to kosong.csv\n"
    assert as_xlsx.stdout == "0 leads written to kosong.xlsx\n"
    assert read_csv(tmp_path / "kosong.csv") == [HEADERS_ID]
    [sheet] = read_xlsx(tmp_path / "kosong.xlsx")
    assert [[cell.value for cell in row] for row in sheet] == [HEADERS_ID]
    assert [row["rows"] for row in db("select rows from audit_events where action = 'export'")] == [0, 0]


# ------------------------------------------------------------------------------------------ filters


@pytest.fixture
async def leads_over_three_days(new_chat, clock: Clock, db) -> None:
    """Four leads around a period of 23 to 24 November (local), in different regions, jobs and sources."""
    clock.set_local(datetime(2026, 11, 22, 23, 50, tzinfo=WIB))
    await stored_lead(new_chat("Sebelum"), "Sebelum Periode", "+6281300000001", region="Mukomuko")
    clock.set_local(datetime(2026, 11, 23, 0, 5, tzinfo=WIB))
    await stored_lead(
        new_chat("Pagi"), "Pagi Pertama", "+6281300000002", region="Kaur", occupation="Petani", source="PASAR_KAUR"
    )
    clock.set_local(datetime(2026, 11, 24, 23, 30, tzinfo=WIB))
    await stored_lead(new_chat("Malam"), "Malam Terakhir", "+6281300000003", region="Seluma", occupation="Pedagang")
    clock.set_local(datetime(2026, 11, 25, 0, 10, tzinfo=WIB))
    await stored_lead(new_chat("Lewat"), "Lewat Tengah Malam", "+6281300000004", region="Mukomuko")
    db("update leads set status = 'terdaftar', channel = 'whatsapp' where name = 'Lewat Tengah Malam'")


async def exported_names(cli, tmp_path: Path, *filters: str) -> list[str]:
    path = tmp_path / "filter.csv"
    result = await cli("export", "leads", "--output", path.name, *filters)
    assert result.returncode == 0, result.stderr
    names = [row[1] for row in read_csv(path)[1:]]
    assert result.stdout == f"{len(names)} leads written to {path.name}\n"
    return names


async def test_a_period_is_local_dates_with_both_days_included(cli, leads_over_three_days, tmp_path, db):
    period = await exported_names(cli, tmp_path, "--since", "2026-11-23", "--until", "2026-11-24")
    one_day = await exported_names(cli, tmp_path, "--since", "2026-11-24", "--until", "2026-11-24")
    from_on = await exported_names(cli, tmp_path, "--since", "2026-11-25")
    up_to = await exported_names(cli, tmp_path, "--until", "2026-11-22")

    assert period == ["Pagi Pertama", "Malam Terakhir"], "00:05 on the first day and 23:30 on the last are in"
    assert one_day == ["Malam Terakhir"]
    assert from_on == ["Lewat Tengah Malam"], "00:10 local is the next day, although still the 24th in UTC"
    assert up_to == ["Sebelum Periode"]
    stored = db("select created_at from leads where name = 'Malam Terakhir'")[0][0]
    assert stored.startswith("2026-11-24 16:30"), "stored in UTC"


async def test_regions_occupation_status_source_and_channel_narrow_the_list(cli, leads_over_three_days, tmp_path):
    regions = await exported_names(cli, tmp_path, "--region", "mukomuko", "--region", "KAUR")
    one_region = await exported_names(cli, tmp_path, "--region", "sELUMA")
    farmers = await exported_names(cli, tmp_path, "--occupation", "petani")
    registered = await exported_names(cli, tmp_path, "--status", "terdaftar")
    from_market = await exported_names(cli, tmp_path, "--source", "PASAR_KAUR")
    on_whatsapp = await exported_names(cli, tmp_path, "--channel", "whatsapp")
    on_telegram = await exported_names(cli, tmp_path, "--channel", "telegram", "--region", "Mukomuko")
    nobody = await exported_names(cli, tmp_path, "--occupation", "nelayan", "--region", "Kaur")

    assert regions == ["Sebelum Periode", "Pagi Pertama", "Lewat Tengah Malam"]
    assert one_region == ["Malam Terakhir"]
    assert farmers == ["Pagi Pertama"]
    assert registered == ["Lewat Tengah Malam"]
    assert from_market == ["Pagi Pertama"]
    assert on_whatsapp == ["Lewat Tengah Malam"]
    assert on_telegram == ["Sebelum Periode"]
    assert nobody == []
    assert read_csv(tmp_path / "filter.csv") == [HEADERS_ID], "the last file: headers only"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["--output", "p.csv", "--since", "2026-13-01"], "--since '2026-13-01' is not a", id="bad-month"),
        pytest.param(["--output", "p.csv", "--until", "besok"], "--until 'besok' is not a date", id="not-a-date"),
        pytest.param(["--output", "p.csv", "--region", "Jakarta"], "--region 'Jakarta' is not one of", id="region"),
        pytest.param(["--output", "p.csv", "--occupation", "tukang"], "occupation 'tukang' is not one of", id="job"),
        pytest.param(["--output", "p.csv", "--status", "hot"], "status 'hot' is not one of", id="status"),
        pytest.param(["--output", "p.csv", "--channel", "sms"], "channel 'sms' is not one of", id="channel"),
        pytest.param(["--output", "p.csv", "--source", "a b"], "source 'a b' is not a code", id="source"),
        pytest.param(
            ["--output", "p.csv", "--since", "2026-11-25", "--until", "2026-11-24"], "after it ends", id="backwards"
        ),
        pytest.param(["--output", "p.csv", "--format", "xlsx"], "--format xlsx but --output p.csv", id="mismatch"),
        pytest.param(["--output", "prospek"], "ends neither in .csv nor .xlsx", id="no-suffix"),
        pytest.param(["--output", "prospek.txt"], "ends neither in .csv nor .xlsx", id="txt"),
        pytest.param(["--output", "folder.csv"], "is a folder", id="a-folder"),
        pytest.param(["--output", "hilang/p.csv"], "cannot write hilang/p.csv", id="no-such-folder"),
        pytest.param(["--output", "p.csv", "--lang", "fr"], "--lang", id="language"),
        pytest.param([], "--output", id="no-output"),
    ],
)  # fmt: skip
async def test_a_mistake_in_export_is_one_line_and_writes_nothing(cli, tmp_path, db, args, said):
    (tmp_path / "folder.csv").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())

    result = await cli("export", "leads", *args)

    assert_one_line_error(result, said)
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no file, not even a temporary one"
    assert list((tmp_path / "folder.csv").iterdir()) == []
    assert db("select count(*) from audit_events")[0][0] == 0


# ------------------------------------------------------------------------------------------ audit


async def test_each_export_is_in_the_audit_log_with_who_how_many_and_which_filters(
    cli, special_leads, tmp_path, db, new_chat
):
    first = await cli("export", "leads", "--output", "mukomuko.csv", "--region", "mukomuko", "--since", "2026-11-01")
    second = await cli("export", "leads", "--output", "semua.xlsx")
    worker = new_chat("Budi")
    await worker.command("undang")  # refused: a worker invites nobody

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    exports = db("select * from audit_events where action = 'export' order by id")
    assert [(r["actor"], r["actor_role"], r["allowed"], r["rows"]) for r in exports] == [
        (f"cli:{SYSTEM_USER}", "admin", 1, 6),
        (f"cli:{SYSTEM_USER}", "admin", 1, 8),
    ]
    assert json.loads(exports[0]["detail"]) == {
        "format": "csv",
        "filters": {"since": "2026-11-01", "regions": ["Mukomuko"]},
        "file": "mukomuko.csv",
    }
    assert json.loads(exports[1]["detail"]) == {"format": "xlsx", "filters": {}, "file": "semua.xlsx"}

    listed = await cli("audit", "list")
    only_exports = await cli("audit", "list", "--action", "export")
    refused = await cli("audit", "list", "--refused")
    by_dewi = await cli("audit", "list", "--actor", f"cli:{SYSTEM_USER}", "--limit", "1")

    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["ID", "WHEN", "WHO", "ROLE", "ACTION", "SUBJECT", "ALLOWED", "ROWS", "DETAIL"]
    assert len(lines) == 3 and listed.stderr == "3 entries (Asia/Jakarta), latest first\n"
    assert re.match(r"3\s+2026-11-23 10:00:00\s+telegram:\d+\s+worker\s+invite\s+REFUSED\s+\{", lines[0]), lines[0]
    assert re.match(rf"2\s+\S+ \S+\s+cli:{SYSTEM_USER}\s+admin\s+export\s+yes\s+8\s+\{{", lines[1]), lines[1]
    assert '"regions":["Mukomuko"]' in lines[2] and lines[2].split()[0] == "1"
    assert [line.split()[0] for line in only_exports.stdout.splitlines()[1:]] == ["2", "1"]
    assert [line.split()[0] for line in refused.stdout.splitlines()[1:]] == ["3"]
    assert "invite" in refused.stdout and "REFUSED" in refused.stdout
    assert [line.split()[0] for line in by_dewi.stdout.splitlines()[1:]] == ["2"], "the latest of hers only"


async def test_audit_list_since_is_local_time_and_a_bad_one_is_one_line(cli, new_chat):
    await new_chat("Budi").command("undang")  # refused at 10:00 in Bengkulu (03:00 UTC)

    before = await cli("audit", "list", "--action", "invite", "--since", "2026-11-23T09:30")
    after = await cli("audit", "list", "--action", "invite", "--since", "2026-11-23T10:30")
    wrong = await cli("audit", "list", "--since", "kemarin")
    too_many = await cli("audit", "list", "--limit", "0")

    assert len(before.stdout.splitlines()) == 2, before.stdout
    assert len(after.stdout.splitlines()) == 1, after.stdout
    assert_one_line_error(wrong, "--since 'kemarin' is not a date")
    assert_one_line_error(too_many, "--limit")


# ------------------------------------------------------------------------------------------ local times


def _stored(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        pytest.param("America/New_York", datetime(2026, 3, 8, 5, 0, tzinfo=UTC), id="new-york-spring"),
        pytest.param("America/New_York", datetime(2026, 11, 1, 4, 0, tzinfo=UTC), id="new-york-autumn"),
        # Newfoundland changes at 05:30 and 04:30 UTC: inside a UTC hour, not at its start.
        pytest.param("America/St_Johns", datetime(2026, 3, 8, 4, 0, tzinfo=UTC), id="st-johns-spring"),
        pytest.param("America/St_Johns", datetime(2026, 11, 1, 3, 0, tzinfo=UTC), id="st-johns-autumn"),
        pytest.param("Australia/Lord_Howe", datetime(2026, 10, 3, 14, 0, tzinfo=UTC), id="lord-howe-half-hour"),
        pytest.param("Asia/Jakarta", datetime(2026, 11, 23, 2, 0, tzinfo=UTC), id="jakarta"),
    ],
)
def test_local_times_match_astimezone_minute_by_minute_across_a_clock_change(zone, start):
    tz = ZoneInfo(zone)
    times = LocalTimes(tz)
    moments = [start + timedelta(minutes=m, seconds=s) for m in range(4 * 60) for s in (0, 59)]

    for moment in moments:
        expected = moment.astimezone(tz).replace(tzinfo=None)
        assert times.local(_stored(moment)) == expected, f"{_stored(moment)} in {zone}"
        assert times.text(_stored(moment)) == expected.strftime("%Y-%m-%d %H:%M"), f"{_stored(moment)} in {zone}"
        assert times.local(moment) == expected, "a datetime from another database converts the same"
    # Read again in another order, from the cache this time.
    for moment in reversed(moments):
        assert times.local(_stored(moment)) == moment.astimezone(tz).replace(tzinfo=None)


def test_local_times_on_both_sides_of_new_yorks_spring_change():
    times = LocalTimes(ZoneInfo("America/New_York"))

    assert times.local("2026-03-08 06:59:00.000000") == datetime(2026, 3, 8, 1, 59)  # EST, UTC-5
    assert times.local("2026-03-08 07:00:00.000000") == datetime(2026, 3, 8, 3, 0)  # EDT, UTC-4: 02:00 skipped
    assert times.local("2026-03-08 09:59:00.000000") == datetime(2026, 3, 8, 5, 59)
    assert times.text("2026-03-08 06:59:59.999999") == "2026-03-08 01:59"
    assert times.text(None) == "" and times.local(None) is None


def test_local_times_inside_the_utc_hour_of_st_johns_spring_change():
    times = LocalTimes(ZoneInfo("America/St_Johns"))

    assert times.local("2026-03-08 05:29:00.000000") == datetime(2026, 3, 8, 1, 59)  # NST, UTC-3:30
    assert times.local("2026-03-08 05:30:00.000000") == datetime(2026, 3, 8, 3, 0)  # NDT, UTC-2:30
    assert times.text("2026-03-08 05:00:00.000000") == "2026-03-08 01:30"
    assert times.text("2026-03-08 05:59:00.000000") == "2026-03-08 03:29"


# ------------------------------------------------------------------------------------------ for Excel users


def column_of(header: str) -> str:
    return openpyxl.utils.get_column_letter(HEADERS_ID.index(header) + 1)


async def test_every_sheet_keeps_its_header_in_view_filters_on_it_and_fits_its_columns(tmp_path):
    t = Messages(load_content(), load_catalogs())["id"]
    path = tmp_path / "besar.xlsx"

    async def chunks() -> AsyncIterator[list[tuple]]:
        long_name = (_fake_line(3)[0], "Nama Yang Panjang Sekali " * 4, *_fake_line(3)[2:])
        yield [_fake_line(1), _fake_line(2), long_name, _fake_line(4), _fake_line(5)]

    await write_leads_xlsx(chunks(), t, WIB, str(path), sheet_rows=3)

    workbook = openpyxl.load_workbook(path)
    first, second, third = workbook.worksheets
    last = openpyxl.utils.get_column_letter(len(HEADERS_ID))
    assert [sheet.freeze_panes for sheet in workbook.worksheets] == ["A2"] * 3, "the header row stays in view"
    assert [sheet.auto_filter.ref for sheet in workbook.worksheets] == [f"A1:{last}3", f"A1:{last}3", f"A1:{last}2"]

    def width(sheet, header: str) -> int:
        return int(sheet.column_dimensions[column_of(header)].width)

    assert width(first, "Nama") == len("Pekerja 1") + 2, "as wide as the longest name on the sheet"
    assert width(second, "Nama") == 50, "a long name widens its sheet's column, up to 50 characters"
    assert width(third, "Nama") == len("Pekerja 5") + 2, "each sheet fits its own rows"
    assert width(first, "Tanggal masuk") == 18, "a time fits"
    assert width(first, "Riwayat status") == len("Riwayat status") + 2, "an empty column fits its header"


async def test_the_cli_workbook_has_the_header_frozen_and_filters_over_every_lead(cli, special_leads, tmp_path):
    result = await cli("export", "leads", "--output", "prospek.xlsx")

    assert result.returncode == 0, result.stderr
    sheet = openpyxl.load_workbook(tmp_path / "prospek.xlsx").active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(HEADERS_ID))}9", "header and 8 leads"
    assert 11 <= sheet.column_dimensions[column_of("Nama")].width <= 51


async def test_csv_is_split_on_semicolons_by_default_and_on_commas_when_asked(cli, special_leads, tmp_path):
    semicolons = await cli("export", "leads", "--output", "excel.csv")
    commas = await cli("export", "leads", "--output", "lain.csv", "--delimiter", "comma")
    wrong = await cli("export", "leads", "--output", "tab.csv", "--delimiter", "tab")

    assert (semicolons.returncode, commas.returncode) == (0, 0), semicolons.stderr + commas.stderr
    assert (tmp_path / "excel.csv").read_bytes().startswith("\ufeffTanggal masuk;Nama;".encode())
    assert (tmp_path / "lain.csv").read_bytes().startswith("\ufeffTanggal masuk,Nama,".encode())
    assert read_csv(tmp_path / "lain.csv", delimiter=",") == read_csv(tmp_path / "excel.csv"), "the same cells"
    assert_one_line_error(wrong, "--delimiter")
    assert not (tmp_path / "tab.csv").exists()


# ------------------------------------------------------------------------------------------ a lead's story


def _utc(local: datetime) -> str:
    return local.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.fixture
async def story(app, new_chat, db) -> None:
    """Budi, called twice by Rina with a note each time, will register: she checks back on 1 December. A
    reminder cancelled after her last call is not a call."""
    rina_id, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    [(lead_id,)] = db("select id from leads")
    rina = f"officer:{rina_id}"
    steps = [
        ("baru", "tidak_bisa_dihubungi", rina, None, datetime(2026, 11, 24, 10, 5, tzinfo=WIB)),
        ("tidak_bisa_dihubungi", "dihubungi", rina, "Minta ditelepon sore", datetime(2026, 11, 25, 16, 0, tzinfo=WIB)),
        ("dihubungi", "akan_daftar", rina, "Mau daftar tanggal 1", datetime(2026, 11, 26, 9, 30, tzinfo=WIB)),
    ]
    for before, after, actor, note, at in steps:
        db(
            "insert into lead_events (lead_id, from_status, to_status, actor, note, at) values (?, ?, ?, ?, ?, ?)",
            lead_id, before, after, actor, note, _utc(at),
        )  # fmt: skip
    db("update leads set status = 'akan_daftar'")
    db("update followups set due_at = ? where kind = 'call'", _utc(datetime(2026, 12, 1, 9, 0, tzinfo=WIB)))
    later = _utc(datetime(2026, 11, 27, 8, 0, tzinfo=WIB))
    db("update followups set status = 'cancelled', updated_at = ? where kind = 'reminder'", later)


STORY = {
    "Waktu enak ditelepon": "🌅 Pagi (08.00–11.00)",
    "Status": "akan_daftar",
    "Keterangan status": "akan mendaftar",
    "Tanggal cek ulang": "2026-12-01",
    "Hasil telepon terakhir": "akan_daftar",
    "Waktu telepon terakhir": "2026-11-26 09:30",
    "Catatan petugas": "2026-11-25 dihubungi: Minta ditelepon sore | 2026-11-26 akan_daftar: Mau daftar tanggal 1",
    "Riwayat status": (
        "2026-11-24 10:05 tidak_bisa_dihubungi (Rina Marlina) | 2026-11-25 16:00 dihubungi (Rina Marlina)"
        " | 2026-11-26 09:30 akan_daftar (Rina Marlina)"
    ),
    "Petugas": "Rina Marlina",
}


async def test_a_lead_s_row_tells_its_story_steps_notes_last_call_and_check_back(cli, story, tmp_path):
    as_csv = await cli("export", "leads", "--output", "cerita.csv")
    as_xlsx = await cli("export", "leads", "--output", "cerita.xlsx")

    assert (as_csv.returncode, as_xlsx.returncode) == (0, 0), as_csv.stderr + as_xlsx.stderr
    budi = by_name(read_csv(tmp_path / "cerita.csv"))["Budi Santoso"]
    assert {header: budi[header] for header in STORY} == STORY
    [sheet] = read_xlsx(tmp_path / "cerita.xlsx")
    header, row = ([cell.value for cell in line] for line in sheet)
    cells = dict(zip(header, row, strict=True))
    assert cells["Tanggal cek ulang"] == datetime(2026, 12, 1), "a real date the sheet can filter on"
    assert cells["Waktu telepon terakhir"] == datetime(2026, 11, 26, 9, 30)
    assert cells["Riwayat status"] == STORY["Riwayat status"]
    check_back = openpyxl.load_workbook(tmp_path / "cerita.xlsx").active[f"{column_of('Tanggal cek ulang')}2"]
    assert check_back.number_format == "yyyy-mm-dd", "shown as a day, not a midnight"


async def test_the_check_back_date_is_shown_only_while_the_lead_will_register(cli, story, tmp_path, db):
    db("update leads set status = 'terdaftar'")

    result = await cli("export", "leads", "--output", "cerita.csv")

    assert result.returncode == 0, result.stderr
    budi = by_name(read_csv(tmp_path / "cerita.csv"))["Budi Santoso"]
    assert (budi["Status"], budi["Tanggal cek ulang"]) == ("terdaftar", "")


async def test_a_call_recorded_in_the_chat_is_the_last_call_even_when_reminders_were_cancelled_after(
    app, cli, new_chat, clock, tmp_path
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    rina = new_chat("Rina", user_id=RINA_ID)
    clock.set_local(datetime(2026, 11, 24, 10, 15, tzinfo=WIB))
    await rina.command("tugas")
    await rina.tap("Terdaftar")  # the reminders are cancelled with it, a moment later in their rows
    await rina.say("Sudah daftar lewat JMO")

    result = await cli("export", "leads", "--output", "prospek.csv")

    assert result.returncode == 0, result.stderr
    budi = by_name(read_csv(tmp_path / "prospek.csv"))["Budi Santoso"]
    assert (budi["Status"], budi["Hasil telepon terakhir"], budi["Waktu telepon terakhir"]) == (
        "terdaftar",
        "terdaftar",
        "2026-11-24 10:15",
    )
    assert budi["Catatan petugas"] == "2026-11-24 terdaftar: Sudah daftar lewat JMO"
    assert budi["Riwayat status"].endswith("2026-11-24 10:15 terdaftar (Rina Marlina)")


# ------------------------------------------------------------------------------------------ one vocabulary


async def test_the_status_filter_takes_exactly_the_words_the_file_shows(cli, database, clock, tmp_path, db):
    statuses = list(LeadStatus)
    seed_workers(database, len(statuses), 810_001, now=clock())
    for number, status in enumerate(statuses, 810_001):
        db("update leads set status = ? where name = ?", status.value, f"Pekerja {number}")

    everyone = await cli("export", "leads", "--output", "semua.csv")

    assert everyone.returncode == 0, everyone.stderr
    shown = {row["Nama"]: row["Status"] for row in by_name(read_csv(tmp_path / "semua.csv")).values()}
    assert sorted(shown.values()) == sorted(statuses), "every stage, as its code word"
    for word in sorted(set(shown.values())):
        names = await exported_names(cli, tmp_path, "--status", word)
        assert names == [name for name, status in shown.items() if status == word], word
    label = await cli("export", "leads", "--output", "label.csv", "--status", "sudah dihubungi petugas")
    assert_one_line_error(label, "status 'sudah dihubungi petugas' is not one of: baru, dihubungi, akan_daftar")
