"""The dashboard's lead list: a page of the leads an export's filters choose, newest first, the officers one may
filter by, and whether a lead is within a viewer's regions (before it is shown unmasked).

The filters are the export's (bot.services.exports.LeadFilter), so the list and its download always hold the
same leads. A page is read with OFFSET in the order (created_at, id), which the index on leads.created_at gives
(SQLite's index ends in the id; PostgreSQL sorts only leads saved in the same instant); an officer's regions
are found through leads (region, created_at). The dashboard caps the page number (bot/web/dashboard/leads.py),
which bounds what an OFFSET skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Lead, Officer
from bot.services.exports import LeadFilter, lead_conditions


@dataclass(frozen=True)
class LeadRow:
    """One line of the list, as stored: masking and labels are the page's business."""

    id: int
    created_at: datetime
    name: str
    phone: str  # E.164
    occupation: str
    region: str
    status: str
    officer: str | None
    source: str | None


async def lead_page(session: AsyncSession, chosen: LeadFilter, tz: ZoneInfo, offset: int, limit: int) -> list[LeadRow]:
    """`limit` leads from `offset` on, newest first (the latest saved on top; the id breaks ties)."""
    query = (
        select(
            Lead.id,
            Lead.created_at,
            Lead.name,
            Lead.phone,
            Lead.occupation,
            Lead.region,
            Lead.status,
            Officer.name,
            Lead.source_code,
        )
        .outerjoin(Officer, Officer.id == Lead.officer_id)
        .where(*lead_conditions(chosen, tz))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [LeadRow(*row) for row in await session.execute(query)]


async def officers_to_filter(session: AsyncSession, contact_id: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of the officers in service, by name; only the one who is `contact_id` when given (an officer
    filters by herself, never by a colleague)."""
    query = select(Officer.id, Officer.name).where(Officer.removed_at.is_(None)).order_by(Officer.name, Officer.id)
    if contact_id is not None:
        query = query.where(Officer.contact_id == contact_id)
    return [(officer_id, name) for officer_id, name in await session.execute(query)]


async def lead_in_reach(session: AsyncSession, lead_id: int, regions: Sequence[str] | None) -> bool:
    """Whether the lead exists and lies in `regions` (None: anywhere, for staff and admins)."""
    query = select(Lead.id).where(Lead.id == lead_id)
    if regions is not None:
        query = query.where(Lead.region.in_(regions))
    return (await session.execute(query)).scalar_one_or_none() is not None
