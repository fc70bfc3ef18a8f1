"""The Siaran page's figures: the broadcast campaigns of a period with their counts, one campaign, and its sending
curve, each counted by the database (bot/services/campaigns.py campaign_figures: one grouped query for a page).

Who sees which campaign: staff and admins every one; an officer the campaigns she made herself whose segment names
only regions she has now. Her own are always limited to her regions when made (segments.limit_to_regions); the
second condition keeps one made before her regions changed out of her sight, so she never sees another region's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, and_, cast, func, literal, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import epoch_seconds
from bot.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, Officer
from bot.services.campaigns import Figures, campaign_figures
from bot.services.dashboard import Period
from bot.services.segments import Segment

LISTED = 100  # campaigns on the page, newest first: a longer period says so and shows these
EXCERPT = 120  # characters of a campaign's text read for the list (its page reads all of it)
RUNNING = (CampaignStatus.SENDING, CampaignStatus.PAUSED)  # listed whenever they started
UNFINISHED = (CampaignStatus.SCHEDULED, *RUNNING)  # their figures may still move
# The sending curve's step: the smallest of these that draws the campaign's time in at most CURVE_STEPS steps.
STEP_SECONDS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400)
CURVE_STEPS = 120


@dataclass(frozen=True)
class CampaignLine:
    id: int
    text: str  # the Indonesian text (in a list, at most EXCERPT characters of it)
    created_by: str  # "officer:<id>", "admin:c<contact id>", "staff:c<contact id>" or "cli"
    officer: str | None  # the author's name when an officer made it (and is still known)
    segment: Segment
    status: str
    starts_at: datetime
    finished_at: datetime | None
    kept: bool  # some of its deliveries were removed (retention, erasure): their counts are kept, not their times
    figures: Figures

    @property
    def running(self) -> bool:
        """Not done or cancelled yet: its figures may still move."""
        return self.status in UNFINISHED


def _campaigns(author_contact_id: int | None, whole_text: bool = False):
    officer_actor = literal("officer:") + cast(Officer.id, String)
    query = select(
        Campaign.id,
        Campaign.text_id if whole_text else func.substr(Campaign.text_id, 1, EXCERPT),
        Campaign.created_by,
        Officer.name,
        Campaign.segment,
        Campaign.status,
        Campaign.starts_at,
        Campaign.finished_at,
        Campaign.kept.is_not(None),
    ).outerjoin(Officer, Campaign.created_by == officer_actor)
    if author_contact_id is not None:
        query = query.where(Campaign.author_contact_id == author_contact_id)
    return query


def _visible(segment: Segment, regions: Sequence[str] | None) -> bool:
    return regions is None or (bool(segment.regions) and set(segment.regions) <= set(regions))


async def _lines(session: AsyncSession, rows, regions: Sequence[str] | None) -> list[CampaignLine]:
    chosen = [(row, Segment.from_json(row[4] or {})) for row in rows]
    chosen = [(row, segment) for row, segment in chosen if _visible(segment, regions)]
    figures = await campaign_figures(session, [row[0] for row, _ in chosen]) if chosen else {}
    return [
        CampaignLine(row[0], row[1], row[2], row[3], segment, row[5], row[6], row[7], bool(row[8]), figures[row[0]])
        for row, segment in chosen
    ]


async def campaigns_of_period(
    session: AsyncSession, period: Period, tz: ZoneInfo, viewer_contact_id: int, regions: Sequence[str] | None
) -> tuple[list[CampaignLine], bool]:
    """The campaigns that start in the period and those still running (sending or paused) whenever they started,
    newest first, as `regions` may see them (None: all; an officer's: her own, see above); and whether there were
    more than LISTED."""
    start, end = period.bounds(tz)
    query = (
        _campaigns(None if regions is None else viewer_contact_id)
        .where(or_(and_(Campaign.starts_at >= start, Campaign.starts_at < end), Campaign.status.in_(RUNNING)))
        .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    )
    if regions is None:  # an officer's own are few; some may be left out below, so all are read
        query = query.limit(LISTED + 1)
    lines = await _lines(session, (await session.execute(query)).all(), regions)
    return lines[:LISTED], len(lines) > LISTED


async def find_campaign(
    session: AsyncSession, campaign_id: int, viewer_contact_id: int, regions: Sequence[str] | None
) -> CampaignLine | None:
    """One campaign with its figures, or None when there is none such or `regions` may not see it."""
    query = _campaigns(None if regions is None else viewer_contact_id, whole_text=True).where(
        Campaign.id == campaign_id
    )
    lines = await _lines(session, (await session.execute(query)).all(), regions)
    return lines[0] if lines else None


@dataclass(frozen=True)
class Curve:
    """Messages sent from `start`, step by step: `sent[i]` were sent by the end of step i (start + (i+1) * step,
    the last step ending at `end`)."""

    start: datetime
    end: datetime
    step: timedelta
    sent: list[int]


async def sending_curve(session: AsyncSession, campaign_id: int, start: datetime, end: datetime) -> Curve:
    """The campaign's sent messages counted per step of time by the database (grouped by the step each was sent
    in), added up. Messages whose rows were removed have no time any more and are not in it."""
    seconds = max(60, math.ceil((end - start).total_seconds()))
    step = next((size for size in STEP_SECONDS if seconds <= size * CURVE_STEPS), STEP_SECONDS[-1])
    steps = math.ceil(seconds / step)
    # Literals, not parameters: PostgreSQL must see the grouped expression in the select list as the same one.
    origin, size = (literal_column(str(int(value)), Integer) for value in (start.timestamp(), step))
    bucket = (epoch_seconds(Delivery.sent_at) - origin) // size
    query = (
        select(bucket, func.count())
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at.is_not(None),
        )
        .group_by(bucket)
    )
    per_step = [0] * steps
    for index, count in await session.execute(query):
        per_step[min(max(int(index), 0), steps - 1)] += count  # a message recorded just after `end` is its last
    sent, total = [], 0
    for count in per_step:
        total += count
        sent.append(total)
    return Curve(start, end, timedelta(seconds=step), sent)
