"""What flows between channels and the conversation: an Inbound event in, Replies out.

Channel adapters turn a platform event into an Inbound and render Replies natively (inline keyboards on
Telegram, numbered options in the terminal). Nothing here knows a platform.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Required, TypedDict


class Kind(enum.StrEnum):
    TEXT = "text"
    COMMAND = "command"  # /start payload
    CHOICE = "choice"  # a button: `<serial>|<action>`
    CONTACT = "contact"  # a phone number shared through the platform
    MEDIA = "media"  # sticker, photo, voice, location, document...: not read
    RESUME = "resume"  # the terminal reopened: show where the person is


@dataclass(frozen=True)
class Inbound:
    channel: str
    external_id: str
    kind: Kind
    text: str = ""
    command: str = ""
    payload: str = ""
    choice: str = ""
    phone: str = ""
    phone_is_own: bool = True
    media: str = ""
    update_key: str | None = None  # the platform's update id, to apply a redelivered update once
    # The person's own number as the platform gave it with the message (WhatsApp, when not hidden behind a
    # username): lead capture takes it from there instead of asking. Never stored before consent.
    platform_phone: str = ""
    # When the person sent it, as the platform says (WhatsApp): a message processed late still counts from then.
    sent_at: datetime | None = None


class Origin(TypedDict, total=False):
    """The fields every Inbound made from one platform event shares: `Inbound(**origin, kind=...)`."""

    channel: Required[str]
    external_id: Required[str]
    update_key: str
    platform_phone: str
    sent_at: datetime


@dataclass(frozen=True)
class Choice:
    action: str
    label: str
    # What the button stands for in words the understanding reads ("answer:yes", "occupation:petani",
    # "region:Seluma", "cancel"), so typing "iyo" or "curup" at the step is taken as tapping it.
    means: str = ""


@dataclass(frozen=True)
class Unprompted:
    """A message nobody asked for just now (a reminder, a broadcast, an officer's answer).

    WhatsApp sends free text only within 24 hours of the person's last message; outside them the sender
    needs an approved template for `purpose`, filled with `fields`. `tracking` names the row the message comes
    from ("d:<delivery id>", "f:<follow-up id>"): WhatsApp echoes it in its status callbacks.
    """

    purpose: str  # reminder, broadcast, answer, notice
    tracking: str
    last_seen_at: datetime | None
    fields: dict[str, str] = field(default_factory=dict)
    template_only: bool = False  # WhatsApp said the window was closed (131047): a template or nothing


@dataclass
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    request_phone: bool = False
    # The special input the previous message asked for (the phone button) is done: channels that show a
    # keyboard for it take it away.
    close_keyboard: bool = False
    # A file sent with the text as its caption (a QR code to print): (file name, content).
    document: tuple[str, bytes] | None = None
    # Shown exactly as it is, never joined with a line before it (a broadcast's preview).
    standalone: bool = False
    # Filled by the dispatcher: the state serial the buttons belong to (carried in their callback data),
    # and the person's language, for the few words a channel adds itself.
    serial: int = 0
    locale: str = "id"
    unprompted: Unprompted | None = None


def encode_choice(serial: int, action: str) -> str:
    return f"{serial}|{action}"


def decode_choice(data: str) -> tuple[int, str] | None:
    serial, sep, action = data.partition("|")
    if not sep or not serial.isdigit() or not action or len(data) > 64:
        return None
    return int(serial), action
