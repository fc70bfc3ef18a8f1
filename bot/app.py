"""The application factory: settings in, a ready dispatcher (and what it owns) out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.content import Content, load_content
from bot.conversation.dispatcher import Dispatcher
from bot.db import create_engine, session_factory
from bot.i18n import Messages, load_catalogs
from bot.models import utcnow
from handlers import build_router


@dataclass
class BotApp:
    settings: Settings
    engine: AsyncEngine
    content: Content
    messages: Messages
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.engine.dispose()


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> BotApp:
    """`clock` is the one source of "now" for the conversation and the ticker; tests pass their own."""
    content = load_content().with_regions(settings.regions)
    messages = Messages(content, load_catalogs())
    engine = create_engine(settings.database_url)
    dispatcher = Dispatcher(settings, content, messages, session_factory(engine), build_router(), clock)
    return BotApp(settings, engine, content, messages, dispatcher)
