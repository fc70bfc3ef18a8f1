"""Welcome, occupation, main menu, language, help, and the small talk around them.

Officers, staff and admins get a menu of their work first (the worker topics behind one button), a welcome
that says what they are, and the help of their role.
"""

from __future__ import annotations

from bot.conversation.events import Choice
from bot.conversation.router import Router
from bot.conversation.turn import MAIN, NEW, Turn
from bot.models import Occupation, Role
from bot.services.leads import is_source_code
from bot.services.officers import INVITE_PREFIX, find_officer, officer_regions

router = Router("onboarding")

OCCUPATION = "onboarding/occupation"
LANGUAGE = "onboarding/language"


def occupation_label(turn: Turn, occupation: str | None) -> str:
    return turn.t(f"occupation.{occupation or Occupation.LAINNYA}.label")


def show_menu(turn: Turn, lead_in: str = "") -> None:
    """The main menu, optionally after a line that answers what the person just did: a worker's topics, or an
    officer's (staff's, an admin's) work with the topics behind one button."""
    if turn.may(Role.OFFICER):
        choices = [
            turn.choice("tasks", "menu.tasks"),
            turn.choice("find", "menu.find"),
            turn.choice("code", "menu.code"),
            turn.choice("broadcasts", "menu.broadcasts"),
            turn.choice("exports", "menu.exports"),
            turn.choice("topics", "menu.topics"),
            turn.choice("lang", "menu.language"),
        ]
        title = turn.t("menu.officer_title")
    else:
        choices, title = _topics(turn), turn.t("menu.title")
    turn.reply(f"{lead_in}\n\n{title}" if lead_in else title, choices=choices, columns=2)


def _topics(turn: Turn) -> list[Choice]:
    return [
        turn.choice("topic:bpu", "menu.bpu"),
        turn.choice("calc", "menu.cost"),
        turn.choice("topic:benefits", "menu.benefits"),
        turn.choice("topic:register", "menu.register"),
        turn.choice("topic:faq", "menu.faq"),
        turn.choice("interest", "menu.interest"),
        turn.choice("ask", "menu.ask"),
        turn.choice("occupation", "menu.occupation"),
        turn.choice("lang", "menu.language"),
        turn.choice("privacy", "menu.privacy"),
    ]


@router.action("topics")
async def topics(turn: Turn, _: str) -> None:
    """What workers see, for an officer who explains BPU at a stall: the topics, then back to their menu."""
    turn.goto(MAIN)
    turn.reply(turn.t("menu.title"), choices=[*_topics(turn), turn.choice("menu", "menu.back_to_work")], columns=2)


def back_to_menu(turn: Turn, lead_in: str = "") -> None:
    turn.goto(MAIN)
    show_menu(turn, lead_in)


def welcome_text(turn: Turn) -> str:
    settings = turn.settings
    if settings.operator_name:
        text = turn.t("onboarding.welcome", operator=settings.operator_name)
    else:
        text = turn.t("onboarding.welcome_unnamed")
    if settings.operator_contact:
        text += "\n" + turn.t("onboarding.operator_contact", contact=settings.operator_contact)
    return text


@router.command("start")
async def start(turn: Turn) -> None:
    payload = turn.inbound.payload.strip()
    if payload.startswith(INVITE_PREFIX):  # an admin's one-time link for a new officer (handlers/invite.py)
        await turn.run(f"accept_invite:{payload}")
        return
    # The first link someone came through is the one credited (an officer's or a campaign's code).
    if payload and is_source_code(payload) and turn.contact.source_code is None:
        turn.contact.source_code = payload
    if turn.may(Role.OFFICER):
        back_to_menu(turn, await work_welcome(turn))
    elif turn.contact.occupation is None:
        turn.goto(OCCUPATION)
        await ask_occupation(turn, welcome=True)
    else:
        back_to_menu(turn, welcome_text(turn))


@router.prompt(NEW)
async def prompt_new(turn: Turn) -> None:
    if turn.may(Role.OFFICER):  # added by staff before they ever wrote: told what they are, not asked a job
        back_to_menu(turn, await work_welcome(turn))
    else:
        await ask_occupation(turn, welcome=True)


async def work_welcome(turn: Turn) -> str:
    """What an officer (or staff member, or admin) is here and what they can do."""
    officer = await find_officer(turn.session, turn.contact.id)
    if officer is not None:
        regions = ", ".join(await officer_regions(turn.session, officer.id))
        return turn.t("officer.work_welcome", name=officer.name, regions=regions)
    return turn.t("officer.staff_welcome", role=turn.t(f"officer.role.{turn.role}"))


@router.prompt(OCCUPATION, again="step.again.occupation")
async def ask_occupation(turn: Turn, welcome: bool = False) -> None:
    text = turn.t("onboarding.ask_occupation")
    if welcome:
        text = f"{welcome_text(turn)}\n\n{text}"
    choices = [turn.choice(f"occ:{o}", f"occupation.{o}.label", means=f"occupation:{o}") for o in Occupation]
    turn.reply(text, choices=[*choices, turn.choice("menu", "onboarding.skip", means="cancel")], columns=2)


@router.action("occupation")
async def change_occupation(turn: Turn, _: str) -> None:
    turn.goto(OCCUPATION)
    await ask_occupation(turn)


@router.action("occ")
async def choose_occupation(turn: Turn, occupation: str) -> None:
    if occupation not in Occupation.__members__.values():
        await turn.refuse_button()
        return
    turn.contact.occupation = occupation
    back_to_menu(turn, turn.t(f"occupation.{occupation}.hello"))


@router.prompt(MAIN)
async def prompt_menu(turn: Turn) -> None:
    show_menu(turn)


@router.command("menu")
async def menu_command(turn: Turn) -> None:
    back_to_menu(turn)


@router.action("menu")
async def menu(turn: Turn, _: str) -> None:
    back_to_menu(turn)


@router.command("bantuan", "help")
async def help_command(turn: Turn) -> None:
    """The commands of one's role: a worker's, an officer's, or staff's and admins' (every region)."""
    if turn.may(Role.STAFF):
        back_to_menu(turn, turn.t("officer.staff_help"))
    elif turn.may(Role.OFFICER):
        back_to_menu(turn, turn.t("officer.help"))
    else:
        back_to_menu(turn, turn.t("onboarding.help"))


@router.action("greeting")
async def greeting(turn: Turn, _: str) -> None:
    back_to_menu(turn, turn.t("onboarding.greeting"))


@router.action("thanks")
async def thanks(turn: Turn, _: str) -> None:
    back_to_menu(turn, turn.t("onboarding.thanks"))


@router.command("bahasa", "language")
async def language_command(turn: Turn) -> None:
    await language(turn, "")


@router.action("lang")
async def language(turn: Turn, locale: str) -> None:
    if locale in turn.dispatcher.messages.locales:
        turn.contact.locale = locale
        turn.wake("menus")  # an officer's own command menu follows the language
        back_to_menu(turn, turn.t("onboarding.language_set"))
    else:
        turn.goto(LANGUAGE)
        await ask_language(turn)


@router.prompt(LANGUAGE)
async def ask_language(turn: Turn) -> None:
    choices = [turn.choice(f"lang:{locale}", f"language.{locale}") for locale in turn.dispatcher.messages.locales]
    turn.say("onboarding.ask_language", choices=[*choices, turn.choice("menu", "common.menu")])
