"""Which process of a deployment does the background work, and how the others hand work to it.

On PostgreSQL several `bpu-bot run` processes serve the webhooks at once; the background work (follow-up
ticks, broadcasts, exports, stored WhatsApp events and their replies) is done by one of them, the leader: it
holds a session-level advisory lock on a connection of its own. The others stand by, trying for the lock every
second. When the leader dies, PostgreSQL ends its session and releases the lock, so another process takes over
within about a second, first marking what the dead one left half sent `unknown` (bot/cli/run.py). One process
sending also makes each platform's rate limit hold for the whole deployment: there is one pacer per number.

A leader that loses its connection (a restart of the server, a network cut) stops its background work at the
next heartbeat and stands by again. A leader that goes silent without its connection closing (a frozen VM, a
blocked event loop, a host gone without a reset) sends no heartbeat: PostgreSQL ends its session after
SILENT_SECONDS and releases the lock, where it would otherwise wait for TCP to notice (two hours by default).
Rows are claimed atomically (`FOR UPDATE SKIP LOCKED`), so even two processes sending for a moment (the silent
one wakes up and sends until its next heartbeat fails) never send one row twice.

Work queued in a process that does not lead (an officer's answer typed there, a WhatsApp event stored there)
wakes the leader with a NOTIFY on the channel it listens to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from bot.db import asyncpg_dsn

log = logging.getLogger(__name__)

LOCK_KEY = 7_413_227_750  # the deployment's one advisory lock (any constant; "BPU" and a date)
WAKE_CHANNEL = "bpu_wake"
RETRY_SECONDS = 1.0  # how often a standby tries for the lock, and waits after a failed connection
HEARTBEAT_SECONDS = 1.0  # how often the leader checks that its lock's connection is alive
HEARTBEAT_TIMEOUT = 5.0
SILENT_SECONDS = 10  # the lock's session ends after this long without a heartbeat (idle_session_timeout)


class Leadership:
    """Runs until closed: stands by, leads (calling `on_gain`), and stands by again after `on_loss`."""

    def __init__(
        self,
        database_url: str,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
        on_wake: Callable[[str], None],
    ):
        self.dsn = asyncpg_dsn(database_url)
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.on_wake = on_wake
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop trying; a leader steps down first (its work finishes), then the lock's connection closes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=10)
                while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):  # noqa: ASYNC110
                    await asyncio.sleep(RETRY_SECONDS)  # another process leads: try again (no event tells us)
                await _end_when_silent(connection)
                # asyncpg passes a NOTIFY's payload as str (its docs); asyncpg-stubs types it as object.
                await connection.add_listener(WAKE_CHANNEL, self._notified)  # type: ignore[arg-type]
                log.info("this process leads the background work")
                self.leading = True
                # The heartbeat starts before the work is taken up (recovery, starting the long poll, which may
                # take longer than SILENT_SECONDS): a leader frozen in between loses the lead too.
                heartbeat = asyncio.create_task(_beat(connection))
                try:
                    await self.on_gain()
                    await heartbeat  # returns only by raising: the connection failed
                finally:
                    heartbeat.cancel()
                    await asyncio.gather(heartbeat, return_exceptions=True)  # its error was raised above, or moot
            # InternalClientError: asyncpg's own state, after the server ended a session this process slept through.
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                    TimeoutError) as error:  # fmt: skip
                log.warning("the lock's database connection failed (%s): standing by", type(error).__name__)
            except Exception:  # taking up the work failed (the database went away during recovery): try again
                log.exception("leading the background work failed: standing by")
            finally:
                if self.leading:
                    self.leading = False
                    await self.on_loss()
                if connection is not None:
                    connection.terminate()  # ends the session: the lock is free for another process
            await asyncio.sleep(RETRY_SECONDS)

    def _notified(self, _connection, _pid: int, _channel: str, worker: str) -> None:
        self.on_wake(worker)


async def _end_when_silent(connection: asyncpg.Connection) -> None:
    try:
        await connection.execute(f"SET idle_session_timeout = '{SILENT_SECONDS}s'")
    except asyncpg.UndefinedObjectError:  # PostgreSQL before 14: only a closed connection frees the lock
        log.warning("PostgreSQL has no idle_session_timeout: a leader that hangs keeps the lead until its "
                    "connection closes")  # fmt: skip


async def _beat(connection: asyncpg.Connection) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await asyncio.wait_for(connection.fetchval("SELECT 1"), HEARTBEAT_TIMEOUT)
