"""What WhatsApp reports about messages after accepting them (status callbacks): receipts and failures.

A callback names the row that sent the message in `biz_opaque_callback_data` ("d:<delivery id>" for a
broadcast, "f:<follow-up id>" for a reminder, an answer or a notice). Callbacks come in any order, and may
come before the engine recorded its own answer: a receipt only moves forward (see models.Receipt), a failure
acts only on a message still thought sent (`sending`, `sent` or `unknown`), and the engine's own record
never overwrites what a callback said first (record_outcomes and settle_followup write only `sending` rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import execute_dml
from bot.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, FollowUp, FollowUpStatus, Receipt, Via
from bot.services.deliveries import MARKETING_STOPPED, SPAM_LIMITED, stop_marketing
from bot.services.followups import mark_unreachable

# WhatsApp's error codes (platforms.md), whether the Graph API answers them at once (bot/channels/whatsapp/sending.py)
# or reports them in a `failed` status (here).
THROUGHPUT = (130429, 80007)  # the number's throughput or the account's rate: everybody backs off
PAIR_RATE = 131056  # too many messages to this one person: only they wait
RATE_LIMITS = (*THROUGHPUT, PAIR_RATE)
SPAM_RATE = 131048  # Meta's spam rate limit: a campaign stops and its author decides
UNDELIVERABLE = 131026
REENGAGEMENT = 131047  # the 24-hour window is closed: a template or nothing
MARKETING_LIMIT = 131049  # this person's marketing-message limit: wait a day
MARKETING_OPT_OUT = 131050
MARKETING_WAIT = timedelta(hours=24)
RATE_WAIT = timedelta(minutes=1)
SPAM_WAIT = timedelta(hours=1)
_RANK = {Receipt.SENT: 1, Receipt.FAILED: 2, Receipt.DELIVERED: 3, Receipt.READ: 4}
_STILL_SENT = {
    Delivery: (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.UNKNOWN),
    FollowUp: (FollowUpStatus.SENDING, FollowUpStatus.SENT, FollowUpStatus.UNKNOWN),
}
_CURRENT_RANK = {table: case(_RANK, value=table.receipt, else_=0) for table in (Delivery, FollowUp)}


@dataclass(frozen=True)
class Report:
    """One status callback, as the channel parsed it."""

    tracking: str | None
    message_id: str
    status: str
    at: datetime
    error_code: int | None = None


@dataclass
class Effects:
    """What the caller acts on beyond the rows: campaigns stopped by the spam limit (their author is told)."""

    spam_limited_campaigns: set[int] = field(default_factory=set)


def _target(tracking: str | None) -> tuple[type[Delivery] | type[FollowUp], int] | None:
    prefix, _, number = (tracking or "").partition(":")
    tables: dict[str, type[Delivery] | type[FollowUp]] = {"d": Delivery, "f": FollowUp}
    table = tables.get(prefix)
    return (table, int(number)) if table is not None and number.isdigit() else None


async def apply_reports(
    session: AsyncSession, reports: list[Report], now: datetime, templates: frozenset[str]
) -> Effects:
    """Apply a batch of callbacks in one transaction. `templates`: the purposes with a template configured
    (a message refused for a closed window goes again as one, or not at all)."""
    effects = Effects()
    for report in reports:
        target = _target(report.tracking)
        if target is None or report.status not in _RANK:
            continue  # a message sent as a reply to the person, or not ours: nothing to record
        table, row_id = target
        rank = _RANK[Receipt(report.status)]
        # A report about another message than the row's latest (the free text a template replaced, a replay
        # of its failure) changes nothing: the row's receipt is about the message it sent last. A row being
        # sent, or unknown, has no message id yet: the report is about the message in flight.
        in_flight = and_(
            table.platform_message_id.is_(None), table.status.in_((DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN))
        )
        same_message = or_(table.platform_message_id == report.message_id, in_flight)
        moved = await execute_dml(
            session,
            update(table)
            .where(table.id == row_id, _CURRENT_RANK[table] < rank, same_message)
            .values(receipt=report.status, receipt_at=report.at, error_code=report.error_code),
        )
        if moved.rowcount != 1:
            continue  # gone (erased), an older report than one already applied, or another message's
        row = await session.get_one(table, row_id)
        assert isinstance(row, Delivery | FollowUp)  # just updated, in this transaction
        if report.status == Receipt.FAILED:
            await _failed(session, row, report, now, templates, effects)
        elif row.status == DeliveryStatus.UNKNOWN:  # (FollowUpStatus's too) and now we know it arrived
            row.status = DeliveryStatus.SENT
            row.platform_message_id = report.message_id
            if isinstance(row, Delivery):
                row.sent_at = row.sent_at or report.at
    return effects


async def _failed(
    session: AsyncSession,
    row: Delivery | FollowUp,
    report: Report,
    now: datetime,
    templates: frozenset[str],
    effects: Effects,
) -> None:
    table = type(row)
    if row.status not in _STILL_SENT[table]:
        return
    delivery = isinstance(row, Delivery)
    pending = DeliveryStatus.PENDING if delivery else FollowUpStatus.PENDING
    code = report.error_code

    async def again(after: timedelta, outcome: str) -> None:
        """Sent again later: the receipts start over with the next message."""
        row.status, row.outcome = pending, outcome
        row.receipt = row.receipt_at = row.platform_message_id = None
        if not isinstance(row, Delivery):
            row.due_at = now + after
            return
        row.not_before = now + after
        campaign = await session.get_one(Campaign, row.campaign_id)
        if campaign.status == CampaignStatus.DONE:  # finished before this report came: it has one more to send
            campaign.status, campaign.finished_at = CampaignStatus.SENDING, None
        elif campaign.status == CampaignStatus.CANCELLED:
            row.status, row.outcome = DeliveryStatus.CANCELLED, "cancelled"

    if code == UNDELIVERABLE:
        row.status = DeliveryStatus.FAILED if delivery else FollowUpStatus.FAILED
        row.outcome = "blocked" if delivery else "unreachable"
        await mark_unreachable(session, [row.contact_id], now)
    elif code == REENGAGEMENT:
        purpose = "broadcast" if isinstance(row, Delivery) else row.kind
        if purpose in templates and row.via != Via.TEMPLATE:
            row.via = Via.TEMPLATE  # the sender sends it as the template next time
            await again(timedelta(0), "window_closed")
        else:
            row.status = DeliveryStatus.SKIPPED if delivery else FollowUpStatus.CANCELLED
            row.outcome = "no_template"
    elif code == MARKETING_LIMIT:
        await again(MARKETING_WAIT, "marketing_limit")
    elif code == MARKETING_OPT_OUT:
        row.status = DeliveryStatus.SKIPPED if delivery else FollowUpStatus.FAILED
        row.outcome = MARKETING_STOPPED
        await stop_marketing(session, [row.contact_id], now)
    elif code == SPAM_RATE:
        await again(timedelta(0) if delivery else SPAM_WAIT, SPAM_LIMITED)
        if isinstance(row, Delivery):
            effects.spam_limited_campaigns.add(row.campaign_id)
    elif code in RATE_LIMITS:
        await again(RATE_WAIT, "rate_limited")
    else:
        row.status = DeliveryStatus.FAILED if delivery else FollowUpStatus.FAILED
        row.outcome = f"refused:{code}" if code is not None else "refused"
    await session.flush()
