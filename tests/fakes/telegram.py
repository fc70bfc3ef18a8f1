"""Offline fake of the Telegram Bot API.

The fake speaks the real Bot API wire format, so the bot under test runs unmodified
python-telegram-bot code and the tests never touch the network:

* ``FakeBotAPI`` holds the state of one bot and answers Bot API calls with the status codes and
  JSON bodies Telegram would send.
* ``FakeUser`` plays a user in a private chat by producing real ``Update`` payloads.
* ``FakeRequest`` plugs a ``FakeBotAPI`` into an in-process PTB ``Application``.
* ``FakeBotAPIServer`` serves a ``FakeBotAPI`` over real HTTP on 127.0.0.1, for end-to-end tests
  that run the bot unchanged (even as a subprocess) with only its ``base_url`` pointed at the fake. While it
  serves, updates are POSTed to a webhook set with setWebhook, retried and recorded as Telegram would.

For broadcasts the fake also plays what a large audience meets: Telegram's rate limits (429 with
``retry_after``), users who blocked the bot or deleted their account, answers that never arrive although
the message did, and many open chats at once. ``record=False`` keeps only counts, so benchmarks measure
the sender rather than the fake, and ``python -m tests.fakes.telegram`` serves it as a process of its own
(``--help`` lists the options), printing a JSON summary when it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import http.client
import ipaddress
import json
import logging
import math
import mimetypes
import re
import signal
import socket
import threading
import time
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast
from urllib.parse import parse_qsl, urlsplit

from telegram import Update
from telegram.request import BaseRequest, RequestData

from tests.fakes.loopback import LoopbackServer
from tests.fakes.waiting import Changes

__all__ = [
    "TEST_BOT_ID",
    "TEST_TOKEN",
    "Call",
    "FakeBotAPI",
    "FakeBotAPIServer",
    "FakeRequest",
    "FakeUser",
    "SentMessage",
    "UploadedFile",
    "WebhookAttempt",
]

_LOGGER = logging.getLogger(__name__)

TEST_BOT_ID = 123456789
# Telegram tokens are "<bot id>:<secret>"; PTB only needs the shape, the fake only compares it.
TEST_TOKEN = f"{TEST_BOT_ID}:AAFakeTokenForOfflineTests_0123456789"

JSONDict = dict[str, Any]

_MAX_TEXT_LENGTH = 4096
_MAX_CALLBACK_DATA_BYTES = 64
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_INT_RE = re.compile(r"-?\d+")
_API_PATH_RE = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/]+)")

# Calls that make a message appear or change: the ones Telegram's broadcast limits count.
_MESSAGE_METHODS = frozenset({"sendmessage", "senddocument", "editmessagetext", "editmessagereplymarkup"})
# Calls that reach the user, so they fail once the user blocked the bot or deleted the account.
_REACHING_METHODS = _MESSAGE_METHODS | {"sendchataction"}
_RATE_WINDOW = 1.0
# The first name of chats opened by ``FakeBotAPI.open_chats``, which keeps only their ids.
_OPENED_CHAT_NAME = "Pengguna"

# Update types in Telegram's order (PTB keeps the list current), and those a bot gets only when it asks for them.
_UPDATE_TYPES = tuple(str(update_type) for update_type in Update.ALL_TYPES)
_ONLY_WHEN_ASKED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]*")
_MAX_SECRET_TOKEN_LENGTH = 256
_DEFAULT_MAX_CONNECTIONS = 40
_MAX_CONNECTIONS = 100
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
# Updates carrying a message: Telegram posts those of one chat one at a time, in order.
_CHAT_UPDATE_TYPES = ("message", "edited_message", "channel_post", "edited_channel_post")

# Form-encoded and multipart bodies carry every value as a string. These tables restore the
# types a JSON body (or PTB in-process) would give, so ``Call.params`` look the same on every
# transport.
_INT_PARAMS = frozenset(
    {
        "cache_time",
        "chat_id",
        "from_chat_id",
        "limit",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "reply_to_message_id",
        "timeout",
        "user_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "protect_content",
        "show_alert",
    }
)
# User-visible strings are never JSON-decoded, even when they happen to look like JSON.
_FREE_TEXT_PARAMS = frozenset(
    {"caption", "description", "explanation", "name", "question", "short_description", "text", "title"}
)


def _now() -> int:
    return int(time.time())


def _normalize_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _INT_PARAMS and _INT_RE.fullmatch(value):
        return int(value)
    if key in _BOOL_PARAMS and value in ("true", "false"):
        return value == "true"
    if key not in _FREE_TEXT_PARAMS and value[:1] in ("{", "["):
        with suppress(ValueError):
            return json.loads(value)
    return value


def _normalize_params(params: Mapping[str, Any]) -> JSONDict:
    """Decode transport-specific encodings (e.g. reply_markup as a JSON string) into one shape."""
    return {key: _normalize_value(key, value) for key, value in params.items() if value is not None}


def _error_body(error_code: int, description: str, retry_after: int | None = None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


class _ApiError(Exception):
    """An error answer of the Bot API, raised inside method handlers."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> tuple[int, JSONDict]:
        return self.error_code, _error_body(self.error_code, self.description, self.retry_after)


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Call:
    """One Bot API call as the fake received it; ``params`` are decoded to plain Python values."""

    method: str
    params: JSONDict


@dataclass(frozen=True)
class UploadedFile:
    """A file uploaded with a call (multipart part or in-process ``InputFile``)."""

    filename: str
    content: bytes
    mime_type: str | None = None


def _button_text(button: str | JSONDict) -> str:
    # The Bot API accepts plain strings as reply-keyboard buttons; PTB always sends objects.
    return button if isinstance(button, str) else button["text"]


@dataclass(frozen=True)
class SentMessage:
    """A message from the bot, flattened so tests can assert on what the user would see."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: JSONDict | None = None
    # The Message object the Bot API returned, e.g. to build callback queries from.
    message: JSONDict = field(default_factory=dict, repr=False, compare=False)

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as ``(label, callback_data)``; URL buttons have no data."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(button["text"], button.get("callback_data")) for button in row] for row in rows]

    @property
    def labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    @property
    def keyboard(self) -> list[list[str]]:
        """Reply keyboard rows as button texts."""
        rows = (self.reply_markup or {}).get("keyboard", [])
        return [[_button_text(button) for button in row] for row in rows]

    @property
    def requests_contact(self) -> bool:
        rows = (self.reply_markup or {}).get("keyboard", [])
        return any(isinstance(button, dict) and button.get("request_contact") for row in rows for button in row)

    @property
    def removes_keyboard(self) -> bool:
        return bool((self.reply_markup or {}).get("remove_keyboard"))


def _describe_bot_message(sent: SentMessage) -> str:
    line = repr(sent.text)
    if sent.buttons:
        line += " buttons=" + repr(sent.buttons)
    if sent.keyboard:
        line += " keyboard=" + repr(sent.keyboard)
    if sent.removes_keyboard:
        line += " (removes keyboard)"
    return line


_MEDIA_KINDS = ("photo", "sticker", "voice", "video", "audio", "animation", "video_note")


def _describe_user_update(update: JSONDict) -> tuple[int, str] | None:
    """Render an incoming update as a transcript line, keyed by chat id."""
    if query := update.get("callback_query"):
        chat_id = query.get("message", {}).get("chat", {}).get("id", query["from"]["id"])
        return chat_id, f"user taps {query.get('data')!r}"
    message = update.get("message") or update.get("edited_message")
    if not message:
        return None
    if "text" in message:
        line = repr(message["text"])
    elif contact := message.get("contact"):
        line = f"[contact {contact.get('phone_number')}]"
    elif location := message.get("location"):
        line = f"[location {location.get('latitude')}, {location.get('longitude')}]"
    elif document := message.get("document"):
        line = f"[document {document.get('file_name')}]"
    else:
        line = next((f"[{kind}]" for kind in _MEDIA_KINDS if kind in message), "[message]")
    return message["chat"]["id"], f"user: {line}"


class _RateWindow:
    """Calls admitted in the last second, per key, to refuse those over a per-second limit as Telegram does.

    A key is a chat id for a per-chat limit, or None for a bot-wide one. One expiry queue over all keys drops
    each arrival once it leaves the window, so memory follows the last second's calls rather than every chat
    ever messaged, and a call costs O(1) amortised. Arrival times must not decrease.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._arrivals: dict[Hashable, deque[float]] = {}
        self._expiry: deque[tuple[float, Hashable]] = deque()

    def retry_after(self, key: Hashable, now: float) -> int | None:
        """Whole seconds until ``key`` gets a free slot (at least 1, as Telegram says), or None if it has one."""
        horizon = now - _RATE_WINDOW
        expiry = self._expiry
        while expiry and expiry[0][0] <= horizon:
            expired = expiry.popleft()[1]
            arrivals = self._arrivals[expired]
            arrivals.popleft()
            if not arrivals:
                del self._arrivals[expired]
        arrivals = self._arrivals.get(key)
        if arrivals is None or len(arrivals) < self.limit:
            return None
        return max(1, math.ceil(arrivals[0] + _RATE_WINDOW - now))

    def admit(self, key: Hashable, now: float) -> None:
        self._arrivals.setdefault(key, deque()).append(now)
        self._expiry.append((now, key))


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the webhook.

    ``status`` is the HTTP status of the answer (None without one: refused, timed out, closed); ``error`` is why
    the update still counts as undelivered, in Telegram's words as getWebhookInfo reports them, or None for a
    2xx; ``at`` is when the POST started, by ``time.monotonic()``.
    """

    update_id: int
    status: int | None
    error: str | None
    at: float


@dataclass(frozen=True)
class _WebhookTarget:
    """Where the fake POSTs updates: an HTTP server on this machine."""

    host: str
    port: int
    # With the query string.
    path: str


@dataclass(frozen=True)
class _Webhook:
    """A webhook as setWebhook set it."""

    url: str
    secret_token: str
    max_connections: int
    has_custom_certificate: bool
    # None for a URL off this machine: it is stored and reported, but tests never touch the network.
    target: _WebhookTarget | None


@dataclass(frozen=True)
class _WebhookJob:
    """One POST to make: the update, the webhook it goes to, and when it was taken."""

    update: JSONDict
    webhook: _Webhook
    timeout: float
    at: float


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_webhook(url: str, params: JSONDict) -> _Webhook:
    """setWebhook's parameters, checked in Telegram's order and refused with its messages.

    Telegram refuses plain HTTP and loopback addresses; the fake takes HTTP on loopback, the only webhook a test
    can serve, and posts updates to nothing else.
    """
    # Like Telegram, a URL without a scheme is taken as HTTPS.
    parts = urlsplit(url if "://" in url else f"https://{url}")
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        raise _bad_request("invalid webhook URL specified") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad_request("invalid webhook URL specified")
    secret_token = str(params.get("secret_token") or "")
    if len(secret_token) > _MAX_SECRET_TOKEN_LENGTH:
        raise _bad_request("secret token is too long")
    if not _SECRET_TOKEN_RE.fullmatch(secret_token):
        raise _bad_request("secret token contains unallowed characters")
    on_loopback = _is_loopback(parts.hostname)
    if parts.scheme == "http" and not on_loopback:
        raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if not on_loopback and port not in _WEBHOOK_PORTS:
        raise _bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    max_connections = params.get("max_connections", _DEFAULT_MAX_CONNECTIONS)
    # Telegram clamps the value to 1-100 rather than refusing it; what is not a number counts as 0.
    max_connections = min(max(max_connections if isinstance(max_connections, int) else 0, 1), _MAX_CONNECTIONS)
    target = None
    if parts.scheme == "http":
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        target = _WebhookTarget(parts.hostname, port, path)
    return _Webhook(url, secret_token, max_connections, isinstance(params.get("certificate"), UploadedFile), target)


def _update_type(update: JSONDict) -> str:
    return next((key for key in update if key != "update_id"), "")


def _webhook_queue(update: JSONDict) -> Hashable:
    """The queue Telegram delivers an update in: each goes out only once the one before it in its queue was
    delivered, while different queues go out side by side.

    A chat's messages share a queue, and so do a user's button taps (a queue apart from the messages); any other
    update is a queue of its own.
    """
    for kind in _CHAT_UPDATE_TYPES:
        if isinstance(message := update.get(kind), dict) and (chat_id := message.get("chat", {}).get("id")):
            return "chat", chat_id
    query = update.get("callback_query")
    if isinstance(query, dict) and (user_id := query.get("from", {}).get("id")):
        return "callback_query", user_id
    return "update", update["update_id"]


class FakeBotAPI(Changes):
    """Thread-safe in-memory state of one bot, answering calls like the real Bot API.

    All state sits behind one condition variable, so the HTTP server's threads, the test thread and
    an asyncio loop can share an instance; both threads and coroutines can wait for changes.
    Sending to a chat nobody has opened (no ``FakeUser``, no update from it, not in ``open_chats``)
    fails with "chat not found", as it would on Telegram.

    Rate limits count message calls (sends and edits) by arrival time in a sliding one-second window,
    as Telegram's broadcast limits do: ``rate_limit`` for the bot, ``paid_rate_limit`` instead for calls
    with ``allow_paid_broadcast``, ``per_chat_limit`` for each chat; None leaves a limit off. A call over
    a limit is answered 429 with ``retry_after``, counts in no window and stores nothing; any other call
    takes its slot, even one that then fails (a blocked user, a bad request). ``latency`` delays every
    answer, not the arrival. ``record=False`` keeps no calls, transcript or messages, only the counts
    behind ``sent_count_by_chat``, ``max_in_any_second`` and ``rate_limited``, for benchmarks with
    100,000 messages; messages sent then cannot be edited, tapped or waited for. ``clock`` gives arrival
    times, so tests can move time by hand.

    While a ``FakeBotAPIServer`` serves the instance and a webhook is set, queued updates are POSTed to it as
    Telegram does (see ``_WebhookDelivery``); each attempt is kept in ``webhook_attempts``, whatever ``record``
    says. An answer other than 2xx, or none within ``webhook_timeout`` seconds, has the update posted again
    after ``webhook_retry_delay`` seconds (Telegram backs off from seconds to a minute).
    """

    def __init__(
        self,
        *,
        bot_id: int = TEST_BOT_ID,
        username: str = "bpu_test_bot",
        first_name: str = "BPU Test Bot",
        max_poll_wait: float = 1.0,
        rate_limit: float | None = None,
        paid_rate_limit: float | None = None,
        per_chat_limit: float | None = None,
        latency: float = 0.0,
        record: bool = True,
        clock: Callable[[], float] = time.monotonic,
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        # Caps getUpdates long polling so a test never hangs on an idle poll.
        self.max_poll_wait = max_poll_wait
        self.latency = latency
        self.record = record
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        # 429 answers so far, whether from a rate limit or from fail_next.
        self.rate_limited = 0
        self._clock = clock
        self._bot_window = _RateWindow(rate_limit) if rate_limit is not None else None
        self._paid_window = _RateWindow(paid_rate_limit) if paid_rate_limit is not None else None
        self._chat_window = _RateWindow(per_chat_limit) if per_chat_limit is not None else None
        # Arrival times of successful message calls, in order; 8 bytes each keeps 100,000 cheap.
        self._message_times = array("d")
        self._message_counts: Counter[int] = Counter()
        self._document_counts: Counter[int] = Counter()
        self._opened: set[int] = set()
        self._unreachable: dict[int, str] = {}
        self._stalls: dict[int, float] = {}
        # In-process tests feed FakeUser updates to process_update() and may not want them queued.
        self.queue_updates = True
        self.calls: list[Call] = []
        # In the order the attempts ended.
        self.webhook_attempts: list[WebhookAttempt] = []
        super().__init__()
        # Bumped to release long polls early, e.g. when the HTTP server stops.
        self._wake_generation = 0
        self._pending_updates: list[JSONDict] = []
        self._last_update_id = 0
        self._last_user_id = 700_000_000
        self._file_seq = 0
        self._callback_seq = 0
        self._chats: dict[int, JSONDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._sent: list[SentMessage] = []
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._webhook: _Webhook | None = None
        # The update types asked for through setWebhook; None for Telegram's default.
        self._allowed_updates: frozenset[str] | None = None
        # (unix time, message) of the last failed delivery to the current webhook.
        self._webhook_error: tuple[int, str] | None = None
        # Update ids being posted, and when those that failed may go again.
        self._webhook_in_flight: set[int] = set()
        self._webhook_retry_at: dict[int, float] = {}
        self._redeliveries: Counter[int] = Counter()
        self._delivered_updates: dict[int, JSONDict] = {}
        self._failures: dict[str, deque[_ApiError]] = {}
        self._transcript: list[tuple[int, str]] = []
        handlers: dict[str, Callable[[JSONDict], Any]] = {
            "getMe": self._get_me,
            "logOut": self._return_true,
            "close": self._return_true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._return_true,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        # Bot API method names are case-insensitive; calls are recorded under the canonical name.
        self._handlers = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ----------------------------------------------------------------------------- dispatching

    def handle(self, method: str, params: Mapping[str, Any], *, long_poll: bool = False) -> tuple[int, JSONDict]:
        """Answer one call with ``(HTTP status, JSON body)``, blocking the calling thread for its delay.

        With ``long_poll`` a getUpdates call blocks the calling thread until updates arrive or its
        ``timeout`` (capped at ``max_poll_wait``) passes; only the HTTP server's threads want that.
        """
        decoded = _normalize_params(params)
        if long_poll and method.lower() == "getupdates":
            with self._cond:
                self._cond.wait_for(self._poll_ready(decoded), self._poll_timeout(decoded))
        status, body, delay = self._dispatch(method, decoded)
        if delay:
            time.sleep(delay)
        return status, body

    async def handle_async(self, method: str, params: Mapping[str, Any]) -> tuple[int, JSONDict]:
        """Like ``handle``, but long-polls getUpdates and waits out delays without blocking the event loop."""
        decoded = _normalize_params(params)
        if method.lower() == "getupdates":
            # An idle long poll simply ends empty-handed, as on Telegram.
            with suppress(TimeoutError):
                async with asyncio.timeout(self._poll_timeout(decoded)):
                    await self._wait_async(self._poll_ready(decoded))
        status, body, delay = self._dispatch(method, decoded)
        if delay:
            await asyncio.sleep(delay)
        return status, body

    def _dispatch(self, method: str, params: JSONDict) -> tuple[int, JSONDict, float]:
        """Answer a call at once, with how long the answer must wait: ``latency``, plus a stall.

        The caller waits outside the lock, so a stalled chat holds up nobody else.
        """
        key = method.lower()
        name, handler = self._handlers.get(key, (method, None))
        with self._cond:
            if self.record:
                self.calls.append(Call(name, params))
            if handler is None:
                return 404, _error_body(404, "Not Found"), self.latency
            chat_id = params.get("chat_id")
            is_message = key in _MESSAGE_METHODS
            arrival = self._clock() if is_message else 0.0
            try:
                if failures := self._failures.get(key):
                    raise failures.popleft()
                if is_message:
                    self._admit(chat_id, params.get("allow_paid_broadcast") is True, arrival)
                if key in _REACHING_METHODS and (reason := self._unreachable.get(chat_id)):
                    raise _ApiError(403, reason)
                result = handler(params)
            except _ApiError as error:
                if error.error_code == 429:
                    self.rate_limited += 1
                if isinstance(chat_id, int):
                    self._log(chat_id, f"bot: {name} failed: {error.error_code} {error.description}")
                return *error.response(), self.latency
            if not is_message:
                return 200, {"ok": True, "result": result}, self.latency
            self._message_times.append(arrival)
            # A stalled chat gets its message; only the answer is late.
            return 200, {"ok": True, "result": result}, self.latency + self._stalls.get(chat_id, 0.0)

    def _admit(self, chat_id: Any, paid: bool, arrival: float) -> None:
        """Take a slot in every rate window the call falls under, or refuse it with 429 taking none."""
        bot_window = self._paid_window if paid else self._bot_window
        windows = [(bot_window, None)] if bot_window is not None else []
        if self._chat_window is not None and chat_id is not None:
            windows.append((self._chat_window, chat_id))
        waits = [wait for window, key in windows if (wait := window.retry_after(key, arrival)) is not None]
        if waits:
            raise _ApiError(429, f"Too Many Requests: retry after {max(waits)}", max(waits))
        for window, key in windows:
            window.admit(key, arrival)

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail, e.g. 403 for a user who blocked the bot."""
        error = _ApiError(error_code, description, retry_after)
        with self._cond:
            self._failures.setdefault(method.lower(), deque()).extend([error] * times)
            self._notify()

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: later sends to the chat fail with 403, as some do in every broadcast."""
        with self._cond:
            self._unreachable[chat_id] = "Forbidden: bot was blocked by the user"

    def unblock(self, chat_id: int) -> None:
        """The user unblocks the bot (Telegram's "Restart"): sends to the chat work again."""
        with self._cond:
            self._unreachable.pop(chat_id, None)

    def deactivate(self, chat_id: int) -> None:
        """The user deletes their account: later sends to the chat fail with 403."""
        with self._cond:
            self._unreachable[chat_id] = "Forbidden: user is deactivated"

    def stall(self, chat_id: int, seconds: float) -> None:
        """Deliver later messages to the chat but hold each answer back ``seconds``; 0 ends the stall.

        A client that times out first cannot know the message arrived: resending it makes a duplicate.
        """
        with self._cond:
            if seconds > 0:
                self._stalls[chat_id] = seconds
            else:
                self._stalls.pop(chat_id, None)

    def open_chats(self, user_ids: Iterable[int]) -> None:
        """Open private chats with many users at once, as if each had pressed Start, without FakeUsers.

        Only the ids are kept, so 100,000 chats cost a few megabytes; chats already open keep their details.
        """
        with self._cond:
            self._opened.update(user_ids)

    # ------------------------------------------------------------------------- waiting

    def _wake_pollers(self) -> None:
        with self._cond:
            self._wake_generation += 1
            self._notify()

    def _poll_timeout(self, params: JSONDict) -> float:
        return max(0.0, min(float(params.get("timeout", 0)), self.max_poll_wait))

    def _poll_ready(self, params: JSONDict) -> Callable[[], bool]:
        """Predicate for a long poll: true once getUpdates would answer with something."""
        offset = params.get("offset", 0)
        generation = self._wake_generation

        def ready() -> bool:
            return (
                self._wake_generation != generation
                or self._webhook is not None
                or bool(self._failures.get("getupdates"))
                or any(update["update_id"] >= offset for update in self._pending_updates)
            )

        return ready

    def _has_sent(self, chat_id: int, count: int) -> Callable[[], bool]:
        return lambda: len(self.sent(chat_id)) >= count

    def _sent_timeout_error(self, chat_id: int, count: int, timeout: float) -> AssertionError:
        got = len(self.sent(chat_id))
        return AssertionError(
            f"expected at least {count} message(s) to chat {chat_id} within {timeout}s, got {got}.\n"
            f"Transcript:\n{self.transcript(chat_id)}"
        )

    def wait_for_sent(self, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Block until the bot has sent ``count`` messages to the chat; return all sent so far."""
        with self._cond:
            if not self._cond.wait_for(self._has_sent(chat_id, count), timeout):
                raise self._sent_timeout_error(chat_id, count, timeout)
            return self.sent(chat_id)

    async def wait_for_sent_async(
        self,
        chat_id: int,
        count: int,
        within: float = 10.0,
    ) -> list[SentMessage]:
        """``wait_for_sent`` for tests whose bot runs in the same event loop.

        The limit is a parameter rather than left to ``asyncio.timeout`` so that running out of
        time fails with the chat transcript.
        """
        try:
            async with asyncio.timeout(within):
                await self._wait_async(self._has_sent(chat_id, count))
        except TimeoutError:
            raise self._sent_timeout_error(chat_id, count, within) from None
        return self.sent(chat_id)

    # ------------------------------------------------------------------------- test helpers

    def forget_history(self) -> None:
        """Drop the record of calls and messages, keeping each chat's latest message so it can still be tapped.

        For long benchmarks: a real Bot API keeps nothing in the bot's process, and an ever-growing record
        would make Python's garbage collector, not the bot, the thing measured.
        """
        with self._cond:
            latest: dict[int, SentMessage] = {}
            for (chat_id, message_id), message in self._messages.items():
                if chat_id not in latest or message_id > latest[chat_id].message_id:
                    latest[chat_id] = message
            self.calls.clear()
            self._transcript.clear()
            self._sent = [m for m in self._sent if m.message_id == latest[m.chat_id].message_id]
            self._messages = {(m.chat_id, m.message_id): m for m in latest.values()}

    def sent_count_by_chat(self) -> Counter[int]:
        """Successful sendMessage and sendDocument calls per chat, e.g. to find duplicates of a broadcast.

        Counted whether or not calls are recorded, and kept by ``forget_history``.
        """
        with self._cond:
            return self._message_counts + self._document_counts

    def max_in_any_second(self) -> int:
        """The most successful message calls (sends and edits) that arrived within any one second.

        Never above ``rate_limit`` without paid broadcasts, as refused calls do not count; against a fake
        without limits it shows whether a sender kept to them by itself.
        """
        with self._cond:
            times = self._message_times
            best = start = 0
            for end, arrival in enumerate(times):
                while times[start] <= arrival - _RATE_WINDOW:
                    start += 1
                best = max(best, end - start + 1)
            return best

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """sendMessage and sendDocument results in order, as they were sent (later edits are not applied); a
        document's text is its caption."""
        with self._cond:
            return [sent for sent in self._sent if chat_id is None or sent.chat_id == chat_id]

    def message(self, chat_id: int, message_id: int | None = None) -> SentMessage:
        """Current state (edits applied) of a bot message; the latest one if no id is given."""
        with self._cond:
            if message_id is None:
                ids = [mid for cid, mid in self._messages if cid == chat_id]
                if not ids:
                    raise LookupError(f"the bot has no message in chat {chat_id}")
                message_id = max(ids)
            try:
                return self._messages[chat_id, message_id]
            except KeyError:
                raise LookupError(f"the bot has no message {message_id} in chat {chat_id}") from None

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method, whatever case it was called with."""
        name = self._handlers.get(method.lower(), (method, None))[0]
        with self._cond:
            return [call for call in self.calls if call.method == name]

    def commands(self, language_code: str | None = None, chat_id: int | None = None) -> list[tuple[str, str]]:
        """Commands set for the default scope, or for one chat's own (BotCommandScopeChat), as
        ``(command, description)``."""
        scope = {"type": "chat", "chat_id": chat_id} if chat_id is not None else None
        with self._cond:
            stored = self._commands.get(self._commands_key({"language_code": language_code, "scope": scope}), [])
            return [(command["command"], command["description"]) for command in stored]

    def transcript(self, chat_id: int) -> str:
        """Both sides of a chat as text, for failure messages."""
        with self._cond:
            lines = [line for cid, line in self._transcript if cid == chat_id]
        return "\n".join(lines) or "(empty)"

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an arbitrary update for getUpdates or the webhook; an ``update_id`` is assigned if missing."""
        return self._emit(update, queue=True)

    def delivered_update_ids(self) -> list[int]:
        """Ids of the updates the webhook answered with a 2xx, in the order of the answers; an update delivered
        again is listed again."""
        with self._cond:
            return [attempt.update_id for attempt in self.webhook_attempts if attempt.error is None]

    def wait_until_delivered(self, count: int, timeout: float = 10.0) -> list[int]:
        """Block until the webhook has answered ``count`` POSTs with a 2xx; return ``delivered_update_ids()``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.delivered_update_ids()) >= count, timeout):
                raise self._delivery_timeout_error(count, timeout)
            return self.delivered_update_ids()

    def _delivery_timeout_error(self, count: int, timeout: float) -> AssertionError:
        webhook = self._webhook
        if webhook is None:
            where = "no webhook is set"
        elif webhook.target is None:
            where = f"the fake posts only to http:// on this machine, not to {webhook.url}"
        else:
            where = f"webhook {webhook.url}, {len(self._pending_updates)} update(s) pending"
        attempts = [f"  update {a.update_id}: {a.error or f'delivered ({a.status})'}" for a in self.webhook_attempts]
        return AssertionError(
            f"expected at least {count} update(s) delivered to the webhook within {timeout}s, "
            f"got {len(self.delivered_update_ids())}; {where}.\n"
            "Last attempts:\n" + ("\n".join(attempts[-10:]) or "  (none)")
        )

    def redeliver(self, update_id: int) -> None:
        """Post an update to the webhook once more after it was delivered, as Telegram does when it misses the 2xx.

        It goes before the later updates of its queue, as a retry would; one not delivered yet goes out twice in a row.
        """
        with self._cond:
            if any(update["update_id"] == update_id for update in self._pending_updates):
                self._redeliveries[update_id] += 1
            elif update_id in self._delivered_updates:
                self._pending_updates.append(self._delivered_updates[update_id])
            else:
                raise LookupError(f"update {update_id} is neither pending nor delivered to a webhook")
            self._notify()

    @property
    def bot_user(self) -> JSONDict:
        """The bot as the ``from`` of its messages."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    # ------------------------------------------------------------------------- state used by FakeUser

    def _log(self, chat_id: int, line: str) -> None:
        if self.record:
            self._transcript.append((chat_id, line))

    def _emit(self, update: JSONDict, *, queue: bool) -> JSONDict:
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" in update:
                self._last_update_id = max(self._last_update_id, update["update_id"])
            else:
                self._last_update_id += 1
                update = {"update_id": self._last_update_id, **update}
            self._register_update(update)
            if queue and self._is_wanted(update):
                self._pending_updates.append(copy.deepcopy(update))
                self._notify()
            return update

    def _is_wanted(self, update: JSONDict) -> bool:
        """Whether Telegram would queue the update for the bot, by the ``allowed_updates`` of setWebhook."""
        kind = _update_type(update)
        return kind not in _ONLY_WHEN_ASKED if self._allowed_updates is None else kind in self._allowed_updates

    # ------------------------------------------------------------------------- webhook delivery (under the lock)

    def _next_webhook_job(self, now: float) -> tuple[_WebhookJob | None, float | None]:
        """The next update to post, now marked in flight; or else how long until a retry is due (None: until
        something changes).

        Updates are taken in update_id order, each once every update before it in its queue was delivered, and
        no more than ``max_connections`` at once.
        """
        webhook = self._webhook
        if webhook is None or webhook.target is None or len(self._webhook_in_flight) >= webhook.max_connections:
            return None, None
        waiting: set[Hashable] = set()
        next_retry: float | None = None
        for update in sorted(self._pending_updates, key=lambda update: update["update_id"]):
            queue = _webhook_queue(update)
            if queue in waiting:
                continue
            # Whatever becomes of the first update of a queue, the rest of the queue waits for it.
            waiting.add(queue)
            update_id = update["update_id"]
            if update_id in self._webhook_in_flight:
                continue
            retry_at = self._webhook_retry_at.get(update_id, now)
            if retry_at > now:
                next_retry = retry_at if next_retry is None else min(next_retry, retry_at)
                continue
            self._webhook_in_flight.add(update_id)
            return _WebhookJob(update, webhook, self.webhook_timeout, now), None
        return None, None if next_retry is None else next_retry - now

    def _webhook_answered(self, job: _WebhookJob, status: int | None, error: str | None) -> None:
        """Record a POST: a 2xx delivers the update, anything else has it posted again after a delay."""
        update_id = job.update["update_id"]
        self._webhook_in_flight.discard(update_id)
        self.webhook_attempts.append(WebhookAttempt(update_id, status, error, job.at))
        if error is None:
            self._delivered_updates[update_id] = job.update
            self._webhook_retry_at.pop(update_id, None)
            if self._redeliveries[update_id]:
                self._redeliveries[update_id] -= 1
            else:
                self._drop_pending(update_id)
        elif self._webhook is job.webhook:
            self._webhook_retry_at[update_id] = time.monotonic() + self.webhook_retry_delay
            self._webhook_error = (_now(), error)
            if described := _describe_user_update(job.update):
                self._log(described[0], f"webhook: update {update_id} not delivered: {error}")
        self._notify()

    def _webhook_abandoned(self, job: _WebhookJob) -> None:
        """Forget a POST cut short because the server stops: the update stays pending."""
        self._webhook_in_flight.discard(job.update["update_id"])

    def _drop_pending(self, update_id: int) -> None:
        for index, update in enumerate(self._pending_updates):
            if update["update_id"] == update_id:
                del self._pending_updates[index]
                return

    def _register_update(self, update: JSONDict) -> None:
        """Remember the chats an update opens for the bot, and log it to the transcript."""
        if query := update.get("callback_query"):
            user = query["from"]
            self._chats.setdefault(user["id"], {"id": user["id"], "type": "private", "first_name": user["first_name"]})
        message = update.get("message") or update.get("edited_message")
        if message:
            chat = message["chat"]
            self._chats.setdefault(chat["id"], dict(chat))
            self._last_message_id[chat["id"]] = max(self._last_message_id.get(chat["id"], 0), message["message_id"])
        if described := _describe_user_update(update):
            self._log(*described)

    def _register_chat(self, chat: JSONDict) -> None:
        with self._cond:
            self._chats[chat["id"]] = dict(chat)

    def _allocate_user_id(self) -> int:
        with self._cond:
            self._last_user_id += 1
            return self._last_user_id

    def _next_message_id(self, chat_id: int) -> int:
        """Private chats number messages from both sides in one sequence."""
        with self._cond:
            self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
            return self._last_message_id[chat_id]

    def _next_file_ids(self) -> tuple[str, str]:
        with self._cond:
            self._file_seq += 1
            return f"fake-file-{self._file_seq}", f"fake-unique-{self._file_seq}"

    def _next_callback_query_id(self) -> str:
        with self._cond:
            self._callback_seq += 1
            return f"{self.bot_id}{self._callback_seq:08d}"

    # ------------------------------------------------------------------------- validation helpers

    def _chat(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id not in self._opened:
                raise _bad_request("chat not found")
            chat = {"id": chat_id, "type": "private", "first_name": _OPENED_CHAT_NAME}
        return chat

    @staticmethod
    def _check_text(text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > _MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return text

    @staticmethod
    def _inline_markup(params: JSONDict) -> JSONDict | None:
        """The inline keyboard of a call, validated; other markup kinds are not echoed by Telegram."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 0 < len(data.encode()) <= _MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
        return markup

    def _store_bot_message(self, chat_id: int, message: JSONDict, reply_markup: JSONDict | None) -> SentMessage:
        sent = SentMessage(
            chat_id=chat_id,
            message_id=message["message_id"],
            text=message.get("text", message.get("caption", "")),
            reply_markup=copy.deepcopy(reply_markup),
            message=copy.deepcopy(message),
        )
        self._messages[chat_id, sent.message_id] = sent
        self._notify()
        return sent

    def _new_bot_message(self, chat: JSONDict, **content: Any) -> JSONDict:
        return {
            "message_id": self._next_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": dict(chat),
            "date": _now(),
            **content,
        }

    # ------------------------------------------------------------------------- method handlers

    @staticmethod
    def _return_true(_params: JSONDict) -> bool:
        return True

    def _get_me(self, _params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset", 0)
        # A positive offset confirms every earlier update; a negative one keeps only the last -offset.
        if offset > 0:
            self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        elif offset < 0:
            self._pending_updates = self._pending_updates[offset:]
        limit = min(max(params.get("limit", 100), 1), 100)
        return copy.deepcopy(self._pending_updates[:limit])

    def _set_webhook(self, params: JSONDict) -> bool:
        # As on Telegram, the old webhook is closed, and pending updates dropped if asked, before the new one is
        # checked: a refused setWebhook leaves no webhook.
        self._webhook = None
        self._webhook_error = None
        self._webhook_retry_at.clear()
        if params.get("drop_pending_updates"):
            self._pending_updates.clear()
        if url := str(params.get("url") or ""):
            self._webhook = _parse_webhook(url, params)
            self._set_allowed_updates(params.get("allowed_updates"))
            self._notify()
        return True

    def _set_allowed_updates(self, value: Any) -> None:
        """Keep the setting without a list of names (as Telegram does with one it cannot read); ignore unknown
        names; a list without a known one restores the default."""
        if isinstance(value, list) and all(isinstance(name, str) for name in value):
            self._allowed_updates = frozenset(name.lower() for name in value).intersection(_UPDATE_TYPES) or None

    def _delete_webhook(self, params: JSONDict) -> bool:
        return self._set_webhook({**params, "url": ""})

    def _get_webhook_info(self, _params: JSONDict) -> JSONDict:
        webhook = self._webhook
        info: JSONDict = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": bool(webhook and webhook.has_custom_certificate),
            "pending_update_count": len(self._pending_updates),
        }
        if self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
        if self._allowed_updates is not None:
            info["allowed_updates"] = [kind for kind in _UPDATE_TYPES if kind in self._allowed_updates]
        return info

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        text = self._check_text(params.get("text"))
        inline_markup = self._inline_markup(params)
        message = self._new_bot_message(chat, text=text)
        if inline_markup is not None:
            message["reply_markup"] = inline_markup
        self._message_counts[chat["id"]] += 1
        if self.record:
            # Keep the full reply_markup (reply keyboards too): that is what the user sees.
            sent = self._store_bot_message(chat["id"], message, params.get("reply_markup"))
            self._sent.append(sent)
            self._log(chat["id"], f"bot: {_describe_bot_message(sent)}")
        return message

    def _send_document(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        document = params.get("document")
        if isinstance(document, UploadedFile):
            file_id, file_unique_id = self._next_file_ids()
            info = {
                "file_id": file_id,
                "file_unique_id": file_unique_id,
                "file_name": document.filename,
                "mime_type": document.mime_type or "application/octet-stream",
                "file_size": len(document.content),
            }
        elif isinstance(document, str) and document:
            # A file_id or URL: Telegram resolves it; the fake echoes it as the file id.
            info = {"file_id": document, "file_unique_id": f"fake-ref-{zlib.crc32(document.encode()):08x}"}
        else:
            raise _bad_request("there is no document in the request")
        content: JSONDict = {"document": info}
        if caption := params.get("caption"):
            content["caption"] = caption
        message = self._new_bot_message(chat, **content)
        inline_markup = self._inline_markup(params)
        if inline_markup is not None:
            message["reply_markup"] = inline_markup
        self._document_counts[chat["id"]] += 1
        if self.record:
            sent = self._store_bot_message(chat["id"], message, params.get("reply_markup"))
            self._sent.append(sent)
            self._log(chat["id"], f"bot: [document {info.get('file_name', info['file_id'])}]")
        return message

    def _send_chat_action(self, params: JSONDict) -> bool:
        self._chat(params)
        return True

    def _message_to_edit(self, params: JSONDict) -> SentMessage:
        current = self._messages.get((params.get("chat_id"), params.get("message_id")))
        if current is None:
            raise _bad_request("message to edit not found")
        return current

    def _apply_edit(self, current: SentMessage, content: JSONDict, inline_markup: JSONDict | None) -> JSONDict:
        old = current.message
        if inline_markup == old.get("reply_markup") and all(old.get(k) == v for k, v in content.items()):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        message = {key: value for key, value in old.items() if key != "reply_markup"}
        message.update(content, edit_date=_now())
        if inline_markup is not None:
            message["reply_markup"] = inline_markup
        edited = replace(
            current,
            text=content.get("text", current.text),
            reply_markup=copy.deepcopy(inline_markup),
            message=copy.deepcopy(message),
        )
        self._messages[current.chat_id, current.message_id] = edited
        self._log(current.chat_id, f"bot edits #{current.message_id}: {_describe_bot_message(edited)}")
        self._notify()
        return message

    def _edit_message_text(self, params: JSONDict) -> JSONDict:
        current = self._message_to_edit(params)
        if "text" not in current.message:
            raise _bad_request("there is no text in the message to edit")
        text = self._check_text(params.get("text"))
        return self._apply_edit(current, {"text": text}, self._inline_markup(params))

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        return self._apply_edit(self._message_to_edit(params), {}, self._inline_markup(params))

    def _delete_message(self, params: JSONDict) -> bool:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        # Bots may delete messages from both sides of a private chat.
        exists = (
            isinstance(chat_id, int)
            and isinstance(message_id, int)
            and 0 < message_id <= self._last_message_id.get(chat_id, 0)
            and (chat_id, message_id) not in self._deleted
        )
        if not exists:
            raise _bad_request("message to delete not found")
        self._deleted.add((chat_id, message_id))
        self._messages.pop((chat_id, message_id), None)
        return True

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("commands must be an array")
        if not all(_BOT_COMMAND_RE.fullmatch(str(command.get("command", ""))) for command in commands):
            raise _bad_request("BOT_COMMAND_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": command["command"], "description": command["description"]} for command in commands
        ]
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True


class FakeUser:
    """A user chatting privately with the bot.

    Each action builds a real Update payload, queues it for getUpdates or the webhook (unless the api's
    ``queue_updates`` is off) and returns it, so in-process tests can feed it straight to
    ``Update.de_json(update, bot)``.
    """

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int | None = None,
        first_name: str = "Siti",
        language_code: str | None = "id",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        self.api = api
        self.user_id = user_id if user_id is not None else api._allocate_user_id()
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        # Registering up front lets tests cover bots that message users first (reminders etc.).
        api._register_chat(self.chat)

    def _optional_names(self) -> JSONDict:
        names = {"last_name": self.last_name, "username": self.username}
        return {key: value for key, value in names.items() if value is not None}

    @property
    def user(self) -> JSONDict:
        user: JSONDict = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        user.update(self._optional_names())
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user

    @property
    def chat(self) -> JSONDict:
        return {"id": self.user_id, "type": "private", "first_name": self.first_name, **self._optional_names()}

    def inbox(self) -> list[SentMessage]:
        """Messages the bot sent to this user, in order."""
        return self.api.sent(self.user_id)

    def _send(self, **content: Any) -> JSONDict:
        message = {
            "message_id": self.api._next_message_id(self.user_id),
            "from": self.user,
            "chat": self.chat,
            "date": _now(),
            **content,
        }
        return self.api._emit({"message": message}, queue=self.api.queue_updates)

    def send_text(self, text: str) -> JSONDict:
        return self._send(text=text)

    def send_command(self, name: str, payload: str | None = None) -> JSONDict:
        """``/name payload``, with the bot_command entity Telegram attaches."""
        command = "/" + name.removeprefix("/")
        text = f"{command} {payload}" if payload else command
        # Entity offsets and lengths count UTF-16 code units.
        length = len(command.encode("utf-16-le")) // 2
        return self._send(text=text, entities=[{"type": "bot_command", "offset": 0, "length": length}])

    def tap(self, callback_data: str, message_id: int | None = None, *, strict: bool = True) -> JSONDict:
        """Press an inline button on a bot message (the latest one unless ``message_id`` is given).

        ``strict`` rejects data that no button on that message carries, since a real user can
        only send what the keyboard offers; turn it off to simulate stale or forged queries.
        """
        target = self.api.message(self.user_id, message_id)
        if strict and callback_data not in [data for row in target.buttons for _, data in row]:
            raise ValueError(
                f"message {target.message_id} has no button with callback_data {callback_data!r}; "
                f"buttons: {target.buttons}"
            )
        query = {
            "id": self.api._next_callback_query_id(),
            "from": self.user,
            "message": copy.deepcopy(target.message),
            # Telegram sends an opaque id that is stable per chat.
            "chat_instance": str(-(10**12 + self.user_id)),
            "data": callback_data,
        }
        return self.api._emit({"callback_query": query}, queue=self.api.queue_updates)

    def share_contact(self, phone_number: str, user_id: int | None = None) -> JSONDict:
        """Share a contact; by default the user's own, as the request_contact button does."""
        contact: JSONDict = {
            "phone_number": phone_number,
            "first_name": self.first_name,
            "user_id": self.user_id if user_id is None else user_id,
        }
        if self.last_name is not None:
            contact["last_name"] = self.last_name
        return self._send(contact=contact)

    def _file(self, **extra: Any) -> JSONDict:
        file_id, file_unique_id = self.api._next_file_ids()
        return {"file_id": file_id, "file_unique_id": file_unique_id, **extra}

    def send_sticker(self) -> JSONDict:
        sticker = self._file(
            width=512, height=512, is_animated=False, is_video=False, type="regular", emoji="👍", file_size=24_000
        )
        return self._send(sticker=sticker)

    def send_photo(self) -> JSONDict:
        # Telegram delivers every stored size of a photo, smallest first.
        sizes = [
            self._file(width=90, height=120, file_size=1_500),
            self._file(width=960, height=1280, file_size=98_000),
        ]
        return self._send(photo=sizes)

    def send_voice(self) -> JSONDict:
        return self._send(voice=self._file(duration=3, mime_type="audio/ogg", file_size=9_000))

    def send_location(self, latitude: float, longitude: float) -> JSONDict:
        return self._send(location={"latitude": latitude, "longitude": longitude})

    def send_document(self, file_name: str) -> JSONDict:
        mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        return self._send(document=self._file(file_name=file_name, mime_type=mime_type, file_size=52_000))

    def send_video(self) -> JSONDict:
        video = self._file(width=720, height=1280, duration=5, mime_type="video/mp4", file_size=850_000)
        return self._send(video=video)


class FakeRequest(BaseRequest):
    """PTB request backend answering from a FakeBotAPI in-process, without any network.

    ``latency`` adds a per-call delay so benchmarks can model a round trip to Telegram.
    """

    __slots__ = ("_read_timeout", "api", "latency")

    def __init__(self, api: FakeBotAPI, *, latency: float = 0.0, read_timeout: float | None = 5.0) -> None:
        self.api = api
        self.latency = latency
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up: there is no connection pool."""

    async def shutdown(self) -> None:
        """Nothing to release: there is no connection pool."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer from the FakeBotAPI; timeouts are irrelevant without a network."""
        params: JSONDict = {}
        if request_data is not None:
            params.update(request_data.parameters)
            # Files travel outside ``parameters``, under their multipart part names.
            for name, (filename, content, mime_type) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                params[name] = UploadedFile(filename or name, data, mime_type)
        if self.latency:
            await asyncio.sleep(self.latency)
        status, body = await self.api.handle_async(url.rstrip("/").rsplit("/", 1)[-1], params)
        return status, json.dumps(body).encode()


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    """Split a multipart/form-data body into text fields and UploadedFile parts."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = cast(EmailMessage, BytesParser(policy=policy.HTTP).parsebytes(head + body))
    if not message.is_multipart():
        raise ValueError("malformed multipart body")
    params: JSONDict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise ValueError("multipart part without a name")
        payload = cast(bytes, part.get_payload(decode=True) or b"")
        filename = part.get_filename()
        if filename is None:
            params[collapse_rfc2231_value(name)] = payload.decode(part.get_content_charset("utf-8"))
        else:
            params[collapse_rfc2231_value(name)] = UploadedFile(filename, payload, part.get_content_type())
    return params


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Stopping must not wait for handler threads, e.g. a long poll whose client went away.
    block_on_close = False
    # A connection pool opens its connections all at once (PTB's HTTPXRequest holds up to 256);
    # socketserver's backlog of 5 would refuse the rest.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        api: FakeBotAPI,
        token: str,
        handler: type[_BotAPIRequestHandler],
    ) -> None:
        super().__init__(address, handler)
        self.api = api
        self.token = token
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def end_connections(self) -> None:
        """End every open connection once its current answer is written.

        Shutting down only the reading side wakes handlers waiting for a keep-alive client's next
        request (they read end-of-file and close) but still lets answers in flight go out.
        """
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RD)


class _BotAPIRequestHandler(BaseHTTPRequestHandler):
    """Routes ``/bot<token>/<method>`` to the FakeBotAPI.

    It speaks HTTP/1.0 (the http.server default), so every request gets its own connection.
    """

    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # Called for every request: format nothing unless someone reads it.
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        match = _API_PATH_RE.fullmatch(url.path)
        if match is None:
            self._refuse(404, "Not Found")
        elif match["token"] != self.server.token:
            self._refuse(401, "Unauthorized")
        else:
            try:
                params = self._read_params(url.query)
            except ValueError as error:
                self._refuse(400, f"Bad Request: {error}")
            else:
                self._respond(*self.server.api.handle(match["method"], params, long_poll=True))

    def _refuse(self, status: int, description: str) -> None:
        """Answer an error before the body was read in full: the connection cannot carry another request."""
        self.close_connection = True
        self._respond(status, _error_body(status, description))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";", 1)[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            # Skip trailers up to the blank line ending the body.
            while self.rfile.readline().strip():
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _read_params(self, query: str) -> JSONDict:
        """Query string plus body, whichever encoding the client chose."""
        params: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
        body = self._read_body()
        content_type = self.headers.get("Content-Type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if not body:
            return params
        if media_type == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            params.update(decoded)
        elif media_type == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        elif media_type == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
        else:
            raise ValueError(f"unsupported Content-Type {content_type!r}")
        return params

    def _respond(self, status: int, body: JSONDict) -> None:
        payload = json.dumps(body).encode()
        # The client may have given up meanwhile, e.g. a long poll cancelled at bot shutdown.
        with suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                # A keep-alive client must not reuse it; HTTP/1.0 closes every connection anyway.
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)


class _KeepAliveRequestHandler(_BotAPIRequestHandler):
    """HTTP/1.1 with keep-alive, so a client's connection pool reuses connections, as with Telegram.

    Without it every call opens a TCP connection and a thread of its own, which more than doubles the
    server's CPU per call and limits a benchmark to about a thousand calls a second. Every answer
    carries Content-Length.
    """

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; Nagle's algorithm would hold the body back until the
    # client acknowledged the headers, which its delayed ACK postpones by up to 40 ms.
    disable_nagle_algorithm = True


class _WebhookDelivery:
    """POSTs the queued updates of a FakeBotAPI to its webhook, from threads of its own, until stopped.

    One thread takes what is due (``FakeBotAPI._next_webhook_job``) and starts a thread for each POST, so a slow
    webhook holds up only the queue it is answering for. Stopping cuts POSTs in flight short by shutting their
    sockets, records nothing for them and joins every thread.
    """

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self._stopping = False
        self._posts: set[threading.Thread] = set()
        self._connections: set[http.client.HTTPConnection] = set()
        self._thread = threading.Thread(target=self._run, name="FakeBotAPI webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self.api._cond:
            self._stopping = True
            self.api._notify()
            connections = list(self._connections)
        for connection in connections:
            # Ends the wait for an answer. The POST's own thread closes the connection, maybe just now: a closed
            # socket refuses with OSError.
            if (sock := connection.sock) is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        # No POST starts once the taking thread has ended.
        with self.api._cond:
            posts = list(self._posts)
        for post in posts:
            post.join()

    def _run(self) -> None:
        api = self.api
        with api._cond:
            while not self._stopping:
                job, wait = api._next_webhook_job(time.monotonic())
                if job is None:
                    api._cond.wait(wait)
                    continue
                post = threading.Thread(target=self._post, args=(job,), name="FakeBotAPI webhook POST", daemon=True)
                self._posts.add(post)
                post.start()

    def _post(self, job: _WebhookJob) -> None:
        status, error = self._send(job)
        with self.api._cond:
            self._posts.discard(threading.current_thread())
            if self._stopping:
                self.api._webhook_abandoned(job)
            else:
                self.api._webhook_answered(job, status, error)

    def _send(self, job: _WebhookJob) -> tuple[int | None, str | None]:
        """POST the update as Telegram does: the status of the answer, and why the update is not delivered."""
        target = cast(_WebhookTarget, job.webhook.target)
        headers = {"Content-Type": "application/json"}
        if job.webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = job.webhook.secret_token
        body = json.dumps(job.update, ensure_ascii=False).encode()
        connection = http.client.HTTPConnection(target.host, target.port, timeout=job.timeout)
        try:
            connection.connect()
            with self.api._cond:
                # Checked once connected, so that stop() either shuts this connection or is seen here. Either
                # way _post records nothing.
                if self._stopping:
                    return None, "stopped"
                self._connections.add(connection)
            connection.request("POST", target.path, body, headers)
            response = connection.getresponse()
            response.read()
        except TimeoutError:
            return None, "Read timeout expired"
        except http.client.RemoteDisconnected:
            return None, "Webhook connection closed"
        except (OSError, http.client.HTTPException) as error:
            return None, getattr(error, "strerror", None) or str(error) or type(error).__name__
        finally:
            with self.api._cond:
                self._connections.discard(connection)
            connection.close()
        if 200 <= response.status < 300:
            return response.status, None
        return response.status, f"Wrong response from the webhook: {response.status} {response.reason}"


def _bot_id_from_token(token: str) -> int:
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else TEST_BOT_ID


class FakeBotAPIServer(LoopbackServer):
    """A FakeBotAPI served over real HTTP on 127.0.0.1, for end-to-end tests.

    The bot runs unchanged with ``base_url`` set to ``server.base_url``; PTB appends the token and
    method name itself. ``keep_alive`` serves HTTP/1.1 with persistent connections, for benchmarks
    at thousands of calls a second; the default HTTP/1.0 opens a connection per call. While it serves,
    updates are POSTed to the webhook the bot set (if it is on this machine), until ``stop()``.
    """

    def __init__(
        self,
        token: str = TEST_TOKEN,
        api: FakeBotAPI | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: bool = False,
    ) -> None:
        self.token = token
        # Like Telegram, getMe reports the id that prefixes the token.
        self.api = api if api is not None else FakeBotAPI(bot_id=_bot_id_from_token(token))
        super().__init__(host, port)
        self._handler = _KeepAliveRequestHandler if keep_alive else _BotAPIRequestHandler
        self._delivery: _WebhookDelivery | None = None

    def _make_server(self) -> _HTTPServer:
        return _HTTPServer(self._address, self.api, self.token, self._handler)

    def start(self) -> Self:
        super().start()
        self._delivery = _WebhookDelivery(self.api)
        return self

    def _before_stop(self) -> None:
        """In-flight long polls are answered right away, and webhook deliveries end."""
        self.api._wake_pollers()
        if self._delivery is not None:
            self._delivery.stop()
            self._delivery = None

    def _after_close(self) -> None:
        """Idle keep-alive connections are closed, so no client keeps talking to a stopped server."""
        self._httpd.end_connections()

    @property
    def base_url(self) -> str:
        """The value for PTB's ``base_url``: it appends ``<token>/<method>``."""
        return f"http://{self._address[0]}:{self.port}/bot"

    def wait_for_sent(self, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Block until ``count`` messages went to the chat; for bots running in another thread/process."""
        return self.api.wait_for_sent(chat_id, count, timeout)

    async def wait_for_sent_async(
        self,
        chat_id: int,
        count: int,
        within: float = 10.0,
    ) -> list[SentMessage]:
        """Await ``count`` messages to the chat; for bots running in the test's own event loop."""
        return await self.api.wait_for_sent_async(chat_id, count, within)


def _chat_range(value: str) -> range:
    start, _, count = value.partition(":")
    try:
        return range(int(start), int(start) + int(count))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:COUNT, got {value!r}") from None


def main(argv: list[str] | None = None) -> None:
    """Serve a FakeBotAPI until SIGTERM or SIGINT, then print what the bot did as one JSON line.

    A benchmark runs the fake in a process of its own, so that the fake's CPU does not count as the
    sender's and neither waits for the other's GIL.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.telegram",
        description=f"Serve a fake Telegram Bot API on 127.0.0.1 for the token {TEST_TOKEN}.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--rate-limit", type=float, help="message calls per second for the bot")
    parser.add_argument("--paid-rate-limit", type=float, help="message calls per second with allow_paid_broadcast")
    parser.add_argument("--per-chat-limit", type=float, help="message calls per second for each chat")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every answer is delayed")
    parser.add_argument("--keep-alive", action="store_true", help="HTTP/1.1 with persistent connections")
    parser.add_argument("--no-record", dest="record", action="store_false", help="keep counts only")
    parser.add_argument(
        "--open-chats", type=_chat_range, default=range(0), metavar="START:COUNT", help="user ids with open chats"
    )
    args = parser.parse_args(argv)
    api = FakeBotAPI(
        rate_limit=args.rate_limit,
        paid_rate_limit=args.paid_rate_limit,
        per_chat_limit=args.per_chat_limit,
        latency=args.latency,
        record=args.record,
    )
    api.open_chats(args.open_chats)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before any thread starts (threads inherit the mask), the signals wait for sigwait below.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with FakeBotAPIServer(TEST_TOKEN, api, port=args.port, keep_alive=args.keep_alive) as server:
        print(f"ready {server.base_url}", flush=True)
        signal.sigwait(stop_signals)
    with api._cond:
        counts = api._message_counts.values()
        summary = {
            "sent": sum(counts),
            "rate_limited": api.rate_limited,
            "duplicates": sum(1 for count in counts if count > 1),
            "max_in_any_second": api.max_in_any_second(),
        }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
