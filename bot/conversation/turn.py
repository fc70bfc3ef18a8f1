"""A turn: everything a step needs for one message (the person, their state, the session, the texts), and what
it replies."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from babel.dates import format_date, format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import Content
from bot.conversation.events import Choice, Inbound, Reply
from bot.conversation.understanding import Reading
from bot.i18n import Translator
from bot.models import Contact, Role
from bot.services.audit import Actor
from bot.services.officers import regions_in_reach
from bot.services.roles import role_of

if TYPE_CHECKING:  # the dispatcher makes turns: a cycle only for the type
    from bot.conversation.dispatcher import Dispatcher

NEW = "new"  # the state of a contact that has not been welcomed yet
MAIN = "main"  # the main menu
ASK_A_PERSON = "ask"  # the action offered after the bot failed to understand twice in a row
# Labels of the understanding whose action has another name; the others (topic:<name>, faq:<id>, erase, menu,
# greeting, thanks, interest) are the names of their actions.
LABEL_ACTIONS = {"stop": "stop_now", "show_my_data": "my_data", "topic:human": ASK_A_PERSON, "language": "lang"}
PHONE_SHARING_CHANNELS = frozenset({"telegram"})


class Turn:
    """Everything a step needs for one Inbound; steps add replies and move the state."""

    def __init__(self, dispatcher: Dispatcher, session: AsyncSession, contact: Contact, inbound: Inbound):
        self.dispatcher = dispatcher
        self.session = session
        self.contact = contact
        self.inbound = inbound
        self.replies: list[Reply] = []
        self.wakes: set[str] = set()
        self.reading: Reading | None = None  # what the understanding made of typed text, for misses and tests

    @property
    def settings(self) -> Settings:
        return self.dispatcher.settings

    @property
    def content(self) -> Content:
        return self.dispatcher.content

    @property
    def t(self) -> Translator:
        return self.dispatcher.messages[self.contact.locale]

    @property
    def now(self) -> datetime:
        return self.dispatcher.clock()

    @property
    def state(self) -> str:
        return self.contact.state

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.contact.state_data or {})

    @property
    def role(self) -> Role:
        return role_of(self.contact, self.settings.admin_telegram_ids)

    @property
    def actor(self) -> Actor:
        return Actor.of_contact(self.contact, self.role)

    def may(self, role: Role) -> bool:
        return self.role.includes(role)

    @property
    def sees_all_regions(self) -> bool:
        """Staff and admins work with every region; an officer with their own."""
        return self.may(Role.STAFF)

    async def regions_in_reach(self) -> list[str] | None:
        """The regions this person may broadcast to or export: None (all) for staff and admins."""
        return await regions_in_reach(self.session, self.contact.id, self.sees_all_regions)

    async def region_choices(self, action: str) -> list[Choice]:
        """The kabupaten/kota this person may pick, as buttons `action:<index>` (see Content.region_at)."""
        allowed = await self.regions_in_reach()
        regions = enumerate(self.content.regions)
        return [Choice(f"{action}:{i}", region) for i, region in regions if allowed is None or region in allowed]

    async def refuse_role(self, role: Role) -> None:
        self.say(f"common.only.{role}")
        if self.state in self.dispatcher.router.guarded_states:  # the role was taken away mid-step
            self.goto(MAIN)
        await self.prompt()

    @property
    def shares_phone(self) -> bool:
        """Whether this person's channel has a button that shares their number (Telegram's), or they type it."""
        return self.contact.channel in PHONE_SHARING_CHANNELS

    def deep_link(self, payload: str, channel: str | None = None) -> str | None:
        """A link that opens the bot with `payload` on this person's channel, or on `channel` (None where the
        channel has none, or is not served)."""
        link = self.dispatcher.links.get(channel or self.contact.channel)
        return link(payload) if link else None

    def local_time(self, moment: datetime, pattern: str = "d MMM y HH:mm") -> str:
        return format_datetime(moment, pattern, tzinfo=self.settings.tz, locale=self.contact.locale)

    def local_date(self, day: date) -> str:
        return format_date(day, "d MMM y", locale=self.contact.locale)

    def wake(self, worker: str) -> None:
        """Rows for a background worker were added or changed ("ticker": an answer, a notice; "exporter": a lead
        list; "menus": a role or a language): wake it after the commit, instead of at its next look."""
        self.wakes.add(worker)

    def choice(self, action: str, key: str, *, means: str = "", **values: object) -> Choice:
        return Choice(action, self.t(key, **values), means)

    def say(
        self,
        key: str,
        *,
        choices: tuple[Choice, ...] | list[Choice] = (),
        columns: int = 1,
        request_phone: bool = False,
        close_keyboard: bool = False,
        **values: object,
    ) -> None:
        self.reply(
            self.t(key, **values),
            choices=choices,
            columns=columns,
            request_phone=request_phone,
            close_keyboard=close_keyboard,
        )

    def reply(
        self,
        text: str,
        *,
        choices: tuple[Choice, ...] | list[Choice] = (),
        columns: int = 1,
        request_phone: bool = False,
        close_keyboard: bool = False,
        document: tuple[str, bytes] | None = None,
        standalone: bool = False,
    ) -> None:
        self.replies.append(Reply(text, tuple(choices), columns, request_phone, close_keyboard, document, standalone))

    def goto(self, state: str, **data: Any) -> None:
        """Enter a state with fresh step data; the serial moves on so older decision buttons go stale."""
        self.contact.state = state
        self.contact.state_data = data
        self.contact.state_serial += 1

    async def run(self, action: str) -> None:
        """Perform a navigation action as if its button had been pressed now."""
        name, _, argument = action.partition(":")
        await self.dispatcher.router.actions[name].step(self, argument)

    async def prompt(self) -> None:
        """Show the current step again (or the menu for states without a prompt of their own)."""
        router = self.dispatcher.router
        step = router.prompts.get(self.state) or router.prompts[MAIN]
        await step(self)

    async def refuse_button(self) -> None:
        """A button whose data this step cannot take (forged, or from a changed list): say so, show the step."""
        self.say("common.unknown_button")
        await self.prompt()

    async def answer_alongside(self, *, phrases_only: bool = True) -> None:
        """See Dispatcher.answer_alongside: the answer to a topic the typed text asks about, the step kept."""
        await self.dispatcher.answer_alongside(self, phrases_only)

    def action_for(self, label: str | None) -> str | None:
        """The action a label of the understanding asks for, if this bot has it."""
        if label is None:
            return None
        action = LABEL_ACTIONS.get(label, label)
        return action if action.partition(":")[0] in self.dispatcher.router.actions else None


def coalesce(replies: list[Reply]) -> list[Reply]:
    """One message per answer: a plain line ("Maaf, ...") joins the message that follows it.

    A reply that closes a keyboard stays apart, because on Telegram one message cannot both take away the
    reply keyboard and carry inline buttons.
    """
    merged: list[Reply] = []
    for reply in replies:
        previous = merged[-1] if merged else None
        kept_apart = reply.standalone or previous is None or previous.standalone
        special = previous is not None and (
            previous.choices or previous.request_phone or previous.close_keyboard or previous.document
        )
        if previous is not None and not kept_apart and not special:  # (kept_apart when there is none)
            reply.text = f"{previous.text}\n\n{reply.text}"
            merged[-1] = reply
        else:
            merged.append(reply)
    return merged
