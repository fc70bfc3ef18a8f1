"""Database tables. Timestamps are UTC; status vocabularies are spelled out next to the column that holds them."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# A platform's ids: WhatsApp's business-scoped user ids ("ID." and up to 128 characters) and message ids
# ("wamid." and a long base64 string) do not fit Telegram's 64.
ID_LENGTH = 160
ACTOR_LENGTH = ID_LENGTH + 16  # "<channel>:<id>"


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
    """Lifecycle of a lead: `baru` when saved from the chat; then what the worker answered to a reminder
    (`terdaftar`) or what an officer recorded after a call: reached (`dihubungi`), will register by a date the
    officer checks back on (`akan_daftar`), and the three ends. Every change is kept in `lead_events`."""

    BARU = "baru"
    DIHUBUNGI = "dihubungi"
    AKAN_DAFTAR = "akan_daftar"
    TERDAFTAR = "terdaftar"
    TIDAK_TERTARIK = "tidak_tertarik"
    TIDAK_BISA_DIHUBUNGI = "tidak_bisa_dihubungi"


# A lead's outcomes: nothing more to do (no reminder, no call), and its data is kept the shorter period.
LEAD_OUTCOMES = (LeadStatus.TERDAFTAR, LeadStatus.TIDAK_TERTARIK)


class Role(enum.StrEnum):
    """What a person may do; each role may do everything the one before it may.

    worker: the conversation. officer: tasks, broadcasts and lead exports of their own kabupaten/kota.
    staff: all of that for every region, and officers (invites). admin: roles too.
    `contacts.role` holds it (empty for workers); the people listed in ADMIN_TELEGRAM_IDS are admins whatever
    it holds, so the first admin comes from configuration and can grant the rest.
    """

    WORKER = "worker"
    OFFICER = "officer"
    STAFF = "staff"
    ADMIN = "admin"

    def includes(self, other: Role) -> bool:
        roles = list(Role)
        return roles.index(self) >= roles.index(other)


class FollowUpKind(enum.StrEnum):
    REMINDER = "reminder"  # a message to the worker: "Sudah daftar?" (only in the daytime window)
    CALL = "call"  # a task for a field officer: call the worker
    QUESTION = "question"  # a task for a field officer: answer what the worker asked ("Tanya petugas")
    ANSWER = "answer"  # a message to the worker: the officer's answer, relayed (sent at once)
    NOTICE = "notice"  # a message to an officer: a new question, the daily digest (sent at once)


# Kinds the ticker sends; the others are tasks that officers work through /tugas.
MESSAGE_KINDS = (FollowUpKind.REMINDER, FollowUpKind.ANSWER, FollowUpKind.NOTICE)
TASK_KINDS = (FollowUpKind.CALL, FollowUpKind.QUESTION)


# The outcome of a row left `sending` by a crash, or by a leader that lost the lead (bot/workers/leadership.py) and may
# still record what became of it: then its answer wins, since it is the one that knows.
INTERRUPTED = "interrupted"


class FollowUpStatus(enum.StrEnum):
    """pending -> sending -> sent (messages: reminder, answer, notice) | done (tasks: call, question)
    pending -> cancelled (STOP, HAPUS, an outcome) | failed (unreachable, too many attempts)
    sending -> unknown (the process died or timed out after the request left: never resent)
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ConsentPurpose(enum.StrEnum):
    LEAD_CONTACT = "lead_contact"  # keep name and phone so an officer can call about BPU
    REMINDERS = "reminders"  # optional: reminders and news the worker did not ask for in the moment


MENU_HOLDERS = "(role IS NOT NULL OR command_menu IS NOT NULL)"  # people whose command menu may need a change


class Contact(Base):
    """One person on one channel, with the conversation state that lets a restart pick up where it stopped."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # The dashboard's funnel counts the people (no role) who started a chat in a period, and those who chose an
        # occupation and asked the cost, from this index alone.
        Index(
            "ix_contacts_created_at_occupation_audience",
            "created_at",
            "occupation",
            "asked_cost_at",
            sqlite_where=text("role IS NULL"),
            postgresql_where=text("role IS NULL"),
        ),
        # The leader looks every half minute for the people whose Telegram command menu no longer matches their role:
        # a few hundred rows among a million, found from this index alone.
        Index(
            "ix_contacts_menu_holders",
            "channel",
            sqlite_where=text(MENU_HOLDERS),
            postgresql_where=text(MENU_HOLDERS),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    locale: Mapped[str] = mapped_column(String(8))
    occupation: Mapped[str | None] = mapped_column(String(16))
    source_code: Mapped[str | None] = mapped_column(String(64))
    # A Role other than worker (None for workers); "officer" while an active officer row points here.
    role: Mapped[str | None] = mapped_column(String(16))
    # The command menu Telegram was given for this chat, as "role:locale" (None: the default, a worker's).
    command_menu: Mapped[str | None] = mapped_column(String(16))
    # Conversation state: the step the person is in, what the step collected so far, and a serial that
    # changes on every step so a button from an older message can be told apart from a current one.
    state: Mapped[str] = mapped_column(String(40), default="new")
    state_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state_serial: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the person sent STOP/BERHENTI: nothing they did not ask for is sent to them.
    messages_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the platform says the person cannot be reached (blocked the bot, deleted the account).
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When they first asked what BPU costs (the calculator, or the cost asked): the dashboard's funnel.
    asked_cost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when WhatsApp says the person stopped marketing messages from this business (error 131050):
    # broadcasts leave them out; what they asked for (answers, their reminders) still reaches them.
    marketing_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # retention's clock

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
    # The dashboard's funnel counts the people who agreed in a period from this index alone.
    __table_args__ = (
        Index("ix_consents_purpose_granted_decided_at_contact_id", "purpose", "granted", "decided_at", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    text_version: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The words the person typed when they agreed or declined in writing instead of tapping a button
    # ("iyo boleh"): the decision in their own words is the evidence (Pasal 24). None for a tap.
    typed_text: Mapped[str | None] = mapped_column(String(200))

    contact: Mapped[Contact] = relationship(back_populates="consents", lazy="raise")


class Miss(Base):
    """A message the bot did not understand, kept so staff can grow the vocabulary from real use
    (`bpu-bot understanding misses`). The text is stored with phone numbers and NIK-like digits masked, and
    goes with the person when they are erased."""

    __tablename__ = "misses"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_misses_contact_id"), index=True
    )
    state: Mapped[str] = mapped_column(String(40))  # the step the person was in
    text: Mapped[str] = mapped_column(String(300))  # masked, whitespace collapsed, truncated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Lead(Base):
    """A worker who asked to be contacted. One per contact: asking again updates it."""

    __tablename__ = "leads"
    # An officer's every view of the dashboard is limited to her regions: her leads of a period are counted
    # (and paged, by created_at and id) from this, not by reading every lead of the period; her lead ids, and her
    # leads per occupation, are read from it alone.
    __table_args__ = (
        Index("ix_leads_region_created_at_id_occupation", "region", "created_at", "id", "occupation"),
        # The leads of a period in the order Prospek pages them (created_at, id), with what the dashboard counts them
        # by: a year's leads per region or occupation are counted from this index alone.
        Index("ix_leads_created_at_id_region_occupation", "created_at", "id", "region", "occupation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20))  # E.164, +62...
    occupation: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(60))
    call_time: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default=LeadStatus.BARU)
    source_code: Mapped[str | None] = mapped_column(String(64))
    # The officer who calls this worker: one covering the lead's region; None = the unassigned pool.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # When the person saved it or an officer recorded a step (set by those, not by any change such as a handover):
    # with the person's last message, the start of its retention period (bot/services/retention.py).
    last_contact_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When its officer was told it would be removed (the digest): an officer's lead is never removed unwarned.
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contact: Mapped[Contact] = relationship(back_populates="lead", lazy="raise")


class LeadEvent(Base):
    """History of a lead's status: who changed it, from what, to what, when."""

    __tablename__ = "lead_events"
    __table_args__ = (
        # The dashboard counts the leads that reached a stage in a period from this index alone.
        Index("ix_lead_events_to_status_at_lead_id_actor", "to_status", "at", "lead_id", "actor"),
        # A lead's history (and its cascade); whether an officer called a lead before a period (Petugas).
        Index("ix_lead_events_lead_id_actor_at_to_status", "lead_id", "actor", "at", "to_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(32))  # "worker", "system", "officer:<id>", "admin:c<contact id>"
    note: Mapped[str | None] = mapped_column(String(280))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUp(Base):
    """Scheduled work as a row: a reminder to send or a call to make, found by the ticker when due."""

    __tablename__ = "followups"
    # The ticker's query: pending messages by due time. Its cost follows the due rows, not all pending ones
    # (nor the officers' open tasks, which the ticker never claims).
    __table_args__ = (
        Index("ix_followups_status_kind_due_at", "status", "kind", "due_at"),
        # The dashboard's Petugas page: open tasks (and overdue) per officer, and tasks done in a period, from this
        # index alone.
        Index(
            "ix_followups_status_kind_updated_at_officer_id_due_at",
            "status",
            "kind",
            "updated_at",
            "officer_id",
            "due_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=FollowUpStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(32))
    platform_message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # Tasks: the officer who works it (None = unassigned pool) and the region that decides who may.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"), index=True)
    region: Mapped[str | None] = mapped_column(String(60))
    # A question task: the worker's words. An answer or a notice: the text to send, written in the
    # recipient's language when it was queued. (An officer's note on a call goes to the lead's history.)
    text: Mapped[str | None] = mapped_column(String(4000))
    # WhatsApp: how it went out (free text inside the 24-hour window, or a template) and what the platform
    # reported afterwards (see Receipt).
    via: Mapped[str | None] = mapped_column(String(16))
    receipt: Mapped[str | None] = mapped_column(String(16))
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retention's clock for messages; for a task done, when it was done (the dashboard's Petugas page).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)


class Officer(Base):
    """A field officer: a contact with the officer role, the kabupaten/kota they cover, a personal code.

    Removing an officer keeps the row (removed_at) so the history's "officer:<id>" still names someone.
    """

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # The deep-link payload of the officer's personal link and QR code (t.me/<bot>?start=<code>).
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # Round robin: the officer with the lowest serial gets the next lead; taking one raises it past all.
    assigned_serial: Mapped[int] = mapped_column(Integer, default=0)
    # The local date (YYYY-MM-DD) of the last daily digest, so a restart never sends a second one.
    digest_on: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OfficerRegion(Base):
    __tablename__ = "officer_regions"

    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), primary_key=True)
    region: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class Invite(Base):
    """A one-time grant of a role made by staff: to whoever opens its link (a token, of which only a hash is
    kept), or to whoever proves they own its phone number (writing from it on WhatsApp, sharing it as their own
    contact on Telegram). Used once, until it expires."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # None: a grant by phone
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164 (+62...); None: a link
    role: Mapped[str] = mapped_column(String(16), default=Role.OFFICER, server_default=Role.OFFICER.value)
    name: Mapped[str | None] = mapped_column(String(80))  # an officer's, as workers will see it
    regions: Mapped[list[str]] = mapped_column(JSON)  # an officer's; empty for staff and admins
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"))
    # Who used it: the account now known to own `phone` (a later grant to the number applies to it at once).
    # Erasing that person takes the row with them, their number included.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_invites_contact_id"), index=True
    )


class ProcessedUpdate(Base):
    """Platform update ids already handled, so an update redelivered after a crash is not applied twice."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ErasedCount(Base):
    """What remains of people erased, at their request or when their period ran out: anonymous counts by the
    month they came, the month they left their contact, what became of them, where and how, so historical
    figures do not change when the rows go. Nothing in it identifies anyone."""

    __tablename__ = "erased_counts"
    __table_args__ = (
        UniqueConstraint(
            "reason",
            "erased_month",
            "started_month",
            "lead_month",
            "channel",
            "occupation",
            "region",
            "outcome",
            name="uq_erased_counts_key",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # "request" (HAPUS) or "retention" (the daily purge)
    erased_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM: months, never moments
    started_month: Mapped[str] = mapped_column(String(7))  # their first message
    lead_month: Mapped[str] = mapped_column(String(7), default="")  # when they left their contact; "" for none
    channel: Mapped[str] = mapped_column(String(16))
    occupation: Mapped[str] = mapped_column(String(16), default="")
    region: Mapped[str] = mapped_column(String(60), default="")
    outcome: Mapped[str] = mapped_column(String(24))  # the lead's last stage, or "no_lead"
    count: Mapped[int] = mapped_column(Integer)
    asked_cost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of `count`, who had asked it


class DashboardLink(Base):
    """A one-time link into the staff dashboard (`/dasbor` in the chat, `bpu-bot dashboard link`): for one person,
    used once, within DASHBOARD_LINK_LIFETIME. Only the token's SHA-256 is kept, so the table opens nothing."""

    __tablename__ = "dashboard_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_dashboard_links_contact_id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DashboardSession(Base):
    """A browser signed in to the dashboard by a link: the cookie's SHA-256, whose it is, until when. The role is
    not kept here: every request reads it from the person's contact, so a role taken away ends the access."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_dashboard_sessions_contact_id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # logged out


class DailyJob(Base):
    """A job run once a local day by the leader (the retention purge): the day it last finished. A run killed
    halfway has not finished, so the next look runs it again and it carries on where it stopped."""

    __tablename__ = "daily_jobs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    done_on: Mapped[str] = mapped_column(String(10))  # local YYYY-MM-DD


class Via(enum.StrEnum):
    """How a message went out on WhatsApp: free text (buttons, lists) inside the 24 hours after the person's
    last message, or an approved template outside them."""

    TEXT = "text"
    TEMPLATE = "template"


class Receipt(enum.StrEnum):
    """What the platform reported about a message after accepting it (WhatsApp status callbacks).

    Callbacks arrive in any order: a receipt only moves forward, sent < failed < delivered < read (a message
    reported delivered or read was not lost, whatever a late report says).
    """

    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    READ = "read"


class WebhookEvent(Base):
    """A webhook request as it arrived, kept until it is processed: the platform got its 200 as soon as this
    row was committed, so a crash before processing loses nothing (the row is processed at the next start)."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxStatus(enum.StrEnum):
    """pending -> sending -> (deleted once sent or refused for good); sending -> pending (network down)"""

    PENDING = "pending"
    SENDING = "sending"


class OutboxMessage(Base):
    """A reply kept in the turn's own transaction until it is sent (WhatsApp, where a batch of stored events
    is processed before its replies go out): a crash after the turn was committed sends it at the next start
    instead of losing it. One in flight when the process died may have arrived, and is dropped, never sent
    twice. Rows are deleted once sent: they hold what the person was told (their data, on DATA SAYA)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_channel_external_id_status", "channel", "external_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # No foreign key: the answer to HAPUS is sent after the person's rows are gone.
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)  # as the platform takes it, the recipient left out
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignStatus(enum.StrEnum):
    """scheduled -> sending -> done; scheduled | sending <-> paused; any but done -> cancelled.

    The recipients are chosen when sending starts (people who joined since scheduling are included), in the
    same transaction that moves the campaign to `sending`.
    """

    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    """pending -> sending -> sent | failed (blocked, refused, gave up) | unknown (may have arrived: never resent)
    pending -> skipped (stopped messages, lost consent, unreachable before their turn) | cancelled (campaign)
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Campaign(Base):
    """A broadcast: one message (Indonesian, optionally English) to a segment, sent at the platform's pace."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who made it ("officer:<id>", "admin:c<contact id>", "cli") and whose chat gets its progress and report.
    created_by: Mapped[str] = mapped_column(String(32))
    author_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL", name="fk_campaigns_author_contact_id")
    )
    # The filters as chosen (see bot.services.segments.Segment); an officer's always name their regions.
    segment: Mapped[dict[str, Any]] = mapped_column(JSON)
    text_id: Mapped[str] = mapped_column(String(4000))
    text_en: Mapped[str | None] = mapped_column(String(4000))
    button: Mapped[str | None] = mapped_column(String(16))  # "interest", "calculator" or none
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.SCHEDULED)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients: Mapped[int | None] = mapped_column(Integer)  # set when sending starts
    progress_message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its deliveries removed (past RETAIN_DELIVERY_DAYS, or their person erased), counted by progress bucket and
    # receipt, so its figures stay what they were (bot/services/campaigns.py campaign_progress).
    kept: Mapped[dict[str, int] | None] = mapped_column(JSON)


class Delivery(Base):
    """One campaign message to one person: claimed, sent and recorded like a follow-up, at most once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_deliveries_campaign_id_contact_id"),
        # The engine's claim: a campaign's pending rows in order; and the progress counts by status.
        Index("ix_deliveries_campaign_id_status_id", "campaign_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE", name="fk_deliveries_campaign_id")
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_deliveries_contact_id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)  # moved on by a 429's retry_after
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(32))  # blocked, refused, timeout, stopped, ...
    platform_message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    via: Mapped[str | None] = mapped_column(String(16))  # WhatsApp: "text" or "template"
    receipt: Mapped[str | None] = mapped_column(String(16))  # see Receipt
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[int | None] = mapped_column(Integer)


class AuditEvent(Base):
    """Who did what with people's data or powers, and who was refused: exports, role changes, broadcasts.

    `actor` is how the person acting was known at the time ("telegram:<user id>", "cli:<system user>"), and
    `subject` the person acted upon (whose role changed); an erased person's entries keep the event but lose
    the name ("erased").
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH), index=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # export, role, officer, broadcast, invite, ...
    subject: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH), index=True)
    allowed: Mapped[bool]
    # What was asked: filters and format of an export, a role's old and new value, a campaign's id...
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[int | None] = mapped_column(Integer)  # people in an export or a broadcast


class ExportStatus(enum.StrEnum):
    """pending -> running -> sending -> done | failed (nothing sent: too large, an error)
    running -> pending (the process stopped while writing: written again, nothing was sent yet)
    sending -> unknown (stopped while the file was being sent: never sent again)
    """

    PENDING = "pending"
    RUNNING = "running"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Export(Base):
    """A lead list asked for in the chat: written and sent as a document in the background."""

    __tablename__ = "exports"
    __table_args__ = (Index("ix_exports_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", name="fk_exports_requested_by"), index=True
    )
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    actor_role: Mapped[str] = mapped_column(String(16))
    # The filters (bot.services.exports.LeadFilter), already limited to an officer's regions.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(8))  # csv or xlsx
    locale: Mapped[str] = mapped_column(String(8))  # of the headers and labels
    status: Mapped[str] = mapped_column(String(16), default=ExportStatus.PENDING)
    rows: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
