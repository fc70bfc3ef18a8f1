"""Webhook payloads read as Inbounds and status reports, and the wa.me links whose text they recognise."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.channels.whatsapp import CHANNEL
from bot.conversation.events import Inbound, Kind, Origin
from bot.models import ID_LENGTH
from bot.services.officers import CODE_PREFIX, INVITE_PREFIX
from bot.services.receipts import Report

log = logging.getLogger(__name__)

# An officer's personal code in a message (the text of their wa.me link): what /start <code> is on Telegram.
_OFFICER_CODE = re.compile(rf"(?<![\w-]){CODE_PREFIX}[a-z2-9]{{6}}(?![\w-])", re.IGNORECASE)
# A one-time invite in a message (the text of a wa.me invite link): /start <invite> on Telegram. Its token is
# case-sensitive (secrets.token_urlsafe).
_INVITE = re.compile(rf"(?<![\w-]){INVITE_PREFIX}[A-Za-z0-9_-]{{22}}(?![\w-])")
# A sender as Meta names one: a phone's digits, or a business-scoped id such as "ID.1349...".
_SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Message types that are a file, a place or a feeling, not words: the same friendly answer as on Telegram.
_MEDIA = ("image", "sticker", "audio", "video", "document", "location", "reaction", "unsupported", "order")


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
        if (invite := _INVITE.search(text)) is not None:  # sent from an invite's wa.me link
            return Inbound(**base, kind=Kind.COMMAND, command="start", payload=invite.group(0))
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
