"""A campaign's deliveries as rows: claimed in batches, their outcomes recorded, given up, and reported.

The sending engine (bot/workers/broadcaster.py) only claims and records rows through these functions; whether
a person may still be messaged is the segments' rule (bot/services/segments.may_receive), read again at the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import execute_dml
from bot.models import INTERRUPTED, Contact, Delivery, DeliveryStatus, Lead, Via
from bot.services.campaigns import CAMPAIGN_PREFIX
from bot.services.followups import mark_unreachable
from bot.services.segments import Segment, lead_goes_on, may_receive

MARKETING_STOPPED = "marketing_stopped"  # a delivery's outcome when WhatsApp says the person opted out
SPAM_LIMITED = "spam_limited"  # a delivery's outcome when Meta's spam rate limit stopped the campaign
LEAD_ENDED = "lead_ended"  # a delivery's outcome when the person's lead ended after the campaign started


# ------------------------------------------------------------------------------------------- the sending


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
    session: AsyncSession,
    campaign_id: int,
    segment: Segment,
    consent_versions: tuple[str, ...],
    now: datetime,
    limit: int,
) -> list[Recipient]:
    """Mark up to `limit` due deliveries `sending` and return those still allowed to receive the message.

    Whether a person may still be messaged is read in the claim's own transaction, so a STOP committed
    before it is always seen; those rows become `skipped`, and so do those whose lead ended meanwhile (unless
    the campaign's `segment` chose that status). The caller commits before anything is sent.
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
            may_receive(consent_versions),
            lead_goes_on(segment),
            Contact.last_seen_at,
            Delivery.via,
        )
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    recipients: list[Recipient] = []
    skipped: dict[str, list[int]] = {"no_longer_reachable": [], LEAD_ENDED: []}
    for delivery_id, contact_id, channel, external_id, locale, serial, attempts, reachable, goes_on, seen, via in rows:
        if reachable and goes_on:
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
            skipped["no_longer_reachable" if not reachable else LEAD_ENDED].append(delivery_id)
    for outcome, delivery_ids in skipped.items():
        if delivery_ids:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(delivery_ids))
                .values(status=DeliveryStatus.SKIPPED, outcome=outcome)
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


async def give_up_interrupted_deliveries(session: AsyncSession) -> int:
    """Rows a crash left in `sending` may have reached the person: `unknown`, never resent."""
    result = await execute_dml(
        session,
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING)
        .values(status=DeliveryStatus.UNKNOWN, outcome=INTERRUPTED),
    )
    return result.rowcount


# ------------------------------------------------------------------------------------------- stopped people


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


async def cancel_deliveries(session: AsyncSession, contact_id: int, outcome: str) -> int:
    """STOP: the person's place in every campaign still to come is given up in the same transaction."""
    result = await execute_dml(
        session,
        update(Delivery)
        .where(Delivery.contact_id == contact_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, outcome=outcome),
    )
    return result.rowcount


# ------------------------------------------------------------------------------------------- the report


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
