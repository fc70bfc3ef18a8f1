"""`bpu-bot roles ...` and `bpu-bot audit list`: who may do what, and what was done (and refused).

Roles are granted to Telegram users by their numeric id (they see it with /id), to a phone number (taken by
whoever proves they own it, on WhatsApp or Telegram), or by a one-time invite link; officers are made with
`bpu-bot officers add`, since an officer needs regions. Every change is in the audit log, under the system user
who ran the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import (
    CommandError,
    add_yes_option,
    command_line_actor,
    confirm,
    database,
    one_line_errors,
    print_table,
    typed_phone,
)
from bot.config import Settings
from bot.models import Contact, Role, utcnow
from bot.phone import mask_phone

LIST_LIMIT = 100


def add_parsers(commands: Any) -> None:
    roles = one_line_errors(commands.add_parser("roles", help="who is staff or admin (officers: `officers`)"))
    sub = roles.add_subparsers(dest="roles_command", required=True, metavar="COMMAND")
    one_line_errors(sub.add_parser("list", help="everyone with a role beyond worker, highest first"))
    setting = one_line_errors(
        sub.add_parser("set", help="give someone a role by Telegram id or phone (worker takes roles away)")
    )
    setting.add_argument(
        "target",
        nargs="+",
        metavar="[TELEGRAM_ID] ROLE",
        help="their Telegram user id (none with --phone), then staff, admin or worker (officers: `officers add`)",
    )
    setting.add_argument("--phone", metavar="NUMBER", help="their mobile number (08... or +62...) instead of an id")
    add_yes_option(setting)
    inviting = one_line_errors(sub.add_parser("invite", help="a one-time link (Telegram, WhatsApp) granting a role"))
    inviting.add_argument("role", metavar="ROLE", help="staff or admin (officers: `officers invite`)")

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
    from bot.services.officers import ensure_contact, find_officer, handover
    from bot.services.roles import RoleError, list_roles, phone_subject, set_role, waiting_grants, withdraw_phone_grants

    admins = settings.admin_telegram_ids
    if args.roles_command == "list":
        async with database(settings) as sessions, sessions() as session:
            lines = await list_roles(session, admins)
            waiting = await waiting_grants(session, utcnow())
        rows: list[tuple[str, ...]] = [
            (
                line.role,
                f"{line.channel}:{line.external_id}",
                "ADMIN_TELEGRAM_IDS" if line.configured else "granted",
                f"officer {line.officer.id} ({line.officer.name})" if line.officer else "",
            )
            for line in lines
        ]
        rows += [
            (
                grant.role,
                phone_subject(grant.phone or ""),
                f"waiting until {grant.expires_at.astimezone(settings.tz):%Y-%m-%d}",
                f"{grant.name} ({', '.join(grant.regions)})" if grant.name else "",
            )
            for grant in waiting
        ]
        print_table(("ROLE", "WHO", "FROM", "ALSO"), rows)
        print(f"{len(lines)} people with a role, {len(waiting)} grants waiting for a number", file=sys.stderr)
        return
    if args.roles_command == "invite":
        await _invite(settings, args.role)
        return
    role, who, by_phone = _target(args)
    try:
        async with database(settings) as sessions:
            async with sessions() as session:
                contact = await _contact(session, who, by_phone)
                if role is Role.WORKER and contact is not None and (officer := await find_officer(session, contact.id)):
                    work = await handover(session, officer)
                    confirm(f"officer {officer.id} ({officer.name}) stops being an officer", work, args.yes)
            async with sessions.begin() as session:
                if not by_phone:
                    contact = await ensure_contact(session, "telegram", who, settings.default_locale)
                elif (contact := await _contact(session, who, by_phone)) is None:
                    await _grant_by_phone(settings, session, who, role)
                    return
                previous = await set_role(session, contact, role, command_line_actor(), admins, utcnow())
                if by_phone and role is Role.WORKER:
                    await withdraw_phone_grants(session, who, utcnow())
    except RoleError as error:
        raise CommandError(str(error)) from None
    print(f"{contact.channel}:{contact.external_id} is now {role} (was {previous})")


def _target(args: argparse.Namespace) -> tuple[Role, str, bool]:
    """(role, the Telegram id or the phone as E.164, whether it is a phone) as typed: `TELEGRAM_ID ROLE`, or
    `--phone NUMBER ROLE`; a one-line error else."""
    if args.phone is not None and len(args.target) != 1:
        raise CommandError("with --phone, give only the role: roles set --phone NUMBER ROLE")
    if args.phone is None and len(args.target) != 2:
        raise CommandError("give a Telegram user id and a role (roles set TELEGRAM_ID ROLE), or --phone NUMBER ROLE")
    *telegram, role = args.target
    if telegram and not (telegram[0].isascii() and telegram[0].isdigit()):
        raise CommandError(f"{telegram[0]!r} is not a Telegram user id (digits only; they see it with /id)")
    if role not in (Role.WORKER, Role.STAFF, Role.ADMIN, Role.OFFICER):
        raise CommandError(f"role {role!r} is not one of: worker, staff, admin")
    if args.phone is not None:
        return Role(role), typed_phone(args.phone), True
    return Role(role), telegram[0], False


async def _contact(session: AsyncSession, who: str, by_phone: bool) -> Contact | None:
    """The account named by the Telegram id, or the one known to own the phone (None: nobody yet)."""
    from bot.services.contacts import find_contact
    from bot.services.roles import known_by_phone

    return await known_by_phone(session, who) if by_phone else await find_contact(session, "telegram", who)


async def _grant_by_phone(settings: Settings, session: AsyncSession, phone: str, role: Role) -> None:
    """Nobody is known to own the number yet: the role waits for them (worker: what waited for it ends)."""
    from bot.cli.officers import waiting_for
    from bot.services.roles import RoleError, grant_to_phone, withdraw_phone_grants

    if role is Role.OFFICER:
        raise RoleError("an officer needs regions: use `bpu-bot officers add --phone`")
    if role is Role.WORKER:
        ended = await withdraw_phone_grants(session, phone, utcnow())
        print(f"nobody is known by {mask_phone(phone)}; {ended} waiting grants withdrawn")
        return
    invite = await grant_to_phone(session, phone, role, command_line_actor(), utcnow())
    print(f"{role} role waits for {mask_phone(phone)}")
    print(waiting_for(settings, invite.expires_at), file=sys.stderr)


async def _invite(settings: Settings, role_name: str) -> None:
    from bot.cli.officers import invite_links
    from bot.services.audit import record_event
    from bot.services.officers import INVITE_LIFETIME, create_invite

    if role_name not in (Role.STAFF, Role.ADMIN):
        raise CommandError(f"role {role_name!r} is not one of: staff, admin (officers: `bpu-bot officers invite`)")
    role = Role(role_name)
    async with database(settings) as sessions, sessions.begin() as session:
        actor = command_line_actor()
        payload = await create_invite(session, actor.label[:32], utcnow(), role=role)
        await record_event(session, actor, "role", utcnow(), change="invite", role=role)
        links = await invite_links(settings, payload)  # before the commit: no invite nobody can open
    for link in links:
        print(link)
    until = (utcnow() + INVITE_LIFETIME).astimezone(settings.tz)
    print(f"makes its user {role}: send it to them only; works once, until {until:%Y-%m-%d %H:%M}", file=sys.stderr)


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
