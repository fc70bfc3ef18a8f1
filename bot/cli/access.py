"""`bpu-bot roles ...` and `bpu-bot audit list`: who may do what, and what was done (and refused).

Roles are granted to Telegram users by their numeric id; officers are made with `bpu-bot officers add`, since
an officer needs regions. Every change is in the audit log, under the system user who ran the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from bot.cli.common import CommandError, command_line_actor, database, one_line_errors, print_table
from bot.config import Settings
from bot.models import Role, utcnow

LIST_LIMIT = 100


def add_parsers(commands: Any) -> None:
    roles = one_line_errors(commands.add_parser("roles", help="who is staff or admin (officers: `officers`)"))
    sub = roles.add_subparsers(dest="roles_command", required=True, metavar="COMMAND")
    one_line_errors(sub.add_parser("list", help="everyone with a role beyond worker, highest first"))
    setting = one_line_errors(sub.add_parser("set", help="give a Telegram user a role (worker takes roles away)"))
    setting.add_argument("telegram_id", metavar="TELEGRAM_ID", help="their numeric Telegram user id")
    setting.add_argument("role", metavar="ROLE", help="staff, admin, or worker (an officer needs `officers add`)")

    audit = one_line_errors(commands.add_parser("audit", help="the audit log: exports, roles, broadcasts, refusals"))
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    listing = one_line_errors(audit_sub.add_parser("list", help="the latest entries first"))
    listing.add_argument("--since", metavar="WHEN", help="from a local date or time, e.g. 2026-11-01")
    listing.add_argument("--action", metavar="ACTION", help="export, role, officer, broadcast, invite, ...")
    listing.add_argument("--actor", metavar="WHO", help="who acted or was acted upon, e.g. telegram:123 or cli:alice")
    listing.add_argument("--refused", action="store_true", help="only refused attempts")
    listing.add_argument("--limit", type=int, default=LIST_LIMIT, metavar="N", help=f"at most N (default {LIST_LIMIT})")


def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.command == "roles":
        asyncio.run(roles(settings, args))
    else:
        asyncio.run(audit_list(settings, args))


async def roles(settings: Settings, args: argparse.Namespace) -> None:
    from bot.services.officers import ensure_contact
    from bot.services.roles import RoleError, list_roles, set_role

    admins = settings.admin_telegram_ids
    if args.roles_command == "list":
        async with database(settings) as sessions, sessions() as session:
            lines = await list_roles(session, admins)
        rows = [
            (
                line.role,
                f"{line.channel}:{line.external_id}",
                "ADMIN_TELEGRAM_IDS" if line.configured else "granted",
                f"officer {line.officer.id} ({line.officer.name})" if line.officer else "",
            )
            for line in lines
        ]
        print_table(("ROLE", "WHO", "FROM", "ALSO"), rows)
        print(f"{len(rows)} people with a role", file=sys.stderr)
        return
    if not (args.telegram_id.isascii() and args.telegram_id.isdigit()):
        raise CommandError(f"{args.telegram_id!r} is not a Telegram user id (digits only)")
    if args.role not in (Role.WORKER, Role.STAFF, Role.ADMIN, Role.OFFICER):
        raise CommandError(f"role {args.role!r} is not one of: worker, staff, admin")
    try:
        async with database(settings) as sessions, sessions.begin() as session:
            contact = await ensure_contact(session, "telegram", args.telegram_id, settings.default_locale)
            previous = await set_role(session, contact, Role(args.role), command_line_actor(), admins, utcnow())
    except RoleError as error:
        raise CommandError(str(error)) from None
    print(f"telegram:{args.telegram_id} is now {args.role} (was {previous})")


async def audit_list(settings: Settings, args: argparse.Namespace) -> None:
    from bot.services.audit import list_events

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise CommandError(f"--since {args.since!r} is not a date such as 2026-11-01 or 2026-11-01T08:00") from None
        since = since.replace(tzinfo=settings.tz) if since.tzinfo is None else since
    if not 1 <= args.limit <= 100_000:
        raise CommandError("--limit must be from 1 to 100000")
    async with database(settings) as sessions, sessions() as session:
        events = await list_events(session, since, args.action, args.actor, args.refused, args.limit)
    rows = [
        (
            str(event.id),
            event.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S"),
            event.actor,
            event.actor_role,
            event.action,
            event.subject or "",
            "yes" if event.allowed else "REFUSED",
            "" if event.rows is None else str(event.rows),
            json.dumps(event.detail, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
        )
        for event in events
    ]
    print_table(("ID", "WHEN", "WHO", "ROLE", "ACTION", "SUBJECT", "ALLOWED", "ROWS", "DETAIL"), rows)
    print(f"{len(rows)} entries ({settings.timezone}), latest first", file=sys.stderr)
