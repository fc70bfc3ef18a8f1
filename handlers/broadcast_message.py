"""The message of a broadcast from the chat (/siaran): written or picked, a button, previewed, tested, and timed.

The second module of handlers/broadcast.py's conversation (its states and helpers are there): the steps from
the message to the confirmation, which is the one step that writes (the campaign, at its time).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.conversation.events import Choice
from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.models import Role
from bot.services.audit import record_event
from bot.services.campaigns import BUTTONS, TEXT_MAX, create_campaign
from bot.services.followups import Cadence
from bot.services.segments import count_audience
from handlers.broadcast import (
    AT,
    BUTTON,
    CONFIRM,
    PREVIEW,
    TEXT,
    TEXT_EN,
    audience_of,
    author_name,
    chosen_segment,
    within_reach,
)
from handlers.onboarding import back_to_menu

# The conversation's name, as in handlers/broadcast.py: a refused step is audited as `broadcast` either way.
router = Router("broadcast")

# Messages an author may pick instead of typing: catalog keys under broadcast.saved.<key>.
SAVED = ("intro", "cost", "register")
_TIME_RE = re.compile(r"^(?:(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}))?\s+)?(\d{1,2})[.:](\d{2})$")


# ------------------------------------------------------------------------------------------ what


@router.prompt(TEXT)
async def ask_text(turn: Turn) -> None:
    saved = [turn.choice(f"bc_saved:{key}", f"broadcast.saved.{key}.button") for key in SAVED]
    turn.say("broadcast.ask_text", max=TEXT_MAX, choices=[*saved, turn.choice("bc_cancel", "common.cancel")])


@router.text(TEXT, role=Role.OFFICER)
async def typed_text(turn: Turn, text: str) -> None:
    await _typed_message(turn, text, "text_id", then=TEXT_EN)


async def _typed_message(turn: Turn, text: str, field: str, then: str) -> None:
    """A message typed in either language: kept when one broadcast can hold it, else asked again."""
    if len(text) > TEXT_MAX:
        turn.say("broadcast.too_long", max=TEXT_MAX)
        await turn.prompt()
        return
    turn.goto(then, **{**turn.data, field: text})
    await turn.prompt()


@router.action("bc_saved", decides=TEXT, role=Role.OFFICER)
async def saved_text(turn: Turn, key: str) -> None:
    if key not in SAVED:
        await turn.refuse_button()
        return
    texts = {locale: turn.dispatcher.messages[locale](f"broadcast.saved.{key}.text") for locale in ("id", "en")}
    turn.goto(BUTTON, **{**turn.data, "text_id": texts["id"], "text_en": texts["en"]})
    await turn.prompt()


@router.prompt(TEXT_EN)
async def ask_text_en(turn: Turn) -> None:
    turn.say("broadcast.ask_text_en", choices=[turn.choice("bc_skip_en", "broadcast.skip_en")])


@router.text(TEXT_EN, role=Role.OFFICER)
async def typed_text_en(turn: Turn, text: str) -> None:
    await _typed_message(turn, text, "text_en", then=BUTTON)


@router.action("bc_skip_en", decides=TEXT_EN, role=Role.OFFICER)
async def skip_text_en(turn: Turn, _: str) -> None:
    turn.goto(BUTTON, **{**turn.data, "text_en": None})
    await turn.prompt()


@router.prompt(BUTTON)
async def ask_button(turn: Turn) -> None:
    turn.say(
        "broadcast.ask_button",
        choices=[
            turn.choice("bc_button:interest", "broadcast.button.interest"),
            turn.choice("bc_button:calculator", "broadcast.button.calculator"),
            turn.choice("bc_button:none", "broadcast.button.none"),
        ],
    )


@router.action("bc_button", decides=BUTTON, role=Role.OFFICER)
async def chosen_button(turn: Turn, button: str) -> None:
    if button not in (*BUTTONS, "none"):
        await turn.refuse_button()
        return
    turn.goto(PREVIEW, **{**turn.data, "button": None if button == "none" else button})
    await turn.prompt()


# ------------------------------------------------------------------------------------------ preview, when


def _as_sent(turn: Turn, locale: str) -> tuple[str, list[Choice]]:
    """The message and its button exactly as a recipient in `locale` gets it (the engine's choice of text)."""
    data = turn.data
    text = data["text_en"] if locale == "en" and data.get("text_en") else data["text_id"]
    button = data.get("button")
    if button is None:
        return text, []
    action, label = BUTTONS[button]
    return text, [Choice(action, turn.dispatcher.messages[locale](label))]


@router.prompt(PREVIEW)
async def preview(turn: Turn) -> None:
    audience = await audience_of(turn, chosen_segment(turn))
    turn.say(
        "broadcast.preview_header",
        total=audience.total,
        id=audience.by_locale.get("id", 0),
        en=audience.by_locale.get("en", 0),
    )
    if audience.whatsapp_text or audience.whatsapp_template:
        # WhatsApp takes free text only from people who wrote within 24 hours; the others need a template.
        has_template = turn.settings.template("broadcast") is not None
        turn.say(
            "broadcast.preview_whatsapp" if has_template else "broadcast.preview_whatsapp_skipped",
            text=audience.whatsapp_text,
            template=audience.whatsapp_template,
        )
    for locale in ("id", "en") if turn.data.get("text_en") else ("id",):
        text, choices = _as_sent(turn, locale)
        turn.reply(text, choices=choices, standalone=True)
    await _controls(turn)


async def _controls(turn: Turn) -> None:
    turn.say(
        "broadcast.preview_controls",
        choices=[
            turn.choice("bc_test", "broadcast.test"),
            turn.choice("bc_now", "broadcast.send_now"),
            turn.choice("bc_later", "broadcast.send_later"),
            turn.choice("bc_edit", "broadcast.edit"),
            turn.choice("bc_cancel", "common.cancel"),
        ],
    )


@router.action("bc_test", decides=PREVIEW, role=Role.OFFICER)
async def send_test(turn: Turn, _: str) -> None:
    text, choices = _as_sent(turn, turn.contact.locale)
    turn.reply(text, choices=choices, standalone=True)
    turn.say("broadcast.test_sent")
    await _controls(turn)


@router.action("bc_edit", decides=PREVIEW, role=Role.OFFICER)
async def edit_message(turn: Turn, _: str) -> None:
    turn.goto(TEXT, segment=turn.data["segment"])
    await turn.prompt()


@router.action("bc_now", decides=PREVIEW, role=Role.OFFICER)
async def send_now(turn: Turn, _: str) -> None:
    turn.goto(CONFIRM, **{**turn.data, "at": None})
    await turn.prompt()


@router.action("bc_later", decides=PREVIEW, role=Role.OFFICER)
async def send_later(turn: Turn, _: str) -> None:
    turn.goto(AT, **turn.data)
    await turn.prompt()


@router.prompt(AT)
async def ask_time(turn: Turn) -> None:
    turn.say("broadcast.ask_time", choices=[turn.choice("bc_cancel", "common.cancel")])


def parse_local_time(text: str, now: datetime, tz) -> datetime | None:
    """ "16:00" (today, or tomorrow once past), "25/11 08.00", "25/11/2026 08:00", in the local zone."""
    match = _TIME_RE.match(text.strip())
    if match is None:
        return None
    day, month, year, hour, minute = match.groups()
    local_now = now.astimezone(tz)
    try:
        moment = local_now.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
        if day is not None:
            moment = moment.replace(year=int(year or local_now.year), month=int(month), day=int(day))
            if year is None and moment < local_now:  # "02/01" typed in December is next January
                moment = moment.replace(year=local_now.year + 1)
        elif moment < local_now:
            moment += timedelta(days=1)
    except ValueError:
        return None
    return moment


@router.text(AT, role=Role.OFFICER)
async def typed_time(turn: Turn, text: str) -> None:
    moment = parse_local_time(text, turn.now, turn.settings.tz)
    if moment is None or moment < turn.now or moment > turn.now + timedelta(days=60):
        turn.say("broadcast.bad_time")
        await turn.prompt()
        return
    turn.goto(CONFIRM, **{**turn.data, "at": moment.isoformat()})
    await turn.prompt()


@router.prompt(CONFIRM)
async def confirm(turn: Turn) -> None:
    audience = await audience_of(turn, chosen_segment(turn))
    at = turn.data.get("at")
    choices = [turn.choice("bc_go", "broadcast.go"), turn.choice("bc_cancel", "common.cancel")]
    if at is None:
        turn.say("broadcast.confirm_now", count=audience.total, choices=choices)
        return
    moment = datetime.fromisoformat(at)
    cadence = Cadence.from_settings(turn.settings)
    key = "broadcast.confirm_at" if cadence.in_window(moment) else "broadcast.confirm_at_quiet"
    start, end = (t.strftime("%H.%M") for t in turn.settings.send_window)
    turn.say(key, count=audience.total, at=turn.local_time(moment), start=start, end=end, choices=choices)


@router.action("bc_go", decides=CONFIRM, role=Role.OFFICER)
async def go(turn: Turn, _: str) -> None:
    data = turn.data
    at = datetime.fromisoformat(data["at"]) if data.get("at") else turn.now
    segment = await within_reach(turn, chosen_segment(turn))
    campaign = await create_campaign(
        turn.session,
        created_by=await author_name(turn),
        author_contact_id=turn.contact.id,
        segment=segment,
        text_id=data["text_id"],
        text_en=data.get("text_en"),
        button=data.get("button"),
        starts_at=at,
        now=turn.now,
    )
    audience = await count_audience(turn.session, segment, turn.content.consent_versions, turn.now)
    await record_event(
        turn.session,
        turn.actor,
        "broadcast",
        turn.now,
        rows=audience.total,
        campaign=campaign.id,
        change="create",
        segment=segment.to_json(),
        starts_at=at.isoformat(),
    )
    if data.get("at"):
        back_to_menu(turn, turn.t("broadcast.scheduled", id=campaign.id, at=turn.local_time(at)))
    else:
        back_to_menu(turn, turn.t("broadcast.started", id=campaign.id))
