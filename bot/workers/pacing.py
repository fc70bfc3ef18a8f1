"""Pacing sends to a platform's limit: evenly spaced, never more than `rate` in any second, paused by a 429.

The spacing keeps the platform's sliding window from ever seeing a burst; the window itself is counted over
a little more than a second, so jitter on the way (a few milliseconds) cannot push two sends into the same
second at the server. Real time, not the app's clock: it is about the platform's seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

WINDOW_SECONDS = 1.02


class Pacer:
    def __init__(
        self,
        rate: float | None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        """`rate` messages per second; None for no limit of our own (benchmarks of the engine's ceiling).
        Tests pass a clock of their own and a sleep that moves it."""
        self.rate = rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._interval = 1 / rate if rate else 0.0
        self._capacity = max(1, math.floor(rate)) if rate else 0
        self._starts: deque[float] = deque()
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this send's turn. Callers queue on the lock, so turns are taken in order."""
        async with self._lock:
            # A wait is recomputed after sleeping: a 429 may have paused everyone meanwhile.
            while (wait := self._wait(self._monotonic())) > 0:  # noqa: ASYNC110 - time, not an event, is awaited
                await self._sleep(wait)
            now = self._monotonic()
            if self.rate:
                self._starts.append(now)
                # Keep to the schedule after a slightly late wake-up (asyncio.sleep overshoots by about a
                # millisecond, which would cost 3% at 30/s); after a longer stall, start a fresh schedule
                # rather than make up for it with a burst.
                if now - self._next > self._interval:
                    self._next = now
                self._next += self._interval

    def _wait(self, now: float) -> float:
        wait = self._paused_until - now
        if not self.rate:
            return wait
        while self._starts and self._starts[0] <= now - WINDOW_SECONDS:
            self._starts.popleft()
        wait = max(wait, self._next - now)
        if len(self._starts) >= self._capacity:
            wait = max(wait, self._starts[0] + WINDOW_SECONDS - now)
        return wait

    def pause(self, seconds: float) -> None:
        """The platform said "retry after": nobody sends through this pacer until then."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)
