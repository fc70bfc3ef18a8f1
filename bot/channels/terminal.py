"""The conversation in a terminal: one line in, the replies out, choices as numbered options.

It reads standard input line by line, so a conversation can be piped in (tests, demos at a sosialisasi).
Typing a number picks that option of the last message; anything else is sent as typed text, and lines
starting with / are commands, as on Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TextIO

from bot.conversation.dispatcher import Dispatcher
from bot.conversation.events import Inbound, Kind, Origin, Reply, encode_choice

CHANNEL = "terminal"


class TerminalChat:
    def __init__(self, dispatcher: Dispatcher, user: str, output: TextIO | None = None):
        self.dispatcher = dispatcher
        self.user = user
        # The streams of the moment, not of the import: a caller may have redirected them since.
        self.output = output if output is not None else sys.stdout
        self.options: list[tuple[int, str]] = []  # (serial, action) of the last numbered choices

    def inbound(self, line: str) -> Inbound:
        text = line.strip()
        base: Origin = {"channel": CHANNEL, "external_id": self.user}
        if text.isdigit() and 1 <= int(text) <= len(self.options):
            serial, action = self.options[int(text) - 1]
            return Inbound(**base, kind=Kind.CHOICE, choice=encode_choice(serial, action))
        if text.startswith("/") and len(text) > 1:
            command, _, payload = text[1:].partition(" ")
            return Inbound(**base, kind=Kind.COMMAND, command=command.lower(), payload=payload.strip())
        return Inbound(**base, kind=Kind.TEXT, text=text)

    def show(self, replies: list[Reply]) -> None:
        for reply in replies:
            print(f"\n{reply.text}", file=self.output)
            if reply.document is not None:  # a terminal shows no files; say one came
                print(f"  [{reply.document[0]}]", file=self.output)
            if reply.choices:
                self.options = [(reply.serial, choice.action) for choice in reply.choices]
                for number, choice in enumerate(reply.choices, start=1):
                    print(f"  {number}. {choice.label}", file=self.output)
        self.output.flush()

    async def send(self, inbound: Inbound) -> None:
        self.show(await self.dispatcher.handle(inbound))

    async def run(self, lines: TextIO | None = None) -> None:
        lines = lines if lines is not None else sys.stdin
        await self.send(Inbound(channel=CHANNEL, external_id=self.user, kind=Kind.RESUME))
        queue: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # A daemon thread, not asyncio.to_thread: Ctrl-C must end the chat at once, and a thread blocked in
        # readline() would hold asyncio.run's shutdown until Enter.
        threading.Thread(target=_read_lines, args=(lines, loop, queue), daemon=True).start()
        while True:
            print("\n> ", end="", file=self.output, flush=True)
            line = await queue.get()
            if not line:  # end of input: a piped conversation is over
                print(file=self.output)
                return
            if line.strip():
                await self.send(self.inbound(line))


def _read_lines(lines: TextIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> None:
    for line in iter(lines.readline, ""):
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the chat ended (Ctrl-C) while a line was being typed
            return
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(queue.put_nowait, "")
