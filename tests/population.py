"""Many workers at once, written straight into a migrated database (tests/database.py): recipients for broadcast
tests and benchmarks, where going through the conversation for each of thousands would measure the wrong thing.

Each worker is what lead capture leaves behind: a Telegram contact at the menu, both consents granted for the
current text, and a lead with a phone number of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.content import load_content
from tests.database import TestDatabase

_STAMP = "%Y-%m-%d %H:%M:%S.%f"


def seed_workers(
    database: TestDatabase,
    count: int,
    first_user_id: int,
    *,
    region: str = "Mukomuko",
    occupation: str = "nelayan",
    now: datetime | None = None,
) -> list[int]:
    """Add `count` workers with Telegram user ids from `first_user_id`; returns those ids."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)
    version = load_content().consent_version
    user_ids = list(range(first_user_id, first_user_id + count))
    start = database.rows("select coalesce(max(id), 0) + 1 from contacts")[0][0]
    ids = range(start, start + count)
    database.execute_many(
        "insert into contacts (id, channel, external_id, locale, occupation, state, state_data, state_serial,"
        " created_at, last_seen_at) values (?, 'telegram', ?, 'id', ?, 'main', '{}', 1, ?, ?)",
        [(cid, str(uid), occupation, stamp, stamp) for cid, uid in zip(ids, user_ids, strict=True)],
    )
    database.execute_many(
        "insert into consents (contact_id, purpose, text_version, granted, decided_at) values (?, ?, ?, true, ?)",
        [(cid, purpose, version, stamp) for cid in ids for purpose in ("lead_contact", "reminders")],
    )
    database.execute_many(
        "insert into leads (contact_id, name, phone, occupation, region, call_time, status, channel, locale,"
        " created_at, updated_at, last_contact_at) values (?, ?, ?, ?, ?, 'pagi', 'baru', 'telegram', 'id', ?, ?, ?)",
        [
            (cid, f"Pekerja {uid}", f"+62812{uid % 10**8:08d}", occupation, region, stamp, stamp, stamp)
            for cid, uid in zip(ids, user_ids, strict=True)
        ],
    )
    database.after_explicit_ids("contacts", "consents", "leads")
    return user_ids
