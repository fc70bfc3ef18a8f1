"""`bpu-bot understand TEXT` (how the bot reads a message at a step) and `bpu-bot understanding misses` (what it
did not understand in real chats)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
from datetime import date, datetime, time
from typing import Any

from bot.cli.common import CommandError, database, print_table
from bot.config import Settings
from bot.db import upgrade_database


def add_parsers(commands: Any) -> None:
    understand = commands.add_parser(
        "understand", help="show how the bot reads a message at a step (on a throwaway database, not the real one)"
    )
    understand.add_argument("text", metavar="TEXT", help="the message, as a worker would type it")
    understand.add_argument(
        "--state", default="menu", metavar="STEP", help="the step it is typed at, e.g. menu or consent (default: menu)"
    )
    understanding = commands.add_parser("understanding", help="what the bot did not understand in real chats")
    understanding_commands = understanding.add_subparsers(dest="understanding_command", required=True)
    missed = understanding_commands.add_parser(
        "misses", help="print the messages the bot missed as a table, most frequent first (numbers masked)"
    )
    missed.add_argument("--since", metavar="YYYY-MM-DD", help="only messages from this local date on")


def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.command == "understand":
        _understand(settings, args.state, args.text)
    else:
        asyncio.run(_misses(settings, args.since))


def _understand(settings: Settings, step: str, text: str) -> None:
    """`text` typed at `step` by a made-up person, in a database of its own that is deleted afterwards: the
    real one is never opened."""
    from bot.app import create_app
    from bot.conversation.rehearsal import STEPS, Rehearsal

    if step not in STEPS:
        raise CommandError(f"--state {step!r} is not one of: {', '.join(STEPS)}")

    async def tell(url: str):
        app = create_app(dataclasses.replace(settings, database_url=url))
        try:
            return await Rehearsal(app.dispatcher).tell(step, text)
        finally:
            await app.close()

    with tempfile.TemporaryDirectory(prefix="bpu-bot-understand-") as folder:
        url = f"sqlite+aiosqlite:///{folder}/understand.sqlite3"
        upgrade_database(url)
        tried = asyncio.run(tell(url))
    reading = tried.turn.reading
    print(f"step: {step}")
    print(f"text: {text}")
    if reading is None:
        print("read: not by the understanding (the step takes the text as typed)")
    else:
        print(f"words: {' '.join(reading.words)}")
        print(f"understood: {reading.best or 'nothing'}")
        print(f"runner-up: {reading.runner_up or 'nothing'}")
        if reading.also:
            print(f"also asked: {', '.join(reading.also)}")
        print(f"sure: {'yes' if reading.sure else 'no'}")
    print("the bot answers:")
    for reply in tried.replies:
        for line in reply.text.splitlines():
            print(f"  {line}".rstrip())
        columns = max(reply.columns, 1)
        labels = [f"[{choice.label}]" for choice in reply.choices]
        for start in range(0, len(labels), columns):
            print("  " + " ".join(labels[start : start + columns]))


async def _misses(settings: Settings, since: str | None) -> None:
    from bot.services.misses import grouped_misses

    start = None
    if since:
        try:
            start = datetime.combine(date.fromisoformat(since), time(), settings.tz)
        except ValueError:
            raise CommandError(f"--since {since!r} is not a date such as 2026-12-01") from None
    async with database(settings) as sessions, sessions() as session:
        groups = await grouped_misses(session, start)
    if not groups:
        print("no messages were missed" + (f" since {since}" if since else ""))
        return
    header = ("COUNT", "LAST SEEN", "STATE", "TEXT")
    rows = [
        (str(group.count), group.last_seen.astimezone(settings.tz).strftime("%Y-%m-%d"), group.state, group.text)
        for group in groups
    ]
    print_table(header, rows)
    print(f"{sum(group.count for group in groups)} missed messages, {len(groups)} different", file=sys.stderr)
