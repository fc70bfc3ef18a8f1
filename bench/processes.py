"""Conversation throughput of `bpu-bot run` in Telegram webhook mode with 1, 2 and 4 processes on one PostgreSQL.

Many workers chat at once: each worker's whole conversation (/start, an occupation, topics, the calculator, the
lead capture: `--updates-per-worker` updates) is posted to the webhook one update after another, as Telegram
delivers a chat's updates in order, with `--concurrency` updates in flight over all processes. Each worker sticks
to one process ("sticky", round-robin by worker) or each update goes to the next process ("spread"): Telegram
posts to one URL and a load balancer decides, so both are measured.

Real parts: `bpu-bot run` processes, each on its own port, all on one fresh migrated PostgreSQL database (made
for the run, dropped after); the Bot API fake (`python -m tests.fakes.telegram --keep-alive --no-record`) in a
process of its own; the load generator (asyncio + aiohttp, keep-alive) in another. The updates are the ones a
real conversation produces: each path is first walked in-process against the in-memory fake, then replayed for
every worker with the worker's own ids, so the button data (`<state serial>|<action>`) is what the bot expects.

By default the bot runs with PTB's reply rate limiter (AIORateLimiter, 30 messages/s) switched off, through a
launcher that calls `bot.cli.main.main(["run"])` after making build_application unpaced: with it every process
sends at most 30 replies a second, and that, not the bot, is what would be measured (`--paced` shows it).

Measured over the steady part (the 10th to the 90th percentile of completions): updates/s, p50/p99 of the
webhook POST, and CPU seconds per update of the bot processes (summed), of PostgreSQL (all its processes,
/proc/<pid>/stat), of the fake and of the generator. Checked afterwards: every POST answered 200, every update in
processed_updates exactly once, the replies the fake counted, the leads and contacts saved, nothing logged at
ERROR. The machine's speed drifts (a shared VM): every configuration runs once a round, in the opposite order
the next round, and 2 processes are compared with 1 within each round; the median of those ratios is the figure.

    python -m bench.processes [--processes 1,2,4] [--workers 150] [--updates-per-worker 12] [--concurrency 96]
        [--rounds 3] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--paced]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import json
import multiprocessing
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from telegram import Update

from bench.conversation import PATH, next_update, offline_bot
from bench.webhook import cpu_seconds, healthy, post_timed, wait_for_load
from bot.db import upgrade_database
from tests.database import PostgresDatabase, PostgresServer, set_current
from tests.fakes.telegram import TEST_TOKEN, FakeUser
from tests.process import PYTHON, ROOT, BotProcess, bot_env, free_port

SECRET = "bench-processes-secret_0123456789"
FIRST_USER = 810_000_000  # nine digits, like the fake's own users
STARTUP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 60.0
TARGET = 1.7  # 2 processes against 1 on two cores
STEADY = (0.10, 0.90)  # the part of the completions measured
SAMPLE_SECONDS = 0.2
_TICKS = os.sysconf("SC_CLK_TCK")

OCCUPATIONS = ("Petani", "Nelayan", "Pedagang", "Sopir", "ojol", "Lainnya")
# Lead capture, bench/conversation.py's path with each worker's own occupation.
LEAD = (PATH[0], ("tap", "{occupation}"), *PATH[2:])
# Reading about BPU without leaving a number.
BROWSE = (
    ("command", "start"),
    ("tap", "{occupation}"),
    ("tap", "Apa itu BPU"),
    ("tap", "Manfaatnya"),
    ("tap", "Kecelakaan kerja"),
    ("tap", "Menu"),
    ("tap", "Tanya jawab"),
    ("tap", "Mahal tidak"),
    ("text", "brp iurannya"),
    ("tap", "Rp1.500.000"),
)
# After a path, longer conversations go on browsing.
MORE = (("text", "halo"), ("tap", "Cara daftar"), ("tap", "Menu"), ("tap", "Manfaatnya"), ("tap", "Meninggal dunia"))

# Run instead of `python -m bot run` unless --paced: the same entry point, replies unpaced; with BENCH_PROFILE set,
# under cProfile, the stats written there when the process stops.
UNPACED_LAUNCHER = """
import os
import sys
import bot.channels.telegram.channel as telegram
build = telegram.build_application
telegram.build_application = lambda app, request=None, rate_limited=True: build(app, request, rate_limited=False)
from bot.cli.main import main
if not os.environ.get("BENCH_PROFILE"):
    sys.exit(main(["run"]))
import cProfile
profile = cProfile.Profile()
try:
    code = profile.runcall(main, ["run"])
finally:
    profile.dump_stats(os.environ["BENCH_PROFILE"])
sys.exit(code)
"""


# ------------------------------------------------------------------------------------------ the conversations


@dataclass
class Template:
    """One path walked once in-process: its updates, and what the bot did for them."""

    updates: list[dict]
    user_id: int
    sends: int  # sendMessage calls
    leads: int


def _path(kind: tuple, occupation: str, length: int) -> list[tuple[str, str]]:
    steps = [(what, value.format(occupation=occupation)) for what, value in kind]
    while len(steps) < length:
        steps.extend(MORE)
    return steps[:length]


async def _record(database: Path, paths: list[list[tuple[str, str]]]) -> list[Template]:
    app, api, application = offline_bot(database)
    templates = []
    async with application:
        for path in paths:
            user = FakeUser(api)
            updates = []
            sends_before = len(api.calls_of("sendMessage"))
            async with app.engine.connect() as connection:
                leads_before = (await connection.exec_driver_sql("select count(*) from leads")).scalar_one()
            for kind, value in path:
                update = next_update(api, user, kind, value)
                updates.append(update)
                await application.process_update(Update.de_json(update, application.bot))
            async with app.engine.connect() as connection:
                leads = (await connection.exec_driver_sql("select count(*) from leads")).scalar_one() - leads_before
            sends = len(api.calls_of("sendMessage")) - sends_before
            templates.append(Template(updates, user.user_id, sends, leads))
    await app.close()
    return templates


def _personal(value, template_user: int, user_id: int):
    """The template's update as the worker `user_id` sends it: every id of the template's user replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("id", "user_id") and item == template_user:
                out[key] = user_id
            elif key == "chat_instance":
                out[key] = str(-(10**12 + user_id))
            else:
                out[key] = _personal(item, template_user, user_id)
        return out
    if isinstance(value, list):
        return [_personal(item, template_user, user_id) for item in value]
    return value


@dataclass
class Load:
    conversations: list[list[bytes]]  # one per worker, in order
    sends: int  # replies the fake must count
    leads: int
    updates: int = field(init=False)

    def __post_init__(self) -> None:
        self.updates = sum(len(c) for c in self.conversations)


def build_load(workers: int, length: int, folder: Path) -> Load:
    """`workers` conversations of `length` updates: lead capture and browsing alternate, occupations rotate."""
    kinds = (LEAD, BROWSE)
    paths = [_path(kind, occupation, length) for kind in kinds for occupation in OCCUPATIONS]
    database = folder / "record.sqlite3"
    upgrade_database(f"sqlite+aiosqlite:///{database}")
    templates = asyncio.run(_record(database, paths))
    conversations, sends, leads, update_id = [], 0, 0, 0
    for worker in range(workers):
        # Worker w: path kind w % 2, occupation (w // 2) % 6.
        template = templates[(worker % 2) * len(OCCUPATIONS) + (worker // 2) % len(OCCUPATIONS)]
        user_id = FIRST_USER + worker
        bodies = []
        for update in template.updates:
            update_id += 1
            personal = _personal(copy.deepcopy(update), template.user_id, user_id)
            personal["update_id"] = update_id
            bodies.append(json.dumps(personal, separators=(",", ":"), ensure_ascii=False).encode())
        conversations.append(bodies)
        sends += template.sends
        leads += template.leads
    return Load(conversations, sends, leads)


# ------------------------------------------------------------------------------------------ the generator


def generate(urls: list[str], load_file: str, sticky: bool, concurrency: int, results) -> None:
    """The load generator (a child process): every worker's updates in order, `concurrency` in flight."""
    try:
        conversations = [
            [line.encode() for line in conversation] for conversation in json.loads(Path(load_file).read_text())
        ]
        results.put(asyncio.run(_generate(urls, conversations, sticky, concurrency)))
    except BaseException as error:  # the parent must hear of it rather than wait
        results.put({"error": repr(error)})
        raise


async def _generate(urls: list[str], conversations: list[list[bytes]], sticky: bool, concurrency: int) -> dict:
    import aiohttp

    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    statuses: Counter[str] = Counter()
    completed: list[float] = []  # monotonic, as the parent samples CPU
    latencies: list[float] = []
    workers = iter(enumerate(conversations))
    posted = 0

    async def slot(session: aiohttp.ClientSession) -> None:
        nonlocal posted
        for worker, conversation in workers:  # one iterator shared by every slot
            for body in conversation:
                url = urls[(worker if sticky else posted) % len(urls)]
                posted += 1
                await post_timed(session, url, body, headers, statuses, latencies)
                completed.append(time.monotonic())

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        await asyncio.gather(*(slot(session) for _ in range(concurrency)))
        ended = time.monotonic()
    return {
        "started": started,
        "ended": ended,
        "statuses": dict(statuses),
        "completed": completed,
        "latencies": latencies,
    }


# ------------------------------------------------------------------------------------------ CPU


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL's own processes (the postmaster, the WAL writer, the checkpointer...) and the backends connected
    to `database`; backends of other databases (someone else's tests on the same server) are left out."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(entry.path, "comm").read_text().strip() != "postgres":
                    continue
                command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            client = "(" in command or "[local]" in command  # "postgres: 15/main: user db 127.0.0.1(5678) idle"
            if not client or f" {database} " in command:
                pids.append(int(entry.name))
    return pids


def process_cpu(pid: int) -> float | None:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):
        return None


def _machine() -> tuple[float, float, float]:
    """(busy, total, stolen) CPU seconds of the whole machine so far, from /proc/stat. Stolen: time the
    hypervisor gave to other guests while this one wanted the CPU (not part of busy or total)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    used, steal = fields[:7], fields[7]
    idle = used[3] + used[4]
    return (sum(used) - idle) / _TICKS, sum(used) / _TICKS, steal / _TICKS


class Sampler:
    """Cumulative CPU seconds of each group of processes, every SAMPLE_SECONDS, in a thread of this process.

    A process that ends keeps its last value (a PostgreSQL backend closed mid-run still counts).
    """

    def __init__(self, groups: dict[str, list[int]], database: str):
        self.groups = groups
        self.database = database
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._last: dict[str, dict[int, float]] = {name: {} for name in [*groups, "postgres"]}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def add(self, group: str, pid: int) -> None:
        self.groups.setdefault(group, []).append(pid)
        self._last.setdefault(group, {})

    def sample(self) -> None:
        now = time.monotonic()
        for name, pids in [*self.groups.items(), ("postgres", postgres_pids(self.database))]:
            for pid in pids:
                if (value := process_cpu(pid)) is not None:
                    self._last[name][pid] = value
        totals = {name: sum(values.values()) for name, values in self._last.items()}
        totals["machine"], totals["machine_total"], totals["steal"] = _machine()
        self.samples.append((now, totals))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def at(self, moment: float) -> dict[str, float]:
        """Every group's cumulative CPU at `moment`, interpolated between the samples around it."""
        before = max((s for s in self.samples if s[0] <= moment), key=lambda s: s[0], default=self.samples[0])
        after = min((s for s in self.samples if s[0] >= moment), key=lambda s: s[0], default=self.samples[-1])
        if after[0] == before[0]:
            return dict(before[1])
        share = (moment - before[0]) / (after[0] - before[0])
        return {name: before[1][name] + share * (after[1][name] - before[1][name]) for name in before[1]}


# ------------------------------------------------------------------------------------------ one run


def start_fake(workers: int) -> tuple[subprocess.Popen, str]:
    args = [PYTHON, "-m", "tests.fakes.telegram", "--port", "0", "--keep-alive", "--no-record"]
    args += ["--open-chats", f"{FIRST_USER}:{workers}"]
    fake = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    ready = fake.stdout.readline().split()
    if not ready or ready[0] != "ready":
        fake.kill()
        raise SystemExit("the Bot API fake did not start")
    return fake, ready[1]


def stop_fake(fake: subprocess.Popen) -> dict:
    if fake.poll() is not None:
        return {}
    fake.send_signal(signal.SIGTERM)
    out, _ = fake.communicate(timeout=30)
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def start_bot(folder: Path, base_url: str, port: int, paced: bool, profile: Path | None) -> BotProcess:
    env = bot_env(
        folder,
        TELEGRAM_BOT_TOKEN=TEST_TOKEN,
        TELEGRAM_BASE_URL=base_url,
        OPERATOR_NAME="Bench",
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/webhook/telegram",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(port),
        BENCH_PROFILE=str(profile / f"bot-{port}.prof") if profile is not None else None,
    )
    command = [PYTHON, "-m", "bot", "run"] if paced else [PYTHON, "-c", UNPACED_LAUNCHER]
    log_path = folder / f"bot-{port}.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file
        )
    return BotProcess(process, log_path)


def _wait_healthy(bots: list[BotProcess], ports: list[int]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    for bot, port in zip(bots, ports, strict=True):
        while not healthy(f"http://127.0.0.1:{port}/health"):
            if not bot.running:
                raise SystemExit(f"`bpu-bot run` exited ({bot.process.returncode}) at startup:\n{bot.log[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"`bpu-bot run` on port {port} was not healthy within {STARTUP_TIMEOUT}s")
            time.sleep(0.05)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass(frozen=True)
class Options:
    concurrency: int
    paced: bool
    profile: Path | None
    quiet_wait: float


def _foreign_share(ours: list[int], database: str, seconds: float = 1.0) -> float:
    """The share of the machine's CPU that processes not of this benchmark used over `seconds`."""

    def ours_now() -> float:
        return sum(value for pid in [*ours, *postgres_pids(database)] if (value := process_cpu(pid)) is not None)

    busy, total, _ = _machine()
    mine = ours_now()
    time.sleep(seconds)
    busy_after, total_after, _ = _machine()
    return max(0.0, (busy_after - busy) - (ours_now() - mine)) / max(total_after - total, 1e-9)


def calibrate(rounds: int = 1, clock: Callable[[], float] = time.process_time) -> float:
    """CPU seconds of a fixed pure-Python loop: this machine's speed just now (a shared or nested VM drifts)."""
    started = clock()
    total = 0
    for number in range(2_000_000 * rounds):
        total += number * number % 7
    return clock() - started


def cores_speedup(cores: int) -> float:
    """How much more `cores` copies of the calibration loop do at once than one alone, in real time: what the
    machine's cores give any CPU-bound program, the ceiling for the bot's processes (a VM's cores may be shared)."""
    timed = partial(calibrate, 5, time.perf_counter)
    alone = timed()
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        pool.map(abs, range(cores))  # the workers started first, so that the loops run side by side
        together = pool.starmap(timed, [()] * cores)
    return cores * alone / max(together)


def _wait_quiet(ours: list[int], database: str, wait: float) -> float:
    """Wait up to `wait` seconds for other work on the machine to stop (below 10% of it); the share seen last."""
    deadline = time.monotonic() + wait
    while (share := _foreign_share(ours, database)) > 0.10 and time.monotonic() < deadline:
        pass
    return share


def run(server: PostgresServer, folder: Path, load: Load, load_file: Path, processes: int, sticky: bool,
        options: Options) -> dict:  # fmt: skip
    folder.mkdir()
    database = server.create()
    set_current(database)  # what bot_env and the checks read
    try:
        return _run(database, folder, load, load_file, processes, sticky, options)
    finally:
        set_current(None)
        server.drop(database)


def _run(database: PostgresDatabase, folder: Path, load: Load, load_file: Path, processes: int, sticky: bool,
         options: Options) -> dict:  # fmt: skip
    with ExitStack() as stack:
        fake, base_url = start_fake(len(load.conversations))
        stack.callback(lambda: fake.poll() is None and fake.kill())
        ports = [free_port() for _ in range(processes)]
        bots = [start_bot(folder, base_url, port, options.paced, options.profile) for port in ports]
        for bot in bots:
            stack.callback(bot.stop)
        _wait_healthy(bots, ports)
        time.sleep(1.5)  # a leader is chosen, the standbys settle
        ours = [bot.process.pid for bot in bots] + [fake.pid, os.getpid()]
        foreign_before = _wait_quiet(ours, database.name, options.quiet_wait)
        calibration = calibrate()

        groups = {"bot": [bot.process.pid for bot in bots], "fake": [fake.pid], "harness": [os.getpid()]}
        sampler = Sampler(groups, database.name)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        urls = [f"http://127.0.0.1:{port}/webhook/telegram" for port in ports]
        generator = context.Process(
            target=generate, args=(urls, str(load_file), sticky, options.concurrency, results), daemon=True
        )
        generator.start()
        sampler.add("generator", generator.pid)
        sampler.start()
        try:
            result = wait_for_load(generator, results, bots, max(120.0, load.updates / 10))
        finally:
            sampler.stop()
            if generator.is_alive():
                generator.terminate()
            generator.join(10)

        result["foreign_before"] = foreign_before
        result["calibration"] = calibration
        result["processed"] = database.rows(
            "select count(*) as n, count(distinct update_key) as distinct_keys from processed_updates"
        )[0]
        result["version"] = str(database.rows("show server_version")[0][0]).split()[0]
        result["leads"] = database.rows("select count(*) as n from leads")[0]["n"]
        result["contacts"] = database.rows("select count(*) as n from contacts")[0]["n"]
        result["exits"] = [bot.stop() for bot in bots]
        result["fake"] = stop_fake(fake)
        logs = [bot.log for bot in bots]
    lines = [line for log in logs for line in log.splitlines()]
    result["log_errors"] = sum(1 for line in lines if " ERROR " in line or "Traceback" in line)
    warnings = Counter(line.partition(" WARNING ")[2][:160] for line in lines if " WARNING " in line)
    result["warnings"] = warnings.most_common(3)
    result["sampler"] = sampler
    return result


# ------------------------------------------------------------------------------------------ the report


def measure(result: dict) -> dict:
    """The steady part: updates/s, latencies and CPU per update between the STEADY quantiles of completions."""
    order = sorted(range(len(result["completed"])), key=result["completed"].__getitem__)
    low, high = (int(len(order) * share) for share in STEADY)
    t_low, t_high = result["completed"][order[low]], result["completed"][order[high]]
    count = high - low
    latencies = [result["latencies"][i] for i in order[low:high]]
    before, after = result["sampler"].at(t_low), result["sampler"].at(t_high)
    elapsed = t_high - t_low
    cpu = {name: (after[name] - before[name]) / count for name in ("bot", "postgres", "fake", "generator")}
    busy = after["machine"] - before["machine"]
    ours = sum(cpu.values()) * count + after["harness"] - before["harness"]
    total = after["machine_total"] - before["machine_total"]
    stolen = after["steal"] - before["steal"]
    return {
        "rate": count / elapsed,
        "p50": _quantile(latencies, 0.50),
        "p99": _quantile(latencies, 0.99),
        "cpu": cpu,
        "machine": busy / total,
        "foreign": max(0.0, busy - ours) / total,
        "steal": stolen / (total + stolen),
        "bot_cores": (after["bot"] - before["bot"]) / elapsed,
        "elapsed": result["ended"] - result["started"],
    }


def problems(load: Load, result: dict) -> list[str]:
    found = []
    others = {status: n for status, n in result["statuses"].items() if status != "200"}
    if others:
        found.append(f"answers other than 200: {others}")
    processed = result["processed"]
    if processed["n"] != load.updates or processed["distinct_keys"] != load.updates:
        found.append(f"processed_updates holds {processed['n']:,} rows ({processed['distinct_keys']:,} distinct), "
                     f"expected {load.updates:,}")  # fmt: skip
    sent = result["fake"].get("sent")
    if sent != load.sends:
        found.append(f"the fake counted {sent} replies, expected {load.sends:,}")
    if result["leads"] != load.leads:
        found.append(f"{result['leads']:,} leads saved, expected {load.leads:,}")
    if result["contacts"] != len(load.conversations):
        found.append(f"{result['contacts']:,} contacts, expected {len(load.conversations):,}")
    if result["log_errors"]:
        found.append(f"{result['log_errors']} ERROR/Traceback lines in the bots' logs")
    for warning, count in result["warnings"]:
        found.append(f"{count} x WARNING {warning}")
    if any(code != 0 for code in result["exits"]):
        found.append(f"exit codes on SIGTERM: {result['exits']}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2,4", help="process counts to run, e.g. 1,2,4")
    parser.add_argument("--workers", type=int, default=150, help="workers, each with a whole conversation")
    parser.add_argument("--updates-per-worker", type=int, default=12, help="updates in each conversation")
    # One process must be CPU-bound, or a second process is credited with the first one's idle time: with 48 in
    # flight some runs found it at 0.70-0.84 of a core (with 19-24% of the machine's time stolen by the host).
    parser.add_argument("--concurrency", type=int, default=96, help="updates in flight over all processes")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--spread", choices=("both", "sticky", "spread"), default="both",
                        help="with more than one process: workers stick to one, updates spread, or both")  # fmt: skip
    parser.add_argument("--paced", action="store_true", help="the bot as shipped: replies paced by PTB at 30/s")
    parser.add_argument("--profile", type=Path, help="a folder: each bot process runs under cProfile, stats there")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times the whole set is run, in turn ascending and descending")  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="seconds to wait before each run for other work on the machine to stop")  # fmt: skip
    args = parser.parse_args()
    try:
        counts = sorted({int(n) for n in args.processes.split(",")})
    except ValueError:
        parser.error("--processes must be whole numbers separated by commas")
    if (not counts or counts[0] < 1 or args.workers < 1 or args.updates_per_worker < 2 or args.concurrency < 1
            or args.rounds < 1):  # fmt: skip
        parser.error("--processes, --workers, --concurrency and --rounds must be at least 1, --updates-per-worker 2")
    if args.profile is not None and args.paced:
        parser.error("--profile runs the unpaced launcher: leave out --paced")
    if args.profile is not None:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)

    print(f"$ python -m bench.processes {shlex.join(sys.argv[1:])}", flush=True)
    server = PostgresServer(args.admin_url)
    if (why := server.check()) is not None:
        raise SystemExit(f"PostgreSQL at {args.admin_url} does not answer: {why}")
    options = Options(args.concurrency, args.paced, args.profile, args.quiet_wait)
    configurations = []
    for count in counts:
        if count == 1 or args.spread in ("both", "sticky"):
            configurations.append((count, True))
        if count > 1 and args.spread in ("both", "spread"):
            configurations.append((count, False))
    # The machine drifts (a shared VM): each round runs every configuration, and every other round runs them in
    # the reverse order, so that no configuration always comes first or always follows the same one.
    plan = [
        (round_, count, sticky)
        for round_ in range(1, args.rounds + 1)
        for count, sticky in (configurations if round_ % 2 else configurations[::-1])
    ]
    cores = os.cpu_count() or 1
    print(f"The machine: {cores} cores; {cores} copies of a CPU-bound loop at once do "
          f"{cores_speedup(cores):.2f}x one alone", flush=True)  # fmt: skip
    rows = []
    version = "?"
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as directory:
        folder = Path(directory)
        load = build_load(args.workers, args.updates_per_worker, folder)
        load_file = folder / "load.json"
        load_file.write_text(json.dumps([[body.decode() for body in c] for c in load.conversations]))
        for round_, count, sticky in plan:
            name = f"{count} {'sticky' if sticky or count == 1 else 'spread'}"
            began = time.monotonic()
            result = run(server, folder / f"{round_}-{count}-{int(sticky)}", load, load_file, count, sticky, options)
            measured = measure(result)
            measured["calibration"] = result["calibration"]
            row = Row(round_, name, count, measured, problems(load, result), result["foreign_before"], result["fake"])
            rows.append(row)
            version = result["version"]
            taken = time.monotonic() - began
            print(f"  round {round_}, {name}: {measured['rate']:,.0f} updates/s ({taken:.0f} s)", file=sys.stderr,
                  flush=True)  # fmt: skip
    report(args, load, rows, version)


@dataclass(frozen=True)
class Row:
    round: int
    name: str
    processes: int
    measured: dict
    problems: list[str]
    foreign_before: float
    fake: dict


def report(args: argparse.Namespace, load: Load, rows: list[Row], version: str) -> None:
    cores = os.cpu_count() or 1
    pacing = "PTB's reply pacing ON (as shipped)" if args.paced else "PTB's reply pacing off (see --paced)"
    print(
        f"`bpu-bot run`, Telegram webhook, PostgreSQL {version} on this machine, {cores} cores, "
        f"{dt.date.today().isoformat()}, Python {sys.version.split()[0]}; {pacing}"
    )
    print(
        f"{args.workers} workers x {args.updates_per_worker} updates = {load.updates:,} updates a run, "
        f"{args.concurrency} in flight; the fake and the generator in processes of their own on the same cores; "
        f"{args.rounds} round(s)"
    )
    print(
        f"{'round':<5} {'processes':<9} {'upd/s':>6} {'p50 ms':>7} {'p99 ms':>7} │ {'bot':>6} {'pg':>5} "
        f"{'fake':>5} {'gen':>5} {'sum':>6} │ {'bot cores':>9} {'machine':>7} {'foreign':>7} {'steal':>5} │ "
        f"{'est. 2 cores':>12} {'msg/s max':>9} {'calib':>5}"
    )
    print(f"{'':<5} {'':<9} {'':>6} {'':>7} {'':>7} │ {'CPU µs per update':^30} │")
    failed = False
    for row in rows:
        m, cpu = row.measured, row.measured["cpu"]
        estimate = cores / (cpu["bot"] + cpu["postgres"])
        print(
            f"{row.round:<5} {row.name:<9} {m['rate']:>6,.0f} {m['p50'] * 1000:>7.1f} {m['p99'] * 1000:>7.1f} │ "
            f"{cpu['bot'] * 1e6:>6,.0f} {cpu['postgres'] * 1e6:>5,.0f} {cpu['fake'] * 1e6:>5,.0f} "
            f"{cpu['generator'] * 1e6:>5,.0f} {sum(cpu.values()) * 1e6:>6,.0f} │ "
            f"{m['bot_cores']:>9.2f} {m['machine']:>7.0%} {m['foreign']:>7.0%} {m['steal']:>5.0%} │ "
            f"{estimate:>12,.0f} {row.fake.get('max_in_any_second', 0):>9,} {m['calibration'] * 1000:>5.0f}"
        )
        if m["foreign"] > 0.05 or row.foreign_before > 0.10:
            print(f"    ~ other work on the machine: {row.foreign_before:.0%} just before, {m['foreign']:.0%} during")
        for problem in row.problems:
            print(f"    ! {problem}")
            failed = True
    print(
        "Steady part: the 10th to the 90th percentile of completions. CPU: bot = all bot processes together, pg = "
        "PostgreSQL's own processes and the backends of the run's database, fake = the Bot API fake, gen = the "
        "load generator. bot cores: the bots' CPU use (1.00 = one core). machine: busy share of all "
        f"{cores} cores; foreign: the part of it used by processes not of this benchmark; steal: the share the "
        f"hypervisor gave to other guests. est. 2 cores: {cores} "
        "cores / (bot + pg) CPU per update, what these cores would do with the fake and the generator elsewhere "
        "if the CPU per update held. msg/s max: the most replies the fake took in any one second, from all "
        "processes together (Telegram's limit is about 30 a second for a bot). calib: ms of CPU a fixed "
        "pure-Python loop took just before the run (the machine's speed then; lower is faster)."
    )
    print(f"Expected per run: {load.sends:,} replies at the fake, {load.leads:,} leads, every update processed once.")
    _summary(rows, cores)
    if failed:
        raise SystemExit(1)


def _summary(rows: list[Row], cores: int) -> None:
    """Each configuration's median, and 2 processes against 1 within each round (runs close in time)."""
    for name in dict.fromkeys(row.name for row in rows):
        rates = [row.measured["rate"] for row in rows if row.name == name]
        listed = ", ".join(f"{rate:,.0f}" for rate in rates)
        print(f"{name}: median {statistics.median(rates):,.0f} updates/s ({listed})")
    ratios, ceilings = [], []
    for round_ in sorted({row.round for row in rows}):
        one = [row.measured["rate"] for row in rows if row.round == round_ and row.processes == 1]
        two = [row.measured["rate"] for row in rows if row.round == round_ and row.processes == 2]
        if one and two:
            ratios.append(max(two) / one[0])
            # Two processes fill the cores with everything else on them: the most they can do here.
            totals = [sum(row.measured["cpu"].values()) for row in rows if row.round == round_ and row.processes == 2]
            ceilings.append(cores / min(totals) / one[0])
    if ratios:
        listed = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
        print(f"2 processes / 1, by round (the better of sticky and spread): {listed}; "
              f"median {statistics.median(ratios):.2f}x (target >= {TARGET}x on two cores)")  # fmt: skip
        listed = ", ".join(f"{ceiling:.2f}x" for ceiling in ceilings)
        print(f"The most 2 processes could do against that round's 1 with the fake, the generator and PostgreSQL on "
              f"the same cores ({cores} cores / all CPU per update at 2 processes): {listed}")  # fmt: skip
    ones = [row.measured for row in rows if row.processes == 1]
    if ones:
        bot = statistics.median(m["cpu"]["bot"] for m in ones)
        pg = statistics.median(m["cpu"]["postgres"] for m in ones)
        rate = statistics.median(m["rate"] for m in ones)
        alone = cores / (bot + pg)
        print(
            f"With the fake and the generator elsewhere, the {cores} cores would serve about {alone:,.0f} updates/s "
            f"(bot + PostgreSQL at the 1-process CPU per update, medians) = {alone / rate:.2f}x one process, which "
            f"cannot pass {1 / bot:,.0f}/s (one core / bot CPU per update)"
        )


if __name__ == "__main__":
    main()
