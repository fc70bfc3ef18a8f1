"""What the command-line commands share: the migrated database for one command, and a plain table."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import check_database, create_engine, session_factory


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database, checked to be migrated first (DatabaseNotReady otherwise)."""
    engine = create_engine(settings.database_url)
    try:
        await check_database(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
