"""Database tables. Timestamps are UTC; status vocabularies are spelled out next to the column that holds them."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and give them back aware: SQLite would otherwise return naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Occupation(enum.StrEnum):
    PETANI = "petani"
    NELAYAN = "nelayan"
    PEDAGANG = "pedagang"
    SOPIR = "sopir"
    OJOL = "ojol"
    LAINNYA = "lainnya"


class LeadStatus(enum.StrEnum):
    """Lifecycle of a lead: `baru` when saved from the chat; officers move it on (follow-up work)."""

    BARU = "baru"


class ConsentPurpose(enum.StrEnum):
    LEAD_CONTACT = "lead_contact"  # keep name and phone so an officer can call about BPU
    REMINDERS = "reminders"  # optional: reminders and news the worker did not ask for in the moment


class Contact(Base):
    """One person on one channel, with the conversation state that lets a restart pick up where it stopped."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    occupation: Mapped[str | None] = mapped_column(String(16))
    source_code: Mapped[str | None] = mapped_column(String(64))
    # Conversation state: the step the person is in, what the step collected so far, and a serial that
    # changes on every step so a button from an older message can be told apart from a current one.
    state: Mapped[str] = mapped_column(String(40), default="new")
    state_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state_serial: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the person sent STOP/BERHENTI: nothing they did not ask for is sent to them.
    messages_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # lazy="raise": under asyncio a lazy load fails obscurely; services query what they need explicitly.
    lead: Mapped[Lead | None] = relationship(back_populates="contact", lazy="raise", passive_deletes=True)
    consents: Mapped[list[Consent]] = relationship(
        back_populates="contact", lazy="raise", passive_deletes=True, order_by="Consent.id"
    )


class Consent(Base):
    """Evidence of a consent decision (UU PDP Pasal 22-24): what was shown (version), the answer, and when.

    Rows are appended, never updated, so the history of decisions stays provable.
    """

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    text_version: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="consents", lazy="raise")


class Lead(Base):
    """A worker who asked to be contacted. One per contact: asking again updates it."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20))  # E.164, +62...
    occupation: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(60))
    call_time: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.BARU)
    source_code: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="lead", lazy="raise")


class ProcessedUpdate(Base):
    """Platform update ids already handled, so an update redelivered after a crash is not applied twice."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Erasure(Base):
    """What remains of a person who asked to be erased: an anonymous count, nothing that identifies them."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    erased_on: Mapped[str] = mapped_column(String(7))  # YYYY-MM: a month, not a moment
    channel: Mapped[str] = mapped_column(String(16))
    had_lead: Mapped[bool]
