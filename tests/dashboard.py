"""What the dashboard's tests share: a browser on the bot's web server, staff made in the database, the link the
bot sends for /dasbor, signing in with it, and reading the numbers of a page's table."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotApp
from bot.config import Settings
from bot.models import Role
from bot.services.audit import Actor
from bot.services.officers import ensure_contact
from bot.services.roles import set_role
from bot.web.server import build_web_app
from tests.conftest import text_of
from tests.test_officers import ADMIN_ID

LINK = re.compile(r"(http://\S+)/dasbor/masuk/([A-Za-z0-9_-]+)")
STAFF_ID = 700_000_555
EKO_ID = 700_000_777  # an officer of another region


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


@pytest.fixture
async def browser(app: BotApp) -> AsyncIterator[TestClient]:
    """A browser on the bot's web server: it keeps cookies, and follows no redirect unless told to."""
    # As `bpu-bot run` and `bpu-bot dashboard serve` run it: without aiohttp's access log, which prints paths.
    server = TestServer(build_web_app(app, None))
    await server.start_server(access_log=None)
    client = TestClient(server)
    try:
        yield client
    finally:
        await client.close()


async def make_staff(app: BotApp, user_id: int) -> None:
    async with app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "telegram", str(user_id), "id")
        admins = app.settings.admin_telegram_ids
        await set_role(session, contact, Role.STAFF, Actor("cli:test", Role.ADMIN), admins, app.dispatcher.clock())


async def link_from_chat(chat) -> str:
    """The path of the link the bot sends for /dasbor (the test server stands for DASHBOARD_URL)."""
    found = LINK.search(text_of(await chat.command("dasbor")))
    assert found is not None
    return f"/dasbor/masuk/{found.group(2)}"


async def sign_in(browser: TestClient, path: str) -> None:
    """Open the link, press Masuk, land on the summary."""
    assert (await browser.get(path)).status == 200
    response = await browser.post(path, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/dasbor/"


def cells(page: str, css: str) -> list[str]:
    """The numbers of the table cells with this class, in order."""
    return re.findall(rf'<td class="number {css}">([^<]*)</td>', page)
