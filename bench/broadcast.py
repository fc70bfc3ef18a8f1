"""Broadcast engine benchmark, against the Bot API fake running as its own process on 127.0.0.1.

(a) A campaign to 3,000 recipients with the fake enforcing Telegram's 30 messages/s (429 above it) and the
    engine configured to the same limit: the achieved rate as a share of the limit (target >= 97%), the 429s
    caused (target 0), the duplicates (target 0), and the most messages the fake saw in any one second.
(b) A paid broadcast (allow_paid_broadcast) to 100,000 recipients with every limit lifted: the engine's own
    ceiling in messages/s in one process on SQLite (target >= 1,000/s).

Real parts throughout: a migrated SQLite file, the engine and PTB's Bot over HTTP (aiohttp transport, keep-alive),
the fake in another process (a machine with two cores: one each). `--database postgresql` runs both parts on a
fresh migrated PostgreSQL database each instead (made on the server of `--admin-url`, dropped after), and also
reports PostgreSQL's CPU (its own processes and the database's backends) per message.

    python -m bench.broadcast [--recipients 3000] [--limit 30] [--paid-recipients 100000]
        [--database sqlite|postgresql] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import time as clock_time
from pathlib import Path

from telegram import Bot

from bot.app import create_app
from bot.channels.telegram.sending import TelegramSender, broadcast_transport
from bot.config import Settings
from bot.db import upgrade_database
from bot.models import utcnow
from bot.services.campaigns import campaign_progress, create_campaign
from bot.services.segments import Segment
from bot.workers.broadcaster import Broadcaster
from bot.workers.pacing import Pacer
from tests.database import POSTGRESQL, SQLITE, PostgresServer, SQLiteDatabase, TestDatabase
from tests.fakes.telegram import TEST_TOKEN
from tests.population import seed_workers

FIRST_USER = 800_000_000
ALL_DAY = (clock_time(0, 0), clock_time(23, 59, 59, 999999))  # the benchmark must not wait for the morning


def start_fake(recipients: int, limit: int | None) -> tuple[subprocess.Popen, str]:
    args = [sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--keep-alive", "--no-record"]
    args += ["--open-chats", f"{FIRST_USER}:{recipients}"]
    if limit is not None:
        args += ["--rate-limit", str(limit)]
    fake = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    ready = fake.stdout.readline().split()
    if not ready or ready[0] != "ready":
        raise SystemExit("the Bot API fake did not start")
    return fake, ready[1]


def stop_fake(fake: subprocess.Popen) -> dict:
    fake.send_signal(signal.SIGTERM)
    out, _ = fake.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


async def send_campaign(
    database_url: str, base_url: str, recipients: int, rate: float | None, paid: bool, server_cpu: Callable[[], float]
) -> dict:
    settings = Settings(
        database_url=database_url,
        telegram_token=TEST_TOKEN,
        telegram_base_url=base_url,
        operator_name="benchmark",
        send_window=ALL_DAY,
        broadcast_rate=rate or 1000,
        broadcast_paid=paid,
    )
    app = create_app(settings)
    async with app.dispatcher.sessions.begin() as session:
        campaign = await create_campaign(
            session,
            created_by="cli",
            author_contact_id=None,
            segment=Segment(),
            text_id="Sosialisasi BPU di balai desa, Sabtu pukul 09.00. Iuran mulai Rp16.800 per bulan.",
            text_en=None,
            button="interest",
            starts_at=utcnow(),
            now=utcnow(),
        )
    bot = Bot(TEST_TOKEN, base_url=base_url, request=broadcast_transport(rate))
    async with bot:
        sender = TelegramSender(bot, app.messages, paid=paid)
        engine = Broadcaster(app.dispatcher, {"telegram": sender}, {"telegram": Pacer(rate)})
        cpu, started, database_cpu = time.process_time(), time.perf_counter(), server_cpu()
        running = asyncio.create_task(engine.run())
        while True:
            await asyncio.sleep(0.1)
            async with app.dispatcher.sessions() as session:
                progress = (await campaign_progress(session, [campaign.id]))[campaign.id]
            if progress.total == recipients and progress.waiting == 0:
                break
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        database_cpu = server_cpu() - database_cpu
        engine.stop()
        await running
    await app.close()
    failed = progress.failed + progress.blocked
    return {"sent": progress.sent, "failed": failed, "elapsed": elapsed, "cpu": cpu, "database_cpu": database_cpu}


def part(database: TestDatabase, recipients: int, limit: int | None, paid: bool) -> tuple[dict, dict]:
    fake, base_url = start_fake(recipients, limit)
    try:
        result = asyncio.run(send_campaign(database.app_url, base_url, recipients, limit, paid, _server_cpu(database)))
    finally:
        summary = stop_fake(fake)
    return result, summary


def _server_cpu(database: TestDatabase) -> Callable[[], float]:
    """CPU seconds used so far by the database server for `database`: 0 for SQLite (it runs in this process)."""
    if database.kind != POSTGRESQL:
        return lambda: 0.0
    from bench.processes import postgres_pids, process_cpu

    seen: dict[int, float] = {}  # a backend that ends keeps its last value

    def cpu() -> float:
        for pid in postgres_pids(database.name):
            if (value := process_cpu(pid)) is not None:
                seen[pid] = value
        return sum(seen.values())

    return cpu


@contextmanager
def fresh_database(kind: str, directory: Path, name: str, admin_url: str) -> Iterator[TestDatabase]:
    """A migrated database of its own for one part: a SQLite file in `directory`, or one made on the PostgreSQL
    server of `admin_url` and dropped after."""
    if kind == SQLITE:
        path = directory / f"{name}.sqlite3"
        upgrade_database(f"sqlite+aiosqlite:///{path}")
        yield SQLiteDatabase(path)
        return
    server = PostgresServer(admin_url)
    if (why := server.check()) is not None:
        raise SystemExit(f"PostgreSQL at {admin_url} does not answer: {why}")
    database = server.create()
    try:
        yield database
    finally:
        server.drop(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--paid-recipients", type=int, default=100_000)
    parser.add_argument("--database", choices=(SQLITE, POSTGRESQL), default=SQLITE)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server to make the databases on (with --database postgresql)")  # fmt: skip
    args = parser.parse_args()
    on_postgres = args.database == POSTGRESQL
    with tempfile.TemporaryDirectory() as directory:
        if on_postgres:
            print(f"on PostgreSQL ({args.admin_url.partition('?')[0]}), a fresh database for each part")
        with fresh_database(args.database, Path(directory), "paced", args.admin_url) as paced:
            seed_workers(paced, args.recipients, FIRST_USER)
            result, fake = part(paced, args.recipients, args.limit, paid=False)
        rate = result["sent"] / result["elapsed"]
        sent, elapsed, limit = result["sent"], result["elapsed"], args.limit
        print(f"(a) {sent:,} of {args.recipients:,} sent in {elapsed:.1f} s at a {limit}/s limit:")
        print(f"    {rate:.2f} messages/s = {rate / limit:.1%} of the limit (target >= 97%)")
        print(f"    429s caused {fake['rate_limited']}, duplicates {fake['duplicates']}, failed {result['failed']},")
        print(f"    most in any one second at the fake {fake['max_in_any_second']}")

        with fresh_database(args.database, Path(directory), "paid", args.admin_url) as paid:
            seed_workers(paid, args.paid_recipients, FIRST_USER)
            result, fake = part(paid, args.paid_recipients, None, paid=True)
        sent, elapsed = result["sent"], result["elapsed"]
        cpu = result["cpu"] / sent * 1e6
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        where = " on PostgreSQL" if on_postgres else ""
        print(f"(b) paid, limits lifted: {sent:,} of {args.paid_recipients:,} sent in {elapsed:.1f} s")
        ceiling = sent / elapsed
        print(f"    {ceiling:,.0f} messages/s in one process{where} (target >= 1,000/s); ", end="")
        print(f"engine CPU {cpu:.0f} µs a message")
        if on_postgres:
            print(f"    PostgreSQL CPU {result['database_cpu'] / sent * 1e6:.0f} µs a message")
        print(f"    duplicates {fake['duplicates']}, failed {result['failed']}, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
