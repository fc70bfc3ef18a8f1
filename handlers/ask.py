"""Talk to a person ("Tanya petugas"): the worker's question becomes a task for an officer of their region,
and the officer's answer comes back in this chat (handlers/officer.py relays it).

Until an officer answers, the bot does not answer in their place: the worker is told who will answer and by
when, and nothing else.
"""

from __future__ import annotations

from bot.conversation.events import Choice
from bot.conversation.router import Router
from bot.conversation.turn import ASK_A_PERSON, Turn
from bot.models import FollowUpKind
from bot.phone import contains_nik
from bot.services.followups import Cadence
from bot.services.leads import find_lead
from bot.services.officers import notice_recipients
from bot.services.tasks import QUESTION_MAX, ask_officer, open_question, queue_message
from handlers.onboarding import back_to_menu

router = Router("ask")

REGION = "ask/region"
QUESTION = "ask/question"


@router.action(ASK_A_PERSON)
async def ask(turn: Turn, _: str) -> None:
    waiting = await open_question(turn.session, turn.contact)
    lead = await find_lead(turn.session, turn.contact)
    if waiting is not None:
        turn.say("ask.still_waiting")
        turn.goto(QUESTION, region=waiting.region)
    elif lead is not None:
        turn.goto(QUESTION, region=lead.region)
    else:
        turn.goto(REGION)
    await turn.prompt()


@router.prompt(REGION, again="step.again.region")
async def ask_region(turn: Turn) -> None:
    regions = enumerate(turn.content.regions)
    choices = [Choice(f"ask_region:{i}", region, f"region:{region}") for i, region in regions]
    turn.say("ask.ask_region", choices=[*choices, turn.choice("menu", "common.cancel", means="cancel")], columns=2)


@router.action("ask_region", decides=REGION)
async def chosen_region(turn: Turn, index: str) -> None:
    if (region := turn.content.region_at(index)) is None:
        await turn.refuse_button()
        return
    turn.goto(QUESTION, region=region)
    await turn.prompt()


@router.prompt(QUESTION, again="step.again.question")
async def ask_question(turn: Turn) -> None:
    turn.say("ask.ask_question", choices=[turn.choice("menu", "common.cancel", means="cancel")])


@router.text(QUESTION, questions=True)
async def question(turn: Turn, text: str) -> None:
    if contains_nik(text):
        turn.say("ask.no_nik")
        await turn.prompt()
        return
    # A question the bot can answer is answered at once, and still goes to the officer who was asked for.
    await turn.answer_alongside()
    region = turn.data["region"]
    lead = await find_lead(turn.session, turn.contact)
    task, new = await ask_officer(turn.session, turn.contact, lead, region, text[:QUESTION_MAX], turn.now)
    if new:
        await _tell_officers(turn, task.officer_id, region)
    cadence = Cadence.from_settings(turn.settings)
    by = cadence.next_allowed(cadence.after_working_days(turn.now, 1))
    key = "ask.sent" if new else "ask.added"
    back_to_menu(turn, turn.t(key, region=region, by=turn.local_time(by, "EEEE d MMMM, HH.mm")))


async def _tell_officers(turn: Turn, officer_id: int | None, region: str) -> None:
    """A short notice, without the question itself (it stays in the task, which erasure deletes)."""
    recipients = await notice_recipients(turn.session, officer_id, turn.settings.admin_telegram_ids)
    for contact in recipients:
        text = turn.dispatcher.messages[contact.locale]("officer.new_question_notice", region=region)
        await queue_message(turn.session, contact.id, FollowUpKind.NOTICE, text, turn.now)
    if recipients:
        turn.wake("ticker")
