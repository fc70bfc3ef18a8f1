"""WhatsApp webhook benchmark: signed webhook requests ingested per second by `bpu-bot run`, one process.

A campaign at WhatsApp's 80 messages/s brings about 240 status callbacks/s (sent, delivered, read), on top of
the workers' own messages: the target is >= 500 requests/s answered 200.

(a) Status callbacks: N signed bodies as Meta posts them (one status each, sent/delivered/read of template
    messages, each naming a delivery row that exists: `biz_opaque_callback_data` "d:<id>").
(b) Text messages from many workers writing for the first time (each gets the welcome), the bot's pace lifted
    to WhatsApp's ceiling (WHATSAPP_RATE=1000) so that the Graph API fake, not the pace, is what it waits for.

Real parts throughout: `python -m bot run` as a subprocess, unchanged (WhatsApp only, a fresh migrated SQLite
file in a temporary folder), its aiohttp web server on 127.0.0.1; the Graph API fake (FakeGraphServer) in this
process; the load generator in a child process (aiohttp client, keep-alive, `--connections` at once), so its
CPU does not count against the bot's on a machine with two cores. Measured: requests/s answered 200, latency
p50/p99, the stored events left when the load ended, the time until every stored event was processed (the
`webhook_events` table empty) as processed/s from the first request, and the bot's CPU per request.

    python -m bench.webhook [--requests 20000] [--connections 32] [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import queue
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import aiohttp

from bot.content import load_content
from bot.db import upgrade_database
from tests.database import SQLiteDatabase, set_current
from tests.fakes.whatsapp import (
    APP_SECRET,
    GRAPH_VERSION,
    PHONE_NUMBER_ID,
    TEST_TOKEN,
    VERIFY_TOKEN,
    FakeGraphServer,
    FakeWhatsAppAPI,
    FakeWhatsAppUser,
    sign,
    signed_post_args,
)
from tests.process import BotProcess, bot_env, free_port, rows, running_bot

TARGET = 500  # requests/s
TEMPLATE = "bpu_siaran"
STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
# What workers write first, as they would type it.
TEXTS = ("halo", "brp iurannya", "klo meninggal dapet apa", "cara daftar gmn", "assalamualaikum", "info bpu")
_STAMP = "%Y-%m-%d %H:%M:%S.%f"
_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ the bodies


def status_bodies(api: FakeWhatsAppAPI, count: int) -> tuple[list[bytes], list[tuple[int, str, str]]]:
    """`count` status webhook bodies for template messages sent through the fake, and the deliveries they name:
    (delivery id, the user's business-scoped id, the message id)."""
    deliveries: list[tuple[int, str, str]] = []
    path = f"/{GRAPH_VERSION}/{PHONE_NUMBER_ID}/messages"
    for delivery_id in range(1, count // 3 + 2):
        user = FakeWhatsAppUser(api, phone=f"62812{delivery_id:08d}", name=f"Pekerja {delivery_id}")
        message = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "recipient": user.user_id,
            "type": "template",
            "template": {
                "name": TEMPLATE,
                "language": {"code": "id"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sosialisasi BPU Sabtu"}]}],
            },
            "biz_opaque_callback_data": f"d:{delivery_id}",
        }
        status, answer = api.handle("POST", path, f"Bearer {TEST_TOKEN}", json.dumps(message).encode())
        if status != 200:
            raise SystemExit(f"the Graph API fake refused a template: {answer}")
        deliveries.append((delivery_id, user.user_id, answer["messages"][0]["id"]))
    bodies = [signed_post_args(body)[0] for body in api.take_statuses()][:count]
    api.forget_history()
    return bodies, deliveries


def seed_deliveries(database: Path, deliveries: list[tuple[int, str, str]]) -> None:
    """WhatsApp contacts at the menu and a finished campaign whose deliveries went out as templates."""
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    with sqlite3.connect(database) as connection:
        connection.executemany(
            "insert into contacts (id, channel, external_id, locale, occupation, state, state_data, state_serial,"
            " created_at, last_seen_at) values (?, 'whatsapp', ?, 'id', 'nelayan', 'main', '{}', 1, ?, ?)",
            ((delivery_id, user_id, stamp, stamp) for delivery_id, user_id, _ in deliveries),
        )
        connection.execute(
            "insert into campaigns (id, created_by, segment, text_id, status, starts_at, recipients, created_at,"
            " finished_at) values (1, 'cli', '{}', 'Sosialisasi BPU Sabtu', 'done', ?, ?, ?, ?)",
            (stamp, len(deliveries), stamp, stamp),
        )
        connection.executemany(
            "insert into deliveries (id, campaign_id, contact_id, status, not_before, attempts, platform_message_id,"
            " sent_at, via) values (?, 1, ?, 'sent', ?, 1, ?, ?, 'template')",
            ((delivery_id, delivery_id, stamp, message_id, stamp) for delivery_id, _, message_id in deliveries),
        )


def receipts_check(deliveries: int) -> Callable[[Path], str | None]:
    def check(database: Path) -> str | None:
        read = rows("SELECT count(*) AS n FROM deliveries WHERE receipt = 'read'")[0]["n"]
        if read != deliveries:
            return f"{read:,} deliveries read, expected {deliveries:,}: status callbacks were not all applied"
        return None

    return check


def contacts_check(workers: int) -> Callable[[Path], str | None]:
    def check(database: Path) -> str | None:
        seen = rows("SELECT count(*) AS n FROM processed_updates")[0]["n"]
        if seen != workers:
            return f"{seen:,} messages applied, expected {workers:,}"
        return None

    return check


def message_bodies(api: FakeWhatsAppAPI, count: int) -> list[bytes]:
    """`count` text messages, each from a worker writing for the first time."""
    pick = random.Random(0).choice
    bodies = []
    for n in range(count):
        user = FakeWhatsAppUser(api, phone=f"62813{n:08d}", name=f"Pekerja {n}")
        bodies.append(signed_post_args(user.text(pick(TEXTS)))[0])
    return bodies


# ------------------------------------------------------------------------------------------ the load


def generate(url: str, bodies_file: str, connections: int, results: multiprocessing.Queue) -> None:
    """The load generator (a child process): POST every body once, `connections` at a time."""
    try:
        signed = [
            (body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)})
            for body in Path(bodies_file).read_bytes().splitlines()
        ]
        results.put(asyncio.run(_generate(url, signed, connections)))
    except BaseException as error:  # the parent must hear of it rather than wait
        results.put({"error": repr(error)})
        raise


async def _generate(url: str, signed: list[tuple[bytes, dict[str, str]]], connections: int) -> dict:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    next_index = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < len(signed):
            body, headers = signed[next_index]
            next_index += 1
            await post_timed(session, url, body, headers, statuses, latencies)

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()  # CLOCK_MONOTONIC: the parent's clock too
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        ended = time.monotonic()
    latencies.sort()
    return {
        "started": started,
        "ended": ended,
        "statuses": dict(statuses),
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
    }


# ------------------------------------------------------------------------------------------ one run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


async def post_timed(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict, statuses: Counter, latencies: list[float]
) -> None:
    """One POST: its answer's status (or the error) counted, and how long it took kept."""
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            statuses[str(response.status)] += 1
    except (aiohttp.ClientError, TimeoutError) as error:
        statuses[type(error).__name__] += 1
    latencies.append(time.perf_counter() - started)


def stored_events(database: Path) -> int:
    return rows("SELECT count(*) AS n FROM webhook_events")[0]["n"]


def run(
    folder: Path,
    graph: FakeGraphServer,
    bodies: list[bytes],
    connections: int,
    rate: int,
    seed: Callable[[Path], None] | None = None,
    check: Callable[[Path], str | None] | None = None,
) -> dict:
    """Start the bot on a fresh database (`seed` fills it), post `bodies` from the child, wait until all is
    processed; `check` reads the database afterwards and says what is wrong, if anything."""
    folder.mkdir()
    database = folder / "bot.sqlite3"
    set_current(SQLiteDatabase(database))  # what bot_env and rows use
    upgrade_database(f"sqlite+aiosqlite:///{database}")
    if seed is not None:
        seed(database)
    port = free_port()
    env = bot_env(
        folder,
        WHATSAPP_TOKEN=TEST_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_API_BASE_URL=graph.base_url,
        WHATSAPP_RATE=str(rate),
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(port),
        OPERATOR_NAME="Benchmark",
        LOG_LEVEL="INFO",
    )
    bodies_file = folder / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
    url = f"http://127.0.0.1:{port}/webhook/whatsapp"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    with running_bot(env, folder, ready=lambda: healthy(f"http://127.0.0.1:{port}/health"),
                     startup_timeout=STARTUP_TIMEOUT) as bot:  # fmt: skip
        cpu_before = cpu_seconds(bot.process.pid)
        load = context.Process(target=generate, args=(url, str(bodies_file), connections, results), daemon=True)
        load.start()
        try:
            result = wait_for_load(load, results, [bot], max(60.0, len(bodies) / 50))
        finally:
            if load.is_alive():
                load.terminate()
            load.join(10)
        cpu_load = cpu_seconds(bot.process.pid) - cpu_before
        result["backlog"] = stored_events(database)
        result["processed_at"] = _wait_until_processed(database, bot, len(bodies))
        result["cpu"] = cpu_seconds(bot.process.pid) - cpu_before
        result["cpu_load"] = cpu_load
        result["rss"] = peak_rss_mb(bot.process.pid)
        result["exit"] = bot.stop()
        log = bot.log
    result["check"] = check(database) if check is not None and result["processed_at"] is not None else None
    result["log_errors"] = sum(1 for line in log.splitlines() if " ERROR " in line or "Traceback" in line)
    # The bot's warnings by what they say (after the time stamp), most frequent first.
    warnings = Counter(line.partition(" WARNING ")[2][:160] for line in log.splitlines() if " WARNING " in line)
    result["warnings"] = warnings.most_common(3)
    return result


def wait_for_load(load, results, bots: list[BotProcess], timeout: float) -> dict:
    """What the load generator (a child process) reports; SystemExit if it, or a bot, dies or runs out of time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = results.get(timeout=0.5)
        except queue.Empty:
            for bot in bots:
                if not bot.running:
                    exited = f"a bot exited ({bot.process.returncode}) under load:\n{bot.log[-3000:]}"
                    raise SystemExit(exited) from None
            if not load.is_alive():
                raise SystemExit(f"the load generator died (exit code {load.exitcode})") from None
            if time.monotonic() > deadline:
                raise SystemExit("the load did not finish in time") from None
            continue
        if "error" in result:
            raise SystemExit(f"the load generator failed: {result['error']}")
        return result


def _wait_until_processed(database: Path, bot: BotProcess, requests: int) -> float | None:
    """When the webhook_events table was seen empty (monotonic), or None if it did not empty in time."""
    deadline = time.monotonic() + max(120.0, requests / 20)
    while stored_events(database):
        if not bot.running or time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    return time.monotonic()


# ------------------------------------------------------------------------------------------ the report


def _line(name: str, requests: int, result: dict) -> str:
    ok = result["statuses"].get("200", 0)
    elapsed = result["ended"] - result["started"]
    if result["processed_at"] is None:
        processed = "    not done"
    else:
        taken = result["processed_at"] - result["started"]
        processed = f"{taken:6.1f} s {requests / taken:6,.0f}/s"
    return (
        f"{name:<18} {requests:>7,} {ok:>7,} {ok / elapsed:>8,.0f} {result['p50'] * 1000:>7.1f} "
        f"{result['p99'] * 1000:>7.1f} {result['backlog']:>8,}  {processed}  "
        f"{result['cpu_load'] / elapsed:>5.0%} {result['cpu'] / requests * 1e6:>6,.0f} {result['rss']:>5.0f}"
    )


def _problems(requests: int, result: dict) -> list[str]:
    problems = []
    others = {status: n for status, n in result["statuses"].items() if status != "200"}
    if others:
        problems.append(f"answers other than 200: {others}")
    if result["processed_at"] is None:
        problems.append("stored events were still waiting at the deadline")
    if result["log_errors"]:
        problems.append(f"{result['log_errors']} ERROR/Traceback lines in the bot's log")
    if result["check"]:
        problems.append(result["check"])
    for warning, count in result["warnings"]:
        problems.append(f"{count} x WARNING {warning}")
    if result["exit"] != 0:
        problems.append(f"the bot exited with {result['exit']} on SIGTERM")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="status callbacks to post (a)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--messages", type=int, default=2_000, help="text messages to post (b); 0 to skip")
    args = parser.parse_args()
    if args.requests < 1 or args.connections < 1 or args.messages < 0:
        parser.error("--requests and --connections must be at least 1, --messages at least 0")

    load_content()  # fail here, not in the subprocess, if the content does not load
    api = FakeWhatsAppAPI(templates={TEMPLATE: {"id": 1}}, throughput=None)
    bodies, deliveries = status_bodies(api, args.requests)
    messages = message_bodies(api, args.messages) if args.messages else []
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as directory, FakeGraphServer(api) as graph:
        folder = Path(directory)
        # Every third status is a "read": the deliveries whose read status was posted end as read.
        read = sum(1 for body in bodies if b'"status":"read"' in body)
        seed = partial(seed_deliveries, deliveries=deliveries)
        statuses = run(folder / "statuses", graph, bodies, args.connections, 80, seed, receipts_check(read))
        results.append(("status callbacks", len(bodies), statuses))
        if messages:
            before = len(api.sent())
            texts = run(
                folder / "messages", graph, messages, args.connections, 1000, None, contacts_check(len(messages))
            )
            replies = len(api.sent()) - before
            if replies != 2 * len(messages) and not texts["check"]:
                texts["check"] = f"{replies:,} replies sent, expected {2 * len(messages):,} (the welcome is 2)"
            results.append(("text messages", len(messages), texts))

    today = dt.date.today().isoformat()
    print(
        f"`bpu-bot run` on SQLite, WhatsApp webhook, {os.cpu_count()} cores, {today}, Python "
        f"{sys.version.split()[0]}, {args.connections} keep-alive connections from another process"
    )
    print(
        f"{'':<18} {'posted':>7} {'200':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'backlog':>8}  "
        f"{'all processed':>17}  {'CPU':>5} {'µs CPU':>6} {'RSS':>5}"
    )
    failed = False
    for name, requests, result in results:
        print(_line(name, requests, result))
        for problem in _problems(requests, result):
            print(f"    ! {problem}")
            failed = True
    print(
        "backlog: events stored but not yet processed when the load ended; all processed: from the first request "
        "until webhook_events was empty; CPU: the bot's CPU use while the load ran (100% = one core); µs CPU: the "
        "bot's CPU time per request, ingestion and processing; RSS: the bot's peak, MB"
    )
    if messages:
        print(f"(b) the bot sent {replies:,} replies to the Graph API fake (WHATSAPP_RATE=1000); the welcome is 2")
    ingest = min(r["statuses"].get("200", 0) / (r["ended"] - r["started"]) for _, _, r in results)
    print(f"slowest ingestion {ingest:,.0f} requests/s (target >= {TARGET}/s)")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
