"""The pacer on a clock of its own: sends evenly spaced, never more than the limit in any second (with the
margin that absorbs jitter on the way), a late wake-up never turned into a burst, and a 429 pausing everyone."""

from __future__ import annotations

import asyncio

from bot.workers.pacing import WINDOW_SECONDS, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def most_in_any_window(starts: list[float], window: float = 1.0) -> int:
    return max(sum(1 for s in starts if first <= s < first + window) for first in starts)


async def starts_of(pacer: Pacer, clock: FakeTime, count: int) -> list[float]:
    starts = []
    for _ in range(count):
        await pacer.acquire()
        starts.append(clock.now)
    return starts


async def test_sends_are_spaced_at_the_rate_and_never_exceed_it_in_any_second():
    clock = FakeTime()
    pacer = Pacer(30, clock, clock.sleep)

    starts = await starts_of(pacer, clock, 300)

    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 1 / 30 - 1e-9
    assert most_in_any_window(starts, WINDOW_SECONDS) == 30
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    assert 0.97 * 30 <= achieved <= 30


async def test_a_late_wake_up_catches_up_one_interval_at_most():
    clock = FakeTime()
    pacer = Pacer(10, clock, clock.sleep)
    await starts_of(pacer, clock, 5)
    clock.now += 3  # the loop was busy for three seconds

    starts = await starts_of(pacer, clock, 4)

    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == [0.1, 0.1, 0.1]


async def test_a_429_pauses_every_sender_until_retry_after():
    clock = FakeTime()
    pacer = Pacer(None, clock, clock.sleep)
    await pacer.acquire()
    paused_at = clock.now
    pacer.pause(5)

    starts = await asyncio.gather(*(starts_of(pacer, clock, 1) for _ in range(3)))

    assert all(start[0] >= paused_at + 5 for start in starts)


async def test_without_a_rate_nothing_waits():
    clock = FakeTime()
    pacer = Pacer(None, clock, clock.sleep)
    starts = await starts_of(pacer, clock, 1000)
    assert starts[-1] == starts[0]
