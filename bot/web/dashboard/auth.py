"""Signing in to the dashboard by a one-time link, the session cookie, logging out, and the check every page makes.

`GET /dasbor/masuk/<token>` shows a button and uses nothing: Telegram's link preview, a mail scanner or a
browser's prefetch fetch links, and must not use the one use up. The button posts to the same address, which
takes the link (once, in one statement), opens a session and redirects to the summary, so the token leaves the
address bar. A used, expired or unknown token gets a page saying so and 410/404, whichever step it reaches.

The cookie is HttpOnly, SameSite=Strict, Secure when DASHBOARD_URL is https, limited to /dasbor, and lasts a
working day (SESSION_LIFETIME). Every page reads the person and their role from the session on the server, so
an officer removed or a role taken away loses the dashboard at their next click. Logging out is a POST carrying
a CSRF token derived from the session's secret (kept nowhere: only the cookie's holder can make it).

The token is never logged: the web servers run without aiohttp's access log (which prints paths), and nothing
here logs a path.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import DASHBOARD_LOGIN_PATH, DASHBOARD_PATH
from bot.i18n import Translator
from bot.models import Role
from bot.services.audit import Actor, record_event
from bot.services.dashboard_access import (
    LINK_LIFETIME,
    SESSION_LIFETIME,
    Viewer,
    end_session,
    end_sessions_of,
    link_holder,
    open_session,
    session_holder,
    use_link,
    viewer_of,
)
from bot.web.dashboard.rendering import CSRF, DASHBOARD, BadInput, Dashboard, bad_input_page, message_page, render

COOKIE = "dasbor_sesi"
# A token is url-safe base64 of 32 bytes (43 characters); anything far from that is refused before any query.
TOKEN_LENGTH = range(20, 100)

Page = Callable[[web.Request, AsyncSession, Viewer], Awaitable[web.StreamResponse]]


def csrf_token(session_token: str) -> str:
    """The token every form of the session carries: derived from the session's secret, so a page of another site
    cannot know it."""
    return hmac.new(session_token.encode(), b"dasbor-csrf", hashlib.sha256).hexdigest()


def csrf_matches(form: Mapping[str, object], expected: str) -> bool:
    """Whether a posted form carries `expected`, the session's token. Compared in constant time, as bytes: a
    forged text with other than ASCII letters must be refused, not fail the comparison."""
    given = form.get("csrf", "")
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def csrf_refused(t: Translator) -> web.Response:
    return message_page(t, 403, "dashboard.csrf.title", "dashboard.csrf.text")


def see_other(location: str) -> web.Response:
    """After a form: the browser loads `location` with a GET (and the form's address leaves its bar)."""
    return web.Response(status=303, headers={"Location": location})


def default_t(dashboard: Dashboard) -> Translator:
    """The texts before anyone is known (the sign-in and refusal pages): the bot's default language."""
    return dashboard.messages[dashboard.settings.default_locale]


def _token(request: web.Request) -> str | None:
    token = request.match_info.get("token", "")
    return token if len(token) in TOKEN_LENGTH and token.isascii() else None


def _bad_link(dashboard: Dashboard) -> web.Response:
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    return message_page(
        default_t(dashboard), 410, "dashboard.link_bad.title", "dashboard.link_bad.text", minutes=minutes
    )


async def login_page(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    token = _token(request)
    if token is None:
        return _bad_link(dashboard)
    async with dashboard.sessions() as session:
        contact = await link_holder(session, token, dashboard.clock())
    if contact is None:
        return _bad_link(dashboard)
    return render("login.html", dashboard.messages[contact.locale], action=DASHBOARD_LOGIN_PATH + token)


async def login(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    token = _token(request)
    if token is None:
        return _bad_link(dashboard)
    now = dashboard.clock()
    async with dashboard.sessions.begin() as session:
        contact_id = await use_link(session, token, now)
        if contact_id is None:
            return _bad_link(dashboard)
        cookie = await open_session(session, contact_id, now)
    response = see_other(f"{DASHBOARD_PATH}/")
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=DASHBOARD_PATH,
        httponly=True,
        samesite="Strict",
        secure=dashboard.secure,
    )
    return response


async def logout(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not csrf_matches(await request.post(), csrf_token(cookie)):
        return csrf_refused(default_t(dashboard))
    async with dashboard.sessions.begin() as session:
        await end_session(session, cookie, dashboard.clock())
    response = see_other(f"{DASHBOARD_PATH}/keluar")
    response.del_cookie(COOKIE, path=DASHBOARD_PATH)
    return response


async def logged_out(request: web.Request) -> web.Response:
    t = default_t(request.app[DASHBOARD])
    return message_page(t, 200, "dashboard.logged_out.title", "dashboard.logged_out.text")


def signed_in(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page only a signed-in officer, staff member or admin sees; it gets the request's database session and
    the viewer as known now. No session: 401 and how to get a link; a worker now: 403, and their sessions end;
    a POST without the session's CSRF token: 403, before the page sees it; a query parameter the page cannot
    take (BadInput): 400 (or the status it names), naming it."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        dashboard = request.app[DASHBOARD]
        cookie = request.cookies.get(COOKIE, "")
        now = dashboard.clock()
        async with dashboard.sessions.begin() as session:
            contact = await session_holder(session, cookie, now) if cookie else None
            if contact is None:
                return message_page(
                    default_t(dashboard), 401, "dashboard.signed_out.title", "dashboard.signed_out.text"
                )
            viewer = await viewer_of(session, contact, dashboard.settings.admin_telegram_ids)
            if viewer is None:
                await end_sessions_of(session, contact.id, now)
                await record_event(
                    session, Actor.of_contact(contact, Role.WORKER), "dashboard", now, allowed=False, page=request.path
                )
                t = dashboard.messages[contact.locale]
                return message_page(t, 403, "dashboard.no_access.title", "dashboard.no_access.text")
            t = dashboard.messages[viewer.contact.locale]
            request[CSRF] = csrf_token(cookie)
            if request.method == "POST" and not csrf_matches(await request.post(), request[CSRF]):
                return csrf_refused(t)
            try:
                return await page(request, session, viewer)
            except BadInput as error:  # a page's query it cannot take: one 400 page for every page
                return bad_input_page(t, error)

    return guarded


def staff_only(page: Page) -> Page:
    """A page for staff and admins (rendering.STAFF_ONLY: not in an officer's menu), under `signed_in`: an officer
    who opens it anyway gets 403, audited like every refusal."""

    async def guarded(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.StreamResponse:
        if viewer.sees_all:
            return await page(request, session, viewer)
        dashboard = request.app[DASHBOARD]
        actor = Actor.of_contact(viewer.contact, viewer.role)
        await record_event(session, actor, "dashboard", dashboard.clock(), allowed=False, page=request.path)
        t = dashboard.messages[viewer.contact.locale]
        return message_page(t, 403, "dashboard.staff_only.title", "dashboard.staff_only.text")

    return guarded
