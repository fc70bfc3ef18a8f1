"""A message tried at a named step of the real conversation, by a person of its own.

What `bpu-bot understand "teks" --state name` shows an officer who reports a missed phrase, and what the labelled
sets in tests/nlu and the fuzz tests type their messages with: a first person is brought to the step
by the same buttons and answers a worker would use, each new person starts as a copy of them (their state, data
and consents: hundreds of messages are tried at the same steps), then the message goes through the dispatcher
like any other, so what is measured is what a worker gets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from bot.conversation.dispatcher import Dispatcher
from bot.conversation.events import Inbound, Kind, Reply, encode_choice
from bot.conversation.turn import Turn
from bot.db import loaded_value
from bot.services.contacts import copy_contact

CHANNEL = "terminal"
_MENU = (("command", "start"), ("tap", "occ:nelayan"))
_CONSENT = (*_MENU, ("tap", "interest"))
_REMINDERS = (*_CONSENT, ("tap", "consent:yes"))
_NAME = (*_REMINDERS, ("tap", "reminders:yes"))
_PHONE = (*_NAME, ("text", "Budi Santoso"))
_REGION = (*_PHONE, ("text", "081234567890"))
# How a person reaches each step, by the names the labelled sets use (see shared/nlu/README.md).
STEPS: dict[str, tuple[tuple[str, str], ...]] = {
    "new": (),
    "occupation": (("command", "start"),),
    "menu": _MENU,
    "consent": _CONSENT,
    "reminders": _REMINDERS,
    "name": _NAME,
    "phone": _PHONE,
    "region": _REGION,
    "calltime": (*_REGION, ("tap", "region:0")),
    "calc": (*_MENU, ("tap", "calc")),
    "ask_question": (*_MENU, ("tap", "ask"), ("tap", "ask_region:0")),
    "stop_confirm": (*_MENU, ("tap", "stop")),
    "erase_confirm": (*_MENU, ("tap", "erase")),
}


class UnknownStep(ValueError):
    pass


@dataclass
class Tried:
    """One message at one step: the person, the state it was typed in, the turn and the bot's answer."""

    person: str
    state: str
    turn: Turn
    replies: list[Reply]


class Rehearsal:
    def __init__(self, dispatcher: Dispatcher, prefix: str = "rehearsal"):
        self.dispatcher = dispatcher
        self._people = (f"{prefix}-{n}" for n in itertools.count(1))
        self._first: dict[str, str] = {}  # the person first brought to each step

    async def at(self, step: str) -> str:
        """A new person at `step`: their id."""
        if step not in STEPS:
            raise UnknownStep(f"unknown step {step!r}: one of {', '.join(STEPS)}")
        if not STEPS[step]:
            return next(self._people)  # a first message: nobody to copy
        if (first := self._first.get(step)) is None:
            first = self._first[step] = await self._walk(step, f"{next(self._people)}-first")
        person, dispatcher = next(self._people), self.dispatcher
        async with dispatcher.sessions.begin() as session:
            await copy_contact(session, CHANNEL, first, person, dispatcher.clock())
        return person

    async def _walk(self, step: str, person: str) -> str:
        """`person` brought to `step` by the buttons and answers of STEPS."""
        serial = 0
        for kind, value in STEPS[step]:
            if kind == "command":
                replies = await self._send(Inbound(CHANNEL, person, Kind.COMMAND, command=value))
            elif kind == "tap":
                replies = await self._send(Inbound(CHANNEL, person, Kind.CHOICE, choice=encode_choice(serial, value)))
            else:
                replies = await self._send(Inbound(CHANNEL, person, Kind.TEXT, text=value))
            serial = replies[-1].serial if replies else serial
        return person

    async def _send(self, inbound: Inbound, trace: list[Turn] | None = None) -> list[Reply]:
        return await self.dispatcher.handle(inbound, trace=trace)

    async def tell(self, step: str, text: str) -> Tried:
        """`text` typed by a new person at `step`."""
        person = await self.at(step)
        trace: list[Turn] = []
        replies = await self._send(Inbound(CHANNEL, person, Kind.TEXT, text=text), trace)
        turn = trace[0]
        # Read without loading: after a turn that failed, the contact is no longer attached to a session.
        state = loaded_value(turn.contact, "state", "")
        return Tried(person, state, turn, replies)
