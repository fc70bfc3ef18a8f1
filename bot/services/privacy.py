"""The person's rights from the chat: stop unrequested messages, see (and take) their data, be erased."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Consent,
    ConsentPurpose,
    Contact,
    Delivery,
    Erasure,
    FollowUp,
    FollowUpStatus,
    Lead,
    LeadEvent,
    Miss,
    utcnow,
)
from bot.services.audit import forget_actor
from bot.services.consent import list_consents, record_consent
from bot.services.deliveries import cancel_deliveries
from bot.services.followups import cancel_followups
from bot.services.leads import find_lead

log = logging.getLogger(__name__)


async def personal_data(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    """Everything stored about the person, as plain data (UU PDP's access and portability): their chat, their
    lead with its history and the officers' notes, their consents with the words they answered, the messages
    still to come, and what they wrote that the bot did not understand (as kept: masked)."""
    lead = await find_lead(session, contact)
    data: dict[str, Any] = {
        "chat": {
            "channel": contact.channel,
            "since": _iso(contact.created_at),
            "language": contact.locale,
            "occupation": contact.occupation,
            "came_through": contact.source_code,
            "messages_stopped_at": _iso(contact.messages_stopped_at),
        },
        "lead": None,
        "consents": [
            {
                "purpose": consent.purpose,
                "granted": consent.granted,
                "text_version": consent.text_version,
                "decided_at": _iso(consent.decided_at),
                "answered_with": consent.typed_text,
            }
            for consent in await list_consents(session, contact)
        ],
        "messages_to_come": [
            {"kind": row.kind, "due_at": _iso(row.due_at)}
            for row in await session.scalars(
                select(FollowUp).where(FollowUp.contact_id == contact.id, FollowUp.status == FollowUpStatus.PENDING)
            )
        ],
        "not_understood": [
            {"at": _iso(miss.created_at), "text": miss.text}
            for miss in await session.scalars(select(Miss).where(Miss.contact_id == contact.id).order_by(Miss.id))
        ],
    }
    if lead is not None:
        events = await session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.id))
        data["lead"] = {
            "name": lead.name,
            "phone": lead.phone,
            "occupation": lead.occupation,
            "region": lead.region,
            "best_time_to_call": lead.call_time,
            "stage": lead.status,
            "saved_at": _iso(lead.created_at),
            "history": [
                {
                    "at": _iso(event.at),
                    "stage": event.to_status,
                    "by": event.actor.partition(":")[0],
                    "note": event.note,
                }
                for event in events
            ],
        }
    return data


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


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
