"""Understanding benchmark: what reading typed text costs, at start-up and per message.

(1) Start-up: loading the content and building the Understanding (stemming and fuzzing the vocabulary, training
    the classifier), once, in this process before anything else has built one: what every bot process pays
    before its first answer (bot.conversation.understanding.Understanding directly, not the cached understanding_for).
(2) The understanding step of one message: `read(text, options)` for every row of the three labelled sets
    (content/examples.tsv, tests/nlu/heldout.tsv, ../shared/nlu/worker-messages.tsv), with the options a worker
    has at that row's step, built as the bot builds them. A first pass with the word caches empty (a word the
    process has not read yet: spelling out, stemming, near-miss search), then a second, warm, pass; the same
    for the messages of more than 15 words alone (voice-to-text run-ons, the slowest to read). The dispatcher
    reads every typed message, so this is latency each one adds before the bot answers.
(3) With --conversation: bench.conversation's whole-stack throughput on the current tree and on the code before
    the understanding work (commit b7dac32, a git worktree in /tmp/bench-before), each in its own process,
    alternating, so the cost of the understanding shows in updates/s.

    python -m bench.understanding [--conversation] [--workers 1000] [--rounds 3]

Prints the start-up times, p50/p90/p99/max per message in ms and, with --conversation, updates/s per round and
their medians.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = (
    ROOT / "content" / "examples.tsv",
    ROOT / "tests" / "nlu" / "heldout.tsv",
    ROOT.parent / "shared" / "nlu" / "worker-messages.tsv",
)
LONG = 15  # words: more than this is a run-on, as voice-to-text writes them
YES_NO_STATES = ("consent", "reminders", "stop_confirm", "erase_confirm")

BEFORE_COMMIT = "b7dac32"  # the code before the understanding work
BEFORE_TREE = Path("/tmp/bench-before")
_RATE = re.compile(r"^bpu-bot\s+\d+ updates\s+(\d+) updates/s\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms", re.MULTILINE)


@dataclass(frozen=True)
class Message:
    state: str
    text: str
    options: tuple  # of bot.conversation.understanding.Option

    @property
    def long(self) -> bool:
        return len(self.text.split()) > LONG


def start_up() -> tuple[object, object, dict[str, float]]:
    """Import, load the content and build the Understanding, each timed: the first thing this process does."""
    timings = {}
    started = time.perf_counter()
    understanding_module = importlib.import_module("bot.conversation.understanding")
    content_module = importlib.import_module("bot.content")
    timings["import bot.conversation.understanding"] = time.perf_counter() - started
    started = time.perf_counter()
    content = content_module.load_content()
    timings["load_content"] = time.perf_counter() - started
    started = time.perf_counter()
    understanding = understanding_module.Understanding(content)
    timings["Understanding(content)"] = time.perf_counter() - started
    return content, understanding, timings


def read_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["state"], row["text"]) for row in reader]


def options_for(state: str, content, label) -> tuple:  # noqa: ANN001 - Content, and the catalog's gettext
    """The buttons a worker has at the step, with what they mean, as the bot's handlers build them."""
    from bot.conversation.understanding import Option
    from bot.models import Occupation

    if state == "occupation":
        return tuple(Option(f"occupation:{o}", label(f"occupation.{o}.label")) for o in Occupation)
    if state == "region":
        return tuple(Option(f"region:{region}", region) for region in content.regions)
    if state == "calltime":
        from handlers.interest import CALL_TIMES

        return tuple(Option(f"calltime:{c}", label(f"interest.call_time.{c}")) for c in CALL_TIMES)
    if state in YES_NO_STATES:
        return (Option("answer:yes", "Setuju"), Option("answer:no", "Tidak"))
    return ()


def messages(content) -> tuple[list[Message], dict[str, int]]:  # noqa: ANN001
    from bot.i18n import load_catalogs

    label = load_catalogs()["id"].gettext
    found, counts = [], {}
    for path in SETS:
        rows = read_rows(path)
        counts[path.name] = len(rows)
        found += [Message(state, text, options_for(state, content, label)) for state, text in rows]
    return found, counts


def read_all(understanding, found: list[Message]) -> list[int]:  # noqa: ANN001
    """Nanoseconds of each read, in order."""
    timings = []
    for message in found:
        started = time.perf_counter_ns()
        understanding.read(message.text, message.options)
        timings.append(time.perf_counter_ns() - started)
    return timings


def _report(name: str, nanoseconds: list[int]) -> None:
    ms = [t / 1e6 for t in nanoseconds]
    if not ms:
        print(f"{name:<22} {0:>8}")
        return
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    print(f"{name:<22} {len(ms):>8}  {q[49]:8.3f}  {q[89]:8.3f}  {q[98]:8.3f}  {max(ms):8.3f}")


def _run_conversation(tree: Path, workers: int) -> tuple[int, float, float]:
    command = [sys.executable, "-m", "bench.conversation", "--workers", str(workers)]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    match = _RATE.search(done.stdout)
    if done.returncode != 0 or match is None:
        output = done.stdout + done.stderr[-3000:]
        raise SystemExit(f"bench.conversation in {tree} failed ({done.returncode}):\n{output}")
    return int(match.group(1)), float(match.group(2)), float(match.group(3))


def _before_tree() -> Path:
    """The worktree of the code before, with its catalogs compiled (they are not in git)."""
    if not BEFORE_TREE.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", str(BEFORE_TREE), BEFORE_COMMIT], check=True)
    locales = BEFORE_TREE / "locales"
    if not all((d / "LC_MESSAGES" / "messages.mo").is_file() for d in locales.iterdir() if d.is_dir()):
        pybabel = Path(sys.executable).parent / "pybabel"
        subprocess.run([str(pybabel), "compile", "-d", str(locales), "-D", "messages"], check=True, capture_output=True)
        print(f"compiled the catalogs of {locales}")
    return BEFORE_TREE


def compare_conversation(workers: int, rounds: int) -> None:
    before_tree = _before_tree()
    trees = {"before": before_tree, "current": ROOT}
    rates: dict[str, list[int]] = {name: [] for name in trees}
    print(
        f"\nbench.conversation --workers {workers}, each run its own process: before = {BEFORE_COMMIT} "
        f"({before_tree}), current = working tree ({ROOT}); order alternates by round"
    )
    for round_ in range(1, rounds + 1):
        order = list(trees) if round_ % 2 else list(reversed(trees))
        results = {}
        for name in order:
            results[name] = _run_conversation(trees[name], workers)
            rates[name].append(results[name][0])
        parts = [
            f"{name} {results[name][0]:>6} updates/s (p50 {results[name][1]:.2f} ms, p99 {results[name][2]:.2f} ms)"
            for name in trees
        ]
        ratio = results["current"][0] / results["before"][0]
        print(f"round {round_}  " + "   ".join(parts) + f"   current/before {ratio:.2f}")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(
        f"median   before {medians['before']:>6.0f} updates/s   current {medians['current']:>6.0f} updates/s   "
        f"current/before {medians['current'] / medians['before']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversation", action="store_true", help="also compare bench.conversation with b7dac32")
    parser.add_argument("--workers", type=int, default=1000, help="bench.conversation's --workers")
    parser.add_argument("--rounds", type=int, default=3, help="bench.conversation runs of each tree")
    args = parser.parse_args()
    if args.workers < 1 or args.rounds < 1:
        parser.error("--workers and --rounds must be at least 1")

    content, understanding, timings = start_up()
    total = sum(timings.values())
    print("start-up, once, fresh process: " + "   ".join(f"{k} {v:.3f} s" for k, v in timings.items()))
    print(f"  load_content + Understanding(content): {total - timings['import bot.conversation.understanding']:.3f} s")

    found, counts = messages(content)
    cold = read_all(understanding, found)
    warm = read_all(understanding, found)
    long = [i for i, message in enumerate(found) if message.long]
    sets = ", ".join(f"{name} {count}" for name, count in counts.items())
    with_options = sum(1 for message in found if message.options)
    print(f"\nread(text, options) per message: {len(found)} messages ({sets}), {with_options} with step options")
    print(f"{'':<22} {'messages':>8}  {'p50 ms':>8}  {'p90 ms':>8}  {'p99 ms':>8}  {'max ms':>8}")
    _report("all, cold", cold)
    _report("all, warm", warm)
    _report(f">{LONG} words, cold", [cold[i] for i in long])
    _report(f">{LONG} words, warm", [warm[i] for i in long])

    if args.conversation:
        compare_conversation(args.workers, args.rounds)


if __name__ == "__main__":
    main()
