"""Conversation benchmark: simulated workers walking a whole path through the full stack.

Each worker: /start, occupation, calculator, an example income, "Saya tertarik", consent, reminders, name,
shared phone, region, call time, save: 12 updates, through PTB's Application, our dispatcher and a real
SQLite file, with the offline Bot API fake as transport. Workers are interleaved step by step, as many
people chatting at once would be. The same harness then drives a bare PTB echo handler, as the baseline.

    python -m bench.conversation [--workers 1000]

Prints updates/s and p50/p99 latency per update for both, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from bot.app import BotApp, create_app
from bot.channels.telegram.channel import build_application
from bot.config import Settings
from bot.db import upgrade_database
from tests.fakes.telegram import TEST_TOKEN, FakeBotAPI, FakeRequest, FakeUser, SentMessage

PATH = (
    ("command", "start"),
    ("tap", "Nelayan"),
    ("tap", "Hitung iuran"),
    ("tap", "Rp2.000.000"),
    ("tap", "Saya tertarik"),
    ("tap", "Setuju"),
    ("tap", "Boleh"),
    ("text", "Budi Santoso"),
    ("contact", "+6281234567890"),
    ("tap", "Mukomuko"),
    ("tap", "Pagi"),
    ("tap", "Benar, simpan"),
)


def _button(message: SentMessage, label: str) -> str:
    buttons = [button for row in message.buttons for button in row]
    for text, data in buttons:
        if label.lower() in text.lower():
            return data
    raise SystemExit(f"no button {label!r} on {message.text[:60]!r}: {[text for text, _ in buttons]}")


def next_update(api: FakeBotAPI, user: FakeUser, kind: str, value: str) -> dict:
    """The update of one step of a path: a command, typed text, a shared contact, or a tap on the button whose
    label contains `value` on the latest message with buttons (navigation works from any message)."""
    if kind == "command":
        return user.send_command(value)
    if kind == "text":
        return user.send_text(value)
    if kind == "contact":
        return user.share_contact(value)
    last = next(m for m in reversed(api.sent(user.user_id)) if m.buttons)
    return user.tap(_button(last, value), message_id=last.message_id)


async def _drive(application: Application, api: FakeBotAPI, users: list[FakeUser], path) -> list[float]:
    latencies = []
    for kind, value in path:
        for user in users:
            update = Update.de_json(next_update(api, user, kind, value), application.bot)
            started = time.perf_counter()
            await application.process_update(update)
            latencies.append(time.perf_counter() - started)
        api.forget_history()  # outside the timing: see FakeBotAPI.forget_history
    return latencies


def offline_bot(database: Path) -> tuple[BotApp, FakeBotAPI, Application]:
    """The bot on a SQLite file, answering through PTB's Application to the in-memory Bot API fake, unpaced."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}", telegram_token=TEST_TOKEN, operator_name="Bench"
    )
    app = create_app(settings)
    api = FakeBotAPI()
    api.queue_updates = False
    return app, api, build_application(app, request=FakeRequest(api), rate_limited=False)


async def bench_bot(workers: int, database: Path) -> tuple[list[float], int]:
    app, api, application = offline_bot(database)
    users = [FakeUser(api) for _ in range(workers)]
    async with application:
        latencies = await _drive(application, api, users, PATH)
    async with app.engine.connect() as connection:
        leads = (await connection.exec_driver_sql("select count(*) from leads")).scalar_one()
    await app.close()
    return latencies, leads


async def bench_echo(workers: int) -> list[float]:
    api = FakeBotAPI()
    api.queue_updates = False
    request = FakeRequest(api)
    application = ApplicationBuilder().token(TEST_TOKEN).request(request).get_updates_request(request).build()

    async def echo(update: Update, _context) -> None:
        await update.effective_chat.send_message(update.effective_message.text)

    application.add_handler(TypeHandler(Update, echo))
    users = [FakeUser(api) for _ in range(workers)]
    async with application:
        return await _drive(application, api, users, [("text", "halo")] * len(PATH))


def _report(name: str, latencies: list[float]) -> float:
    rate = len(latencies) / sum(latencies)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<10} {len(latencies):>7} updates  {rate:>8.0f} updates/s  p50 {q[49] * 1000:6.2f} ms  "
        f"p99 {q[98] * 1000:6.2f} ms"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "bench.sqlite3"
        upgrade_database(f"sqlite+aiosqlite:///{database}")
        latencies, leads = asyncio.run(bench_bot(args.workers, database))
    echo = asyncio.run(bench_echo(args.workers))
    print(f"{args.workers} workers x {len(PATH)} steps, SQLite file, offline Bot API fake, one process")
    bot_rate = _report("bpu-bot", latencies)
    echo_rate = _report("PTB echo", echo)
    print(f"bpu-bot / echo throughput: {bot_rate / echo_rate:.2f}   leads saved: {leads}")
    if leads != args.workers:
        raise SystemExit(f"expected {args.workers} leads, found {leads}")


if __name__ == "__main__":
    main()
