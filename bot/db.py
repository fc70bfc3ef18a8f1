"""Engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from functools import partial
from pathlib import Path
from typing import Any, cast

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
RECORD_ATTEMPTS = 3
RECORD_PAUSE_SECONDS = 0.5  # then twice that: a deadlock clears at once, a dropped connection in a moment

log = logging.getLogger(__name__)


class DatabaseNotReady(Exception):
    """The schema is missing or older than this code; `bpu-bot db upgrade` fixes it."""


class InlineSQLiteConnection(aiosqlite.Connection):
    """aiosqlite's interface, run on the event loop's own thread instead of a worker thread.

    A statement on a local SQLite file takes tens of microseconds; sending it to aiosqlite's thread and
    back costs more (about 0.15 ms a hop, four hops a statement: 2.4 ms of every update in bench/). The
    embedded mode is one process with one event loop, so nothing is gained from the thread. The price: while
    another process holds SQLite's write lock (a CLI command), the loop waits up to the busy timeout.
    """

    def __await__(self) -> Generator[Any, None, InlineSQLiteConnection]:
        return self._connect().__await__()

    async def _connect(self) -> InlineSQLiteConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url)
    path = url.database
    assert path is not None  # config.normalise_database_url accepts only a SQLite file
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseNotReady(f"DATABASE_URL: cannot create the folder for {path}: {error.strerror}") from None

    async def connect(*_args: Any, **_kwargs: Any) -> InlineSQLiteConnection:
        connection = InlineSQLiteConnection(partial(sqlite3.connect, path, check_same_thread=False), 64)
        return await connection

    # No pool-level rollback on return: Session.close() and Connection.close() already end any open
    # transaction before the connection goes back, and the extra rollback cost a fifth of each update.
    engine = create_async_engine(url, async_creator=connect, pool_reset_on_return=None)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the terminal and a CLI command read while the bot writes; NORMAL sync is durable in WAL mode
    # across process crashes (kill -9), which is the failure we guard against; the busy timeout makes a
    # second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # HAPUS must really erase: deleted rows are overwritten with zeros instead of lingering in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def insert_unless_present(session: AsyncSession, entity: Any, **values: Any):
    """`INSERT ... ON CONFLICT DO NOTHING` in the session's dialect: its rowcount says whether the row is new.

    Under concurrency this is the one safe way to create a row at most once: a second insert of the same key
    waits for the first transaction and then does nothing, where a read-then-insert would fail or duplicate.
    """
    bind = session.bind
    assert bind is not None  # every session comes from session_factory(engine)
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(entity).values(**values).on_conflict_do_nothing()


def add_to_count(session: AsyncSession, entity: Any, keys: dict[str, Any], amount: int, **also: int):
    """`INSERT ... ON CONFLICT DO UPDATE SET count = count + amount` in the session's dialect: a counter row
    keyed by `keys` (a unique constraint) made or grown in one statement, safe under concurrency. `also`: other
    counters of the row grown the same way (`asked_cost=2`)."""
    bind = session.bind
    assert bind is not None  # every session comes from session_factory(engine)
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    grown = {"count": entity.count + amount} | {name: getattr(entity, name) + value for name, value in also.items()}
    return (
        dialect.insert(entity)
        .values(**keys, count=amount, **also)
        .on_conflict_do_update(index_elements=list(keys), set_=grown)
    )


class epoch_seconds(FunctionElement[int]):  # noqa: N801 a SQL function, named like SQLAlchemy's `func.*`
    """Whole seconds since 1970 of a UTC timestamp, as each database computes it: a time column grouped into
    buckets by integer division (`epoch_seconds(column) // 60` is the minute), the same on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTCDateTime as UTC text ("2026-11-23 03:00:00.000000"), which strftime reads.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


async def execute_dml(session: AsyncSession, statement: Executable) -> CursorResult[Any]:
    """`session.execute` of an INSERT, UPDATE or DELETE, typed as what it returns: a CursorResult, whose
    rowcount says how many rows the statement matched (SQLAlchemy types every execute as a plain Result)."""
    return cast(CursorResult[Any], await session.execute(statement))


class Sessions(async_sessionmaker[AsyncSession]):
    """SQLAlchemy's session maker, except that `begin()` commits in the caller's task.

    SQLAlchemy's own `begin()` commits in a task of its own, so other coroutines run while the write
    transaction is still open. With SQLite on the event loop's thread (above), one of them that writes then
    waits in SQLite's busy handler, blocking the loop and with it the commit it waits for, until "database is
    locked" five seconds later (seen as a worker's message failing right after an export was sent).
    """

    # Deliberately not SQLAlchemy's private context manager type: that one commits in a task of its own.
    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self() as session, session.begin():
            yield session

    async def record_sent(self, write: Callable[[AsyncSession], Awaitable[object]]) -> None:
        """Run `write` in a transaction of its own, again after a database error: it records what became of
        messages that have left, and the platform's answers exist only in memory. A deadlock (PostgreSQL
        aborts one side) or a dropped connection must not leave the rows `sending`, a campaign unfinished
        until the next start, which would then mark messages that arrived `unknown`."""
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                async with self.begin() as session:
                    await write(session)
                return
            except DBAPIError as error:
                if attempt == RECORD_ATTEMPTS:
                    raise
                log.warning("recording what was sent failed (%s): trying again", type(error.orig).__name__)
                await asyncio.sleep(RECORD_PAUSE_SECONDS * attempt)

    async def finish_erasure(self) -> None:
        """After an erasure's commit, on SQLite: the write-ahead log copied into the file (whose deleted rows
        secure_delete zeroed) and truncated to nothing, so no page image of an erased row stays in `-wal`, as it
        would until a clean shutdown (or a kill -9, for ever). PostgreSQL keeps no such copy in a file we own:
        its dead tuples are autovacuum's."""
        async with self() as session:
            bind = session.bind
            assert bind is not None  # every session comes from session_factory(engine)
            if bind.dialect.name == "sqlite":
                await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def session_factory(engine: AsyncEngine) -> Sessions:
    return Sessions(engine, expire_on_commit=False)


def _alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    """Bring the schema to the newest migration (synchronous: run it before the event loop starts)."""
    create_engine(database_url).sync_engine.dispose()  # creates the data folder for a SQLite file
    command.upgrade(_alembic_config(database_url), "head")


async def ping_database(engine: AsyncEngine) -> None:
    """One round trip to the database; raises SQLAlchemyError or OSError when it cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def notify(engine: AsyncEngine, channel: str, payload: str) -> None:
    """PostgreSQL's NOTIFY on `channel`, committed at once (the listeners hear it only after the commit)."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload})
        await connection.commit()


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://...) as asyncpg itself takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_deleted(row: object) -> bool:
    """Whether the row was deleted in its session (flushed), read from the ORM's state without a query."""
    return inspect(row).deleted


def loaded_value(row: object, attribute: str, default: Any = None) -> Any:
    """An attribute as last loaded or set, without a query: readable after its session failed and closed."""
    return inspect(row).dict.get(attribute, default)


async def check_database(engine: AsyncEngine) -> None:
    """Refuse to serve on a schema older than the code, with a message that says what to run."""
    head = ScriptDirectory.from_config(_alembic_config(str(engine.url))).get_current_head()
    async with engine.connect() as connection:
        current = await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    if current != head:
        raise DatabaseNotReady(
            f"the database is not migrated (at {current or 'nothing'}, code needs {head}): run `bpu-bot db upgrade`"
        )
