"""Follow-up claim benchmark: the time one tick spends finding and claiming its batch of due reminders.

With 10,000 and with 1,000,000 pending follow-ups, of which 1,000 reminders are due, on a real SQLite file
migrated by Alembic. One pending row in ten is an officer's call task already overdue (the worst case: tasks
nobody worked, which the ticker must step over, never claim). The claim (one UPDATE ... RETURNING through the
(status, kind, due_at) index) should cost about the same in both: it follows the due messages, not the pending
rows.

    python -m bench.followups [--sizes 10000,1000000] [--due 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.db import create_engine, session_factory, upgrade_database
from bot.services.followups import claim_due_messages

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
_STAMP = "%Y-%m-%d %H:%M:%S.%f"


def fill(path: Path, pending: int, due: int) -> None:
    """`pending` rows in all: `due` reminders due before NOW, one row in ten an overdue call task, the other
    reminders spread over the following days."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "insert into contacts (id, channel, external_id, locale, state, state_data, state_serial,"
            " created_at, last_seen_at) values (1, 'telegram', '1', 'id', 'main', '{}', 0, ?, ?)",
            (NOW.strftime(_STAMP), NOW.strftime(_STAMP)),
        )
        created = NOW.strftime(_STAMP)

        def rows():
            for i in range(pending):
                if i < due:
                    yield (
                        1,
                        "reminder",
                        (NOW - timedelta(minutes=1 + i)).strftime(_STAMP),
                        "pending",
                        0,
                        created,
                        created,
                    )
                elif i % 10 == 0:
                    yield (
                        1,
                        "call",
                        (NOW - timedelta(days=1, seconds=i)).strftime(_STAMP),
                        "pending",
                        0,
                        created,
                        created,
                    )
                else:
                    yield (
                        1,
                        "reminder",
                        (NOW + timedelta(seconds=60 + i * 5)).strftime(_STAMP),
                        "pending",
                        0,
                        created,
                        created,
                    )

        connection.executemany(
            "insert into followups (contact_id, kind, due_at, status, attempts, created_at, updated_at)"
            " values (?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )


async def time_claims(path: Path, due: int, repeat: int) -> list[float]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    timings = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            async with sessions.begin() as session:
                claimed = await claim_due_messages(session, NOW, due)
            timings.append(time.perf_counter() - started)
            if len(claimed) != due:
                raise SystemExit(f"claimed {len(claimed)} rows, expected {due}")
            async with sessions.begin() as session:  # put them back for the next repetition
                await session.execute(
                    text("update followups set status = 'pending', attempts = 0 where status = 'sending'")
                )
    finally:
        await engine.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(directory) / f"followups-{size}.sqlite3"
            upgrade_database(f"sqlite+aiosqlite:///{path}")
            fill(path, size, args.due)
            timings = asyncio.run(time_claims(path, args.due, args.repeat))
            results[size] = statistics.median(timings)
            print(
                f"{size:>9,} pending, {args.due:,} due: claim {results[size] * 1000:7.2f} ms median"
                f" (min {min(timings) * 1000:.2f}, max {max(timings) * 1000:.2f}, {args.repeat} runs)"
            )
    smallest, largest = min(results), max(results)
    print(f"largest / smallest: {results[largest] / results[smallest]:.2f}x (target: within 2x)")


if __name__ == "__main__":
    main()
