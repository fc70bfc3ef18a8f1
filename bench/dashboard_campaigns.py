"""The dashboard's Siaran page among 10,000,000 deliveries: how long its queries take.

A migrated database (a SQLite file, or a scratch PostgreSQL database made on `--admin-url` and dropped after) is
filled in bulk by SQL with 1,000,000 contacts (one in twenty wrote in the last months, the others long ago, as
most people of an outreach are quiet) and 100 campaigns of 100,000 deliveries, one every 21 hours, the last one
still sending: 90% sent (of them two thirds delivered, a third of those read), 3% failed (a third blocked), 7%
skipped. A month then holds 35 campaigns and 3,500,000 deliveries: what retention keeps (90 days) of 10,000,000.

Then, as the pages ask them (bot/services/dashboard_campaigns.py, campaign_figures): the list of a month and of a
week (its figures for every campaign shown), and one campaign's page (its figures, then its sending curve), each
twice (the second with the database's cache warm). Prints the seconds of each.

    python -m bench.dashboard_campaigns [--database sqlite|postgresql]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Results and their reading: docs/benchmarks.md, "The dashboard's Siaran page".
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.broadcast import fresh_database
from bot.db import create_engine, session_factory
from bot.services.dashboard import Period
from bot.services.dashboard_campaigns import campaigns_of_period, find_campaign, sending_curve
from tests.database import POSTGRESQL, SQLITE, TestDatabase

WIB = ZoneInfo("Asia/Jakarta")
CAMPAIGNS, RECIPIENTS, CONTACTS = 100, 100_000, 1_000_000
NOW = datetime(2026, 11, 20, 16, tzinfo=UTC)  # the last campaign started an hour ago and is still sending

# One statement each, for both databases: numbers come from generate_series on PostgreSQL, from a recursive
# common table expression on SQLite; moments are written the way each stores UTCDateTime; the remainder is mod()
# on PostgreSQL, whose client would read a % as a parameter.
_NUMBERS = {
    POSTGRESQL: "generate_series(1, {count}) n(i)",
    SQLITE: "(with recursive s(i) as (select 1 union all select i + 1 from s where i < {count}) select i from s) n",
}
_LATER = {  # a moment: `base` plus some hours and seconds (SQL expressions), as the column stores it
    POSTGRESQL: "(timestamptz '{base}' + ({hours}) * interval '1 hour' + ({seconds}) * interval '1 second')",
    SQLITE: "strftime('%Y-%m-%d %H:%M:%f', '{base}', '+' || ({hours}) || ' hours', '+' || ({seconds}) || ' seconds')"
    " || '000'",
}
_MOD = {POSTGRESQL: "mod({a}, {b})", SQLITE: "({a} % {b})"}


def fill(database: TestDatabase) -> None:
    kind = SQLITE if database.kind == SQLITE else POSTGRESQL

    def numbers(count: int) -> str:
        return _NUMBERS[kind].format(count=count)

    def later(base: str, hours: str = "0", seconds: str = "0") -> str:
        return _LATER[kind].format(base=base, hours=hours, seconds=seconds)

    def mod(a: str, b: int) -> str:
        return _MOD[kind].format(a=a, b=b)

    recently = later("2026-08-01", mod("i", 1000) + " * 3")  # one in twenty: spread over four months
    seen = f"case when {mod('i', 20)} = 0 then {recently} else {later('2026-07-01')} end"
    database.rows(
        "insert into contacts (id, channel, external_id, locale, state, state_data, state_serial, created_at,"
        f" last_seen_at) select i, 'telegram', cast(i as varchar), 'id', 'main', '{{}}', 0, {later('2026-06-01')},"
        f" {seen} from {numbers(CONTACTS)}"
    )
    starts = later("2026-08-25 03:00", "i * 21")
    database.rows(
        "insert into campaigns (id, created_by, segment, text_id, status, starts_at, recipients, created_at,"
        " finished_at) select i, 'cli', '{\"regions\": [\"Mukomuko\"]}', 'Siaran ' || cast(i as varchar),"
        f" case when i = {CAMPAIGNS} then 'sending' else 'done' end, {starts}, {RECIPIENTS}, {starts},"
        f" case when i = {CAMPAIGNS} then null else {later('2026-08-25 06:00', 'i * 21')} end"
        f" from {numbers(CAMPAIGNS)}"
    )
    waiting = f"c = {CAMPAIGNS} and i > {RECIPIENTS * 6 // 10}"  # the last campaign: 60% gone out so far
    hundredth = mod("i", 100)
    for campaign in range(1, CAMPAIGNS + 1):
        c = str(campaign)
        database.rows(
            "insert into deliveries (campaign_id, contact_id, status, not_before, attempts, outcome,"
            " platform_message_id, sent_at, receipt)"
            f" select {c}, {mod(f'c * {RECIPIENTS} + i', CONTACTS)} + 1,"
            f" case when {waiting} then 'pending' when {hundredth} < 90 then 'sent'"
            f"  when {hundredth} < 93 then 'failed' else 'skipped' end,"
            f" {later('2026-08-25 03:00', 'c * 21')}, 1,"
            f" case when {hundredth} = 90 then 'blocked' when {hundredth} in (91, 92) then 'refused'"
            f"  when {hundredth} >= 93 then 'stopped' end,"
            f" case when {hundredth} < 90 and not ({waiting}) then 'm' || cast(i as varchar) end,"
            f" case when {hundredth} < 90 and not ({waiting})"
            f"  then {later('2026-08-25 03:00', 'c * 21', 'i / 10.0')} end,"
            f" case when {waiting} then null when {hundredth} < 20 then 'read' when {hundredth} < 60 then 'delivered'"
            f"  when {hundredth} < 90 then 'sent' end"
            f" from (select {c} as c) campaign, {numbers(RECIPIENTS)}"
        )
    database.after_explicit_ids("contacts", "campaigns")
    database.rows("analyze")


async def measure(database: TestDatabase) -> None:
    engine = create_engine(database.app_url)
    sessions = session_factory(engine)
    try:
        for label, period in (
            ("a month", Period(date(2026, 10, 22), date(2026, 11, 20))),
            ("a week", Period(date(2026, 11, 14), date(2026, 11, 20))),
        ):
            for _ in range(2):
                async with sessions() as session:
                    start = time.perf_counter()
                    lines, _more = await campaigns_of_period(session, period, WIB, 0, None)
                    took = time.perf_counter() - start
                deliveries = sum(line.figures.progress.total for line in lines)
                print(f"the list of {label}: {len(lines)} campaigns, {deliveries:,} deliveries: {took:.2f} s")
        for campaign_id in (CAMPAIGNS - 1, CAMPAIGNS):
            for _ in range(2):
                async with sessions() as session:
                    start = time.perf_counter()
                    line = await find_campaign(session, campaign_id, 0, None)
                    assert line is not None
                    figures = time.perf_counter()
                    curve = await sending_curve(session, campaign_id, line.starts_at, line.finished_at or NOW)
                    end = time.perf_counter()
                state = "sending" if line.running else "done"
                print(
                    f"campaign {campaign_id} ({state}, {curve.sent[-1]:,} sent): figures {figures - start:.2f} s,"
                    f" curve {end - figures:.2f} s ({len(curve.sent)} steps)"
                )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=(SQLITE, POSTGRESQL), default=SQLITE)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server to make the database on (with --database postgresql)")  # fmt: skip
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as directory,
        fresh_database(args.database, Path(directory), "campaigns", args.admin_url) as database,
    ):
        start = time.perf_counter()
        fill(database)
        print(
            f"{CAMPAIGNS * RECIPIENTS:,} deliveries on {args.database}, filled in {time.perf_counter() - start:.0f} s"
        )
        asyncio.run(measure(database))


if __name__ == "__main__":
    main()
