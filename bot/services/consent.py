"""Consent decisions: recorded with the text version shown and the time, appended as evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Consent, ConsentPurpose, Contact, Lead, utcnow
from bot.services.misses import mask_miss

TYPED_LENGTH = 200


async def record_consent(
    session: AsyncSession,
    contact: Contact,
    purpose: ConsentPurpose,
    text_version: str,
    granted: bool,
    typed: str | None = None,
    now: datetime | None = None,
) -> Consent:
    """`typed`: the person's own words when they answered by typing instead of tapping, kept as evidence, with
    any phone number, NIK or e-mail address in them masked ("setuju, nik saya ..." keeps no NIK)."""
    consent = Consent(
        contact_id=contact.id,
        purpose=purpose,
        text_version=text_version,
        granted=granted,
        typed_text=mask_miss(typed)[:TYPED_LENGTH] if typed else None,
        decided_at=now or utcnow(),  # a turn's clock where there is one: the dashboard counts agreements by it
    )
    session.add(consent)
    await session.flush()
    return consent


# Built once, as lock_contact's statement: every turn asks it (handlers/interest.py's consent_changed).
_LATEST = (
    select(Consent)
    .where(Consent.contact_id == bindparam("contact_id"), Consent.purpose == bindparam("purpose"))
    .order_by(Consent.id.desc())
    .limit(1)
)


async def current_consent(session: AsyncSession, contact: Contact, purpose: ConsentPurpose) -> Consent | None:
    """The latest decision for a purpose: a later refusal or withdrawal overrides an earlier agreement."""
    return (await session.execute(_LATEST, {"contact_id": contact.id, "purpose": purpose})).scalar_one_or_none()


async def has_consent(
    session: AsyncSession, contact: Contact, purpose: ConsentPurpose, accepted: tuple[str, ...]
) -> bool:
    """Granted on a text version that still counts (Content.consent_versions): a consent text that changed in a
    way that matters must be agreed to again."""
    consent = await current_consent(session, contact, purpose)
    return consent is not None and consent.granted and consent.text_version in accepted


async def needs_new_consent(
    session: AsyncSession, contact: Contact, purpose: ConsentPurpose, accepted: tuple[str, ...]
) -> bool:
    """Agreed to a purpose on a version of the consent text that no longer counts, and not withdrawn since: to
    be asked again. Someone who refused, or never answered, is asked only when they leave their contact."""
    consent = await current_consent(session, contact, purpose)
    return consent is not None and consent.granted and consent.text_version not in accepted


async def list_consents(session: AsyncSession, contact: Contact) -> list[Consent]:
    query = select(Consent).where(Consent.contact_id == contact.id).order_by(Consent.id)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class ConsentRecord:
    """A person's consent evidence: who (their contact and lead) and every decision, oldest first."""

    contact: Contact
    lead: Lead
    consents: list[Consent]


async def consents_of_phone(session: AsyncSession, phone: str) -> list[ConsentRecord]:
    """The consent evidence of whoever left this number (E.164), one record per chat they left it in."""
    leads = await session.scalars(select(Lead).where(Lead.phone == phone).order_by(Lead.id))
    records = []
    for lead in leads:
        contact = await session.get_one(Contact, lead.contact_id)  # (a lead goes with its contact)
        records.append(ConsentRecord(contact, lead, await list_consents(session, contact)))
    return records
