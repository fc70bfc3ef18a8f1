"""Siaran: the broadcast campaigns of a period with their figures; one campaign's figures as bars with its sending
curve; and the same figures as JSON, which static/live.js reads to move a running campaign's numbers without a
reload (without the script a reload shows them). Who sees which campaign: bot/services/dashboard_campaigns.py."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.models import CampaignStatus
from bot.services.campaigns import Figures
from bot.services.dashboard_access import Viewer
from bot.services.dashboard_campaigns import CampaignLine, campaigns_of_period, find_campaign, sending_curve
from bot.services.segments import Segment
from bot.web.dashboard.auth import signed_in
from bot.web.dashboard.charts import bars, lines
from bot.web.dashboard.rendering import DASHBOARD, PAGES, chosen_period, excerpt, message_page, moment, number, page

# The figures of a campaign, in the order the page shows them (dashboard.campaigns.figure.<name>).
FIGURES = ("recipients", "sent", "delivered", "read", "replied", "failed", "blocked", "skipped", "waiting")
# A segment's filters (segments.Segment), as the page names them (dashboard.campaigns.filter.<name>).
FILTERS = ("region", "occupation", "status", "lang", "channel", "source", "quiet")
EXCERPT = 80  # characters of a campaign's text in the list
AUTHOR_ROLES = ("officer", "staff", "admin")  # created_by "<role>:..." when no officer's name is known


def figure_values(figures: Figures) -> dict[str, int]:
    progress = figures.progress
    return {
        "recipients": progress.total,
        "sent": progress.sent,
        "delivered": figures.delivered,
        "read": figures.read,
        "replied": figures.replied,
        "failed": progress.failed,
        "blocked": progress.blocked,
        "skipped": progress.skipped,
        "waiting": progress.waiting,
    }


def _author(line: CampaignLine, t: Translator) -> str:
    if line.officer:
        return line.officer
    role = line.created_by.partition(":")[0]
    return t(f"officer.role.{role}") if role in AUTHOR_ROLES else t("dashboard.campaigns.by_command_line")


def _segment(segment: Segment, t: Translator) -> list[str]:
    """The segment's filters as "label: value", in plain words (the chat's own labels carry emoji)."""
    values = {
        "region": ", ".join(segment.regions),
        "occupation": t(f"export.occupation.{segment.occupation}") if segment.occupation else "",
        "status": t(f"interest.status.{segment.status}") if segment.status else "",
        "lang": t(f"dashboard.campaigns.lang.{segment.lang}") if segment.lang else "",
        "channel": t(f"broadcast.channel.{segment.channel}") if segment.channel else "",
        "source": segment.source or "",
        "quiet": t("broadcast.days", days=segment.not_contacted_days) if segment.not_contacted_days else "",
    }
    shown = [t(f"dashboard.campaigns.filter.{name}", value=values[name]) for name in FILTERS if values[name]]
    return shown or [t("dashboard.campaigns.everyone")]


def _live(campaign_id: int) -> str:
    return f"{PAGES['campaigns']}/{campaign_id}.json"


def _described(line: CampaignLine, t: Translator, tz: ZoneInfo) -> dict[str, object]:
    """What the list and the page say about a campaign besides its figures."""
    values = figure_values(line.figures)
    return {
        "id": line.id,
        "author": _author(line, t),
        "segment": _segment(line.segment, t),
        "status": t(f"broadcast.state.{line.status}"),
        "starts": moment(line.starts_at, t, tz),
        "finished": moment(line.finished_at, t, tz) if line.finished_at else "",
        "live": _live(line.id) if line.running else "",
        "kept": line.kept,
        "figures": [(name, number(values[name], t)) for name in FIGURES],
    }


@signed_in
async def campaign_list(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    tz = dashboard.settings.tz
    period = chosen_period(request, dashboard)  # a date it cannot take: signed_in answers 400
    lines, more = await campaigns_of_period(session, period, tz, viewer.contact.id, viewer.regions)
    rows = [_described(line, t, tz) | {"text": excerpt(line.text, EXCERPT)} for line in lines]
    return page(
        request,
        viewer,
        t,
        period,
        "campaigns",
        "campaigns.html",
        rows=rows,
        more=more,
        listed=len(rows),
        figures=FIGURES,
        live=any(row["live"] for row in rows),
    )


async def _campaign(request: web.Request, session: AsyncSession, viewer: Viewer) -> CampaignLine | None:
    # The route takes 1 to 9 digits: a longer or non-numeric id never reaches the database.
    campaign_id = int(request.match_info["id"])
    return await find_campaign(session, campaign_id, viewer.contact.id, viewer.regions)


def _missing(t: Translator) -> web.Response:
    """An unknown id and one this viewer may not see get the same answer: it tells nothing about the other."""
    return message_page(t, 404, "dashboard.campaigns.missing_title", "dashboard.campaigns.missing_text")


@signed_in
async def campaign_page(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    tz = dashboard.settings.tz
    period = chosen_period(request, dashboard)  # the menu's links keep it
    line = await _campaign(request, session, viewer)
    if line is None:
        return _missing(t)
    values = figure_values(line.figures)
    labels = [t(f"dashboard.campaigns.figure.{name}") for name in FIGURES]
    curve, step_minutes = None, 0
    if line.status != CampaignStatus.SCHEDULED and values["recipients"]:  # once its recipients were chosen
        end = max(line.finished_at or dashboard.clock(), line.starts_at)
        sent = await sending_curve(session, line.id, line.starts_at, end)
        # A point at the start (nothing sent yet), then one at the end of each step (the last one at `end`).
        moments = [min(sent.start + sent.step * index, sent.end) for index in range(len(sent.sent) + 1)]
        # Under the curve, the hour alone when it all happened on one day (the page gives the date above it).
        one_day = sent.start.astimezone(tz).date() == sent.end.astimezone(tz).date()
        shown = [moment(when, t, tz, with_date=not one_day) for when in moments]
        curve = lines([("sent", t("dashboard.campaigns.figure.sent"), [0, *sent.sent])], shown, t)
        step_minutes = int(sent.step.total_seconds() // 60)
    return page(
        request,
        viewer,
        t,
        period,
        "campaigns",
        "campaign.html",
        campaign=_described(line, t, tz) | {"text": line.text},
        chart=bars(list(zip(labels, (values[name] for name in FIGURES), strict=True)), t),
        figures=FIGURES,
        curve=curve,
        step_minutes=step_minutes,
    )


@signed_in
async def campaign_json(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
    """The figures live.js puts in the page: each as a number, as shown, and as its bar's width."""
    dashboard = request.app[DASHBOARD]
    t = dashboard.messages[viewer.contact.locale]
    line = await _campaign(request, session, viewer)
    if line is None:
        return _missing(t)
    values = figure_values(line.figures)
    chart = bars([(name, values[name]) for name in FIGURES], t)
    return web.json_response(
        {
            "id": line.id,
            "running": line.running,
            "status": line.status,
            "status_shown": t(f"broadcast.state.{line.status}"),
            "figures": {bar.label: {"value": bar.value, "shown": bar.shown, "width": bar.width} for bar in chart},
        }
    )
