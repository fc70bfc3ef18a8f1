"""What BPU is, what it pays, how to register, and the questions people ask: read-only topics."""

from __future__ import annotations

from bot.conversation.router import Router
from bot.conversation.turn import MAIN, Turn
from bot.models import Occupation
from bot.services.contacts import note_cost_asked
from handlers.onboarding import back_to_menu

router = Router("explain")

FAQ_PAGE_SIZE = 7
# The fact sheet's topics a worker can ask about, each answered by answer.<topic>, its first line answering.
TOPICS = (
    "what_is_bpu",
    "cost",
    "jht",
    "jkk",
    "jkm",
    "funeral",
    "scholarship",
    "eligibility",
    "age",
    "already_member",
    "register",
    "documents",
    "pay",
    "late_payment",
    "stop_paying",
    "claim",
    "scam",
    "privacy",
    "bpjs_kesehatan",
    "loan",
    "social_aid",
    "job",
)
# The benefit buttons of the benefits list, and the topic each one answers.
BENEFITS = {"accident": "jkk", "death": "jkm", "scholarship": "scholarship", "jht": "jht"}
# Menu buttons from before the topics had answers of their own still work.
ALIASES = {"bpu": "what_is_bpu"}


def _occupation(turn: Turn) -> str:
    return turn.contact.occupation or Occupation.LAINNYA


def _next_steps(turn: Turn, *actions: tuple[str, str]) -> list:
    return [turn.choice(action, key) for action, key in actions] + [
        turn.choice("interest", "menu.interest"),
        turn.choice("menu", "common.menu"),
    ]


# What to offer after an answer, besides "Saya tertarik" and the menu.
FOLLOW_UPS: dict[str, tuple[tuple[str, str], ...]] = {
    "what_is_bpu": (("calc", "menu.cost"), ("topic:benefits", "menu.benefits")),
    "cost": (("calc", "menu.cost"),),
    "register": (("topic:documents", "topic.documents.button"),),
    "scam": (("ask", "menu.ask"),),
    "eligibility": (("topic:register", "menu.register"),),
    "already_member": (("topic:register", "menu.register"),),
    "claim": (("ask", "menu.ask"),),
}


@router.action("topic")
async def topic(turn: Turn, name: str) -> None:
    name = ALIASES.get(name, name)
    if name == "benefits":
        await benefits(turn)
    elif name == "faq":
        await faq_list(turn)
    elif name == "human":
        await turn.run("ask")
    elif name in TOPICS:
        answer(turn, name)
    else:
        turn.say("common.unknown_button")
        back_to_menu(turn)


def answer(turn: Turn, name: str) -> None:
    """The topic's answer, whose first line answers the question (with the figure, where there is one)."""
    leave_flow(turn)
    if name == "cost":
        note_cost_asked(turn.contact, turn.now)
    operator = turn.settings.operator_name or turn.t("explain.operator_unnamed")
    example = turn.t(f"occupation.{_occupation(turn)}.example")
    turn.say(
        f"answer.{name}",
        operator=operator,
        example=example,
        choices=_next_steps(turn, *FOLLOW_UPS.get(name, ())),
    )


async def benefits(turn: Turn) -> None:
    leave_flow(turn)
    risk = turn.t(f"occupation.{_occupation(turn)}.risk")
    choices = [turn.choice(f"benefit:{b}", f"explain.benefit.{b}.button") for b in BENEFITS]
    turn.say("explain.benefits", risk=risk, choices=[*choices, *_next_steps(turn)])


@router.action("benefit")
async def benefit(turn: Turn, name: str) -> None:
    if name not in BENEFITS:
        turn.say("common.unknown_button")
        await benefits(turn)
        return
    leave_flow(turn)
    others = [(f"benefit:{b}", f"explain.benefit.{b}.button") for b in BENEFITS if b != name]
    turn.say(f"answer.{BENEFITS[name]}", choices=_next_steps(turn, *others))


async def faq_list(turn: Turn, page: int = 0) -> None:
    leave_flow(turn)
    entries = turn.content.faq
    pages = max(1, -(-len(entries) // FAQ_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = entries[page * FAQ_PAGE_SIZE : (page + 1) * FAQ_PAGE_SIZE]
    choices = [turn.choice(f"faq:{entry.id}", f"faq.{entry.id}.q") for entry in shown]
    if page + 1 < pages:
        choices.append(turn.choice(f"faqs:{page + 1}", "explain.faq_more"))
    if page > 0:
        choices.append(turn.choice(f"faqs:{page - 1}", "explain.faq_previous"))
    choices.append(turn.choice("menu", "common.menu"))
    turn.say("explain.faq_title", choices=choices, page=page + 1, pages=pages)


@router.action("faqs")
async def faq_page(turn: Turn, page: str) -> None:
    await faq_list(turn, int(page) if page.isdigit() else 0)


@router.action("faq")
async def faq_answer(turn: Turn, entry_id: str) -> None:
    ids = [entry.id for entry in turn.content.faq]
    if entry_id not in ids:
        turn.say("common.unknown_button")
        await faq_list(turn)
        return
    leave_flow(turn)
    page = ids.index(entry_id) // FAQ_PAGE_SIZE
    operator = turn.settings.operator_name or turn.t("explain.operator_unnamed")
    # The answer itself first: the question is the button that was tapped, or what the person typed.
    turn.say(f"faq.{entry_id}.a", operator=operator, choices=_next_steps(turn, (f"faqs:{page}", "explain.faq_other")))


def leave_flow(turn: Turn) -> None:
    """Reading a topic leaves any half-done flow, so the next typed text is not taken as a name."""
    if turn.state != MAIN:
        turn.goto(MAIN)
