"""The broadcast engine: campaigns' deliveries claimed in batches, each sent once at the platform's pace.

At most once: a batch is claimed (`sending`, committed) before its first request leaves and recorded after
its answers; a crash in between leaves those rows `sending`, and the next start marks them `unknown`, never
resent. The in-flight window is therefore at most `window` rows (two batches: one being sent while the one
before is recorded), which is what a kill -9 can cost.

The loop holds no campaign state: every step reads which campaigns are sending, so a pause or a cancel made
in the chat or on the command line (another process) takes effect at the next batch, well within a second.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.conversation.dispatcher import Dispatcher
from bot.conversation.events import Choice, Reply, Unprompted
from bot.models import Campaign, CampaignStatus, Contact, DeliveryStatus, FollowUpKind
from bot.services.campaigns import (
    BUTTONS,
    CAMPAIGN_PREFIX,
    campaign_progress,
    finish_if_done,
    pause_for_spam_limit,
    progress_text,
    sending_campaigns,
    start_due_campaigns,
)
from bot.services.deliveries import (
    MARKETING_STOPPED,
    SPAM_LIMITED,
    Outcome,
    Recipient,
    claim_deliveries,
    record_outcomes,
)
from bot.services.followups import Cadence
from bot.services.segments import Segment
from bot.services.tasks import queue_message
from bot.workers.background import Worker
from bot.workers.delivery import (
    DeliveryUnknown,
    MarketingStopped,
    NeedsTemplate,
    NetworkDown,
    RetryLater,
    Sender,
    SpamLimited,
    Undeliverable,
    Unreachable,
)
from bot.workers.pacing import Pacer

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0  # how often an idle engine looks for campaigns to start, resume or stop
PROGRESS_SECONDS = 3.0  # the author's progress message is edited at most this often
BATCH_SECONDS = 0.25  # a batch holds about this much sending: pause and cancel wait no longer
MAX_BATCH = 200
MAX_ATTEMPTS = 6  # network errors before a delivery is given up (a 429 does not count: it loses nothing)
# What the platform can answer instead of taking a message: the author's progress and report are only logged.
NOT_DELIVERED = (
    Unreachable,
    Undeliverable,
    RetryLater,
    DeliveryUnknown,
    NeedsTemplate,
    SpamLimited,
    MarketingStopped,
)


def batch_size(rate: float | None) -> int:
    return MAX_BATCH if not rate else max(1, min(MAX_BATCH, math.ceil(rate * BATCH_SECONDS)))


@dataclass
class _Shown:
    """What the author's progress message last showed, and when; where messages cannot be edited, the last
    milestone told (see _milestone)."""

    message_id: str | None
    at: float = 0.0
    text: str = ""
    milestone: tuple[str, int] | None = None


def _milestone(state: str, share_done: float) -> tuple[str, int]:
    """Where a campaign is, in the steps an author who cannot see one message change is told of: its state
    (started, night, done) and each quarter sent, not every batch."""
    return state, min(4, math.floor(share_done * 4))


class Broadcaster(Worker):
    idle_seconds = IDLE_SECONDS

    def __init__(self, dispatcher: Dispatcher, senders: dict[str, Sender], pacers: dict[str, Pacer]):
        super().__init__()
        self.dispatcher = dispatcher
        self.senders = senders
        self.pacers = pacers
        self.cadence = Cadence.from_settings(dispatcher.settings)
        self.batch = {channel: batch_size(pacer.rate) for channel, pacer in pacers.items()}
        self.window = 2 * max(self.batch.values(), default=1)
        self._recording: list[asyncio.Task[None]] = []
        self._shown: dict[int, _Shown] = {}
        self._spam_limited: set[int] = set()  # campaigns WhatsApp's spam limit hit, until their pause is recorded

    # ------------------------------------------------------------------------------------------ the loop

    async def finish(self) -> None:
        """A stop lets the batch in hand be sent and recorded."""
        await self.drain()

    async def step(self) -> bool:
        """One batch of every sending campaign; True when something was sent (more may be waiting)."""
        now = self.dispatcher.clock()
        sessions = self.dispatcher.sessions
        versions = self.dispatcher.content.consent_versions
        async with sessions.begin() as session:
            started = await start_due_campaigns(session, versions, now)
        for campaign_id in started:
            log.info("campaign %s started", campaign_id)
        async with sessions() as session:
            campaigns = await sending_campaigns(session)
        if not campaigns:
            await self.drain()
            return False
        if not self.cadence.in_window(now):  # quiet hours: the campaign waits for the morning
            await self.drain()
            for campaign in campaigns:
                await self._show_progress(campaign, "night")
            return False
        worked = False
        for campaign in campaigns:
            if self.stopping:
                break
            worked |= await self._send_batch(campaign, now)
        return worked

    async def drain(self) -> None:
        """Wait until every batch in flight is recorded."""
        while self._recording:
            await self._recording.pop(0)

    # ------------------------------------------------------------------------------------------ sending

    async def _send_batch(self, campaign: Campaign, now: datetime) -> bool:
        # At most two batches unrecorded: the bound on what a crash can leave `unknown`.
        while len(self._recording) >= 2:
            await self._recording.pop(0)
        if campaign.id in self._spam_limited:  # no next batch before the batch in hand has paused the campaign
            await self.drain()
            self._spam_limited.discard(campaign.id)
            return False
        if campaign.id not in self._shown:
            # The author sees it start before any batch can be recorded, and before rows are claimed: a failure
            # here leaves none `sending`.
            await self._show_progress(campaign, "sending")
        channels = list(self.pacers)
        limit = min(self.batch[channel] for channel in channels)
        async with self.dispatcher.sessions.begin() as session:
            recipients = await claim_deliveries(
                session,
                campaign.id,
                Segment.from_json(campaign.segment),
                self.dispatcher.content.consent_versions,
                now,
                limit,
            )
        if not recipients:
            await self.drain()
            await self._finish(campaign)
            return False
        sends, unsendable = [], []
        for recipient in recipients:
            sender = self.senders.get(recipient.channel)
            if sender is None:  # a channel this process does not serve (now): not sent, and said so
                unsendable.append(
                    Outcome(recipient.delivery_id, recipient.contact_id, DeliveryStatus.SKIPPED, "no_channel")
                )
                continue
            await self.pacers[recipient.channel].acquire()
            reply = self._message(campaign, recipient)
            sends.append(asyncio.create_task(self._send_one(campaign.id, sender, recipient, reply)))
        self._recording.append(asyncio.create_task(self._record(campaign.id, sends, unsendable)))
        await self._show_progress(campaign, "sending")
        return True

    async def _send_one(self, campaign_id: int, sender: Sender, recipient: Recipient, reply: Reply) -> Outcome:
        ids = (recipient.delivery_id, recipient.contact_id)
        try:
            sent = await sender.send(recipient.external_id, reply)
        except Unreachable:
            return Outcome(*ids, DeliveryStatus.FAILED, "blocked")
        except Undeliverable as error:
            log.error("delivery %s refused by the platform: %s", recipient.delivery_id, error)
            return Outcome(*ids, DeliveryStatus.FAILED, error.outcome, error_code=error.code)
        except NeedsTemplate:  # WhatsApp, outside the 24 hours, no template configured: never free text
            return Outcome(*ids, DeliveryStatus.SKIPPED, "no_template")
        except MarketingStopped:
            return Outcome(*ids, DeliveryStatus.SKIPPED, MARKETING_STOPPED)
        except SpamLimited:  # the campaign stops (see _record); this message waits for its resumption
            self._spam_limited.add(campaign_id)
            now = self.dispatcher.clock()
            return Outcome(*ids, DeliveryStatus.PENDING, SPAM_LIMITED, retry_at=now, attempts=recipient.attempts - 1)
        except NetworkDown:
            if recipient.attempts >= MAX_ATTEMPTS:
                return Outcome(*ids, DeliveryStatus.FAILED, "gave_up")
            backoff = min(5 * 2 ** (recipient.attempts - 1), 300)  # 5 s, 10 s, 20 s, ... at most 5 minutes
            retry_at = self._later(backoff)
            return Outcome(*ids, DeliveryStatus.PENDING, "network", retry_at=retry_at, attempts=recipient.attempts)
        except RetryLater as later:  # a 429: this message goes again, uncounted (everyone waits if it says so)
            if later.everyone:
                self.pacers[recipient.channel].pause(later.seconds)
            retry_at = self._later(later.seconds)
            attempts = recipient.attempts - 1
            return Outcome(*ids, DeliveryStatus.PENDING, later.reason, retry_at=retry_at, attempts=attempts)
        except DeliveryUnknown:
            return Outcome(*ids, DeliveryStatus.UNKNOWN, "timeout")
        return Outcome(*ids, DeliveryStatus.SENT, message_id=sent.message_id, via=sent.via)

    def _later(self, seconds: float) -> datetime:
        return self.dispatcher.clock() + timedelta(seconds=seconds)

    async def _record(self, campaign_id: int, sends: list[asyncio.Task[Outcome]], unsendable: list[Outcome]) -> None:
        outcomes = [*await asyncio.gather(*sends), *unsendable]

        async def write(session) -> None:
            await record_outcomes(session, outcomes, self.dispatcher.clock())
            if any(o.outcome == SPAM_LIMITED for o in outcomes):
                await stop_for_spam_limit(self.dispatcher, session, campaign_id)

        await self.dispatcher.sessions.record_sent(write)

    async def _finish(self, campaign: Campaign) -> None:
        async with self.dispatcher.sessions.begin() as session:
            finished = await finish_if_done(session, campaign.id, self.dispatcher.clock())
        if finished:
            log.info("campaign %s done", campaign.id)
            campaign.status = CampaignStatus.DONE
            await self._show_progress(campaign, "done", final=True)

    def _message(self, campaign: Campaign, recipient: Recipient) -> Reply:
        t = self.dispatcher.messages[recipient.locale]
        text = campaign.text_en if recipient.locale == "en" and campaign.text_en else campaign.text_id
        choices: tuple[Choice, ...] = ()
        if campaign.button in BUTTONS:
            action, label = BUTTONS[campaign.button]
            choices = (Choice(f"{action}:{CAMPAIGN_PREFIX}{campaign.id}", t(label)),)
        unprompted = Unprompted(
            "broadcast",
            f"d:{recipient.delivery_id}",
            recipient.last_seen_at,
            {"text": text},
            template_only=recipient.template_only,
        )
        return Reply(text, choices=choices, serial=recipient.serial, locale=recipient.locale, unprompted=unprompted)

    # ------------------------------------------------------------------------------------------ progress

    async def _show_progress(self, campaign: Campaign, state: str, final: bool = False) -> None:
        """The author's one progress message: sent once, then edited (at most every PROGRESS_SECONDS); on a
        platform that cannot edit, a new message at each milestone."""
        if campaign.author_contact_id is None:
            return
        shown = self._shown.setdefault(campaign.id, _Shown(campaign.progress_message_id))
        if not final and time.monotonic() - shown.at < PROGRESS_SECONDS:
            return
        shown.at = time.monotonic()
        async with self.dispatcher.sessions() as session:
            author = await session.get(Contact, campaign.author_contact_id)
            progress = (await campaign_progress(session, [campaign.id]))[campaign.id]
        sender = self.senders.get(author.channel) if author is not None else None
        if sender is None or author is None:
            return
        t = self.dispatcher.messages[author.locale]
        text = progress_text(t, campaign.id, state, progress)
        if text == shown.text:
            return
        shown.text = text
        reply = Reply(text, locale=author.locale)
        milestone = _milestone(state, progress.share_done)
        if not sender.edits:  # WhatsApp: a new message at each milestone, none in between
            # Everything went out: the final message ("selesai") comes next, so no "100% sedang dikirim" before it.
            if milestone == shown.milestone or (not final and progress.waiting == 0):
                return
            shown.milestone, shown.message_id = milestone, None
        if shown.message_id is None:
            try:
                shown.message_id = (await sender.send(author.external_id, reply)).message_id
            except NOT_DELIVERED as error:
                log.warning("could not show campaign %s's progress: %r", campaign.id, error)
                return
            async with self.dispatcher.sessions.begin() as session:
                row = await session.get_one(Campaign, campaign.id)  # campaigns are never deleted
                row.progress_message_id = shown.message_id
        else:
            await sender.edit(author.external_id, shown.message_id, reply)
        if final:
            self._shown.pop(campaign.id, None)
            report = Reply(
                t("broadcast.final", id=campaign.id, sent=progress.sent, total=progress.total),
                choices=(Choice(f"bc_report:{campaign.id}", t("broadcast.report_button")),),
                serial=author.state_serial,
                locale=author.locale,
            )
            try:
                await sender.send(author.external_id, report)
            except NOT_DELIVERED as error:
                log.warning("could not send campaign %s's report: %r", campaign.id, error)


async def stop_for_spam_limit(dispatcher: Dispatcher, session, campaign_id: int) -> None:
    """Meta's spam rate limit (131048): the campaign is paused and its author told, once, in their chat."""
    campaign = await pause_for_spam_limit(session, campaign_id)
    if campaign is None:
        return
    log.warning("campaign %s paused: WhatsApp's spam rate limit (131048)", campaign_id)
    author = await session.get(Contact, campaign.author_contact_id) if campaign.author_contact_id else None
    if author is not None:
        text = dispatcher.messages[author.locale]("broadcast.spam_paused", id=campaign_id)
        await queue_message(session, author.id, FollowUpKind.NOTICE, text, dispatcher.clock())
        if (wake := dispatcher.wakers.get("ticker")) is not None:
            wake()
