"""Sending what nobody asked for just now (reminders, broadcasts): the interface channels implement.

A channel's sender turns its platform's answers into these outcomes, so the ticker decides the same way for
every platform: gone for good, try later, or unknown (the request may have arrived: never resend).
"""

from __future__ import annotations

from typing import Protocol

from bot.conversation import Reply


class Unreachable(Exception):
    """The person cannot receive messages any more (blocked the bot, deleted the account)."""


class RetryLater(Exception):
    """Not delivered, and safe to try again after `seconds` (rate limit, network down before sending)."""

    def __init__(self, seconds: float):
        super().__init__(f"retry in {seconds:.0f} s")
        self.seconds = seconds


class NetworkDown(RetryLater):
    """No connection: nothing left this machine, so trying again is safe; the caller decides the backoff."""


class DeliveryUnknown(Exception):
    """The request may have reached the platform (a timeout after it left): never sent again."""


class Undeliverable(Exception):
    """The platform refused this message itself (malformed); the person may still be reachable."""


class Sender(Protocol):
    channel: str
    document_limit: int  # the largest file, in bytes, the platform takes as a document

    async def send(self, external_id: str, reply: Reply) -> str:
        """Deliver one reply (a document when it carries one); return the platform's message id, or raise one
        of the outcomes above."""
        ...

    async def edit(self, external_id: str, message_id: str, reply: Reply) -> None:
        """Replace the text of a message sent earlier (a campaign's progress); failures are only logged."""
        ...
