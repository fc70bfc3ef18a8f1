"""What the dashboard's tests share: a browser on the bot's web server, staff made in the database, the link the
bot sends for /dasbor, signing in with it, and reading the numbers of a page's table."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotApp
from bot.config import Settings
from bot.models import ConsentPurpose, Lead, Role
from bot.services.audit import Actor
from bot.services.consent import record_consent
from bot.services.contacts import find_contact
from bot.services.followups import Cadence, schedule_lead_followups
from bot.services.leads import LeadDetails, save_lead
from bot.services.officers import actor_of, assign_lead, ensure_contact, find_officer
from bot.services.roles import set_role
from bot.services.tasks import move_lead
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


_workers = itertools.count(800_000_001)


async def stored_lead(app: BotApp, name: str, occupation: str = "nelayan", region: str = "Mukomuko") -> int:
    """A lead saved now, stored through the services the last step of lead capture calls (consent, the lead, its
    reminders and call task, an officer of its region or the pool), for the pages that need many quickly: the
    capture itself is tested in tests/test_lead_pipeline.py. Returns the lead's id."""
    dispatcher = app.dispatcher
    now, user_id = dispatcher.clock(), next(_workers)
    async with dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "telegram", str(user_id), "id")
        await record_consent(session, contact, ConsentPurpose.LEAD_CONTACT, dispatcher.content.consent_version, True)
        details = LeadDetails(name, f"+62812{user_id}", occupation, region, "pagi")
        lead, _ = await save_lead(session, contact, details, now)
        await schedule_lead_followups(session, lead, now, Cadence.from_settings(dispatcher.settings), reminders=False)
        await assign_lead(session, lead)
        return lead.id


async def record_outcome(
    app: BotApp, officer_user_id: int, lead_id: int, outcome: str, check_back: datetime | None = None
) -> None:
    """An officer records what came of a call on a lead now, as the lead's card does (handlers/officer.py)."""
    dispatcher = app.dispatcher
    async with dispatcher.sessions.begin() as session:
        contact = await find_contact(session, "telegram", str(officer_user_id))
        assert contact is not None
        officer = await find_officer(session, contact.id)
        lead = await session.get_one(Lead, lead_id)
        await move_lead(session, lead, outcome, actor_of(officer, contact), dispatcher.clock(), check_back, officer)
