"""Leads: workers who asked to be contacted about BPU."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Contact, Lead, LeadStatus
from bot.phone import mask_phone

log = logging.getLogger(__name__)

# Where a worker came from: the Telegram deep-link payload they started with (an officer's ptg-…, a campaign's
# cmp-…). Payloads are up to 64 of A-Z a-z 0-9 _ - (Bot API, "Deep linking").
_SOURCE_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_source_code(text: str) -> bool:
    return _SOURCE_CODE.fullmatch(text) is not None


@dataclass(frozen=True)
class LeadDetails:
    name: str
    phone: str
    occupation: str
    region: str
    call_time: str


async def find_lead(session: AsyncSession, contact: Contact) -> Lead | None:
    return (await session.execute(select(Lead).where(Lead.contact_id == contact.id))).scalar_one_or_none()


async def save_lead(
    session: AsyncSession, contact: Contact, details: LeadDetails, now: datetime, source: str | None = None
) -> tuple[Lead, bool]:
    """Create the contact's lead, or update it when they ask again: one lead per person. True when new.

    `source` credits a campaign whose button started this capture; otherwise a new lead is credited to the
    link the person first came through, and an existing one keeps its credit.
    """
    lead = await find_lead(session, contact)
    created = lead is None
    if lead is None:
        lead = Lead(contact_id=contact.id, status=LeadStatus.BARU, created_at=now)
        session.add(lead)
    lead.name = details.name
    lead.phone = details.phone
    lead.occupation = details.occupation
    lead.region = details.region
    lead.call_time = details.call_time
    lead.source_code = source or lead.source_code or contact.source_code
    lead.channel = contact.channel
    lead.locale = contact.locale
    lead.last_contact_at = now  # saved (again) by the person: their retention period runs from here
    contact.occupation = details.occupation
    await session.flush()
    log.info("lead %s %s (%s, %s)", lead.id, "created" if created else "updated", mask_phone(lead.phone), lead.region)
    return lead, created
