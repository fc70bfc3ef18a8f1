"""`bpu-bot retention show` (the periods, and what each would remove now) and `bpu-bot retention purge
[--dry-run]` (the daily purge, by hand, with a progress line and a count per kind); both audited."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bot.cli.common import bar, command_line_actor, database, print_table
from bot.config import Settings

# What each kind is, as staff read it, and what its period counts from.
KIND_NAMES = {
    "open_lead": ("leads still open or never reached", "after the last contact"),
    "ended_lead": ("leads that registered or declined", "after the last contact"),
    "chat": ("chats that never left a contact", "after the last message"),
    "delivery": ("broadcast deliveries (counts kept)", "after the campaign ended"),
    "message": ("messages sent (reminders, answers, notices)", "after sending"),
    "not_understood": ("texts not understood (masked)", "after they were written"),
    "audit": ("audit log entries", "after the event"),
    "invite": ("invitations never used (names, phones)", "once they expire"),
}


def add_parser(commands: Any) -> None:
    retention = commands.add_parser("retention", help="how long personal data is kept, and the purge")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    retention_commands.add_parser("show", help="the periods, and how many of each kind would be removed now")
    purge = retention_commands.add_parser("purge", help="remove now what is past its period (as the daily job does)")
    purge.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")


def run(settings: Settings, args: argparse.Namespace) -> None:
    dry_run = args.retention_command == "show" or args.dry_run
    asyncio.run(_retention(settings, dry_run, args.retention_command, sys.stderr))


def _days(days: int | None) -> str:
    return f"{days} days " if days is not None else ""


async def _retention(settings: Settings, dry_run: bool, command: str, out: TextIO) -> None:
    from bot.models import utcnow
    from bot.services.audit import record_event
    from bot.services.retention import count_expired
    from bot.workers.retention import purge

    retention = settings.retention
    now = utcnow()
    async with database(settings) as sessions:
        async with sessions() as session:
            counts = await count_expired(session, retention, now)
        if dry_run:
            removed = counts
        else:
            total = sum(counts.values())
            done = [0]

            def progress(kind: str, went: int) -> None:
                done[0] += went
                if out.isatty():
                    share = min(done[0] / total, 1.0) if total else 1.0
                    out.write(f"\r{bar(share)} {done[0]} of about {total} ({kind})".ljust(70))
                    out.flush()

            removed = await purge(sessions, retention, now, progress)
            if out.isatty() and total:
                out.write("\n")
        async with sessions.begin() as session:
            await record_event(
                session, command_line_actor(), "retention", now, rows=sum(removed.values()), command=command,
                dry_run=dry_run, removed=removed,
            )  # fmt: skip
    heading = "PAST IT NOW" if command == "show" else "WOULD REMOVE" if dry_run else "REMOVED"
    rows = [
        (KIND_NAMES[kind][0], f"{_days(retention.periods.get(kind))}{KIND_NAMES[kind][1]}", str(count))
        for kind, count in removed.items()
    ]
    print_table(("KIND", "KEPT FOR", heading), rows)
    if command == "show":
        print(
            f"\nthe running bot purges once a day from {retention.at:%H:%M} ({settings.timezone}); an officer's lead "
            f"goes only {retention.notice_days} days after the officer's digest named it"
        )
