"""PTB's Application around our dispatcher: updates read as Inbounds and answered."""

from __future__ import annotations

import io
import logging

from telegram import InputFile, Update
from telegram.constants import ChatType, MessageLimit
from telegram.error import Forbidden, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Job, TypeHandler
from telegram.request import BaseRequest

from bot.app import BotApp
from bot.channels.telegram import CHANNEL
from bot.channels.telegram.sending import reply_markup
from bot.channels.telegram.transport import AiohttpRequest
from bot.conversation.events import Inbound, Kind, Origin, Reply

log = logging.getLogger(__name__)

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
WEBHOOK_CONNECTIONS = 40  # Telegram's default: updates it posts at once, across every process behind the URL
# The replies to the updates posted at once, each with its button's answer.
REPLY_CONNECTIONS = 2 * WEBHOOK_CONNECTIONS


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
    sends them: a webhook body with others is refused (bot/web/server.py) rather than failing inside PTB."""
    return (
        all(entity is None or type(entity.id) is int for entity in (update.effective_user, update.effective_chat))
        and type(update.update_id) is int
    )


class TelegramChannel:
    """Updates in, replies out; the background work is the runtime's (bot/cli/run.py)."""

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
    # Everything over aiohttp (bot/channels/telegram/transport.py): one connection holds the long poll.
    builder = builder.request(request or AiohttpRequest(REPLY_CONNECTIONS))
    builder = builder.get_updates_request(request or AiohttpRequest(1))
    # No job queue: the runtime schedules the background work for every channel (bot/cli/run.py).
    application = builder.job_queue(None).build()
    application.add_handler(TypeHandler(Update, TelegramChannel(app).on_update))
    return application
