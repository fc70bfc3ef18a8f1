"""The database a test runs on, read the way a person inspecting it would: with a plain client, not the bot's.

`make test` runs the suite on SQLite (a migrated file per test, copied from one template) and, when
TEST_POSTGRES_URL is set, again with `--database=postgresql`: one database made for the run and dropped after
it, migrated once through Alembic, emptied before every test (`TRUNCATE ... RESTART IDENTITY`, so ids start at
1 as in a fresh file).

Both give rows as SQLite gives them (timestamps as UTC text `YYYY-MM-DD HH:MM:SS.ffffff`, JSON as its text,
booleans as 0 and 1) and take `?` placeholders, so one test reads either database.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.adapt import Loader

from bot.config import normalise_database_url
from bot.db import upgrade_database
from bot.models import Base

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_STAMP = "%Y-%m-%d %H:%M:%S.%f"


class Row(tuple):
    """A result row by position or by column name, like sqlite3.Row (so `dict(row)` works too)."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return super().__getitem__(self.names.index(key))
        return super().__getitem__(key)

    def keys(self) -> tuple[str, ...]:
        return self.names


class TestDatabase:
    """One test's database: its URL for the bot (as DATABASE_URL is written) and a plain client for the test."""

    kind: str
    url: str

    @property
    def app_url(self) -> str:
        return normalise_database_url(self.url)

    def rows(self, sql: str, *params: object) -> list[Row]:
        raise NotImplementedError

    def execute_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        raise NotImplementedError

    def after_explicit_ids(self, *tables: str) -> None:
        """Rows were inserted with ids of their own: the database's next ids must follow them."""


class SQLiteDatabase(TestDatabase):
    kind = SQLITE

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"

    def rows(self, sql: str, *params: object) -> list[Row]:
        with closing(sqlite3.connect(self.path, timeout=5)) as connection, connection:
            cursor = connection.execute(sql, params)
            names = tuple(column[0] for column in cursor.description or ())
            return [_row(names, values) for values in cursor.fetchall()]

    def execute_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        with closing(sqlite3.connect(self.path, timeout=5)) as connection, connection:
            connection.executemany(sql, params)


class PostgresDatabase(TestDatabase):
    kind = POSTGRESQL

    def __init__(self, server: PostgresServer, name: str):
        self.server = server
        self.name = name
        self.url = _with_database(_libpq(server.admin_url), name)

    def _connect(self):
        connection = psycopg.connect(_libpq(self.url), autocommit=True, options="-c timezone=UTC")
        for name, loader in (("timestamptz", _StampLoader), ("json", _TextLoader), ("bool", _BoolLoader)):
            connection.adapters.register_loader(name, loader)
        return connection

    def rows(self, sql: str, *params: object) -> list[Row]:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(_placeholders(sql), params)
            if cursor.description is None:
                return []
            names = tuple(column.name for column in cursor.description)
            return [_row(names, values) for values in cursor.fetchall()]

    def execute_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        with self._connect() as connection, connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(_placeholders(sql), list(params))

    def after_explicit_ids(self, *tables: str) -> None:
        for table in tables:
            following = f"(select coalesce(max(id), 0) + 1 from {table})"
            self.rows(f"select setval(pg_get_serial_sequence('{table}', 'id'), {following}, false)")

    def empty(self) -> None:
        """Every row deleted, children first, and every id sequence back at 1: a DELETE of a few rows is a
        fraction of a TRUNCATE's cost (which makes new files for every table), and this runs before each test."""
        sequences = "select sequence_name from information_schema.sequences where sequence_schema = 'public'"
        with self._connect() as connection:
            names = [row[0] for row in connection.execute(sequences)]
            deletes = [f"delete from {table.name}" for table in reversed(Base.metadata.sorted_tables)]
            connection.execute("; ".join([*deletes, *(f"alter sequence {name} restart" for name in names)]))


def _row(names: tuple[str, ...], values: Sequence[Any]) -> Row:
    row = Row(values)
    row.names = names
    return row


def _placeholders(sql: str) -> str:
    """sqlite3's `?` as psycopg's `%s` (a literal `%` doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as libpq takes it."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


class _StampLoader(Loader):
    def load(self, data) -> str:
        return datetime.fromisoformat(bytes(data).decode()).astimezone(UTC).strftime(_STAMP)


class _TextLoader(Loader):
    def load(self, data) -> str:
        return bytes(data).decode()


class _BoolLoader(Loader):
    def load(self, data) -> int:
        return 1 if bytes(data) == b"t" else 0


class PostgresServer:
    """The server of TEST_POSTGRES_URL, where a test run makes its databases (and drops them after)."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.prefix = f"bpu_test_{secrets.token_hex(4)}"
        self.made = 0

    def check(self) -> str | None:
        """None when the server answers, else why not (one line)."""
        try:
            with psycopg.connect(_libpq(self.admin_url), connect_timeout=5):
                return None
        except psycopg.Error as error:
            return str(error).strip().splitlines()[0]

    def create(self, migrated: bool = True) -> PostgresDatabase:
        self.made += 1
        database = PostgresDatabase(self, f"{self.prefix}_{self.made}")
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as connection:
            connection.execute(f'create database "{database.name}"')
            # A test run need not survive a power cut: commits that do not wait for the disk make it faster.
            connection.execute(f'alter database "{database.name}" set synchronous_commit = off')
        if migrated:
            upgrade_database(database.app_url)
        return database

    def drop(self, database: PostgresDatabase) -> None:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as connection:
            connection.execute(f'drop database if exists "{database.name}" with (force)')


def _with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    head, _, tail = url.partition("://")
    authority, slash, rest = tail.partition("/")
    query = rest.partition("?")[2]
    return f"{head}://{authority}/{name}" + (f"?{query}" if query else "")


def sqlite_copy(template: Path, path: Path) -> SQLiteDatabase:
    shutil.copy(template, path)
    return SQLiteDatabase(path)


def migrated_sqlite_template(path: Path) -> Path:
    upgrade_database(normalise_database_url(f"sqlite:///{path}"))
    return path


_current: TestDatabase | None = None


def current() -> TestDatabase:
    """The running test's database (set by the `database` fixture in conftest)."""
    if _current is None:
        raise RuntimeError("no test database: the test needs the `database` fixture")
    return _current


def set_current(database: TestDatabase | None) -> None:
    global _current
    _current = database
