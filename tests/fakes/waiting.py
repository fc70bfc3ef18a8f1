"""What both platform fakes share for tests that wait: their state changes under one lock, from the server's
threads or the test's loop, and threads and coroutines alike can wait for a change."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import suppress


class Changes:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def _notify(self) -> None:
        """Wake every thread and coroutine waiting for a state change; the caller holds the lock."""
        self._cond.notify_all()
        for loop, event in self._async_waiters:
            # A waiter whose loop already closed has nobody left to wake.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def _wait_async(self, predicate: Callable[[], bool]) -> None:
        """Await ``predicate`` without blocking the loop; changes may come from other threads.

        Callers bound the wait with ``asyncio.timeout``.
        """
        loop = asyncio.get_running_loop()
        while True:
            waiter = (loop, asyncio.Event())
            with self._cond:
                if predicate():
                    return
                self._async_waiters.add(waiter)
            try:
                await waiter[1].wait()
            finally:
                with self._cond:
                    self._async_waiters.discard(waiter)
