"""Retention purge benchmark: 100,000 people past their period erased among 1,000,000, while workers chat.

A migrated database (a SQLite file, and/or a scratch PostgreSQL database made on `--admin-url` and dropped
after) is filled in bulk (executemany on SQLite, COPY on PostgreSQL) with N workers, each with a contact, two
consents, a lead in one of the six stages, one or two lead events, for some a settled reminder or an officer's
pending call, for half a delivery of a broadcast finished 20 days ago (read or delivered), for a few a text
not understood or an audit entry naming them. One worker in ten (worker number n with n % 10 == 0, spread over
the whole id range as quiet people are) is past their period: their lead is in the pool (no officer, so no
warning is owed), a third of them registered or declined over 100 days ago, the others left open over 190
days ago. Everybody else was last in touch within 80 days, and nothing of theirs is old enough for any kind of
the purge: the purge removes exactly the expired people, through HAPUS's path (bot.services.privacy).

Then, in one process and one event loop, as the bot runs it (the leader's daily job beside the conversation):
(a) conversation turns (new workers walking the whole lead path through PTB's Application and the dispatcher,
    with the offline Bot API fake) arriving at a steady rate, `--turns` of them, without a purge (the rate: a
    quarter of what the bot answers back to back, measured in the warm-up, unless `--rate` is given);
(b) the same arrivals while `bot.workers.retention.purge` runs, until it is done.
A turn's latency runs from its arrival, so the time it waits for a purge batch holding the loop (SQLite runs
on the loop's thread) or the database is in it. Prints p50/p99 of both, the ratio of the p99s (target <= 2x),
the purge's time, people/s, and the process's peak RSS during the purge (VmHWM, reset before it). Then checks:
exactly the expired people are gone with all their rows, everyone else is untouched, erased_counts adds up to
the expired people, the campaign kept its delivery counts, and on SQLite the `-wal` file is truncated.

    python -m bench.retention [--leads 1000000] [--expired 100000] [--database sqlite|postgresql|both]
        [--turns 1000] [--rate 0] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--people-batch 50] [--pause 1.0]

`--people-batch` and `--pause` override bot.workers.retention's PEOPLE_BATCH and PAUSE, to try other settings.
Results and their reading: docs/benchmarks.md, "Retention purge".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from telegram import Update
from telegram.ext import Application

from bench.conversation import PATH, next_update
from bot.app import BotApp, create_app
from bot.channels.telegram.channel import build_application
from bot.config import Retention, Settings, normalise_database_url
from bot.content import load_content
from bot.db import session_factory, upgrade_database
from bot.models import LeadStatus, Occupation
from bot.workers import retention as purge_module
from bot.workers.retention import purge
from tests.fakes.telegram import TEST_TOKEN, FakeBotAPI, FakeRequest, FakeUser

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BATCH = 50_000  # workers built and inserted at a time: the seeding's memory stays flat whatever N
OFFICERS = 8  # contacts 1..8 are officers; worker n is contact OFFICERS + n and lead n
FIRST_EXTERNAL = 100_000_000  # workers' Telegram ids (the bench's chatting users start at 700,000,001)
CAMPAIGN = 1
GROUP = 50  # chatting workers walking the path together, step by step
RATIO_TARGET = 2.0
LOAD = 0.25  # turns arrive at a quarter of what the bot answers back to back: a busy bot, not a saturated one
DATABASE = "bpu_bench_retention"
TABLES = ("contacts", "consents", "leads", "lead_events", "followups", "deliveries", "misses", "audit_events")

_OPEN = (LeadStatus.BARU, LeadStatus.DIHUBUNGI, LeadStatus.AKAN_DAFTAR, LeadStatus.TIDAK_BISA_DIHUBUNGI)
_ENDED = (LeadStatus.TERDAFTAR, LeadStatus.TIDAK_TERTARIK)
_STATUSES = (*[LeadStatus.BARU] * 13, *[LeadStatus.DIHUBUNGI] * 2, LeadStatus.AKAN_DAFTAR)
_STATUSES += (*[LeadStatus.TERDAFTAR] * 2, LeadStatus.TIDAK_TERTARIK, LeadStatus.TIDAK_BISA_DIHUBUNGI)
_OCCUPATIONS = tuple(Occupation)
_NAMES = ("Siti Rahayu", "Budi Santoso", "Made Suardana", "Nur'aini", "Agus Siregar", 'Ani "Bu RT" Lestari')
_CALL_TIMES = ("pagi", "siang", "sore", "kapan")

# ---------------------------------------------------------------------------------------------- the data


def _stamp(moment: datetime) -> str:
    """UTC as SQLAlchemy stores it on SQLite; PostgreSQL reads the same text in a UTC session."""
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def is_expired(number: int, leads: int, expired: int) -> bool:
    """Spread evenly over the ids: every (leads // expired)-th worker."""
    return number % (leads // expired) == 0


@dataclass
class Rows:
    """One batch of rows, table by table, in the column order of COLUMNS."""

    tables: dict[str, list[tuple]] = field(default_factory=lambda: {table: [] for table in COLUMNS})


COLUMNS = {
    "contacts": "id, channel, external_id, locale, occupation, role, state, state_data, state_serial, created_at,"
    " last_seen_at",
    "consents": "contact_id, purpose, text_version, granted, decided_at",
    "leads": "id, contact_id, name, phone, occupation, region, call_time, status, channel, locale, officer_id,"
    " created_at, updated_at, last_contact_at",
    "lead_events": "lead_id, from_status, to_status, actor, note, at",
    "followups": "contact_id, lead_id, kind, due_at, status, attempts, officer_id, region, via, receipt, created_at,"
    " updated_at",
    "deliveries": "campaign_id, contact_id, status, not_before, attempts, sent_at, via, receipt, receipt_at",
    "misses": "contact_id, state, text, created_at",
    "audit_events": "at, actor, actor_role, action, subject, allowed, detail, rows",
}


@dataclass
class Seeded:
    """Rows per table, of the people who stay and of the people who go."""

    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    gone: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    deliveries_gone: int = 0


def _worker(rng: random.Random, number: int, expired: bool, regions: tuple[str, ...], version: str, rows: Rows):
    contact = OFFICERS + number
    region = regions[number % len(regions)]
    occupation = _OCCUPATIONS[number % len(_OCCUPATIONS)]
    if expired:  # in the pool, quiet for longer than its period (open 180 days, ended 90)
        ended = number % 3 == 0
        status = _ENDED[number % 2] if ended else _OPEN[number % len(_OPEN)]
        last = NOW - DAY * rng.uniform(100 if ended else 190, 360)
        officer = None
    else:
        status = _STATUSES[number % len(_STATUSES)]
        last = NOW - DAY * rng.uniform(0, 80)
        officer = 1 + number % OFFICERS if rng.random() < 0.7 else None
    created = last - DAY * rng.uniform(0, 60)
    updated = created if status == LeadStatus.BARU else created + (last - created) * rng.random()
    external = str(FIRST_EXTERNAL + number)
    t = rows.tables
    t["contacts"].append(
        (contact, "telegram", external, "id", occupation, None, "main", "{}", 12, _stamp(created), _stamp(last))
    )
    decided = _stamp(created - timedelta(seconds=60))
    t["consents"].append((contact, "lead_contact", version, True, decided))
    t["consents"].append((contact, "reminders", version, True, decided))
    phone = f"+62812{number:08d}"
    t["leads"].append(
        (number, contact, _NAMES[number % len(_NAMES)], phone, occupation, region, _CALL_TIMES[number % 4], status)
        + ("telegram", "id", officer, _stamp(created), _stamp(updated), _stamp(updated))
    )
    t["lead_events"].append((number, None, LeadStatus.BARU, f"telegram:{external}", None, _stamp(created)))
    if status != LeadStatus.BARU:
        actor = f"officer:{officer}" if officer else "admin:telegram:1"
        t["lead_events"].append((number, LeadStatus.BARU, status, actor, "Sudah ditelepon", _stamp(updated)))
    if rng.random() < 0.4:  # the reminder the conversation scheduled, sent before the last contact
        t["followups"].append(
            (contact, number, "reminder", _stamp(last), "sent", 1, None, None, "text", "read")
            + (_stamp(created), _stamp(last))
        )
    if status == LeadStatus.AKAN_DAFTAR and officer:  # the officer checks back on the day the worker said
        due = _stamp(NOW + DAY * rng.uniform(1, 20))
        t["followups"].append(
            (contact, number, "call", due, "pending", 0, officer, region, None, None, _stamp(updated), _stamp(updated))
        )
    if (number // 3) % 2 == 0:  # a recipient of the broadcast that ended 20 days ago
        sent = _stamp(NOW - DAY * 21)
        receipt = "read" if number % 4 else "delivered"
        t["deliveries"].append((CAMPAIGN, contact, "sent", sent, 1, sent, "text", receipt, sent))
    if rng.random() < 0.05 and (expired or last > NOW - DAY * 25):  # texts not understood are kept 30 days
        t["misses"].append((contact, "main", "brp iuran nya bang", _stamp(last)))
    if rng.random() < 0.01:  # an officer opened the lead: the audit entry names the worker
        t["audit_events"].append(
            (_stamp(updated), f"officer:{1 + number % OFFICERS}", "officer", "lead_viewed")
            + (f"telegram:{external}", True, "{}", None)
        )


def _officers(regions: tuple[str, ...]) -> dict[str, list[tuple]]:
    created = _stamp(NOW - DAY * 400)
    return {
        "contacts": [
            (k, "telegram", str(600_000_000 + k), "id", None, "officer", "main", "{}", 3, created, created)
            for k in range(1, OFFICERS + 1)
        ],
        "officers": [(k, k, f"Petugas {k}", f"ptg-bench{k}", 0, created) for k in range(1, OFFICERS + 1)],
        "officer_regions": [(k, regions[(k - 1) % len(regions)]) for k in range(1, OFFICERS + 1)],
        "campaigns": [
            (CAMPAIGN, "admin:telegram:1", "{}", "Iuran BPU mulai Rp16.800", "done", _stamp(NOW - DAY * 22))
            + (_stamp(NOW - DAY * 22), _stamp(NOW - DAY * 20))
        ],
    }


_SETUP_COLUMNS = {
    "contacts": COLUMNS["contacts"],
    "officers": "id, contact_id, name, code, assigned_serial, created_at",
    "officer_regions": "officer_id, region",
    "campaigns": "id, created_by, segment, text_id, status, starts_at, created_at, finished_at",
}


def batches(leads: int, expired: int, seed: int, seeded: Seeded) -> Iterator[dict[str, list[tuple]]]:
    """The officers and the campaign, then the workers BATCH at a time, counting the rows of each side."""
    content = load_content()
    yield _officers(content.regions)
    rng = random.Random(seed)
    for start in range(1, leads + 1, BATCH):
        rows = Rows()
        for number in range(start, min(start + BATCH, leads + 1)):
            before = {table: len(rows.tables[table]) for table in TABLES}
            gone = is_expired(number, leads, expired)
            _worker(rng, number, gone, content.regions, content.consent_version, rows)
            side = seeded.gone if gone else seeded.kept
            for table in TABLES:
                side[table] += len(rows.tables[table]) - before[table]
        yield rows.tables
    seeded.deliveries_gone = seeded.gone["deliveries"]


def _placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def seed_sqlite(path: Path, leads: int, expired: int, seed: int) -> Seeded:
    seeded = Seeded()
    with sqlite3.connect(path) as connection:
        connection.execute("pragma synchronous = off")  # a benchmark's scratch file: no need to survive a crash
        for number, tables in enumerate(batches(leads, expired, seed, seeded)):
            columns = _SETUP_COLUMNS if number == 0 else COLUMNS
            for table, rows in tables.items():
                names = columns[table]
                connection.executemany(f"insert into {table} ({names}) values ({_placeholders(names)})", rows)
        connection.commit()  # no ANALYZE: the bot never runs it, so its planner works without statistics
    with sqlite3.connect(path) as connection:  # fold the WAL into the file: the purge starts from a clean file
        connection.execute("pragma wal_checkpoint(truncate)")
    return seeded


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def seed_postgresql(url: str, leads: int, expired: int, seed: int) -> Seeded:
    seeded = Seeded()
    with psycopg.connect(_libpq(url), options="-c timezone=UTC") as connection:
        for number, tables in enumerate(batches(leads, expired, seed, seeded)):
            columns = _SETUP_COLUMNS if number == 0 else COLUMNS
            with connection.cursor() as cursor:
                for table, rows in tables.items():
                    with cursor.copy(f"copy {table} ({columns[table]}) from stdin") as copy:
                        for row in rows:
                            copy.write_row(row)
            connection.commit()
        for table in ("contacts", "leads", "officers", "campaigns"):  # ids given: the sequences must follow
            connection.execute(f"select setval(pg_get_serial_sequence('{table}', 'id'), (select max(id) from {table}))")
        connection.commit()
        connection.autocommit = True
        connection.execute("vacuum analyze")  # as autovacuum would have left a database that has run a while
    return seeded


# -------------------------------------------------------------------------------------- the conversation


def offline_bot(database_url: str) -> tuple[BotApp, FakeBotAPI, Application]:
    """The bot on the database, answering through PTB's Application to the in-memory Bot API fake, unpaced; its
    clock is NOW, so the chatting workers are never the purge's."""
    settings = Settings(database_url=database_url, telegram_token=TEST_TOKEN, operator_name="Bench")
    app = create_app(settings, clock=lambda: NOW)
    api = FakeBotAPI()
    api.queue_updates = False
    return app, api, build_application(app, request=FakeRequest(api), rate_limited=False)


def _updates(api: FakeBotAPI) -> Iterator[tuple[FakeUser, str, str]]:
    """Groups of new workers walking the whole path, step by step, for as long as they are asked for."""
    while True:
        users = [FakeUser(api) for _ in range(GROUP)]
        for kind, value in PATH:
            for user in users:
                yield user, kind, value
        api.forget_history()


async def drive(
    application: Application, api: FakeBotAPI, steps: Iterator, rate: float, until: Callable[[int], bool]
) -> list[float]:  # fmt: skip
    """Turns arriving every 1/rate s until `until(turns done)`; each one's latency counted from its arrival,
    so the time it waited behind the purge is in it. Turns already late are taken one after the other, as
    PTB takes the updates waiting in its queue; the purge has the loop while no turn is waiting."""
    latencies: list[float] = []
    started = time.perf_counter()
    interval = 1 / rate
    while not until(len(latencies)):
        user, kind, value = next(steps)
        update = Update.de_json(next_update(api, user, kind, value), application.bot)
        arrival = started + len(latencies) * interval
        if (wait := arrival - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await application.process_update(update)
        latencies.append(time.perf_counter() - arrival)
    return latencies


def _peak_rss_reset() -> None:
    """The process's peak RSS (VmHWM) back to its current RSS (Linux >= 4.0), so the peak read later is the
    purge's own, not the seeding's."""
    Path("/proc/self/clear_refs").write_text("5")


def _rss(field_name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field_name} in /proc/self/status")


@dataclass
class Measured:
    without: list[float]
    during: list[float]
    removed: dict[str, int]
    seconds: float
    rss_before: float
    rss_peak: float
    batch_gaps: list[float]  # seconds between two batches' ends: the slowest tells the longest hold
    checkpoints: list[float]  # seconds of each WAL checkpoint after a batch
    rate: float  # turns arriving per second
    longest: dict[str, float]  # kind -> the longest single query finding (or deleting) its next batch


async def measure(database_url: str, turns: int, rate: float) -> Measured:
    app, api, application = offline_bot(database_url)
    sessions = session_factory(app.engine)
    steps = _updates(api)
    async with application:
        # Warm (imports, caches, the pool), back to back; the second half's throughput sets the arrival rate.
        await drive(application, api, steps, 1e9, lambda done: done >= GROUP * 2)
        began = time.perf_counter()
        await drive(application, api, steps, 1e9, lambda done: done >= GROUP * 2)
        if not rate:
            rate = LOAD * GROUP * 2 / (time.perf_counter() - began)
        without = await drive(application, api, steps, rate, lambda done: done >= turns)
        gaps: list[float] = []
        last = [time.perf_counter()]

        def progress(_kind: str, _went: int) -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        checkpoints: list[float] = []
        finish = sessions.finish_erasure

        async def timed_finish() -> None:  # the checkpoint also holds the loop: how long, apart
            began = time.perf_counter()
            await finish()
            checkpoints.append(time.perf_counter() - began)

        sessions.finish_erasure = timed_finish  # type: ignore[method-assign]
        longest: dict[str, float] = {}  # the longest query of each kind (the next batch, or rows deleted)

        def timed(find: Callable) -> Callable:
            async def call(session, kind, *rest):
                began = time.perf_counter()
                found = await find(session, kind, *rest)
                longest[kind] = max(longest.get(kind, 0.0), time.perf_counter() - began)
                return found

            return call

        originals = purge_module.expired_people, purge_module.delete_expired_rows
        purge_module.expired_people, purge_module.delete_expired_rows = map(timed, originals)  # type: ignore[assignment]
        _peak_rss_reset()
        rss_before = _rss("VmRSS")
        started = time.perf_counter()
        purging = asyncio.create_task(purge(sessions, Retention(), NOW, progress))
        during = await drive(application, api, steps, rate, lambda _done: purging.done())
        removed = await purging
        purge_module.expired_people, purge_module.delete_expired_rows = originals
        seconds = time.perf_counter() - started
        rss_peak = _rss("VmHWM")
    await app.close()
    return Measured(without, during, removed, seconds, rss_before, rss_peak, gaps, checkpoints, rate, longest)


# ------------------------------------------------------------------------------------------ the checking


class Client:
    """A plain client on the benchmark's database, `?` placeholders on both."""

    def __init__(self, kind: str, target: str):
        self.kind, self.target = kind, target

    def rows(self, sql: str) -> list[tuple]:
        if self.kind == "sqlite":
            with sqlite3.connect(self.target) as connection:
                return connection.execute(sql).fetchall()
        with psycopg.connect(_libpq(self.target)) as connection:
            return connection.execute(sql).fetchall()


def _owner(table: str) -> str:
    """The worker number a table's row belongs to, as SQL."""
    if table == "contacts":
        return f"(id - {OFFICERS})"
    if table == "leads":
        return "id"
    if table == "lead_events":
        return "lead_id"
    if table == "audit_events":
        return f"(cast(substr(subject, 10) as bigint) - {FIRST_EXTERNAL})"
    return f"(contact_id - {OFFICERS})"


def check(client: Client, seeded: Seeded, leads: int, expired: int, removed: dict[str, int]) -> list[str]:
    """Every table's rows of the seeded workers, kept and gone, against what the seeding wrote; then the
    anonymous counts the erasure leaves."""
    problems = []
    every = leads // expired
    for table in TABLES:
        owner = _owner(table)
        workers = f"{owner} between 1 and {leads}"
        if table == "audit_events":
            workers = f"subject like 'telegram:1%' and length(subject) = 18 and {owner} between 1 and {leads}"
        if table == "contacts":
            workers += " and role is null"
        kept, gone = client.rows(
            f"select coalesce(sum(case when {owner} % {every} = 0 then 0 else 1 end), 0),"
            f" coalesce(sum(case when {owner} % {every} = 0 then 1 else 0 end), 0) from {table} where {workers}"
        )[0]
        if table == "audit_events":  # an erased worker's entries stay, naming nobody
            erased = client.rows("select count(*) from audit_events where subject = 'erased'")[0][0]
            if erased != seeded.gone[table]:
                problems.append(f"audit_events: {erased} entries made anonymous, expected {seeded.gone[table]}")
        if (kept, gone) != (seeded.kept[table], 0):
            problems.append(f"{table}: {kept} kept (expected {seeded.kept[table]}), {gone} of the expired left")
    erased = client.rows("select coalesce(sum(count), 0) from erased_counts where reason = 'retention'")[0][0]
    if erased != expired:
        problems.append(f"erased_counts add up to {erased}, expected {expired}")
    if sum(removed[kind] for kind in ("open_lead", "ended_lead", "chat")) != expired:
        problems.append(f"the purge says it removed {removed}, expected {expired} people")
    if any(count for kind, count in removed.items() if kind not in ("open_lead", "ended_lead", "chat")):
        problems.append(f"the purge removed rows by age where none were old enough: {removed}")
    kept_json = client.rows(f"select kept from campaigns where id = {CAMPAIGN}")[0][0]
    kept = json.loads(kept_json) if isinstance(kept_json, str) else (kept_json or {})
    if kept.get("sent", 0) != seeded.deliveries_gone:
        problems.append(f"the campaign kept {kept}, expected sent={seeded.deliveries_gone}")
    return problems


# ------------------------------------------------------------------------------------------ the report


def _ms(latencies: list[float], q: int) -> float:
    return statistics.quantiles(latencies, n=100)[q - 1] * 1000


def report(name: str, leads: int, expired: int, seeding: float, measured: Measured, wal: str | None) -> bool:
    without, during = measured.without, measured.during
    ratio = _ms(during, 99) / _ms(without, 99)
    people = sum(measured.removed[kind] for kind in ("open_lead", "ended_lead", "chat"))
    gaps = sorted(measured.batch_gaps)
    print(
        f"{name}: seeded {leads:,} workers in {seeding:.0f} s; purge of {expired:,} people"
        f" in batches of {purge_module.PEOPLE_BATCH}, pausing {purge_module.PAUSE:g}x a batch's time after it"
    )
    print(f"  turns arriving at {measured.rate:.0f}/s, new workers walking the lead path in groups of {GROUP}")
    for label, latencies in (("turns without a purge", without), ("turns during the purge", during)):
        print(
            f"  {label:<24} {len(latencies):>6,}  p50 {_ms(latencies, 50):7.2f} ms  p99 {_ms(latencies, 99):8.2f} ms"
            f"  max {max(latencies) * 1000:8.1f} ms"
        )
    verdict = "ok" if ratio <= RATIO_TARGET else "ABOVE"
    print(f"  p99 during / without: {ratio:.2f}x (target <= {RATIO_TARGET:.0f}x): {verdict}")
    print(
        f"  purge: {measured.seconds:.1f} s, {people / measured.seconds:,.0f} people/s, {len(gaps)} batches"
        f" (between two batches' ends: median {statistics.median(gaps) * 1000:.1f} ms, max {gaps[-1] * 1000:.0f} ms)"
    )
    if measured.checkpoints:
        held = sorted(measured.checkpoints)
        print(
            f"  checkpoints: {len(held)}, median {statistics.median(held) * 1000:.1f} ms, max {held[-1] * 1000:.0f} ms"
        )
    slowest = ", ".join(f"{kind} {seconds * 1000:.0f}" for kind, seconds in measured.longest.items())
    print(f"  longest query of each kind, ms: {slowest}")
    print(f"  RSS {measured.rss_before:.0f} MB before the purge, peak {measured.rss_peak:.0f} MB during it")
    if wal is not None:
        print(f"  {wal}")
    return ratio <= RATIO_TARGET


def run_sqlite(args: argparse.Namespace, directory: Path) -> bool:
    path = directory / "retention.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url)
    started = time.perf_counter()
    seeded = seed_sqlite(path, args.leads, args.expired, args.seed)
    seeding = time.perf_counter() - started
    measured = asyncio.run(measure(url, args.turns, args.rate))
    wal = Path(f"{path}-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    problems = check(Client("sqlite", str(path)), seeded, args.leads, args.expired, measured.removed)
    if wal_size > 4 * 1024 * 1024:  # after the last checkpoint(TRUNCATE) only the turns since have written
        problems.append(f"the -wal file holds {wal_size:,} bytes after the purge")
    ok = report("SQLite", args.leads, args.expired, seeding, measured, f"-wal after the purge: {wal_size:,} bytes")
    return _verdict(problems) and ok


def run_postgresql(args: argparse.Namespace) -> bool:
    admin = _libpq(args.admin_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"drop database if exists {DATABASE} with (force)")
        connection.execute(f"create database {DATABASE}")
    head, _, rest = admin.partition("://")
    authority = rest.partition("/")[0]
    url = normalise_database_url(f"postgresql://{authority}/{DATABASE}")
    try:
        upgrade_database(url)
        started = time.perf_counter()
        seeded = seed_postgresql(url, args.leads, args.expired, args.seed)
        seeding = time.perf_counter() - started
        measured = asyncio.run(measure(url, args.turns, args.rate))
        problems = check(Client("postgresql", url), seeded, args.leads, args.expired, measured.removed)
        ok = report("PostgreSQL", args.leads, args.expired, seeding, measured, None)
        return _verdict(problems) and ok
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"drop database if exists {DATABASE} with (force)")


def _verdict(problems: list[str]) -> bool:
    if problems:
        print("  check: WRONG\n" + "\n".join(f"    {problem}" for problem in problems))
        return False
    print("  check: exactly the expired people gone with all their rows, the others untouched, counts kept: ok")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--expired", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--turns", type=int, default=1000, help="turns measured without a purge")
    parser.add_argument("--rate", type=float, default=0, help="turns arriving per second (0: a quarter of the"
                        " bot's throughput measured in the warm-up)")  # fmt: skip
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--people-batch", type=int, default=purge_module.PEOPLE_BATCH, help="people a transaction")
    parser.add_argument("--pause", type=float, default=purge_module.PAUSE, help="pause after a batch, x its time")
    args = parser.parse_args()
    purge_module.PEOPLE_BATCH, purge_module.PAUSE = args.people_batch, args.pause  # to try other settings
    if args.leads % args.expired:
        raise SystemExit("--expired must divide --leads (one worker in leads/expired is past their period)")
    print(f"$ {shlex.join([sys.executable, '-m', 'bench.retention', *sys.argv[1:]])}")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {sys.version.split()[0]},"
        f" SQLite {sqlite3.sqlite_version}"
    )
    ok = True
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-retention-") as directory:
            ok = run_sqlite(args, Path(directory)) and ok
    if args.database in ("postgresql", "both"):
        ok = run_postgresql(args) and ok
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
