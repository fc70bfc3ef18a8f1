"""Webhook requests checked, stored as they arrive, then processed in order with their replies sent once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import BotApp
from bot.channels.whatsapp import CHANNEL
from bot.channels.whatsapp.inbound import parse_webhook, personal_link
from bot.channels.whatsapp.rendering import render
from bot.channels.whatsapp.sending import WhatsAppSender, WindowClosed
from bot.conversation.events import Inbound, Reply
from bot.conversation.turn import NEW
from bot.phone import normalise_phone
from bot.services.contacts import lock_contact
from bot.services.outbox import (
    claim_reply,
    forget_stale_replies,
    keep_replies,
    people_waiting,
    settle_reply,
    waiting_replies,
)
from bot.services.receipts import Report, apply_reports
from bot.services.roles import claim_by_phone, grant_waiting
from bot.services.webhook_events import delete_webhook_events, read_webhook_events, store_webhook_event
from bot.workers.background import Worker
from bot.workers.broadcaster import stop_for_spam_limit
from bot.workers.delivery import (
    DeliveryUnknown,
    MarketingStopped,
    NetworkDown,
    RetryLater,
    SpamLimited,
    Undeliverable,
    Unreachable,
)

log = logging.getLogger(__name__)

REPLY_RETRIES = 2  # a reply held up by the throughput limit is tried this many more times
REPLY_RETRY_WAIT = 10.0  # seconds; a longer wait is not worth holding the conversation for
REPLY_TTL = timedelta(hours=1)  # a reply held longer by a network outage is dropped


def valid_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw body exactly as received."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # As bytes: a header may hold anything, and compare_digest refuses a str that is not ASCII.
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode("utf-8", "surrogateescape"))


class WhatsAppChannel(Worker):
    """Stored webhook events, processed in the order they arrived, and the replies they get.

    The web server stores each signed POST as a row and answers 200 at once (Meta retries what is not
    answered quickly); this worker then reads the rows in order: status callbacks become receipts, messages
    go through the dispatcher (a message id seen before is applied once). Each turn's replies are kept in its
    own transaction (the outbox) and sent after it, once: a crash after a turn sends them at the next start,
    and one in flight is never sent twice. Each person's messages are handled one after another; different
    people's at the same time, so one slow reply does not hold up the others. An event is deleted once
    processed: a crash before that processes it again at the next start, which applies nothing twice.
    """

    idle_seconds = 5.0  # rows stored by another process, and replies held by a network outage, wait this long

    def __init__(self, app: BotApp, sender: WhatsAppSender, batch: int = 200):
        super().__init__()
        self.app = app
        self.sender = sender
        self.batch = batch
        self.templates = frozenset(purpose for purpose, _ in app.settings.whatsapp_templates)
        app.dispatcher.outboxes[CHANNEL] = self.keep
        # Who processes a stored event: this worker, or the leader of the deployment (set by bot/cli/run.py).
        self.wake_worker: Callable[[], None] = self.wake
        if (number := app.settings.whatsapp_display_number) is not None:
            text = app.messages[app.settings.default_locale]
            app.dispatcher.links[CHANNEL] = lambda code: personal_link(number, text("whatsapp.link_text", code=code))

    async def store(self, body: str) -> None:
        async with self.app.dispatcher.sessions.begin() as session:
            await store_webhook_event(session, CHANNEL, body, self.app.dispatcher.clock())
        self.wake_worker()

    async def keep(self, session: AsyncSession, external_id: str, replies: list[Reply]) -> None:
        """The dispatcher's hook: a turn's replies, rendered, in the turn's transaction."""
        messages = [message for reply in replies for message in render(reply, self.app.messages[reply.locale])]
        await keep_replies(session, CHANNEL, external_id, messages, self.app.dispatcher.clock())

    async def step(self) -> bool:
        """Process a batch of stored events; True when there were some. Replies still waiting (the network was
        down) go out too, but are not counted as work: an outage must not make the loop spin."""
        sessions = self.app.dispatcher.sessions
        async with sessions.begin() as session:
            # The write first: on SQLite a transaction that read before it writes fails at once if another
            # connection committed in between.
            stale = await forget_stale_replies(session, self.app.dispatcher.clock() - REPLY_TTL)
            events = await read_webhook_events(session, CHANNEL, self.batch)
            # Most batches find no role waiting for any number: then no message needs its own look (_claim_grant).
            grants = bool(events) and await grant_waiting(session, self.app.dispatcher.clock())
            waiting = await people_waiting(session, CHANNEL)
        if stale:
            log.warning("%d replies waited longer than %s for the network: dropped", stale, REPLY_TTL)
        messages: list[Inbound] = []
        reports: list[Report] = []
        for event_id, body in events:
            try:
                batch = parse_webhook(json.loads(body))
            except (
                ValueError,
                RecursionError,
            ):  # stored before bot/web/server.py checked bodies: must not hold up the rest
                log.warning("webhook event %s is not JSON: dropped", event_id)
                continue
            messages += batch.messages
            reports += batch.statuses
        if reports:
            await self._apply(reports)
        by_person: dict[str, list[Inbound]] = {person: [] for person in waiting}
        for inbound in messages:
            by_person.setdefault(inbound.external_id, []).append(inbound)
        erasures = self.app.dispatcher.erasures
        await asyncio.gather(*(self._converse(person, inbounds, grants) for person, inbounds in by_person.items()))
        if events:
            async with sessions.begin() as session:
                await delete_webhook_events(session, [event_id for event_id, _ in events])
        if self.app.dispatcher.erasures != erasures:  # the stored message that asked for it named the person too
            await sessions.finish_erasure()
        return bool(events)

    async def _apply(self, reports: list[Report]) -> None:
        dispatcher = self.app.dispatcher
        async with dispatcher.sessions.begin() as session:
            effects = await apply_reports(session, reports, dispatcher.clock(), self.templates)
            for campaign_id in sorted(effects.spam_limited_campaigns):
                await stop_for_spam_limit(dispatcher, session, campaign_id)

    async def _converse(self, external_id: str, inbounds: list[Inbound], grants: bool) -> None:
        await self.send_kept(external_id)  # what an earlier run could not send comes first
        for inbound in inbounds:
            if grants:
                await self._claim_grant(inbound)
            await self.app.dispatcher.handle(inbound)
            await self.send_kept(external_id)

    async def _claim_grant(self, inbound: Inbound) -> None:
        """A role staff granted to this number (`bpu-bot officers add --phone`) is the sender's: WhatsApp vouches
        that the message comes from it. Taken before the message is answered, so it already counts. Looked for
        only when the batch found a role waiting for some number (one query a batch, not a transaction a
        message): a grant made while a batch is being handled is taken at the person's next message."""
        phone = normalise_phone(inbound.platform_phone) if inbound.platform_phone else None
        if phone is None:
            return
        dispatcher = self.app.dispatcher
        try:
            async with dispatcher.sessions.begin() as session:
                if await grant_waiting(session, dispatcher.clock(), phone):
                    contact = await lock_contact(
                        session,
                        CHANNEL,
                        inbound.external_id,
                        locale=dispatcher.settings.default_locale,
                        state=NEW,
                        now=dispatcher.clock(),
                    )
                    await claim_by_phone(session, contact, phone, dispatcher.clock())
        except Exception:  # the message is still answered (as before the grant), and the grant waits
            log.exception("a role granted to a WhatsApp number could not be taken")

    async def send_kept(self, external_id: str) -> None:
        """This person's kept replies, oldest first, each sent once. When the network is down, the rest wait
        (in order) for the next step; anything else the platform refuses is logged, as on Telegram.

        A reply is claimed only once the pacer gives it its turn, so what a crash can leave `sending` (and
        drop) is what was on its way, not what was queued behind the throughput limit. Each claim shares its
        transaction with the record of the reply before it."""
        sessions, pacer = self.app.dispatcher.sessions, self.sender.pacer
        async with sessions() as session:
            waiting = await waiting_replies(session, CHANNEL, external_id)
        settled: tuple[int, bool] | None = None
        for reply_id in waiting:
            if pacer is not None:
                await pacer.acquire()
            async with sessions.begin() as session:
                if settled is not None:
                    await settle_reply(session, *settled)
                message = await claim_reply(session, reply_id)
            settled = None
            if message is None:
                continue  # taken by another run of this worker
            sent = await self._send_reply(external_id, message)
            settled = (reply_id, sent)
            if not sent:
                break
        if settled is not None:
            async with sessions.begin() as session:
                await settle_reply(session, *settled)

    async def _send_reply(self, external_id: str, message: dict[str, Any]) -> bool:
        """False when nothing left because the network was down (the reply waits); True otherwise."""
        for attempt in range(REPLY_RETRIES + 1):
            try:
                message = await self.sender.with_media(message)  # uploaded once: a retry sends the same id
                await self.sender.post(external_id, message, paced=attempt > 0)
                return True
            except NetworkDown:  # before RetryLater, which it is a kind of: nothing left, so the reply waits
                log.warning("the Graph API cannot be reached: replies wait for the next try")
                return False
            except RetryLater as later:
                if later.seconds > REPLY_RETRY_WAIT or attempt == REPLY_RETRIES:
                    log.warning("a reply on whatsapp was not delivered: the number's throughput limit held")
                    return True
                await asyncio.sleep(later.seconds)
            except (Unreachable, Undeliverable, DeliveryUnknown, WindowClosed, SpamLimited, MarketingStopped) as error:
                log.warning("a reply on whatsapp was not delivered: %r", error)
                return True
        return True
