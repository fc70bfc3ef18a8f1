"""A broadcast survives kill -9: the real `bpu-bot run`, sending over HTTP to the Bot API fake that enforces
Telegram's 30 messages/s, is killed in the middle of a campaign and started again.

Nobody gets the message twice; nobody is lost except rows marked `unknown`, and those are at most the
engine's in-flight window; the platform's limit held across both processes (no 429).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.workers.broadcaster import batch_size
from tests.database import TestDatabase
from tests.fakes.telegram import FakeBotAPI, FakeBotAPIServer
from tests.population import seed_workers
from tests.process import rows, run_cli
from tests.test_e2e_telegram import serving, telegram_env

RECIPIENTS = 240
RATE = 30  # the fake's limit, Telegram's
# The bot's BROADCAST_RATE just under it, as an operator sets it: exactly at 30/s the pacer's margin against a
# request delayed on its way is 20 ms, which a test process sharing two cores with two others sometimes exceeds.
SENDING_RATE = 28
FIRST_USER = 810_000_000
WINDOW = 2 * batch_size(SENDING_RATE)  # the engine's claimed-but-unrecorded rows at most


@pytest.fixture
def server() -> Iterator[FakeBotAPIServer]:
    api = FakeBotAPI(max_poll_wait=0.25, rate_limit=RATE)
    with FakeBotAPIServer(api=api, keep_alive=True) as server:
        yield server


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def test_a_campaign_killed_mid_way_resumes_without_sending_anyone_twice(
    tmp_path: Path, server: FakeBotAPIServer, database: TestDatabase
):
    env = telegram_env(tmp_path, server) | {"BROADCAST_RATE": str(SENDING_RATE), "SEND_HOURS": "00:00-23:59"}
    users = seed_workers(database, RECIPIENTS, FIRST_USER)
    server.api.open_chats(users)
    text = tmp_path / "siaran.txt"
    text.write_text("Sosialisasi BPU di balai desa, Sabtu pukul 09.00.", encoding="utf-8")
    created = run_cli(["broadcast", "create", "--text-file", str(text), "--segment", "region=Mukomuko"], env, tmp_path)
    assert created.returncode == 0, created.stderr

    def delivered() -> int:
        return sum(server.api.sent_count_by_chat().values())

    with serving(env, tmp_path, server, "first.log") as bot:
        wait_for(lambda: delivered() >= RECIPIENTS // 3, 30, "a third of the campaign")
        bot.kill_hard()
    at_kill = delivered()
    with serving(env, tmp_path, server, "second.log") as bot:
        wait_for(lambda: rows("select status from campaigns")[0][0] == "done", 60, "the campaign's end")
        log = bot.log

    counts = server.api.sent_count_by_chat()
    statuses = {row["external_id"]: row["status"] for row in rows(_DELIVERIES)}
    assert RECIPIENTS // 3 <= at_kill < RECIPIENTS, "the kill came mid-way"
    assert max(counts.values()) == 1, "nobody got the message twice"
    assert len(statuses) == RECIPIENTS
    unknown = [user for user, status in statuses.items() if status == "unknown"]
    assert set(statuses.values()) <= {"sent", "unknown"}
    assert all(counts[int(user)] == 1 for user, status in statuses.items() if status == "sent")
    assert all(statuses[str(user)] == "unknown" for user in users if counts[user] == 0), "none lost unmarked"
    assert len(unknown) <= WINDOW, f"{len(unknown)} unknown, window {WINDOW}"
    assert server.api.rate_limited == 0 and server.api.max_in_any_second() <= RATE
    assert not unknown or "marked unknown, not resent" in log


_DELIVERIES = "select c.external_id, d.status from deliveries d join contacts c on c.id = d.contact_id"
