"""A broadcast campaign's lifecycle: created, started, paused, resumed, cancelled, done, and its progress.

Who a campaign reaches is bot/services/segments.py; its deliveries as rows (claimed, recorded, reported) are
bot/services/deliveries.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, exists, func, literal, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import execute_dml
from bot.models import Campaign, CampaignStatus, Contact, Delivery, DeliveryStatus, Receipt
from bot.services.segments import CampaignError, Segment, audience_query, person_key
from bot.typed import clean_text

# A broadcast's optional button: the conversation it leads back into (an action) and its label there.
BUTTONS = {"interest": ("interest", "menu.interest"), "calculator": ("calc", "menu.cost")}
CAMPAIGN_PREFIX = "cmp-"  # a lead that came from a campaign's button has source "cmp-<id>"
TEXT_MAX = 1000
BAR_WIDTH = 10  # characters of the progress bar in the author's chat (the terminal draws its own)
_OPEN = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


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


async def start_due_campaigns(session: AsyncSession, consent_versions: tuple[str, ...], now: datetime) -> list[int]:
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
        audience = audience_query(segment, consent_versions, now).add_columns(
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
                audience.group_by(person_key()).order_by(func.min(Contact.id)),
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


# ------------------------------------------------------------------------------------------- progress


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


# A sent delivery whose person wrote or tapped something since, as the delivery report's "replied" column: the bot
# keeps only the time of a person's last message (contacts.last_seen_at), so this is "wrote at any time after the
# broadcast reached them", not "answered within so many hours".
_REPLIED = func.count(case((Contact.last_seen_at > Delivery.sent_at, literal_column("1"))))


async def campaign_progress(session: AsyncSession, campaign_ids: list[int]) -> dict[int, Progress]:
    """Counts per campaign in one query (the claim index covers it), with what it kept of deliveries removed."""
    # A literal, not a parameter: PostgreSQL must see the grouped expression in the select list as the same.
    blocked = Delivery.outcome == literal_column("'blocked'")
    query = (
        select(Delivery.campaign_id, Delivery.status, blocked, func.count())
        .where(Delivery.campaign_id.in_(campaign_ids))
        .group_by(Delivery.campaign_id, Delivery.status, blocked)
    )
    counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    kept = await session.execute(
        select(Campaign.id, Campaign.kept).where(Campaign.id.in_(campaign_ids), Campaign.kept.is_not(None))
    )
    for campaign_id, buckets in kept:
        counts[campaign_id] = {bucket: count for bucket, count in (buckets or {}).items() if bucket in _BUCKETS}
    for campaign_id, status, is_blocked, count in await session.execute(query):
        bucket = _bucket(status, bool(is_blocked))
        counts[campaign_id][bucket] = counts[campaign_id].get(bucket, 0) + count
    return {campaign_id: Progress(**values) for campaign_id, values in counts.items()}


_BUCKETS = ("sent", "failed", "blocked", "skipped", "waiting")


@dataclass(frozen=True)
class Figures:
    """A campaign's progress and what came after sending: WhatsApp's receipts, and the people who wrote since."""

    progress: Progress
    delivered: int = 0  # WhatsApp reported it reached the phone (read ones included); Telegram reports nothing
    read: int = 0
    replied: int = 0  # sent, and the person wrote or tapped something afterwards (_REPLIED)


async def campaign_figures(session: AsyncSession, campaign_ids: list[int]) -> dict[int, Figures]:
    """Progress, receipts and replies per campaign, each grouped by the database, with what it kept of deliveries
    removed: for pages that show campaigns, not for the engine's frequent progress messages (campaign_progress).

    Three queries, whatever the number of campaigns. The counts are grouped as the claim index is ordered (campaign,
    status), so no database sorts the rows, and what else they count is counted within those groups. The replies
    are looked for from the people's side too: only those who wrote since the earliest of the campaigns started
    can have replied (the contacts' last_seen_at index), usually few among all the people reached."""
    counts: dict[int, dict[str, int]] = {}
    starts = []
    campaigns = select(Campaign.id, Campaign.kept, Campaign.starts_at).where(Campaign.id.in_(campaign_ids))
    for campaign_id, values, starts_at in await session.execute(campaigns):
        counts[campaign_id] = dict(values or {})  # what it kept of deliveries removed
        starts.append(starts_at)
    if not starts:
        return {}

    def where(condition: Any):
        return func.count(case((condition, literal_column("1"))))

    delivered, read = f"receipt:{Receipt.DELIVERED}", f"receipt:{Receipt.READ}"
    query = (
        select(
            Delivery.campaign_id,
            Delivery.status,
            func.count(),
            where(Delivery.outcome == "blocked"),
            where(Delivery.receipt == Receipt.DELIVERED),
            where(Delivery.receipt == Receipt.READ),
        )
        .where(Delivery.campaign_id.in_(campaign_ids))
        .group_by(Delivery.campaign_id, Delivery.status)
    )
    replies = (
        select(Delivery.campaign_id, func.count())
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(
            # Implied by the last two (a message is sent after its campaign starts); a value, not a subquery, so
            # that PostgreSQL weighs the index on it with the real date.
            Contact.last_seen_at >= min(starts),
            Delivery.campaign_id.in_(campaign_ids),
            Delivery.status == DeliveryStatus.SENT,
            Contact.last_seen_at > Delivery.sent_at,
        )
        .group_by(Delivery.campaign_id)
    )
    for campaign_id, status, count, blocked, delivered_only, read_too in await session.execute(query):
        into = counts[campaign_id]
        for key, number in (
            (_bucket(status, False), count - blocked),
            (_bucket(status, True), blocked),
            (delivered, delivered_only),
            (read, read_too),
        ):
            into[key] = into.get(key, 0) + number
    for campaign_id, count in await session.execute(replies):
        counts[campaign_id]["replied"] = counts[campaign_id].get("replied", 0) + count
    return {
        campaign_id: Figures(
            Progress(**{bucket: values.get(bucket, 0) for bucket in _BUCKETS}),
            delivered=values.get(delivered, 0) + values.get(read, 0),
            read=values.get(read, 0),
            replied=values.get("replied", 0),
        )
        for campaign_id, values in counts.items()
    }


async def keep_counts(session: AsyncSession, removed: Any) -> None:
    """Deliveries chosen by `removed` (a condition) are about to be deleted: add them to their campaigns' kept
    counts, by progress bucket and receipt, and the sent ones whose person wrote since ("replied"), so a
    campaign's figures never change when its rows go. One that had not gone out yet never will: it counts as
    skipped."""
    blocked = Delivery.outcome == literal_column("'blocked'")
    query = (
        select(Delivery.campaign_id, Delivery.status, blocked, Delivery.receipt, func.count(), _REPLIED)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(removed)
        .group_by(Delivery.campaign_id, Delivery.status, blocked, Delivery.receipt)
    )
    added: dict[int, dict[str, int]] = {}
    for campaign_id, status, is_blocked, receipt, count, replied in await session.execute(query):
        bucket = "skipped" if status in _OPEN else _bucket(status, bool(is_blocked))
        into = added.setdefault(campaign_id, {})
        for key, number in (
            (bucket, count),
            (f"receipt:{receipt}" if receipt else None, count),
            ("replied" if bucket == "sent" and replied else None, replied),
        ):
            if key is not None:
                into[key] = into.get(key, 0) + number
    if not added:
        return
    # Locked on PostgreSQL: a person's erasure and the purge may add to the same campaign at once.
    campaigns = await session.scalars(select(Campaign).where(Campaign.id.in_(added)).with_for_update())
    for campaign in campaigns:
        kept = dict(campaign.kept or {})
        for key, count in added[campaign.id].items():
            kept[key] = kept.get(key, 0) + count
        campaign.kept = kept  # a new dict: SQLAlchemy sees a JSON column change only on assignment
    await session.flush()


def _bucket(status: str, blocked: bool) -> str:
    if status in _OPEN:
        return "waiting"
    if status == DeliveryStatus.SENT:
        return "sent"
    if status in (DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED):
        return "skipped"
    return "blocked" if blocked else "failed"


def progress_text(t, campaign_id: int, state: str, progress: Progress) -> str:
    """The author's progress message in the chat, as the engine edits it and /siaran shows it."""
    done = progress.share_done
    filled = round(done * BAR_WIDTH)
    return t(
        "broadcast.progress",
        id=campaign_id,
        state=t(f"broadcast.state.{state}"),
        bar="▓" * filled + "░" * (BAR_WIDTH - filled),
        percent=round(done * 100),
        sent=progress.sent,
        failed=progress.failed,
        blocked=progress.blocked,
        skipped=progress.skipped,
        waiting=progress.waiting,
    )


async def list_campaigns(session: AsyncSession, created_by: str | None = None, limit: int = 50) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
    if created_by is not None:
        query = query.where(Campaign.created_by == created_by)
    return list((await session.execute(query)).scalars())


def credit_source(argument: str) -> str | None:
    """The campaign code a broadcast's button carries ("cmp-12"), or None for anything else."""
    return argument if re.fullmatch(rf"{CAMPAIGN_PREFIX}\d{{1,9}}", argument) else None
