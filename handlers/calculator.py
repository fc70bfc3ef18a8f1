"""The contribution calculator: pick or type a monthly income, see what BPU costs per month and in advance."""

from __future__ import annotations

from decimal import Decimal

from bot.conversation import Choice
from bot.dispatch import Router, Turn
from bot.i18n import rupiah
from bot.services.calculator import compute_contributions, parse_income

router = Router("calculator")

INCOME = "calc/income"


@router.action("calc")
async def calculator(turn: Turn, amount: str) -> None:
    """`calc` asks for an income; `calc:<rupiah>` (an example button) shows the result at once."""
    if amount.isdigit():
        await show_result(turn, Decimal(amount))
    else:
        turn.goto(INCOME)
        await ask_income(turn)


@router.prompt(INCOME)
async def ask_income(turn: Turn) -> None:
    examples = [Choice(f"calc:{income}", rupiah(income)) for income in turn.content.example_incomes]
    turn.say("calc.ask_income", choices=[*examples, turn.choice("menu", "common.menu")], columns=2)


@router.text(INCOME)
async def typed_income(turn: Turn, text: str) -> None:
    income = parse_income(text)
    if income is None:
        if (action := turn.understood(text)) is not None and action != "topic:cost":
            await turn.run(action)
            return
        turn.say("calc.bad_income")
        await ask_income(turn)
    elif not turn.content.smallest_typed_income <= income <= turn.content.largest_typed_income:
        turn.say("calc.out_of_range", income=rupiah(income))
        await ask_income(turn)
    else:
        await show_result(turn, income)


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
    turn.reply(
        "\n\n".join(lines),
        choices=[
            turn.choice("interest", "menu.interest"),
            turn.choice("calc", "calc.again"),
            turn.choice("topic:benefits", "menu.benefits"),
            turn.choice("menu", "common.menu"),
        ],
    )
