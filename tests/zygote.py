"""`bpu-bot` processes forked from one that has already imported the bot, instead of each importing it anew.

Most of a command's start-up is Python importing the bot and its libraries (about 0.5 s of CPU each, for some
fifty processes the suite starts). A zygote, one per test worker, imports all of it once, then forks a new
process for each command a test starts: a real process with its own pid, environment, working directory and
standard streams, that signals kill and that ends with its own exit code, running `bot.cli.main.main()` as
`python -m bot` does (after its import) and ending as Python ends, but for freeing the heap it was forked with
(`_finish`). What Python reads only when it starts (STARTUP: the locale, PYTHON*, the hash seed) is the
zygote's, so a test that sets one of those gets a new Python; and a test of `run`, `chat`, `db upgrade` and
`broadcast` each keeps a new Python (`fresh=True` in tests/process.py), so that what those commands import, and
how they end, is still tried as a new Python does it.

The forked process is made a child of the test worker (the worker is a "child subreaper", and the zygote forks
twice), so the test waits for it and reads its exit code as for any process it started. A side effect: any other
orphan below the worker (a browser's helper) becomes its child too, a zombie until the worker ends.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
ANSWER_SECONDS = 30.0
# The environment Python reads when it starts; a forked process has the zygote's.
STARTUP = {"PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


def same_startup(env: dict[str, str]) -> bool:
    """Whether a process started with `env` would start as the zygote did."""
    read_at_start = {name for name in env if name.startswith(("PYTHON", "LC_"))} | set(STARTUP)
    return all(env.get(name) == STARTUP.get(name) for name in read_at_start)


class Zygote:
    """The test worker's end: starts the zygote once, asks it for processes."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.settimeout(ANSWER_SECONDS)  # the first answer waits for the zygote's imports
        self.socket = ours
        self.lock = threading.Lock()
        env = {"PATH": os.environ.get("PATH", os.defpath), **STARTUP}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote", str(theirs.fileno())],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
        )
        theirs.close()

    def spawn(self, args: list[str], env: dict[str, str], cwd: Path, stdin: int, stdout: int, stderr: int) -> int:
        """A new `bpu-bot <args>` process on the given descriptors: its pid (a child of this process)."""
        request = json.dumps({"args": args, "env": env, "cwd": str(cwd)}).encode()
        message = len(request).to_bytes(4, "big") + request
        with self.lock:
            sent = socket.send_fds(self.socket, [message], [stdin, stdout, stderr])
            if sent < len(message):
                self.socket.sendall(message[sent:])
            answer = b""
            while len(answer) < 8 and (chunk := self.socket.recv(8 - len(answer))):
                answer += chunk
        pid = int.from_bytes(answer, "big") if len(answer) == 8 else 0
        if pid == 0:
            raise RuntimeError(f"the zygote could not start `bpu-bot {' '.join(args)}` ({self.process.poll()=})")
        return pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.socket.close()  # the zygote ends when its socket does
        self.process.wait(10)


class Forked:
    """A forked `bpu-bot` process, with what tests use of `subprocess.Popen`: poll, wait, signals, returncode."""

    def __init__(self, pid: int, args: list[str]):
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _preload() -> None:
    """Everything a command may import: the bot, its handlers, and what they import only when used; and what
    every app builds from the shipped files (the content, the catalogs, the understanding with its stemmed
    vocabulary and classifier: about 0.1 s of CPU a command). Each of those is kept by its files' stamps, so a
    command whose files or regions differ still builds its own."""
    import importlib
    import pkgutil

    import bot
    import handlers

    for package in (bot, handlers):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)

    from bot.content import load_content
    from bot.conversation.understanding import understanding_for
    from bot.i18n import load_catalogs

    load_catalogs()
    understanding_for(load_content())


def _finish(run: Callable[[], int | str | None]) -> NoReturn:
    """Run the command and end the process as Python ends it, but for freeing every object the zygote made,
    which in a forked copy touches (and so copies) each page of them: about 50 ms of CPU a command. What a
    command can see of the end is kept: threads that are not daemons are waited for, atexit's functions run
    (logging's flush among them; `_run_exitfuncs` is CPython's own step for it), the streams are flushed, and
    the exit code is SystemExit's as Python makes it. An uncaught exception ends the usual way, traceback and
    all."""
    try:
        code = run()
    except SystemExit as exit:
        code = exit.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _serve(channel: socket.socket) -> dict:
    """Fork a process for each request; returns only in a forked process, with its request."""
    while True:
        try:
            data, fds, _flags, _address = socket.recv_fds(channel, 65536, 3)
        except OSError:
            data, fds = b"", []
        while data and len(data) < 4 + int.from_bytes(data[:4], "big"):
            data += (more := channel.recv(65536))
            if not more:
                data = b""
        if not data:
            os._exit(0)  # the test worker closed its end: nothing to flush, and freeing the heap only delays its end
        request = json.loads(data[4:])
        told, tell = os.pipe()
        middle = os.fork()
        if middle == 0:  # forks the process and ends, so that the process becomes the test worker's child
            child = -1
            try:
                os.close(told)
                child = os.fork()
                if child == 0:
                    os.close(tell)
                    channel.close()
                    for target, fd in enumerate(fds):
                        os.dup2(fd, target)
                        os.close(fd)
                    return request
                os.write(tell, child.to_bytes(8, "big"))
            finally:
                if child != 0:  # the middle, whatever happened (a fork that failed sends no pid)
                    os._exit(0)
        os.close(tell)
        child_pid = os.read(told, 8)
        os.close(told)
        os.waitpid(middle, 0)
        for fd in fds:
            os.close(fd)
        channel.sendall(child_pid if len(child_pid) == 8 else bytes(8))  # zeros: no process


if __name__ == "__main__":
    gc.disable()
    _preload()
    gc.freeze()
    gc.enable()
    request = _serve(socket.socket(fileno=int(sys.argv[1])))
    # From here on, a process of its own: `python -m bot <args>` in the test's environment and folder.
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    time.tzset()  # TZ, read again as a new Python would
    sys.argv = [str(ROOT / "bot" / "__main__.py"), *request["args"]]
    from bot.cli.main import main

    _finish(main)
