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
    last_id,
)

log = logging.getLogger(__name__)

PEOPLE_BATCH = 10  # people erased per transaction: a batch of 10 takes about 15 ms on SQLite
ROWS_BATCH = 500  # rows of the other kinds per transaction
# Ids a statement looks through at most: the purge walks each table along its primary key, so no statement
# reads the whole table, even the last one that finds nothing left.
WINDOW = 2000
# After each batch the purge pauses this many times as long as the batch took: the event loop is the
# conversation's too, and on SQLite (run on the loop's thread) a batch holds it whole. Small batches and a pause
# of three times their length keep a turn's p99 during a purge within 2x of without (bench/retention.py: 50 a
# batch with a pause of 1x made it 3x); the purge takes about 150 people a second, which a nightly job can.
PAUSE = 3.0
# On SQLite the write-ahead log is copied into the file and truncated (Sessions.finish_erasure) at most this
# often during a purge, and at the end of each kind of people: each checkpoint writes and syncs the pages the
# batches since the last one changed, so one per batch cost as much as the batch.
CHECKPOINT_SECONDS = 1.0
JOB = "retention"

Progress = Callable[[str, int], None]  # (kind, how many more went)


async def purge(
    sessions: Sessions, retention: Retention, now: datetime, progress: Progress | None = None
) -> dict[str, int]:  # fmt: skip
    """Remove what is past its period at `now`; returns how many went of each kind."""
    removed = dict.fromkeys(KINDS, 0)
    checkpointed = time.monotonic()
    for kind in KINDS:
        async with sessions() as session:
            last = await last_id(session, kind, retention, now)
        after = 0  # the walk along the table's ids: the next batch starts after this one
        while after < last:
            started = time.monotonic()
            upto = min(after + WINDOW, last)
            batch = PEOPLE_BATCH if kind in PEOPLE else ROWS_BATCH
            async with sessions.begin() as session:
                if kind in PEOPLE:
                    ids = await expired_people(session, kind, retention, now, batch, after, upto)
                    went = await erase_contacts(session, ids, RETENTION, now) if ids else 0
                else:
                    ids = await delete_expired_rows(session, kind, retention, now, batch, after, upto)
                    went = len(ids)
            # A full batch may have left more in the window; otherwise the window is done.
            after = ids[-1] if len(ids) == batch else upto
            if not went:
                await asyncio.sleep(0)
                continue
            removed[kind] += went
            if kind in PEOPLE and time.monotonic() - checkpointed >= CHECKPOINT_SECONDS:
                await asyncio.sleep(0)  # a turn waiting goes before the checkpoint, which holds the loop too
                await sessions.finish_erasure()
                checkpointed = time.monotonic()
            if progress is not None:
                progress(kind, went)
            await asyncio.sleep((time.monotonic() - started) * PAUSE)  # the turns waiting go first
        if removed[kind] and kind in PEOPLE:
            # Finished as HAPUS finishes (bot.db.Sessions.finish_erasure): nothing of them left in `-wal`.
            await sessions.finish_erasure()
            checkpointed = time.monotonic()
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
