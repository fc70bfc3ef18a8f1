"""WhatsApp through Meta's Cloud API: webhook payloads become Inbounds, Replies become WhatsApp messages.

No conversation logic lives here. A Reply with choices becomes reply buttons (at most 3, titles of at most
20 characters) or a list message (at most 10 rows; longer menus continue in a second list); a message nobody
asked for just now goes out as free text inside the 24 hours after the person's last message and as an
approved template outside them, or not at all.

The client is our own, over httpx, so the Graph API's base URL stays configurable (tests point it at a fake)
and every error code reaches the code that decides what it means (platforms.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import BotApp
from bot.config import Settings, WhatsAppTemplate
from bot.conversation.events import Inbound, Kind, Origin, Reply, Unprompted, encode_choice
from bot.i18n import Messages, Translator
from bot.models import ID_LENGTH, Via, WebhookEvent
from bot.services.campaigns import WHATSAPP_WINDOW
from bot.services.officers import CODE_PREFIX
from bot.services.outbox import (
    claim_reply,
    forget_stale_replies,
    keep_replies,
    people_waiting,
    settle_reply,
    waiting_replies,
)
from bot.services.receipts import (
    MARKETING_LIMIT,
    MARKETING_OPT_OUT,
    PAIR_RATE,
    REENGAGEMENT,
    SPAM_RATE,
    THROUGHPUT,
    UNDELIVERABLE,
    Report,
    apply_reports,
)
from bot.workers.background import Worker
from bot.workers.broadcaster import stop_for_spam_limit
from bot.workers.delivery import (
    DeliveryUnknown,
    MarketingStopped,
    NeedsTemplate,
    NetworkDown,
    RetryLater,
    Sent,
    SpamLimited,
    Undeliverable,
    Unreachable,
)
from bot.workers.pacing import Pacer

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
MAX_BUTTONS = 3
BUTTON_TITLE = 20
BUTTON_BODY = 1024
MAX_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
TEXT_BODY = 4096
CALLBACK_DATA = 512
ACCESS_TOKEN = 190  # the Graph API's "invalid token"; WhatsApp's own codes are in bot.services.receipts
THROUGHPUT_BACKOFF = 2.0  # seconds; Meta gives no retry-after
PAIR_BACKOFF = 10.0
MARKETING_BACKOFF = 24 * 3600.0
TOKEN_BACKOFF = 300.0
REPLY_RETRIES = 2  # a reply held up by the throughput limit is tried this many more times
REPLY_RETRY_WAIT = 10.0  # seconds; a longer wait is not worth holding the conversation for
REPLY_TTL = timedelta(hours=1)  # a reply held longer by a network outage is dropped
# An officer's personal code in a message (the text of their wa.me link): what /start <code> is on Telegram.
_OFFICER_CODE = re.compile(rf"(?<![\w-]){CODE_PREFIX}[a-z2-9]{{6}}(?![\w-])", re.IGNORECASE)
# A sender as Meta names one: a phone's digits, or a business-scoped id such as "ID.1349...".
_SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Message types that are a file, a place or a feeling, not words: the same friendly answer as on Telegram.
_MEDIA = ("image", "sticker", "audio", "video", "document", "location", "reaction", "unsupported", "order")


# ------------------------------------------------------------------------------------------ the webhook


def valid_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw body exactly as received."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # As bytes: a header may hold anything, and compare_digest refuses a str that is not ASCII.
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode("utf-8", "surrogateescape"))


@dataclass
class WebhookBatch:
    messages: list[Inbound]
    statuses: list[Report]


def parse_webhook(payload: dict[str, Any]) -> WebhookBatch:
    """Every message and status in a webhook body (Meta batches several changes and entries in one).

    A value of the wrong type (which Meta never sends) makes its own message or status skipped, with one log
    line, never the body: the valid ones beside it are kept, and no contact comes from a value that is not a
    string."""
    batch = WebhookBatch([], [])
    if not isinstance(payload, dict):
        return batch
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            contacts = [c for c in _list(value.get("contacts")) if isinstance(c, dict)]
            for message in _list(value.get("messages")):
                if (inbound := _inbound(_dict(message), contacts)) is not None:
                    batch.messages.append(inbound)
            for status in _list(value.get("statuses")):
                if (report := _status(_dict(status))) is not None:
                    batch.statuses.append(report)
    return batch


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _sender(message: dict[str, Any], contacts: list[dict[str, Any]]) -> tuple[str, str]:
    """(the business-scoped user id, or the phone for payloads without one; the phone or ''); ('', '') when
    either is given as something other than a string of the shape Meta gives."""
    if any(not isinstance(message.get(key, ""), str) for key in ("from_user_id", "from")):
        return "", ""
    user_id = _str(message.get("from_user_id"))
    phone = _str(message.get("from"))
    contact = next(
        (c for c in contacts if (user_id and c.get("user_id") == user_id) or (phone and c.get("wa_id") == phone)),
        contacts[0] if len(contacts) == 1 else {},
    )
    user_id = user_id or _str(contact.get("user_id"))
    phone = phone or _str(contact.get("wa_id"))
    if any(value and not _SENDER_ID.fullmatch(value) for value in (user_id, phone)):
        return "", ""
    return user_id or phone, phone


def personal_link(display_number: str, text: str) -> str:
    """wa.me/<number>?text=…: opens a chat with the bot, `text` (naming an officer's code) typed in."""
    return f"https://wa.me/{display_number}?text={quote(text)}"


def _inbound(message: dict[str, Any], contacts: list[dict[str, Any]]) -> Inbound | None:
    """None for a message the bot does not answer (a number change) and for one of an unexpected shape."""
    external_id, phone = _sender(message, contacts)
    kind, message_id = message.get("type"), message.get("id")
    if kind == "system":  # a number change: nothing to say
        return None
    if not external_id or not isinstance(message_id, str) or len(message_id) > ID_LENGTH or not isinstance(kind, str):
        log.warning("a webhook message of an unexpected shape was skipped")
        return None
    base: Origin = {
        "channel": CHANNEL,
        "external_id": external_id,
        "update_key": message_id,
        "platform_phone": f"+{phone}" if phone.isdigit() else "",
    }
    # When the person wrote it: WhatsApp's 24 hours count from there, not from when it was processed.
    with contextlib.suppress(KeyError, TypeError, ValueError, OverflowError, OSError):
        base["sent_at"] = datetime.fromtimestamp(int(message["timestamp"]), tz=UTC)
    if kind == "text":
        text = _str(_dict(message.get("text")).get("body"))
        if (code := _OFFICER_CODE.search(text)) is not None:  # sent from an officer's wa.me link or QR code
            return Inbound(**base, kind=Kind.COMMAND, command="start", payload=code.group(0).lower())
        if text.startswith("/") and len(text) > 1:
            command, _, payload = text[1:].partition(" ")
            return Inbound(**base, kind=Kind.COMMAND, command=command.lower(), payload=payload.strip())
        return Inbound(**base, kind=Kind.TEXT, text=text)
    if kind == "interactive":
        interactive = _dict(message.get("interactive"))
        reply = _dict(interactive.get("button_reply")) or _dict(interactive.get("list_reply"))
        return Inbound(**base, kind=Kind.CHOICE, choice=_str(reply.get("id")))
    if kind == "button":  # a template's quick reply: its payload is what the bot put there
        return Inbound(**base, kind=Kind.CHOICE, choice=_str(_dict(message.get("button")).get("payload")))
    if kind == "request_welcome":  # the person opened the chat for the first time
        return Inbound(**base, kind=Kind.COMMAND, command="start")
    if kind == "contacts":
        shared = _dict(next(iter(_list(message.get("contacts"))), None))
        number = _dict(next(iter(_list(shared.get("phones"))), None))
        digits = _str(number.get("wa_id")) or _str(number.get("phone"))
        own = bool(phone) and "".join(filter(str.isdigit, digits)) == phone
        return Inbound(**base, kind=Kind.CONTACT, phone=digits, phone_is_own=own)
    return Inbound(**base, kind=Kind.MEDIA, media=kind if kind in _MEDIA else "other")


def _status(status: dict[str, Any]) -> Report | None:
    message_id, state = status.get("id"), status.get("status")
    if not isinstance(message_id, str) or state not in ("sent", "delivered", "read", "failed"):
        return None
    try:
        at = datetime.fromtimestamp(int(status.get("timestamp", 0)), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    errors = [e for e in _list(status.get("errors")) if isinstance(e, dict)]
    code = errors[0].get("code") if errors else None
    tracking = status.get("biz_opaque_callback_data")
    return Report(
        tracking if isinstance(tracking, str) else None,
        message_id,
        state,
        at,
        code if type(code) is int else None,
    )


# ------------------------------------------------------------------------------------------ rendering


def _shorten(label: str, limit: int) -> str:
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def render(reply: Reply, t: Translator) -> list[dict[str, Any]]:
    """The messages that show `reply` on WhatsApp, without their recipient."""
    text = reply.text.strip() or "…"
    choices = reply.choices
    if not choices:
        return [{"type": "text", "text": {"body": text[:TEXT_BODY], "preview_url": False}}]
    labels = [choice.label for choice in choices]
    if (
        len(choices) <= MAX_BUTTONS
        and all(len(label) <= BUTTON_TITLE for label in labels)
        and len(set(labels)) == len(labels)
        and len(text) <= BUTTON_BODY
    ):
        buttons = [
            {"type": "reply", "reply": {"id": encode_choice(reply.serial, c.action), "title": c.label}} for c in choices
        ]
        return [_interactive("button", text, {"buttons": buttons})]
    messages = []
    for start in range(0, len(choices), MAX_ROWS):
        rows = []
        for choice in choices[start : start + MAX_ROWS]:
            row = {"id": encode_choice(reply.serial, choice.action), "title": _shorten(choice.label, ROW_TITLE)}
            if row["title"] != choice.label:  # the whole label stays readable under its short title
                row["description"] = _shorten(choice.label, ROW_DESCRIPTION)
            rows.append(row)
        body = text[:TEXT_BODY] if start == 0 else t("whatsapp.more_choices")
        button = t("whatsapp.list_button" if start == 0 else "whatsapp.more_button")
        messages.append(_interactive("list", body, {"button": button, "sections": [{"rows": rows}]}))
    return messages


def _interactive(kind: str, body: str, action: dict[str, Any]) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {"type": kind, "body": {"text": body}, "action": action}}


def template_message(template: WhatsAppTemplate, reply: Reply, values: dict[str, str]) -> dict[str, Any]:
    """An approved template for `reply`: its body parameters filled from `values`, its quick replies carrying
    the reply's choices. A parameter may hold no line breaks or runs of spaces (Meta refuses them: 132018)."""
    components: list[dict[str, Any]] = []
    if template.parameters:
        parameters = [
            {"type": "text", "text": " ".join(values.get(name, "").split()) or "-"} for name in template.parameters
        ]
        components.append({"type": "body", "parameters": parameters})
    if template.buttons:
        for index, choice in enumerate(reply.choices[:MAX_BUTTONS]):
            payload = encode_choice(reply.serial, choice.action)
            components.append(
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(index),
                    "parameters": [{"type": "payload", "payload": payload}],
                }
            )
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language_for(reply.locale)}}
    if components:
        body["components"] = components
    return {"type": "template", "template": body}


# ------------------------------------------------------------------------------------------ the Graph API


class GraphError(Exception):
    def __init__(self, code: int | None, message: str, http_status: int):
        super().__init__(f"({code}) {message}")
        self.code = code
        self.http_status = http_status


class GraphClient:
    """`POST /{phone_number_id}/messages` with the bearer token, nothing more. Errors keep their Graph code.

    Timeouts are mapped for at-most-once sending: a connection that could not be opened, or no free
    connection in the pool, means nothing left (NetworkDown: safe to retry); anything after the request may
    have been written is DeliveryUnknown (never resent).
    """

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None, connections: int = 100):
        self._url = f"{settings.whatsapp_api_base_url}/{settings.whatsapp_phone_number_id}/messages"
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {settings.whatsapp_token}"},
            timeout=httpx.Timeout(10.0, connect=5.0, pool=None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=transport,
        )

    async def send(self, recipient: str, message: dict[str, Any], tracking: str | None = None) -> str:
        # A business-scoped user id ("ID.1349...") goes in `recipient`; a bare phone number (older payloads
        # that had no user id) in `to`.
        address = {"to": recipient} if recipient.isdigit() else {"recipient": recipient}
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **address, **message}
        if tracking:
            body["biz_opaque_callback_data"] = tracking[:CALLBACK_DATA]
        try:
            response = await self._client.post(self._url, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise NetworkDown(60) from error
        except httpx.HTTPError as error:  # written, maybe received: never resent
            raise DeliveryUnknown(str(error)) from error
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code != 200:
            problem = data.get("error") if isinstance(data, dict) else None
            problem = problem if isinstance(problem, dict) else {}
            code = problem.get("code")
            said = str(problem.get("message", ""))
            raise GraphError(code if isinstance(code, int) else None, said, response.status_code)
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise DeliveryUnknown("the Graph API accepted a message without giving its id") from None

    async def close(self) -> None:
        await self._client.aclose()


class WhatsAppSender:
    """The delivery interface (bot.workers.delivery.Sender) on WhatsApp.

    Replies to what the person just sent are free text. A message nobody asked for just now
    (`reply.unprompted`) is free text only within 24 hours of the person's last message; outside them it is
    the template configured for its purpose, or nothing (NeedsTemplate), never free text. A `pacer` paces
    every request to the number's throughput (the broadcast engine paces its own and passes none).
    """

    channel = CHANNEL
    document_limit = 0  # officers, who get files, are on Telegram; a worker is never sent one

    def __init__(
        self,
        client: GraphClient,
        messages: Messages,
        settings: Settings,
        clock: Callable[[], datetime],
        pacer: Pacer | None = None,
    ):
        self.client = client
        self.messages = messages
        self.settings = settings
        self.clock = clock
        self.pacer = pacer

    def via_for(self, unprompted: Unprompted | None) -> str | None:
        """Text, template, or None (no template configured where one is needed)."""
        if unprompted is None:
            return Via.TEXT
        last = unprompted.last_seen_at
        window_open = last is not None and self.clock() - last < WHATSAPP_WINDOW
        if window_open and not unprompted.template_only:
            return Via.TEXT
        return Via.TEMPLATE if self._template(unprompted.purpose) is not None else None

    def _template(self, purpose: str) -> WhatsAppTemplate | None:
        """The template configured for a reminder, an answer or a broadcast (none for officers' notices)."""
        return self.settings.template(purpose)

    async def send(self, external_id: str, reply: Reply) -> Sent:
        unprompted = reply.unprompted
        via = self.via_for(unprompted)
        if via is None:
            assert unprompted is not None  # via_for: a reply to the person always goes as text
            raise NeedsTemplate(unprompted.purpose)
        tracking = unprompted.tracking if unprompted else None
        if via == Via.TEXT:
            try:
                message_id = ""
                for message in render(reply, self.messages[reply.locale]):
                    message_id = await self.post(external_id, message, tracking)
                return Sent(message_id, Via.TEXT)
            except _WindowClosed:
                if unprompted is None or self._template(unprompted.purpose) is None:
                    raise NeedsTemplate(unprompted.purpose if unprompted else "reply") from None
        # Here via_for chose the template, or the text was refused and a template is configured (above).
        assert unprompted is not None
        template = self._template(unprompted.purpose)
        assert template is not None
        values = {**unprompted.fields, "operator": self.settings.operator_name or ""}
        try:
            message_id = await self.post(external_id, template_message(template, reply, values), tracking)
        except _WindowClosed:  # a template is never refused for the window; if it is, it is not sent at all
            raise Undeliverable("a template was refused as outside the 24-hour window") from None
        return Sent(message_id, Via.TEMPLATE)

    async def post(
        self, external_id: str, message: dict[str, Any], tracking: str | None = None, paced: bool = True
    ) -> str:
        """One rendered message, paced (unless the caller waited its turn), its Graph error turned into what it
        means for the message."""
        if paced and self.pacer is not None:
            await self.pacer.acquire()
        try:
            return await self.client.send(external_id, message, tracking)
        except GraphError as error:
            raise _outcome(error) from None

    async def edit(self, external_id: str, message_id: str, reply: Reply) -> None:
        """WhatsApp cannot edit a message: a campaign's progress reaches a WhatsApp author only as sent."""


class _WindowClosed(Exception):
    pass


def _outcome(error: GraphError) -> Exception:
    """What a Graph error code means for the message (platforms.md)."""
    code = error.code
    if code in THROUGHPUT:
        return RetryLater(THROUGHPUT_BACKOFF, everyone=True, reason="rate_limited")
    if code == PAIR_RATE:
        return RetryLater(PAIR_BACKOFF, everyone=False, reason="pair_rate_limited")
    if code == MARKETING_LIMIT:
        return RetryLater(MARKETING_BACKOFF, everyone=False, reason="marketing_limit")
    if code == SPAM_RATE:
        return SpamLimited(str(error))
    if code == UNDELIVERABLE:
        return Unreachable(str(error))
    if code == REENGAGEMENT:
        return _WindowClosed(str(error))
    if code == MARKETING_OPT_OUT:
        return MarketingStopped(str(error))
    if code == ACCESS_TOKEN or error.http_status in (401, 403):
        log.error("the WhatsApp token was refused (%s): check WHATSAPP_TOKEN", error)
        return NetworkDown(TOKEN_BACKOFF)
    if error.http_status >= 500:
        return NetworkDown(60)
    return Undeliverable(str(error), error.code)


# ------------------------------------------------------------------------------------------ the channel


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
            session.add(WebhookEvent(channel=CHANNEL, body=body, received_at=self.app.dispatcher.clock()))
        self.wake_worker()

    async def keep(self, session: AsyncSession, external_id: str, replies: list[Reply]) -> None:
        """The dispatcher's hook: a turn's replies, rendered, in the turn's transaction."""
        messages = [message for reply in replies for message in render(reply, self.app.messages[reply.locale])]
        await keep_replies(session, CHANNEL, external_id, messages, self.app.dispatcher.clock())

    async def step(self) -> bool:
        """Process a batch of stored events; True when there were some. Replies still waiting (the network was
        down) go out too, but are not counted as work: an outage must not make the loop spin."""
        sessions = self.app.dispatcher.sessions
        async with sessions() as session:
            query = select(WebhookEvent.id, WebhookEvent.body).where(WebhookEvent.channel == CHANNEL)
            events = (await session.execute(query.order_by(WebhookEvent.id).limit(self.batch))).all()
        async with sessions.begin() as session:
            stale = await forget_stale_replies(session, self.app.dispatcher.clock() - REPLY_TTL)
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
        await asyncio.gather(*(self._converse(person, inbounds) for person, inbounds in by_person.items()))
        if events:
            async with sessions.begin() as session:
                await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_([row[0] for row in events])))
        return bool(events)

    async def _apply(self, reports: list[Report]) -> None:
        dispatcher = self.app.dispatcher
        async with dispatcher.sessions.begin() as session:
            effects = await apply_reports(session, reports, dispatcher.clock(), self.templates)
            for campaign_id in sorted(effects.spam_limited_campaigns):
                await stop_for_spam_limit(dispatcher, session, campaign_id)

    async def _converse(self, external_id: str, inbounds: list[Inbound]) -> None:
        await self.send_kept(external_id)  # what an earlier run could not send comes first
        for inbound in inbounds:
            await self.app.dispatcher.handle(inbound)
            await self.send_kept(external_id)

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
                await self.sender.post(external_id, message, paced=attempt > 0)
                return True
            except RetryLater as later:
                if later.seconds > REPLY_RETRY_WAIT or attempt == REPLY_RETRIES:
                    log.warning("a reply on whatsapp was not delivered: the number's throughput limit held")
                    return True
                await asyncio.sleep(later.seconds)
            except NetworkDown:
                log.warning("the Graph API cannot be reached: replies wait for the next try")
                return False
            except (Unreachable, Undeliverable, DeliveryUnknown, _WindowClosed, SpamLimited, MarketingStopped) as error:
                log.warning("a reply on whatsapp was not delivered: %r", error)
                return True
        return True
