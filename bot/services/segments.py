"""Who a broadcast reaches: the segment an author chooses, the rules of who may receive one, and the count.

A campaign's recipients are chosen when it starts (bot/services/campaigns.py) and checked again at each claim of
the sending engine (bot/services/deliveries.py), both with the rules here, so who may receive a broadcast is
written once: agreed to messages (the current consent text), not stopped, not unreachable, not an officer, one
message per person (a phone number on two channels is one person). People whose lead has ended (registered, not
interested, unreachable by phone) are left out unless the segment chooses that status on purpose, and the count
says how many were left out for each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import SUPPORTED_LOCALES
from bot.content import match_region
from bot.models import (
    Consent,
    ConsentPurpose,
    Contact,
    Delivery,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Lead,
    LeadStatus,
    Occupation,
)
from bot.services.leads import is_source_code
from bot.services.officers import OutsideRegions, limit_regions

CHANNELS = ("telegram", "whatsapp")
# Leads that ended: a broadcast about joining BPU would only bother them, unless its author picks the status.
LEFT_OUT = (LeadStatus.TERDAFTAR, LeadStatus.TIDAK_TERTARIK, LeadStatus.TIDAK_BISA_DIHUBUNGI)


# Here, in the lowest of the campaign modules: a segment typed wrong is the first mistake a campaign can have.
class CampaignError(Exception):
    """A campaign that cannot be made or changed as asked; the message is one line for the command line."""


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for. Empty fields mean "anyone"; several regions mean any of them."""

    occupation: str | None = None
    regions: tuple[str, ...] = ()
    status: str | None = None
    lang: str | None = None
    channel: str | None = None
    source: str | None = None
    not_contacted_days: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: list(value) if key == "regions" else value for key, value in asdict(self).items() if value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Segment:
        return cls(**{**data, "regions": tuple(data.get("regions", ()))})

    def with_value(self, key: str, value: Any) -> Segment:
        return Segment(**{**asdict(self), key: value})


def parse_segment(text: str, known_regions: tuple[str, ...]) -> Segment:
    """`occupation=nelayan,region=Mukomuko,region=Kaur,status=baru,lang=id,channel=telegram,source=ptg-ab12cd,
    not_contacted_days=14`: each value checked, a mistake said in one line."""
    values: dict[str, Any] = {}
    regions: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not value:
            raise CampaignError(f"segment part {part!r} is not key=value")
        if key == "region":
            region = match_region(value, known_regions)
            if region is None:
                raise CampaignError(f"region {value!r} is not one of: {', '.join(known_regions)}")
            regions.append(region)
        elif key in values:
            raise CampaignError(f"segment key {key!r} is given twice")
        else:
            values[key] = _segment_value(key, value)
    return Segment(regions=tuple(dict.fromkeys(regions)), **values)


def _segment_value(key: str, value: str) -> Any:
    allowed = {
        "occupation": tuple(Occupation),
        "status": tuple(LeadStatus),
        "lang": SUPPORTED_LOCALES,
        "channel": CHANNELS,
    }
    if key in allowed:
        if value.lower() not in allowed[key]:
            raise CampaignError(f"{key} {value!r} is not one of: {', '.join(allowed[key])}")
        return value.lower()
    if key == "source":
        if not is_source_code(value):
            raise CampaignError(f"source {value!r} is not a code such as ptg-ab12cd")
        return value
    if key == "not_contacted_days":
        if not value.isdigit() or not 1 <= int(value) <= 365:
            raise CampaignError("not_contacted_days must be a whole number of days from 1 to 365")
        return int(value)
    raise CampaignError(
        f"unknown segment key {key!r}; use occupation, region, status, lang, channel, source, not_contacted_days"
    )


def limit_to_regions(segment: Segment, allowed: list[str]) -> Segment:
    """An officer's segment: their regions when none was chosen; refused when one is not theirs."""
    try:
        return segment.with_value("regions", limit_regions(segment.regions, allowed))
    except OutsideRegions as error:
        raise CampaignError(str(error)) from None


# ------------------------------------------------------------------------------------------- the audience


def person_key():
    """One person, one message: contacts whose leads share a phone number are one person."""
    return func.coalesce(Lead.phone, cast(Contact.id, String))


def may_receive(consent_versions: tuple[str, ...]):
    """Agreed to messages on a version of the consent text that still counts (Content.consent_versions), and not
    withdrawn since; not stopped, not gone."""
    agreed = aliased(Consent)
    later = aliased(Consent)
    # Correlated explicitly: two levels down, SQLAlchemy would otherwise add `contacts` to the FROM again.
    withdrawn_since = (
        select(later.id)
        .where(later.contact_id == Contact.id, later.purpose == ConsentPurpose.REMINDERS, later.id > agreed.id)
        .correlate(Contact, agreed)
        .exists()
    )
    consented = exists().where(
        agreed.contact_id == Contact.id,
        agreed.purpose == ConsentPurpose.REMINDERS,
        agreed.granted.is_(True),
        agreed.text_version.in_(consent_versions),
        ~withdrawn_since,
    )
    return and_(
        Contact.messages_stopped_at.is_(None),
        Contact.unreachable_at.is_(None),
        Contact.marketing_stopped_at.is_(None),
        consented,
    )


def _chosen(segment: Segment, consent_versions: tuple[str, ...], now: datetime) -> Any:
    """The contacts a segment's filters and the rules of who may receive choose, before the ended leads are left
    out: a query without columns."""
    conditions = [Contact.role.is_(None), may_receive(consent_versions)]
    if segment.occupation:
        conditions.append(func.coalesce(Lead.occupation, Contact.occupation) == segment.occupation)
    if segment.regions:
        conditions.append(Lead.region.in_(segment.regions))
    if segment.status:
        conditions.append(Lead.status == segment.status)
    if segment.lang:
        conditions.append(Contact.locale == segment.lang)
    if segment.channel:
        conditions.append(Contact.channel == segment.channel)
    if segment.source:
        conditions.append(func.coalesce(Lead.source_code, Contact.source_code) == segment.source)
    if segment.not_contacted_days:
        since = now - timedelta(days=segment.not_contacted_days)
        broadcast = exists().where(
            Delivery.contact_id == Contact.id, Delivery.status == DeliveryStatus.SENT, Delivery.sent_at >= since
        )
        reminded = exists().where(
            FollowUp.contact_id == Contact.id,
            FollowUp.kind == FollowUpKind.REMINDER,
            FollowUp.status == FollowUpStatus.SENT,
            FollowUp.updated_at >= since,
        )
        conditions += [~broadcast, ~reminded]
    return select().select_from(Contact).outerjoin(Lead, Lead.contact_id == Contact.id).where(*conditions)


def lead_goes_on(segment: Segment) -> Any:
    """Whether the person's lead has not ended (since the campaign started too) in a status the segment did not
    choose: a worker who said "tidak tertarik" to an officer in the middle of a campaign is not sent the rest."""
    ended = [status for status in LEFT_OUT if status != segment.status]
    return ~exists().where(Lead.contact_id == Contact.id, Lead.status.in_(ended))


def audience_query(segment: Segment, consent_versions: tuple[str, ...], now: datetime) -> Any:
    """The contacts a segment reaches now, as a query without columns: the caller adds what it counts or writes."""
    chosen = _chosen(segment, consent_versions, now)
    if segment.status:  # chosen on purpose, even an ended one
        return chosen
    return chosen.where(or_(Lead.status.is_(None), Lead.status.not_in(LEFT_OUT)))


@dataclass(frozen=True)
class Audience:
    total: int
    by_locale: dict[str, int] = field(default_factory=dict)
    # WhatsApp: people who wrote within the last 24 hours (free text) and the others (a template, or nobody
    # when none is configured). Counted now; the engine decides again for each message as it goes out.
    whatsapp_text: int = 0
    whatsapp_template: int = 0
    # People the segment's filters choose but who are left out because their lead ended, by its status.
    left_out: dict[str, int] = field(default_factory=dict)


# WhatsApp takes free-form messages only this long after the person's last message (bot/channels/whatsapp/sending.py).
WHATSAPP_WINDOW = timedelta(hours=24)


async def count_audience(
    session: AsyncSession, segment: Segment, consent_versions: tuple[str, ...], now: datetime
) -> Audience:
    """How many people a segment reaches now, in which language, and on WhatsApp how: nothing is written."""
    query = audience_query(segment, consent_versions, now).add_columns(
        Contact.locale, func.count(distinct(person_key()))
    )
    by_locale = {locale: count for locale, count in await session.execute(query.group_by(Contact.locale))}
    inside = Contact.last_seen_at >= now - WHATSAPP_WINDOW
    whatsapp = (
        audience_query(segment, consent_versions, now)
        .where(Contact.channel == "whatsapp")
        .add_columns(inside, func.count(distinct(person_key())))
        .group_by(inside)
    )
    by_window = {bool(open_): count for open_, count in await session.execute(whatsapp)}
    left_out = {}
    if not segment.status:
        ended = (
            _chosen(segment, consent_versions, now)
            .where(Lead.status.in_(LEFT_OUT))
            .add_columns(Lead.status, func.count(distinct(person_key())))
            .group_by(Lead.status)
        )
        counted: dict[str, int] = {status: count for status, count in await session.execute(ended)}
        left_out = {status.value: counted[status] for status in LEFT_OUT if counted.get(status)}
    return Audience(sum(by_locale.values()), by_locale, by_window.get(True, 0), by_window.get(False, 0), left_out)
