"""Files staff and officers open in a spreadsheet: a campaign's per-recipient delivery report (CSV) and lead
lists (CSV or Excel), headers and labels in the reader's language.

Both formats are written as the rows arrive, so memory stays flat whatever the size: CSV line by line, Excel
through XlsxWriter's constant-memory mode (each row goes to a temporary file as soon as it is complete).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.models import FollowUpKind, FollowUpStatus, LeadStatus, Occupation
from bot.phone import display_phone
from bot.services.campaigns import delivery_report
from bot.services.exports import LeadLine
from bot.services.tasks import CALL_OUTCOMES

REPORT_COLUMNS = (
    "number",
    "name",
    "phone",
    "region",
    "channel",
    "language",
    "status",
    "detail",
    "sent_at",
    "replied",
    "interested",
)


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula (= + - @, tab, carriage return) is kept as text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def write_delivery_report(
    session: AsyncSession, campaign_id: int, t: Translator, tz: ZoneInfo, out: TextIO
) -> int:
    """The per-recipient delivery report as CSV (RFC 4180 quoting), headers in the reader's language."""
    writer = csv.writer(out)
    writer.writerow([t(f"broadcast.column.{column}") for column in REPORT_COLUMNS])
    yes, no = t("broadcast.yes"), t("broadcast.no")
    rows = 0
    async for line in delivery_report(session, campaign_id):
        rows += 1
        delivery, contact, lead = line.delivery, line.contact, line.lead
        writer.writerow(
            spreadsheet_safe(cell)
            for cell in (
                str(rows),
                lead.name if lead else "",
                display_phone(lead.phone) if lead else "",
                lead.region if lead else "",
                contact.channel,
                contact.locale,
                t(f"broadcast.delivery.{delivery.status}"),
                delivery.outcome or "",
                delivery.sent_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if delivery.sent_at else "",
                yes if line.replied else no,
                yes if line.interested(campaign_id) else no,
            )
        )
    return rows


LEAD_COLUMNS = (
    "created",
    "name",
    "phone",
    "phone_local",
    "occupation",
    "region",
    "status",
    "officer",
    "last_followup",
    "source",
    "channel",
    "language",
    "consent_at",
    "consent_version",
    "stopped_at",
)
SHEET_ROWS = 1_048_576  # Excel's rows per sheet, the header row included
_TIME_COLUMNS = frozenset(("created", "consent_at", "stopped_at"))
Progress = Callable[[int], None]  # told the number of rows written so far, once per chunk


class LeadLabels:
    """Every label a lead list shows, translated once rather than once per row."""

    def __init__(self, t: Translator):
        self.headers = [t(f"export.column.{column}") for column in LEAD_COLUMNS]
        self.occupations = {o.value: t(f"export.occupation.{o}") for o in Occupation}
        self.statuses = {s.value: t(f"interest.status.{s}") for s in LeadStatus}
        kinds = {k.value: t(f"export.followup.{k}") for k in FollowUpKind}
        results = {s.value: t(f"export.followup_status.{s}") for s in FollowUpStatus}
        outcomes = {o: t(f"officer.outcome.{o}") for o in CALL_OUTCOMES}
        self.followups = {
            (kind, status, outcome): f"{kind_label}: {outcomes.get(outcome or '', result)}"
            for kind, kind_label in kinds.items()
            for status, result in results.items()
            for outcome in (None, *CALL_OUTCOMES)
        }
        self.sheet = t("export.sheet")

    def cells(self, line: LeadLine, moment: Callable[[datetime | None], Any]) -> list[Any]:
        followup = ""
        if line.followup_kind is not None:
            key = (line.followup_kind, line.followup_status, line.followup_outcome)
            followup = self.followups.get(key) or self.followups[(line.followup_kind, line.followup_status, None)]
        return [
            moment(line.created_at),
            line.name,
            line.phone,
            display_phone(line.phone),
            self.occupations.get(line.occupation, line.occupation),
            line.region,
            self.statuses.get(line.status, line.status),
            line.officer or "",
            followup,
            line.source or "",
            line.channel,
            line.locale,
            moment(line.consent_at),
            line.consent_version or "",
            moment(line.stopped_at),
        ]


async def write_leads_csv(
    chunks: AsyncIterator[list[LeadLine]], t: Translator, tz: ZoneInfo, out: TextIO, progress: Progress | None = None
) -> int:
    """RFC 4180 CSV (the caller opens `out` with newline="" and chooses the byte-order mark); every text cell
    a spreadsheet would run as a formula is kept as text."""
    labels = LeadLabels(t)

    def moment(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value is not None else ""

    writer = csv.writer(out)
    writer.writerow(labels.headers)
    rows = 0
    async for chunk in chunks:
        writer.writerows([spreadsheet_safe(cell) for cell in labels.cells(line, moment)] for line in chunk)
        rows += len(chunk)
        if progress is not None:
            progress(rows)
    return rows


async def write_leads_xlsx(
    chunks: AsyncIterator[list[LeadLine]],
    t: Translator,
    tz: ZoneInfo,
    path: str,
    progress: Progress | None = None,
    sheet_rows: int = SHEET_ROWS,
) -> int:
    """An Excel workbook: text cells always text (never a formula, number or link), times as real dates a
    spreadsheet can filter, and a new sheet with the headers again each time one is full."""
    labels = LeadLabels(t)

    def moment(value: datetime | None) -> datetime | None:
        return value.astimezone(tz).replace(tzinfo=None) if value is not None else None

    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "default_date_format": "yyyy-mm-dd hh:mm",
        },
    )
    bold = workbook.add_format({"bold": True})
    time_columns = [i for i, column in enumerate(LEAD_COLUMNS) if column in _TIME_COLUMNS]
    sheet, row_in_sheet, rows = None, sheet_rows, 0
    try:
        async for chunk in chunks:
            for line in chunk:
                if row_in_sheet == sheet_rows:
                    number = len(workbook.worksheets()) + 1
                    sheet = workbook.add_worksheet(labels.sheet if number == 1 else f"{labels.sheet} {number}")
                    sheet.write_row(0, 0, labels.headers, bold)
                    for column in time_columns:
                        sheet.set_column(column, column, 16)
                    row_in_sheet = 1
                sheet.write_row(row_in_sheet, 0, labels.cells(line, moment))
                row_in_sheet += 1
            rows += len(chunk)
            if progress is not None:
                progress(rows)
        if sheet is None:  # no rows: still a workbook with its headers
            workbook.add_worksheet(labels.sheet).write_row(0, 0, labels.headers, bold)
    finally:
        workbook.close()
    return rows
