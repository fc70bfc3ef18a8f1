"""Dashboard benchmark: every page's time and the serving process's memory, on a year of a branch's outreach.

A migrated database (a SQLite file, or a scratch PostgreSQL database `bpu_bench_dashboard` made on `--admin-url`
and dropped after) is filled in bulk with `--leads` leads and `--deliveries` broadcast deliveries and all that
goes with them (bench/dashboard_data.py says what and how). The seeded SQLite file is kept under `--cache`, named
by the sizes and the seed: a second run with the same sizes reuses it (and says so) and only applies migrations
added since; `--fresh` seeds again. A PostgreSQL database kept with `--keep` is reused the same way.

Then `bpu-bot dashboard serve` runs as a process of its own on a free port against that database (through a
launcher that only adds a timer to SQLAlchemy's statements, to name the slow ones). The benchmark makes a link
for the staff member and for an officer with `bpu-bot dashboard link --as ID`, signs in with each (the link's
POST, the session cookie), and GETs every page of the menu (bot.web.dashboard.rendering.PAGES, whatever pages it
holds; an officer skips the staff-only ones), by default (the last 30 days) and over the last 12 months
(`?dari=...&sampai=...`), and the heaviest variants known (a broadcast's own page for the largest campaign, Prospek
filtered, by a campaign code, and at its deepest page): `--requests` timed requests each after two warm-ups, one
after another on a keep-alive connection, every answer checked to be 200. Prints p50/p95/max per page, the
process's peak RSS (VmHWM), PASS or NOT MET against the targets, and the slowest SQL statements seen.

Targets: every page's p95 <= 300 ms on PostgreSQL and <= 1 s on SQLite; peak RSS <= 150 MB.

    python -m bench.dashboard [--database sqlite|postgresql|both] [--leads 1000000] [--deliveries 10000000]
        [--requests 20] [--budget 120] [--cache bench/.cache] [--fresh] [--keep] [--slow-ms 100] [--show-slow 5]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

`--screenshots DIR` then opens every page, and a broadcast's own page, in headless Chromium (tests/browser.py:
Debian's chromium and chromium-driver) as the staff member and saves a full-page PNG of each in DIR: the README's
pictures are `python -m bench.dashboard --leads 20000 --deliveries 200000 --requests 1 --screenshots
docs/screenshots`, a year of a smaller branch.

`--budget`: seconds of timed requests a variant may take before it stops short of `--requests` (at least five are
made), so that a page taking seconds does not make the run last hours; its n says so.

Results and their reading: docs/benchmarks.md, "Dashboard".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from bench.dashboard_data import Seeded, seed_postgresql, seed_sqlite
from bot.config import DASHBOARD_PATH, normalise_database_url
from bot.db import upgrade_database
from bot.web.dashboard import rendering
from tests.process import PYTHON, ROOT, free_port

DATA_VERSION = 3  # raise when bench/dashboard_data.py makes different rows: cached files are then seeded again
DATABASE = "bpu_bench_dashboard"
TARGET_MS = {"sqlite": 1000.0, "postgresql": 300.0}
RSS_TARGET_MB = 150
WARMUPS = 2
MIN_REQUESTS = 5  # timed requests of a variant, however slow it is (see --budget)
STARTUP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 120.0
TZ = ZoneInfo("Asia/Jakarta")  # the bot's default TIMEZONE, which the benchmark's server runs with
LINK = re.compile(r"https?://[^/\s]+(/dasbor/masuk/\S+)")

# `bpu-bot dashboard serve` as it is, with a timer on every statement: those slower than BENCH_SLOW_MS are written
# to BENCH_SLOW_LOG as JSON lines (the statement, its parameters, its time).
LAUNCHER = """
import json, os, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
log = open(os.environ["BENCH_SLOW_LOG"], "a", buffering=1)
limit = float(os.environ["BENCH_SLOW_MS"]) / 1000

@event.listens_for(Engine, "before_cursor_execute")
def started(conn, cursor, statement, parameters, context, executemany):
    conn.info.setdefault("bench_started", []).append(time.perf_counter())

@event.listens_for(Engine, "after_cursor_execute")
def ended(conn, cursor, statement, parameters, context, executemany):
    took = time.perf_counter() - conn.info["bench_started"].pop()
    if took >= limit:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        shown = ", ".join(str(getattr(value, "value", value)) for value in values)
        log.write(json.dumps({"ms": took * 1000, "sql": statement, "parameters": shown[:400]}) + "\\n")

from bot.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

# ------------------------------------------------------------------------------------------ the databases


def _key(args: argparse.Namespace) -> str:
    return f"leads={args.leads} deliveries={args.deliveries} seed={args.seed} data=v{DATA_VERSION}"


def _rate(seeded: Seeded) -> str:
    rows = sum(seeded.rows.values())
    took = sum(seeded.seconds.values())
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in seeded.seconds.items())
    return f"{rows:,} rows in {took:.0f} s ({parts}): {rows / took:,.0f} rows/s"


def _counts(seeded: Seeded) -> str:
    return ", ".join(f"{table} {count:,}" for table, count in seeded.rows.items())


def sqlite_database(args: argparse.Namespace) -> tuple[str, Seeded]:
    """The seeded file for these sizes: the cached one, or seeded now (and then cached)."""
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    name = f"dashboard-{args.leads}-{args.deliveries}-{args.seed}-v{DATA_VERSION}"
    path, about = cache / f"{name}.sqlite3", cache / f"{name}.json"
    url = f"sqlite:///{path}"
    if about.exists() and path.exists() and not args.fresh:
        seeded = Seeded.from_json(json.loads(about.read_text()))
        print(f"SQLite: reusing {path} ({path.stat().st_size / 2**20:,.0f} MB), seeded {seeded.now[:16]} UTC:")
        print("  seeding skipped (--fresh seeds again); it took " + _rate(seeded))
        upgrade_database(normalise_database_url(url))  # migrations added since it was seeded
        return url, seeded
    for stale in cache.glob(f"dashboard-{args.leads}-{args.deliveries}-{args.seed}-v*"):  # older data too
        stale.unlink()
    upgrade_database(normalise_database_url(url))
    seeded = seed_sqlite(str(path), args.leads, args.deliveries, args.seed, _now())
    about.write_text(json.dumps(seeded.to_json(), indent=1))
    print(f"SQLite: seeded {path} ({path.stat().st_size / 2**20:,.0f} MB): " + _rate(seeded))
    return url, seeded


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@contextmanager
def postgresql_database(args: argparse.Namespace) -> Iterator[tuple[str, Seeded]]:
    """`bpu_bench_dashboard` on the server of --admin-url: the one kept by an earlier --keep run with the same
    sizes, or made and seeded now; dropped at the end unless --keep."""
    admin = _libpq(args.admin_url)
    authority = admin.partition("://")[2].partition("/")[0]
    url = f"postgresql://{authority}/{DATABASE}"
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = %s", (DATABASE,)
        ).fetchone()
        kept = json.loads(found[0]) if found and found[0] else None
        reuse = kept is not None and kept.get("key") == _key(args) and not args.fresh
        if not reuse:
            connection.execute(f"drop database if exists {DATABASE} with (force)")
            connection.execute(f"create database {DATABASE}")
    try:
        if reuse:
            assert kept is not None
            seeded = Seeded.from_json(kept["seeded"])
            print(f"PostgreSQL: reusing the kept database {DATABASE}, seeded {seeded.now[:16]} UTC:")
            print("  seeding skipped (--fresh seeds again); it took " + _rate(seeded))
            upgrade_database(normalise_database_url(url))
        else:
            upgrade_database(normalise_database_url(url))
            seeded = seed_postgresql(url, args.leads, args.deliveries, args.seed, _now())
            with psycopg.connect(admin, autocommit=True) as connection:
                size = connection.execute("select pg_database_size(%s)", (DATABASE,)).fetchone()
                about = json.dumps({"key": _key(args), "seeded": seeded.to_json()})
                connection.execute(f"comment on database {DATABASE} is {_literal(about)}")
            print(f"PostgreSQL: seeded {DATABASE} ({(size[0] if size else 0) / 2**20:,.0f} MB): " + _rate(seeded))
        yield url, seeded
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"drop database if exists {DATABASE} with (force)")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ------------------------------------------------------------------------------------------ the server


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    env: dict[str, str]
    folder: Path
    slow_log: Path

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM for the server")


@contextmanager
def serving(database_url: str, folder: Path, slow_ms: float) -> Iterator[Server]:
    """`bpu-bot dashboard serve` on a free port, in a clean environment, until the block ends (then SIGTERM)."""
    port = free_port()
    slow_log = folder / "slow.jsonl"
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(folder),
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "DASHBOARD_URL": f"http://127.0.0.1:{port}",
        "BENCH_SLOW_LOG": str(slow_log),
        "BENCH_SLOW_MS": str(slow_ms),
    }
    log = (folder / "serve.log").open("wb")
    command = [PYTHON, "-c", LAUNCHER, "dashboard", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=folder, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    server = Server(process, port, env, folder, slow_log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while _status(port, "/dasbor/") != 401:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the dashboard did not start:\n{(folder / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _status(port: int, path: str) -> int | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status
    except OSError:
        return None


class Browser:
    """One signed-in person's keep-alive connection to the server."""

    def __init__(self, server: Server, telegram_id: str):
        made = subprocess.run(
            [PYTHON, "-m", "bot", "dashboard", "link", "--as", telegram_id],
            env=server.env,
            cwd=server.folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        found = LINK.search(made.stdout)
        if made.returncode or found is None:
            raise SystemExit(f"bpu-bot dashboard link --as {telegram_id} failed:\n{made.stderr}")
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
        self.cookie = ""
        status, headers, _ = self.request("POST", found.group(1))
        if status != 303 or "Set-Cookie" not in headers:
            raise SystemExit(f"signing in as {telegram_id} answered {status}")
        self.cookie = headers["Set-Cookie"].split(";")[0]

    def request(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.connection.request(method, path, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), body

    def close(self) -> None:
        self.connection.close()


# ------------------------------------------------------------------------------------------ the pages


@dataclass(frozen=True)
class Variant:
    role: str  # "staff" or "officer"
    page: str  # its name in PAGES
    label: str
    path: str  # within /dasbor
    extra: bool = False  # a heavy variant: a 404 means the route is not there (yet), not a failure


@dataclass
class Measured:
    variant: Variant
    times: list[float] = field(default_factory=list)  # seconds
    statuses: list[int] = field(default_factory=list)
    size: int = 0
    skipped: str = ""

    def ms(self, quantile: int) -> float:
        if len(self.times) < 2:
            return self.times[0] * 1000 if self.times else 0.0
        return statistics.quantiles(self.times, n=100, method="inclusive")[quantile - 1] * 1000


def _twelve_months(seeded: Seeded) -> str:
    last = datetime.fromisoformat(seeded.now).astimezone(TZ).date()
    return f"dari={(last - timedelta(days=364)).isoformat()}&sampai={last.isoformat()}"


def variants(seeded: Seeded) -> list[Variant]:
    """Every page of the menu for each role (default and 12 months), then the heaviest variants known."""
    year = _twelve_months(seeded)
    staff_only = getattr(rendering, "STAFF_ONLY", frozenset())
    chosen: list[Variant] = []
    for role in ("staff", "officer"):
        for name, address in rendering.PAGES.items():
            if role == "officer" and name in staff_only:
                continue
            chosen.append(Variant(role, name, "30 days", address))
            chosen.append(Variant(role, name, "12 months", f"{address}?{year}"))
    pages = {address: name for name, address in rendering.PAGES.items()}
    if (name := pages.get("/siaran")) is not None:  # a broadcast's own page: counts by status and receipt
        if seeded.largest_campaign:
            chosen.append(Variant("staff", name, "largest", f"/siaran/{seeded.largest_campaign}", True))
        if seeded.officer_largest_campaign:
            chosen.append(Variant("officer", name, "her largest", f"/siaran/{seeded.officer_largest_campaign}", True))
    if (name := pages.get("/prospek")) is not None:
        deepest = max(1, min(200, int(0.9 * seeded.rows["leads"] / 50)))  # LAST_PAGE of leads.py: 200
        region = seeded.busiest_region.replace(" ", "+")
        chosen += [
            Variant("staff", name, f"12 mo, page {deepest}", f"/prospek?{year}&halaman={deepest}", True),
            Variant(
                "staff", name, "12 mo, filtered", f"/prospek?{year}&wilayah={region}&pekerjaan=petani&status=baru", True
            ),
            Variant("staff", name, "12 mo, campaign code", f"/prospek?{year}&kode={seeded.busiest_code}", True),
            Variant("officer", name, "12 mo, status baru", f"/prospek?{year}&status=baru", True),
        ]
    return chosen


def measure(browsers: dict[str, Browser], chosen: list[Variant], requests: int, budget: float) -> list[Measured]:
    """Each variant `requests` times after the warm-ups, or fewer (never under MIN_REQUESTS) once the variant has
    taken `budget` seconds: a page of seconds must not make the run last hours (its n says so)."""
    results = []
    for variant in chosen:
        browser = browsers[variant.role]
        path = DASHBOARD_PATH + variant.path
        result = Measured(variant)
        status, _, body = browser.request("GET", path)
        if status == 404 and variant.extra:
            result.skipped = "not served (404)"
            results.append(result)
            continue
        for _ in range(WARMUPS - 1):
            browser.request("GET", path)
        started = time.perf_counter()
        for done in range(requests):
            if done >= MIN_REQUESTS and time.perf_counter() - started > budget:
                break
            began = time.perf_counter()
            status, _, body = browser.request("GET", path)
            result.times.append(time.perf_counter() - began)
            result.statuses.append(status)
        result.size = len(body)
        results.append(result)
        print(".", end="", flush=True)
    print()
    return results


# ------------------------------------------------------------------------------------------ the report


def report(kind: str, results: list[Measured], rss: float, slow_log: Path, shown: int) -> bool:
    target = TARGET_MS[kind]
    print(f"  {'role':<8} {'page':<12} {'variant':<22} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}", end="")
    print(f" {'KB':>5}  status  p95 <= {target:.0f} ms")
    ok = True
    for result in results:
        v = result.variant
        head = f"  {v.role:<8} {v.page:<12} {v.label:<22}"
        if result.skipped:
            print(f"{head} {result.skipped}")
            continue
        bad = sorted({status for status in result.statuses if status != 200})
        met = not bad and result.ms(95) <= target
        ok = ok and met
        statuses = "200" if not bad else "/".join(map(str, bad)) + "!"
        print(
            f"{head} {len(result.times):>3} {result.ms(50):8.1f} {result.ms(95):8.1f} {max(result.times) * 1000:8.1f}"
            f" {result.size / 1024:5.0f}  {statuses:<6}  {'PASS' if met else 'NOT MET'}"
        )
    rss_met = rss <= RSS_TARGET_MB
    print(f"  peak RSS of the serving process (VmHWM): {rss:.0f} MB (target <= {RSS_TARGET_MB} MB): ", end="")
    print("PASS" if rss_met else "NOT MET")
    slowest = _slow_statements(slow_log)
    if slowest:
        print(f"  slowest statements (of {sum(s['count'] for s in slowest.values()):,} over the threshold):")
        for sql, seen in sorted(slowest.items(), key=lambda item: -item[1]["max"])[:shown]:
            print(
                f"    {seen['count']:>4} x, max {seen['max']:7.1f} ms, median {statistics.median(seen['all']):7.1f} ms:"
            )
            print(f"      {_compact(sql)}")
            print(f"      parameters of the slowest: {seen['parameters']}")
    return ok and rss_met


_PLACEHOLDERS = re.compile(r"(?:(?:\?|\$\d+(?:::\w+)?), ){3,}(?:\?|\$\d+(?:::\w+)?)")


def _compact(sql: str) -> str:
    """The statement on one line, a long list of placeholders (`IN (?, ?, ...)`) shortened to its count."""
    return _PLACEHOLDERS.sub(lambda found: f"<{found.group(0).count(',') + 1} placeholders>", " ".join(sql.split()))


def _slow_statements(path: Path) -> dict[str, dict]:
    found: dict[str, dict] = {}
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        seen = found.setdefault(entry["sql"], {"count": 0, "max": 0.0, "all": [], "parameters": ""})
        seen["count"] += 1
        seen["all"].append(entry["ms"])
        if entry["ms"] > seen["max"]:
            seen["max"], seen["parameters"] = entry["ms"], entry["parameters"]
    return found


def run(kind: str, url: str, seeded: Seeded, args: argparse.Namespace) -> bool:
    print(f"  rows: {_counts(seeded)}")
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder,
        serving(url, Path(folder), args.slow_ms) as server,
    ):
        browsers = {
            "staff": Browser(server, seeded.staff_telegram),
            "officer": Browser(server, seeded.officer_telegram),
        }
        chosen = variants(seeded)
        regions = ", ".join(seeded.officer_regions)
        print(f"  {len(chosen)} page variants x ({WARMUPS} warm-ups + {args.requests} timed), staff and an officer"
              f" ({regions}), sequential on keep-alive connections")  # fmt: skip
        results = measure(browsers, chosen, args.requests, args.budget)
        rss = server.peak_rss_mb()
        for browser in browsers.values():
            browser.close()
        passed = report(kind, results, rss, server.slow_log, args.show_slow)
        if args.screenshots:
            pictures(server, seeded, Path(args.screenshots), Path(folder))
        return passed


def pictures(server: Server, seeded: Seeded, into: Path, folder: Path) -> None:
    """Every page of the menu, and the largest broadcast's own page, as the staff member sees them in Chromium."""
    from PIL import Image
    from selenium.webdriver.support.expected_conditions import url_to_be
    from selenium.webdriver.support.wait import WebDriverWait

    from tests.browser import INSTALLED, MISSING, chromium, screenshot

    if not INSTALLED:
        raise SystemExit(f"--screenshots needs {MISSING}")
    made = subprocess.run(
        [PYTHON, "-m", "bot", "dashboard", "link", "--as", seeded.staff_telegram],
        env=server.env, cwd=server.folder, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    found = LINK.search(made.stdout)
    if made.returncode or found is None:
        raise SystemExit(f"bpu-bot dashboard link failed:\n{made.stderr}")
    into.mkdir(parents=True, exist_ok=True)
    origin = f"http://127.0.0.1:{server.port}"
    pages = dict(rendering.PAGES)
    if "/siaran" in pages.values() and seeded.largest_campaign:
        pages["campaign"] = f"/siaran/{seeded.largest_campaign}"
    with chromium(folder / "chromium") as driver:
        driver.get(origin + found.group(1))
        driver.find_element("css selector", "form button[type=submit]").click()
        WebDriverWait(driver, 30).until(url_to_be(f"{origin}{DASHBOARD_PATH}/"))  # signed in: the cookie is set
        for name, address in pages.items():
            driver.get(f"{origin}{DASHBOARD_PATH}{address}")
            path = screenshot(driver, into, name)
            # 256 colours are all a page of flat colours uses: a third of the bytes in the repository.
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
            print(f"  picture: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page variant")
    parser.add_argument("--budget", type=float, default=120, help="seconds of timed requests a variant may take"
                        f" before it stops short of --requests (at least {MIN_REQUESTS} are made)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache", default=str(ROOT / "bench" / ".cache"), help="where seeded SQLite files are kept")
    parser.add_argument("--fresh", action="store_true", help="seed again even when a seeded database is kept")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database for the next run")
    parser.add_argument("--slow-ms", type=float, default=100, help="statements slower than this are reported")
    parser.add_argument("--show-slow", type=int, default=5, help="how many of the slowest statements to print")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--screenshots", metavar="DIR", help="save a picture of every page in DIR (Chromium)")
    args = parser.parse_args()
    print(f"$ {shlex.join([sys.executable, '-m', 'bench.dashboard', *sys.argv[1:]])}")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {sys.version.split()[0]},"
        f" SQLite {sqlite3.sqlite_version}, pages: {', '.join(rendering.PAGES)}"
    )
    ok = True
    if args.database in ("sqlite", "both"):
        url, seeded = sqlite_database(args)
        ok = run("sqlite", url, seeded, args) and ok
    if args.database in ("postgresql", "both"):
        with postgresql_database(args) as (url, seeded):
            ok = run("postgresql", url, seeded, args) and ok
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
