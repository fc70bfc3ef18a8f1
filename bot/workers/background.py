"""What the background workers (the broadcast engine, the exporter) share: a loop that works while there is
work, then sleeps until woken or until it is time to look again (work queued by another process wakes no one
here). The rows are the state: a worker holds nothing that a restart would lose."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class Worker:
    idle_seconds: float  # how long an idle worker sleeps before it looks for work again

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self.stopping = False

    async def step(self) -> bool:
        """Do one piece of work; True when there was some (more may be waiting)."""
        raise NotImplementedError

    async def finish(self) -> None:
        """After the last step, when stopping: complete what is in flight."""

    async def run(self) -> None:
        """Until stop(): step while there is work, otherwise wait for a wake or for `idle_seconds`."""
        while not self.stopping:
            self._wake.clear()  # before the step: a wake during it means another step, not a wait
            try:
                worked = await self.step()
            except Exception:
                log.exception("%s step failed; trying again shortly", type(self).__name__)
                worked = False
            if not worked and not self.stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
        await self.finish()

    def start(self) -> asyncio.Task[None]:
        """Run in a task of its own; again after a stop (a process that leads again)."""
        self.stopping = False
        return asyncio.create_task(self.run())

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Leave the loop after the step in hand."""
        self.stopping = True
        self._wake.set()
