"""Offline fake of Meta's WhatsApp Cloud API (the Graph API's messages and media endpoints) and of Meta's webhooks.

The fake speaks the Cloud API's wire format, so the bot's own httpx client runs unchanged and the tests never
touch the network:

* ``FakeWhatsAppAPI`` holds the state of one business phone number and answers
  ``POST /{version}/{phone_number_id}/messages`` with the status codes and JSON bodies Graph would send. Every
  message is checked against Meta's limits (3 reply buttons of 20 characters, 10 list rows, approved templates
  and their parameters, ...), so a message Meta would refuse fails in the tests rather than in production.
  ``POST /{version}/{phone_number_id}/media`` takes a multipart upload (``messaging_product``, ``type``, ``file``)
  of the types and sizes Meta takes and answers its media id; an image or document message names that id, and
  ``FakeWhatsAppAPI.media`` gives the uploaded bytes back.
* It plays what a campaign meets on WhatsApp: the 80 messages/s throughput limit, the 24-hour customer service
  window (Meta accepts a free-form message outside it and reports the failure later, in a status webhook),
  recipients' rate limits and opt-outs on demand, answers that come too late, and status webhooks out of order.
* ``FakeWhatsAppUser`` plays a user by building the webhook bodies Meta POSTs to the bot; ``post_to_bot`` signs
  and POSTs them as Meta does, and ``FakeWhatsAppAPI.deliver_statuses`` posts the queued status webhooks.
* ``FakeWhatsAppAPI.transport`` plugs the fake into an ``httpx.AsyncClient`` in-process; ``FakeGraphServer`` serves
  it over real HTTP on 127.0.0.1, for end-to-end tests that run the bot unchanged with its base URL pointed at it.

Lengths are counted in code points (Python's ``len``), as Meta counts characters: an emoji is one.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import email.parser
import email.policy
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from tests.fakes.loopback import LoopbackServer
from tests.fakes.waiting import Changes

__all__ = [
    "APP_SECRET",
    "DISPLAY_PHONE_NUMBER",
    "GRAPH_VERSION",
    "PHONE_NUMBER_ID",
    "TEST_TOKEN",
    "VERIFY_TOKEN",
    "WABA_ID",
    "Call",
    "Media",
    "FakeGraphServer",
    "FakeWhatsAppAPI",
    "FakeWhatsAppUser",
    "SentWhatsApp",
    "post_to_bot",
    "sign",
    "signed_post_args",
    "verify_webhook",
]

_LOGGER = logging.getLogger(__name__)

# A system user's access token looks like this; the fake only compares it.
TEST_TOKEN = "EAAFakeWhatsAppCloudApiTokenForOfflineTests0123456789"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "6281100000000"
WABA_ID = "102290129340398"
APP_SECRET = "fake-app-secret-0123456789abcdef"
VERIFY_TOKEN = "fake-verify-token-bpu"
GRAPH_VERSION = "v23.0"

JSONDict = dict[str, Any]
StatusOrder = Literal["reverse", "shuffle"] | None
Signature = Literal["good", "bad", "missing"]

_MESSAGES_PATH_RE = re.compile(r"/v\d+\.\d+/(?P<phone_number_id>[^/]+)/messages")
_MEDIA_PATH_RE = re.compile(r"/v\d+\.\d+/(?P<phone_number_id>[^/]+)/media")
_MB = 1024 * 1024
# What the media endpoint takes, by MIME type: the kind of message that may carry it and its largest size
# (Meta's "Supported media types"; stickers left out). Anything else, text/csv included, is refused.
_MEDIA_TYPES: dict[str, tuple[str, int]] = {
    **{mime: ("audio", 16 * _MB) for mime in ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg")},
    **{mime: ("video", 16 * _MB) for mime in ("video/3gpp", "video/mp4")},
    **{mime: ("image", 5 * _MB) for mime in ("image/jpeg", "image/png")},
    **{
        mime: ("document", 100 * _MB)
        for mime in (
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        )
    },
}
_CAPTION = 1024
# Business-scoped user ids are a country prefix and digits, e.g. "ID.1349120865530274".
_BSUID_RE = re.compile(r"[A-Z]{2}\.[0-9A-Za-z]+")
_PHONE_RE = re.compile(r"\+?[0-9]{8,15}")
# Meta refuses template text parameters with a newline, a tab or more than four consecutive spaces.
_BAD_TEMPLATE_TEXT_RE = re.compile(r"[\n\t]| {5,}")
_FREE_FORM_WINDOW = 24 * 3600.0
_THROUGHPUT_WINDOW = 1.0
_ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# Code -> (title, default details), as Graph answers them and as status webhooks report them.
_ERRORS: dict[int, tuple[str, str]] = {
    1: ("An unknown error occurred", "Please retry your request later."),
    2: ("Service temporarily unavailable", "Please retry your request later."),
    100: ("Invalid parameter", "The request is not a JSON object."),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131009: ("Parameter value is not valid", "A parameter is not valid."),
    131026: ("Message undeliverable", "Unable to deliver message."),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this "
        "phone number.",
    ),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: (
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on "
        "WhatsApp from your business.",
        "The user stopped marketing messages from this business.",
    ),
    131051: ("Message type unknown", "Message type is currently not supported."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a short "
        "period of time.",
    ),
    132000: (
        "Number of parameters does not match the expected number of params",
        "The number of parameters does not match the template.",
    ),
    132001: ("Template name does not exist in the translation", "The template does not exist in this language."),
    132018: ("There was an issue with the parameters in your template.", "A template parameter is not valid."),
}


def _error_title(code: int) -> str:
    return _ERRORS.get(code, (f"Error {code}", ""))[0]


def _error_details(code: int) -> str:
    return _ERRORS.get(code, ("", f"Error {code}."))[1]


class _GraphError(Exception):
    """An error answer of the Graph API, raised while a request is checked."""

    def __init__(self, code: int, details: str | None = None) -> None:
        super().__init__(details)
        self.code = code
        self.details = details if details is not None else _error_details(code)

    @property
    def http_status(self) -> int:
        return {190: 401, 1: 500, 2: 503}.get(self.code, 400)

    def body(self) -> JSONDict:
        title = _error_title(self.code)
        error: JSONDict = {
            "message": title if self.code == 190 else f"(#{self.code}) {title}",
            "type": "OAuthException",
            "code": self.code,
        }
        if self.code != 190:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = _fbtrace_id()
        return {"error": error}


def _fbtrace_id() -> str:
    return secrets.token_urlsafe(16)


def _unknown_object_error(phone_number_id: str) -> JSONDict:
    """What Graph answers for a phone number id that is not the fake's: another object, or none at all."""
    return {
        "error": {
            "message": f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation. Please read the Graph API "
            "documentation at https://developers.facebook.com/docs/graph-api",
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": _fbtrace_id(),
        }
    }


def _unknown_path_error() -> JSONDict:
    return {
        "error": {
            "message": "Unknown path components",
            "type": "OAuthException",
            "code": 2500,
            "fbtrace_id": _fbtrace_id(),
        }
    }


def _status_error(code: int, details: str) -> JSONDict:
    """An ``errors[]`` entry of a failed status webhook."""
    title = _error_title(code)
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": _ERROR_CODES_URL,
    }


# ------------------------------------------------------------------------------------------ validation


def _invalid(details: str) -> _GraphError:
    return _GraphError(131009, details)


def _object(value: Any, where: str) -> JSONDict:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    return value


def _array(value: Any, where: str, minimum: int, maximum: int) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(f"{where} must be an array")
    if not minimum <= len(value) <= maximum:
        raise _invalid(f"{where} count invalid. Min: {minimum}, Max: {maximum}, got {len(value)}")
    return value


def _string(value: Any, where: str, minimum: int, maximum: int) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{where} must be a string")
    if not minimum <= len(value) <= maximum:
        raise _invalid(f"{where} length invalid. Min length: {minimum}, Max length: {maximum}, got {len(value)}")
    return value


def _unique(values: list[str], where: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _invalid(f"{where} must be unique: {value!r} appears more than once")
        seen.add(value)


def _addressee(body: JSONDict) -> tuple[str | None, str | None]:
    """The ``recipient`` (a business-scoped user id) and ``to`` (a phone) of a send; at least one is given."""
    if body.get("messaging_product") != "whatsapp":
        raise _invalid("messaging_product must be 'whatsapp'")
    if body.get("recipient_type", "individual") != "individual":
        raise _invalid("recipient_type must be 'individual'")
    recipient, to = body.get("recipient"), body.get("to")
    if recipient is None and to is None:
        raise _invalid("recipient or to is required")
    if recipient is not None and not (isinstance(recipient, str) and _BSUID_RE.fullmatch(recipient)):
        raise _invalid(f"recipient must be a business-scoped user id such as 'ID.1349120865530274', got {recipient!r}")
    if to is not None and not (isinstance(to, str) and _PHONE_RE.fullmatch(to)):
        raise _invalid(f"to must be a phone number in digits, got {to!r}")
    return recipient, to


def _optional_header_and_footer(interactive: JSONDict) -> None:
    if "header" in interactive:
        header = _object(interactive["header"], "interactive.header")
        if header.get("type") != "text":
            raise _invalid("interactive.header.type: the fake emulates text headers only")
        _string(header.get("text"), "interactive.header.text", 1, 60)
    if "footer" in interactive:
        _string(_object(interactive["footer"], "interactive.footer").get("text"), "interactive.footer.text", 1, 60)


def _text_content(body: JSONDict) -> JSONDict:
    text = _object(body.get("text"), "text")
    if not isinstance(text.get("preview_url", False), bool):
        raise _invalid("text.preview_url must be a boolean")
    return {"kind": "text", "text": _string(text.get("body"), "text.body", 1, 4096)}


def _buttons_content(interactive: JSONDict) -> JSONDict:
    text = _string(_object(interactive.get("body"), "interactive.body").get("text"), "interactive.body.text", 1, 1024)
    action = _object(interactive.get("action"), "interactive.action")
    buttons: list[tuple[str, str]] = []
    for n, button in enumerate(_array(action.get("buttons"), "interactive.action.buttons", 1, 3)):
        where = f"interactive.action.buttons[{n}]"
        button = _object(button, where)
        if button.get("type") != "reply":
            raise _invalid(f"{where}.type must be 'reply'")
        reply = _object(button.get("reply"), f"{where}.reply")
        buttons.append(
            (
                _string(reply.get("title"), f"{where}.reply.title", 1, 20),
                _string(reply.get("id"), f"{where}.reply.id", 1, 256),
            )
        )
    _unique([title for title, _ in buttons], "button titles")
    _unique([button_id for _, button_id in buttons], "button ids")
    return {"kind": "buttons", "text": text, "buttons": buttons}


def _list_content(interactive: JSONDict) -> JSONDict:
    text = _string(_object(interactive.get("body"), "interactive.body").get("text"), "interactive.body.text", 1, 4096)
    action = _object(interactive.get("action"), "interactive.action")
    list_button = _string(action.get("button"), "interactive.action.button", 1, 20)
    sections = _array(action.get("sections"), "interactive.action.sections", 1, 10)
    rows: list[tuple[str, str | None, str]] = []
    for s, section in enumerate(sections):
        where = f"interactive.action.sections[{s}]"
        section = _object(section, where)
        if "title" in section or len(sections) > 1:
            _string(section.get("title"), f"{where}.title", 1, 24)
        for r, row in enumerate(_array(section.get("rows"), f"{where}.rows", 1, 10)):
            row = _object(row, f"{where}.rows[{r}]")
            description = row.get("description")
            if description is not None:
                _string(description, f"{where}.rows[{r}].description", 0, 72)
            title = _string(row.get("title"), f"{where}.rows[{r}].title", 1, 24)
            rows.append((title, description, _string(row.get("id"), f"{where}.rows[{r}].id", 1, 200)))
    if len(rows) > 10:
        raise _invalid(f"list rows count invalid. Min: 1, Max: 10 in all sections, got {len(rows)}")
    _unique([row_id for _, _, row_id in rows], "row ids")
    return {"kind": "list", "text": text, "rows": rows, "list_button": list_button}


def _interactive_content(body: JSONDict) -> JSONDict:
    interactive = _object(body.get("interactive"), "interactive")
    _optional_header_and_footer(interactive)
    kind = interactive.get("type")
    if kind == "button":
        return _buttons_content(interactive)
    if kind == "list":
        return _list_content(interactive)
    raise _invalid(f"interactive.type: the fake emulates 'button' and 'list', got {kind!r}")


def _button_index(value: Any, where: str) -> int:
    if isinstance(value, str) and value in ("0", "1", "2"):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2:
        return value
    raise _invalid(f"{where}.index must be 0, 1 or 2, got {value!r}")


def _template_content(body: JSONDict, approved: Mapping[str, Mapping[str, int]]) -> JSONDict:
    template = _object(body.get("template"), "template")
    name = _string(template.get("name"), "template.name", 1, 512)
    language = _string(
        _object(template.get("language"), "template.language").get("code"), "template.language.code", 1, 15
    )
    expected = approved.get(name, {}).get(language)
    if expected is None:
        raise _GraphError(132001, f"template name ({name}) does not exist in {language}")
    components = template.get("components", [])
    if not isinstance(components, list):
        raise _invalid("template.components must be an array")
    params: list[str] | None = None
    payloads: dict[int, str] = {}
    for c, component in enumerate(components):
        where = f"template.components[{c}]"
        component = _object(component, where)
        if component.get("type") == "body":
            if params is not None:
                raise _invalid(f"{where}: a template has one body component")
            params = []
            for p, parameter in enumerate(_array(component.get("parameters", []), f"{where}.parameters", 0, 100)):
                parameter = _object(parameter, f"{where}.parameters[{p}]")
                if parameter.get("type") != "text":
                    raise _invalid(f"{where}.parameters[{p}].type: the fake emulates text parameters only")
                params.append(_string(parameter.get("text"), f"{where}.parameters[{p}].text", 1, 32768))
        elif component.get("type") == "button":
            if component.get("sub_type") != "quick_reply":
                raise _invalid(f"{where}.sub_type: the fake emulates 'quick_reply' buttons only")
            index = _button_index(component.get("index"), where)
            if index in payloads:
                raise _invalid(f"{where}.index {index} appears more than once")
            [parameter] = _array(component.get("parameters"), f"{where}.parameters", 1, 1)
            parameter = _object(parameter, f"{where}.parameters[0]")
            if parameter.get("type") != "payload":
                raise _invalid(f"{where}.parameters[0].type must be 'payload'")
            payloads[index] = _string(parameter.get("payload"), f"{where}.parameters[0].payload", 1, 256)
        else:
            raise _invalid(
                f"{where}.type: the fake emulates 'body' and 'button' components, got {component.get('type')!r}"
            )
    params = params or []
    if len(params) != expected:
        raise _GraphError(
            132000,
            f"body: number of localizable_params ({len(params)}) does not match the expected number of params "
            f"({expected})",
        )
    if any(_BAD_TEMPLATE_TEXT_RE.search(param) for param in params):
        raise _GraphError(132018, "Param text cannot have new-line/tab characters or more than 4 consecutive spaces")
    return {
        "kind": "template",
        "text": " | ".join([name, *params]),
        "template_name": name,
        "template_language": language,
        "template_params": params,
        "template_payloads": [payloads[index] for index in sorted(payloads)],
    }


def _media_content(body: JSONDict, kind: str, uploads: Mapping[str, Media]) -> JSONDict:
    """An image or a document message: an uploaded media id of a type that kind may carry, and a caption."""
    content = _object(body.get(kind), kind)
    if "link" in content:
        raise _invalid(f"{kind}.link: the fake emulates uploaded media (an id) only")
    media_id = _string(content.get("id"), f"{kind}.id", 1, 64)
    media = uploads.get(media_id)
    if media is None:
        raise _invalid(f"{kind}.id: no media {media_id!r} was uploaded to this phone number")
    if _MEDIA_TYPES[media.mime_type][0] != kind and not (kind == "document" and media.mime_type.startswith("image/")):
        raise _invalid(f"{kind}.id: media {media_id} is {media.mime_type}, which a {kind} message cannot carry")
    caption = content.get("caption")
    if caption is not None:
        _string(caption, f"{kind}.caption", 1, _CAPTION)
    result: JSONDict = {"kind": kind, "text": caption or "", "media": media}
    if kind == "document":
        filename = content.get("filename")
        result["filename"] = _string(filename, "document.filename", 1, 240) if filename is not None else None
    return result


def _content(body: JSONDict, approved: Mapping[str, Mapping[str, int]], uploads: Mapping[str, Media]) -> JSONDict:
    """The fields of a ``SentWhatsApp`` that a valid message body gives, or the Graph error Meta would answer."""
    kind = body.get("type", "text")  # Meta sends a text message when the type is left out.
    if kind == "text":
        return _text_content(body)
    if kind == "interactive":
        return _interactive_content(body)
    if kind == "template":
        return _template_content(body, approved)
    if kind in ("image", "document"):
        return _media_content(body, kind, uploads)
    raise _invalid(f"type: the fake emulates 'text', 'interactive', 'template', 'image' and 'document', got {kind!r}")


def _form(content_type: str | None, raw: bytes) -> dict[str, tuple[str | None, str, bytes]]:
    """A multipart/form-data body's fields: name -> (file name, content type, bytes); {} if it is not one."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        return {}
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return {}
    fields: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (
                part.get_filename(),
                part.get_content_type(),
                payload if isinstance(payload, bytes) else b"",
            )
    return fields


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Call:
    """One request as the fake received it, accepted or not; ``body`` is the decoded JSON ({} if it was not)."""

    path: str
    body: JSONDict
    status: int
    error_code: int | None = None


@dataclass(frozen=True)
class Media:
    """A file uploaded to the media endpoint, as the fake keeps it: a message names it by ``media_id``."""

    media_id: str
    mime_type: str
    filename: str | None
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class SentWhatsApp:
    """A message the fake accepted, flattened so tests can assert on what the user would see.

    ``recipient`` is the send's ``recipient`` (business-scoped user id) or else its ``to`` (phone); ``user_id`` and
    ``phone`` are both filled in when the fake knows the user (a ``FakeWhatsAppUser``), whichever the bot sent to.
    ``at`` is the fake's clock at arrival.
    """

    message_id: str
    recipient: str
    kind: str  # "text", "buttons", "list", "template", "image" or "document"
    text: str  # an image's or document's: its caption ("" without one)
    at: float
    user_id: str | None = None
    phone: str | None = None
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, id)
    rows: list[tuple[str, str | None, str]] = field(default_factory=list)  # (title, description, id)
    list_button: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: list[str] = field(default_factory=list)
    template_payloads: list[str] = field(default_factory=list)  # quick reply payloads, by button index
    callback_data: str | None = None
    media: Media | None = None  # an image's or document's file, as uploaded
    filename: str | None = None  # the name a document shows in the chat
    # The request body as sent.
    payload: JSONDict = field(default_factory=dict, repr=False, compare=False)

    @property
    def titles(self) -> list[str]:
        """The reply buttons' or list rows' titles, as the user sees them."""
        return [title for title, _ in self.buttons] + [title for title, _, _ in self.rows]

    def is_for(self, recipient: str) -> bool:
        return recipient in (self.recipient, self.user_id, self.phone)


def _describe_sent(sent: SentWhatsApp) -> str:
    if sent.kind == "template":
        return f"template {sent.template_name}/{sent.template_language} {sent.template_params!r}"
    if sent.media is not None:
        return f"[{sent.kind} {sent.filename or sent.media.filename} {len(sent.media.content)} bytes] {sent.text!r}"
    line = repr(sent.text)
    if sent.buttons:
        line += f" buttons={sent.buttons!r}"
    if sent.rows:
        line += f" list {sent.list_button!r} rows={sent.rows!r}"
    return line


def _webhook_body(phone_number_id: str, value: JSONDict) -> JSONDict:
    """A full webhook body around one ``value``, as Meta POSTs it to the bot."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_PHONE_NUMBER,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


@dataclass
class _Failure:
    """A failure programmed with ``fail_next`` (or the closed 24-hour window), waiting for its send."""

    code: int
    on: Literal["send", "status"]
    details: str


# ------------------------------------------------------------------------------------------ the API


class FakeWhatsAppAPI(Changes):
    """Thread-safe in-memory state of one business phone number, answering sends like the Cloud API.

    All state sits behind one condition variable, so the HTTP server's threads, the test thread and an asyncio
    loop can share an instance, and both threads and coroutines can wait for messages.

    ``templates`` are the approved message templates: name -> {language code: number of body parameters}.
    ``throughput`` caps accepted messages per second for the phone number over a sliding one-second window
    (None: no cap); a message over it is refused with 130429, takes no slot and stores nothing. Only accepted
    messages take a slot. ``clock`` gives timestamps and drives the 24-hour window, ``monotonic`` the throughput
    window, so tests can move either by hand.

    Every accepted message queues its status webhooks: ``sent``, ``delivered`` and ``read``, or a single ``failed``
    when the message could not reach the user (the 24-hour window closed, or ``fail_next(..., on="status")``).
    """

    def __init__(
        self,
        *,
        token: str = TEST_TOKEN,
        phone_number_id: str = PHONE_NUMBER_ID,
        templates: Mapping[str, Mapping[str, int]] | None = None,
        throughput: float | None = 80,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.templates = {name: dict(languages) for name, languages in (templates or {}).items()}
        self.throughput = throughput
        self._clock = clock
        self._monotonic = monotonic
        super().__init__()
        self._calls: list[Call] = []
        self._sent: list[SentWhatsApp] = []
        self._uploads: dict[str, Media] = {}
        self._upload_failures: deque[int] = deque()
        self._transcript: list[tuple[str | None, str | None, str]] = []
        self._statuses: list[JSONDict] = []
        # Monotonic arrival times of accepted messages: all of them, and those of the last second.
        self._accepted_times: list[float] = []
        self._window: deque[float] = deque()
        self._last_inbound: dict[str, float] = {}
        self._phone_of: dict[str, str] = {}
        self._user_of: dict[str, str] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._stalls: dict[str, float] = {}
        self._sequence = 0
        self._last_user_id = 1_000_000_000_000_000

    # ----------------------------------------------------------------------------- answering

    def handle(
        self, method: str, path: str, authorization: str | None, body: bytes, content_type: str | None = None
    ) -> tuple[int, JSONDict]:
        """Answer one request with ``(HTTP status, JSON body)``, blocking the calling thread for a stall."""
        status, answer, delay = self._dispatch(method, path, authorization, body, content_type)
        if delay:
            time.sleep(delay)
        return status, answer

    async def handle_async(
        self, method: str, path: str, authorization: str | None, body: bytes, content_type: str | None = None
    ) -> tuple[int, JSONDict]:
        """Like ``handle``, but waits out a stall without blocking the event loop."""
        status, answer, delay = self._dispatch(method, path, authorization, body, content_type)
        if delay:
            await asyncio.sleep(delay)
        return status, answer

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering from this fake in-process, for ``httpx.AsyncClient(transport=...)``.

        httpx enforces timeouts in its network transports only: against this one a stall delays the answer but
        never raises ``ReadTimeout``; read-timeout tests use ``FakeGraphServer``.
        """

        async def handler(request: httpx.Request) -> httpx.Response:
            status, answer = await self.handle_async(
                request.method,
                request.url.path,
                request.headers.get("Authorization"),
                await request.aread(),
                request.headers.get("Content-Type"),
            )
            return httpx.Response(status, json=answer)

        return httpx.MockTransport(handler)

    def _dispatch(
        self, method: str, path: str, authorization: str | None, raw: bytes, content_type: str | None = None
    ) -> tuple[int, JSONDict, float]:
        """Answer a request at once, with how long the answer must wait; the caller waits outside the lock."""
        if _MEDIA_PATH_RE.fullmatch(path):
            with self._cond:
                status, answer, form = self._upload(method, path, authorization, _form(content_type, raw))
                error = answer.get("error")
                self._calls.append(Call(path, form, status, error["code"] if error else None))
                self._notify()
                return status, answer, 0.0
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        body = decoded if isinstance(decoded, dict) else None
        with self._cond:
            status, answer, delay = self._answer(method, path, authorization, body)
            error = answer.get("error")
            self._calls.append(Call(path, copy.deepcopy(body or {}), status, error["code"] if error else None))
            self._notify()
            return status, answer, delay

    def _answer(
        self, method: str, path: str, authorization: str | None, body: JSONDict | None
    ) -> tuple[int, JSONDict, float]:
        match = _MESSAGES_PATH_RE.fullmatch(path)
        if method != "POST" or match is None:
            return 404, _unknown_path_error(), 0.0
        if authorization != f"Bearer {self.token}":
            error = _GraphError(190)
            return error.http_status, error.body(), 0.0
        if match["phone_number_id"] != self.phone_number_id:
            return 400, _unknown_object_error(match["phone_number_id"]), 0.0
        if body is None:
            error = _GraphError(100)
            return error.http_status, error.body(), 0.0
        user_id, phone = None, None
        try:
            recipient, to = _addressee(body)
            user_id, phone = self._identities(recipient, to)
            content = _content(body, self.templates, self._uploads)
            callback_data = body.get("biz_opaque_callback_data")
            if callback_data is not None:
                _string(callback_data, "biz_opaque_callback_data", 0, 512)
            failures = self._pending_failures(user_id, phone)
            if failures and failures[0].on == "send":
                failure = failures.popleft()
                raise _GraphError(failure.code, failure.details)
            self._admit()
        except _GraphError as error:
            self._log(user_id, phone, f"bot: send refused: {error.code} {error.details}")
            return error.http_status, error.body(), 0.0
        status_failure = failures.popleft() if failures and failures[0].on == "status" else None
        sent = self._accept(recipient or to or "", user_id, phone, content, callback_data, copy.deepcopy(body))
        self._queue_statuses(sent, status_failure)
        contact: JSONDict = {"input": recipient or to}
        if recipient is not None:
            contact["user_id"] = recipient
        if to is not None:
            contact["wa_id"] = to
        answer = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": sent.message_id}]}
        delay = next((self._stalls.pop(key) for key in (user_id, phone) if key in self._stalls), 0.0)
        return 200, answer, delay

    def _upload(
        self, method: str, path: str, authorization: str | None, form: dict[str, tuple[str | None, str, bytes]]
    ) -> tuple[int, JSONDict, JSONDict]:
        """An upload to the media endpoint: its answer, and its form as recorded (the file by name and size)."""
        recorded: JSONDict = {
            name: value.decode(errors="replace") for name, (filename, _, value) in form.items() if filename is None
        }
        if "file" in form:
            filename, _, content = form["file"]
            recorded["file"] = {"filename": filename, "size": len(content)}
        match = _MEDIA_PATH_RE.fullmatch(path)
        assert match is not None
        if method != "POST":
            return 400, _unknown_path_error(), recorded
        if authorization != f"Bearer {self.token}":
            error = _GraphError(190)
            return error.http_status, error.body(), recorded
        if match["phone_number_id"] != self.phone_number_id:
            return 400, _unknown_object_error(match["phone_number_id"]), recorded
        try:
            if self._upload_failures:
                raise _GraphError(self._upload_failures.popleft())
            media = self._check_upload(form)
        except _GraphError as error:
            return error.http_status, error.body(), recorded
        self._uploads[media.media_id] = media
        return 200, {"id": media.media_id}, recorded

    def _check_upload(self, form: dict[str, tuple[str | None, str, bytes]]) -> Media:
        if "file" not in form or form["file"][0] is None:
            raise _GraphError(100, "The parameter file is required.")
        if "messaging_product" not in form:
            raise _GraphError(100, "The parameter messaging_product is required.")
        if form["messaging_product"][2] != b"whatsapp":
            raise _GraphError(100, "Param messaging_product must be 'whatsapp'.")
        mime = form["type"][2].decode(errors="replace") if "type" in form else form["file"][1]
        if mime not in _MEDIA_TYPES:
            raise _GraphError(
                100,
                f"Param file must be a file with one of the following types: {', '.join(sorted(_MEDIA_TYPES))}. "
                f"Received file of type '{mime}'.",
            )
        filename, _, content = form["file"]
        kind, limit = _MEDIA_TYPES[mime]
        if not content:
            raise _GraphError(100, "Param file must not be empty.")
        if len(content) > limit:
            raise _GraphError(
                100, f"Param file must be at most {limit // _MB} MB for {kind} ({mime}), got {len(content)} bytes."
            )
        return Media(self._media_id(), mime, filename, content)

    def _identities(self, recipient: str | None, to: str | None) -> tuple[str | None, str | None]:
        """The user id and phone of a send's addressee, each completed from the known users when missing."""
        user_id = recipient or (self._user_of.get(to) if to else None)
        phone = to or (self._phone_of.get(user_id) if user_id else None)
        return user_id, phone

    def _pending_failures(self, user_id: str | None, phone: str | None) -> deque[_Failure] | None:
        return next((self._failures[key] for key in (user_id, phone) if key and self._failures.get(key)), None)

    def _admit(self) -> None:
        """Take a slot in the throughput window, or refuse the message with 130429 taking none."""
        if self.throughput is None:
            return
        now = self._monotonic()
        window = self._window
        while window and window[0] <= now - _THROUGHPUT_WINDOW:
            window.popleft()
        if len(window) >= self.throughput:
            raise _GraphError(130429)
        window.append(now)

    def _accept(
        self,
        recipient: str,
        user_id: str | None,
        phone: str | None,
        content: JSONDict,
        callback_data: str | None,
        payload: JSONDict,
    ) -> SentWhatsApp:
        self._accepted_times.append(self._monotonic())
        sent = SentWhatsApp(
            message_id=self._next_message_id("out"),
            recipient=recipient,
            at=self._clock(),
            user_id=user_id,
            phone=phone,
            callback_data=callback_data,
            payload=payload,
            **content,
        )
        self._sent.append(sent)
        self._log(user_id, phone, f"bot: {_describe_sent(sent)}")
        return sent

    def _queue_statuses(self, sent: SentWhatsApp, failure: _Failure | None) -> None:
        if failure is None and sent.kind != "template" and not self._window_open(sent.user_id):
            failure = _Failure(131047, "status", _error_details(131047))
        base: JSONDict = {"id": sent.message_id, "timestamp": str(int(sent.at))}
        if sent.phone is not None:
            base["recipient_id"] = sent.phone
        if sent.user_id is not None:
            base["recipient_user_id"] = sent.user_id
        if sent.callback_data is not None:
            base["biz_opaque_callback_data"] = sent.callback_data
        if failure is not None:
            self._statuses.append(
                {**base, "status": "failed", "errors": [_status_error(failure.code, failure.details)]}
            )
            self._log(sent.user_id, sent.phone, f"status: {sent.message_id} failed {failure.code} {failure.details}")
            return
        # Per-message pricing, as Meta reports it since July 2025: free within the customer service window.
        template = sent.kind == "template"
        pricing = {
            "billable": template,
            "pricing_model": "PMP",
            "category": "utility" if template else "service",
            "type": "regular" if template else "free_customer_service",
        }
        self._statuses.append({**base, "status": "sent", "pricing": pricing})
        self._statuses.append({**base, "status": "delivered", "pricing": pricing})
        self._statuses.append({**base, "status": "read"})

    def _window_open(self, user_id: str | None) -> bool:
        last = self._last_inbound.get(user_id) if user_id else None
        return last is not None and self._clock() - last <= _FREE_FORM_WINDOW

    def _next_message_id(self, direction: str) -> str:
        """An opaque ``wamid.`` id, unique across both directions, shaped like Meta's base64 ones."""
        self._sequence += 1
        raw = f"{direction}:{self.phone_number_id}:{self._sequence:012d}".encode()
        return "wamid." + base64.b64encode(raw).decode()

    # ----------------------------------------------------------------------------- programmed behaviour

    def fail_next(
        self,
        recipient: str,
        code: int,
        *,
        on: Literal["send", "status"] = "send",
        times: int = 1,
        details: str | None = None,
    ) -> None:
        """Make the next ``times`` sends to ``recipient`` (a user id or a phone) fail with ``code``.

        ``on="send"`` answers the Graph error (HTTP 400) at once, e.g. 130429, 131056, 131048 or 80007;
        ``on="status"`` accepts the send and reports a ``failed`` status instead, as Meta does for 131026,
        131049 or 131050. A send refused for another reason (a malformed body, throughput) leaves them queued.
        """
        if on not in ("send", "status"):
            raise ValueError(f"on must be 'send' or 'status', got {on!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        failure = _Failure(code, on, details if details is not None else _error_details(code))
        with self._cond:
            self._failures.setdefault(recipient, deque()).extend([failure] * times)

    def fail_next_upload(self, code: int = 2, *, times: int = 1) -> None:
        """Make the next ``times`` uploads to the media endpoint fail with ``code``: by default 2, "Service
        temporarily unavailable" (HTTP 503), what a client must try again later."""
        with self._cond:
            self._upload_failures.extend([code] * times)

    def stall(self, recipient: str, seconds: float) -> None:
        """Accept the next send to ``recipient`` but hold its answer back ``seconds``.

        A client that times out first cannot know the message went out: resending it makes a duplicate.
        In-process the answer waits with ``asyncio.sleep``, in the server with ``time.sleep``.
        """
        with self._cond:
            self._stalls[recipient] = seconds

    # ----------------------------------------------------------------------------- the user side

    def note_inbound(self, user_id: str) -> None:
        """The user just wrote to the business: their 24-hour customer service window opens now."""
        with self._cond:
            self._last_inbound[user_id] = self._clock()

    def _register_user(self, user_id: str, phone: str | None) -> None:
        with self._cond:
            if phone is None:
                return
            owner = self._user_of.setdefault(phone, user_id)
            if owner != user_id:
                raise ValueError(f"phone {phone} already belongs to {owner}: give each FakeWhatsAppUser its own phone")
            self._phone_of[user_id] = phone

    def _allocate_user_id(self) -> str:
        with self._cond:
            self._last_user_id += 1
            return f"ID.{self._last_user_id}"

    def _inbound_message_id(self) -> str:
        with self._cond:
            return self._next_message_id("in")

    def _media_id(self) -> str:
        with self._cond:
            self._sequence += 1
            return str(10**15 + self._sequence)

    def _now(self) -> float:
        return self._clock()

    def _log(self, user_id: str | None, phone: str | None, line: str) -> None:
        with self._cond:
            self._transcript.append((user_id, phone, line))

    # ----------------------------------------------------------------------------- status webhooks

    def take_statuses(self, *, order: StatusOrder = None, per_body: int = 1, seed: int = 0) -> list[JSONDict]:
        """The queued status webhooks as full webhook bodies, ``per_body`` statuses in each; clears the queue.

        Meta gives no ordering guarantee: ``order="reverse"`` delivers "read" before "sent", ``"shuffle"`` a
        permutation fixed by ``seed``.
        """
        if order not in (None, "reverse", "shuffle"):
            raise ValueError(f"order must be None, 'reverse' or 'shuffle', got {order!r}")
        if per_body < 1:
            raise ValueError("per_body must be at least 1")
        with self._cond:
            statuses, self._statuses = self._statuses, []
        if order == "reverse":
            statuses.reverse()
        elif order == "shuffle":
            random.Random(seed).shuffle(statuses)
        return [
            _webhook_body(self.phone_number_id, {"statuses": statuses[start : start + per_body]})
            for start in range(0, len(statuses), per_body)
        ]

    def deliver_statuses(
        self,
        webhook_url: str,
        *,
        order: StatusOrder = None,
        per_body: int = 1,
        seed: int = 0,
        app_secret: str = APP_SECRET,
        timeout: float = 10.0,
    ) -> list[int]:
        """POST every queued status webhook to the bot, signed, as Meta would; the HTTP status of each.

        Blocking: a bot running in the test's own event loop needs ``asyncio.to_thread``.
        """
        bodies = self.take_statuses(order=order, per_body=per_body, seed=seed)
        return [post_to_bot(webhook_url, body, app_secret=app_secret, timeout=timeout) for body in bodies]

    # ----------------------------------------------------------------------------- waiting

    def _has_sent(self, recipient: str, count: int) -> Callable[[], bool]:
        return lambda: len(self.sent(recipient)) >= count

    def _sent_timeout_error(self, recipient: str, count: int, timeout: float) -> AssertionError:
        return AssertionError(
            f"expected at least {count} message(s) to {recipient} within {timeout}s, got {len(self.sent(recipient))}."
            f"\nTranscript:\n{self.transcript(recipient)}"
        )

    def wait_for_sent(self, recipient: str, count: int, timeout: float = 10.0) -> list[SentWhatsApp]:
        """Block until ``count`` messages to ``recipient`` were accepted; all accepted so far.

        For a bot running in another thread or process.
        """
        with self._cond:
            if not self._cond.wait_for(self._has_sent(recipient, count), timeout):
                raise self._sent_timeout_error(recipient, count, timeout)
            return self.sent(recipient)

    async def wait_for_sent_async(self, recipient: str, count: int, within: float = 10.0) -> list[SentWhatsApp]:
        """``wait_for_sent`` for a bot running in the test's own event loop.

        The limit is a parameter rather than left to ``asyncio.timeout`` so that running out of time fails with
        the transcript.
        """
        try:
            async with asyncio.timeout(within):
                await self._wait_async(self._has_sent(recipient, count))
        except TimeoutError:
            raise self._sent_timeout_error(recipient, count, within) from None
        return self.sent(recipient)

    # ----------------------------------------------------------------------------- test helpers

    def sent(self, recipient: str | None = None) -> list[SentWhatsApp]:
        """Accepted messages in order, all or those to ``recipient`` (a user id or a phone)."""
        with self._cond:
            return [sent for sent in self._sent if recipient is None or sent.is_for(recipient)]

    def media(self, media_id: str) -> Media:
        """An uploaded file, by the id the media endpoint answered."""
        with self._cond:
            return self._uploads[media_id]

    def uploads(self) -> list[Media]:
        """Every file uploaded so far, in order."""
        with self._cond:
            return list(self._uploads.values())

    def calls(self) -> list[Call]:
        """Every request so far, accepted or refused, in order."""
        with self._cond:
            return list(self._calls)

    def transcript(self, recipient: str) -> str:
        """Both sides of a conversation as text, for failure messages; ``recipient`` is a user id or a phone."""
        with self._cond:
            lines = [line for user_id, phone, line in self._transcript if recipient in (user_id, phone)]
        return "\n".join(lines) or "(empty)"

    def max_in_any_second(self) -> int:
        """The most messages accepted within any one second (by ``monotonic``).

        Never above ``throughput``; against a fake without a cap it shows whether a sender kept to one itself.
        """
        with self._cond:
            times = self._accepted_times
            best = start = 0
            for end, arrival in enumerate(times):
                while times[start] <= arrival - _THROUGHPUT_WINDOW:
                    start += 1
                best = max(best, end - start + 1)
            return best

    def forget_history(self) -> None:
        """Drop the record of calls, messages and transcript, for long runs.

        Each user's latest interactive message and latest template are kept, so ``tap`` and ``template_tap``
        still work; queued statuses, the 24-hour windows and ``max_in_any_second`` are kept too.
        """
        with self._cond:
            latest: dict[tuple[str, bool], SentWhatsApp] = {}
            for sent in self._sent:
                if sent.kind != "text":
                    latest[sent.user_id or sent.recipient, sent.kind == "template"] = sent
            kept = {sent.message_id for sent in latest.values()}
            self._sent = [sent for sent in self._sent if sent.message_id in kept]
            self._calls.clear()
            self._transcript.clear()


# ------------------------------------------------------------------------------------------ the user


class FakeWhatsAppUser:
    """A WhatsApp user writing to the business.

    Each action returns the full webhook body Meta would POST to the bot for one inbound message, with a unique
    ``wamid.`` id, and opens the user's 24-hour customer service window (``api.note_inbound``). ``phone=None``
    plays a user with a username whose phone WhatsApp hides: messages then carry only the business-scoped id.
    """

    def __init__(
        self,
        api: FakeWhatsAppAPI,
        *,
        user_id: str | None = None,
        phone: str | None = "6281234567890",
        name: str = "Siti",
        username: str | None = None,
    ) -> None:
        self.api = api
        self.user_id = user_id if user_id is not None else api._allocate_user_id()
        self.phone = phone
        self.name = name
        self.username = username
        api._register_user(self.user_id, phone)

    @property
    def contact(self) -> JSONDict:
        """The ``contacts[]`` entry of this user's webhooks."""
        profile: JSONDict = {"name": self.name}
        if self.username is not None:
            profile["username"] = self.username
        contact: JSONDict = {"profile": profile, "user_id": self.user_id}
        if self.phone is not None:
            contact["wa_id"] = self.phone
        return contact

    def inbox(self) -> list[SentWhatsApp]:
        """Messages the bot sent to this user, in order."""
        return self.api.sent(self.user_id)

    def _message(self, kind: str, content: Any, line: str, *, context_id: str | None = None) -> JSONDict:
        message: JSONDict = {}
        if context_id is not None:
            message["context"] = {"from": DISPLAY_PHONE_NUMBER, "id": context_id}
        if self.phone is not None:
            message["from"] = self.phone
        message.update(
            {
                "from_user_id": self.user_id,
                "id": self.api._inbound_message_id(),
                "timestamp": str(int(self.api._now())),
                "type": kind,
            }
        )
        if kind == "unsupported":
            message["errors"] = [_status_error(131051, _error_details(131051))]
        else:
            message[kind] = content
        self.api.note_inbound(self.user_id)
        self.api._log(self.user_id, self.phone, f"user: {line}")
        return _webhook_body(self.api.phone_number_id, {"contacts": [self.contact], "messages": [message]})

    def text(self, body: str) -> JSONDict:
        return self._message("text", {"body": body}, repr(body))

    def _latest(self, kinds: tuple[str, ...], what: str) -> SentWhatsApp:
        for sent in reversed(self.inbox()):
            if sent.kind in kinds:
                return sent
        raise AssertionError(
            f"the bot sent no {what} to {self.user_id}.\nTranscript:\n{self.api.transcript(self.user_id)}"
        )

    def tap(self, title: str, message: SentWhatsApp | None = None) -> JSONDict:
        """Tap the one reply button or list row whose title contains ``title``.

        On ``message``, by default the latest interactive message the bot sent to this user.
        """
        message = message or self._latest(("buttons", "list"), "interactive message")
        buttons = [(t, i) for t, i in message.buttons if title in t]
        rows = [(t, d, i) for t, d, i in message.rows if title in t]
        assert len(buttons) + len(rows) == 1, (
            f"expected one button or row titled like {title!r} on {message.text[:60]!r}, "
            f"found {len(buttons) + len(rows)}; there are {message.titles}"
        )
        if buttons:
            [(button_title, button_id)] = buttons
            reply = {"type": "button_reply", "button_reply": {"id": button_id, "title": button_title}}
            return self._message(
                "interactive", reply, f"taps {button_title!r} ({button_id})", context_id=message.message_id
            )
        [(row_title, description, row_id)] = rows
        list_reply: JSONDict = {"id": row_id, "title": row_title}
        if description is not None:
            list_reply["description"] = description
        reply = {"type": "list_reply", "list_reply": list_reply}
        return self._message("interactive", reply, f"picks {row_title!r} ({row_id})", context_id=message.message_id)

    def tap_id(
        self,
        reply_id: str,
        title: str = "x",
        kind: Literal["button_reply", "list_reply"] = "button_reply",
        *,
        context_id: str | None = None,
    ) -> JSONDict:
        """An interactive reply with any id, for stale or forged taps; ``context_id`` names the tapped message."""
        reply = {"type": kind, kind: {"id": reply_id, "title": title}}
        return self._message("interactive", reply, f"taps {title!r} ({reply_id}, forged)", context_id=context_id)

    def template_button(self, payload: str, text: str, *, context_id: str | None = None) -> JSONDict:
        """A tap on a template's quick reply button."""
        return self._message(
            "button",
            {"payload": payload, "text": text},
            f"taps {text!r} ({payload}) on a template",
            context_id=context_id,
        )

    def template_tap(
        self, title_index: int = 0, message: SentWhatsApp | None = None, *, text: str | None = None
    ) -> JSONDict:
        """Tap quick reply button ``title_index`` of ``message``, by default the latest template sent to this user.

        The fake does not know the buttons' titles (they are in the approved template); ``text`` defaults to the
        payload.
        """
        message = message or self._latest(("template",), "template")
        payloads = message.template_payloads
        assert 0 <= title_index < len(payloads), (
            f"template {message.template_name} has {len(payloads)} quick reply payload(s): {payloads}"
        )
        payload = payloads[title_index]
        return self.template_button(payload, text if text is not None else payload, context_id=message.message_id)

    def _media(self, mime_type: str, **extra: Any) -> JSONDict:
        media_id = self.api._media_id()
        return {
            "mime_type": mime_type,
            "sha256": hashlib.sha256(media_id.encode()).hexdigest(),
            "id": media_id,
            **extra,
        }

    def image(self) -> JSONDict:
        return self._message("image", self._media("image/jpeg"), "[image]")

    def sticker(self) -> JSONDict:
        return self._message("sticker", self._media("image/webp", animated=False), "[sticker]")

    def audio(self, voice: bool = True) -> JSONDict:
        return self._message(
            "audio", self._media("audio/ogg; codecs=opus", voice=voice), "[voice]" if voice else "[audio]"
        )

    def video(self) -> JSONDict:
        return self._message("video", self._media("video/mp4"), "[video]")

    def document(self, filename: str = "KTP.pdf") -> JSONDict:
        return self._message("document", self._media("application/pdf", filename=filename), f"[document {filename}]")

    def location(self, latitude: float, longitude: float) -> JSONDict:
        return self._message(
            "location", {"latitude": latitude, "longitude": longitude}, f"[location {latitude}, {longitude}]"
        )

    def contacts(self, phone: str, name: str) -> JSONDict:
        """A shared contact card; ``phone`` as the address book shows it, e.g. "+62 812-3456-7890"."""
        digits = re.sub(r"\D", "", phone)
        card = {
            "name": {"formatted_name": name, "first_name": name.split()[0] if name.split() else name},
            "phones": [{"phone": phone, "wa_id": digits, "type": "CELL"}],
        }
        return self._message("contacts", [card], f"[contact {name} {phone}]")

    def reaction(self, emoji: str, message_id: str) -> JSONDict:
        return self._message("reaction", {"message_id": message_id, "emoji": emoji}, f"[reaction {emoji}]")

    def unsupported(self) -> JSONDict:
        """A message WhatsApp cannot pass on to businesses (e.g. a poll), delivered as type "unsupported"."""
        return self._message("unsupported", None, "[unsupported]")

    def redeliver(self, body: JSONDict) -> JSONDict:
        """The same webhook again, message id included, as Meta retries one it thinks was not received."""
        return copy.deepcopy(body)


# ------------------------------------------------------------------------------------------ playing Meta


def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _meta_json(payload: JSONDict) -> bytes:
    """JSON as Meta writes it: compact, non-ASCII and "/" escaped.

    Its bytes differ from ``json.dumps(payload)``, so a bot that checks the signature over re-serialised JSON
    rather than the raw body fails here as it would against Meta.
    """
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def signed_post_args(payload: JSONDict, app_secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """The exact bytes and headers of Meta's webhook POST carrying ``payload``."""
    body = _meta_json(payload)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


def post_to_bot(
    webhook_url: str,
    payload: JSONDict,
    *,
    signature: Signature = "good",
    app_secret: str = APP_SECRET,
    timeout: float = 10.0,
) -> int:
    """POST a webhook body to the bot as Meta does; the HTTP status it answered.

    ``signature="bad"`` signs with another secret, ``"missing"`` sends no signature: both must be refused.
    Blocking: a bot running in the test's own event loop needs ``asyncio.to_thread``.
    """
    body, headers = signed_post_args(payload, app_secret if signature == "good" else "not-" + app_secret)
    if signature == "missing":
        del headers["X-Hub-Signature-256"]
    request = urllib.request.Request(webhook_url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def verify_webhook(
    webhook_url: str,
    *,
    verify_token: str = VERIFY_TOKEN,
    challenge: str = "1158201444",
    timeout: float = 10.0,
) -> tuple[int, str]:
    """Meta's subscription check: GET with ``hub.mode``, ``hub.verify_token`` and ``hub.challenge``.

    The HTTP status and body the bot answered: the bare challenge with 200 when the token matches, else 403.
    """
    query = urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
    )
    separator = "&" if urlsplit(webhook_url).query else "?"
    try:
        with urllib.request.urlopen(f"{webhook_url}{separator}{query}", timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


# ------------------------------------------------------------------------------------------ the HTTP server


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Stopping must not wait for handler threads, e.g. a stalled answer whose client went away.
    block_on_close = False
    # socketserver's listen backlog is 5: a bot opening many connections at once would be reset, which Meta's
    # servers never do.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], api: FakeWhatsAppAPI) -> None:
        super().__init__(address, _GraphRequestHandler)
        self.api = api


class _GraphRequestHandler(BaseHTTPRequestHandler):
    """Hands every request to the FakeWhatsAppAPI; HTTP/1.0 (the http.server default): a connection each."""

    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, answer = self.server.api.handle(
            self.command,
            urlsplit(self.path).path,
            self.headers.get("Authorization"),
            body,
            self.headers.get("Content-Type"),
        )
        payload = json.dumps(answer).encode()
        # The client may have given up meanwhile, e.g. on a stalled answer.
        with suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)


class FakeGraphServer(LoopbackServer):
    """A FakeWhatsAppAPI served over real HTTP on 127.0.0.1 (a free port), for end-to-end tests.

    The bot runs unchanged with its Graph base URL set to ``server.base_url``.
    """

    def __init__(self, api: FakeWhatsAppAPI | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api = api if api is not None else FakeWhatsAppAPI()

    def _make_server(self) -> _HTTPServer:
        return _HTTPServer(self._address, self.api)

    @property
    def base_url(self) -> str:
        """The Graph base URL, version included: the client appends ``/{phone_number_id}/messages``."""
        return f"http://{self._address[0]}:{self.port}/{GRAPH_VERSION}"
