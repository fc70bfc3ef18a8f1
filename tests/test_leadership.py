"""Several processes on one PostgreSQL database: who leads the background work, how the lead passes on when
the leader's session ends, how work queued elsewhere reaches the leader, and claims that two engines (two
connection pools, as two processes have) make at the same moment without sending anything twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from telegram import Bot

from bot.app import BotApp, create_app
from bot.channels.telegram.sending import TelegramSender
from bot.db import asyncpg_dsn
from bot.models import FollowUpKind
from bot.services.tasks import queue_message
from bot.workers import leadership
from bot.workers.broadcaster import Broadcaster
from bot.workers.leadership import WAKE_CHANNEL, Leadership
from bot.workers.pacing import Pacer
from bot.workers.ticker import FollowUpTicker
from tests.conftest import campaign_for, send_campaigns
from tests.fakes.telegram import TEST_TOKEN, FakeBotAPI, FakeRequest
from tests.population import seed_workers

pytestmark = pytest.mark.postgresql_only("several processes share one database")

WORKERS = 300
TAKEOVER_SECONDS = 5.0


class Process:
    """What a `bpu-bot run` process holds of the lead: its Leadership, and what it was told."""

    def __init__(self, url: str, name: str, frozen_for: float = 0.0):
        self.name = name
        self.frozen_for = frozen_for  # taking up the work blocks the process this long, once
        self.gained = asyncio.Event()
        self.lost = asyncio.Event()
        self.woken: list[str] = []
        self.leadership = Leadership(url, self._gain, self._lose, self.woken.append)

    async def _gain(self) -> None:
        time.sleep(self.frozen_for)  # noqa: ASYNC251 - a frozen VM or a blocked event loop, not a wait
        self.frozen_for = 0.0
        self.lost.clear()
        self.gained.set()

    async def _lose(self) -> None:
        self.gained.clear()
        self.lost.set()


@pytest.fixture
async def processes(settings) -> AsyncIterator[list[Process]]:
    started: list[Process] = []

    def start(name: str, frozen_for: float = 0.0) -> Process:
        process = Process(settings.database_url, name, frozen_for)
        process.leadership.start()
        started.append(process)
        return process

    yield start
    for process in started:
        await process.leadership.close()


async def within(event: asyncio.Event, seconds: float = TAKEOVER_SECONDS) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


async def test_one_process_leads_and_another_takes_over_when_its_session_ends(processes):
    first = processes("first")
    assert await within(first.gained)
    second = processes("second")

    assert not await within(second.gained, 2.5), "the lock is held: the second stands by"

    await first.leadership.close()  # as when the process dies: its session ends

    assert first.lost.is_set(), "a closing leader steps down first"
    assert await within(second.gained), "the standby takes over"


async def test_a_leader_whose_connection_is_cut_steps_down_and_leads_again_once_it_can(processes, settings):
    leader = processes("leader")
    assert await within(leader.gained)
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        # The server ends the lock's session, as a restart of PostgreSQL or a network cut does.
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await connection.close()

    assert await within(leader.lost), "no background work without the lock"
    assert await within(leader.gained), "and the lead again once nobody else has it"


async def test_a_leader_frozen_while_taking_up_the_work_loses_the_lead(processes, monkeypatch):
    monkeypatch.setattr(leadership, "SILENT_SECONDS", 1)
    monkeypatch.setattr(leadership, "HEARTBEAT_SECONDS", 0.2)
    leader = processes("leader", frozen_for=2.5)  # longer than SILENT_SECONDS, before any heartbeat

    assert await within(leader.gained), "it took up the work once it thawed"
    assert await within(leader.lost), "PostgreSQL ended the silent session: the lock was free for another"
    assert await within(leader.gained), "and it leads again, nobody else having taken it"


async def test_work_queued_in_another_process_wakes_the_leader(processes, app: BotApp):
    leader = processes("leader")
    assert await within(leader.gained)

    async with app.engine.connect() as connection:  # what a standby's Runtime.wake sends
        await connection.execute(text("SELECT pg_notify(:c, 'ticker')"), {"c": WAKE_CHANNEL})
        await connection.commit()

    for _ in range(50):
        if leader.woken:
            break
        await asyncio.sleep(0.05)
    assert leader.woken == ["ticker"]


# ------------------------------------------------------------------------------------------ claims


@pytest.fixture
async def two_apps(settings, clock) -> AsyncIterator[tuple[BotApp, BotApp]]:
    """Two apps on the same database, each with its own engine and pool: two processes, as far as rows go."""
    apps = (create_app(settings, clock), create_app(settings, clock))
    yield apps
    for app in apps:
        await app.close()


@contextlib.asynccontextmanager
async def bot_on(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = Bot(TEST_TOKEN, request=FakeRequest(api), get_updates_request=FakeRequest(api))
    async with bot:
        yield bot


async def test_a_follow_up_due_for_two_tickers_at_once_is_sent_once(two_apps, bot_api, database, db, clock):
    users = seed_workers(database, WORKERS, 860_000)
    bot_api.open_chats(users)
    one, other = two_apps
    async with one.dispatcher.sessions.begin() as session:
        for contact_id in range(1, WORKERS + 1):
            await queue_message(session, contact_id, FollowUpKind.ANSWER, "Jawaban petugas: iuran Rp16.800.", clock())

    async with bot_on(bot_api) as bot:
        tickers = [FollowUpTicker(app.dispatcher, {"telegram": TelegramSender(bot, app.messages)}) for app in two_apps]
        reports = []
        for _ in range(10):
            reports += await asyncio.gather(*(ticker.tick() for ticker in tickers))
            if not db("select count(*) from followups where status in ('pending', 'sending')")[0][0]:
                break

    counts = bot_api.sent_count_by_chat()
    assert sorted(counts) == sorted(users) and set(counts.values()) == {1}, "every worker, once"
    assert sum(report.sent for report in reports) == WORKERS
    assert all(report.sent for report in reports[:2]), "both tickers sent at the same time, different rows"
    assert db("select status, count(*) from followups group by status") == [("sent", WORKERS)]


async def test_one_campaign_sent_by_two_engines_at_once_reaches_each_recipient_once(two_apps, bot_api, database, db):
    users = seed_workers(database, WORKERS, 870_000)
    bot_api.open_chats(users)
    campaign = await campaign_for(two_apps[0])

    async with bot_on(bot_api) as bot:
        engines = [
            Broadcaster(app.dispatcher, {"telegram": TelegramSender(bot, app.messages)}, {"telegram": Pacer(None)})
            for app in two_apps
        ]
        for engine in engines:
            engine.batch = {"telegram": 20}
        await asyncio.gather(*(send_campaigns(engine, steps=200) for engine in engines))

    counts = bot_api.sent_count_by_chat()
    assert sorted(counts) == sorted(users) and set(counts.values()) == {1}, "every recipient, once"
    assert db("select status, count(*) from deliveries where campaign_id = ? group by status", campaign) == [
        ("sent", WORKERS)
    ]
    assert db("select status, recipients from campaigns")[0][:] == ("done", WORKERS)
