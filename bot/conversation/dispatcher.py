"""The dispatcher: one Inbound, one transaction, the person's state loaded from and saved to the database.

Conversation modules in handlers/ declare their steps on a Router; handlers/__init__.py composes them. For
each Inbound the dispatcher loads the contact, picks the step (command, keyword, button, typed text, shared
contact, media), lets it reply and move the state on, and commits before anything is sent: a crash after
the commit loses at most a reply, never a transition, and a restart continues where the person stopped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import Content
from bot.conversation.events import Choice, Inbound, Kind, Reply, decode_choice
from bot.conversation.router import Router
from bot.conversation.turn import ASK_A_PERSON, MAIN, NEW, Turn, coalesce
from bot.conversation.understanding import COMMANDS, Option, Reading, Understanding, understanding_for
from bot.conversation.words import normalise
from bot.db import Sessions, is_deleted
from bot.i18n import Messages
from bot.models import Role, utcnow
from bot.services.contacts import lock_contact
from bot.services.misses import record_miss
from bot.services.updates import record_update
from bot.typed import clean_text

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 1000
MISSES_BEFORE_A_PERSON = 2
CANCEL = "cancel"  # what a step's cancel button means, and what "batal", "gak jadi" are read as
CERTAIN = 0.9  # the classifier's probability that lets a typed question through a name or income step


def _cleaned(inbound: Inbound) -> Inbound:
    """The message with every text in it cleaned (bot/typed.py): the one place where typed text comes in."""
    changes: dict[str, Any] = {  # Inbound's text fields, by name
        name: clean_text(value)
        for name in ("external_id", "text", "command", "payload", "choice", "phone", "platform_phone", "update_key")
        if isinstance(value := getattr(inbound, name), str) and value
    }
    return dataclasses.replace(inbound, **changes)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        content: Content,
        messages: Messages,
        sessions: Sessions,
        router: Router,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.clock = clock
        self.settings = settings
        self.content = content
        self.messages = messages
        self.sessions = sessions
        self.router = router
        self.understanding: Understanding = understanding_for(content)
        # Set by the channels that have them: how to make a link that opens the bot with a payload, per channel,
        # and how to wake the background workers ("ticker", "exporter") after a turn queued work for them.
        self.links: dict[str, Callable[[str], str]] = {}
        self.wakers: dict[str, Callable[[], None]] = {}
        # Channels that keep a turn's replies in its own transaction until they are sent (WhatsApp).
        self.outboxes: dict[str, Callable[[AsyncSession, str, list[Reply]], Awaitable[None]]] = {}
        # People erased at their request so far: a channel that keeps what they sent finishes their erasure after
        # deleting it (bot/channels/whatsapp/webhook.py).
        self.erasures = 0
        for required in (MAIN, NEW):
            if required not in router.prompts:
                raise ValueError(f"the router has no prompt for the {required!r} state")

    async def handle(self, inbound: Inbound, *, trace: list[Turn] | None = None) -> list[Reply]:
        """`trace`, when given, receives the turn (what was understood, and why): for `bpu-bot understand`."""
        locale = self.settings.default_locale
        inbound = _cleaned(inbound)
        try:
            async with self.sessions() as session, session.begin():
                if inbound.update_key is not None and not await record_update(
                    session, inbound.channel, inbound.update_key, self.clock()
                ):
                    return []  # redelivered after a crash or a retry: already applied
                contact = await lock_contact(
                    session,
                    inbound.channel,
                    inbound.external_id,
                    locale=self.settings.default_locale,
                    state=NEW,
                    now=self.clock(),
                )
                locale = contact.locale
                turn = Turn(self, session, contact, inbound)
                if trace is not None:
                    trace.append(turn)
                await self._route(turn)
                locale = contact.locale
                erased = is_deleted(contact)  # at their request, in this very turn
                if not erased:
                    now = self.clock()
                    contact.last_seen_at = min(now, inbound.sent_at) if inbound.sent_at else now
                    contact.unreachable_at = None  # they wrote: a chat blocked once is open again
                replies = coalesce(turn.replies)
                for reply in replies:
                    reply.serial, reply.locale = contact.state_serial, locale
                if (keep := self.outboxes.get(inbound.channel)) is not None:
                    await keep(session, inbound.external_id, replies)
            if erased:
                await self.sessions.finish_erasure()
                self.erasures += 1
            for worker in turn.wakes:
                if (wake := self.wakers.get(worker)) is not None:
                    wake()
            return replies
        except IntegrityError:
            # Another process applied the same update or created the same contact first.
            log.info("update %s of %s already applied elsewhere", inbound.update_key, inbound.channel)
            return []
        except Exception:
            log.exception("update of kind %s on %s failed", inbound.kind, inbound.channel)
            t = self.messages[locale]
            replies = [Reply(t("common.error"), locale=locale)]
            if (keep := self.outboxes.get(inbound.channel)) is not None:
                async with self.sessions.begin() as session:
                    await keep(session, inbound.external_id, replies)
            return replies

    async def _route(self, turn: Turn) -> None:
        inbound, router = turn.inbound, self.router
        is_keyword = inbound.kind is Kind.TEXT and normalise(inbound.text) in router.keywords
        if turn.state == NEW and inbound.kind is Kind.TEXT and not is_keyword:
            reading = turn.reading = self.understanding.read(inbound.text)
            if self.understanding.is_command(reading) and (action := turn.action_for(reading.label)):
                await turn.run(action)  # "stop kirim" as a first message stops at once
                return
        if turn.state == NEW and inbound.kind is not Kind.COMMAND and not is_keyword:
            # Whatever someone sends first, they first learn who runs the bot (and that it is not BPJS);
            # commands and STOP-like keywords do what they say at once.
            await router.commands["start"](turn)
            if inbound.kind is Kind.CHOICE:  # a button of a message sent before they wrote (an officer's notice)
                await self._route_choice(turn, decode_choice(inbound.choice))
            elif inbound.kind is Kind.TEXT and not turn.may(Role.OFFICER):  # (an officer's welcome is the answer)
                await self._first_words(turn, inbound.text)
            return
        for check in router.befores:
            if await check(turn):
                return
        await self._route_message(turn)

    async def _route_message(self, turn: Turn) -> None:
        inbound, router = turn.inbound, self.router
        if inbound.kind is Kind.COMMAND:
            step = router.commands.get(inbound.command)
            if step is None:
                turn.say("common.unknown_command")
                await turn.prompt()
            else:
                await step(turn)
        elif inbound.kind is Kind.CHOICE:
            await self._route_choice(turn, decode_choice(inbound.choice))
        elif inbound.kind is Kind.TEXT:
            await self._route_text(turn, inbound.text.strip())
        elif inbound.kind is Kind.CONTACT and turn.state in router.contacts:
            await router.contacts[turn.state](turn, inbound.phone)
        elif inbound.kind is Kind.CONTACT:
            turn.say("common.contact_not_expected")
            await turn.prompt()
        elif inbound.kind is Kind.MEDIA:
            turn.say("common.media_not_read")
            await turn.prompt()
        else:
            await turn.prompt()

    def asks_for_a_right(self, turn: Turn) -> bool:
        """STOP, HAPUS or DATA SAYA (their keyword, command, buttons, the confirmation they ask for, or their
        everyday words): the person's rights, which nothing may hold up. Read only when a check before the turn
        would answer in the message's place, so other turns read the text once."""
        inbound, rights = turn.inbound, self.router.right_names
        if turn.state in rights["prompts"]:
            return True
        if inbound.kind is Kind.COMMAND:
            return inbound.command in rights["commands"]
        if inbound.kind is Kind.CHOICE:
            decoded = decode_choice(inbound.choice)
            return decoded is not None and decoded[1].partition(":")[0] in rights["actions"]
        if inbound.kind is Kind.TEXT:
            text = normalise(inbound.text)
            return text in rights["keywords"] or self.understanding.is_command(self.understanding.read(inbound.text))
        return False

    async def answer_kept(self, turn: Turn, kept: Inbound) -> None:
        """Answer a message kept while the person was asked something first, as if it came now, where they
        are now (their step, given back to them, or the menu)."""
        turn.inbound, turn.reading = kept, None
        await self._route_message(turn)

    async def _route_choice(self, turn: Turn, decoded: tuple[int, str] | None) -> None:
        name, _, argument = decoded[1].partition(":") if decoded else ("", "", "")
        action = self.router.actions.get(name)
        if decoded is None or action is None:
            log.warning("unknown button data from %s", turn.inbound.channel)
            await turn.refuse_button()
        elif (
            action.state is not None
            and (decoded[0], action.state) != (turn.contact.state_serial, turn.state)
            and (action.role is None or turn.may(action.role))  # a forged staff button is refused and audited
        ):
            turn.say("common.stale_button")
            await turn.prompt()
        else:
            await action.step(turn, argument)

    async def _route_text(self, turn: Turn, text: str) -> None:
        router = self.router
        if len(text) > MAX_TEXT_LENGTH:
            turn.say("common.too_long")
            await turn.prompt()
            return
        keyword = router.keywords.get(normalise(text))
        if keyword is not None:
            await keyword(turn)
            return
        at_step = turn.state in router.agains
        reading, tapped = await self._read_at_step(turn, text, at_step)
        if tapped is not None:
            await self._route_choice(turn, (turn.contact.state_serial, tapped.action))
        elif (
            self._takes_commands(turn)
            and self.understanding.is_command(reading)
            and (action := turn.action_for(reading.label))
        ):
            await turn.run(action)  # STOP, HAPUS, DATA SAYA in everyday words, from a worker's step
        elif at_step:
            await self._route_step(turn, text, reading)
        elif turn.state in router.texts:
            await router.texts[turn.state](turn, text)
        else:
            await self._answer(turn, reading)

    async def _first_words(self, turn: Turn, text: str) -> None:
        """What a first message says besides opening the chat: an answer to the step the welcome asks
        ("saya nelayan" answers the occupation), or a question, answered after the welcome."""
        reading, tapped = await self._read_at_step(turn, text, turn.state in self.router.agains)
        if tapped is not None:
            await self._route_choice(turn, (turn.contact.state_serial, tapped.action))
        elif reading.sure and reading.label not in COMMANDS and (action := turn.action_for(reading.label)):
            await turn.run(action)

    def _takes_commands(self, turn: Turn) -> bool:
        """Where STOP or HAPUS in everyday words is a command: not where the text is content of its own (an
        officer's answer, a broadcast, a note), which only the exact keywords (STOP, BERHENTI, HAPUS) and the
        commands interrupt."""
        state, router = turn.state, self.router
        return state in router.agains or state not in router.texts

    async def _read_at_step(self, turn: Turn, text: str, at_step: bool) -> tuple[Reading, Choice | None]:
        """What the text means where it was typed, and the button it stands for, if any. At a worker's step
        every button is an answer that can be typed in its own words; elsewhere (an officer's wizard) only a
        button's exact label is, since typed text there is often the content."""
        shown = [choice for reply in await self._prompt_replies(turn) for choice in reply.choices]
        options = [Option(c.means or c.action, c.label, bool(c.means)) for c in shown] if at_step else []
        reading = turn.reading = self.understanding.read(text, options)
        return reading, self._typed_choice(shown, reading, text, at_step)

    @staticmethod
    def _typed_choice(shown: list[Choice], reading: Reading, text: str, at_step: bool) -> Choice | None:
        if at_step:
            best = reading.best
            if best is None or best.how not in ("option", "label", "label_in", "number"):
                return None
            return next((c for c in shown if (c.means or c.action) == best.label), None)
        typed = normalise(text)
        return next((c for c in shown if typed and normalise(c.label) == typed), None)

    async def _route_step(self, turn: Turn, text: str, reading: Reading) -> None:
        """Typed text at a worker's step: the answer, or a cancel, or a question answered before asking again."""
        label = reading.label if reading.sure else None
        if label == CANCEL and reading.best is not None and reading.best.how == "phrase" and self._meant(reading):
            await self._cancel_step(turn)
            return
        text_step = self.router.texts.get(turn.state)
        takes_questions = turn.state in self.router.question_steps
        if text_step is not None and (takes_questions or not self._plainly_not_an_answer(reading)):
            await text_step(turn, text)
        elif label is not None and label.startswith(("topic:", "faq:")) and label != "topic:human":
            await self._answer_mid_step(turn)
        elif label in ("topic:human", "menu", "language") and self._said_plainly(reading):
            await turn.run(turn.action_for(label) or "menu")  # leaving the step for a person, the menu, a language
        elif label in ("greeting", "thanks"):
            turn.say(f"onboarding.{label}")
            await self.ask_again(turn)
        else:
            await self._not_understood(turn, at_step=True)

    @classmethod
    def _meant(cls, reading: Reading) -> bool:
        """A phrase the person typed (in their own spelling), or that is the whole message: not one that a
        near miss made of a word in a name ("Siti Ananti" is no "nanti")."""
        best = reading.best
        typed = normalise(reading.text).split()
        return best is not None and (cls._said_plainly(reading) or all(w in typed for w in best.evidence.split()))

    @staticmethod
    def _said_plainly(reading: Reading) -> bool:
        """A request to leave the step in words of its own, not one word of a sentence about something else
        ("ditelpon itu bayar gak" is no request for a person)."""
        best = reading.best
        return best is not None and (len(best.evidence.split()) >= 2 or len(best.evidence.split()) >= len(reading.said))

    @staticmethod
    def _plainly_not_an_answer(reading: Reading) -> bool:
        """A question, a cancel, a menu word or a greeting typed where a name, a phone number, an income or
        a question for an officer was expected. Two words that happen to be a topic's word ("Pak Tani")
        are still taken as the answer, unless asked as a question."""
        best = reading.best
        if best is None or not reading.sure:
            return False
        if best.how == "classifier":  # no phrase, but a question the classifier is all but certain of
            return reading.is_question and best.score >= CERTAIN and best.label.startswith(("topic:", "faq:"))
        if best.how != "phrase":
            return False
        if best.label in ("menu", "greeting", "thanks"):
            return len(best.evidence.split()) >= len(reading.said)  # nothing else in the message
        if not best.label.startswith(("topic:", "faq:")):
            return False
        return reading.is_question or best.score >= 2 or len(reading.words) > 3

    async def _answer(self, turn: Turn, reading: Reading) -> None:
        """A message typed outside any step: a topic, a command in plain words, or ask back when unsure."""
        if reading.label in COMMANDS and not self.understanding.is_command(reading):
            reading = reading.without_best()  # "jangan berhenti kirim", "kalau saya berhenti bayar gimana?"
        if reading.sure and (action := turn.action_for(reading.label)) is not None:
            await turn.run(action)
            others = [choice for label in reading.also if (choice := self._topic_choice(turn, label))]
            if others:
                turn.say("understanding.also_asked", choices=others)
        elif reading.unsure and (pair := self._ask_back_choices(turn, reading)):
            turn.say("understanding.ask_back", choices=[*pair, turn.choice("menu", "common.menu")])
        else:
            await self._not_understood(turn)

    def _topic_choice(self, turn: Turn, label: str) -> Choice | None:
        kind, _, name = label.partition(":")
        if turn.action_for(label) is None:
            return None
        if kind == "topic" and turn.t.has(f"topic.{name}.button"):
            return Choice(label, turn.t(f"topic.{name}.button"))
        if kind == "faq":
            return Choice(label, turn.t(f"faq.{name}.q"))
        return None

    def _ask_back_choices(self, turn: Turn, reading: Reading) -> list[Choice] | None:
        guesses = (reading.best, reading.runner_up)
        choices = [self._topic_choice(turn, guess.label) for guess in guesses if guess is not None]
        return [c for c in choices if c is not None] if all(choices) and len(choices) == 2 else None

    async def _answer_mid_step(self, turn: Turn) -> None:
        """Answer the question without leaving the step, then ask the step again in one line (with the
        step's own buttons, so the answer carries none)."""
        await self.answer_alongside(turn, phrases_only=False)
        await self.ask_again(turn)

    async def ask_again(self, turn: Turn) -> None:
        """The step's prompt, with its buttons, in one short line instead of its full text."""
        key = self.router.agains.get(turn.state)
        shown = await self._prompt_replies(turn)
        if key is not None and shown:
            shown = shown[-1:]  # the message with the buttons, its text the one short line
            shown[0].text = turn.t(key)
        turn.replies += shown

    async def _cancel_step(self, turn: Turn) -> None:
        """Leave the step, say so, and keep nothing of it: no lead, no task, no decision recorded."""
        turn.goto(MAIN)
        turn.say("step.cancelled")
        await turn.prompt()

    @staticmethod
    async def _missed(turn: Turn, text: str) -> None:
        """Kept, masked, for staff (`bpu-bot understanding misses`), so the vocabulary grows from real use."""
        await record_miss(turn.session, turn.contact.id, turn.state, text, turn.now)

    async def _not_understood(self, turn: Turn, at_step: bool = False) -> None:
        """Say so (at a step, by asking it again in one line); the second time in a row, offer a person
        instead of making them guess again."""
        if turn.inbound.kind is Kind.TEXT:
            await self._missed(turn, turn.inbound.text)
        misses = turn.data.get("misses", 0) + 1
        if misses >= MISSES_BEFORE_A_PERSON and ASK_A_PERSON in self.router.actions:
            turn.contact.state_data = {**turn.data, "misses": 0}
            turn.say(
                "common.not_understood_twice",
                choices=[turn.choice(ASK_A_PERSON, "common.ask_a_person"), turn.choice("menu", "common.menu")],
            )
            return
        turn.contact.state_data = {**turn.data, "misses": misses}
        if at_step:
            await self.ask_again(turn)
        else:
            turn.say("common.not_understood")
            await turn.prompt()

    async def answer_alongside(self, turn: Turn, phrases_only: bool = True) -> None:
        """The answer to a topic the typed text asks about, without buttons and without leaving the step:
        what a step that forwards a question to a person shows while the person is awaited. There, only a
        phrase of the vocabulary is sure enough (`phrases_only`), since the person gets an answer anyway."""
        reading = turn.reading
        best = reading.best if reading is not None and reading.sure else None
        if best is None or (phrases_only and best.how != "phrase") or not best.label.startswith(("topic:", "faq:")):
            return
        label = best.label
        if label == "topic:human" or (action := turn.action_for(label)) is None:
            return
        contact = turn.contact
        kept, first = (contact.state, contact.state_data, contact.state_serial), len(turn.replies)
        await turn.run(action)
        # The step stays where it was, its buttons included: a question answered in passing moves nothing.
        contact.state, contact.state_data, contact.state_serial = kept
        for reply in turn.replies[first:]:
            reply.choices = ()

    async def _prompt_replies(self, turn: Turn) -> list[Reply]:
        """What the person has in front of them at this step: its prompt, made again aside from the turn."""
        shown = Turn(self, turn.session, turn.contact, turn.inbound)
        await shown.prompt()
        return shown.replies
