"""The officer's side of the bot: due tasks (/tugas), a lead's card with its story and the stages to move it
through (after a call, from a new lead's notice, or found by /cari), answers to workers' questions, and the
personal link with its QR code (/kode).

Every step here is registered with a role, so a worker can never reach one; an officer works only the tasks
of the kabupaten/kota they cover. Admins work every task, the unassigned pool included.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from bot.card import card_png
from bot.conversation.router import Router
from bot.conversation.turn import MAIN, Turn
from bot.models import Contact, FollowUp, FollowUpKind, FollowUpStatus, Lead, LeadStatus, Officer, Role
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
    find_lead_by_id,
    find_task,
    lead_story,
    may_work,
    move_lead,
    queue_message,
    record_call_outcome,
    search_leads,
    search_terms,
)
from handlers.onboarding import back_to_menu, occupation_label

router = Router("officer")

NOTE = "officer/note"
REPLY = "officer/reply"
CHECK_BACK = "officer/check_back"
SEARCH = "officer/search"
PAGE_SIZE = 5
FOUND_SHOWN = 8  # leads a search lists as buttons; more asks for a longer search
HISTORY_SHOWN = 6  # the latest steps on a lead's card
CHECK_BACK_DAYS = (3, 7, 14)  # the buttons of "akan daftar"; any date can be typed
CHECK_BACK_MAX_DAYS = 180
_TYPED_DATE = re.compile(r"\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:\s*[-/.]\s*(\d{2}|\d{4}))?\s*")


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
        if lead is not None:  # its story and notes
            choices.append(turn.choice(f"lead:{lead.id}", "officer.open_card"))
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
    if not await may_work(turn.session, officer, turn.sees_all_regions, task.region):
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
    if outcome == LeadStatus.AKAN_DAFTAR and task.lead_id is not None:
        turn.goto(CHECK_BACK, lead=task.lead_id)
        await turn.prompt()
        return
    event = await record_call_outcome(turn.session, task, outcome, actor_of(officer, turn.contact), turn.now)
    _ask_note(turn, event.id if event else None, outcome)
    await turn.prompt()


def _ask_note(turn: Turn, event_id: int | None, stage: str) -> None:
    turn.goto(NOTE, event=event_id)
    turn.say("officer.outcome_recorded", outcome=turn.t(f"officer.outcome.{stage}"))


async def _workable_lead(turn: Turn, lead_id: str) -> Lead | None:
    """The lead a button names, if it still exists and is in the officer's regions (any, for staff)."""
    lead = await find_lead_by_id(turn.session, lead_id)
    if lead is None:
        back_to_menu(turn, turn.t("officer.lead_gone"))
        return None
    if not await may_work(turn.session, await _me(turn), turn.sees_all_regions, lead.region):
        back_to_menu(turn, turn.t("officer.lead_not_your_region"))
        return None
    return lead


@router.action("lead", role=Role.OFFICER)
async def open_lead(turn: Turn, lead_id: str) -> None:
    if (lead := await _workable_lead(turn, lead_id)) is not None:
        turn.goto(MAIN)
        await show_lead(turn, lead)


async def show_lead(turn: Turn, lead: Lead) -> None:
    """The lead's card: who, the number to call, when best, the stage it is at, its story with the notes, and
    a button for each stage."""
    story = await lead_story(turn.session, lead)
    lines = [
        turn.t(
            "officer.lead_title",
            name=lead.name,
            occupation=occupation_label(turn, lead.occupation),
            region=lead.region,
        ),
        turn.t("officer.task_phone", phone=lead.phone, local=display_phone(lead.phone)),
        turn.t("officer.task_call_time", call_time=turn.t(f"interest.call_time.{lead.call_time}")),
        turn.t("officer.lead_stage", stage=turn.t(f"interest.status.{lead.status}")),
    ]
    if story.check_back is not None:
        lines.append(turn.t("officer.lead_next_call", due=turn.local_time(story.check_back, "EEEE d MMM y HH:mm")))
    steps = [(lead.created_at, LeadStatus.BARU.value, None)] + [(e.at, e.to_status, e.note) for e in story.events]
    lines.append(turn.t("officer.lead_history"))
    for at, stage, note in steps[-HISTORY_SHOWN:]:
        label = turn.t(f"interest.status.{stage}")
        when = turn.local_time(at)
        lines.append(
            turn.t("officer.lead_step_note", at=when, stage=label, note=note)
            if note
            else turn.t("officer.lead_step", at=when, stage=label)
        )
    choices = [turn.choice(f"stage:{lead.id}:{stage}", f"officer.outcome.{stage}") for stage in CALL_OUTCOMES]
    turn.reply(
        "\n".join(lines),
        choices=[*choices, turn.choice("find", "officer.find_button"), turn.choice("menu", "common.menu")],
        columns=2,
    )


@router.action("stage", role=Role.OFFICER)
async def choose_stage(turn: Turn, argument: str) -> None:
    lead_id, _, stage = argument.partition(":")
    if stage not in CALL_OUTCOMES:
        await turn.refuse_button()
        return
    if (lead := await _workable_lead(turn, lead_id)) is None:
        return
    if stage == LeadStatus.AKAN_DAFTAR:
        turn.goto(CHECK_BACK, lead=lead.id)
        await turn.prompt()
        return
    officer = await _me(turn)
    event = await move_lead(turn.session, lead, stage, actor_of(officer, turn.contact), turn.now, officer=officer)
    _ask_note(turn, event.id, stage)
    await turn.prompt()


@router.prompt(CHECK_BACK)
async def ask_check_back(turn: Turn) -> None:
    days = [turn.choice(f"check_back:{n}", "officer.check_back_days", days=n) for n in CHECK_BACK_DAYS]
    turn.say("officer.ask_check_back", choices=[*days, turn.choice("menu", "common.cancel", means="cancel")])


@router.action("check_back", decides=CHECK_BACK, role=Role.OFFICER)
async def check_back_in(turn: Turn, days: str) -> None:
    if not days.isdigit() or int(days) not in CHECK_BACK_DAYS:
        await turn.refuse_button()
        return
    today = turn.now.astimezone(turn.settings.tz).date()
    await _will_register(turn, today + timedelta(days=int(days)))


@router.text(CHECK_BACK, role=Role.OFFICER)
async def check_back_typed(turn: Turn, text: str) -> None:
    today = turn.now.astimezone(turn.settings.tz).date()
    day = _typed_date(text, today)
    if day is None or not today < day <= today + timedelta(days=CHECK_BACK_MAX_DAYS):
        turn.say("officer.check_back_invalid", most=CHECK_BACK_MAX_DAYS)
        await turn.prompt()
        return
    await _will_register(turn, day)


def _typed_date(text: str, today: date) -> date | None:
    """A day typed as 15/12, 15-12-2026 or 15.12.26; without a year, the next such day to come."""
    match = _TYPED_DATE.fullmatch(text)
    if match is None:
        return None
    day, month, year = int(match[1]), int(match[2]), match[3]
    years = [int(year) + (2000 if len(year) == 2 else 0)] if year else [today.year, today.year + 1]
    for candidate in years:
        try:
            typed = date(candidate, month, day)
        except ValueError:  # 29/02 in a year without it: perhaps the next year has it
            continue
        if year or typed > today:
            return typed
    return None


async def _will_register(turn: Turn, day: date) -> None:
    """ "Akan daftar": the stage, and a call task on `day` at the start of the hours workers may be called."""
    if (lead := await _workable_lead(turn, str(turn.data.get("lead", "")))) is None:
        return
    settings = turn.settings
    check_back = datetime.combine(day, settings.send_window[0], tzinfo=settings.tz).astimezone(UTC)
    officer = await _me(turn)
    actor = actor_of(officer, turn.contact)
    event = await move_lead(turn.session, lead, LeadStatus.AKAN_DAFTAR, actor, turn.now, check_back, officer)
    _ask_note(turn, event.id, LeadStatus.AKAN_DAFTAR)
    turn.say("officer.check_back_set", name=lead.name, due=turn.local_time(check_back, "EEEE d MMM y"))
    await turn.prompt()


@router.command("cari", "find", role=Role.OFFICER)
async def find_command(turn: Turn) -> None:
    if turn.inbound.payload:
        turn.goto(MAIN)
        await _search(turn, turn.inbound.payload)
    else:
        await find(turn, "")


@router.action("find", role=Role.OFFICER)
async def find(turn: Turn, _: str) -> None:
    turn.goto(SEARCH)
    await turn.prompt()


@router.prompt(SEARCH)
async def ask_search(turn: Turn) -> None:
    turn.say("officer.ask_search", choices=[turn.choice("menu", "common.cancel", means="cancel")])


@router.text(SEARCH, role=Role.OFFICER)
async def search(turn: Turn, text: str) -> None:
    await _search(turn, text)


async def _search(turn: Turn, text: str) -> None:
    terms = search_terms(text)
    if terms is None:
        turn.goto(SEARCH)
        turn.say("officer.search_too_short")
        await turn.prompt()
        return
    scope = None if turn.sees_all_regions else await _me(turn)
    leads, total = await search_leads(turn.session, scope, *terms, FOUND_SHOWN)
    if not leads:
        turn.goto(SEARCH)
        turn.say("officer.search_none", text=text.strip()[:40])
        await turn.prompt()
        return
    turn.goto(MAIN)
    if total == 1:
        await show_lead(turn, leads[0])
        return
    key = "officer.search_found" if total <= FOUND_SHOWN else "officer.search_too_many"
    choices = [
        turn.choice(
            f"lead:{lead.id}",
            "officer.search_item",
            name=lead.name,
            region=lead.region,
            stage=turn.t(f"interest.status.{lead.status}"),
        )
        for lead in leads
    ]
    turn.say(key, count=total, shown=len(leads), choices=[*choices, turn.choice("find", "officer.find_again")])


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
    await close_question(turn.session, task, "answered", turn.now)
    turn.wake("ticker")
    turn.goto(MAIN)
    turn.say("officer.reply_sent")
    await show_tasks(turn, 0)


@router.action("code", role=Role.OFFICER)
async def code_button(turn: Turn, _: str) -> None:
    await my_code(turn)


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
    back_to_menu(turn)  # the cards are files: the officer's work goes on from the menu below them
