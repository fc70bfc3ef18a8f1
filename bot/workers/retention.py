"""The retention purge: everything past its period removed in small transactions, people through the path of
HAPUS, the database file left with nothing of them; once a local day on the leader, or by hand
(`bpu-bot retention purge`).

Each batch is its own transaction, so a purge killed halfway keeps what it did and the next run (the same
day's next look, or the CLI) carries on: the rows are the state. Batches are small and the loop yields between
them, so a conversation turn waits for one batch at most, never for the purge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Retention
from bot.db import Sessions
from bot.services.privacy import RETENTION, erase_contacts
from bot.services.retention import (
    KINDS,
    PEOPLE,
    daily_job_due,
    delete_expired_rows,
    expired_people,
    finish_daily_job,
)

log = logging.getLogger(__name__)

PEOPLE_BATCH = 50  # people erased per transaction: each takes about a dozen statements
ROWS_BATCH = 500  # rows of the other kinds per transaction
# After each batch the purge pauses this many times as long as the batch took: the event loop is the
# conversation's too, and on SQLite (run on the loop's thread) a batch holds it whole. Flat out, the purge
# took the loop back at every turn's first await, and turns arriving at 50/s queued for seconds.
PAUSE = 1.0
JOB = "retention"

Progress = Callable[[str, int], None]  # (kind, how many more went)


async def purge(
    sessions: Sessions, retention: Retention, now: datetime, progress: Progress | None = None
) -> dict[str, int]:  # fmt: skip
    """Remove what is past its period at `now`; returns how many went of each kind."""
    removed = dict.fromkeys(KINDS, 0)
    for kind in KINDS:
        after = 0  # people are taken in the order of their ids: the next batch starts after this one
        while True:
            started = time.monotonic()
            async with sessions.begin() as session:
                if kind in PEOPLE:
                    ids = await expired_people(session, kind, retention, now, PEOPLE_BATCH, after)
                    went = await erase_contacts(session, ids, RETENTION, now) if ids else 0
                    after = max(ids, default=after)
                else:
                    went = await delete_expired_rows(session, kind, retention, now, ROWS_BATCH)
            if not went:
                break
            removed[kind] += went
            if kind in PEOPLE:  # finished as HAPUS finishes (bot.db.Sessions.finish_erasure): nothing in `-wal`
                await asyncio.sleep(0)  # a turn waiting goes before the checkpoint, which holds the loop too
                await sessions.finish_erasure()
            if progress is not None:
                progress(kind, went)
            await asyncio.sleep((time.monotonic() - started) * PAUSE)  # the turns waiting go first
    if any(removed[kind] for kind in KINDS if kind not in PEOPLE):
        await sessions.finish_erasure()
    return removed


async def purge_if_due(
    sessions: Sessions, retention: Retention, now: datetime, tz: ZoneInfo
) -> dict[str, int] | None:  # fmt: skip
    """The daily job: from RETENTION_TIME on, once a local day. The day is marked when the purge is complete,
    so a run stopped halfway (kill -9, losing the lead) is taken up again at the next look."""
    async with sessions.begin() as session:
        day = await daily_job_due(session, JOB, now, tz, retention.at)
    if day is None:
        return None
    removed = await purge(sessions, retention, now)
    async with sessions.begin() as session:
        await finish_daily_job(session, JOB, day)
    log.info("retention purge of %s: %s", day, ", ".join(f"{kind} {count}" for kind, count in removed.items()))
    return removed
