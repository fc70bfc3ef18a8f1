"""The dashboard as an aiohttp application: its routes, the headers every answer carries, and the page for what
goes wrong. `bpu-bot run` mounts it at /dasbor on its web server; `bpu-bot dashboard serve` serves it alone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.config import DASHBOARD_LOGIN_PATH, DASHBOARD_PATH
from bot.web.dashboard import auth, campaigns, lead_download, leads, misses, occupations, officers, regions, summary
from bot.web.dashboard.rendering import (
    CONTENT_SECURITY_POLICY,
    DASHBOARD,
    PAGES,
    STATIC,
    STREAMING,
    Dashboard,
    message_page,
)

log = logging.getLogger(__name__)

LOGIN = DASHBOARD_LOGIN_PATH.removeprefix(DASHBOARD_PATH)  # within the mounted application

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The sign-in address holds a token: no other site is told which page sent a visitor.
    "Referrer-Policy": "no-referrer",
    # Figures and names are not kept in a shared PC's cache or a proxy's.
    "Cache-Control": "no-store",
}
STYLESHEET = (STATIC / "style.css").read_bytes()
SCRIPT = (STATIC / "live.js").read_bytes()


@web.middleware
async def _answer(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """An unknown page, a wrong method or a failure as a clear page, never a traceback. What is logged names no
    path: a sign-in path holds a token."""
    dashboard = request.app[DASHBOARD]
    try:
        return await handler(request)
    except web.HTTPException as error:  # aiohttp's own: no such page, a method the page does not take
        t = auth.default_t(dashboard)
        return message_page(t, error.status, "dashboard.not_found.title", "dashboard.not_found.text")
    except Exception as error:  # noqa: BLE001 whatever failed, the person gets a page and the log the kind of error
        if request.get(STREAMING):
            # Part of a download has left (or the browser went away): a page now would end up inside the file.
            # aiohttp drops the connection instead, and the browser says the download failed.
            log.warning("a dashboard download was cut short (%s)", type(error).__name__)
            raise
        log.exception("a dashboard page failed (%s)", type(error).__name__)
        return message_page(auth.default_t(dashboard), 500, "dashboard.failed.title", "dashboard.failed.text")


async def _secure(_request: web.Request, response: web.StreamResponse) -> None:
    # When the answer's headers are sent, so a download streamed by a page carries them too.
    response.headers.update(SECURITY_HEADERS)


async def _stylesheet(_request: web.Request) -> web.Response:
    # The assets are served by the bot itself: the dashboard works on an office network with no internet.
    return web.Response(body=STYLESHEET, content_type="text/css", charset="utf-8")


async def _script(_request: web.Request) -> web.Response:
    # The one script (a running broadcast's figures, moved without a reload); the policy allows no other.
    return web.Response(body=SCRIPT, content_type="text/javascript", charset="utf-8")


def build_dashboard(dashboard: Dashboard) -> web.Application:
    served = web.Application(middlewares=[_answer])
    served[DASHBOARD] = dashboard
    served.on_response_prepare.append(_secure)
    served.router.add_get(PAGES["summary"], summary.summary)
    served.router.add_get(PAGES["regions"], regions.regions)
    served.router.add_get(PAGES["occupations"], occupations.occupations)
    served.router.add_get(PAGES["officers"], officers.officers)
    served.router.add_get(PAGES["campaigns"], campaigns.campaign_list)
    # 1 to 9 digits: anything else is no campaign's address (404) and never reaches the database.
    served.router.add_get(PAGES["campaigns"] + r"/{id:\d{1,9}}", campaigns.campaign_page)
    served.router.add_get(PAGES["campaigns"] + r"/{id:\d{1,9}}.json", campaigns.campaign_json)
    served.router.add_get(PAGES["misses"], misses.misses)
    served.router.add_get(PAGES["leads"], leads.leads)
    served.router.add_post(PAGES["leads"], leads.leads)  # showing one lead's name and number: audited
    served.router.add_post(PAGES["leads"] + "/unduh", lead_download.download)
    served.router.add_get(LOGIN + "{token}", auth.login_page)
    served.router.add_post(LOGIN + "{token}", auth.login)
    served.router.add_post("/keluar", auth.logout)
    served.router.add_get("/keluar", auth.logged_out)
    served.router.add_get("/style.css", _stylesheet)
    served.router.add_get("/live.js", _script)
    return served


def mount_dashboard(web_app: web.Application, dashboard: Dashboard) -> None:
    """The dashboard at /dasbor/ of `web_app` (and /dasbor, without the slash, sent there)."""

    async def to_summary(_request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(f"{DASHBOARD_PATH}/")

    web_app.router.add_get(DASHBOARD_PATH, to_summary)
    web_app.add_subapp(DASHBOARD_PATH, build_dashboard(dashboard))
