"""`bpu-bot broadcast ...`: staff's broadcasts from the server's command line.

These commands write and read campaigns in the database; the running bot (`bpu-bot run`) does the sending, so
a campaign made here goes out at the bot's pace, in its send window, and pause/resume/cancel reach it at its
next batch. Every mistake is one line on stderr with exit code 2 and nothing written. Phone numbers are never
printed; the report file has them, since it is for the officers who call. Following a campaign's progress on
the terminal is bot/cli/broadcast_follow.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli.broadcast_follow import local_time, watch
from bot.cli.common import (
    CommandError,
    add_bom_option,
    add_delimiter_option,
    command_line_actor,
    database,
    one_line_errors,
    print_table,
    record_file_export,
    remind_to_delete,
    replaced_when_written,
)
from bot.config import SUPPORTED_LOCALES, Settings
from bot.models import utcnow
from bot.services.audit import record_event
from bot.services.campaigns import BUTTONS, TEXT_MAX
from bot.services.segments import CampaignError, Segment

TEXT_PREVIEW = 40  # characters of a campaign's text in `broadcast list`
LIST_LIMIT = 50
GRACE = timedelta(minutes=1)  # `--at` typed for the current minute is "now", as the service allows
READ_LIMIT = 64 * 1024  # characters read from a text file: enough to say it is too long, never a whole disk


# ------------------------------------------------------------------------------------------ the parser


def add_parser(commands: Any) -> None:
    """`broadcast` and its subcommands, on the subparsers of `bpu-bot`'s parser."""
    broadcast = one_line_errors(
        commands.add_parser("broadcast", help="send one message to many workers (the running bot sends it)")
    )
    sub = broadcast.add_subparsers(dest="broadcast_command", required=True, metavar="COMMAND")

    create = one_line_errors(sub.add_parser("create", help="a new campaign, now or at a local time"))
    create.add_argument(
        "--text-file", required=True, metavar="FILE", help=f"the message in Indonesian (UTF-8, 1 to {TEXT_MAX} chars)"
    )
    create.add_argument(
        "--text-file-en", metavar="FILE", help="its English version (without it, English readers get Indonesian)"
    )
    create.add_argument(
        "--segment",
        required=True,
        metavar="K=V[,K=V]",
        help="who: occupation, region (repeatable), status, lang, channel, source, not_contacted_days; "
        '"" for everyone who agreed to messages',
    )
    create.add_argument("--at", metavar="TIME", help="local start time, e.g. 2026-12-01T08:00 (default: now)")
    create.add_argument("--button", metavar="|".join(BUTTONS), help="a button under the message")
    create.add_argument("--no-wait", action="store_true", help="do not follow the sending on the terminal")

    one_line_errors(sub.add_parser("list", help=f"the newest {LIST_LIMIT} campaigns as a table, with their counts"))

    show = one_line_errors(sub.add_parser("show", help="one campaign: segment, texts, counts"))
    show.add_argument("id", metavar="ID", help="the campaign's ID (see `broadcast list`)")
    show.add_argument("--follow", action="store_true", help="then follow its progress (on a terminal)")

    for name, what in (
        ("pause", "pause a scheduled or sending campaign"),
        ("resume", "resume a paused campaign"),
        ("cancel", "stop a campaign for good: what was not sent never will be"),
    ):
        change = one_line_errors(sub.add_parser(name, help=what))
        change.add_argument("id", metavar="ID", help="the campaign's ID (see `broadcast list`)")

    report = one_line_errors(sub.add_parser("report", help="the per-recipient CSV report (names, phones)"))
    report.add_argument("id", metavar="ID", help="the campaign's ID (see `broadcast list`)")
    report.add_argument("--output", required=True, metavar="FILE.csv", help="the file to write")
    report.add_argument("--lang", metavar="|".join(SUPPORTED_LOCALES), help="language of the column names")
    add_bom_option(report)
    add_delimiter_option(report)


# ------------------------------------------------------------------------------------------ the entry


def run(settings: Settings, args: argparse.Namespace) -> None:
    """Run one `broadcast` subcommand; mistakes are raised as CommandError (one line)."""
    command = args.broadcast_command
    try:
        if command == "create":
            campaign_id = asyncio.run(create(settings, args))
            if not args.no_wait and sys.stdout.isatty():
                watch(settings, campaign_id)
        elif command == "list":
            asyncio.run(list_command(settings))
        elif command == "show":
            campaign_id = asyncio.run(show(settings, args))
            if args.follow and sys.stdout.isatty():
                watch(settings, campaign_id)
        elif command == "report":
            asyncio.run(report(settings, args))
        else:
            asyncio.run(change(settings, args))
    except CampaignError as error:
        raise CommandError(str(error)) from None


def _campaign_id(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise CommandError(f"campaign ID {value!r} is not a number (see `bpu-bot broadcast list`)")
    if int(value) >= 2**31:
        raise CommandError(f"there is no campaign {value} (see `bpu-bot broadcast list`)")
    return int(value)


# ------------------------------------------------------------------------------------------ create


def read_text(path: str, flag: str) -> str:
    """A message from a UTF-8 text file (a byte-order mark is dropped), checked like the chat checks it."""
    try:
        with open(path, encoding="utf-8-sig") as file:
            text = file.read(READ_LIMIT + 1)
    except FileNotFoundError:
        raise CommandError(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{flag} {path} is a folder, not a text file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{flag} {path} is not UTF-8 text: save it as UTF-8") from None
    except OSError as error:
        raise CommandError(f"{flag} {path} cannot be read: {error.strerror or error}") from None
    text = text.strip()
    if not text:
        raise CommandError(f"{flag} {path} is empty")
    if len(text) > TEXT_MAX:
        shown = f"more than {READ_LIMIT}" if len(text) > READ_LIMIT else str(len(text))
        raise CommandError(f"{flag} {path} has {shown} characters; a broadcast has at most {TEXT_MAX}")
    return text


def parse_start(value: str | None, settings: Settings, now: datetime) -> datetime:
    """`--at`: a local date and time in the settings' zone (2026-12-01T08:00 or "2026-12-01 08:00")."""
    if value is None:
        return now
    text = " ".join(value.replace("T", " ", 1).split())
    moment = None
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}", text):
        with contextlib.suppress(ValueError):
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=settings.tz)
    if moment is None:
        raise CommandError(f"--at {value!r} is not a local date and time such as 2026-12-01T08:00")
    if moment < now - GRACE:
        raise CommandError(
            f"--at {value} is in the past (it is now {local_time(now, settings)} in {settings.timezone})"
        )
    return moment


def _button(value: str | None) -> str | None:
    if value is not None and value not in BUTTONS:
        raise CommandError(f"--button {value!r} is not one of: {', '.join(BUTTONS)}")
    return value


async def create(settings: Settings, args: argparse.Namespace) -> int:
    """Check everything typed, then count the audience and create the campaign in one transaction."""
    from bot.content import load_content
    from bot.services.campaigns import create_campaign
    from bot.services.followups import Cadence
    from bot.services.segments import count_audience, parse_segment

    text_id = read_text(args.text_file, "--text-file")
    text_en = read_text(args.text_file_en, "--text-file-en") if args.text_file_en is not None else None
    button = _button(args.button)
    content = load_content()
    try:
        segment = parse_segment(args.segment, content.with_regions(settings.regions).regions)
    except CampaignError as error:
        raise CommandError(f"--segment: {error}") from None
    now = utcnow()
    starts_at = parse_start(args.at, settings, now)
    async with database(settings) as sessions, sessions.begin() as session:
        audience = await count_audience(session, segment, content.consent_versions, now)
        if audience.total == 0:
            raise CommandError(
                "no one in this segment can receive broadcasts (agreed to messages with the current consent "
                "text, not stopped, reachable): nothing was created"
            )
        campaign = await create_campaign(
            session,
            created_by="cli",
            author_contact_id=None,
            segment=segment,
            text_id=text_id,
            text_en=text_en,
            button=button,
            starts_at=starts_at,
            now=now,
        )
        await record_event(
            session,
            command_line_actor(),
            "broadcast",
            now,
            rows=audience.total,
            campaign=campaign.id,
            change="create",
            segment=segment.to_json(),
            starts_at=starts_at.isoformat(),
        )
    print(
        f"campaign {campaign.id} created: {audience.total} recipients now, "
        f"starts {local_time(campaign.starts_at, settings, zone=True)}"
    )
    if audience.left_out:
        reasons = ", ".join(f"{count} {status}" for status, count in audience.left_out.items())
        print(
            f"left out because of their lead's status: {reasons} (to reach them, add status=<that status> to --segment)"
        )
    if audience.whatsapp_text or audience.whatsapp_template:
        outside = (
            f"{audience.whatsapp_template} by the template {template.name}"
            if (template := settings.template("broadcast")) is not None
            else f"{audience.whatsapp_template} skipped (no WHATSAPP_TEMPLATE_BROADCAST for those outside 24 hours)"
        )
        print(f"WhatsApp: {audience.whatsapp_text} as free text (wrote within 24 hours), {outside}", file=sys.stderr)
    cadence = Cadence.from_settings(settings)
    if not cadence.in_window(campaign.starts_at):
        start, end = (moment.strftime("%H:%M") for moment in settings.send_window)
        print(
            f"outside the send hours ({start}-{end}): sending begins "
            f"{local_time(cadence.next_allowed(campaign.starts_at), settings, zone=True)}",
            file=sys.stderr,
        )
    return campaign.id


# ------------------------------------------------------------------------------------------ list, show


def _one_line(text: str, limit: int) -> str:
    """The first `limit` characters, newlines (any whitespace run) as one space; "…" when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


async def list_command(settings: Settings) -> None:
    from bot.services.campaigns import campaign_progress, list_campaigns

    async with database(settings) as sessions, sessions() as session:
        campaigns = await list_campaigns(session, limit=LIST_LIMIT)
        progress = await campaign_progress(session, [campaign.id for campaign in campaigns])
    header = (
        "ID", "STATUS", "STARTS", "BY", "RECIPIENTS", "SENT", "FAILED", "BLOCKED", "SKIPPED", "WAITING", "TEXT"
    )  # fmt: skip
    rows = []
    for campaign in campaigns:
        counts = progress[campaign.id]
        rows.append(
            (
                str(campaign.id),
                campaign.status,
                local_time(campaign.starts_at, settings),
                campaign.created_by,
                "-" if campaign.recipients is None else str(campaign.recipients),
                *(str(n) for n in (counts.sent, counts.failed, counts.blocked, counts.skipped, counts.waiting)),
                _one_line(campaign.text_id, TEXT_PREVIEW),
            )
        )
    print_table(header, rows)
    newest = f", the newest {LIST_LIMIT}" if len(campaigns) == LIST_LIMIT else ""
    print(f"{len(campaigns)} campaigns{newest} ({settings.timezone})", file=sys.stderr)


def segment_text(data: dict[str, Any]) -> str:
    """A stored segment as `--segment` takes it: occupation=nelayan,region=Mukomuko,region=Kaur."""
    parts = []
    for key, value in asdict(Segment.from_json(data)).items():
        if key == "regions":
            parts += [f"region={region}" for region in value]
        elif value:
            parts.append(f"{key}={value}")
    return ",".join(parts) or "(everyone who agreed to messages)"


async def show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.campaigns import campaign_progress, get_campaign

    campaign_id = _campaign_id(args.id)
    async with database(settings) as sessions, sessions() as session:
        campaign = await get_campaign(session, campaign_id)
        progress = (await campaign_progress(session, [campaign_id]))[campaign_id]
    fields = [
        ("campaign", str(campaign.id)),
        ("status", campaign.status),
        ("by", campaign.created_by),
        ("created", local_time(campaign.created_at, settings, zone=True)),
        ("starts", local_time(campaign.starts_at, settings, zone=True)),
        ("finished", local_time(campaign.finished_at, settings, zone=True)),
        ("segment", segment_text(campaign.segment)),
        ("button", campaign.button or "-"),
        ("recipients", "-" if campaign.recipients is None else str(campaign.recipients)),
        ("sent", str(progress.sent)),
        ("failed", str(progress.failed)),
        ("blocked", str(progress.blocked)),
        ("skipped", str(progress.skipped)),
        ("waiting", str(progress.waiting)),
        ("text_id", campaign.text_id),
        ("text_en", campaign.text_en or "- (English readers get the Indonesian text)"),
    ]
    width = max(len(name) for name, _ in fields) + 2
    for name, value in fields:
        first, *rest = value.splitlines() or [""]
        print(f"{name.ljust(width)}{first}")
        for line in rest:
            print(f"{'':{width}}{line}".rstrip())
    return campaign.id


# ------------------------------------------------------------------------------------------ pause, resume, cancel


async def change(settings: Settings, args: argparse.Namespace) -> None:
    from bot.services.campaigns import cancel_campaign, get_campaign, pause_campaign, resume_campaign

    campaign_id = _campaign_id(args.id)
    async with database(settings) as sessions, sessions.begin() as session:
        campaign = await get_campaign(session, campaign_id)
        if args.broadcast_command == "pause":
            await pause_campaign(session, campaign)
            said = f"campaign {campaign_id} paused"
        elif args.broadcast_command == "resume":
            await resume_campaign(session, campaign)
            said = f"campaign {campaign_id} resumed ({campaign.status})"
        else:
            cancelled = await cancel_campaign(session, campaign, utcnow())
            if campaign.recipients is None:
                said = f"campaign {campaign_id} cancelled before it started"
            else:
                plural = "" if cancelled == 1 else "s"
                said = f"campaign {campaign_id} cancelled: {cancelled} message{plural} will not be sent"
        change = {"pause": "pause", "resume": "resume"}.get(args.broadcast_command, "cancel")
        await record_event(session, command_line_actor(), "broadcast", utcnow(), campaign=campaign_id, change=change)
    print(said)  # once committed


# ------------------------------------------------------------------------------------------ report


async def report(settings: Settings, args: argparse.Namespace) -> None:
    """The per-recipient CSV (`write_delivery_report`), headers in the chosen language, BOM for Excel."""
    from bot.content import load_content
    from bot.i18n import Messages, load_catalogs
    from bot.services.campaigns import get_campaign
    from bot.services.exports import DELIMITERS
    from bot.services.reports import write_delivery_report

    campaign_id = _campaign_id(args.id)
    lang = args.lang or settings.default_locale
    if lang not in SUPPORTED_LOCALES:
        raise CommandError(f"--lang {lang!r} is not one of: {', '.join(SUPPORTED_LOCALES)}")
    t = Messages(load_content(), load_catalogs())[lang]
    target = Path(args.output)
    async with database(settings) as sessions:
        with replaced_when_written(target, "utf-8-sig" if args.bom else "utf-8") as file:
            async with sessions() as session:
                await get_campaign(session, campaign_id)
                rows = await write_delivery_report(
                    session, campaign_id, t, settings.tz, file, DELIMITERS[args.delimiter]
                )
            await record_file_export(sessions, rows, report="broadcast", campaign=campaign_id)
    print(f"{rows} rows written to {target}")
    remind_to_delete(target)
