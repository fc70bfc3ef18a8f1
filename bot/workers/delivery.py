"""Sending what nobody asked for just now (reminders, broadcasts): the interface channels implement.

A channel's sender turns its platform's answers into these outcomes, so the ticker decides the same way for
every platform: gone for good, try later, or unknown (the request may have arrived: never resend).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.conversation.events import Reply


@dataclass(frozen=True)
class Sent:
    """A message the platform accepted: its id there, and on WhatsApp how it went (Via: text or template)."""

    message_id: str
    via: str | None = None


class Unreachable(Exception):
    """The person cannot receive messages any more (blocked the bot, deleted the account)."""


class RetryLater(Exception):
    """Not delivered, and safe to try again after `seconds` (rate limit, network down before sending).

    `everyone`: the limit is the platform's for every send (everybody waits); otherwise only this person's
    (WhatsApp's pair rate limit, a person's marketing limit), and the others carry on. `reason` names it in
    the delivery's outcome.
    """

    def __init__(self, seconds: float, everyone: bool = True, reason: str = "rate_limited"):
        super().__init__(f"retry in {seconds:.0f} s ({reason})")
        self.seconds = seconds
        self.everyone = everyone
        self.reason = reason


class NetworkDown(RetryLater):
    """No connection: nothing left this machine, so trying again is safe; the caller decides the backoff."""


class DeliveryUnknown(Exception):
    """The request may have reached the platform (a timeout after it left): never sent again."""


class Undeliverable(Exception):
    """The platform refused this message itself (malformed); the person may still be reachable. `code`: the
    platform's error code, when it gave one (kept with the row)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    @property
    def outcome(self) -> str:
        return f"refused:{self.code}" if self.code is not None else "refused"


class NeedsTemplate(Exception):
    """WhatsApp: the person last wrote more than 24 hours ago, so only an approved template may reach them,
    and none is configured for this kind of message. Nothing was sent; never sent as free text."""


class MarketingStopped(Exception):
    """WhatsApp: the person stopped marketing messages from this business (131050). Nothing was delivered."""


class SpamLimited(Exception):
    """WhatsApp: the number hit Meta's spam rate limit (131048): a campaign must stop, and a person decide."""


class Sender(Protocol):
    channel: str
    document_limit: int  # the largest file, in bytes, the platform takes as a document
    edits: bool  # whether edit() can replace a message (Telegram); if not, progress goes as new messages

    async def send(self, external_id: str, reply: Reply) -> Sent:
        """Deliver one reply (a document when it carries one); return what the platform accepted, or raise
        one of the outcomes above. `reply.unprompted` says what a message nobody just asked for is for."""
        ...

    async def edit(self, external_id: str, message_id: str, reply: Reply) -> None:
        """Replace the text of a message sent earlier (a campaign's progress); failures are only logged."""
        ...
