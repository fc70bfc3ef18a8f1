"""Broadcasts from the chat (/siaran), for officers and admins: the home, choosing who, and the campaigns made.

One conversation in two modules: here its states, the home screen, choosing who a broadcast reaches, and
following, pausing, resuming, cancelling and reporting the campaigns made; writing the message, its preview
and test, and when it goes out are handlers/broadcast_message.py, which takes the states and the helpers below.

An officer reaches only people of their own regions (the segment is limited in the service, not just in the
buttons shown); admins reach everyone. The segment and the message stay in the state data until the
confirmation, so nothing is written before it and a restart continues at the step the author was on.
"""

from __future__ import annotations

import io

from bot.config import SUPPORTED_LOCALES
from bot.conversation.events import Choice
from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.models import Campaign, CampaignStatus, LeadStatus, Occupation, Role
from bot.services.audit import record_event
from bot.services.campaigns import (
    campaign_progress,
    cancel_campaign,
    list_campaigns,
    pause_campaign,
    progress_text,
    resume_campaign,
)
from bot.services.leads import is_source_code
from bot.services.officers import actor_of, find_officer
from bot.services.reports import write_delivery_report
from bot.services.segments import CHANNELS, CampaignError, Segment, count_audience, limit_to_regions
from handlers.onboarding import back_to_menu

router = Router("broadcast")

# Every state of the conversation, in the order an author meets them (the message's are handled in
# handlers/broadcast_message.py).
SEGMENT = "broadcast/segment"
FILTER = "broadcast/filter"
SOURCE = "broadcast/source"
TEXT = "broadcast/text"
TEXT_EN = "broadcast/text_en"
BUTTON = "broadcast/button"
PREVIEW = "broadcast/preview"
AT = "broadcast/at"
CONFIRM = "broadcast/confirm"

FILTERS = ("region", "occupation", "status", "lang", "channel", "source", "quiet")
QUIET_DAYS = (7, 14, 30)
LISTED = 5


async def author_name(turn: Turn) -> str:
    """The name a campaign's author is recorded and found under (`created_by`)."""
    return actor_of(await find_officer(turn.session, turn.contact.id), turn.contact)


def chosen_segment(turn: Turn) -> Segment:
    """The segment chosen so far, from the state data."""
    return Segment.from_json(turn.data.get("segment", {}))


async def within_reach(turn: Turn, segment: Segment) -> Segment:
    """The segment as this person may send it: an officer's kept to their regions, an admin's as chosen."""
    allowed = await turn.regions_in_reach()
    return segment if allowed is None else limit_to_regions(segment, allowed)


async def audience_of(turn: Turn, segment: Segment):
    """Whom the segment reaches now, as this person may send it."""
    return await count_audience(
        turn.session, await within_reach(turn, segment), turn.content.consent_versions, turn.now
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
    segment = await within_reach(turn, chosen_segment(turn))
    audience = await count_audience(turn.session, segment, turn.content.consent_versions, turn.now)
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
        left_out=left_out_text(turn, audience.left_out),
        choices=[
            *(turn.choice(f"bc_filter:{name}", f"broadcast.filter.{name}") for name in FILTERS),
            turn.choice("bc_who_done", "broadcast.next", count=audience.total),
            turn.choice("bc_cancel", "common.cancel"),
        ],
        columns=2,
    )


def left_out_text(turn: Turn, left_out: dict[str, int]) -> str:
    """How many people the segment leaves out because their lead ended, per status; empty when none."""
    if not left_out:
        return ""
    reasons = ", ".join(
        turn.t("broadcast.left_out_reason", count=count, status=turn.t(f"interest.status.{status}"))
        for status, count in left_out.items()
    )
    return turn.t("broadcast.left_out", count=sum(left_out.values()), reasons=reasons)


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
        segment = chosen_segment(turn).with_value(_FIELDS[name], chosen)
        await audience_of(turn, segment)  # an officer's region outside their own is refused here
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
    turn.goto(SEGMENT, segment=chosen_segment(turn).with_value("source", text).to_json())
    await turn.prompt()


@router.action("bc_pick_source", decides=SOURCE, role=Role.OFFICER)
async def any_source(turn: Turn, _: str) -> None:
    turn.goto(SEGMENT, segment=chosen_segment(turn).with_value("source", None).to_json())
    await turn.prompt()


@router.action("bc_who_done", decides=SEGMENT, role=Role.OFFICER)
async def who_done(turn: Turn, _: str) -> None:
    if (await audience_of(turn, chosen_segment(turn))).total == 0:
        turn.say("broadcast.nobody")
        await turn.prompt()
        return
    turn.goto(TEXT, segment=turn.data["segment"])
    await turn.prompt()


# ------------------------------------------------------------------------------------------ follow and control


async def _own_campaign(turn: Turn, argument: str) -> Campaign | None:
    """The campaign a button names, if this person may manage it (its author, or an admin)."""
    campaign = await turn.session.get(Campaign, int(argument)) if argument.isdigit() else None
    if campaign is None or not (turn.sees_all_regions or campaign.created_by == await author_name(turn)):
        return None
    return campaign


@router.action("bc_list", role=Role.OFFICER)
async def list_broadcasts(turn: Turn, _: str) -> None:
    campaigns = await list_campaigns(turn.session, None if turn.sees_all_regions else await author_name(turn), LISTED)
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
