"""The repeating tick: queue the officers' daily digests, claim due messages, send each once, record what
happened.

Run by the leader's scheduler (APScheduler, bot/cli/run.py) every TICK_SECONDS, and woken at once when a
conversation queued a message (an officer's answer). It holds no business state, so a tick that never ran
while the bot was down costs nothing: the rows are still due, and the next tick sends each of them once.

Reminders wait for the daytime window; answers and notices go at once (the worker asked for the answer,
and officers' notices are work, sent from DIGEST_TIME on).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.dispatcher import Dispatcher
from bot.conversation.events import Choice, Reply, Unprompted
from bot.models import (
    MESSAGE_KINDS,
    ConsentPurpose,
    Contact,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Lead,
    LeadStatus,
    Via,
)
from bot.services.consent import has_consent
from bot.services.deliveries import stop_marketing
from bot.services.followups import (
    Cadence,
    claim_due_messages,
    later_reminder_due,
    local_day,
    mark_unreachable,
    settle_followup,
)
from bot.services.officers import claim_digests
from bot.services.retention import leads_to_warn
from bot.services.tasks import LEAD_NAME, fill_lead_names, queue_message, waiting_leads
from bot.workers.delivery import (
    DeliveryUnknown,
    MarketingStopped,
    NeedsTemplate,
    RetryLater,
    Sender,
    SpamLimited,
    Undeliverable,
    Unreachable,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 100
# The leads a digest names; the rest it counts.
DIGEST_NAMES = 5
MAX_ATTEMPTS = 5  # then the row fails: nothing retries forever
SPAM_LIMIT_BACKOFF = timedelta(hours=1)  # WhatsApp's spam rate limit (131048): try again much later


@dataclass
class TickReport:
    sent: int = 0
    cancelled: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0


class FollowUpTicker:
    def __init__(
        self,
        dispatcher: Dispatcher,
        senders: dict[str, Sender],
        batch_size: int = BATCH_SIZE,
    ):
        self.dispatcher = dispatcher
        self.senders = senders
        self.batch_size = batch_size
        self.cadence = Cadence.from_settings(dispatcher.settings)

    async def tick(self) -> TickReport:
        report = TickReport()
        now = self.dispatcher.clock()  # the one "now" of the app: the conversation schedules with it too
        # Quiet hours: reminders wait for the morning; answers and notices do not.
        kinds = MESSAGE_KINDS if self.cadence.in_window(now) else (FollowUpKind.ANSWER, FollowUpKind.NOTICE)
        async with self.dispatcher.sessions.begin() as session:
            await self._queue_digests(session, now)
        async with self.dispatcher.sessions.begin() as session:
            claimed = await claim_due_messages(session, now, self.batch_size, kinds)
        for followup_id in claimed:
            await self._deliver(followup_id, now, report)
        if claimed:
            log.info("tick: %s", report)
        return report

    async def _deliver(self, followup_id: int, now: datetime, report: TickReport) -> None:
        async with self.dispatcher.sessions.begin() as session:
            row = await session.get(FollowUp, followup_id)  # claimed by this tick
            if row is None:  # the person erased their data since the claim: nothing left to send or settle
                report.cancelled += 1
                return
            contact = await session.get_one(Contact, row.contact_id)
            lead = await session.get(Lead, row.lead_id) if row.lead_id else None
            reason = await self._reason_not_to_send(session, contact, lead, row, now)
            if reason is not None:
                await settle_followup(session, followup_id, FollowUpStatus.CANCELLED, outcome=reason, claimed=True)
                report.cancelled += 1
                return
            if row.kind == FollowUpKind.REMINDER:
                assert lead is not None  # else _reason_not_to_send said "registered"
                reply = self._reminder(contact, lead, row)
            else:
                # Only notices name leads (by a mark, see LEAD_NAME): an officer's typed answer is sent as typed.
                text = row.text or ""
                if row.kind == FollowUpKind.NOTICE:
                    text = await fill_lead_names(session, text)
                reply = self._message(contact, row, text)
            sender = self.senders[contact.channel]
        # The claim is committed; from here on the row is `sending` until the platform answers.
        try:
            sent = await sender.send(contact.external_id, reply)
        except Unreachable:
            also = partial(mark_unreachable, contact_ids=[contact.id], now=now)
            await self._settle(followup_id, FollowUpStatus.FAILED, also=also, outcome="unreachable")
            report.failed += 1
        except Undeliverable as error:
            log.error("message %s refused by the platform: %s", followup_id, error)
            await self._settle(followup_id, FollowUpStatus.FAILED, outcome=error.outcome, error_code=error.code)
            report.failed += 1
        except NeedsTemplate:  # WhatsApp, outside the 24 hours, and no template for it: never free text
            await self._settle(followup_id, FollowUpStatus.CANCELLED, outcome="no_template")
            report.cancelled += 1
        except MarketingStopped:
            also = partial(stop_marketing, contact_ids=[contact.id], now=now)
            await self._settle(followup_id, FollowUpStatus.FAILED, also=also, outcome="marketing_stopped")
            report.failed += 1
        except (RetryLater, SpamLimited) as later:
            if row.attempts >= MAX_ATTEMPTS:
                await self._settle(followup_id, FollowUpStatus.FAILED, outcome="gave_up")
                report.failed += 1
            else:
                wait = timedelta(seconds=later.seconds) if isinstance(later, RetryLater) else SPAM_LIMIT_BACKOFF
                await self._settle(followup_id, FollowUpStatus.PENDING, due_at=now + wait)
                report.retried += 1
        except DeliveryUnknown:
            await self._settle(followup_id, FollowUpStatus.UNKNOWN, outcome="timeout")
            report.unknown += 1
        else:
            await self._settle(followup_id, FollowUpStatus.SENT, platform_message_id=sent.message_id, via=sent.via)
            report.sent += 1

    async def _settle(
        self, followup_id: int, status: FollowUpStatus, also: Callable[[AsyncSession], Awaitable] | None = None,
        **values: Any,
    ) -> None:  # fmt: skip
        """Record what became of a claimed row (and `also` what it says of the person), retried on a database
        error: the message may have left."""

        async def write(session: AsyncSession) -> None:
            if also is not None:
                await also(session)
            await settle_followup(session, followup_id, status, claimed=True, **values)

        await self.dispatcher.sessions.record_sent(write)

    async def _reason_not_to_send(
        self, session: AsyncSession, contact: Contact, lead: Lead | None, row: FollowUp, now: datetime
    ) -> str | None:
        """Checked again just before sending: what changed since the reminder was scheduled wins."""
        if contact.channel not in self.senders:
            return "no_channel"
        if contact.messages_stopped_at is not None:
            return "stopped"
        if contact.unreachable_at is not None:
            return "unreachable"
        if row.kind != FollowUpKind.REMINDER:
            return None
        versions = self.dispatcher.content.consent_versions
        if not await has_consent(session, contact, ConsentPurpose.REMINDERS, versions):
            return "no_consent"
        if lead is None or lead.status == LeadStatus.TERDAFTAR:
            return "registered"
        if await later_reminder_due(session, row, now):
            return "superseded"  # after an outage: one "Sudah daftar?", not one per missed reminder
        return None

    async def _queue_digests(self, session: AsyncSession, now: datetime) -> None:
        """From DIGEST_TIME on, once a local day, each officer's counts as a notice (none when all are zero)."""
        settings = self.dispatcher.settings
        for digest in await claim_digests(session, now, settings.tz, settings.digest_time):
            expiring = await leads_to_warn(session, digest.officer.id, settings.retention, now)
            if digest.empty and not expiring:
                continue
            t = self.dispatcher.messages[digest.contact.locale]
            text = t(
                "officer.digest",
                name=digest.officer.name,
                due_today=digest.due_today,
                overdue=digest.overdue,
                new_leads=digest.new_leads,
            )
            waiting, total = await waiting_leads(
                session, digest.officer.id, local_day(now, settings.tz)[1], DIGEST_NAMES
            )
            if waiting:
                names = "\n".join(
                    t(
                        "officer.digest_lead",
                        name=LEAD_NAME.format(lead.id),
                        region=lead.region,
                        call_time=t(f"interest.call_time.{lead.call_time}"),
                    )
                    for lead in waiting
                )
                more = t("officer.digest_more", count=total - len(waiting)) if total > len(waiting) else ""
                text += "\n\n" + t("officer.digest_waiting", leads=names, more=more).strip()
            if expiring:  # named like the waiting ones, so an erasure meanwhile leaves "…" in their place
                names = "\n".join(
                    t(
                        "officer.digest_expiring_lead",
                        name=LEAD_NAME.format(lead.id),
                        region=lead.region,
                        day=format_date(goes.astimezone(settings.tz), "EEEE d MMM", locale=digest.contact.locale),
                    )
                    for lead, goes in expiring[:DIGEST_NAMES]
                )
                more = (
                    t("officer.digest_more", count=len(expiring) - DIGEST_NAMES) if len(expiring) > DIGEST_NAMES else ""
                )
                text += "\n\n" + t("officer.digest_expiring", leads=names, more=more).strip()
            await queue_message(session, digest.contact.id, FollowUpKind.NOTICE, text, now)

    def _message(self, contact: Contact, row: FollowUp, text: str) -> Reply:
        """An answer relayed to a worker, or a notice to an officer: `text` was written when it was queued (the
        leads it names filled in now)."""
        t = self.dispatcher.messages[contact.locale]
        choices: tuple[Choice, ...]
        if row.kind == FollowUpKind.ANSWER:
            choices = (Choice("ask", t("ask.again_button")), Choice("menu", t("common.menu")))
        elif row.lead_id is not None:  # a new lead: its card, with the number to call and the stages
            choices = (
                Choice(f"lead:{row.lead_id}", t("officer.open_lead_button")),
                Choice("tasks", t("officer.tasks_button")),
            )
        else:
            choices = (Choice("tasks", t("officer.tasks_button")),)
        return Reply(
            text,
            choices=choices,
            serial=contact.state_serial,
            locale=contact.locale,
            unprompted=_unprompted(row, contact, {"text": text}),
        )

    def _reminder(self, contact: Contact, lead: Lead, row: FollowUp) -> Reply:
        t = self.dispatcher.messages[contact.locale]
        choices = (
            Choice(f"fu_done:{row.id}", t("followup.done_button")),
            Choice(f"fu_help:{row.id}", t("followup.help_button")),
            Choice(f"fu_stop:{row.id}", t("followup.stop_button")),
        )
        return Reply(
            t("followup.reminder", name=lead.name),
            choices=choices,
            serial=contact.state_serial,
            locale=contact.locale,
            unprompted=_unprompted(row, contact, {"name": lead.name}),
        )


def _unprompted(row: FollowUp, contact: Contact, fields: dict[str, str]) -> Unprompted:
    """What WhatsApp needs to know: the purpose (its template), the row (echoed in status callbacks), the
    person's last message (the 24-hour window), and whether WhatsApp already said that window was closed."""
    return Unprompted(row.kind, f"f:{row.id}", contact.last_seen_at, fields, template_only=row.via == Via.TEMPLATE)
