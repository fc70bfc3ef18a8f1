"""The officer's side of the bot: due tasks (/tugas) with outcome buttons and a note, answers to workers'
questions, and the personal link with its QR code (/kode).

Every step here is registered with a role, so a worker can never reach one; an officer works only the tasks
of the kabupaten/kota they cover. Admins work every task, the unassigned pool included.
"""

from __future__ import annotations

from datetime import timedelta

from bot.card import card_png
from bot.conversation.router import Router
from bot.conversation.turn import MAIN, Turn
from bot.models import Contact, FollowUp, FollowUpKind, FollowUpStatus, Officer, Role
from bot.phone import display_phone
from bot.services.followups import local_day
from bot.services.officers import actor_of, find_officer, officer_regions
from bot.services.tasks import (
    CALL_OUTCOMES,
    NOTE_MAX,
    QUESTION_MAX,
    Task,
    add_note,
    close_question,
    due_tasks,
    find_task,
    may_work,
    queue_message,
    record_call_outcome,
)
from handlers.onboarding import back_to_menu, occupation_label

router = Router("officer")

NOTE = "officer/note"
REPLY = "officer/reply"
PAGE_SIZE = 5


async def _me(turn: Turn) -> Officer | None:
    return await find_officer(turn.session, turn.contact.id)


@router.command("tugas", "tasks", role=Role.OFFICER)
async def tasks_command(turn: Turn) -> None:
    await show_tasks(turn, 0)


@router.action("tasks", role=Role.OFFICER)
async def tasks_page(turn: Turn, offset: str) -> None:
    await show_tasks(turn, int(offset) if offset.isdigit() else 0)


async def show_tasks(turn: Turn, offset: int) -> None:
    """Today's tasks and the overdue ones, a page at a time, each with its own buttons."""
    scope = None if turn.sees_all_regions else await _me(turn)
    tasks, total = await due_tasks(turn.session, scope, local_day(turn.now, turn.settings.tz)[1], PAGE_SIZE, offset)
    if not tasks:
        back_to_menu(turn, turn.t("officer.no_tasks"))
        return
    turn.say("officer.tasks_header", first=offset + 1, last=offset + len(tasks), total=total)
    for task in tasks:
        _show_task(turn, task)
    if offset + len(tasks) < total:
        turn.say("officer.more_tasks", choices=[turn.choice(f"tasks:{offset + PAGE_SIZE}", "officer.next_page")])


def _show_task(turn: Turn, task: Task) -> None:
    row, lead = task.followup, task.lead
    overdue = row.due_at < turn.now - timedelta(hours=1)
    lines = [
        turn.t(
            "officer.task_call" if row.kind == FollowUpKind.CALL else "officer.task_question",
            name=lead.name if lead else turn.t("officer.unnamed_worker"),
            occupation=occupation_label(turn, lead.occupation if lead else task.contact.occupation),
            region=row.region or turn.t("officer.no_region"),
        )
    ]
    if lead is not None:
        lines.append(turn.t("officer.task_phone", phone=lead.phone, local=display_phone(lead.phone)))
        lines.append(turn.t("officer.task_call_time", call_time=turn.t(f"interest.call_time.{lead.call_time}")))
    if task.question:
        lines.append(turn.t("officer.task_asked", question=task.question))
    due = turn.local_time(row.due_at)
    lines.append(turn.t("officer.task_overdue" if overdue else "officer.task_due", due=due))
    if row.kind == FollowUpKind.CALL:
        choices = [
            turn.choice(f"task_out:{row.id}:{outcome}", f"officer.outcome.{outcome}") for outcome in CALL_OUTCOMES
        ]
    else:
        choices = [turn.choice(f"task_reply:{row.id}", "officer.reply_button")]
    turn.reply("\n".join(lines), choices=choices, columns=2)


async def _workable(turn: Turn, task_id: str, kind: FollowUpKind) -> tuple[Officer | None, FollowUp] | None:
    """The task a button names, if it exists, is of this kind, is still open and is the officer's to work."""
    task = await find_task(turn.session, task_id)
    if task is None or task.kind != kind:
        await turn.refuse_button()
        return None
    officer = await _me(turn)
    if not await may_work(turn.session, officer, turn.sees_all_regions, task):
        back_to_menu(turn, turn.t("officer.not_your_region"))
        return None
    if task.status != FollowUpStatus.PENDING:
        back_to_menu(turn, turn.t("officer.already_done"))
        return None
    return officer, task


@router.action("task_out", role=Role.OFFICER)
async def record_outcome(turn: Turn, argument: str) -> None:
    task_id, _, outcome = argument.partition(":")
    if outcome not in CALL_OUTCOMES:
        await turn.refuse_button()
        return
    if (found := await _workable(turn, task_id, FollowUpKind.CALL)) is None:
        return
    officer, task = found
    event = await record_call_outcome(turn.session, task, outcome, actor_of(officer, turn.contact), turn.now)
    turn.goto(NOTE, event=event.id if event else None)
    turn.say("officer.outcome_recorded", outcome=turn.t(f"officer.outcome.{outcome}"))
    await turn.prompt()


@router.prompt(NOTE)
async def ask_note(turn: Turn) -> None:
    turn.say("officer.ask_note", choices=[turn.choice("tasks", "officer.skip_note")])


@router.text(NOTE, role=Role.OFFICER)
async def note(turn: Turn, text: str) -> None:
    if len(text) > NOTE_MAX:
        turn.say("officer.note_too_long", limit=NOTE_MAX)
        await turn.prompt()
        return
    if turn.data.get("event") is not None:
        await add_note(turn.session, turn.data["event"], text)
    turn.goto(MAIN)
    turn.say("officer.note_saved")
    await show_tasks(turn, 0)


@router.action("task_reply", role=Role.OFFICER)
async def start_reply(turn: Turn, task_id: str) -> None:
    if (found := await _workable(turn, task_id, FollowUpKind.QUESTION)) is None:
        return
    _, task = found
    turn.goto(REPLY, task=task.id, question=task.text)
    await turn.prompt()


@router.prompt(REPLY)
async def ask_reply(turn: Turn) -> None:
    turn.say(
        "officer.type_reply", question=turn.data.get("question", ""), choices=[turn.choice("tasks", "common.cancel")]
    )


@router.text(REPLY, role=Role.OFFICER)
async def reply(turn: Turn, text: str) -> None:
    if len(text) > QUESTION_MAX:
        turn.say("officer.reply_too_long", limit=QUESTION_MAX)
        await turn.prompt()
        return
    if (found := await _workable(turn, str(turn.data.get("task", "")), FollowUpKind.QUESTION)) is None:
        turn.goto(MAIN)
        return
    officer, task = found
    worker = await turn.session.get_one(Contact, task.contact_id)  # (a task goes with its contact)
    t = turn.dispatcher.messages[worker.locale]
    signed = officer.name if officer else t("ask.staff")
    await queue_message(
        turn.session, worker.id, FollowUpKind.ANSWER, t("ask.answer", officer=signed, answer=text), turn.now
    )
    await close_question(turn.session, task, "answered")
    turn.wake("ticker")
    turn.goto(MAIN)
    turn.say("officer.reply_sent")
    await show_tasks(turn, 0)


@router.command("kode", "code", role=Role.OFFICER)
async def my_code(turn: Turn) -> None:
    officer = await _me(turn)
    if officer is None:  # an admin who is not an officer has no personal link
        back_to_menu(turn, turn.t("officer.no_code"))
        return
    link = turn.deep_link(officer.code)
    if link is None:
        back_to_menu(turn, turn.t("officer.my_code", code=officer.code))
        return
    regions = turn.t("officer.card_regions", regions=", ".join(await officer_regions(turn.session, officer.id)))
    card = card_png(link, officer.name, regions, turn.t("officer.card_hint"))
    turn.reply(turn.t("officer.my_link", link=link, code=officer.code), document=(f"qr-{officer.code}.png", card))
    whatsapp = turn.deep_link(officer.code, "whatsapp")
    if whatsapp is not None and turn.contact.channel != "whatsapp":  # where most workers are
        card = card_png(whatsapp, officer.name, regions, turn.t("officer.card_hint_whatsapp"))
        turn.reply(
            turn.t("officer.my_link_whatsapp", link=whatsapp, code=officer.code),
            document=(f"qr-{officer.code}-whatsapp.png", card),
        )
