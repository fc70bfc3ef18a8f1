"""What every dashboard page shares: its context (settings, sessions, texts, clock), the templates, number
formats, the menu, and the page for a request that cannot be answered. The charts' geometry is in charts.py.

Styles come from the one CSS file the bot serves: the Content-Security-Policy forbids inline styles and scripts.
The one script, live.js, is the bot's own file too: it only moves a running broadcast's numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent

from bot.config import DASHBOARD_PATH, Settings
from bot.content import Content
from bot.db import Sessions
from bot.i18n import Messages, Translator
from bot.services.dashboard import Period
from bot.services.dashboard_access import Viewer

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
# Every page: nothing but what the bot itself serves (scripts only as its own files, never inline), never
# inside another site's frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The pages of the menu, in its order: name (dashboard.page.<name> is the title) and address within /dasbor.
PAGES = {
    "summary": "/",
    "regions": "/wilayah",
    "occupations": "/pekerjaan",
    "officers": "/petugas",
    "campaigns": "/siaran",
    "misses": "/belum-dimengerti",
    "leads": "/prospek",
}
# Pages for staff and admins only: an officer neither finds them in her menu nor may open them (auth.staff_only).
STAFF_ONLY = frozenset({"misses"})


@dataclass(frozen=True)
class Dashboard:
    """What the pages need, built once per web app (`bpu-bot run` or `bpu-bot dashboard serve`)."""

    settings: Settings
    sessions: Sessions
    messages: Messages
    content: Content
    clock: Callable[[], datetime]

    @property
    def secure(self) -> bool:
        """Behind HTTPS the session cookie is sent over HTTPS only."""
        return self.settings.dashboard_base.startswith("https://")


DASHBOARD = web.AppKey("dashboard", Dashboard)


def _environment() -> jinja2.Environment:
    # Autoescape everywhere (region names, texts); a missing variable fails the page instead of showing nothing.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.globals["base"] = DASHBOARD_PATH
    return environment


_templates = _environment()


def number(value: int, t: Translator) -> str:
    return format_decimal(value, locale=t.locale)


def moment(when: datetime, t: Translator, tz: ZoneInfo, with_date: bool = True) -> str:
    """A moment as every page writes it: the local date ("23 Nov 2026") and the language's own short time
    ("10.00" in Indonesian, "10:00 AM" in English); `with_date=False` for the hour alone."""
    local = when.astimezone(tz)
    time = format_time(local, "short", locale=t.locale)
    return f"{format_date(local, 'd MMM y', locale=t.locale)} {time}" if with_date else time


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of a text, whitespace runs as one space, ending in "…" when cut."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def percent(part: int, whole: int, t: Translator) -> str:
    """A share or a conversion in the page's language ("45%"), a dash when there is nothing to divide by."""
    if not whole:
        return "–"
    return format_percent(part / whole, format="#,##0%", locale=t.locale)


def render(template: str, t: Translator, *, status: int = 200, headers: dict[str, str] | None = None, **values):
    page = _templates.get_template(template).render(t=t, lang=t.locale, **values)
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8", headers=headers)


def message_page(t: Translator, status: int, title: str, text: str, **values) -> web.Response:
    """A clear page for what cannot be shown: a used or expired link, a bad date, no access."""
    return render("message.html", t, status=status, title=t(title), text=t(text, **values))


CSRF = web.RequestKey("csrf", str)  # set by auth.signed_in: the token the page's forms carry
# Set by a page once its answer has started to leave (a download): a failure then cannot become an error page.
STREAMING = web.RequestKey("streaming", bool)


class BadInput(Exception):
    """A query parameter a page cannot take (a date that is no date): answered with a page naming it, 400 unless
    said otherwise (404: a page or a lead that does not exist)."""

    def __init__(self, key: str, *, status: int = 400, title: str = "dashboard.bad_input.title", **values: object):
        super().__init__(key)
        self.key = key
        self.status = status
        self.title = title
        self.values = values


DEFAULT_DAYS = 30
LONGEST_PERIOD = timedelta(days=3 * 366)  # three years: longer asks are mistyped years, not plans


def chosen_period(request: web.Request, dashboard: Dashboard) -> Period:
    """`?dari=YYYY-MM-DD&sampai=YYYY-MM-DD` (local days, both included); by default the last 30 days to today."""
    today = dashboard.clock().astimezone(dashboard.settings.tz).date()
    days = {}
    for name in ("dari", "sampai"):
        raw = request.query.get(name, "").strip()
        if not raw:
            continue
        try:
            days[name] = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            days[name] = None
        if days[name] is None:
            raise BadInput("dashboard.bad_date", name=name, given=raw[:40])
    last = days.get("sampai") or today
    first = days.get("dari") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadInput("dashboard.bad_period")
    if last - first > LONGEST_PERIOD:
        raise BadInput("dashboard.long_period")
    return Period(first, last)


def page(request: web.Request, viewer: Viewer, t: Translator, period: Period, current: str, template: str, **values):
    """A page of the dashboard with what every one shows: who is signed in, the menu, the period's form."""
    return render(
        template,
        t,
        viewer_role=t(f"officer.role.{viewer.role}"),
        viewer_regions=", ".join(viewer.regions) if viewer.regions is not None else "",
        csrf=request[CSRF],
        current=current,
        menu=[(name, path) for name, path in PAGES.items() if viewer.sees_all or name not in STAFF_ONLY],
        first=period.first.isoformat(),
        last=period.last.isoformat(),
        first_shown=format_date(period.first, "d MMM y", locale=t.locale),
        last_shown=format_date(period.last, "d MMM y", locale=t.locale),
        **values,
    )


def bad_input_page(t: Translator, error: BadInput) -> web.Response:
    return message_page(t, error.status, error.title, error.key, **error.values)
