"""Lead lists from the chat (/ekspor), for officers, staff and admins: choose the filters with buttons, see the
count, choose Excel or CSV; the file is written in the background (bot/workers/exporter.py) and arrives as a
document with a "selesai" message, however large the list.

An officer exports only their own regions: the filters are limited in the service, so a forged region button
is refused, and the refusal is in the audit log. Workers are refused by the router (also audited).
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.conversation.events import Choice
from bot.conversation.router import Router
from bot.conversation.turn import Turn
from bot.models import LeadStatus, Occupation, Role
from bot.services.audit import record_event
from bot.services.exports import FORMATS, ExportError, LeadFilter, count_leads, limit_to_regions, request_export
from bot.services.leads import is_source_code
from bot.services.segments import CHANNELS
from handlers.onboarding import back_to_menu

router = Router("export")

FORM = "export/form"
FILTER = "export/filter"
SOURCE = "export/source"

FILTERS = ("region", "occupation", "status", "period", "channel", "source")
PERIODS = ("7", "30", "month", "last_month")


def _chosen(turn: Turn) -> LeadFilter:
    return LeadFilter.from_json(turn.data.get("filters", {}))


def _format(turn: Turn) -> str:
    return turn.data.get("format", "xlsx")


async def _within_reach(turn: Turn, chosen: LeadFilter) -> LeadFilter:
    """The filters as this person may export them: an officer's kept to their regions (ExportError if not)."""
    allowed = await turn.regions_in_reach()
    return chosen if allowed is None else limit_to_regions(chosen, allowed)


async def _refuse(turn: Turn, error: ExportError) -> None:
    await record_event(turn.session, turn.actor, "export", turn.now, allowed=False, reason=str(error), via="chat")
    await turn.refuse_button()


def _back_to_form(turn: Turn, chosen: LeadFilter, file_format: str) -> None:
    turn.goto(FORM, filters=chosen.to_json(), format=file_format)


# ------------------------------------------------------------------------------------------ the form


@router.command("ekspor", "export", role=Role.OFFICER)
async def export(turn: Turn) -> None:
    _back_to_form(turn, LeadFilter(), "xlsx")
    await turn.prompt()


@router.action("exports", role=Role.OFFICER)
async def export_button(turn: Turn, _: str) -> None:
    await export(turn)


@router.prompt(FORM)
async def show_form(turn: Turn) -> None:
    try:
        chosen = await _within_reach(turn, _chosen(turn))
    except ExportError as error:  # an officer left without regions since the form was opened
        await record_event(turn.session, turn.actor, "export", turn.now, allowed=False, reason=str(error))
        back_to_menu(turn, turn.t("export.no_regions"))
        return
    t = turn.t
    anyone = t("export.any")
    file_format = _format(turn)
    other = "csv" if file_format == "xlsx" else "xlsx"
    count = await count_leads(turn.session, chosen, turn.settings.tz)
    turn.say(
        "export.form",
        regions=", ".join(chosen.regions) or anyone,
        occupation=t(f"export.occupation.{chosen.occupation}") if chosen.occupation else anyone,
        status=t(f"interest.status.{chosen.status}") if chosen.status else anyone,
        period=_period_text(turn, chosen) or anyone,
        channel=t(f"broadcast.channel.{chosen.channel}") if chosen.channel else anyone,
        source=chosen.source or anyone,
        count=count,
        format=t(f"export.format.{file_format}"),
        choices=[
            *(turn.choice(f"ex_filter:{name}", f"export.filter.{name}") for name in FILTERS),
            turn.choice(f"ex_format:{other}", "export.switch_format", format=t(f"export.format.{other}")),
            turn.choice("ex_go", "export.go", count=count),
            turn.choice("menu", "common.cancel"),
        ],
        columns=2,
    )


def _period_text(turn: Turn, chosen: LeadFilter) -> str:
    day = turn.local_date
    if chosen.since and chosen.until:
        return turn.t("export.period_between", since=day(chosen.since), until=day(chosen.until))
    if chosen.since:
        return turn.t("export.period_since", since=day(chosen.since))
    if chosen.until:
        return turn.t("export.period_until", until=day(chosen.until))
    return ""


@router.action("ex_filter", decides=FORM, role=Role.OFFICER)
async def choose_filter(turn: Turn, name: str) -> None:
    if name not in FILTERS:
        await turn.refuse_button()
        return
    turn.goto(SOURCE if name == "source" else FILTER, filters=turn.data["filters"], format=_format(turn), filter=name)
    await turn.prompt()


@router.action("ex_format", decides=FORM, role=Role.OFFICER)
async def switch_format(turn: Turn, file_format: str) -> None:
    if file_format not in FORMATS:
        await turn.refuse_button()
        return
    _back_to_form(turn, _chosen(turn), file_format)
    await turn.prompt()


@router.prompt(FILTER)
async def show_filter(turn: Turn) -> None:
    name = turn.data.get("filter")
    t = turn.t
    if name == "region":
        options = await turn.region_choices("ex_pick")
    elif name == "occupation":
        options = [Choice(f"ex_pick:{o}", t(f"export.occupation.{o}")) for o in Occupation]
    elif name == "status":
        options = [Choice(f"ex_pick:{s}", t(f"interest.status.{s}")) for s in LeadStatus]
    elif name == "period":
        options = [Choice(f"ex_pick:{p}", t(f"export.period.{p}")) for p in PERIODS]
    else:
        options = [Choice(f"ex_pick:{c}", t(f"broadcast.channel.{c}")) for c in CHANNELS]
    turn.say(f"export.ask.{name}", choices=[*options, turn.choice("ex_pick:", "export.any")], columns=2)


def _period(value: str, today: date) -> tuple[date | None, date | None]:
    """A period button as local dates, both included; ValueError for one this list never showed."""
    if value in ("7", "30"):
        return today - timedelta(days=int(value) - 1), None
    first = today.replace(day=1)
    if value == "month":
        return first, None
    if value == "last_month":
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(value)


def _picked(turn: Turn, chosen: LeadFilter, name: str, value: str) -> LeadFilter:
    """The filters with the value a button stands for; ValueError for one this list never showed."""
    if name == "period":
        since, until = _period(value, turn.now.astimezone(turn.settings.tz).date()) if value else (None, None)
        return chosen.with_value("since", since).with_value("until", until)
    if name == "region":
        region = turn.content.region_at(value) if value else None
        if value and region is None:
            raise ValueError(value)
        return chosen.with_value("regions", (region,) if region else ())
    allowed = {"occupation": tuple(Occupation), "status": tuple(LeadStatus), "channel": CHANNELS}[name]
    if value and value not in allowed:
        raise ValueError(value)
    return chosen.with_value(name, value or None)


@router.action("ex_pick", decides=FILTER, role=Role.OFFICER)
async def pick(turn: Turn, value: str) -> None:
    try:
        chosen = _picked(turn, _chosen(turn), turn.data.get("filter", ""), value)
    except (ValueError, KeyError):
        await turn.refuse_button()
        return
    try:
        await _within_reach(turn, chosen)
    except ExportError as error:  # an officer's button for a region not theirs: forged or out of date
        await _refuse(turn, error)
        return
    _back_to_form(turn, chosen, _format(turn))
    await turn.prompt()


@router.prompt(SOURCE)
async def ask_source(turn: Turn) -> None:
    turn.say("export.ask.source", choices=[turn.choice("ex_any_source", "export.any")])


@router.text(SOURCE, role=Role.OFFICER)
async def typed_source(turn: Turn, text: str) -> None:
    if not is_source_code(text):
        turn.say("export.bad_source")
        await turn.prompt()
        return
    _back_to_form(turn, _chosen(turn).with_value("source", text), _format(turn))
    await turn.prompt()


@router.action("ex_any_source", decides=SOURCE, role=Role.OFFICER)
async def any_source(turn: Turn, _: str) -> None:
    _back_to_form(turn, _chosen(turn).with_value("source", None), _format(turn))
    await turn.prompt()


# ------------------------------------------------------------------------------------------ the file


@router.action("ex_go", decides=FORM, role=Role.OFFICER)
async def go(turn: Turn, _: str) -> None:
    try:
        chosen = await _within_reach(turn, _chosen(turn))
    except ExportError as error:
        await _refuse(turn, error)
        return
    count = await count_leads(turn.session, chosen, turn.settings.tz)
    if count == 0:
        turn.say("export.none")
        await turn.prompt()
        return
    file_format = _format(turn)
    await request_export(turn.session, turn.contact, turn.actor, chosen, file_format, turn.contact.locale, turn.now)
    turn.wake("exporter")
    back_to_menu(turn, turn.t("export.queued", count=count, format=turn.t(f"export.format.{file_format}")))
