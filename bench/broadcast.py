"""Broadcast engine benchmark, against the Bot API fake running as its own process on 127.0.0.1.

(a) A campaign to 3,000 recipients with the fake enforcing Telegram's 30 messages/s (429 above it) and the
    engine configured to the same limit: the achieved rate as a share of the limit (target >= 97%), the 429s
    caused (target 0), the duplicates (target 0), and the most messages the fake saw in any one second.
(b) A paid broadcast (allow_paid_broadcast) to 100,000 recipients with every limit lifted: the engine's own
    ceiling in messages/s in one process on SQLite (target >= 1,000/s).

Real parts throughout: a migrated SQLite file, the engine and PTB's Bot over HTTP (aiohttp transport, keep-alive),
the fake in another process (a machine with two cores: one each).

    python -m bench.broadcast [--recipients 3000] [--limit 30] [--paid-recipients 100000]
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
from datetime import time as clock_time
from pathlib import Path

from telegram import Bot

from bot.app import create_app
from bot.broadcaster import Broadcaster
from bot.channels.telegram import TelegramSender, broadcast_transport
from bot.config import Settings
from bot.db import upgrade_database
from bot.models import utcnow
from bot.pacing import Pacer
from bot.services.campaigns import Segment, campaign_progress, create_campaign
from tests.database import SQLiteDatabase
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


async def send_campaign(database: Path, base_url: str, recipients: int, rate: float | None, paid: bool) -> dict:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
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
        cpu, started = time.process_time(), time.perf_counter()
        running = asyncio.create_task(engine.run())
        while True:
            await asyncio.sleep(0.1)
            async with app.dispatcher.sessions() as session:
                progress = (await campaign_progress(session, [campaign.id]))[campaign.id]
            if progress.total == recipients and progress.waiting == 0:
                break
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        engine.stop()
        await running
    await app.close()
    return {"sent": progress.sent, "failed": progress.failed + progress.blocked, "elapsed": elapsed, "cpu": cpu}


def part(database: Path, recipients: int, limit: int | None, paid: bool) -> tuple[dict, dict]:
    fake, base_url = start_fake(recipients, limit)
    try:
        result = asyncio.run(send_campaign(database, base_url, recipients, limit, paid))
    finally:
        summary = stop_fake(fake)
    return result, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--paid-recipients", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        paced = Path(directory) / "paced.sqlite3"
        upgrade_database(f"sqlite+aiosqlite:///{paced}")
        seed_workers(SQLiteDatabase(paced), args.recipients, FIRST_USER)
        result, fake = part(paced, args.recipients, args.limit, paid=False)
        rate = result["sent"] / result["elapsed"]
        sent, elapsed, limit = result["sent"], result["elapsed"], args.limit
        print(f"(a) {sent:,} of {args.recipients:,} sent in {elapsed:.1f} s at a {limit}/s limit:")
        print(f"    {rate:.2f} messages/s = {rate / limit:.1%} of the limit (target >= 97%)")
        print(f"    429s caused {fake['rate_limited']}, duplicates {fake['duplicates']}, failed {result['failed']},")
        print(f"    most in any one second at the fake {fake['max_in_any_second']}")

        paid = Path(directory) / "paid.sqlite3"
        upgrade_database(f"sqlite+aiosqlite:///{paid}")
        seed_workers(SQLiteDatabase(paid), args.paid_recipients, FIRST_USER)
        result, fake = part(paid, args.paid_recipients, None, paid=True)
        sent, elapsed = result["sent"], result["elapsed"]
        cpu = result["cpu"] / sent * 1e6
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(b) paid, limits lifted: {sent:,} of {args.paid_recipients:,} sent in {elapsed:.1f} s")
        ceiling = sent / elapsed
        print(f"    {ceiling:,.0f} messages/s in one process (target >= 1,000/s); engine CPU {cpu:.0f} µs a message")
        print(f"    duplicates {fake['duplicates']}, failed {result['failed']}, peak RSS {rss:.0f} MB")

if __name__ == "__main__":
    main()
