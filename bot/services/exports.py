"""Lead lists for staff and officers: which leads (filters), streamed from the database, and the chat's
background exports as rows.

Erased people are gone with their rows, so they never appear; workers who stopped messages do, with the time
they stopped. An officer's export is limited to their regions here, so a forged button cannot widen it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, and_, case, func, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import SUPPORTED_LOCALES
from bot.db import execute_dml
from bot.models import (
    INTERRUPTED,
    Consent,
    ConsentPurpose,
    Contact,
    Export,
    ExportStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Lead,
    LeadEvent,
    LeadStatus,
    Occupation,
    Officer,
)
from bot.services.audit import Actor
from bot.services.leads import is_source_code
from bot.services.officers import OutsideRegions, limit_regions
from bot.services.segments import CHANNELS

FORMATS = ("csv", "xlsx")
# CSV's column separators. A semicolon by default: Excel set to Indonesian (whose decimal separator is a comma)
# splits a CSV file's columns only on it; a comma suits other tools and Excel set to English.
DELIMITERS = {"semicolon": ";", "comma": ","}


class ExportError(Exception):
    """An export that cannot be made as asked; the message is one line for the command line."""


@dataclass(frozen=True)
class LeadFilter:
    """Which leads: created in [since, until] (local dates, both included), and the rest equal to the value
    (`officer`: the id of the officer the lead is assigned to). Empty fields mean "any"; several regions mean
    any of them."""

    since: date | None = None
    until: date | None = None
    regions: tuple[str, ...] = ()
    occupation: str | None = None
    status: str | None = None
    source: str | None = None
    channel: str | None = None
    officer: int | None = None

    def __post_init__(self) -> None:
        checks = {"occupation": tuple(Occupation), "status": tuple(LeadStatus), "channel": CHANNELS}
        for key, allowed in checks.items():
            value = getattr(self, key)
            if value is not None and value not in allowed:
                raise ExportError(f"{key} {value!r} is not one of: {', '.join(allowed)}")
        if self.source is not None and not is_source_code(self.source):
            raise ExportError(f"source {self.source!r} is not a code such as ptg-ab12cd or cmp-3")
        if self.since and self.until and self.since > self.until:
            raise ExportError(f"the period starts ({self.since}) after it ends ({self.until})")

    def to_json(self) -> dict[str, Any]:
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {
            key: value.isoformat() if isinstance(value, date) else list(value) if key == "regions" else value
            for key, value in values.items()
            if value
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeadFilter:
        values = {**data, "regions": tuple(data.get("regions", ()))}
        for key in ("since", "until"):
            if values.get(key):
                values[key] = date.fromisoformat(values[key])
        return cls(**values)

    def with_value(self, key: str, value: Any) -> LeadFilter:
        return replace(self, **{key: value})


def limit_to_regions(chosen: LeadFilter, allowed: list[str]) -> LeadFilter:
    """An officer's export: their regions when none was chosen; refused when one is not theirs."""
    try:
        return chosen.with_value("regions", limit_regions(chosen.regions, allowed))
    except OutsideRegions as error:
        raise ExportError(str(error)) from None


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def lead_conditions(chosen: LeadFilter, tz: ZoneInfo) -> list[Any]:
    conditions = []
    if chosen.since:
        conditions.append(Lead.created_at >= _local_midnight(chosen.since, tz))
    if chosen.until:
        conditions.append(Lead.created_at < _local_midnight(chosen.until + timedelta(days=1), tz))
    if chosen.regions:
        conditions.append(Lead.region.in_(chosen.regions))
    for key in ("occupation", "status", "channel"):
        if value := getattr(chosen, key):
            conditions.append(getattr(Lead, key) == value)
    if chosen.source:
        conditions.append(Lead.source_code == chosen.source)
    if chosen.officer is not None:
        conditions.append(Lead.officer_id == chosen.officer)
    return conditions


async def count_leads(session: AsyncSession, chosen: LeadFilter, tz: ZoneInfo) -> int:
    query = select(func.count()).select_from(Lead).where(*lead_conditions(chosen, tz))
    return (await session.execute(query)).scalar_one()


class LeadLine(Protocol):
    """One row of a lead list, as read (a database row with these names): labels and local times are the
    writer's business. A row, not an object made per lead, because a million of them are made per export."""

    created_at: datetime | str  # UTC; as SQLite stores it (text), or a datetime from other databases
    name: str
    phone: str
    occupation: str
    region: str
    call_time: str
    status: str
    officer: str | None
    check_back: datetime | str | None  # when an `akan_daftar` lead's open call is due
    history: str | None  # every step of the lead (see HISTORY_FIELDS), in no particular order
    source: str | None
    channel: str
    locale: str
    consent_at: datetime | str | None
    consent_version: str | None
    stopped_at: datetime | str | None

    def __iter__(self) -> Iterator[Any]: ...  # the writers unpack a row by position, in the order above


# A lead's history comes as one text per lead, made by the database (one query, however many steps): its steps
# separated by RECORD, each step's fields by FIELD. Control characters, which typed text never holds (bot/typed.py).
FIELD, RECORD = "\x1f", "\x1e"
HISTORY_FIELDS = ("id", "at", "to_status", "actor", "officer", "note")


def _history() -> Any:
    """The lead's steps as one text, the officer who took each one named (actor "officer:<id>")."""
    by = aliased(Officer)
    officer_id = case((LeadEvent.actor.like("officer:%"), func.substr(LeadEvent.actor, 9).cast(Integer)))
    fields = (
        LeadEvent.id.cast(String),
        LeadEvent.at.cast(String),
        LeadEvent.to_status,
        LeadEvent.actor,
        func.coalesce(by.name, ""),
        func.coalesce(LeadEvent.note, ""),
    )
    step = reduce(lambda text, field: text + FIELD + field, fields)
    return (
        select(func.aggregate_strings(step, RECORD))
        .select_from(LeadEvent)
        .outerjoin(by, by.id == officer_id)
        .where(LeadEvent.lead_id == Lead.id)
        .correlate(Lead)
        .scalar_subquery()
    )


def _check_back() -> Any:
    """When an `akan_daftar` lead's officer checks back: the due time of its open call."""
    open_call = and_(FollowUp.kind == FollowUpKind.CALL, FollowUp.status == FollowUpStatus.PENDING)
    # Chosen inside the aggregate, not in WHERE: there, SQLite would find the lead's follow-ups through the
    # (status, kind) index, every pending call of every lead, rather than through the lead's own few.
    due = (
        select(func.min(case((open_call, FollowUp.due_at))))
        .where(FollowUp.lead_id == Lead.id)
        .correlate(Lead)
        .scalar_subquery()
    )
    return case((Lead.status == LeadStatus.AKAN_DAFTAR, due))


def _lead_lines(chosen: LeadFilter, tz: ZoneInfo):
    consent = aliased(Consent)
    # The latest consent to be called, found through its index.
    last_consent = (
        select(Consent.id)
        .where(
            Consent.contact_id == Lead.contact_id,
            Consent.purpose == ConsentPurpose.LEAD_CONTACT,
            Consent.granted.is_(True),
        )
        .order_by(Consent.id.desc())
        .limit(1)
        .correlate(Lead)
        .scalar_subquery()
    )

    def as_stored(column: Any, name: str) -> Any:
        # Times as the database gives them, converted by the writer (bot.services.reports.LocalTimes): on SQLite the
        # typed conversion, value by value, was half of an export's time.
        return type_coerce(column, String).label(name)

    return (
        select(
            as_stored(Lead.created_at, "created_at"),
            Lead.name,
            Lead.phone,
            Lead.occupation,
            Lead.region,
            Lead.call_time,
            Lead.status,
            Officer.name.label("officer"),
            as_stored(_check_back(), "check_back"),
            _history().label("history"),
            Lead.source_code.label("source"),
            Lead.channel,
            Lead.locale,
            as_stored(consent.decided_at, "consent_at"),
            consent.text_version.label("consent_version"),
            as_stored(Contact.messages_stopped_at, "stopped_at"),
        )
        .join(Contact, Contact.id == Lead.contact_id)
        .outerjoin(Officer, Officer.id == Lead.officer_id)
        .outerjoin(consent, consent.id == last_consent)
        .where(*lead_conditions(chosen, tz))
        .order_by(Lead.id)
    )


async def stream_leads(
    session: AsyncSession, chosen: LeadFilter, tz: ZoneInfo, chunk: int = 2000
) -> AsyncIterator[list[LeadLine]]:
    """The leads in the order they came, in chunks: memory stays the same whatever the number of rows.

    Read as plain rows through the session's connection (the ORM's row handling would double the cost), and
    the event loop gets its turn after every chunk: SQLite runs on the loop's thread, and a bot exporting a
    million rows must go on answering workers meanwhile."""
    connection = await session.connection()
    result = await connection.stream(_lead_lines(chosen, tz).execution_options(yield_per=chunk))
    async for rows in result.partitions():
        yield cast(list[LeadLine], rows)  # rows of _lead_lines' select, whose labels are LeadLine's names
        await asyncio.sleep(0)


# ------------------------------------------------------------------------------------------ chat exports


async def request_export(
    session: AsyncSession,
    requested_by: Contact,
    actor: Actor,
    chosen: LeadFilter,
    file_format: str,
    locale: str,
    now: datetime,
) -> Export:
    """A lead list to be written and sent in the background (the exporter picks it up after the commit)."""
    if file_format not in FORMATS or locale not in SUPPORTED_LOCALES:
        raise ExportError(f"format {file_format!r} or language {locale!r} is not supported")
    export = Export(
        requested_by=requested_by.id,
        actor=actor.label,
        actor_role=actor.role,
        filters=chosen.to_json(),
        format=file_format,
        locale=locale,
        status=ExportStatus.PENDING,
        created_at=now,
    )
    session.add(export)
    await session.flush()
    return export


async def claim_export(session: AsyncSession) -> Export | None:
    """The oldest waiting export, taken with one conditional UPDATE so two exporters never both write it."""
    waiting = select(Export.id).where(Export.status == ExportStatus.PENDING).order_by(Export.id).limit(1)
    export_id = (await session.execute(waiting)).scalar_one_or_none()
    if export_id is None:
        return None
    claimed = await execute_dml(
        session,
        update(Export)
        .where(Export.id == export_id, Export.status == ExportStatus.PENDING)
        .values(status=ExportStatus.RUNNING),
    )
    return await session.get(Export, export_id) if claimed.rowcount == 1 else None


async def settle_export(
    session: AsyncSession, export_id: int, status: ExportStatus, now: datetime, rows: int | None, outcome: str | None
) -> None:
    await session.execute(
        update(Export)
        .where(Export.id == export_id)
        .values(status=status, rows=rows, outcome=outcome, finished_at=None if status == ExportStatus.SENDING else now)
    )


async def recover_interrupted_exports(session: AsyncSession) -> tuple[int, int]:
    """At start-up: exports stopped while writing are written again (nothing had left); those stopped while
    their file was being sent become `unknown` and are not sent again. Returns (restarted, unknown)."""
    restarted = await execute_dml(
        session, update(Export).where(Export.status == ExportStatus.RUNNING).values(status=ExportStatus.PENDING)
    )
    unknown = await execute_dml(
        session,
        update(Export)
        .where(Export.status == ExportStatus.SENDING)
        .values(status=ExportStatus.UNKNOWN, outcome=INTERRUPTED),
    )
    return restarted.rowcount, unknown.rowcount


def filters_of(export: Export) -> LeadFilter:
    return LeadFilter.from_json(export.filters)
