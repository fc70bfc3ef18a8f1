"""What flows between channels and the conversation: an Inbound event in, Replies out.

Channel adapters turn a platform event into an Inbound and render Replies natively (inline keyboards on
Telegram, numbered options in the terminal). Nothing here knows a platform.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Choice:
    action: str
    label: str


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


def encode_choice(serial: int, action: str) -> str:
    return f"{serial}|{action}"


def decode_choice(data: str) -> tuple[int, str] | None:
    serial, sep, action = data.partition("|")
    if not sep or not serial.isdigit() or not action or len(data) > 64:
        return None
    return int(serial), action
