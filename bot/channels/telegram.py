"""Telegram through python-telegram-bot: PTB receives and dispatches updates, our dispatcher answers them.

No conversation logic lives here: an Update becomes an Inbound, the Replies become messages with inline
keyboards (or the share-contact keyboard when the conversation asks for a phone number).
"""

from __future__ import annotations

import io
import logging
import warnings

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Job, TypeHandler
from telegram.request import BaseRequest
from telegram.warnings import PTBDeprecationWarning

from bot.app import BotApp
from bot.broadcaster import batch_size
from bot.channels.aiohttp_request import AiohttpRequest
from bot.conversation import Inbound, Kind, Origin, Reply, encode_choice
from bot.delivery import DeliveryUnknown, NetworkDown, RetryLater, Sent, Undeliverable, Unreachable
from bot.i18n import Translator

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# Shown in Telegram's command menu, in this order; the handlers accept English aliases too.
MENU_COMMANDS = ("start", "menu", "bahasa", "datasaya", "berhenti", "mulai", "hapus", "bantuan")
_MEDIA = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "poll",
    "dice",
    "game",
    "story",
)
BROADCAST_CONNECTIONS = 100
WEBHOOK_CONNECTIONS = 40  # Telegram's default: updates it posts at once, across every process behind the URL
# The replies to the updates posted at once, each with its button's answer.
REPLY_CONNECTIONS = 2 * WEBHOOK_CONNECTIONS
NETWORK_RETRY_SECONDS = 60
DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may send as a document (Bot API sendDocument)
# Two buttons side by side only when both labels fit half of a small phone screen.
_HALF_WIDTH = 18


def to_inbound(update: Update) -> Inbound | None:
    """The Inbound for an update from a private chat, or None for what the bot does not take part in.

    PTB builds an update from whatever JSON it was given, without checking types: a text, a button's data or
    a phone of the wrong type (which Telegram never sends) is read as none, never as a contact or a text; ids
    are checked before (well_formed)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or user.is_bot or chat is None or chat.type != ChatType.PRIVATE:
        return None
    base: Origin = {"channel": CHANNEL, "external_id": str(user.id), "update_key": str(update.update_id)}
    if (query := update.callback_query) is not None:
        return Inbound(**base, kind=Kind.CHOICE, choice=query.data if isinstance(query.data, str) else "")
    message = update.message
    if message is None:  # edits, reactions, membership changes: nothing to answer
        return None
    if message.contact is not None:
        own = message.contact.user_id == user.id
        phone = message.contact.phone_number
        return Inbound(**base, kind=Kind.CONTACT, phone=phone if isinstance(phone, str) else "", phone_is_own=own)
    if isinstance(message.text, str):
        text = message.text
        if text.startswith("/") and len(text) > 1:
            command, _, payload = text[1:].partition(" ")
            return Inbound(**base, kind=Kind.COMMAND, command=command.split("@")[0].lower(), payload=payload.strip())
        return Inbound(**base, kind=Kind.TEXT, text=text)
    media = next((kind for kind in _MEDIA if getattr(message, kind, None)), "other")
    return Inbound(**base, kind=Kind.MEDIA, media=media)


def well_formed(update: Update) -> bool:
    """Whether the ids PTB itself uses (as dictionary keys, before any handler runs) are numbers, as Telegram
    sends them: a webhook body with others is refused (bot/web.py) rather than failing inside PTB."""
    return (
        all(entity is None or type(entity.id) is int for entity in (update.effective_user, update.effective_chat))
        and type(update.update_id) is int
    )


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


def _retry_seconds(error: RetryAfter) -> float:
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
            raise RetryLater(_retry_seconds(error)) from None
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


class TelegramChannel:
    """Updates in, replies out; the background work is the runtime's (bot/runtime.py)."""

    def __init__(self, app: BotApp):
        self.app = app

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        inbound = to_inbound(update)
        if update.callback_query is not None:
            # Always answered, first: the spinner on the worker's button stops even if the reply is slow.
            try:
                await update.callback_query.answer()
            except TelegramError:
                log.warning("could not answer a callback query")
        if inbound is None:
            return
        # Officers' personal links and invites open this bot: t.me/<username>?start=<code>. The username is
        # known once PTB has initialised the bot (getMe), before the first update.
        if CHANNEL not in self.app.dispatcher.links:
            username = context.bot.username
            self.app.dispatcher.links[CHANNEL] = lambda payload: f"https://t.me/{username}?start={payload}"
        replies = await self.app.dispatcher.handle(inbound)
        assert update.effective_chat is not None  # to_inbound: an update without a chat is none
        await self.send(context.bot, update.effective_chat.id, replies)

    async def send(self, bot, chat_id: int, replies: list[Reply]) -> None:
        try:
            for reply in replies:
                markup = reply_markup(reply, self.app.messages[reply.locale])
                if reply.document is not None:
                    # A document, not a photo: Telegram would compress a photo, and the QR code is printed.
                    name, content = reply.document
                    document = InputFile(io.BytesIO(content), filename=name)
                    caption = reply.text[: MessageLimit.CAPTION_LENGTH]
                    await bot.send_document(chat_id, document, caption=caption, reply_markup=markup)
                else:
                    await bot.send_message(chat_id, reply.text[: MessageLimit.MAX_TEXT_LENGTH], reply_markup=markup)
        except Forbidden:
            log.info("a telegram user blocked the bot before the reply was sent")
        except TelegramError:
            log.exception("sending a reply on telegram failed")


async def set_commands(application: Application, app: BotApp) -> None:
    """The command menu in both languages: Indonesian by default, English for English-language apps."""
    for locale in app.messages.locales:
        t = app.messages[locale]
        commands = [BotCommand(name, t(f"telegram.command.{name}")) for name in MENU_COMMANDS]
        language = None if locale == app.settings.default_locale else locale
        await application.bot.set_my_commands(commands, language_code=language)


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


class _Application(Application):
    """PTB's Application, without the ids it keeps for a persistence this bot does not use (its state is in our
    database): PTB 22 adds every update's chat and user id to two sets that only a persistence empties, so a
    running bot would keep one entry per person who ever wrote, forever (found by measuring bench.conversation).
    """

    def _mark_for_persistence_update(self, *, update: object | None = None, job: Job | None = None) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)


def build_application(app: BotApp, request: BaseRequest | None = None, rate_limited: bool = True) -> Application:
    """PTB's Application around our dispatcher. `rate_limited=False` only for benchmarks of our own cost:
    in service, replies are paced to Telegram's limit (about 30 messages/s per bot)."""
    settings = app.settings
    token = settings.telegram_token
    assert token is not None  # called only when settings.telegram_enabled
    # Any bot type: the rate limiter below makes PTB's builder one of another type.
    builder: ApplicationBuilder = ApplicationBuilder().application_class(_Application)
    builder = builder.token(token).base_url(settings.telegram_base_url)
    if rate_limited:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
    # Everything over aiohttp (bot/channels/aiohttp_request.py): one connection holds the long poll.
    builder = builder.request(request or AiohttpRequest(REPLY_CONNECTIONS))
    builder = builder.get_updates_request(request or AiohttpRequest(1))
    # No job queue: the runtime schedules the background work for every channel (bot/runtime.py).
    application = builder.job_queue(None).build()
    application.add_handler(TypeHandler(Update, TelegramChannel(app).on_update))
    return application
