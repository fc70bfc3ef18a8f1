"""Lead export benchmark: `bpu-bot export leads` on a million leads, beside the floor SQLite itself sets.

A migrated SQLite file is filled with N realistic leads (a year of them, names with commas, quotes and emoji,
officers, consents, settled follow-ups, campaign and officer codes), then three things run, each as its own
child process under GNU time so that each peak RSS is that command's own:

(a) the sqlite3 command-line tool writing the export's own query (compiled from bot.services.exports) as CSV:
    the floor, what reading the rows and writing them out costs with no Python at all;
(b) `bpu-bot export leads --output leads.csv`, the real command with a clean environment (no Telegram token),
    so interpreter start, imports, the count, the audit entry and the atomic rename are all in its time;
(c) the same with `--output leads.xlsx`.

Targets: the CSV export within 3x the sqlite3 dump's wall time, and both exports within 150 MB peak RSS (the
writers stream, so memory must not grow with the rows). The files are then checked cheaply: CSV records counted
with the csv module and their names compared with the dump's, the workbook opened as a zip and its sheets and
rows read from the XML headers (loading a million rows with openpyxl would take minutes).

    python -m bench.export [--leads 1000000]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import sqlite

from bot.content import load_content
from bot.db import upgrade_database
from bot.models import LeadStatus, Occupation
from bot.services.exports import LeadFilter, _lead_lines
from bot.services.reports import SHEET_ROWS, spreadsheet_safe
from bot.services.tasks import CALL_OUTCOMES

SQLITE3 = "/usr/bin/sqlite3"
GNU_TIME = "/usr/bin/time"
NOW = datetime(2026, 11, 24, 3, 0)  # UTC, naive: stored as text the way SQLAlchemy stores UTC on SQLite
YEAR = timedelta(days=365)
BATCH = 50_000  # leads built and inserted at a time: the seeding's memory stays flat whatever N
RSS_TARGET_MB = 150
TIME_TARGET = 3.0

# ------------------------------------------------------------------------------------------------ the data

_FIRST = (
    "Siti", "Ani", "Budi", "Agus", "Dewi", "Rahmat", "Yusuf", "Nurhayati", "Wayan", "Made", "Ketut", "Putu",
    "Eko", "Sri", "Joko", "Fitri", "Andi", "Rini", "Hendra", "Yanti", "Slamet", "Maria", "Fransiskus", "Dedi",
    "Suparman", "Ahmad", "Muhammad", "Nur", "Lina", "Asep", "Ujang", "Teguh", "Mega", "Rudi", "Wahyuni", "Iwan",
    "Syafi'i", "Ma'ruf", "Nu'man", "Zoë", "Nguyễn", "Ayu", "Bambang", "Yohanes", "Samsul", "Herlina",
)  # fmt: skip
_LAST = (
    "", "", "", "Saputra", "Wati", "Hidayat", "Siregar", "Nasution", "Harahap", "Simanjuntak", "Lubis",
    "Syahputra", "Kurniawan", "Setiawan", "Pratama", "Lestari", "Rahayu", "Wijaya", "bin Abdullah",
    "binti Hasan", "Daeng Mappa", "Tan", "Sembiring", "Ginting", "Panjaitan", "Sulistyowati",
)  # fmt: skip
_TITLES = ("Pak ", "Bu ", "H. ", "Hj. ", "Mbak ", "Ir. ")
_EMOJI = (" 🌾", " 🎣", " 🛵", " 🙏", " 👍🏽", " ❤️", " 🇮🇩")
# What people type in a name field when nobody stops them: each must come out of the export unharmed.
_ODD_NAMES = (
    'Siti, "Ani" 🌾',
    "BUDI SANTOSO",
    "budi",
    "Ani / Budi",
    "Rudi; Tono",
    "=Ani",
    "+62 Budi",
    "-Rina-",
    "@budi_ojol",
    "李明",
    "O'Neil, Wayan",
    '"Bang" Jali',
    "Ibu Ratna (warung)",
)
_PHONE_PREFIXES = ("+62812", "+62813", "+62821", "+62822", "+62852", "+62853", "+62857", "+62878", "+62896")
_OFFICERS = (
    "Rahmat Hidayat",
    "Siti Aminah, S.E.",
    'Yudi "Kang Yudi" Pratama',
    "Dewi Lestari",
    "I Made Suardana",
    "Nur'aini",
    "Andi Saputra 🛵",
    "Fransiska Lubis",
)
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # as bot.services.officers makes them
_CALL_TIMES = ("pagi", "siang", "sore", "kapan")
# Statuses of leads no call has settled (a called lead takes its call's outcome), in the shares a branch
# sees: 65% still new, 10% contacted, 5% will register, 10% registered, 5% not interested, 5% unreachable.
_STATUSES = (
    *[LeadStatus.BARU] * 13,
    *[LeadStatus.DIHUBUNGI] * 2,
    LeadStatus.AKAN_DAFTAR,
    *[LeadStatus.TERDAFTAR] * 2,
    LeadStatus.TIDAK_TERTARIK,
    LeadStatus.TIDAK_BISA_DIHUBUNGI,
)
_OUTCOMES = tuple(CALL_OUTCOMES)
_NOTES = (None, None, "Minta ditelepon sore", "Sudah daftar lewat JMO", 'Bilang "nanti dulu", panen', "Nomor mati")
_OCCUPATIONS = tuple(Occupation)


def _stamp(moment: datetime) -> str:
    """As SQLAlchemy stores a UTC time on SQLite, never later than NOW (isoformat: strftime took a third of the
    seeding's time)."""
    return min(moment, NOW).isoformat(" ", "microseconds")


def _names(rng: random.Random, count: int = 20_000) -> list[str]:
    """A pool of names to draw from: mostly plain, a few percent with titles, emoji, quotes and odd typing."""
    names = []
    for _ in range(count):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}".strip()
        roll = rng.random()
        if roll < 0.03:
            name = rng.choice(_ODD_NAMES)
        elif roll < 0.06:
            name += rng.choice(_EMOJI)
        elif roll < 0.09:
            name = rng.choice(_TITLES) + name
        elif roll < 0.11:
            name = f'{name}, "{rng.choice(_FIRST)}"'
        names.append(name[:80])
    return names


@dataclass(frozen=True)
class World:
    """What every lead draws from: names, regions, and which officers cover each region."""

    names: list[str]
    regions: tuple[str, ...]
    covering: dict[str, list[tuple[int, str]]]  # region -> [(officer id, code)]
    consent_version: str


def seed_officers(connection: sqlite3.Connection, rng: random.Random, regions: tuple[str, ...]) -> World:
    """Officers 1..K with contacts 1..K; officer k covers two regions, so every region has one or two."""
    created = _stamp(NOW - YEAR - timedelta(days=30))
    codes = []
    while len(codes) < len(_OFFICERS):
        code = "ptg-" + "".join(rng.choice(_CODE_ALPHABET) for _ in range(6))
        if code not in codes:
            codes.append(code)
    count = len(_OFFICERS)
    connection.executemany(
        "insert into contacts (id, channel, external_id, locale, role, state, state_data, state_serial,"
        " created_at, last_seen_at) values (?, 'telegram', ?, 'id', 'officer', 'main', '{}', 3, ?, ?)",
        ((k, str(700_000_000 + k), created, created) for k in range(1, count + 1)),
    )
    connection.executemany(
        "insert into officers (id, contact_id, name, code, assigned_serial, created_at) values (?, ?, ?, ?, 0, ?)",
        ((k, k, name, code, created) for k, (name, code) in enumerate(zip(_OFFICERS, codes, strict=True), 1)),
    )
    covering: dict[str, list[tuple[int, str]]] = {region: [] for region in regions}
    for k in range(count):
        for region in dict.fromkeys((regions[k % len(regions)], regions[(k + count) % len(regions)])):
            covering[region].append((k + 1, codes[k]))
    connection.executemany(
        "insert into officer_regions (officer_id, region) values (?, ?)",
        ((officer, region) for region, officers in covering.items() for officer, _ in officers),
    )
    return World(_names(rng), regions, covering, load_content().consent_version)


@dataclass
class Rows:
    """One batch of rows to insert, table by table."""

    contacts: list[tuple] = field(default_factory=list)
    consents: list[tuple] = field(default_factory=list)
    leads: list[tuple] = field(default_factory=list)
    followups: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # the lead's history: each officer's call, with a note or not


def _followups(rng: random.Random, contact: int, lead: int, created: datetime, officer: int | None, region: str):
    """One or two settled follow-ups: a reminder sent, or an officer's call done with its outcome."""
    rows = []
    for _ in range(rng.choice((1, 1, 2))):
        if rng.random() < 0.5:
            due = created + timedelta(days=rng.choice((3, 14)), minutes=rng.randrange(600))
            settled = due + timedelta(seconds=rng.randrange(1, 30))
            rows.append((contact, lead, "reminder", _stamp(due), "sent", 1, None, None, None, settled))
        else:
            due = created + timedelta(days=rng.randrange(1, 4), minutes=rng.randrange(600))
            settled = due + timedelta(minutes=rng.randrange(5, 2880))
            outcome = rng.choice(_OUTCOMES)
            rows.append((contact, lead, "call", _stamp(due), "done", 0, outcome, officer, region, settled))
    rows.sort(key=lambda row: row[-1])
    return [(*row[:-1], _stamp(created), _stamp(row[-1])) for row in rows]


def _lead(rng: random.Random, world: World, number: int, contact: int, created: datetime, rows: Rows) -> None:
    """One worker as lead capture and the months after it leave them: contact, two consents, lead, follow-ups."""
    region = rng.choice(world.regions)
    occupation = rng.choice(_OCCUPATIONS)
    officer, code, source = None, None, None
    if rng.random() < 0.7 and world.covering[region]:
        officer, code = rng.choice(world.covering[region])
    roll = rng.random()
    if roll < 0.2:  # an officer's personal link (credited to them) or a campaign's button
        source = code if code and roll < 0.14 else "cmp-3"
    status = rng.choice(_STATUSES)
    followups = _followups(rng, contact, number, created, officer, region) if rng.random() < 0.4 else []
    for followup in followups:  # an officer's recorded outcome is the lead's status
        if followup[2] == "call":
            status = followup[6]
    updated = created if status == LeadStatus.BARU else created + timedelta(days=rng.randrange(1, 20))
    locale = "en" if rng.random() < 0.08 else "id"
    consented = created - timedelta(seconds=rng.randrange(20, 300))
    stopped = _stamp(created + (NOW - created) * rng.random()) if rng.random() < 0.05 else None
    rows.contacts.append(
        (
            contact,
            str(100_000_000 + number * 7),
            locale,
            occupation,
            source,
            rng.randrange(5, 40),
            stopped,
            _stamp(consented - timedelta(seconds=rng.randrange(60, 1800))),
            _stamp(updated + timedelta(minutes=rng.randrange(600))),
        )
    )
    decided = _stamp(consented)
    rows.consents.append((contact, "lead_contact", world.consent_version, decided))
    rows.consents.append((contact, "reminders", world.consent_version, decided))
    phone = f"{rng.choice(_PHONE_PREFIXES)}{rng.randrange(10**6, 10**8)}"
    name = rng.choice(world.names)
    call_time = rng.choice(_CALL_TIMES)
    rows.leads.append(
        (number, contact, name, phone, occupation, region, call_time, status, source, officer, locale)
        + (_stamp(created), _stamp(updated), _stamp(updated))
    )
    rows.followups.extend(followups)
    actor = f"officer:{officer}" if officer else "admin:telegram:1"
    before = LeadStatus.BARU
    for followup in followups:
        if followup[2] == "call":
            rows.events.append((number, before, followup[6], actor, rng.choice(_NOTES), followup[-1]))
            before = followup[6]
    if status == LeadStatus.AKAN_DAFTAR:  # the officer checks back on the day the worker said
        rows.events.append((number, before, status, actor, rng.choice(_NOTES), _stamp(updated)))
        due = _stamp(updated + timedelta(days=rng.randrange(3, 30)))
        rows.followups.append((contact, number, "call", due, "pending", 0, None, officer, region, _stamp(updated), due))


def _moments(rng: random.Random, count: int) -> list[datetime]:
    """Lead times over the last year at random seconds, in order: ids follow creation, as in the bot."""
    start = NOW - YEAR
    return [start + YEAR * share for share in sorted(rng.random() for _ in range(count))]


def _insert(connection: sqlite3.Connection, rows: Rows) -> None:
    connection.executemany(
        "insert into contacts (id, channel, external_id, locale, occupation, source_code, state, state_data,"
        " state_serial, messages_stopped_at, created_at, last_seen_at)"
        " values (?, 'telegram', ?, ?, ?, ?, 'main', '{}', ?, ?, ?, ?)",
        rows.contacts,
    )
    connection.executemany(
        "insert into consents (contact_id, purpose, text_version, granted, decided_at) values (?, ?, ?, 1, ?)",
        rows.consents,
    )
    connection.executemany(
        "insert into leads (id, contact_id, name, phone, occupation, region, call_time, status, source_code,"
        " officer_id, channel, locale, created_at, updated_at, last_contact_at)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'telegram', ?, ?, ?, ?)",
        rows.leads,
    )
    connection.executemany(
        "insert into followups (contact_id, lead_id, kind, due_at, status, attempts, outcome, officer_id, region,"
        " created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows.followups,
    )
    connection.executemany(
        "insert into lead_events (lead_id, from_status, to_status, actor, note, at) values (?, ?, ?, ?, ?, ?)",
        rows.events,
    )


def seed(path: Path, leads: int, rng: random.Random) -> dict[str, int]:
    """N workers with their leads, straight into SQLite; returns the rows per table."""
    with sqlite3.connect(path) as connection:
        connection.execute("pragma synchronous = off")  # a benchmark's scratch file: no need to survive a crash
        world = seed_officers(connection, rng, load_content().regions)
        first_contact = len(_OFFICERS) + 1
        moments = _moments(rng, leads)
        for start in range(0, leads, BATCH):
            rows = Rows()
            for number in range(start + 1, min(start + BATCH, leads) + 1):
                _lead(rng, world, number, first_contact + number - 1, moments[number - 1], rows)
            _insert(connection, rows)
        tables = ("contacts", "consents", "leads", "followups", "lead_events", "officers")
        counts = {table: connection.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}
    with sqlite3.connect(path) as connection:  # fold the WAL into the file: every reader then starts equal
        connection.execute("pragma wal_checkpoint(truncate)")
    return counts


# ------------------------------------------------------------------------------------------ the measuring


@dataclass(frozen=True)
class Run:
    label: str
    command: str
    seconds: float
    cpu: float
    peak_mb: float
    output: Path


def measure(
    label: str, argv: list[str], output: Path, *, stdin: Path | None = None, stdout: Path | None = None, **popen
) -> Run:
    """Run one command to its end: wall time, CPU (os.wait4) and peak RSS.

    The peak comes from GNU time, not from os.wait4: on Linux a child's ru_maxrss starts at its parent's
    high-water mark (fork copies it, exec keeps it), so this process's own hundreds of MB would show up as
    every child's peak. GNU time is small, and its child's peak is the command's own."""
    errors = output.with_name(output.name + ".stderr")
    peak = output.with_name(output.name + ".peak")
    with (
        open(stdin or os.devnull, "rb") as given,
        open(stdout or os.devnull, "wb") as written,
        open(errors, "wb") as stderr,
    ):
        started = time.perf_counter()
        timed = [GNU_TIME, "--format=%M", f"--output={peak}", *argv]
        child = subprocess.Popen(timed, stdin=given, stdout=written, stderr=stderr, **popen)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    if child.returncode != 0:
        raise SystemExit(f"{label} failed ({child.returncode}): {errors.read_text(errors='replace')[-2000:]}")
    command = shlex.join(argv) + (f" < {stdin}" if stdin else "") + (f" > {stdout}" if stdout else "")
    peak_kb = int(peak.read_text().split()[-1])
    return Run(label, command, seconds, usage.ru_utime + usage.ru_stime, peak_kb / 1024, output)


def export_sql() -> str:
    query = _lead_lines(LeadFilter(), ZoneInfo("Asia/Jakarta"))
    return str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def dump_with_sqlite3(database: Path, directory: Path) -> Run:
    sql = directory / "export.sql"
    sql.write_text(export_sql() + ";\n", encoding="utf-8")
    output = directory / "sqlite3.csv"
    return measure(
        "sqlite3 -csv -header", [SQLITE3, "-csv", "-header", str(database)], output, stdin=sql, stdout=output
    )


def export_with_bot(database: Path, directory: Path, suffix: str) -> Run:
    """The installed command as an operator runs it; the environment holds only the database, and the working
    directory is the scratch one so no .env is read."""
    bot = Path(sys.prefix) / "bin" / "bpu-bot"
    output = directory / f"leads.{suffix}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(directory), "LANG": "C.UTF-8", "DATABASE_URL": f"sqlite:///{database}"}
    run = measure(
        f"bpu-bot .{suffix}", [str(bot), "export", "leads", "--output", str(output)], output, env=env, cwd=directory
    )
    settings = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    return Run(
        run.label, f"cd {directory} && env -i {settings} {run.command}", run.seconds, run.cpu, run.peak_mb, output
    )


def warm_cache(database: Path) -> None:
    """Read the file once so that the first measurement does not pay the disk for the others."""
    with open(database, "rb") as file:
        while file.read(1 << 20):
            pass


# ------------------------------------------------------------------------------------------ the checking


def _records(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    with open(path, encoding=encoding, newline="") as file:
        yield from csv.reader(file, delimiter=delimiter)


def check_csv(exported: Path, dumped: Path, leads: int) -> str:
    """Records (not lines: a name may hold anything) and every name against the dump's, formula guard applied."""
    records, mismatched = 0, 0
    for ours, theirs in zip_longest(_records(exported, "utf-8-sig", ";"), _records(dumped, "utf-8", ",")):
        if ours is None:
            break
        records += 1
        if records > 1 and (theirs is None or ours[1] != spreadsheet_safe(theirs[1])):
            mismatched += 1
    verdict = "ok" if records == leads + 1 and mismatched == 0 else "WRONG"
    return f"{records:,} records (expected {leads + 1:,}), {mismatched} names differ from the dump: {verdict}"


def check_xlsx(path: Path, leads: int) -> str:
    """A zip holding ceil(N / 1,048,575) sheets whose rows add up to N; read from the XML headers only."""
    if not zipfile.is_zipfile(path):
        return "not a zip file: WRONG"
    with zipfile.ZipFile(path) as workbook:
        sheets = len(re.findall(rb"<sheet ", workbook.read("xl/workbook.xml")))
        rows = 0
        for number in range(1, sheets + 1):
            with workbook.open(f"xl/worksheets/sheet{number}.xml") as sheet:
                dimension = re.search(rb'<dimension ref="[A-Z]+1(?::[A-Z]+(\d+))?"', sheet.read(4096))
            rows += int(dimension.group(1) or 1) - 1 if dimension else 0  # less the header row
    expected = math.ceil(leads / (SHEET_ROWS - 1))
    verdict = "ok" if sheets == expected and rows == leads else "WRONG"
    return f"valid zip, {sheets} sheet(s) (expected {expected}), {rows:,} data rows: {verdict}"


# ------------------------------------------------------------------------------------------ the report


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:,.0f} MB"


def report(leads: int, runs: list[Run]) -> None:
    print(f"{'':28} {'wall s':>8} {'rows/s':>10} {'CPU s':>7} {'peak RSS':>9} {'file':>9}")
    for run in runs:
        print(
            f"{run.label:28} {run.seconds:8.2f} {leads / run.seconds:10,.0f} {run.cpu:7.2f}"
            f" {run.peak_mb:6.0f} MB {_mb(run.output):>9}"
        )
    floor, as_csv, as_xlsx = runs
    ratio = as_csv.seconds / floor.seconds
    verdict = "ok" if ratio <= TIME_TARGET else "ABOVE"
    print(f"CSV time / sqlite3 time: {ratio:.2f}x (target <= {TIME_TARGET:.0f}x): {verdict}")
    print(f"XLSX time / sqlite3 time: {as_xlsx.seconds / floor.seconds:.2f}x (no target)")
    for run in (as_csv, as_xlsx):
        verdict = "ok" if run.peak_mb <= RSS_TARGET_MB else "ABOVE"
        print(f"peak RSS {run.label}: {run.peak_mb:.0f} MB (target <= {RSS_TARGET_MB} MB): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026, help="the random data's seed (same data, same seed)")
    args = parser.parse_args()
    print(f"$ {shlex.join([sys.executable, '-m', 'bench.export', *sys.argv[1:]])}")
    cli_version = subprocess.check_output([SQLITE3, "-version"], text=True).split()[0]
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {sys.version.split()[0]},"
        f" SQLite {sqlite3.sqlite_version} (Python's module) and {cli_version} ({SQLITE3})"
    )
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        directory = Path(scratch)
        database = directory / "leads.sqlite3"
        upgrade_database(f"sqlite+aiosqlite:///{database}")
        started = time.perf_counter()
        counts = seed(database, args.leads, random.Random(args.seed))
        seconds = time.perf_counter() - started
        print(f"seeded in {seconds:.1f} s ({args.leads / seconds:,.0f} leads/s), database {_mb(database)}:")
        print("  " + ", ".join(f"{count:,} {table}" for table, count in counts.items()))
        warm_cache(database)
        runs = [
            dump_with_sqlite3(database, directory),
            export_with_bot(database, directory, "csv"),
            export_with_bot(database, directory, "xlsx"),
        ]
        print()
        report(args.leads, runs)
        print(f"check CSV:  {check_csv(runs[1].output, runs[0].output, args.leads)}")
        print(f"check XLSX: {check_xlsx(runs[2].output, args.leads)}")
        print(f"commands measured (each run under {GNU_TIME} --format=%M for its peak RSS):")
        for run in runs:
            print(f"  {run.command}")


if __name__ == "__main__":
    main()
