"""The person's rights from the chat: stop unrequested messages, see their data, be erased."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Consent,
    ConsentPurpose,
    Contact,
    Delivery,
    Erasure,
    FollowUp,
    Lead,
    LeadEvent,
    Miss,
    utcnow,
)
from bot.services.audit import forget_actor
from bot.services.consent import record_consent
from bot.services.deliveries import cancel_deliveries
from bot.services.followups import cancel_followups
from bot.services.leads import find_lead

log = logging.getLogger(__name__)


async def stop_messages(session: AsyncSession, contact: Contact, text_version: str) -> None:
    """STOP: nothing unrequested is sent from now on; the withdrawal is kept as consent evidence."""
    if contact.messages_stopped_at is None:
        contact.messages_stopped_at = utcnow()
    await record_consent(session, contact, ConsentPurpose.REMINDERS, text_version, granted=False)
    await cancel_followups(session, contact.id, outcome="stopped")
    await cancel_deliveries(session, contact.id, outcome="stopped")


async def resume_messages(session: AsyncSession, contact: Contact) -> None:
    contact.messages_stopped_at = None


async def erase_contact(session: AsyncSession, contact: Contact) -> None:
    """Delete the person and everything about them; keep one anonymous row for the counts."""
    lead = await find_lead(session, contact)
    session.add(Erasure(erased_on=utcnow().strftime("%Y-%m"), channel=contact.channel, had_lead=lead is not None))
    if lead is not None:  # the notice of their lead to its officer (a digest names them only when sent)
        await session.execute(delete(FollowUp).where(FollowUp.lead_id == lead.id))
    await session.execute(delete(FollowUp).where(FollowUp.contact_id == contact.id))
    await session.execute(delete(Delivery).where(Delivery.contact_id == contact.id))
    await session.execute(
        delete(LeadEvent).where(LeadEvent.lead_id.in_(select(Lead.id).where(Lead.contact_id == contact.id)))
    )
    await session.execute(delete(Lead).where(Lead.contact_id == contact.id))
    await session.execute(delete(Consent).where(Consent.contact_id == contact.id))
    await session.execute(delete(Miss).where(Miss.contact_id == contact.id))
    await forget_actor(session, contact)
    await session.delete(contact)
    await session.flush()
    log.info("a contact on %s was erased at their request", contact.channel)
