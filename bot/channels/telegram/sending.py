"""Replies as Bot API messages and keyboards, and the delivery interface on Telegram for reminders and broadcasts."""

from __future__ import annotations

import io
import logging
import warnings

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest
from telegram.warnings import PTBDeprecationWarning

from bot.app import BotApp
from bot.channels.telegram import CHANNEL
from bot.channels.telegram.transport import AiohttpRequest
from bot.conversation.events import Reply, encode_choice
from bot.i18n import Translator
from bot.workers.broadcaster import batch_size
from bot.workers.delivery import DeliveryUnknown, NetworkDown, RetryLater, Sent, Undeliverable, Unreachable

log = logging.getLogger(__name__)

BROADCAST_CONNECTIONS = 100
NETWORK_RETRY_SECONDS = 60
DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may send as a document (Bot API sendDocument)
# Two buttons side by side only when both labels fit half of a small phone screen.
_HALF_WIDTH = 18


def reply_markup(reply: Reply, t: Translator):
    if reply.request_phone:
        keys = [[KeyboardButton(t("telegram.share_phone"), request_contact=True)]]
        keys += [[KeyboardButton(choice.label)] for choice in reply.choices]
        return ReplyKeyboardMarkup(keys, resize_keyboard=True, one_time_keyboard=True)
    if reply.choices:
        rows: list[list[InlineKeyboardButton]] = []
        for choice in reply.choices:
            button = InlineKeyboardButton(choice.label, callback_data=encode_choice(reply.serial, choice.action))
            wide = len(choice.label) > _HALF_WIDTH or reply.columns == 1
            if rows and not wide and len(rows[-1]) < reply.columns and len(rows[-1][0].text) <= _HALF_WIDTH:
                rows[-1].append(button)
            else:
                rows.append([button])
        return InlineKeyboardMarkup(rows)
    if reply.close_keyboard:
        return ReplyKeyboardRemove()
    return None


def retry_seconds(error: RetryAfter) -> float:
    # PTB 22 gives an int and warns it will give a timedelta (platforms.md): accept both, without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        retry_after = error.retry_after
    return retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else float(retry_after)


class TelegramSender:
    """Messages nobody asked for just now (reminders, broadcasts), with Telegram's answers mapped to delivery
    outcomes. `paid` sends with allow_paid_broadcast (up to 1000 messages/s, charged in Stars)."""

    channel = CHANNEL
    document_limit = DOCUMENT_LIMIT
    edits = True

    def __init__(self, bot, messages, paid: bool = False):
        self.bot = bot
        self.messages = messages
        self.paid = paid

    async def send(self, external_id: str, reply: Reply) -> Sent:
        markup = reply_markup(reply, self.messages[reply.locale])
        extra = {"allow_paid_broadcast": True} if self.paid else {}
        try:
            if reply.document is not None:
                name, content = reply.document
                message = await self.bot.send_document(
                    int(external_id),
                    InputFile(io.BytesIO(content), filename=name),
                    caption=reply.text[: MessageLimit.CAPTION_LENGTH],
                    reply_markup=markup,
                    **extra,
                )
            else:
                message = await self.bot.send_message(int(external_id), reply.text, reply_markup=markup, **extra)
        except Forbidden as error:  # blocked by the user, user deactivated
            raise Unreachable(error.message) from None
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                raise Unreachable(error.message) from None
            raise Undeliverable(error.message) from None
        except RetryAfter as error:
            raise RetryLater(retry_seconds(error)) from None
        except TimedOut:  # the request may have arrived: never resent
            raise DeliveryUnknown() from None
        except NetworkError:  # no connection: nothing left this machine
            raise NetworkDown(NETWORK_RETRY_SECONDS) from None
        return Sent(str(message.message_id))

    async def edit(self, external_id: str, message_id: str, reply: Reply) -> None:
        markup = reply_markup(reply, self.messages[reply.locale])
        try:
            await self.bot.edit_message_text(reply.text, int(external_id), int(message_id), reply_markup=markup)
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                log.warning("could not edit a progress message: %s", error.message)
        except TelegramError as error:
            log.warning("could not edit a progress message: %s", error.message)


def broadcast_transport(rate: float | None) -> AiohttpRequest:
    """Connections enough for the sends in flight at the broadcast rate over Telegram's round trip."""
    return AiohttpRequest(min(BROADCAST_CONNECTIONS, 2 * batch_size(rate)))


def broadcast_bot(app: BotApp, request: BaseRequest | None = None) -> Bot:
    """Broadcasts go through a bot of their own, paced by the engine rather than by PTB's rate limiter: a 429
    must reach the engine (which re-queues the row) instead of being slept through in place."""
    settings = app.settings
    transport = request or broadcast_transport(settings.broadcast_rate)
    assert settings.telegram_token is not None  # called only when settings.telegram_enabled
    # It never polls; without a transport for getUpdates PTB would build an httpx client for it, whose SSL
    # context alone (the CA bundle read) costs about 50 ms of CPU.
    return Bot(
        settings.telegram_token, base_url=settings.telegram_base_url, request=transport, get_updates_request=transport
    )
