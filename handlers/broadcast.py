"""Broadcasts from the chat (/siaran), for officers and admins: choose who, write or pick the message, add a
button, preview, test, send now or at a time; then follow, pause, resume or cancel, and download the report.

An officer reaches only people of their own regions (the segment is limited in the service, not just in the
buttons shown); admins reach everyone. The segment and the message stay in the state data until the
confirmation, so nothing is written before it and a restart continues at the step the author was on.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

from bot.config import SUPPORTED_LOCALES
from bot.conversation.dispatcher import Router, Turn
from bot.conversation.events import Choice
from bot.models import Campaign, CampaignStatus, LeadStatus, Occupation, Role
from bot.services.audit import record_event
from bot.services.campaigns import (
    BUTTONS,
    CHANNELS,
    TEXT_MAX,
    CampaignError,
    Segment,
    campaign_progress,
    cancel_campaign,
    count_audience,
    create_campaign,
    limit_to_regions,
    list_campaigns,
    pause_campaign,
    resume_campaign,
)
from bot.services.followups import Cadence
from bot.services.leads import is_source_code
from bot.services.officers import actor_of, find_officer
from bot.services.reports import write_delivery_report
from bot.workers.broadcaster import progress_text
from handlers.onboarding import back_to_menu

router = Router("broadcast")

SEGMENT = "broadcast/segment"
FILTER = "broadcast/filter"
SOURCE = "broadcast/source"
TEXT = "broadcast/text"
TEXT_EN = "broadcast/text_en"
BUTTON = "broadcast/button"
PREVIEW = "broadcast/preview"
AT = "broadcast/at"
CONFIRM = "broadcast/confirm"

# Messages an author may pick instead of typing: catalog keys under broadcast.saved.<key>.
SAVED = ("intro", "cost", "register")
FILTERS = ("region", "occupation", "status", "lang", "channel", "source", "quiet")
QUIET_DAYS = (7, 14, 30)
LISTED = 5
_TIME_RE = re.compile(r"^(?:(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}))?\s+)?(\d{1,2})[.:](\d{2})$")


async def _actor(turn: Turn) -> str:
    return actor_of(await find_officer(turn.session, turn.contact.id), turn.contact)


def _segment(turn: Turn) -> Segment:
    return Segment.from_json(turn.data.get("segment", {}))


async def _within_reach(turn: Turn, segment: Segment) -> Segment:
    """The segment as this person may send it: an officer's kept to their regions, an admin's as chosen."""
    allowed = await turn.regions_in_reach()
    return segment if allowed is None else limit_to_regions(segment, allowed)


async def _audience(turn: Turn, segment: Segment):
    return await count_audience(
        turn.session, await _within_reach(turn, segment), turn.content.consent_version, turn.now
    )


# ------------------------------------------------------------------------------------------ start


@router.command("siaran", "broadcast", role=Role.OFFICER)
async def broadcasts(turn: Turn) -> None:
    turn.say(
        "broadcast.home",
        choices=[
            turn.choice("bc_new", "broadcast.new"),
            turn.choice("bc_list", "broadcast.list"),
            turn.choice("menu", "common.menu"),
        ],
    )


@router.action("broadcasts", role=Role.OFFICER)
async def broadcasts_button(turn: Turn, _: str) -> None:
    await broadcasts(turn)


@router.action("bc_new", role=Role.OFFICER)
async def new_broadcast(turn: Turn, _: str) -> None:
    turn.goto(SEGMENT, segment={})
    await turn.prompt()


@router.action("bc_cancel", role=Role.OFFICER)
async def cancel_wizard(turn: Turn, _: str) -> None:
    back_to_menu(turn, turn.t("broadcast.wizard_cancelled"))


# ------------------------------------------------------------------------------------------ who


@router.prompt(SEGMENT)
async def show_segment(turn: Turn) -> None:
    segment = await _within_reach(turn, _segment(turn))
    audience = await count_audience(turn.session, segment, turn.content.consent_version, turn.now)
    t = turn.t
    anyone = t("broadcast.any")
    turn.say(
        "broadcast.segment",
        regions=", ".join(segment.regions) or anyone,
        occupation=t(f"occupation.{segment.occupation}.label") if segment.occupation else anyone,
        status=t(f"interest.status.{segment.status}") if segment.status else anyone,
        lang=t(f"language.{segment.lang}") if segment.lang else anyone,
        channel=t(f"broadcast.channel.{segment.channel}") if segment.channel else anyone,
        source=segment.source or anyone,
        quiet=t("broadcast.days", days=segment.not_contacted_days) if segment.not_contacted_days else anyone,
        count=audience.total,
        choices=[
            *(turn.choice(f"bc_filter:{name}", f"broadcast.filter.{name}") for name in FILTERS),
            turn.choice("bc_who_done", "broadcast.next", count=audience.total),
            turn.choice("bc_cancel", "common.cancel"),
        ],
        columns=2,
    )


@router.action("bc_filter", decides=SEGMENT, role=Role.OFFICER)
async def choose_filter(turn: Turn, name: str) -> None:
    if name not in FILTERS:
        await turn.refuse_button()
        return
    turn.goto(SOURCE if name == "source" else FILTER, segment=turn.data["segment"], filter=name)
    await turn.prompt()


@router.prompt(FILTER)
async def show_filter(turn: Turn) -> None:
    name = turn.data.get("filter")
    t = turn.t
    if name == "region":
        options = await turn.region_choices("bc_pick")
    elif name == "occupation":
        options = [Choice(f"bc_pick:{o}", t(f"occupation.{o}.label")) for o in Occupation]
    elif name == "status":
        options = [Choice(f"bc_pick:{s}", t(f"interest.status.{s}")) for s in LeadStatus]
    elif name == "lang":
        options = [Choice(f"bc_pick:{locale}", t(f"language.{locale}")) for locale in SUPPORTED_LOCALES]
    elif name == "channel":
        options = [Choice(f"bc_pick:{c}", t(f"broadcast.channel.{c}")) for c in CHANNELS]
    else:
        options = [Choice(f"bc_pick:{days}", t("broadcast.days", days=days)) for days in QUIET_DAYS]
    turn.say(
        f"broadcast.ask.{name}",
        choices=[*options, turn.choice("bc_pick:", "broadcast.any")],
        columns=2,
    )


_FIELDS = {
    "region": "regions",
    "occupation": "occupation",
    "status": "status",
    "lang": "lang",
    "channel": "channel",
    "source": "source",
    "quiet": "not_contacted_days",
}


def _picked(turn: Turn, name: str, value: str):
    """The segment value a button stands for, or raise ValueError for one this list never showed."""
    if not value:
        return () if name == "region" else None
    if name == "region":
        region = turn.content.region_at(value)
        if region is None:
            raise ValueError(value)
        return (region,)
    allowed = {
        "occupation": tuple(Occupation),
        "status": tuple(LeadStatus),
        "lang": SUPPORTED_LOCALES,
        "channel": CHANNELS,
        "quiet": tuple(str(days) for days in QUIET_DAYS),
    }[name]
    if value not in allowed:
        raise ValueError(value)
    return int(value) if name == "quiet" else value


@router.action("bc_pick", decides=FILTER, role=Role.OFFICER)
async def pick(turn: Turn, value: str) -> None:
    name = turn.data.get("filter", "")
    try:
        chosen = _picked(turn, name, value)
        segment = _segment(turn).with_value(_FIELDS[name], chosen)
        await _audience(turn, segment)  # an officer's region outside their own is refused here
    except (ValueError, KeyError, CampaignError):
        await turn.refuse_button()
        return
    turn.goto(SEGMENT, segment=segment.to_json())
    await turn.prompt()


@router.prompt(SOURCE)
async def ask_source(turn: Turn) -> None:
    turn.say("broadcast.ask.source", choices=[turn.choice("bc_pick_source", "broadcast.any")])


@router.text(SOURCE, role=Role.OFFICER)
async def typed_source(turn: Turn, text: str) -> None:
    if not is_source_code(text):
        turn.say("broadcast.bad_source")
        await turn.prompt()
        return
    turn.goto(SEGMENT, segment=_segment(turn).with_value("source", text).to_json())
    await turn.prompt()


@router.action("bc_pick_source", decides=SOURCE, role=Role.OFFICER)
async def any_source(turn: Turn, _: str) -> None:
    turn.goto(SEGMENT, segment=_segment(turn).with_value("source", None).to_json())
    await turn.prompt()


@router.action("bc_who_done", decides=SEGMENT, role=Role.OFFICER)
async def who_done(turn: Turn, _: str) -> None:
    if (await _audience(turn, _segment(turn))).total == 0:
        turn.say("broadcast.nobody")
        await turn.prompt()
        return
    turn.goto(TEXT, segment=turn.data["segment"])
    await turn.prompt()


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
    audience = await _audience(turn, _segment(turn))
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
    audience = await _audience(turn, _segment(turn))
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
    segment = await _within_reach(turn, _segment(turn))
    campaign = await create_campaign(
        turn.session,
        created_by=await _actor(turn),
        author_contact_id=turn.contact.id,
        segment=segment,
        text_id=data["text_id"],
        text_en=data.get("text_en"),
        button=data.get("button"),
        starts_at=at,
        now=turn.now,
    )
    audience = await count_audience(turn.session, segment, turn.content.consent_version, turn.now)
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


# ------------------------------------------------------------------------------------------ follow and control


async def _own_campaign(turn: Turn, argument: str) -> Campaign | None:
    """The campaign a button names, if this person may manage it (its author, or an admin)."""
    campaign = await turn.session.get(Campaign, int(argument)) if argument.isdigit() else None
    if campaign is None or not (turn.sees_all_regions or campaign.created_by == await _actor(turn)):
        return None
    return campaign


@router.action("bc_list", role=Role.OFFICER)
async def list_broadcasts(turn: Turn, _: str) -> None:
    campaigns = await list_campaigns(turn.session, None if turn.sees_all_regions else await _actor(turn), LISTED)
    if not campaigns:
        turn.say("broadcast.list_empty", choices=[turn.choice("bc_new", "broadcast.new")])
        return
    progress = await campaign_progress(turn.session, [c.id for c in campaigns])
    lines = [
        turn.t(
            "broadcast.list_line",
            id=c.id,
            status=turn.t(f"broadcast.state.{c.status}"),
            at=turn.local_time(c.starts_at),
            sent=progress[c.id].sent,
            total=progress[c.id].total,
        )
        for c in campaigns
    ]
    choices = [Choice(f"bc_show:{c.id}", f"#{c.id}") for c in campaigns]
    turn.reply("\n".join([turn.t("broadcast.list_header"), *lines]), choices=choices, columns=LISTED)


@router.action("bc_show", role=Role.OFFICER)
async def show_broadcast(turn: Turn, argument: str) -> None:
    campaign = await _own_campaign(turn, argument)
    if campaign is None:
        await turn.refuse_button()
        return
    progress = (await campaign_progress(turn.session, [campaign.id]))[campaign.id]
    choices = []
    if campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
        choices.append(turn.choice(f"bc_pause:{campaign.id}", "broadcast.pause"))
    if campaign.status == CampaignStatus.PAUSED:
        choices.append(turn.choice(f"bc_resume:{campaign.id}", "broadcast.resume"))
    if campaign.status not in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
        choices.append(turn.choice(f"bc_stop:{campaign.id}", "broadcast.stop"))
    if campaign.recipients is not None:
        choices.append(turn.choice(f"bc_report:{campaign.id}", "broadcast.report_button"))
    text = progress_text(turn.t, campaign.id, campaign.status, progress)
    turn.reply(text, choices=[*choices, turn.choice("bc_list", "broadcast.list")])


@router.action("bc_pause", role=Role.OFFICER)
async def pause(turn: Turn, argument: str) -> None:
    await _control(turn, argument, pause_campaign, "broadcast.paused", "pause")


@router.action("bc_resume", role=Role.OFFICER)
async def resume(turn: Turn, argument: str) -> None:
    await _control(turn, argument, resume_campaign, "broadcast.resumed", "resume")


@router.action("bc_stop", role=Role.OFFICER)
async def ask_stop(turn: Turn, argument: str) -> None:
    if await _own_campaign(turn, argument) is None:
        await turn.refuse_button()
        return
    turn.say(
        "broadcast.stop_confirm",
        id=argument,
        choices=[
            turn.choice(f"bc_stop_yes:{argument}", "broadcast.stop_yes"),
            turn.choice(f"bc_show:{argument}", "broadcast.stop_no"),
        ],
    )


@router.action("bc_stop_yes", role=Role.OFFICER)
async def stop(turn: Turn, argument: str) -> None:
    async def cancel(session, campaign) -> None:
        await cancel_campaign(session, campaign, turn.now)

    await _control(turn, argument, cancel, "broadcast.cancelled", "cancel")


async def _control(turn: Turn, argument: str, change, said: str, what: str) -> None:
    campaign = await _own_campaign(turn, argument)
    if campaign is None:
        await turn.refuse_button()
        return
    try:
        await change(turn.session, campaign)
    except CampaignError:
        turn.say("broadcast.cannot", id=campaign.id, status=turn.t(f"broadcast.state.{campaign.status}"))
    else:
        await record_event(turn.session, turn.actor, "broadcast", turn.now, campaign=campaign.id, change=what)
        turn.say(said, id=campaign.id)
    await show_broadcast(turn, argument)


@router.action("bc_report", role=Role.OFFICER)
async def report(turn: Turn, argument: str) -> None:
    campaign = await _own_campaign(turn, argument)
    if campaign is None:
        await turn.refuse_button()
        return
    out = io.StringIO()
    rows = await write_delivery_report(turn.session, campaign.id, turn.t, turn.settings.tz, out)
    await record_event(
        turn.session, turn.actor, "export", turn.now, rows=rows, report="broadcast", campaign=campaign.id
    )
    # Excel opens UTF-8 CSV correctly only with the byte-order mark.
    document = (f"siaran-{campaign.id}.csv", out.getvalue().encode("utf-8-sig"))
    turn.reply(turn.t("broadcast.report", id=campaign.id, rows=rows), document=document)
