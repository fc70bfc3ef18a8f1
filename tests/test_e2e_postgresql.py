"""Several `bpu-bot run` processes on one PostgreSQL database, in Telegram webhook mode, as a deployment runs
them behind a load balancer: every process answers the webhook on a port of its own, one of them leads the
background work, and a SIGKILL of the leader hands it to another.

Telegram is the Bot API fake over HTTP (its updates are not posted by the fake: each test posts them itself
to the process it chooses, as a load balancer would); the database is read with a plain client.

What must hold, whatever the timing: a broadcast or a follow-up reaches each person at most once, and what
a dead leader left half sent is `unknown`, never resent; the deployment keeps to the broadcast rate across a
takeover; two updates of one person, taken by two processes at the same moment, are applied one after the
other, each exactly once.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.web.server import TELEGRAM_SECRET_HEADER
from bot.workers.broadcaster import batch_size
from bot.workers.leadership import SILENT_SECONDS
from bot.workers.ticker import BATCH_SIZE as TICK_BATCH
from tests.database import TestDatabase
from tests.fakes.telegram import FakeBotAPI, FakeBotAPIServer, FakeUser, SentMessage
from tests.population import seed_workers
from tests.process import BotProcess, free_port, migrate, rows, run_cli, running_bot
from tests.test_e2e_telegram import OPERATOR, telegram_env

pytestmark = pytest.mark.postgresql_only("several processes share one database")

SECRET = "e2e-webhook-secret_Bengkulu-2026"
WEBHOOK_PATH = "/webhook/telegram"
TELEGRAM_LIMIT = 30  # messages/s Telegram takes from one bot (the fake answers 429 beyond it)
WELCOME = f"dijalankan oleh {OPERATOR}"
STARTUP_TIMEOUT = 20.0
TAKEOVER_TIMEOUT = 10.0  # it takes about two seconds at most; generous, so that a slow machine does not fail

T = TypeVar("T")


# ------------------------------------------------------------------------------------------ the fake


class TimedBotAPI(FakeBotAPI):
    """The fake, also noting when each message arrived, for whom and what it said: the rate of one kind of
    message (a campaign's) can then be measured apart from the replies sent at the same time.

    The time is taken as the request reaches the fake, before it waits for the fake's lock."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.arrivals: list[tuple[float, int, str]] = []
        self._arrivals_lock = threading.Lock()

    def handle(self, method: str, params, *, long_poll: bool = False):
        arrival = time.monotonic()
        status, body = super().handle(method, params, long_poll=long_poll)
        if method.lower() == "sendmessage" and status == 200:
            result = body["result"]
            with self._arrivals_lock:
                self.arrivals.append((arrival, result["chat"]["id"], result.get("text", "")))
        return status, body

    def arrival_times(self, text: str) -> list[float]:
        """When each message with exactly this text arrived, in order."""
        with self._arrivals_lock:
            return sorted(at for at, _chat, said in self.arrivals if said == text)

    def count_starting(self, prefix: str) -> int:
        with self._arrivals_lock:
            return sum(1 for _at, _chat, said in self.arrivals if said.startswith(prefix))


@contextmanager
def fake_telegram(**options: Any) -> Iterator[FakeBotAPIServer]:
    api = TimedBotAPI(max_poll_wait=0.25, **options)
    with FakeBotAPIServer(api=api, keep_alive=True) as server:
        # FakeUser builds updates without queueing them: the test posts each to the process it chooses.
        api.queue_updates = False
        yield server


def most_in_one_second(times: list[float]) -> int:
    """The most arrivals within any one second (a window (t - 1, t], as the fake counts its limit)."""
    times = sorted(times)
    best = start = 0
    for end, arrival in enumerate(times):
        while times[start] <= arrival - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


# ------------------------------------------------------------------------------------------ the processes


@dataclass
class Node:
    """One `bpu-bot run` of the deployment, with the port its web server listens on."""

    name: str
    port: int
    bot: BotProcess

    def health(self) -> dict | None:
        """GET /health; None when it does not answer 200 (not listening yet, dead, database unreachable)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return None

    @property
    def leads(self) -> bool:
        return (self.health() or {}).get("background") == "leader"

    def post(self, update: dict, secret: str | None = SECRET, timeout: float = 15.0) -> int:
        """POST an update to the webhook as Telegram does; the HTTP status of the answer."""
        return post_to(self.port, json.dumps(update).encode(), secret, timeout)


def post_to(port: int, body: bytes, secret: str | None = SECRET, timeout: float = 15.0) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[TELEGRAM_SECRET_HEADER] = secret
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", WEBHOOK_PATH, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def deployment_env(tmp_path: Path, server: FakeBotAPIServer, **extra: str) -> dict[str, str]:
    """What every process of the deployment shares (and the command line reads); start_nodes gives each process
    its port, and the webhook URL that goes with it."""
    return telegram_env(tmp_path, server) | {
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:8443{WEBHOOK_PATH}",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "WEB_HOST": "127.0.0.1",
        "SEND_HOURS": "00:00-23:59",
        **extra,
    }


def start_nodes(stack: ExitStack, count: int, env: dict[str, str], cwd: Path) -> list[Node]:
    """`count` processes started at once, each on a port of its own; returned once every one answers /health.
    Each is stopped when `stack` closes, whatever happened (running_bot)."""
    nodes = []
    for index in range(count):
        port = free_port()
        own = env | {"WEB_PORT": str(port), "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}{WEBHOOK_PATH}"}
        bot = stack.enter_context(running_bot(own, cwd, log_name=f"bot-{index}.log"))
        nodes.append(Node(f"bot-{index}", port, bot))

    def all_up() -> bool:
        for node in nodes:
            assert node.bot.running, f"{node.name} exited with code {node.bot.process.returncode}:\n{node.bot.log}"
        return all(node.health() is not None for node in nodes)

    wait_for(all_up, STARTUP_TIMEOUT, "every process answering /health")
    return nodes


def the_leader(nodes: list[Node]) -> Node | None:
    """The one process that says it leads; None while none does. Two at once would be a bug."""
    leading = [node for node in nodes if node.leads]
    assert len(leading) <= 1, f"{[node.name for node in leading]} all say they lead the background work"
    return leading[0] if leading else None


def wait_for(condition: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll until `condition()` is truthy; return that value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(every)
    return value


def assert_clean(node: Node) -> None:
    log = node.bot.log
    for bad in ("Traceback", "IntegrityError", " ERROR "):
        assert bad not in log, f"{bad!r} in the log of {node.name}:\n{log}"


# ------------------------------------------------------------------------------------------ the tests


RATE = 25
RECIPIENTS = 600
FIRST_RECIPIENT = 910_000_000
FIRST_PROBE = 919_000_000
CAMPAIGN_TEXT = "Sosialisasi BPU di balai desa Mukomuko, Sabtu pukul 09.00."
# What a dead leader can leave `sending`: two batches of about a quarter second of sending (bot/workers/broadcaster.py).
BROADCAST_WINDOW = 2 * batch_size(RATE)
DELIVERIES = "select c.external_id, d.status from deliveries d join contacts c on c.id = d.contact_id"


@dataclass
class Probe:
    """An update posted to a surviving process while the lead was changing hands."""

    node: Node
    user_id: int
    started: float
    status: int | str  # the HTTP status, or what went wrong instead


def test_three_processes_one_killed_mid_campaign_each_recipient_gets_one_message_or_is_unknown(
    tmp_path: Path, database: TestDatabase
):
    with fake_telegram(rate_limit=TELEGRAM_LIMIT) as server, ExitStack() as stack:
        api: TimedBotAPI = server.api  # type: ignore[assignment]
        env = deployment_env(tmp_path, server, BROADCAST_RATE=str(RATE))
        migrate(env, tmp_path)
        recipients = seed_workers(database, RECIPIENTS, FIRST_RECIPIENT)
        api.open_chats(recipients)
        nodes = start_nodes(stack, 3, env, tmp_path)
        leader = wait_for(lambda: the_leader(nodes), TAKEOVER_TIMEOUT, "one process leading")

        text = tmp_path / "siaran.txt"
        text.write_text(CAMPAIGN_TEXT, encoding="utf-8")
        created = run_cli(
            ["broadcast", "create", "--text-file", str(text), "--segment", "region=Mukomuko"], env, tmp_path
        )
        assert created.returncode == 0, created.stderr
        started = wait_for(lambda: api.arrival_times(CAMPAIGN_TEXT)[:1], 15, "the campaign's first message")[0]
        wait_for(lambda: len(api.arrival_times(CAMPAIGN_TEXT)) >= RECIPIENTS // 3, 40, "a third of the campaign")

        survivors = [node for node in nodes if node is not leader]
        killed_at = time.monotonic()
        leader.bot.kill_hard()
        at_kill = len(api.arrival_times(CAMPAIGN_TEXT))

        # While the lead changes hands, Telegram keeps posting: each survivor in turn gets a new person's /start.
        probes: list[Probe] = []
        probing = threading.Event()

        def probe() -> None:
            for index in range(1000):
                node = survivors[index % len(survivors)]
                user = FakeUser(api, user_id=FIRST_PROBE + index, first_name="Uji")
                update = user.send_command("start")
                begun = time.monotonic()
                try:
                    status: int | str = node.post(update)
                except OSError as error:  # refused, reset, timed out: a failure the test reports
                    status = repr(error)
                probes.append(Probe(node, user.user_id, begun, status))
                if probing.wait(0.25):
                    return

        prober = threading.Thread(target=probe, name="probe", daemon=True)
        prober.start()
        try:
            new_leader = wait_for(lambda: the_leader(survivors), TAKEOVER_TIMEOUT, "a survivor taking the lead")
            took_over_at = time.monotonic()
            wait_for(lambda: any(p.started > took_over_at for p in probes), 5, "a probe after the takeover")
        finally:
            probing.set()
            prober.join(20)
        wait_for(lambda: rows("select status from campaigns")[0][0] == "done", 45, "the campaign's end", every=0.2)
        finished = time.monotonic()
        standby = next(node for node in survivors if node is not new_leader)
        assert the_leader(survivors) is new_leader and standby.health()["background"] == "standby"
        # Read now: when the test stops the processes, the new leader goes first and the standby takes over.
        standby_log = standby.bot.log

    counts = api.sent_count_by_chat()
    statuses = {int(row["external_id"]): row["status"] for row in rows(DELIVERIES)}
    unknown = sorted(user for user, status in statuses.items() if status == "unknown")
    times = api.arrival_times(CAMPAIGN_TEXT)
    before, after = [t for t in times if t < killed_at], [t for t in times if t > took_over_at]
    summary = (
        f"{len(times)} sent over {finished - started:.1f} s; kill after {at_kill}, takeover in "
        f"{took_over_at - killed_at:.2f} s; most in one second: {most_in_one_second(before)} before the kill, "
        f"{most_in_one_second(after)} after the takeover, {most_in_one_second(times)} overall; "
        f"{len(unknown)} unknown (window {BROADCAST_WINDOW}); {len(probes)} probes"
    )
    print(summary)

    assert RECIPIENTS // 3 <= at_kill < RECIPIENTS - BROADCAST_WINDOW, f"the kill came mid-campaign: {summary}"
    assert len(statuses) == RECIPIENTS and set(statuses) == set(recipients)
    assert max(counts[user] for user in recipients) == 1, "nobody got the message twice"
    assert set(statuses.values()) <= {"sent", "unknown"}, "every delivery ended sent or unknown"
    assert all(counts[user] == 1 for user, status in statuses.items() if status == "sent"), "a sent row arrived"
    assert all(statuses[user] == "unknown" for user in recipients if counts[user] == 0), "nobody lost unmarked"
    assert len(unknown) <= BROADCAST_WINDOW, summary
    assert sum(counts[user] for user in recipients) >= RECIPIENTS - len(unknown)
    if unknown:
        assert "marked unknown, not resent" in new_leader.bot.log
    assert "this process leads the background work" not in standby_log, "the third process never led"

    # The pace: each leader's pacer keeps to RATE in any second. Across the takeover two schedules meet, each
    # spaced 1/RATE apart: within one second (the old one's last part, the new one's first) they fit at most
    # floor((1 - gap) * RATE) + 2 <= RATE + 1 messages, whatever the gap. Telegram's own limit was never hit,
    # the replies to the probes included.
    assert most_in_one_second(before) <= RATE and most_in_one_second(after) <= RATE, summary
    assert most_in_one_second(times) <= RATE + 1, summary
    assert api.rate_limited == 0 and api.max_in_any_second() <= TELEGRAM_LIMIT, summary

    # The survivors kept answering the webhook while nobody led, and after.
    assert probes and probes[0].started < took_over_at, f"a probe was posted during the takeover: {summary}"
    for probe_made in probes:
        assert probe_made.status == 200, f"{probe_made.node.name} answered {probe_made.status}"
        [welcome] = api.sent(probe_made.user_id)
        assert WELCOME in welcome.text, welcome.text
    assert {p.node.name for p in probes} == {node.name for node in survivors}
    for node in survivors:
        assert_clean(node)


class SharedChat:
    """One person whose updates reach whichever process the load balancer picks; every update posted is kept."""

    def __init__(self, api: FakeBotAPI, user: FakeUser, pool: ThreadPoolExecutor):
        self.api = api
        self.user = user
        self.pool = pool
        self.posted: list[int] = []

    @property
    def inbox(self) -> list[SentMessage]:
        return self.api.sent(self.user.user_id)

    def post(self, node: Node, update: dict) -> list[SentMessage]:
        """One update to one process; the messages that answered it."""
        before = len(self.inbox)
        self.posted.append(update["update_id"])
        assert node.post(update) == 200
        return self.inbox[before:]

    def post_together(self, nodes: list[Node], updates: list[dict]) -> tuple[list[SentMessage], bool]:
        """Each update to its process at the same moment; the messages that answered them all, and whether the
        two POSTs were in the processes at the same time (the race was run)."""
        before = len(self.inbox)
        self.posted += [update["update_id"] for update in updates]
        barrier = threading.Barrier(len(updates))

        def post(node: Node, update: dict) -> tuple[int, float, float]:
            body = json.dumps(update).encode()
            barrier.wait(10)
            started = time.monotonic()
            status = post_to(node.port, body)
            return status, started, time.monotonic()

        spans = list(self.pool.map(post, nodes, updates))
        assert [status for status, _, _ in spans] == [200] * len(updates)
        overlapped = max(start for _, start, _ in spans) < min(end for _, _, end in spans)
        return self.inbox[before:], overlapped

    def tap(self, message: SentMessage, action: str, label: str = "") -> dict:
        """An update tapping the button of `message` whose action starts with `action` (and label has `label`)."""
        return self.user.tap(_button(message, action, label), message_id=message.message_id)


def test_two_processes_given_updates_of_one_person_at_once_keep_one_consistent_state(tmp_path: Path):
    rounds = 40
    with fake_telegram() as server, ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        api = server.api
        env = deployment_env(tmp_path, server)
        migrate(env, tmp_path)
        a, b = nodes = start_nodes(stack, 2, env, tmp_path)
        wati = SharedChat(api, FakeUser(api, user_id=920_000_001, first_name="Wati"), pool)

        # A person new to the bot: their first two updates create their row once. Then each round one process
        # gets /menu and the other /bahasa at the same moment (which gets which alternates); each moves the
        # state on, so each answer shows the serial its turn ended at.
        pairs = [("start", "start")] + [("menu", "bahasa") if i % 2 else ("bahasa", "menu") for i in range(rounds)]
        overlapping = 0
        for commands in pairs:
            _, overlapped = wati.post_together(nodes, [wati.user.send_command(command) for command in commands])
            overlapping += overlapped
        answers = wati.inbox
        [before] = rows("select state, state_serial from contacts where external_id = ?", str(wati.user.user_id))

        # Telegram posts an update again when it missed the answer: here to both processes at once.
        again = wati.user.send_command("menu")
        redelivered, _ = wati.post_together(nodes, [again, again])
        wati.posted.pop()

        # The same step of lead capture driven from both sides: an impatient double tap on "Setuju", then on
        # "Benar, simpan", each tap to another process at the same moment. One tap decides; the other is stale.
        consent = wati.post(a, wati.tap(redelivered[-1], "interest"))[-1]
        agreed, _ = wati.post_together(nodes, [wati.tap(consent, "consent:yes"), wati.tap(consent, "consent:yes")])
        wati.post(b, wati.tap(agreed[-1], "reminders:yes"))
        wati.post(a, wati.user.send_text("Wati Susanti"))
        occupation = wati.post(b, wati.user.share_contact("6281234567890"))[-1]
        region = wati.post(a, wati.tap(occupation, "lead_occ:pedagang"))[-1]
        call_time = wati.post(b, wati.tap(region, "region:", "Mukomuko"))[-1]
        summary = wati.post(a, wati.tap(call_time, "call_time:pagi"))[-1]
        saved, _ = wati.post_together(nodes, [wati.tap(summary, "lead_save"), wati.tap(summary, "lead_save")])

        for node in nodes:
            assert node.bot.running
            assert_clean(node)

    updates = 2 * len(pairs)
    assert overlapping >= len(pairs) // 2, f"only {overlapping} of {len(pairs)} pairs were taken at the same time"
    assert len(answers) == updates, "one answer per update"
    serials = sorted(_serial(answer) for answer in answers)
    assert serials == list(range(1, updates + 1)), "each turn saw the one before it: no serial twice, none lost"
    kinds = [_state_shown(answer) for answer in answers]
    assert kinds.count("onboarding/occupation") == 2
    assert kinds.count("main") == kinds.count("onboarding/language") == rounds
    last = max(answers, key=_serial)
    assert (before["state"], before["state_serial"]) == (_state_shown(last), updates), "the last turn's state kept"

    assert len(redelivered) == 1, "the update posted twice was answered once"
    assert _serial(redelivered[0]) == updates + 1 and _state_shown(redelivered[0]) == "main"

    assert "Setuju" in consent.labels[0]
    assert len(agreed) == 2 and all(_button(m, "reminders:yes") for m in agreed), "both show the next question"
    assert sum(STALE in message.text for message in agreed) == 1, "one tap decided, the other was stale"
    assert "Wati Susanti" in summary.text and "Mukomuko" in summary.text
    assert len(saved) == 2 and all(_state_shown(message) == "main" for message in saved)
    assert sum(message.text.startswith("Terima kasih, Wati Susanti!") for message in saved) == 1, saved
    assert sum(STALE in message.text for message in saved) == 1, "the second save was stale"

    [contact] = rows("select id, state from contacts where external_id = ?", str(wati.user.user_id))
    assert contact["state"] == "main" and rows("select count(*) from contacts")[0][0] == 1
    [lead] = rows("select name, phone, region, call_time from leads where contact_id = ?", contact["id"])
    assert tuple(lead) == ("Wati Susanti", "+6281234567890", "Mukomuko", "pagi")
    consents = rows("select purpose, granted from consents where contact_id = ? order by id", contact["id"])
    assert [tuple(row) for row in consents] == [("lead_contact", 1), ("reminders", 1)], "each decision once"
    followups = rows("select kind, due_at from followups where contact_id = ?", contact["id"])
    assert [row["kind"] for row in followups].count("call") == 1, "one call task for the one lead"
    assert len({tuple(row) for row in followups}) == len(followups), "no follow-up scheduled twice"
    processed = [row[0] for row in rows("select update_key from processed_updates where channel = 'telegram'")]
    assert sorted(processed) == sorted(str(update_id) for update_id in wati.posted), "each update id once"


STALE = "sudah tidak berlaku"


def _button(message: SentMessage, action: str, label: str = "") -> str:
    """The callback data of the button of `message` whose action starts with `action` and label has `label`."""
    for row in message.buttons:
        for text, data in row:
            if data and data.partition("|")[2].startswith(action) and label in text:
                return data
    raise AssertionError(f"no button {action!r} {label!r} on {message.text[:80]!r}: {message.buttons}")


def _serial(message: SentMessage) -> int:
    """The state serial a turn ended at, as its buttons carry it (`<serial>|<action>`)."""
    data = message.buttons[0][0][1]
    assert data is not None and "|" in data, message
    return int(data.partition("|")[0])


def _state_shown(message: SentMessage) -> str:
    """The state an answer leaves the person in, told by its first button."""
    action = message.buttons[0][0][1].partition("|")[2]
    for prefix, state in (("occ:", "onboarding/occupation"), ("topic:", "main"), ("lang:", "onboarding/language")):
        if action.startswith(prefix):
            return state
    raise AssertionError(f"an answer of no expected kind: {message.text[:80]!r} {message.buttons}")


FOLLOW_UPS = 150
FIRST_WORKER = 930_000_000


def test_a_follow_up_due_in_two_processes_at_once_is_sent_once(tmp_path: Path, database: TestDatabase):
    with fake_telegram() as server, ExitStack() as stack:
        api: TimedBotAPI = server.api  # type: ignore[assignment]
        env = deployment_env(tmp_path, server, TICK_SECONDS="5")
        migrate(env, tmp_path)
        workers = seed_workers(database, FOLLOW_UPS, FIRST_WORKER)
        api.open_chats(workers)
        # An officer's answer to each worker, all due now (answers go at any hour, and need no consent).
        now = datetime.now(UTC)
        contacts = rows("select id, external_id from contacts order by id")
        database.execute_many(
            "insert into followups (contact_id, kind, due_at, status, attempts, text, created_at, updated_at)"
            " values (?, 'answer', ?, 'pending', 0, ?, ?, ?)",
            [
                (row["id"], now - timedelta(seconds=FOLLOW_UPS - i), _answer_text(row["external_id"]), now, now)
                for i, row in enumerate(contacts)
            ],
        )

        nodes = start_nodes(stack, 2, env, tmp_path)
        leader = wait_for(lambda: the_leader(nodes), TAKEOVER_TIMEOUT, "one process leading")
        [standby] = [node for node in nodes if node is not leader]

        def answers_sent() -> int:
            return api.count_starting(ANSWER_PREFIX)

        # The first tick (5 s after the lead is taken) claims TICK_BATCH rows and sends them one by one.
        wait_for(lambda: answers_sent() >= FOLLOW_UPS // 2, 30, "half of the answers sent")
        leader.bot.kill_hard()
        time.sleep(0.3)  # a request the dead process made may still be in the fake; the next tick is 5 s away
        at_kill = answers_sent()
        wait_for(lambda: standby.leads, TAKEOVER_TIMEOUT, "the standby taking the lead")
        wait_for(
            lambda: rows("select count(*) from followups where status in ('pending', 'sending')")[0][0] == 0,
            30,
            "no answer left pending or sending",
            every=0.2,
        )
        time.sleep(0.5)  # anything sent twice would show now
        assert_clean(standby)
        new_leader_log = standby.bot.log

    counts = api.sent_count_by_chat()
    followups = {
        int(row["external_id"]): row["status"]
        for row in rows("select c.external_id, f.status from followups f join contacts c on c.id = f.contact_id")
    }
    unknown = [worker for worker, status in followups.items() if status == "unknown"]
    summary = f"kill after {at_kill} of {FOLLOW_UPS} sent; {len(unknown)} unknown"
    print(summary)

    assert FOLLOW_UPS // 2 <= at_kill < TICK_BATCH, f"the kill came in the middle of the first tick: {summary}"
    assert len(followups) == FOLLOW_UPS
    assert max(counts[worker] for worker in workers) == 1, "nobody got their answer twice"
    assert set(followups.values()) <= {"sent", "unknown"}, "none pending or sending"
    assert all(counts[worker] == 1 for worker, status in followups.items() if status == "sent")
    assert all(followups[worker] == "unknown" for worker in workers if counts[worker] == 0), "none lost unmarked"
    # The ticker sends one row at a time: at the kill, the rest of the first tick's claim was `sending`, and at
    # most one of those (the message whose answer the kill cut off) had reached Telegram.
    assert TICK_BATCH - at_kill <= len(unknown) <= TICK_BATCH - at_kill + 1, summary
    assert sum(counts[worker] for worker in unknown) <= 1, summary
    assert "marked unknown, not resent" in new_leader_log
    for worker in workers:
        if counts[worker]:
            [message] = api.sent(worker)
            assert message.text == _answer_text(str(worker))


ANSWER_PREFIX = "Jawaban petugas untuk "


def _answer_text(external_id: str) -> str:
    return f"{ANSWER_PREFIX}{external_id}: datang ke kantor cabang dengan KTP."


def test_a_leader_that_hangs_hands_on_the_lead_and_stands_by_when_it_wakes(tmp_path: Path):
    with fake_telegram() as server, ExitStack() as stack:
        nodes = start_nodes(stack, 2, deployment_env(tmp_path, server), tmp_path)
        leader = wait_for(lambda: the_leader(nodes), TAKEOVER_TIMEOUT, "one process leading")
        [standby] = [node for node in nodes if node is not leader]

        # Alive but silent, its connections open: a frozen VM, an event loop blocked.
        leader.bot.process.send_signal(signal.SIGSTOP)
        stack.callback(leader.bot.process.send_signal, signal.SIGCONT)  # before it is stopped, whatever happens
        wait_for(lambda: standby.leads, SILENT_SECONDS + TAKEOVER_TIMEOUT, "the standby taking over")
        leader.bot.process.send_signal(signal.SIGCONT)

        wait_for(lambda: (leader.health() or {}).get("background") == "standby", TAKEOVER_TIMEOUT,
                 "the old leader standing by")  # fmt: skip
        assert the_leader(nodes) is standby
        assert "the lock's database connection failed" in leader.bot.log
        for node in nodes:
            assert_clean(node)


def test_the_webhook_refuses_a_wrong_or_missing_secret_and_processes_nothing(tmp_path: Path):
    with fake_telegram() as server, ExitStack() as stack:
        api = server.api
        env = deployment_env(tmp_path, server)
        [node] = start_nodes(stack, 1, env, tmp_path)
        wait_for(lambda: node.leads, TAKEOVER_TIMEOUT, "the one process leading")
        rudi = FakeUser(api, user_id=940_000_001, first_name="Rudi")

        assert node.post(rudi.send_command("start"), secret=None) == 403
        assert node.post(rudi.send_command("start"), secret=SECRET[:-1] + "x") == 403
        assert node.post(rudi.send_command("start"), secret=SECRET.upper()) == 403
        assert api.sent(rudi.user_id) == []
        assert rows("select count(*) from processed_updates")[0][0] == 0
        assert rows("select count(*) from contacts")[0][0] == 0

        update = rudi.send_command("start")
        assert node.post(update) == 200
        [welcome] = api.sent(rudi.user_id)
        assert WELCOME in welcome.text
        assert [row[0] for row in rows("select update_key from processed_updates")] == [str(update["update_id"])]
        assert node.health() == {"status": "ok", "database": "ok", "background": "leader"}
        assert "without the right secret token was refused" in node.bot.log
