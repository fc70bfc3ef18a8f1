"""How a conversation declares its steps: commands, keywords, buttons (actions), typed text and prompts, by state.

Conversation modules in handlers/ declare their steps on a Router; handlers/__init__.py composes them, and the
dispatcher (dispatcher.py) picks the step for each message.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot.conversation.words import normalise
from bot.models import Role
from bot.services.audit import record_event

if TYPE_CHECKING:  # a turn runs the router's steps: a cycle only for the type
    from bot.conversation.turn import Turn

Step = Callable[["Turn"], Awaitable[None]]
# A check before every turn (a consent text that changed): True when it answered the message itself.
BeforeStep = Callable[["Turn"], Awaitable[bool]]
ArgStep = Callable[["Turn", str], Awaitable[None]]
StepT = TypeVar("StepT", bound=Step)  # a decorated step keeps its own signature (extra keyword arguments)


@dataclass(frozen=True)
class Action:
    step: ArgStep
    # A decision (consent, saving, erasing) belongs to the step that asked for it: it is taken only in that
    # state and from the message that asked. Navigation (topics, FAQ, amounts; no state) works from any
    # older message too.
    state: str | None
    role: Role | None = None


def _guarded(step: Callable[..., Awaitable[None]], role: Role | None, action: str) -> Callable[..., Awaitable[None]]:
    """A step only people with `role` may take; anyone else is told so, the attempt goes to the audit log
    (as `action`, the conversation's name), and nothing else happens."""
    if role is None:
        return step

    @functools.wraps(step)
    async def guarded(turn: Turn, *argument: str) -> None:
        if turn.may(role):
            await step(turn, *argument)
        else:
            await record_event(turn.session, turn.actor, action, turn.now, allowed=False, step=step.__name__)
            await turn.refuse_role(role)

    return guarded


class Router:
    """One conversation's steps, keyed by how they are reached. Composed explicitly with `include`.

    `role=` on a command, action or text step limits it to that role and those above it: the check is made
    here, once, so a step cannot forget it, and a refusal is audited under the router's name.

    `rights=True`: every command, keyword, button and step of this router is one of the person's rights (STOP,
    HAPUS, DATA SAYA), which no check before the turn may hold up (see `Dispatcher.asks_for_a_right`).
    """

    def __init__(self, name: str, *, rights: bool = False):
        self.name = name
        self.rights = rights
        self.commands: dict[str, Step] = {}
        self.keywords: dict[str, Step] = {}
        self.actions: dict[str, Action] = {}
        self.prompts: dict[str, Step] = {}
        self.texts: dict[str, ArgStep] = {}
        self.contacts: dict[str, ArgStep] = {}
        self.guarded_states: set[str] = set()  # states only officers or admins can be in
        # A worker's step and the one line that asks it again after the bot answered a question typed there.
        # Only these steps take typed questions, cancels and yes/no words (an officer composing a broadcast
        # may well type a question that must be taken as text).
        self.agains: dict[str, str] = {}
        self.question_steps: set[str] = set()
        self.befores: list[BeforeStep] = []
        # The names the person's rights are reached by, per table (commands, keywords, actions, prompts).
        self.right_names: dict[str, set[str]] = {table: set() for table in _RIGHTS_TABLES}

    def _add(self, table: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
        for key in keys:
            if key in table:
                raise ValueError(f"{self.name}: {key!r} is registered twice")
            table[key] = value

    def command(self, *names: str, role: Role | None = None) -> Callable[[Step], Step]:
        def register(step: Step) -> Step:
            self._add(self.commands, names, _guarded(step, role, self.name))
            return step

        return register

    def keyword(self, *words: str) -> Callable[[Step], Step]:
        """Whole messages such as STOP or DATA SAYA, matched in any state and any letter case."""

        def register(step: Step) -> Step:
            self._add(self.keywords, tuple(normalise(w) for w in words), step)
            return step

        return register

    def action(
        self, name: str, *, decides: str | None = None, role: Role | None = None
    ) -> Callable[[ArgStep], ArgStep]:
        """A button `name` or `name:argument`; the step receives the argument ('' when there is none).

        `decides=STATE`: the button answers the question of that state and is refused anywhere else.
        """

        def register(step: ArgStep) -> ArgStep:
            self._add(self.actions, (name,), Action(_guarded(step, role, self.name), decides, role))
            return step

        return register

    def prompt(self, *states: str, again: str | None = None) -> Callable[[StepT], StepT]:
        """What to show to someone in this state: used on resume, after a stale button, after media.

        `again`: the message key of one short line that asks the step again (a worker's step, see `agains`).
        """

        def register(step: StepT) -> StepT:
            self._add(self.prompts, states, step)
            if again is not None:
                self._add(self.agains, states, again)
            return step

        return register

    def text(self, *states: str, role: Role | None = None, questions: bool = False) -> Callable[[ArgStep], ArgStep]:
        """A step that takes typed text (a name, a phone number, an income) in the given states.

        `questions=True`: a question is what the step waits for (one for an officer), so it is never answered
        in the step's place; the step may answer it besides (see `Dispatcher.answer_alongside`).
        """

        def register(step: ArgStep) -> ArgStep:
            self._add(self.texts, states, _guarded(step, role, self.name))
            if questions:
                self.question_steps.update(states)
            if role is not None:
                self.guarded_states.update(states)
            return step

        return register

    def contact(self, *states: str) -> Callable[[ArgStep], ArgStep]:
        def register(step: ArgStep) -> ArgStep:
            self._add(self.contacts, states, step)
            return step

        return register

    def before_turn(self, check: BeforeStep) -> BeforeStep:
        """A check run before every turn of someone already welcomed, after nothing else: it may answer the
        message in its place (returning True), and must let the person's rights through at once."""
        self.befores.append(check)
        return check

    def include(self, other: Router) -> None:
        for table in ("commands", "keywords", "actions", "prompts", "texts", "contacts", "agains"):
            for key, value in getattr(other, table).items():
                self._add(getattr(self, table), (key,), value)
        self.guarded_states |= other.guarded_states
        self.question_steps |= other.question_steps
        self.befores += other.befores
        for table in _RIGHTS_TABLES:
            self.right_names[table] |= set(getattr(other, table)) if other.rights else other.right_names[table]


_RIGHTS_TABLES = ("commands", "keywords", "actions", "prompts")
