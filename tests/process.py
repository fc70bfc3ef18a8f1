"""Run the `bpu-bot` CLI as a real process, with nothing leaking in.

The environment is built from scratch (no developer variables, no stray `.env`: run with cwd=tmp_path), every
wait is bounded, and every process a test starts is stopped when the test ends, whatever happened. A process is
forked from the worker's zygote, which imported the bot once (tests/zygote.py); `fresh=True` starts a new Python,
`python -m bot` as an operator runs it, as a test of `run`, `chat`, `db upgrade` and `broadcast` each does.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout, suppress
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from tests import database
from tests.zygote import STARTUP, Forked, Zygote, same_startup

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# What the terminal chat prints when it waits for the next line.
PROMPT = "\n> "
CLI_TIMEOUT = 30.0


def bot_env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """A minimal environment for the bot: the test's database (tests/database.py) plus the variables under test.

    A value of None leaves the variable out (e.g. DATABASE_URL=None to use the built-in default).
    """
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp_path),
        **STARTUP,  # PYTHONPATH (this checkout), LANG, PYTHONUNBUFFERED
        "DATABASE_URL": database.current().url,
    }
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cli(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    input: str | None = None,
    timeout: float = CLI_TIMEOUT,
    fresh: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m bot <args>` to completion (killed if it outlives `timeout`), output captured as text."""
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        given.write((input or "").encode())
        given.seek(0)
        process = start(args, env, cwd, given.fileno(), out.fileno(), err.fileno(), fresh=fresh)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(process.args, process.wait(), _text(out.read()), _text(err.read()))


def _text(data: bytes) -> str:
    """What `subprocess.run(text=True)` makes of a stream: UTF-8, with universal newlines."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


Process = Forked | subprocess.Popen[bytes]


def start(
    args: list[str], env: dict[str, str], cwd: Path, stdin: int, stdout: int, stderr: int, fresh: bool = False
) -> Process:
    """`python -m bot <args>` in the background on these descriptors: forked from this worker's zygote
    (tests/zygote.py), or a new Python when `fresh` or when `env` sets what Python reads as it starts."""
    global _zygote
    command = [PYTHON, "-m", "bot", *args]
    if fresh or not same_startup(env):
        return subprocess.Popen(command, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr)
    if _zygote is None or not _zygote.alive:
        _zygote = Zygote()
        atexit.register(_zygote.close)
    return Forked(_zygote.spawn(args, env, cwd, stdin, stdout, stderr), command)


_zygote: Zygote | None = None


def run_cli_here(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`run_cli` in this process: what `bpu-bot <args>` prints and its exit code, without starting Python again.

    The command line reads the environment it was given (and `.env` in `cwd`) as a process started with `env`
    would; this process's environment, working directory, standard streams and logging are put back after, so
    nothing leaks into the next test. For the tests whose subject is not the process itself: every kind of
    command keeps tests through `run_cli`, a process of its own, and one with a new Python (`fresh=True`).
    """
    import bot.cli.main as cli_main

    saved_environ, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    root = logging.getLogger()
    saved_logging = root.handlers[:], logging.raiseExceptions
    # configure_logging (bot/logs.py) sets the levels of the bot's and the libraries' loggers for a whole process.
    saved_levels = {name: logger.level for name, logger in _loggers()}
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdin = io.StringIO(input or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli_main.main(args)
            except SystemExit as exit:  # argparse's --help and its own mistakes end the process
                code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
                if isinstance(exit.code, str):
                    print(exit.code, file=sys.stderr)
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        root.handlers[:], logging.raiseExceptions = saved_logging
        for name, logger in _loggers():
            logger.setLevel(saved_levels.get(name, logging.NOTSET))
    return subprocess.CompletedProcess([PYTHON, "-m", "bot", *args], code, out.getvalue(), err.getvalue())


def _loggers() -> Iterator[tuple[str, logging.Logger]]:
    yield "", logging.getLogger()
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            yield name, logger


def migrate(env: dict[str, str], cwd: Path) -> None:
    result = run_cli(["db", "upgrade"], env, cwd)
    assert result.returncode == 0, f"db upgrade failed ({result.returncode}):\n{result.stderr}"


def chat_lines(*lines: str) -> str:
    """What a person types, one line each, as piped to `bpu-bot chat`."""
    return "".join(f"{line}\n" for line in lines)


def screens(stdout: str) -> list[str]:
    """The terminal output cut at each prompt: screens[0] is what was shown before the first line was read,
    screens[i] what answered the i-th line typed."""
    return stdout.split(PROMPT)


def rows(sql: str, *params: object) -> list[database.Row]:
    """Read the test's database the way a person inspecting it would: a fresh connection, closed after."""
    return database.current().rows(sql, *params)


@cache
def _catalog(locale: str) -> dict[str, str]:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return {message.id: message.string for message in read_po(file) if message.id}


def catalog_text(locale: str, key: str) -> str:
    """A message as written in locales/<locale>/LC_MESSAGES/messages.po (placeholders not filled in)."""
    return _catalog(locale)[key]


def _stop(process: Process, grace: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


class BotProcess:
    """`python -m bot run` in the background; its stderr (the log) goes to a file a failing test can show."""

    def __init__(self, process: Process, log_path: Path):
        self.process = process
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine loses power or the OOM killer strikes."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM as a service manager sends it (SIGKILL if it does not end); returns the exit code."""
        _stop(self.process)
        return self.process.returncode


@contextmanager
def running_bot(
    env: dict[str, str],
    cwd: Path,
    log_name: str = "bot-stderr.log",
    ready: Callable[[], bool] | None = None,
    startup_timeout: float = 20.0,
    command: tuple[str, ...] = ("run",),
    fresh: bool = False,
) -> Iterator[BotProcess]:
    """Start `python -m bot run` (or another long-running `command`) and always stop it; a failure inside
    carries the bot's log as a note.

    With `ready`, wait until it is true, failing at once (with the log) if the process exits first.
    """
    log_path = cwd / log_name
    with log_path.open("ab") as log_file, open(os.devnull, "rb") as nothing:
        process = start(list(command), env, cwd, nothing.fileno(), log_file.fileno(), log_file.fileno(), fresh)
    bot = BotProcess(process, log_path)
    try:
        if ready is not None:
            _wait_until_ready(bot, ready, startup_timeout)
        yield bot
    except BaseException as error:
        error.add_note(f"--- stderr of `bpu-bot run` ({log_path}) ---\n{bot.log}")
        raise
    finally:
        _stop(process)


def _wait_until_ready(bot: BotProcess, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not bot.running:
            raise AssertionError(f"`bpu-bot run` exited with code {bot.process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise AssertionError(f"`bpu-bot run` was not ready within {timeout}s")
        time.sleep(0.02)


class TerminalSession:
    """`python -m bot chat` driven line by line through a pipe, waiting for its prompt after each line."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, log_name: str = "chat-stderr.log", fresh: bool = False
    ):
        self.log_path = cwd / log_name
        typed, given = os.pipe()
        shown, shows = os.pipe()
        with self.log_path.open("ab") as log_file:
            self.process = start(["chat", *args], env, cwd, typed, shows, log_file.fileno(), fresh)
        os.close(typed)
        os.close(shows)
        self.stdin = os.fdopen(given, "wb")
        self.stdout = os.fdopen(shown, "rb")
        self._pending = b""
        self.output = ""  # everything shown so far

    def read_screen(self, timeout: float = 15.0) -> str:
        """Wait for the prompt; return what the bot printed before it."""
        deadline = time.monotonic() + timeout
        marker = PROMPT.encode()
        with selectors.DefaultSelector() as selector:
            selector.register(self.stdout, selectors.EVENT_READ)
            while marker not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise AssertionError(f"no prompt within {timeout}s; shown so far:\n{self._shown()}")
                chunk = os.read(self.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"the chat ended before its prompt; shown so far:\n{self._shown()}")
                self._pending += chunk
        screen, _, self._pending = self._pending.partition(marker)
        text = screen.decode("utf-8")
        self.output += text + PROMPT
        return text

    def type(self, line: str, timeout: float = 15.0) -> str:
        """Type one line and return the bot's answer to it (once the next prompt is shown)."""
        self.stdin.write(f"{line}\n".encode())
        self.stdin.flush()
        return self.read_screen(timeout)

    def kill_hard(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def interrupt(self, timeout: float) -> int | None:
        """Ctrl-C (SIGINT); the exit code, or None if the process is still running after `timeout`."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> int:
        """End of input, as when the pipe closes; returns the exit code."""
        if not self.stdin.closed:
            with suppress(BrokenPipeError):
                self.stdin.close()
        try:
            self.process.wait(10)
        finally:
            _stop(self.process)
            self.stdout.close()
        return self.process.returncode

    def _shown(self) -> str:
        log = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return self.output + self._pending.decode("utf-8", errors="replace") + f"\n--- stderr ---\n{log}"

    def __enter__(self) -> TerminalSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
