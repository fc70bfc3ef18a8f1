"""Soak test: `bpu-bot run` under steady webhook load for many minutes, watched for what grows.

    python -m bench.soak [--minutes 30] [--rate 20] [--people 40] [--database-url URL] [--no-telegram]
        [--interval 60] [--seed 0] [--keep]

Real parts: `python -m bot run` as a process of its own, unchanged, on a fresh SQLite file in a temporary folder
(`bpu-bot db upgrade` first; `--database-url` runs it on a database of yours instead, e.g. PostgreSQL: it is
migrated, not emptied), serving on 127.0.0.1 both WhatsApp's webhook (every POST signed with the app secret, the
Graph API pointed at the fake of `tests/fakes/whatsapp.py`) and Telegram's in webhook mode (the Bot API pointed at
the fake of `tests/fakes/telegram.py`, where the bot sets its webhook at start-up; the updates are posted by this
benchmark with the secret token, not by the fake, which would keep every update it delivered). Both fakes are
served over HTTP by this process, which is also the load generator (asyncio and aiohttp, keep-alive).

The load, for `--minutes`:

* People start conversations all the time, `--people` at once, alternating WhatsApp and Telegram, each walking
  a lead capture: the start ("halo" on WhatsApp, /start on Telegram), an occupation, for some a typed question
  and the calculator, "Saya tertarik", consent (one in ten declines and stops there), reminders, the name, the
  phone (taken from WhatsApp, typed by a WhatsApp user who hides their number, shared as a contact on
  Telegram), the kabupaten/kota, the call time, and save. Every tap uses the button id or callback data the bot
  sent, read from the fake's record; each step waits for the bot's answer to show what the next one needs (a
  WhatsApp answer arrives after the 200, a Telegram one before it); one that has not come within 30 s leaves
  the conversation "stuck", and what it got instead is reported. Steps are paced to `--rate` a second in all.
  Family names are made of syllables, so that the bot meets many different typed words, as it does in service.
* Status callbacks: every second, the sent/delivered/read statuses the Graph API fake queued for the messages it
  took (replies and broadcasts alike) are posted, signed, one status a request.
* Broadcasts: `bpu-bot broadcast create --segment "" --button interest --no-wait` as a process of its own at 30%
  and 70% of the run (to everyone who agreed to messages so far; the running bot sends them).
* Exports: `bpu-bot export leads` as a process of its own at 50% (CSV) and 85% (Excel) of the run.

Every `--interval` seconds (a minute; less for a quick try) one line: the bot process's RSS (VmRSS), open files
(/proc/PID/fd), database connections (SQLite: its descriptors on the -wal file, one a connection, and all its
descriptors on the database file and its -wal/-shm/-journal; PostgreSQL: the database's sessions in
pg_stat_activity but this benchmark's), threads, its CPU, the requests posted and the answers other than 200,
the replies the fakes took, the status callbacks posted, the conversations that saved a lead and those stuck,
the stored WhatsApp events not yet processed, p99 latencies, the row counts of the main tables, and this
process's own RSS. The generator keeps no record of past messages: the fakes are trimmed every few seconds to
the conversations in progress; what stays is a few ids per person (their open chat, their 24-hour window),
about 2 KB a person.

At the end: the RSS growth from minute 5 (or, in a run shorter than 6 minutes, minute 1) to the last minute
(bar: <= 10%); whether open files (by kind: sockets by their other end, the database's files...), connections
and threads grew; how the bot answered SIGTERM; the lines of its stderr (kept in `bot-stderr.log` in the work
folder) that contain "Traceback", its ERROR and most frequent WARNING lines; anything the load met (answers other
than 200, stuck conversations, failed commands); and the campaigns' deliveries and receipts as the database has
them. It exits 0 whatever the figures: a benchmark that prints them, not a test. The work folder is removed unless
`--keep` is given or the log holds a Traceback.

Figures on this machine (2 cores, SQLite), `--minutes 30`, 2026-12-07, after the fixes below: 100,732 requests
(36,000 steps, 64,731 status callbacks), all answered 200; 3,395 people, 2,997 leads, 0 stuck; two campaigns of
915 and 2,114, done; RSS 223.4 MB at minute 5 -> 233.4 MB at minute 30 (+4.5%, a slowing 0.3-0.4 MB a minute:
SQLite's page caches, 2 MB per connection at most, filling as the file grew to 10 MB); threads 3 throughout; the
bot's CPU 27-44% of a core (53% in the minute of the second campaign); 0 Traceback, 0 ERROR. The first campaign
took the SQLite connections from 3 to 5 (the pool's, kept open after; their descriptors from 7 to 14), and they
stayed there through the second; the other descriptors that grew are this generator's keep-alive sockets. The
first 30-minute run found two defects, since fixed: 24 people (0.7%) stuck because a family name such as
"Rasantri" was read at the name step as "nanti" ("later"), which cancelled the lead capture, and Sastrawi's
stemmer cache keeping every word ever typed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import AsyncExitStack, closing, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.webhook import cpu_seconds, healthy
from tests.fakes.telegram import TEST_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeBotAPI, FakeBotAPIServer, FakeUser, SentMessage
from tests.fakes.whatsapp import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    FakeGraphServer,
    FakeWhatsAppAPI,
    FakeWhatsAppUser,
    SentWhatsApp,
    signed_post_args,
)
from tests.fakes.whatsapp import TEST_TOKEN as WHATSAPP_TOKEN
from tests.process import PYTHON, ROOT, BotProcess, free_port

TELEGRAM_SECRET = "bench-soak-secret_0123456789abcdef"
TELEGRAM_PATH = "/webhook/telegram"
WHATSAPP_PATH = "/webhook/whatsapp"
# The approved templates the Graph API fake knows (name -> {language: body parameters}), and the bot's settings.
TEMPLATES = {"bpu_pengingat": {"id": 1, "en": 1}, "bpu_siaran": {"id": 1, "en": 1}}
BROADCAST_TEXT = "Sosialisasi BPU di balai desa, Sabtu pukul 09.00. Iuran mulai Rp16.800 per bulan."
STARTUP_TIMEOUT = 60.0
REPLY_TIMEOUT = 30.0  # a step whose answer has not come by then leaves the conversation stuck
REQUEST_TIMEOUT = 30.0
CLI_TIMEOUT = 300.0
BROADCAST_TRIES = 6
BROADCAST_RETRY_SECONDS = 5.0
DRAIN_TIMEOUT = 60.0  # after the load, for the stored WhatsApp events to be processed
TRIM_SECONDS = 5.0
STATUS_SECONDS = 1.0
STATUS_CONNECTIONS = 8
RSS_BAR = 0.10
BASELINE_MINUTE = 5
FIRST_TELEGRAM_USER = 820_000_000
PROBLEMS_KEPT = 8

OCCUPATIONS = ("Petani", "Nelayan", "Pedagang", "Sopir", "ojol", "Lainnya")
REGIONS = ("Kota Bengkulu", "Bengkulu Selatan", "Kaur", "Kepahiang", "Mukomuko", "Seluma")
CALL_TIMES = ("Pagi", "Siang", "Sore", "Kapan saja")
FIRST_NAMES = ("Budi", "Siti", "Agus", "Dewi", "Rahmat", "Yanti", "Hendra", "Nur", "Joko", "Sri", "Andi", "Wati")
# Family names made of syllables: many different words typed, as real names are (the bot's word caches fill up).
SYLLABLES = ("ra", "di", "san", "to", "wi", "ja", "ya", "na", "su", "ti", "har", "les", "pu", "tri", "hi", "dat")
# (action, when as a share of the run)
SCHEDULE = (("broadcast", 0.30), ("export csv", 0.50), ("broadcast", 0.70), ("export xlsx", 0.85))
TABLES = ("contacts", "leads", "followups", "deliveries", "processed_updates", "webhook_events", "audit_events")


# ------------------------------------------------------------------------------------------ the fakes


class _Inboxes:
    """Both fakes' inboxes, one per conversation in progress (a WhatsApp user id, a Telegram chat id), under the
    fake's own lock."""

    _cond: threading.Condition
    inboxes: dict[Any, list[Any]]

    def watch(self, key: Any) -> list[Any]:
        with self._cond:
            return self.inboxes.setdefault(key, [])

    def unwatch(self, key: Any) -> None:
        with self._cond:
            self.inboxes.pop(key, None)


class SoakGraphAPI(_Inboxes, FakeWhatsAppAPI):
    """The Graph API fake, keeping the messages of the conversations in progress only (`watch`), in an inbox per
    person, and nothing else once `trim` has run: a soak of hours must not measure the fake's memory."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.inboxes: dict[str, list[SentWhatsApp]] = {}
        self.accepted = 0

    def _accept(self, recipient, user_id, phone, content, callback_data, payload) -> SentWhatsApp:
        sent = super()._accept(recipient, user_id, phone, content, callback_data, payload)
        self.accepted += 1
        if (inbox := self.inboxes.get(sent.user_id or "")) is not None:
            inbox.append(sent)
        return sent

    def trim(self) -> None:
        """Drop the fake's own record: calls, messages, transcript, arrival times (queued statuses stay)."""
        with self._cond:
            self._sent.clear()
            self._calls.clear()
            self._transcript.clear()
            self._accepted_times.clear()


class SoakBotAPI(_Inboxes, FakeBotAPI):
    """The Bot API fake, likewise: an inbox per chat in progress; `trim` keeps only those chats' messages (they
    may still be tapped or edited)."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.queue_updates = False  # the benchmark posts the updates to the webhook itself
        self.inboxes: dict[int, list[SentMessage]] = {}
        self.stored = 0

    def _store_bot_message(self, chat_id, message, reply_markup) -> SentMessage:
        sent = super()._store_bot_message(chat_id, message, reply_markup)
        self.stored += 1
        if (inbox := self.inboxes.get(chat_id)) is not None:
            inbox.append(sent)
        return sent

    def trim(self) -> None:
        with self._cond:
            self.calls.clear()
            self._transcript.clear()
            self._sent.clear()
            self._messages = {key: sent for key, sent in self._messages.items() if key[0] in self.inboxes}
            del self._message_times[:]


# ------------------------------------------------------------------------------------------ the conversations


@dataclass(frozen=True)
class Step:
    """What a person does (`kind`: text, tap, command, contact; `value`), and `expect`: what the bot's answer
    must show (in a message's text or a button's title) before the next step is taken."""

    kind: str
    value: str
    expect: str


def conversation(channel: str, rng: random.Random, name: str, phone: str | None, typed_phone: str) -> list[Step]:
    """A lead capture, with its detours and ending chosen by `rng`."""
    occupation = rng.choice(OCCUPATIONS)
    start = Step("text", "halo", occupation) if channel == "whatsapp" else Step("command", "start", occupation)
    steps = [start]
    detour = rng.randrange(3)  # straight to interest, the calculator, or a typed question then the calculator
    if detour == 0:
        steps.append(Step("tap", occupation, "Saya tertarik"))
    else:
        steps.append(Step("tap", occupation, "Hitung iuran"))
        if detour == 2:
            steps.append(Step("text", "brp iurannya", "Hitung iuran"))
        steps += [Step("tap", "Hitung iuran", "Rp2.000.000"), Step("tap", "Rp2.000.000", "Saya tertarik")]
    steps.append(Step("tap", "Saya tertarik", "Setuju"))
    if rng.random() < 0.1:
        return [*steps, Step("tap", "Tidak setuju", "tidak ada data yang dicatat")]
    region, call_time = rng.choice(REGIONS), rng.choice(CALL_TIMES)
    steps += [Step("tap", "Setuju", "Boleh"), Step("tap", "Boleh", "Siapa nama Anda")]
    if channel == "telegram":
        steps += [Step("text", name, "Nomor HP berapa"), Step("contact", phone or typed_phone, region)]
    elif phone is None:
        steps += [Step("text", name, "Nomor HP berapa"), Step("text", typed_phone, region)]
    else:
        steps.append(Step("text", name, region))
    return [
        *steps,
        Step("tap", region, call_time),
        Step("tap", call_time, "Benar, simpan"),
        Step("tap", "Benar, simpan", f"Terima kasih, {name}"),
    ]


def _shows(message: SentWhatsApp | SentMessage, fragment: str) -> bool:
    return fragment in message.text or any(fragment in title for title in _titles(message))


def _titles(message: SentWhatsApp | SentMessage) -> list[str]:
    if isinstance(message, SentWhatsApp):
        return message.titles
    return message.labels + [label for row in message.keyboard for label in row]


class Stuck(Exception):
    """A conversation that cannot go on: what happened, for the report."""


@dataclass
class Stats:
    posted: Counter = field(default_factory=Counter)  # by channel
    answers: Counter = field(default_factory=Counter)  # HTTP status or error name
    statuses: int = 0  # status callbacks posted
    steps: int = 0
    started: int = 0
    leads: int = 0
    declined: int = 0
    stuck: int = 0
    problems: list[str] = field(default_factory=list)
    problem_kinds: Counter = field(default_factory=Counter)
    fakes: list = field(default_factory=list)  # the platform fakes, which count the bot's replies
    # Latencies (seconds) since the last sample: webhook POSTs by channel, and step to answer.
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"whatsapp": [], "telegram": [], "reply": []})

    @property
    def replies(self) -> int:
        return sum(fake.accepted if isinstance(fake, SoakGraphAPI) else fake.stored for fake in self.fakes)

    def problem(self, kind: str, detail: str) -> None:
        self.problem_kinds[kind] += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(f"{kind}: {detail}")


class Pacer:
    """Hands out steps evenly spaced, `rate` a second over all conversations, to whichever asks next."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class Load:
    """What the conversations share: where to post, the fakes, the pace, the counts."""

    session: aiohttp.ClientSession
    base: str
    graph: SoakGraphAPI
    telegram: SoakBotAPI | None
    pacer: Pacer
    stats: Stats
    rng: random.Random

    async def post(self, channel: str, body: bytes, headers: dict[str, str]) -> int | None:
        path = WHATSAPP_PATH if channel in ("whatsapp", "status") else TELEGRAM_PATH
        started = time.perf_counter()
        answer: int | None = None
        try:
            async with self.session.post(self.base + path, data=body, headers=headers) as response:
                await response.read()
                answer = response.status
                self.stats.answers[str(answer)] += 1
        except (aiohttp.ClientError, TimeoutError) as error:
            self.stats.answers[type(error).__name__] += 1
        self.stats.posted[channel] += 1
        self.stats.latencies["telegram" if channel == "telegram" else "whatsapp"].append(time.perf_counter() - started)
        return answer

    async def person(self, number: int) -> None:
        """One person's whole conversation, on WhatsApp (even numbers) or Telegram (odd), when it has both."""
        channel = "telegram" if self.telegram is not None and number % 2 else "whatsapp"
        family = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 4)))
        name = f"{self.rng.choice(FIRST_NAMES)} {family.capitalize()}"
        typed_phone = f"0857{number:08d}"
        self.stats.started += 1
        if channel == "whatsapp":
            hides_phone = number % 8 == 0  # a username instead of a visible number
            phone = None if hides_phone else f"62812{number:08d}"
            user = FakeWhatsAppUser(
                self.graph, phone=phone, name=name, username=f"pekerja{number}" if hides_phone else None
            )
            key, api = user.user_id, self.graph
        else:
            phone = f"+62813{number:08d}"
            user = FakeUser(self.telegram, user_id=FIRST_TELEGRAM_USER + number, first_name=name.split()[0])
            key, api = user.user_id, self.telegram
        inbox = api.watch(key)
        steps = conversation(channel, self.rng, name, phone, typed_phone)
        try:
            for step in steps:
                await self.pacer.wait()
                await self.step(channel, user, inbox, step)
                self.stats.steps += 1
            if steps[-1].value == "Tidak setuju":
                self.stats.declined += 1
            else:
                self.stats.leads += 1
        except Stuck as stuck:
            self.stats.stuck += 1
            kind, _, detail = str(stuck).partition(": ")
            self.stats.problem(kind, f"{channel} person {number}, {detail}")
        finally:
            api.unwatch(key)

    async def step(self, channel: str, user, inbox: list, step: Step) -> None:
        payload = self.payload(channel, user, inbox, step)
        before = len(inbox)
        started = time.perf_counter()
        if channel == "whatsapp":
            status = await self.post(channel, *signed_post_args(payload))
        else:
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
            status = await self.post(channel, json.dumps(payload).encode(), headers)
        if status != 200:
            raise Stuck(f"answered {status}: at {step.kind} {step.value!r}")
        deadline = time.monotonic() + REPLY_TIMEOUT
        while not any(_shows(message, step.expect) for message in inbox[before:]):
            if time.monotonic() > deadline:
                shown = [(m.text[:50], _titles(m)) for m in inbox[before:]][-3:]
                raise Stuck(f"no answer in time: after {step.kind} {step.value!r}, {step.expect!r} not shown; "
                            f"got {shown}")  # fmt: skip
            await asyncio.sleep(0.02)
        self.stats.latencies["reply"].append(time.perf_counter() - started)

    @staticmethod
    def payload(channel: str, user, inbox: list, step: Step) -> dict:
        if step.kind == "text":
            return user.text(step.value) if channel == "whatsapp" else user.send_text(step.value)
        if step.kind == "command":
            return user.send_command(step.value)
        if step.kind == "contact":
            return user.share_contact(step.value)
        # A tap on the newest message that has the button.
        for message in reversed(inbox):
            matches = [title for title in _titles(message) if step.value in title]
            if not matches:
                continue
            try:
                if channel == "whatsapp":
                    return user.tap(step.value, message)
                data = next(data for row in message.buttons for label, data in row if step.value in label)
                return user.tap(data, message_id=message.message_id)
            except (AssertionError, LookupError, StopIteration, ValueError) as error:
                raise Stuck(f"cannot tap: {step.value!r} ({type(error).__name__}: {str(error)[:120]})") from None
        raise Stuck(f"cannot tap: no message with {step.value!r}")

    async def people(self, first: int, every: int) -> None:
        """One place in the crowd: a new person as soon as the last one is done."""
        number = first
        while True:
            try:
                await self.person(number)
            except Exception as error:  # a fault of the generator's: counted, and the load goes on
                self.stats.problem("generator error", f"{type(error).__name__}: {error}")
            number += every

    async def statuses(self) -> None:
        """Every second, the status callbacks the Graph API fake queued, as Meta posts them."""
        gate = asyncio.Semaphore(STATUS_CONNECTIONS)

        async def post(body: dict) -> None:
            async with gate:
                await self.post("status", *signed_post_args(body))
                self.stats.statuses += 1

        while True:
            await asyncio.sleep(STATUS_SECONDS)
            await asyncio.gather(*(post(body) for body in self.graph.take_statuses()))


# ------------------------------------------------------------------------------------------ the process watched


@dataclass(frozen=True)
class Database:
    url: str  # as DATABASE_URL is written
    sqlite: Path | None  # the file, for SQLite

    @classmethod
    def from_url(cls, url: str) -> Database:
        if url.startswith("sqlite"):
            path = Path(url.partition(":///")[2]).expanduser()
            path = path if path.is_absolute() else Path.cwd() / path
            return cls(f"sqlite:///{path}", path)
        return cls(url, None)

    @property
    def name(self) -> str:
        return str(self.sqlite) if self.sqlite else urlsplit(self.url).path.lstrip("/")

    def query(self, sql: str, *params: object) -> list[tuple]:
        """Rows of one query, on a connection of its own, closed after (`?` placeholders, SQLite's)."""
        if self.sqlite is not None:
            with closing(sqlite3.connect(self.sqlite, timeout=10)) as connection:
                return connection.execute(sql, params).fetchall()
        import psycopg  # the test extras' PostgreSQL client

        libpq = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", self.url)
        with psycopg.connect(libpq, autocommit=True) as connection:
            return connection.execute(sql.replace("?", "%s"), params).fetchall()

    def rows(self) -> dict[str, int]:
        """Row counts of the main tables."""
        return dict(self.query(" union all ".join(f"select '{table}', count(*) from {table}" for table in TABLES)))

    def sessions(self) -> int:
        """PostgreSQL: the database's sessions but this one (the bot's, and a command's while it runs)."""
        query = "select count(*) from pg_stat_activity where datname = ? and pid <> pg_backend_pid()"
        return self.query(query, self.name)[0][0]


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load began
    cpu: float  # the bot's CPU seconds so far
    rss_mb: float
    fds: int
    db_fds: int | None  # SQLite: descriptors on the database file and its -wal/-shm/-journal
    # SQLite: open connections, each holding the -wal file (WAL mode), else the database file; PostgreSQL: sessions.
    connections: int
    threads: int
    own_rss_mb: float  # this process: the fakes and the generator
    fd_kinds: Counter  # sockets, pipes, anon_inode:[eventpoll]..., files by path


def _tcp(pid: int) -> dict[str, tuple[int, int, str]]:
    """TCP sockets as `socket:[inode]` -> (local port, remote port, state), from the process's /proc/PID/net."""
    found = {}
    for table in ("tcp", "tcp6"):
        with suppress(OSError):
            for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = row.split()
                local, remote = (int(address.rpartition(":")[2], 16) for address in fields[1:3])
                found[f"socket:[{fields[9]}]"] = (local, remote, fields[3])
    return found


def _fd_kind(target: str, tcp: dict[str, tuple[int, int, str]], web_port: int, peers: dict[int, str]) -> str:
    """What a descriptor is: a TCP socket by its other end, a pipe, anon_inode:[...], a file under /dev, or a
    file's name (the database, the log)."""
    if target.startswith("socket:"):
        if target not in tcp:
            return "socket (not TCP)"
        local, remote, state = tcp[target]
        if state == "0A":
            return "socket listening"
        if local == web_port:
            return "socket from a webhook client"
        return f"socket to {peers.get(remote, f'port {remote}')}"
    if target.startswith("pipe:"):
        return "pipe"
    return Path(target).name if target.startswith("/") and not target.startswith("/dev/") else target


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _fd_targets(pid: int) -> list[str]:
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with suppress(OSError):  # closed meanwhile
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return targets


def sample(pid: int, database: Database, at: float, web_port: int, peers: dict[int, str]) -> Sample:
    """The bot's figures now; `peers` names the servers it talks to by port, `web_port` is its own."""
    targets, tcp = _fd_targets(pid), _tcp(pid)
    if database.sqlite is not None:
        # A connection holds the database file and, in WAL mode, the -wal file. The database file's descriptors
        # also count closed connections': SQLite keeps a closed connection's descriptor while another connection
        # of the process holds a lock on the file (closing it would drop the process's POSIX locks) and gives it
        # to the next connection it opens. So connections are counted by the -wal file when there is one.
        main = str(database.sqlite.resolve())
        db_fds = sum(1 for target in targets if target == main or target.startswith(main + "-"))
        wal = sum(1 for target in targets if target == main + "-wal")
        connections = wal or sum(1 for target in targets if target == main)
    else:
        db_fds, connections = None, database.sessions()
    return Sample(
        at=at,
        cpu=cpu_seconds(pid),
        rss_mb=_status_field(pid, "VmRSS") / 1024,
        fds=len(targets),
        db_fds=db_fds,
        connections=connections,
        threads=_status_field(pid, "Threads"),
        own_rss_mb=_status_field(os.getpid(), "VmRSS") / 1024,
        fd_kinds=Counter(_fd_kind(target, tcp, web_port, peers) for target in targets),
    )


def _p99(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000:.0f}"


HEADER = (
    f"{'min':>4} {'RSS MB':>7} {'fds':>4} {'db':>7} {'thr':>4} {'CPU':>4} │ {'posted':>7} {'non-200':>7} "
    f"{'replies':>7} {'statuses':>8} {'leads':>6} {'stuck':>5} {'backlog':>7} │ {'p99 ms':>14} │ {'contacts':>8} "
    f"{'leads':>6} {'deliv.':>6} {'updates':>7} {'audit':>5} │ {'gen MB':>6}"
)

LEGEND = (
    "db: the bot's SQLite connections (descriptors on the -wal file) / descriptors on the database file and its "
    "-wal, -shm (PostgreSQL: the database's sessions); "
    "thr: threads; CPU: the bot's share of one core over the interval; posted: webhook POSTs (steps and status "
    "callbacks); replies: messages the fakes took from the bot; leads, stuck: conversations that saved a lead, that "
    "got no answer in time; backlog: stored WhatsApp events not processed yet; p99 ms of the interval: WhatsApp "
    "POST / Telegram POST / a step until its answer; then rows in the tables (updates: processed_updates); gen MB: "
    "this process's RSS (the fakes and the generator)"
)


def line(label: str, s: Sample, previous: Sample | None, stats: Stats, rows: dict[str, int]) -> str:
    """One line of figures; the latencies gathered since the last line are dropped."""
    db = f"{s.connections}/{s.db_fds}" if s.db_fds is not None else f"{s.connections}"
    cpu = f"{(s.cpu - previous.cpu) / (s.at - previous.at):.0%}" if previous is not None and s.at > previous.at else "-"
    posted = sum(stats.posted.values())
    others = sum(n for status, n in stats.answers.items() if status != "200")
    latencies = stats.latencies
    p99 = f"{_p99(latencies['whatsapp'])}/{_p99(latencies['telegram'])}/{_p99(latencies['reply'])}"
    for values in latencies.values():
        values.clear()
    return (
        f"{label:>4} {s.rss_mb:>7.1f} {s.fds:>4} {db:>7} {s.threads:>4} {cpu:>4} │ {posted:>7,} {others:>7,} "
        f"{stats.replies:>7,} {stats.statuses:>8,} {stats.leads:>6,} {stats.stuck:>5} "
        f"{rows.get('webhook_events', 0):>7,} │ {p99:>14} │ {rows.get('contacts', 0):>8,} {rows.get('leads', 0):>6,} "
        f"{rows.get('deliveries', 0):>6,} {rows.get('processed_updates', 0):>7,} {rows.get('audit_events', 0):>5,} │ "
        f"{s.own_rss_mb:>6.1f}"
    )


# ------------------------------------------------------------------------------------------ the run


def cli(env: dict[str, str], cwd: Path, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


async def command(env: dict[str, str], cwd: Path, action: str, number: int, stats: Stats, began: float) -> None:
    """A staff member's command while the bot runs, as a process of its own; one line on what it did."""
    if action == "broadcast":
        text_file = cwd / "broadcast.txt"
        text_file.write_text(BROADCAST_TEXT, encoding="utf-8")
        args = ["broadcast", "create", "--text-file", str(text_file), "--segment", "", "--button", "interest"]
        args.append("--no-wait")
    else:
        suffix = action.split()[1]
        args = ["export", "leads", "--output", str(cwd / f"leads-{number}.{suffix}")]
    started = time.monotonic()
    for attempt in range(1, BROADCAST_TRIES + 1):
        result = await asyncio.to_thread(cli, env, cwd, *args)
        said = " / ".join(part.strip().splitlines()[-1] for part in (result.stdout, result.stderr) if part.strip())
        if attempt == BROADCAST_TRIES or "no one in this segment" not in said:
            break
        await asyncio.sleep(BROADCAST_RETRY_SECONDS)  # early in a short run nobody may have agreed to messages yet
    print(
        f"  · {time.monotonic() - began:6.0f} s  bpu-bot {' '.join(args[:2])}: exit {result.returncode} "
        f"in {time.monotonic() - started:.1f} s: {said[:150]}",
        flush=True,
    )
    if result.returncode != 0:
        stats.problem("command failed", f"bpu-bot {' '.join(args[:2])} exit {result.returncode}: {said[:200]}")


async def commands(env: dict[str, str], cwd: Path, seconds: float, stats: Stats, began: float) -> None:
    for number, (action, share) in enumerate(SCHEDULE, start=1):
        await asyncio.sleep(max(0.0, began + share * seconds - time.monotonic()))
        await command(env, cwd, action, number, stats, began)


async def trimming(fakes: list) -> None:
    while True:
        await asyncio.sleep(TRIM_SECONDS)
        for fake in fakes:
            fake.trim()


async def drained(database: Database) -> int:
    """Wait (DRAIN_TIMEOUT at most) until every stored WhatsApp event is processed; how many are left."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        left = (await asyncio.to_thread(database.rows))["webhook_events"]
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Watched:
    """The bot's process, its database, its port, and the servers it talks to by port (to tell its sockets)."""

    bot: BotProcess
    database: Database
    web_port: int
    peers: dict[int, str]

    def sample(self, at: float) -> Sample:
        return sample(self.bot.process.pid, self.database, at, self.web_port, self.peers)


async def drive(options: argparse.Namespace, watched: Watched, env: dict[str, str], cwd: Path, graph: SoakGraphAPI,
                telegram: SoakBotAPI | None) -> tuple[list[Sample], Stats]:  # fmt: skip
    bot, database = watched.bot, watched.database
    stats = Stats(fakes=[graph] + ([telegram] if telegram is not None else []))
    seconds = options.minutes * 60
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=options.people + STATUS_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector, timeout=timeout))
        base = f"http://127.0.0.1:{watched.web_port}"
        load = Load(session, base, graph, telegram, Pacer(options.rate), stats, random.Random(options.seed))
        rows = await asyncio.to_thread(database.rows)
        print(LEGEND)
        print(HEADER)
        samples.append(watched.sample(0.0))
        print(line("0", samples[-1], None, stats, rows), flush=True)
        began = time.monotonic()
        tasks = [asyncio.create_task(load.people(slot, options.people)) for slot in range(options.people)]
        tasks += [
            asyncio.create_task(load.statuses()),
            asyncio.create_task(trimming(stats.fakes)),
            asyncio.create_task(commands(env, cwd, seconds, stats, began)),
        ]
        try:
            count = max(1, round(seconds / options.interval))
            for minute in range(1, count + 1):
                await asyncio.sleep(max(0.0, began + minute * options.interval - time.monotonic()))
                if not bot.running:
                    raise SystemExit(f"the bot exited ({bot.process.returncode}) under load; see {bot.log_path}")
                at = time.monotonic() - began
                samples.append(watched.sample(at))
                rows = await asyncio.to_thread(database.rows)
                print(line(str(minute), samples[-1], samples[-2], stats, rows), flush=True)
        finally:
            for task in tasks:
                task.cancel()
            for ended in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(ended, Exception):  # not the cancellation, a BaseException
                    stats.problem("generator error", f"{type(ended).__name__}: {ended}")
        # The load has stopped: what was stored is processed, and the last statuses are posted.
        if left := await drained(database):
            stats.problem("not processed", f"{left} stored WhatsApp events {DRAIN_TIMEOUT:.0f} s after the load")
        for body in graph.take_statuses():
            await load.post("status", *signed_post_args(body))
            stats.statuses += 1
        await asyncio.sleep(2.0)
        rows = await asyncio.to_thread(database.rows)
        final = watched.sample(time.monotonic() - began)
        print(line("end", final, samples[-1], stats, rows), flush=True)
    return samples, stats


def start_bot(cwd: Path, env: dict[str, str]) -> BotProcess:
    log_path = cwd / "bot-stderr.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [PYTHON, "-m", "bot", "run"], env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file
        )
    bot = BotProcess(process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not healthy(f"http://127.0.0.1:{env['WEB_PORT']}/health"):
        if not bot.running:
            raise SystemExit(f"`bpu-bot run` exited ({process.returncode}) at start-up:\n{bot.log[-3000:]}")
        if time.monotonic() > deadline:
            bot.stop()
            raise SystemExit(f"`bpu-bot run` was not healthy within {STARTUP_TIMEOUT:.0f} s; see {log_path}")
        time.sleep(0.1)
    return bot


def bot_environment(cwd: Path, database: Database, port: int, graph: FakeGraphServer,
                    telegram: FakeBotAPIServer | None) -> dict[str, str]:  # fmt: skip
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database.url,
        "OPERATOR_NAME": "Dinas Tenaga Kerja Provinsi Bengkulu (soak)",
        "OPERATOR_CONTACT": "0736-000000",
        "LOG_LEVEL": "INFO",
        "SEND_HOURS": "00:00-23:59",  # broadcasts go out whatever the hour of the run
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "WHATSAPP_TOKEN": WHATSAPP_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_API_BASE_URL": graph.base_url,
        "WHATSAPP_TEMPLATE_REMINDER": "bpu_pengingat:id,en:name",
        "WHATSAPP_TEMPLATE_BROADCAST": "bpu_siaran:id,en:text",
    }
    if telegram is not None:
        env |= {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}{TELEGRAM_PATH}",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        }
    return env


# ------------------------------------------------------------------------------------------ the verdict


def _grew(name: str, samples: list[Sample], value) -> str:
    """From the first sample to the last: grew, flat, or moved and came back."""
    values = [value(s) for s in samples]
    first, last = values[0], values[-1]
    verdict = f"GREW by {last - first}" if last > first else "flat" if len(set(values)) == 1 else "no growth"
    return f"{name}: {first} -> {last} (least {min(values)}, most {max(values)}): {verdict}"


def _fd_change(base: Sample, last: Sample) -> str:
    """What the open files are, and which kinds changed in number."""
    changed = [
        f"{kind} {base.fd_kinds[kind]} -> {last.fd_kinds[kind]}"
        for kind in sorted(set(base.fd_kinds) | set(last.fd_kinds))
        if base.fd_kinds[kind] != last.fd_kinds[kind]
    ]
    kinds = ", ".join(f"{kind} {count}" for kind, count in last.fd_kinds.most_common())
    return f"at the end: {kinds}" + (f"; changed: {', '.join(changed)}" if changed else "")


def verdict(samples: list[Sample], stats: Stats, bot: BotProcess, exit_code: int, database: Database) -> None:
    minutes = samples[1:]
    baseline_minute = BASELINE_MINUTE if len(minutes) > BASELINE_MINUTE else 1
    base, last = minutes[baseline_minute - 1], minutes[-1]
    growth = (last.rss_mb - base.rss_mb) / base.rss_mb
    note = "" if baseline_minute == BASELINE_MINUTE else " (a run shorter than 6 minutes: from minute 1)"
    print()
    print(
        f"RSS: {base.rss_mb:.1f} MB at minute {baseline_minute} -> {last.rss_mb:.1f} MB at minute {len(minutes)}: "
        f"{growth:+.1%}{note} (bar <= {RSS_BAR:.0%}): {'ok' if growth <= RSS_BAR else 'ABOVE THE BAR'}"
    )
    kept = minutes[baseline_minute - 1 :]
    print(f"from minute {baseline_minute} to minute {len(minutes)}:")
    print("  " + _grew("open files", kept, lambda s: s.fds))
    print("    " + _fd_change(base, last))
    what = "database sessions" if database.sqlite is None else "database connections (descriptors on the -wal)"
    print("  " + _grew(what, kept, lambda s: s.connections))
    if database.sqlite is not None:
        print("  " + _grew("descriptors on the database, -wal, -shm", kept, lambda s: s.db_fds))
    print("  " + _grew("threads", kept, lambda s: s.threads))
    print(f"  this process (fakes and generator): {base.own_rss_mb:.1f} -> {last.own_rss_mb:.1f} MB")
    log = bot.log.splitlines()
    tracebacks = sum(1 for entry in log if "Traceback" in entry)
    errors = [entry for entry in log if " ERROR " in entry]
    warnings = Counter(entry.partition(" WARNING ")[2][:140] for entry in log if " WARNING " in entry)
    print(f"bot: exit code {exit_code} on SIGTERM; stderr {bot.log_path} ({len(log):,} lines): "
          f"{tracebacks} containing \"Traceback\", {len(errors)} ERROR")  # fmt: skip
    for entry in errors[:3]:
        print(f"    ERROR {entry.partition(' ERROR ')[2][:160]}")
    for warning, count in warnings.most_common(3):
        print(f"    {count} x WARNING {warning}")
    posted = sum(stats.posted.values())
    print(
        f"load: {posted:,} requests posted ({', '.join(f'{k} {v:,}' for k, v in sorted(stats.posted.items()))}), "
        f"answers {dict(stats.answers)}; {stats.started:,} people started, {stats.steps:,} steps, "
        f"{stats.leads:,} leads saved, {stats.declined:,} declined, {stats.stuck:,} stuck, "
        f"{stats.replies:,} replies taken by the fakes"
    )
    for kind, count in stats.problem_kinds.most_common():
        print(f"  ! {count} x {kind}")
    for problem in stats.problems:
        print(f"    {problem[:300]}")


def summary(database: Database) -> None:
    """The campaigns and their deliveries, and the leads, as the database has them at the end."""
    query = (
        "select c.id, c.status, c.recipients, d.status, d.receipt, count(*) from campaigns c "
        "join deliveries d on d.campaign_id = c.id group by c.id, c.status, c.recipients, d.status, d.receipt "
        "order by c.id"
    )
    campaigns: dict[tuple, list[str]] = {}
    for campaign, status, recipients, delivery, receipt, count in database.query(query):
        campaigns.setdefault((campaign, status, recipients), []).append(f"{delivery}/{receipt or '-'} {count}")
    for (campaign, status, recipients), counts in campaigns.items():
        print(f"campaign {campaign}: {status}, {recipients} recipients; deliveries {', '.join(counts)}")
    channels = database.query("select channel, count(*) from leads group by channel order by channel")
    print(f"leads by channel: {dict(channels)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=20.0, help="conversation steps per second, all people")
    parser.add_argument("--people", type=int, default=40, help="conversations in progress at once")
    parser.add_argument("--database-url", help="the bot's DATABASE_URL (default: a fresh SQLite file)")
    parser.add_argument("--no-telegram", action="store_true", help="WhatsApp only")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between lines (less for a try)")
    parser.add_argument("--seed", type=int, default=0, help="the conversations' random choices")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (always kept after a Traceback)")
    args = parser.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or args.people < 1 or args.interval <= 0:
        parser.error("--minutes, --rate and --interval must be above 0, --people at least 1")

    cwd = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    database = Database.from_url(args.database_url or f"sqlite:///{cwd / 'bot.sqlite3'}")
    graph_api = SoakGraphAPI(templates=TEMPLATES)
    bot_api = None if args.no_telegram else SoakBotAPI()
    keep = args.keep
    bot_server = FakeBotAPIServer(TELEGRAM_TOKEN, bot_api, keep_alive=True) if bot_api is not None else None
    with FakeGraphServer(graph_api) as graph, bot_server or nullcontext() as telegram:
        port = free_port()
        env = bot_environment(cwd, database, port, graph, telegram)
        migrated = cli(env, cwd, "db", "upgrade")
        if migrated.returncode != 0:
            raise SystemExit(f"bpu-bot db upgrade failed ({migrated.returncode}):\n{migrated.stderr}")
        channels = "WhatsApp + Telegram webhooks" if bot_api is not None else "WhatsApp webhook only"
        where = "SQLite " + database.name if database.sqlite else "PostgreSQL database " + database.name
        print(
            f"bpu-bot run: {channels}, {where}; {args.minutes:g} min at {args.rate:g} steps/s, {args.people} people "
            f"at once, {os.cpu_count()} cores, Python {sys.version.split()[0]}; work folder {cwd}",
            flush=True,
        )
        bot = start_bot(cwd, env)
        try:
            if bot_api is not None:
                deadline = time.monotonic() + STARTUP_TIMEOUT
                while not bot_api.calls_of("setWebhook") and time.monotonic() < deadline:
                    time.sleep(0.1)  # Telegram's webhook is set once the application has started
            peers = {graph.port: "the Graph API fake"}
            if telegram is not None:
                peers[telegram.port] = "the Bot API fake"
            if database.sqlite is None:
                peers[urlsplit(database.url).port or 5432] = "PostgreSQL"
            watched = Watched(bot, database, port, peers)
            samples, stats = asyncio.run(drive(args, watched, env, cwd, graph_api, bot_api))
        finally:
            exit_code = bot.stop()
    verdict(samples, stats, bot, exit_code, database)
    summary(database)
    if "Traceback" in bot.log:
        keep = True
    if keep:
        print(f"work folder kept: {cwd}")
    else:
        shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped like Ctrl-C: the bot is stopped too
    main()
