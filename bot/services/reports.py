"""Files staff and officers open in a spreadsheet: a campaign's per-recipient delivery report (CSV) and lead
lists (CSV or Excel), headers and labels in the reader's language.

Both formats are written as the rows arrive, so memory stays flat whatever the size: CSV line by line, Excel
through XlsxWriter's constant-memory mode (each row goes to a temporary file as soon as it is complete).
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Literal, overload
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.models import FollowUpKind, FollowUpStatus, LeadStatus, Occupation
from bot.phone import display_phone
from bot.services.deliveries import delivery_report
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
    "receipt",
    "replied",
    "interested",
)


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula (= + - @, tab, carriage return) is kept as text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def write_delivery_report(
    session: AsyncSession, campaign_id: int, t: Translator, tz: ZoneInfo, out: IO[str]
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
                t(f"broadcast.receipt.{delivery.receipt}") if delivery.receipt else "",  # WhatsApp's reports
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
MINUTES_KEPT = 10_000  # rows come in the order they were made, so recent minutes are the ones met again
Progress = Callable[[int], None]  # told the number of rows written so far, once per chunk


class LocalTimes:
    """Stored UTC instants as naive local times, as fast as a million rows need.

    SQLite gives them as stored text, which is read as is (the typed columns' conversion was half of an
    export's time); the zone's offset is looked up once per UTC hour, when it is the same at both ends of
    the hour (always, except in the hour of a clock change, which is converted value by value).
    """

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.offsets: dict[str, timedelta | None] = {}
        # CSV's "YYYY-MM-DD HH:MM" per stored minute: a lead's consent comes in the minute it was made.
        self.minutes: dict[str, str] = {}

    @overload
    def local(self, value: None) -> None: ...
    @overload
    def local(self, value: datetime | str) -> datetime: ...
    @overload
    def local(self, value: datetime | str | None) -> datetime | None: ...
    def local(self, value: datetime | str | None) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            return value.astimezone(self.tz).replace(tzinfo=None)
        hour = value[:13]
        offset: timedelta | None | Literal[False] = self.offsets.get(hour, False)
        if offset is False:
            offset = self.offsets[hour] = self._steady_offset(hour)
        moment = datetime.fromisoformat(value)
        if offset is None:
            return moment.replace(tzinfo=UTC).astimezone(self.tz).replace(tzinfo=None)
        return moment + offset

    def _steady_offset(self, hour: str) -> timedelta | None:
        start = datetime.fromisoformat(f"{hour}:00").replace(tzinfo=UTC)
        offsets = {moment.astimezone(self.tz).utcoffset() for moment in (start, start + timedelta(minutes=59))}
        return offsets.pop() if len(offsets) == 1 else None

    def text(self, value: datetime | str | None) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            return self.local(value).isoformat(" ", "minutes")
        minute = value[:16]
        text = self.minutes.get(minute)
        if text is None:
            if len(self.minutes) >= MINUTES_KEPT:
                self.minutes.clear()
            text = self.minutes[minute] = self.local(minute).isoformat(" ", "minutes")
        return text


class LeadLabels:
    """Every label a lead list shows, translated once rather than once per row."""

    def __init__(self, t: Translator):
        self.headers = [t(f"export.column.{column}") for column in LEAD_COLUMNS]
        self.occupations = {o.value: t(f"export.occupation.{o}") for o in Occupation}
        self.statuses = {s.value: t(f"interest.status.{s}") for s in LeadStatus}
        kinds = {k.value: t(f"export.followup.{k}") for k in FollowUpKind}
        results = {s.value: t(f"export.followup_status.{s}") for s in FollowUpStatus}
        # An officer's call outcome, in the words of the lead status it sets.
        outcomes = {outcome: self.statuses[status] for outcome, status in CALL_OUTCOMES.items()}
        self.followups = {
            (kind, status, outcome): f"{kind_label}: {outcomes.get(outcome or '', result)}"
            for kind, kind_label in kinds.items()
            for status, result in results.items()
            for outcome in (None, *CALL_OUTCOMES)
        }
        self.sheet = t("export.sheet")

    def cells(self, line: LeadLine, moment: Callable[[Any], Any], text: Callable[[str], str]) -> list[Any]:
        """The row's cells; `moment` turns a stored time into the cell's, `text` guards what people typed
        (names, codes: the rest is the bot's own words and times)."""
        # Unpacked by position: a row's attributes by name cost more than the rest of the row's work.
        (
            created_at, name, phone, occupation, region, status, officer, followup_kind, followup_status,
            followup_outcome, source, channel, locale, consent_at, consent_version, stopped_at,
        ) = line  # fmt: skip
        followup = ""
        if followup_kind is not None:
            followup = self.followups.get((followup_kind, followup_status, followup_outcome)) or self.followups.get(
                (followup_kind, followup_status, None), followup_kind
            )
        return [
            moment(created_at),
            text(name),
            text(phone),
            display_phone(phone),
            self.occupations.get(occupation, occupation),
            region,
            self.statuses.get(status, status),
            text(officer) if officer else "",
            followup,
            text(source) if source else "",
            channel,
            locale,
            moment(consent_at),
            consent_version or "",
            moment(stopped_at),
        ]


async def write_leads_csv(
    chunks: AsyncIterator[list[LeadLine]], t: Translator, tz: ZoneInfo, out: IO[str], progress: Progress | None = None
) -> int:
    """RFC 4180 CSV (the caller opens `out` with newline="" and chooses the byte-order mark); every text cell
    a spreadsheet would run as a formula is kept as text."""
    labels, moment = LeadLabels(t), LocalTimes(tz).text
    writer = csv.writer(out)
    writer.writerow(labels.headers)
    rows = 0
    async for chunk in chunks:
        writer.writerows(labels.cells(line, moment, spreadsheet_safe) for line in chunk)
        rows += len(chunk)
        if progress is not None:
            progress(rows)
    return rows


async def write_leads_xlsx(
    chunks: AsyncIterator[list[LeadLine]],
    t: Translator,
    tz: ZoneInfo,
    target: str | IO[bytes],
    progress: Progress | None = None,
    sheet_rows: int = SHEET_ROWS,
) -> int:
    """An Excel workbook: text cells always text (never a formula, number or link), times as real dates a
    spreadsheet can filter, and a new sheet with the headers again each time one is full."""
    labels, moment = LeadLabels(t), LocalTimes(tz).local

    workbook = xlsxwriter.Workbook(
        target,
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
    sheet: Any  # xlsxwriter's Worksheet (the library ships no types), made with the first row
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
                sheet.write_row(row_in_sheet, 0, labels.cells(line, moment, str))
                row_in_sheet += 1
            rows += len(chunk)
            if progress is not None:
                progress(rows)
        if sheet is None:  # no rows: still a workbook with its headers
            workbook.add_worksheet(labels.sheet).write_row(0, 0, labels.headers, bold)
    except BaseException:
        workbook.close()  # removes its temporary files; the caller discards what was written
        raise
    # Zipping the sheets takes seconds for a million rows: in a thread, so a bot serving chats goes on meanwhile.
    await asyncio.to_thread(workbook.close)
    return rows
