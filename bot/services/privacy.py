"""The person's rights from the chat: stop unrequested messages, see (and take) their data, be erased."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import add_to_count
from bot.models import (
    Consent,
    ConsentPurpose,
    Contact,
    Delivery,
    ErasedCount,
    FollowUp,
    FollowUpStatus,
    Lead,
    LeadEvent,
    Miss,
    utcnow,
)
from bot.services.audit import Actor, forget_actors
from bot.services.campaigns import keep_counts
from bot.services.consent import list_consents, record_consent
from bot.services.deliveries import cancel_deliveries
from bot.services.followups import cancel_followups
from bot.services.leads import find_lead

log = logging.getLogger(__name__)

# Why a person was erased (erased_counts.reason), and the outcome counted for someone who left no contact.
REQUEST = "request"
RETENTION = "retention"
NO_LEAD = "no_lead"


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


async def erase_contact(session: AsyncSession, contact: Contact, now: datetime) -> None:
    """HAPUS: the person and everything about them, at once."""
    await erase_contacts(session, [contact.id], REQUEST, now)
    log.info("a contact on %s was erased at their request", contact.channel)


async def erase_contacts(session: AsyncSession, contact_ids: list[int], reason: str, now: datetime) -> int:
    """Delete these people and everything about them (their lead, its history and tasks, their consents,
    messages, deliveries, texts not understood, their name in the audit log); keep only anonymous counts: of
    them in `erased_counts`, of their deliveries in their campaigns. The one path of an erasure, whether the
    person asked (HAPUS) or their retention period ran out (the daily purge, in batches). Returns how many."""
    people = (
        await session.execute(
            select(
                Contact.id,
                Contact.channel,
                Contact.external_id,
                Contact.created_at,
                Contact.occupation,
                Contact.asked_cost_at,
                Lead.id,
                Lead.created_at,
                Lead.occupation,
                Lead.region,
                Lead.status,
            )
            .outerjoin(Lead, Lead.contact_id == Contact.id)
            .where(Contact.id.in_(contact_ids))
        )
    ).all()
    if not people:
        return 0
    counts: Counter[tuple[str, ...]] = Counter()
    asked: Counter[tuple[str, ...]] = Counter()  # of those, who had asked the cost (the dashboard's funnel)
    for _, channel, _, started, occupation, asked_at, lead_id, lead_at, lead_occupation, region, status in people:
        lead_month = _month(lead_at) if lead_id is not None else ""
        key = (
            _month(started),
            lead_month,
            channel,
            lead_occupation or occupation or "",
            region or "",
            status or NO_LEAD,
        )
        counts[key] += 1
        asked[key] += asked_at is not None
    for group, count in counts.items():
        started_month, lead_month, channel, occupation, region, outcome = group
        keys = {
            "reason": reason,
            "erased_month": _month(now),
            "started_month": started_month,
            "lead_month": lead_month,
            "channel": channel,
            "occupation": occupation,
            "region": region,
            "outcome": outcome,
        }
        await session.execute(add_to_count(session, ErasedCount, keys, count, asked_cost=asked[group]))
    ids = [person[0] for person in people]
    lead_ids = [person[6] for person in people if person[6] is not None]
    if lead_ids:  # with the notices of their leads to officers (a digest names a lead only when it is sent)
        await session.execute(delete(FollowUp).where(FollowUp.lead_id.in_(lead_ids)))
        await session.execute(delete(LeadEvent).where(LeadEvent.lead_id.in_(lead_ids)))
        await session.execute(delete(Lead).where(Lead.id.in_(lead_ids)))
    await session.execute(delete(FollowUp).where(FollowUp.contact_id.in_(ids)))
    await keep_counts(session, Delivery.contact_id.in_(ids))
    await session.execute(delete(Delivery).where(Delivery.contact_id.in_(ids)))
    await session.execute(delete(Consent).where(Consent.contact_id.in_(ids)))
    await session.execute(delete(Miss).where(Miss.contact_id.in_(ids)))
    await forget_actors(session, [Actor.of_contact_id(channel, external_id) for _, channel, external_id, *_ in people])
    # A contact this session holds (the one whose turn asked for HAPUS) is deleted through it, so the turn
    # knows (bot.db.is_deleted); the others in one statement.
    held = [row for row in session.identity_map.values() if isinstance(row, Contact) and row.id in ids]
    for contact in held:
        await session.delete(contact)
    await session.execute(delete(Contact).where(Contact.id.in_(set(ids) - {contact.id for contact in held})))
    await session.flush()
    return len(ids)


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")
