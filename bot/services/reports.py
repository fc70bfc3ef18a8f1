"""Files staff and officers open in a spreadsheet: a campaign's per-recipient delivery report (CSV) and lead
lists (CSV or Excel), headers and labels in the reader's language.

Both formats are written as the rows arrive, so memory stays flat whatever the size: CSV line by line, Excel
through XlsxWriter's constant-memory mode (each row goes to a temporary file as soon as it is complete).
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, Literal, overload
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.models import LeadStatus, Occupation
from bot.phone import display_phone
from bot.services.deliveries import delivery_report
from bot.services.exports import DELIMITERS, FIELD, RECORD, LeadLine

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
    session: AsyncSession,
    campaign_id: int,
    t: Translator,
    tz: ZoneInfo,
    out: IO[str],
    delimiter: str = DELIMITERS["semicolon"],
) -> int:
    """The per-recipient delivery report as CSV (RFC 4180 quoting), headers in the reader's language; `;` by
    default, as the lead lists (write_leads_csv says why)."""
    writer = csv.writer(out, delimiter=delimiter)
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
    "call_time",
    "status",
    "status_label",
    "check_back",
    "last_call",
    "last_call_at",
    "notes",
    "history",
    "officer",
    "source",
    "channel",
    "language",
    "consent_at",
    "consent_version",
    "stopped_at",
)
SHEET_ROWS = 1_048_576  # Excel's rows per sheet, the header row included
_TIME_COLUMNS = frozenset(("created", "last_call_at", "consent_at", "stopped_at"))
CHECK_BACK = LEAD_COLUMNS.index("check_back")
TIME_WIDTH, DAY_WIDTH = 16, 11  # "2026-11-23 10:00" and "2026-11-23", with a little room
WIDTH_MAX = 50  # characters: a long history or note stays readable in its cell, and the columns on screen
MINUTES_KEPT = 10_000  # rows come in the order they were made, so recent minutes are the ones met again
STEPS_JOINED = " | "  # between the steps of a lead in one cell
# Who took a step, when not an officer (whose name is shown): the first part of LeadEvent.actor.
ACTORS = {
    "worker": "export.actor.worker",
    "system": "export.actor.system",
    "staff": "export.actor.staff",
    "admin": "export.actor.admin",
}
Progress = Callable[[int], None]  # told the number of rows written so far, once per chunk
NO_STORY: tuple[None, None, None, None] = (None, None, None, None)  # a lead no step was recorded for (yet)


class LocalTimes:
    """Stored UTC instants as naive local times, as fast as a million rows need.

    SQLite gives them as stored text, which is read as is (the typed conversion was half of an export's
    time); the zone's offset is looked up once per UTC hour, when it is the same at both ends of the hour
    (always, except in the hour of a clock change, which is converted value by value). A text with its
    offset (a time PostgreSQL turned into text) is converted as it says.
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
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                return self._from_utc_text(value, moment)
            value = moment
        return value.astimezone(self.tz).replace(tzinfo=None)

    def _from_utc_text(self, value: str, moment: datetime) -> datetime:
        hour = value[:13]
        offset: timedelta | None | Literal[False] = self.offsets.get(hour, False)
        if offset is False:
            offset = self.offsets[hour] = self._steady_offset(hour)
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
            text = self.minutes[minute] = self.local(value).isoformat(" ", "minutes")
        return text

    def day(self, value: datetime | str | None) -> date | None:
        return None if value is None else self.local(value).date()


class LeadLabels:
    """Every label a lead list shows, translated once rather than once per row. A status is its code word
    (baru, dihubungi, akan_daftar...), the one `--status` takes, with its label in the reader's language beside it."""

    def __init__(self, t: Translator, times: LocalTimes):
        self.headers = [t(f"export.column.{column}") for column in LEAD_COLUMNS]
        self.occupations = {o.value: t(f"export.occupation.{o}") for o in Occupation}
        self.statuses = {s.value: t(f"interest.status.{s}") for s in LeadStatus}
        self.call_times: dict[str, str] = {}  # filled as met: the choices are the conversation's (handlers/interest.py)
        self.actors = {actor: t(key) for actor, key in ACTORS.items()}
        self.sheet = t("export.sheet")
        self.times = times
        self.t = t

    def call_time(self, value: str) -> str:
        label = self.call_times.get(value)
        if label is None:
            key = f"interest.call_time.{value}"
            label = self.call_times[value] = self.t(key) if self.t.has(key) else value
        return label

    def story(self, history: str) -> tuple[str | None, str | None, str, str]:
        """From a lead's steps: the last call's outcome and its stored time (the last step an officer, staff or
        an admin took), the notes with each step's date, and the steps with time and who, oldest first."""
        steps = sorted((record.split(FIELD) for record in history.split(RECORD)), key=lambda step: int(step[0]))
        last_call: str | None = None
        last_call_at: str | None = None
        notes, lines = [], []
        for _, at, status, actor, officer, note in steps:
            moment = self.times.text(at)
            role = actor.partition(":")[0]
            lines.append(f"{moment} {status} ({officer or self.actors.get(role, role)})")
            if note:
                notes.append(f"{moment[:10]} {status}: {note}")
            if role not in ("worker", "system"):
                last_call, last_call_at = status, at
        return last_call, last_call_at, STEPS_JOINED.join(notes), STEPS_JOINED.join(lines)

    def cells(
        self,
        line: LeadLine,
        moment: Callable[[Any], Any],
        day: Callable[[Any], Any],
        text: Callable[[str], str],
    ) -> list[Any]:
        """The row's cells; `moment` and `day` turn a stored time into the cell's, `text` guards what people
        typed (names, codes, notes: the rest is the bot's own words and times). An empty cell is None, which
        both writers leave empty: no call is made for what is not there."""
        # Unpacked by position: a row's attributes by name cost more than the rest of the row's work.
        (
            created_at, name, phone, occupation, region, call_time, status, officer, check_back, history,
            source, channel, locale, consent_at, consent_version, stopped_at,
        ) = line  # fmt: skip
        last_call, last_call_at, notes, steps = self.story(history) if history else NO_STORY
        return [
            moment(created_at),
            text(name),
            text(phone),
            display_phone(phone),
            self.occupations.get(occupation, occupation),
            region,
            self.call_times.get(call_time) or self.call_time(call_time),
            status,
            self.statuses.get(status, status),
            day(check_back) if check_back is not None else None,
            last_call,
            moment(last_call_at) if last_call_at is not None else None,
            text(notes) if notes else None,
            text(steps) if steps else None,
            text(officer) if officer else None,
            text(source) if source else None,
            channel,
            locale,
            moment(consent_at) if consent_at is not None else None,
            consent_version,
            moment(stopped_at) if stopped_at is not None else None,
        ]


async def write_leads_csv(
    chunks: AsyncIterator[list[LeadLine]],
    t: Translator,
    tz: ZoneInfo,
    out: IO[str],
    progress: Progress | None = None,
    delimiter: str = DELIMITERS["semicolon"],
) -> int:
    """RFC 4180 CSV (the caller opens `out` with newline="" and chooses the byte-order mark); every text cell
    a spreadsheet would run as a formula is kept as text. `;` by default: Excel set to Indonesian (decimal
    comma) splits columns on it, and on a comma only when set to English."""
    times = LocalTimes(tz)
    labels = LeadLabels(t, times)

    def day(value: datetime | str) -> str:
        return times.text(value)[:10]

    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(labels.headers)
    rows = 0
    async for chunk in chunks:
        writer.writerows(labels.cells(line, times.text, day, spreadsheet_safe) for line in chunk)
        rows += len(chunk)
        if progress is not None:
            progress(rows)
    return rows


class _Sheet:
    """One sheet of a lead list being written: the header frozen, an autofilter over the header and the rows,
    and each column as wide as its longest cell on the sheet (WIDTH_MAX at most), measured as rows go by."""

    def __init__(self, workbook: Any, name: str, headers: list[str], bold: Any, day: Any, capacity: int):
        self.sheet = workbook.add_worksheet(name)
        self.sheet.write_row(0, 0, headers, bold)
        self.sheet.freeze_panes(1, 0)
        self.day = day
        self.next_row, self.capacity = 1, capacity
        self.widths = [len(header) for header in headers]

    @property
    def room(self) -> int:
        return self.capacity - self.next_row

    def write(self, rows: list[list[Any]]) -> None:
        for cells in rows:
            self.sheet.write_row(self.next_row, 0, cells)
            if cells[CHECK_BACK] is not None:  # a date, not a time: its own format
                self.sheet.write_datetime(self.next_row, CHECK_BACK, cells[CHECK_BACK], self.day)
            self.next_row += 1
        for number, column in enumerate(zip(*rows, strict=True)):
            if LEAD_COLUMNS[number] in _TIME_COLUMNS:
                self.widths[number] = max(self.widths[number], TIME_WIDTH)
            elif number == CHECK_BACK:
                self.widths[number] = max(self.widths[number], DAY_WIDTH)
            else:
                self.widths[number] = max(self.widths[number], *map(len, filter(None, column)), 0)

    def finish(self) -> None:
        """Widths and filter once the rows are known (XlsxWriter writes both when the workbook closes)."""
        for number, width in enumerate(self.widths):
            self.sheet.set_column(number, number, min(width + 2, WIDTH_MAX))
        self.sheet.autofilter(0, 0, self.next_row - 1, len(self.widths) - 1)


async def write_leads_xlsx(
    chunks: AsyncIterator[list[LeadLine]],
    t: Translator,
    tz: ZoneInfo,
    target: str | IO[bytes],
    progress: Progress | None = None,
    sheet_rows: int = SHEET_ROWS,
    folder: str | None = None,
) -> int:
    """An Excel workbook: text cells always text (never a formula, number or link), times as real dates a
    spreadsheet can filter, and a new sheet with the headers again each time one is full; on every sheet
    the header stays in view, filters sit on it and the columns fit what they hold.

    `folder` is where XlsxWriter keeps its temporary files (the system's by default): they hold the rows, and
    a write cut short leaves them behind, so a caller that may be cut short gives a folder it removes."""
    times = LocalTimes(tz)
    labels = LeadLabels(t, times)
    workbook = xlsxwriter.Workbook(
        target,
        {
            **({"tmpdir": folder} if folder is not None else {}),
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "default_date_format": "yyyy-mm-dd hh:mm",
        },
    )
    bold = workbook.add_format({"bold": True})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})

    def new_sheet() -> _Sheet:
        number = len(workbook.worksheets()) + 1
        name = labels.sheet if number == 1 else f"{labels.sheet} {number}"
        return _Sheet(workbook, name, labels.headers, bold, day, sheet_rows)

    sheet: _Sheet | None = None
    rows = 0
    try:
        async for chunk in chunks:
            written = [labels.cells(line, times.local, times.day, str) for line in chunk]
            while written:
                if sheet is None or sheet.room == 0:
                    if sheet is not None:
                        sheet.finish()
                    sheet = new_sheet()
                part, written = written[: sheet.room], written[sheet.room :]
                sheet.write(part)
            rows += len(chunk)
            if progress is not None:
                progress(rows)
        (sheet or new_sheet()).finish()  # no rows: still a workbook with its headers
    except BaseException:
        workbook.close()  # removes its temporary files; the caller discards what was written
        raise
    # Zipping the sheets takes seconds for a million rows: in a thread, so a bot serving chats goes on meanwhile.
    await asyncio.to_thread(workbook.close)
    return rows
