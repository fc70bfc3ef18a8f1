"""The Graph API client and the delivery interface on WhatsApp: free text, files or a template, errors as
outcomes."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from bot.channels.whatsapp import CHANNEL
from bot.channels.whatsapp.rendering import DOCUMENT_LIMIT, UPLOAD, render, template_message
from bot.config import Settings, WhatsAppTemplate
from bot.conversation.events import Reply, Unprompted
from bot.i18n import Messages
from bot.models import Via
from bot.services.receipts import (
    MARKETING_LIMIT,
    MARKETING_OPT_OUT,
    PAIR_RATE,
    REENGAGEMENT,
    SPAM_RATE,
    THROUGHPUT,
    UNDELIVERABLE,
)
from bot.services.segments import WHATSAPP_WINDOW
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

CALLBACK_DATA = 512
ACCESS_TOKEN = 190  # the Graph API's "invalid token"; WhatsApp's own codes are in bot.services.receipts
THROUGHPUT_BACKOFF = 2.0  # seconds; Meta gives no retry-after
PAIR_BACKOFF = 10.0
MARKETING_BACKOFF = 24 * 3600.0
TOKEN_BACKOFF = 300.0
UPLOAD_TIMEOUT = 120.0  # seconds to write or read: a file of up to 100 MB over a slow link


class GraphError(Exception):
    def __init__(self, code: int | None, message: str, http_status: int):
        super().__init__(f"({code}) {message}")
        self.code = code
        self.http_status = http_status


class GraphClient:
    """`POST /{phone_number_id}/messages` and `/media` with the bearer token, nothing more. Errors keep their
    Graph code.

    Timeouts are mapped for at-most-once sending: a connection that could not be opened, or no free
    connection in the pool, means nothing left (NetworkDown: safe to retry); anything after the request may
    have been written is DeliveryUnknown (never resent). An upload reaches nobody by itself, so any failure
    of one is safe to retry.
    """

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None, connections: int = 100):
        number = f"{settings.whatsapp_api_base_url}/{settings.whatsapp_phone_number_id}"
        self._url = f"{number}/messages"
        self._media_url = f"{number}/media"
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
        data = _answer(response)
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise DeliveryUnknown("the Graph API accepted a message without giving its id") from None

    async def upload(self, name: str, mime: str, content: bytes) -> str:
        """`POST /{phone_number_id}/media` (multipart): the media id a message then names (kept by Meta for 30
        days)."""
        form = {"messaging_product": "whatsapp", "type": mime}
        try:
            response = await self._client.post(
                self._media_url,
                data=form,
                files={"file": (name, content, mime)},
                timeout=httpx.Timeout(UPLOAD_TIMEOUT, connect=5.0, pool=None),
            )
        except httpx.HTTPError as error:
            raise NetworkDown(60) from error
        try:
            return str(_answer(response)["id"])
        except (KeyError, TypeError):
            raise NetworkDown(60) from None

    async def close(self) -> None:
        await self._client.aclose()


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 200 answer; a GraphError with its code for any other."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    if response.status_code != 200:
        problem = data.get("error")
        problem = problem if isinstance(problem, dict) else {}
        code = problem.get("code")
        said = str(problem.get("message", ""))
        raise GraphError(code if isinstance(code, int) else None, said, response.status_code)
    return data


class WhatsAppSender:
    """The delivery interface (bot.workers.delivery.Sender) on WhatsApp.

    Replies to what the person just sent are free text. A message nobody asked for just now
    (`reply.unprompted`) is free text only within 24 hours of the person's last message; outside them it is
    the template configured for its purpose, or nothing (NeedsTemplate), never free text. A `pacer` paces
    every request to the number's throughput (the broadcast engine paces its own and passes none).
    """

    channel = CHANNEL
    document_limit = DOCUMENT_LIMIT
    edits = False  # WhatsApp cannot edit a message: a campaign's progress goes as new ones, at milestones

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
        """The template configured for a reminder, an answer, a broadcast or an officer's notice."""
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
                    message_id = await self.post(external_id, await self.with_media(message), tracking)
                return Sent(message_id, Via.TEXT)
            except WindowClosed:
                if unprompted is None or self._template(unprompted.purpose) is None:
                    raise NeedsTemplate(unprompted.purpose if unprompted else "reply") from None
        # Here via_for chose the template, or the text was refused and a template is configured (above).
        assert unprompted is not None
        template = self._template(unprompted.purpose)
        assert template is not None
        values = {**unprompted.fields, "operator": self.settings.operator_name or ""}
        try:
            message_id = await self.post(external_id, template_message(template, reply, values), tracking)
        except WindowClosed:  # a template is never refused for the window; if it is, it is not sent at all
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

    async def with_media(self, message: dict[str, Any]) -> dict[str, Any]:
        """A rendered file message with its file uploaded and named by media id; any other as it is. Upload
        once, then retry the message as often as needed: the id stays valid."""
        upload = message.get(UPLOAD)
        if upload is None:
            return message
        try:
            media_id = await self.client.upload(upload["name"], upload["type"], base64.b64decode(upload["data"]))
        except GraphError as error:
            raise _outcome(error) from None
        kind = message["type"]
        return {"type": kind, kind: {**message[kind], "id": media_id}}

    async def edit(self, external_id: str, message_id: str, reply: Reply) -> None:
        """Never called (`edits` is False): WhatsApp cannot edit a message."""


class WindowClosed(Exception):
    """Free text refused: the 24 hours after the person's last message are over (a template or nothing)."""


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
        return WindowClosed(str(error))
    if code == MARKETING_OPT_OUT:
        return MarketingStopped(str(error))
    if code == ACCESS_TOKEN or error.http_status in (401, 403):
        log.error("the WhatsApp token was refused (%s): check WHATSAPP_TOKEN", error)
        return NetworkDown(TOKEN_BACKOFF)
    if error.http_status >= 500:
        return NetworkDown(60)
    return Undeliverable(str(error), error.code)
