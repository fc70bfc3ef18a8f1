"""The contribution calculator: pick or type a monthly income, see what BPU costs per month and in advance."""

from __future__ import annotations

from decimal import Decimal

from bot.contributions import compute_contributions
from bot.conversation.events import Choice
from bot.conversation.income import read_income
from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.i18n import rupiah
from bot.services.contacts import note_cost_asked

router = Router("calculator")

INCOME = "calc/income"
COUNTED_AS = {"day": "calc.per_day", "week": "calc.per_week", "year": "calc.per_year"}


@router.action("calc")
async def calculator(turn: Turn, amount: str) -> None:
    """`calc` asks for an income; `calc:<rupiah>` (an example button) shows the result at once."""
    note_cost_asked(turn.contact, turn.now)
    if amount.isdigit():
        await show_result(turn, Decimal(amount))
    else:
        turn.goto(INCOME)
        await ask_income(turn)


def _examples(turn: Turn) -> list[Choice]:
    examples = [Choice(f"calc:{income}", rupiah(income)) for income in turn.content.example_incomes]
    return [*examples, turn.choice("menu", "common.menu")]


def _after_result(turn: Turn) -> list[Choice]:
    return [
        turn.choice("interest", "menu.interest"),
        turn.choice("calc", "calc.again"),
        turn.choice("topic:benefits", "menu.benefits"),
        turn.choice("menu", "common.menu"),
    ]


@router.prompt(INCOME, again="step.again.income")
async def ask_income(turn: Turn) -> None:
    turn.say("calc.ask_income", choices=_examples(turn), columns=2)


@router.text(INCOME)
async def typed_income(turn: Turn, text: str) -> None:
    typed = read_income(text, turn.content.days_per_month, turn.content.weeks_per_month)
    if typed is None:
        turn.say("calc.bad_income_short", choices=_examples(turn), columns=2)
    elif not turn.content.smallest_typed_income <= typed.monthly <= turn.content.largest_typed_income:
        turn.say("calc.out_of_range", income=rupiah(typed.monthly))
        await ask_income(turn)
    elif typed.monthly > turn.content.largest_computed_income:
        turn.say("calc.too_high", income=rupiah(typed.monthly), choices=_after_result(turn))
    else:
        if typed.per in COUNTED_AS:  # a daily, weekly or yearly figure: say what it was counted as
            turn.say(
                COUNTED_AS[typed.per],
                amount=rupiah(typed.amount),
                monthly=rupiah(typed.monthly),
                days=turn.content.days_per_month,
                weeks=turn.content.weeks_per_month,
            )
        await show_result(turn, typed.monthly)


async def show_result(turn: Turn, income: Decimal) -> None:
    if turn.state != INCOME:
        turn.goto(INCOME)  # a further typed amount recalculates
    c = compute_contributions(turn.content, income)
    lines = []
    if income < c.declared_income:
        lines.append(turn.t("calc.below_minimum", income=rupiah(income)))
    lines.append(
        turn.t(
            "calc.result",
            income=rupiah(c.declared_income),
            jkk=rupiah(c.jkk),
            jkm=rupiah(c.jkm),
            mandatory=rupiah(c.mandatory),
            jht=rupiah(c.jht),
            with_jht=rupiah(c.with_jht),
            mandatory_3=rupiah(c.mandatory * 3),
            mandatory_6=rupiah(c.mandatory * 6),
            mandatory_12=rupiah(c.mandatory * 12),
            with_jht_3=rupiah(c.with_jht * 3),
            with_jht_6=rupiah(c.with_jht * 6),
            with_jht_12=rupiah(c.with_jht * 12),
        )
    )
    lines.append(turn.t("calc.rules_and_examples"))
    turn.reply("\n\n".join(lines), choices=_after_result(turn))
