"""`bpu-bot export leads ...`: a lead list as CSV or Excel from the server's command line.

Whoever runs this has the database, so the list may hold every region. The file appears only once complete
(written beside it, then renamed), readable by its owner only, and only after the export is in the audit
log. Every mistake is one line on stderr with exit code 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from bot.cli.common import (
    CommandError,
    add_bom_option,
    add_delimiter_option,
    bar,
    database,
    one_line_errors,
    record_file_export,
    remind_to_delete,
    replaced_when_written,
)
from bot.config import SUPPORTED_LOCALES, Settings
from bot.models import LeadStatus, Occupation
from bot.services.exports import DELIMITERS, FORMATS, ExportError, LeadFilter
from bot.services.segments import CHANNELS

REDRAW_SECONDS = 0.2


def add_parser(commands: Any) -> None:
    export = one_line_errors(commands.add_parser("export", help="lead lists as CSV or Excel files"))
    sub = export.add_subparsers(dest="export_command", required=True, metavar="COMMAND")
    leads = one_line_errors(sub.add_parser("leads", help="every lead matching the filters, oldest first"))
    leads.add_argument("--output", required=True, metavar="FILE", help="the file to write (.csv or .xlsx)")
    leads.add_argument("--format", choices=FORMATS, help="csv or xlsx (default: from the --output file name)")
    leads.add_argument("--since", metavar="DATE", help="leads from this local date on, e.g. 2026-11-01")
    leads.add_argument("--until", metavar="DATE", help="leads up to this local date, included")
    leads.add_argument("--region", action="append", metavar="NAME", help="a kabupaten/kota (repeatable)")
    leads.add_argument("--occupation", metavar="|".join(Occupation))
    leads.add_argument("--status", metavar="|".join(LeadStatus), help="the code word the file's status column shows")
    leads.add_argument("--source", metavar="CODE", help="an officer's code (ptg-...) or a campaign (cmp-<id>)")
    leads.add_argument("--channel", metavar="|".join(CHANNELS))
    leads.add_argument("--lang", choices=SUPPORTED_LOCALES, help="language of the headers and labels (default: id)")
    add_bom_option(leads)
    add_delimiter_option(leads)


def run(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(export_leads(settings, args, sys.stderr))


def _date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{flag} {value!r} is not a date such as 2026-11-01") from None


def _format(args: argparse.Namespace, target: Path) -> str:
    suffix = target.suffix.lower().lstrip(".")
    if args.format is None and suffix not in FORMATS:
        raise CommandError(f"--output {target} ends neither in .csv nor .xlsx; add --format csv or --format xlsx")
    if args.format is not None and suffix in FORMATS and suffix != args.format:
        raise CommandError(f"--format {args.format} but --output {target} ends in .{suffix}")
    return args.format or suffix


def lead_filter(settings: Settings, args: argparse.Namespace) -> LeadFilter:
    """The filters as typed, each checked; region names in any letter case."""
    from bot.content import load_content, match_region

    known = load_content().with_regions(settings.regions).regions
    regions = []
    for name in args.region or ():
        region = match_region(name, known)
        if region is None:
            raise CommandError(f"--region {name!r} is not one of: {', '.join(known)}")
        regions.append(region)
    try:
        return LeadFilter(
            since=_date(args.since, "--since"),
            until=_date(args.until, "--until"),
            regions=tuple(dict.fromkeys(regions)),
            occupation=args.occupation and args.occupation.lower(),
            status=args.status and args.status.lower(),
            source=args.source,
            channel=args.channel and args.channel.lower(),
        )
    except ExportError as error:
        raise CommandError(str(error)) from None


def _progress(out: TextIO, total: int, clock: Callable[[], float] = time.monotonic) -> Callable[[int], None]:
    """Redraw "[####------]  40% 400000 of 1000000 rows" at most every REDRAW_SECONDS, and at the end."""
    drawn = [0.0]

    def show(rows: int) -> None:
        if rows < total and clock() - drawn[0] < REDRAW_SECONDS:
            return
        drawn[0] = clock()
        out.write(f"\r{bar(rows / total if total else 1)} {rows} of {total} rows")
        out.flush()

    return show


async def export_leads(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from bot.content import load_content
    from bot.i18n import Messages, load_catalogs
    from bot.services.exports import count_leads, stream_leads
    from bot.services.reports import write_leads_csv, write_leads_xlsx

    target = Path(args.output)
    file_format = _format(args, target)
    chosen = lead_filter(settings, args)
    lang = args.lang or settings.default_locale
    t = Messages(load_content(), load_catalogs())[lang]
    tz = settings.tz
    async with database(settings) as sessions:
        encoding = None if file_format == "xlsx" else "utf-8-sig" if args.bom else "utf-8"
        with replaced_when_written(target, encoding) as file:
            async with sessions() as session:
                total = await count_leads(session, chosen, tz)
                progress = _progress(out, total) if out.isatty() else None
                chunks = stream_leads(session, chosen, tz)
                if file_format == "xlsx":
                    rows = await write_leads_xlsx(chunks, t, tz, file, progress)
                else:
                    rows = await write_leads_csv(chunks, t, tz, file, progress, DELIMITERS[args.delimiter])
            if progress is not None:
                out.write("\n")
            await record_file_export(sessions, rows, format=file_format, filters=chosen.to_json(), file=target.name)
    print(f"{rows} leads written to {target}")
    remind_to_delete(target)
    return rows
