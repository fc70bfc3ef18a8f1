"""`bpu-bot followups list`: reminders and call tasks as a table, soonest due first (phones masked)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any

from bot.cli.common import CommandError, database, officer_id, print_table
from bot.config import Settings
from bot.models import FollowUpStatus


def add_parser(commands: Any) -> None:
    followups = commands.add_parser("followups", help="reminders and call tasks")
    followups_commands = followups.add_subparsers(dest="followups_command", required=True)
    listing = followups_commands.add_parser("list", help="print follow-ups as a table, soonest due first")
    listing.add_argument(
        "--due-before", metavar="WHEN", help="local date or date and time, e.g. 2026-12-01 or 2026-12-01T12:00"
    )
    listing.add_argument("--status", metavar="S[,S]", help=f"one or more of {', '.join(FollowUpStatus)}")
    listing.add_argument("--officer", metavar="ID", help="an officer's ID (`officers list`), or `none` for the pool")


def run(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_list_followups(settings, args.due_before, args.status, args.officer))


def _followup_filters(settings: Settings, due_before: str | None, status: str | None):
    when = None
    if due_before:
        try:
            when = datetime.fromisoformat(due_before)
        except ValueError:
            raise CommandError(
                f"--due-before {due_before!r} is not a date such as 2026-12-01 or 2026-12-01T12:00"
            ) from None
        when = when.replace(tzinfo=settings.tz) if when.tzinfo is None else when
    statuses = tuple(s.strip() for s in status.split(",")) if status else ()
    if unknown := [s for s in statuses if s not in FollowUpStatus.__members__.values()]:
        raise CommandError(f"--status {unknown[0]!r} is not one of {', '.join(FollowUpStatus)}")
    return when, statuses


async def _list_followups(settings: Settings, due_before: str | None, status: str | None, officer: str | None) -> None:
    from bot.phone import mask_phone
    from bot.services.followups import UNASSIGNED, list_followups

    when, statuses = _followup_filters(settings, due_before, status)
    assigned = None if officer is None else UNASSIGNED if officer.lower() == "none" else officer_id(officer)
    async with database(settings) as sessions, sessions() as session:
        lines = await list_followups(session, when, statuses, assigned)
    header = ("ID", "KIND", "STATUS", "DUE", "TRIES", "OUTCOME", "OFFICER", "NAME", "PHONE", "REGION", "CHANNEL")
    rows = [
        (
            str(line.followup.id),
            line.followup.kind,
            line.followup.status,
            line.followup.due_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
            str(line.followup.attempts),
            line.followup.outcome or "",
            str(line.followup.officer_id or ""),
            line.lead.name if line.lead else "",
            mask_phone(line.lead.phone) if line.lead else "",
            line.lead.region if line.lead else (line.followup.region or ""),
            line.channel,
        )
        for line in lines
    ]
    print_table(header, rows)
    print(f"{len(rows)} follow-ups ({settings.timezone})", file=sys.stderr)
