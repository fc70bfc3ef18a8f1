"""Broadcast campaigns: who a segment reaches, the campaign's lifecycle, and its deliveries as rows.

The sending engine (bot/workers/broadcaster.py) only claims and records rows through these functions, so the rules of
who may receive a broadcast live here once: agreed to messages (the current consent text), not stopped, not
unreachable, not an officer, one message per person (a phone number on two channels is one person).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import SUPPORTED_LOCALES
from bot.content import match_region
from bot.db import execute_dml
from bot.models import (
    INTERRUPTED,
    Campaign,
    CampaignStatus,
    Consent,
    ConsentPurpose,
    Contact,
    Delivery,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Lead,
    LeadStatus,
    Occupation,
    Via,
)
from bot.services.followups import mark_unreachable
from bot.services.leads import is_source_code
from bot.services.officers import OutsideRegions, limit_regions
from bot.typed import clean_text

CHANNELS = ("telegram", "whatsapp")
# A broadcast's optional button: the conversation it leads back into (an action) and its label there.
BUTTONS = {"interest": ("interest", "menu.interest"), "calculator": ("calc", "menu.cost")}
CAMPAIGN_PREFIX = "cmp-"  # a lead that came from a campaign's button has source "cmp-<id>"
MARKETING_STOPPED = "marketing_stopped"  # a delivery's outcome when WhatsApp says the person opted out
SPAM_LIMITED = "spam_limited"  # a delivery's outcome when Meta's spam rate limit stopped the campaign
TEXT_MAX = 1000
_OPEN = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class CampaignError(Exception):
    """A campaign that cannot be made or changed as asked; the message is one line for the command line."""


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for. Empty fields mean "anyone"; several regions mean any of them."""

    occupation: str | None = None
    regions: tuple[str, ...] = ()
    status: str | None = None
    lang: str | None = None
    channel: str | None = None
    source: str | None = None
    not_contacted_days: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: list(value) if key == "regions" else value for key, value in asdict(self).items() if value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Segment:
        return cls(**{**data, "regions": tuple(data.get("regions", ()))})

    def with_value(self, key: str, value: Any) -> Segment:
        return Segment(**{**asdict(self), key: value})


def parse_segment(text: str, known_regions: tuple[str, ...]) -> Segment:
    """`occupation=nelayan,region=Mukomuko,region=Kaur,status=baru,lang=id,channel=telegram,source=ptg-ab12cd,
    not_contacted_days=14`: each value checked, a mistake said in one line."""
    values: dict[str, Any] = {}
    regions: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not value:
            raise CampaignError(f"segment part {part!r} is not key=value")
        if key == "region":
            region = match_region(value, known_regions)
            if region is None:
                raise CampaignError(f"region {value!r} is not one of: {', '.join(known_regions)}")
            regions.append(region)
        elif key in values:
            raise CampaignError(f"segment key {key!r} is given twice")
        else:
            values[key] = _segment_value(key, value)
    return Segment(regions=tuple(dict.fromkeys(regions)), **values)


def _segment_value(key: str, value: str) -> Any:
    allowed = {
        "occupation": tuple(Occupation),
        "status": tuple(LeadStatus),
        "lang": SUPPORTED_LOCALES,
        "channel": CHANNELS,
    }
    if key in allowed:
        if value.lower() not in allowed[key]:
            raise CampaignError(f"{key} {value!r} is not one of: {', '.join(allowed[key])}")
        return value.lower()
    if key == "source":
        if not is_source_code(value):
            raise CampaignError(f"source {value!r} is not a code such as ptg-ab12cd")
        return value
    if key == "not_contacted_days":
        if not value.isdigit() or not 1 <= int(value) <= 365:
            raise CampaignError("not_contacted_days must be a whole number of days from 1 to 365")
        return int(value)
    raise CampaignError(
        f"unknown segment key {key!r}; use occupation, region, status, lang, channel, source, not_contacted_days"
    )


def limit_to_regions(segment: Segment, allowed: list[str]) -> Segment:
    """An officer's segment: their regions when none was chosen; refused when one is not theirs."""
    try:
        return segment.with_value("regions", limit_regions(segment.regions, allowed))
    except OutsideRegions as error:
        raise CampaignError(str(error)) from None


# ------------------------------------------------------------------------------------------- the audience


def _person():
    """One person, one message: contacts whose leads share a phone number are one person."""
    return func.coalesce(Lead.phone, cast(Contact.id, String))


def _reachable(consent_version: str):
    """Agreed to messages with the consent text in force, and not withdrawn since; not stopped, not gone."""
    agreed = aliased(Consent)
    later = aliased(Consent)
    # Correlated explicitly: two levels down, SQLAlchemy would otherwise add `contacts` to the FROM again.
    withdrawn_since = (
        select(later.id)
        .where(later.contact_id == Contact.id, later.purpose == ConsentPurpose.REMINDERS, later.id > agreed.id)
        .correlate(Contact, agreed)
        .exists()
    )
    consented = exists().where(
        agreed.contact_id == Contact.id,
        agreed.purpose == ConsentPurpose.REMINDERS,
        agreed.granted.is_(True),
        agreed.text_version == consent_version,
        ~withdrawn_since,
    )
    return and_(
        Contact.messages_stopped_at.is_(None),
        Contact.unreachable_at.is_(None),
        Contact.marketing_stopped_at.is_(None),
        consented,
    )


def _audience(segment: Segment, consent_version: str, now: datetime):
    conditions = [Contact.role.is_(None), _reachable(consent_version)]
    if segment.occupation:
        conditions.append(func.coalesce(Lead.occupation, Contact.occupation) == segment.occupation)
    if segment.regions:
        conditions.append(Lead.region.in_(segment.regions))
    if segment.status:
        conditions.append(Lead.status == segment.status)
    if segment.lang:
        conditions.append(Contact.locale == segment.lang)
    if segment.channel:
        conditions.append(Contact.channel == segment.channel)
    if segment.source:
        conditions.append(func.coalesce(Lead.source_code, Contact.source_code) == segment.source)
    if segment.not_contacted_days:
        since = now - timedelta(days=segment.not_contacted_days)
        broadcast = exists().where(
            Delivery.contact_id == Contact.id, Delivery.status == DeliveryStatus.SENT, Delivery.sent_at >= since
        )
        reminded = exists().where(
            FollowUp.contact_id == Contact.id,
            FollowUp.kind == FollowUpKind.REMINDER,
            FollowUp.status == FollowUpStatus.SENT,
            FollowUp.updated_at >= since,
        )
        conditions += [~broadcast, ~reminded]
    return select().select_from(Contact).outerjoin(Lead, Lead.contact_id == Contact.id).where(*conditions)


@dataclass(frozen=True)
class Audience:
    total: int
    by_locale: dict[str, int] = field(default_factory=dict)
    # WhatsApp: people who wrote within the last 24 hours (free text) and the others (a template, or nobody
    # when none is configured). Counted now; the engine decides again for each message as it goes out.
    whatsapp_text: int = 0
    whatsapp_template: int = 0


# WhatsApp takes free-form messages only this long after the person's last message (bot/channels/whatsapp.py).
WHATSAPP_WINDOW = timedelta(hours=24)


async def count_audience(session: AsyncSession, segment: Segment, consent_version: str, now: datetime) -> Audience:
    """How many people a segment reaches now, in which language, and on WhatsApp how: nothing is written."""
    query = _audience(segment, consent_version, now).add_columns(Contact.locale, func.count(distinct(_person())))
    by_locale = {locale: count for locale, count in await session.execute(query.group_by(Contact.locale))}
    inside = Contact.last_seen_at >= now - WHATSAPP_WINDOW
    whatsapp = (
        _audience(segment, consent_version, now)
        .where(Contact.channel == "whatsapp")
        .add_columns(inside, func.count(distinct(_person())))
        .group_by(inside)
    )
    by_window = {bool(open_): count for open_, count in await session.execute(whatsapp)}
    return Audience(sum(by_locale.values()), by_locale, by_window.get(True, 0), by_window.get(False, 0))


# ------------------------------------------------------------------------------------------- the lifecycle


async def create_campaign(
    session: AsyncSession,
    *,
    created_by: str,
    author_contact_id: int | None,
    segment: Segment,
    text_id: str,
    text_en: str | None,
    button: str | None,
    starts_at: datetime,
    now: datetime,
) -> Campaign:
    # From a file on the command line too, not only from a chat: cleaned the same way (bot/typed.py).
    text_id = clean_text(text_id)
    text_en = clean_text(text_en) if text_en is not None else None
    for text in (text_id, text_en):
        if text is not None and not 0 < len(text.strip()) <= TEXT_MAX:
            raise CampaignError(f"a message must have 1 to {TEXT_MAX} characters")
    if button is not None and button not in BUTTONS:
        raise CampaignError(f"button {button!r} is not one of: {', '.join(BUTTONS)}")
    if starts_at < now - timedelta(minutes=1):
        raise CampaignError("the start time is in the past")
    campaign = Campaign(
        created_by=created_by,
        author_contact_id=author_contact_id,
        segment=segment.to_json(),
        text_id=text_id.strip(),
        text_en=text_en.strip() if text_en else None,
        button=button,
        status=CampaignStatus.SCHEDULED,
        starts_at=max(starts_at, now),
        created_at=now,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"there is no campaign {campaign_id} (see `bpu-bot broadcast list`)")
    return campaign


async def start_due_campaigns(session: AsyncSession, consent_version: str, now: datetime) -> list[int]:
    """Scheduled campaigns whose time has come: choose their recipients now and move them to `sending`.

    The status change is conditional, so two processes never both write a campaign's recipients.
    """
    due = select(Campaign.id).where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.starts_at <= now)
    started = []
    for campaign_id in (await session.execute(due.order_by(Campaign.id))).scalars().all():
        taken = await execute_dml(
            session,
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SCHEDULED)
            .values(status=CampaignStatus.SENDING),
        )
        if taken.rowcount != 1:
            continue
        campaign = await session.get_one(Campaign, campaign_id)
        segment = Segment.from_json(campaign.segment)
        audience = _audience(segment, consent_version, now).add_columns(
            literal(campaign_id),
            func.min(Contact.id),
            literal(DeliveryStatus.PENDING.value),
            literal(now, Campaign.starts_at.type),
        )
        deliveries = Delivery.__table__
        assert isinstance(deliveries, Table)  # a mapped class's own table (SQLAlchemy types it as any FromClause)
        inserted = await execute_dml(
            session,
            deliveries.insert().from_select(
                # In the order people joined: the same on every database.
                ["campaign_id", "contact_id", "status", "not_before"],
                audience.group_by(_person()).order_by(func.min(Contact.id)),
            ),
        )
        campaign.recipients = inserted.rowcount
        started.append(campaign_id)
    return started


async def sending_campaigns(session: AsyncSession) -> list[Campaign]:
    query = select(Campaign).where(Campaign.status == CampaignStatus.SENDING).order_by(Campaign.id)
    return list((await session.execute(query)).scalars())


async def next_start(session: AsyncSession) -> datetime | None:
    query = select(func.min(Campaign.starts_at)).where(Campaign.status == CampaignStatus.SCHEDULED)
    return (await session.execute(query)).scalar_one_or_none()


async def pause_campaign(session: AsyncSession, campaign: Campaign) -> None:
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
        raise CampaignError(f"campaign {campaign.id} is {campaign.status}: only a scheduled or sending one pauses")
    campaign.status = CampaignStatus.PAUSED


async def resume_campaign(session: AsyncSession, campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.PAUSED:
        raise CampaignError(f"campaign {campaign.id} is {campaign.status}: only a paused one resumes")
    # One paused before its time goes back to waiting for it; one paused while sending carries on.
    campaign.status = CampaignStatus.SCHEDULED if campaign.recipients is None else CampaignStatus.SENDING


async def cancel_campaign(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """Stop for good: what was not sent yet never will be. Returns how many deliveries were cancelled."""
    if campaign.status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
        raise CampaignError(f"campaign {campaign.id} is already {campaign.status}")
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = now
    result = await execute_dml(
        session,
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED, outcome="cancelled"),
    )
    return result.rowcount


async def finish_if_done(session: AsyncSession, campaign_id: int, now: datetime) -> bool:
    """A sending campaign with nothing pending or in flight is done; True the one time it becomes so."""
    still_open = exists().where(Delivery.campaign_id == campaign_id, Delivery.status.in_(_OPEN))
    result = await execute_dml(
        session,
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING, ~still_open)
        .values(status=CampaignStatus.DONE, finished_at=now),
    )
    return result.rowcount == 1


async def cancel_deliveries(session: AsyncSession, contact_id: int, outcome: str) -> int:
    """STOP: the person's place in every campaign still to come is given up in the same transaction."""
    result = await execute_dml(
        session,
        update(Delivery)
        .where(Delivery.contact_id == contact_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, outcome=outcome),
    )
    return result.rowcount


# ------------------------------------------------------------------------------------------- the deliveries


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    contact_id: int
    channel: str
    external_id: str
    locale: str
    serial: int
    attempts: int  # this claim included
    last_seen_at: datetime | None = None  # the person's last message (WhatsApp's 24-hour window)
    template_only: bool = False  # WhatsApp said the window was closed when it went as text (131047)


async def claim_deliveries(
    session: AsyncSession, campaign_id: int, consent_version: str, now: datetime, limit: int
) -> list[Recipient]:
    """Mark up to `limit` due deliveries `sending` and return those still allowed to receive the message.

    Whether a person may still be messaged is read in the claim's own transaction, so a STOP committed
    before it is always seen; those rows become `skipped`. The caller commits before anything is sent.
    """
    due = (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.not_before <= now,
        )
        .order_by(Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: two engines take different rows, neither waits
    )
    claimed = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    )
    ids = list(claimed.scalars())
    if not ids:
        return []
    rows = await session.execute(
        select(
            Delivery.id,
            Contact.id,
            Contact.channel,
            Contact.external_id,
            Contact.locale,
            Contact.state_serial,
            Delivery.attempts,
            _reachable(consent_version),
            Contact.last_seen_at,
            Delivery.via,
        )
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    recipients, skipped = [], []
    for delivery_id, contact_id, channel, external_id, locale, serial, attempts, reachable, seen, via in rows:
        if reachable:
            recipients.append(
                Recipient(
                    delivery_id,
                    contact_id,
                    channel,
                    external_id,
                    locale,
                    serial,
                    attempts,
                    seen,
                    via == Via.TEMPLATE,
                )
            )
        else:
            skipped.append(delivery_id)
    if skipped:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(skipped))
            .values(status=DeliveryStatus.SKIPPED, outcome="no_longer_reachable")
        )
    return recipients


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed delivery."""

    delivery_id: int
    contact_id: int
    status: DeliveryStatus
    outcome: str | None = None
    message_id: str | None = None
    retry_at: datetime | None = None  # with status pending: not before this moment (a 429, a network error)
    attempts: int = 0  # with retry_at: the attempts that count (a 429 gives its attempt back)
    via: str | None = None  # WhatsApp: text or template
    error_code: int | None = None  # the platform's, when it refused the message


async def record_outcomes(session: AsyncSession, outcomes: list[Outcome], now: datetime) -> None:
    """Write a batch of results in one transaction; blocked people are flagged unreachable everywhere.

    Only rows still this engine's are written: `sending`, or `unknown` because a new leader took over while
    this one was sending (its answers say what became of them). A WhatsApp status callback processed before
    this record (a failure reported at once) has already said what became of the message, and wins.
    """
    table = Delivery.__table__
    assert isinstance(table, Table)  # a mapped class's own table (SQLAlchemy types it as any FromClause)
    rows = [
        {
            "b_id": o.delivery_id,
            "status": o.status,
            "outcome": o.outcome,
            "platform_message_id": o.message_id,
            "sent_at": now if o.status == DeliveryStatus.SENT else None,
            "via": o.via,
            "error_code": o.error_code,
            # A retry moves the time and counts its attempt; a final outcome keeps both as they are.
            "not_before": o.retry_at,
            "attempts": o.attempts if o.retry_at is not None else None,
        }
        for o in outcomes
    ]
    if rows:
        await session.execute(
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                or_(
                    table.c.status == DeliveryStatus.SENDING,
                    and_(table.c.status == DeliveryStatus.UNKNOWN, table.c.outcome == INTERRUPTED),
                ),
            )
            .values(
                status=bindparam("status"),
                outcome=bindparam("outcome"),
                platform_message_id=bindparam("platform_message_id"),
                sent_at=bindparam("sent_at"),
                via=bindparam("via"),
                error_code=bindparam("error_code"),
                not_before=func.coalesce(bindparam("not_before", type_=table.c.not_before.type), table.c.not_before),
                attempts=func.coalesce(bindparam("attempts", type_=Integer), table.c.attempts),
            ),
            rows,
        )
    if blocked := [o.contact_id for o in outcomes if o.outcome == "blocked"]:
        await mark_unreachable(session, blocked, now)
    if stopped := [o.contact_id for o in outcomes if o.outcome == MARKETING_STOPPED]:
        await stop_marketing(session, stopped, now)


async def stop_marketing(session: AsyncSession, contact_ids: list[int], now: datetime) -> None:
    """WhatsApp says these people stopped marketing messages from this business (131050): broadcasts leave
    them out from now on; their place in campaigns still to come is given up."""
    await session.execute(
        update(Contact)
        .where(Contact.id.in_(contact_ids), Contact.marketing_stopped_at.is_(None))
        .values(marketing_stopped_at=now)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.contact_id.in_(contact_ids), Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, outcome=MARKETING_STOPPED)
    )


async def pause_for_spam_limit(session: AsyncSession, campaign_id: int) -> Campaign | None:
    """Meta's spam rate limit (131048) stops a campaign: paused, so its author decides when to resume.
    Returns the campaign the one time it is paused for it (the author is told once)."""
    result = await execute_dml(
        session,
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
        .values(status=CampaignStatus.PAUSED),
    )
    return await session.get(Campaign, campaign_id) if result.rowcount == 1 else None


async def give_up_interrupted_deliveries(session: AsyncSession) -> int:
    """Rows a crash left in `sending` may have reached the person: `unknown`, never resent."""
    result = await execute_dml(
        session,
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.UNKNOWN, outcome=INTERRUPTED),
    )
    return result.rowcount


# ------------------------------------------------------------------------------------------- progress, reports


@dataclass(frozen=True)
class Progress:
    sent: int = 0
    failed: int = 0  # refused by the platform, given up after retries, or unknown (may have arrived)
    blocked: int = 0
    skipped: int = 0  # stopped messages or lost consent before their turn; cancelled with the campaign
    waiting: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.blocked + self.skipped + self.waiting

    @property
    def done(self) -> int:
        return self.total - self.waiting

    @property
    def share_done(self) -> float:
        """From 0 to 1; a campaign with nobody in it is complete."""
        return self.done / self.total if self.total else 1.0


async def campaign_progress(session: AsyncSession, campaign_ids: list[int]) -> dict[int, Progress]:
    """Counts per campaign in one query (the claim index covers it)."""
    # A literal, not a parameter: PostgreSQL must see the grouped expression in the select list as the same.
    blocked = Delivery.outcome == literal_column("'blocked'")
    query = (
        select(Delivery.campaign_id, Delivery.status, blocked, func.count())
        .where(Delivery.campaign_id.in_(campaign_ids))
        .group_by(Delivery.campaign_id, Delivery.status, blocked)
    )
    counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    for campaign_id, status, is_blocked, count in await session.execute(query):
        bucket = _bucket(status, bool(is_blocked))
        counts[campaign_id][bucket] = counts[campaign_id].get(bucket, 0) + count
    return {campaign_id: Progress(**values) for campaign_id, values in counts.items()}


def _bucket(status: str, blocked: bool) -> str:
    if status in _OPEN:
        return "waiting"
    if status == DeliveryStatus.SENT:
        return "sent"
    if status in (DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED):
        return "skipped"
    return "blocked" if blocked else "failed"


async def list_campaigns(session: AsyncSession, created_by: str | None = None, limit: int = 50) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
    if created_by is not None:
        query = query.where(Campaign.created_by == created_by)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class ReportLine:
    delivery: Delivery
    contact: Contact
    lead: Lead | None

    @property
    def replied(self) -> bool:
        """The person wrote or tapped something after the broadcast reached them."""
        sent_at = self.delivery.sent_at
        return sent_at is not None and self.contact.last_seen_at > sent_at

    def interested(self, campaign_id: int) -> bool:
        return self.lead is not None and self.lead.source_code == f"{CAMPAIGN_PREFIX}{campaign_id}"


async def delivery_report(session: AsyncSession, campaign_id: int, chunk: int = 1000):
    """Per-recipient lines in delivery order, streamed in chunks so a large campaign is never all in memory."""
    query = (
        select(Delivery, Contact, Lead)
        .join(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(Lead, Lead.contact_id == Contact.id)
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
        .execution_options(yield_per=chunk)
    )
    async for delivery, contact, lead in await session.stream(query):
        yield ReportLine(delivery, contact, lead)


def credit_source(argument: str) -> str | None:
    """The campaign code a broadcast's button carries ("cmp-12"), or None for anything else."""
    return argument if re.fullmatch(rf"{CAMPAIGN_PREFIX}\d{{1,9}}", argument) else None
