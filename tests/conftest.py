"""Shared fixtures: a migrated database per test (tests/database.py), the app, Telegram driven offline through PTB."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import DBAPIError
from telegram import Bot, Update
from telegram.ext import Application

import bot.cli.main as cli_main
from bot.app import BotApp, create_app
from bot.channels.telegram.channel import build_application
from bot.channels.telegram.sending import TelegramSender
from bot.cli.run import Runtime
from bot.config import Settings, WhatsAppTemplate, load_settings
from bot.content import load_content
from bot.conversation.dispatcher import Dispatcher
from bot.conversation.understanding import understanding_for
from bot.models import ConsentPurpose
from bot.phone import normalise_phone
from bot.services.campaigns import create_campaign, sending_campaigns
from bot.services.consent import record_consent
from bot.services.contacts import find_contact
from bot.services.followups import Cadence, schedule_lead_followups
from bot.services.leads import LeadDetails, save_lead
from bot.services.officers import assign_lead, notice_recipients
from bot.services.segments import Segment
from bot.web.server import build_web_app
from bot.workers.broadcaster import Broadcaster
from bot.workers.exporter import Exporter
from bot.workers.pacing import Pacer
from bot.workers.ticker import FollowUpTicker
from tests.database import (
    POSTGRESQL,
    SQLITE,
    PostgresDatabase,
    PostgresServer,
    SQLiteDatabase,
    TestDatabase,
    migrated_sqlite_template,
    set_current,
    sqlite_copy,
)
from tests.fakes import whatsapp as wa
from tests.fakes.telegram import TEST_TOKEN, FakeBotAPI, FakeRequest, FakeUser, SentMessage

# A suite started in the background by a script (`make test &`) inherits SIGINT ignored, and so would every
# process it starts, for which Ctrl-C would then do nothing: the tests of Ctrl-C need it as a terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

OPERATOR = "Dinas Tenaga Kerja Provinsi Bengkulu (uji)"
WIB = ZoneInfo("Asia/Jakarta")
MONDAY_10_WIB = datetime(2026, 11, 23, 10, 0, tzinfo=WIB)


class Clock:
    """The app's one source of "now" in tests: time moves only when a test moves it."""

    def __init__(self, start: datetime):
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set_local(self, moment: datetime) -> None:
        self.now = moment.astimezone(UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=(SQLITE, POSTGRESQL),
        default=SQLITE,
        help="run on SQLite files (default) or on the PostgreSQL server of TEST_POSTGRES_URL",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): about SQLite itself (its file); not run on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only(reason): needs PostgreSQL (several processes at once)")
    if not hasattr(config, "workerinput"):
        # Before any worker starts: the understanding's classifier trained once and cached (see `train` in
        # bot/conversation/classifier.py). In a fresh clone every worker and zygote otherwise starts at once,
        # finds no cache, and trains its own (about 2.5 s of CPU each): the suite took 80 s there instead of 68.
        understanding_for(load_content())


# The modules whose tests take seconds each (real processes, a campaign at Telegram's pace, whole labelled sets,
# Hypothesis), longest first. They run first: the workers of `pytest -n` take tests in collection order, so these
# are shared out between them from the start, and the quick tests even out the end, instead of one worker
# finishing a long test alone.
SLOW_FIRST = (
    "test_dashboard_browser.py",
    "test_e2e_postgresql.py",
    "test_e2e_broadcast.py",
    "test_e2e_telegram.py",
    "test_e2e_whatsapp.py",
    "test_e2e_officer_day.py",
    "test_terminal.py",
    "test_understanding.py",
    "test_cli.py",
    "test_whatsapp.py",
    "test_fuzz.py",
    "test_leadership.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: SLOW_FIRST.index(item.path.name) if item.path.name in SLOW_FIRST else len(SLOW_FIRST))
    kind = config.getoption("--database")
    for item in items:
        for marker, runs_on in (("sqlite_only", SQLITE), ("postgresql_only", POSTGRESQL)):
            if (mark := item.get_closest_marker(marker)) is not None and kind != runs_on:
                item.add_marker(pytest.mark.skip(reason=f"{marker}: {mark.args[0] if mark.args else ''}"))


@pytest.fixture(scope="session")
def database_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """SQLite: a file migrated once through Alembic, copied for every test. PostgreSQL: a database made for
    this run (and dropped after it), migrated once. An unreachable server fails the run, never skips it."""
    if request.config.getoption("--database") == SQLITE:
        yield migrated_sqlite_template(tmp_path_factory.mktemp("template") / "bot.sqlite3")
        return
    admin_url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not admin_url:
        pytest.exit("--database=postgresql needs TEST_POSTGRES_URL, like postgresql://postgres@127.0.0.1/postgres", 2)
    server = PostgresServer(admin_url)
    if (problem := server.check()) is not None:
        pytest.exit(f"TEST_POSTGRES_URL: the PostgreSQL server cannot be reached: {problem}", 2)
    database = server.create()
    try:
        yield database
    finally:
        server.drop(database)


@pytest.fixture(autouse=True)
def database(database_server, tmp_path: Path) -> Iterator[TestDatabase]:
    """This test's database, empty and migrated: its own SQLite file (tmp_path/bot.sqlite3), or the run's
    PostgreSQL database emptied."""
    if isinstance(database_server, PostgresDatabase):
        database_server.empty()
        chosen: TestDatabase = database_server
    else:
        chosen = sqlite_copy(database_server, tmp_path / "bot.sqlite3")
    set_current(chosen)
    yield chosen
    set_current(None)


@pytest.fixture
def unmigrated_database(database: TestDatabase) -> Iterator[TestDatabase]:
    """A database without tables, as before the first `bpu-bot db upgrade` (replaces the test's database)."""
    if isinstance(database, SQLiteDatabase):
        database.path.unlink()
        yield database
        return
    empty = database.server.create(migrated=False)
    set_current(empty)
    try:
        yield empty
    finally:
        database.server.drop(empty)


@pytest.fixture
def database_path(database: TestDatabase) -> Path:
    """The SQLite file itself, for tests about the file (marked sqlite_only)."""
    assert isinstance(database, SQLiteDatabase), "a test of the SQLite file must be marked sqlite_only"
    return database.path


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    return Settings(
        database_url=database.app_url,
        telegram_token=TEST_TOKEN,
        telegram_base_url="http://bot-api.invalid/bot",
        operator_name=OPERATOR,
        operator_contact="0736-000000",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10_WIB)


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[BotApp]:
    app = create_app(settings, clock)
    yield app
    await app.close()


@pytest.fixture
async def ticker(app: BotApp, bot_api: FakeBotAPI) -> AsyncIterator[FollowUpTicker]:
    # A plain Bot without PTB's rate limiter, so a 429 reaches the ticker instead of being slept through.
    bot = Bot(TEST_TOKEN, request=FakeRequest(bot_api), get_updates_request=FakeRequest(bot_api))
    async with bot:
        yield FollowUpTicker(app.dispatcher, {"telegram": TelegramSender(bot, app.messages)})


@pytest.fixture
async def broadcaster(app: BotApp, bot_api: FakeBotAPI) -> AsyncIterator[Broadcaster]:
    """The broadcast engine on the fake, unpaced (pacing has its own tests), stepped by the test."""
    bot = Bot(TEST_TOKEN, request=FakeRequest(bot_api), get_updates_request=FakeRequest(bot_api))
    async with bot:
        yield Broadcaster(app.dispatcher, {"telegram": TelegramSender(bot, app.messages)}, {"telegram": Pacer(None)})


@pytest.fixture
async def exporter(app: BotApp, bot_api: FakeBotAPI) -> AsyncIterator[Exporter]:
    """The background exporter on the fake, stepped by the test."""
    bot = Bot(TEST_TOKEN, request=FakeRequest(bot_api), get_updates_request=FakeRequest(bot_api))
    async with bot:
        yield Exporter(app.dispatcher, {"telegram": TelegramSender(bot, app.messages)})


async def campaign_for(
    app: BotApp, text: str = "Sosialisasi BPU besok", segment: Segment | None = None, **options
) -> int:
    """A campaign made at the app's clock, as the command line makes it (so the engine starts it at once)."""
    now = app.dispatcher.clock()
    async with app.dispatcher.sessions.begin() as session:
        campaign = await create_campaign(
            session,
            created_by=options.get("created_by", "cli"),
            author_contact_id=None,
            segment=segment or Segment(),
            text_id=text,
            text_en=options.get("text_en"),
            button=options.get("button"),
            starts_at=options.get("starts_at", now),
            now=now,
        )
        return campaign.id


async def send_campaigns(broadcaster: Broadcaster, steps: int = 50) -> None:
    """Step the engine until no campaign is sending (or `steps` ran out), everything recorded."""
    for _ in range(steps):
        if not await broadcaster.step():
            async with broadcaster.dispatcher.sessions() as session:
                if not await sending_campaigns(session):
                    break
    await broadcaster.drain()


@pytest.fixture
def db(database: TestDatabase):
    """Read rows the way a person inspecting the database would: a plain client, a new connection per query."""
    return database.rows


@pytest.fixture
def bot_api() -> FakeBotAPI:
    api = FakeBotAPI()
    api.queue_updates = False  # updates are fed straight to process_update
    return api


@pytest.fixture
async def telegram(app: BotApp, bot_api: FakeBotAPI) -> AsyncIterator[Application]:
    application = build_application(app, request=FakeRequest(bot_api))
    async with application:
        yield application


class Chat:
    """One Telegram user talking to the bot; each action returns the bot's messages in answer to it."""

    def __init__(self, application: Application, api: FakeBotAPI, user: FakeUser, dispatcher: Dispatcher | None = None):
        self.application = application
        self.api = api
        self.user = user
        self.dispatcher = dispatcher  # behind the chat, for `stored_lead`

    @property
    def chat_id(self) -> int:
        return self.user.user_id

    async def _deliver(self, update: dict) -> list[SentMessage]:
        before = len(self.api.sent(self.chat_id))
        await self.application.process_update(Update.de_json(update, self.application.bot))
        return self.api.sent(self.chat_id)[before:]

    async def command(self, name: str, payload: str | None = None) -> list[SentMessage]:
        return await self._deliver(self.user.send_command(name, payload))

    async def say(self, text: str) -> list[SentMessage]:
        return await self._deliver(self.user.send_text(text))

    async def tap(self, label: str, message: SentMessage | None = None) -> list[SentMessage]:
        """Tap the button whose label contains `label` on the given message (default: the last one with buttons)."""
        message = message or self.last_with_buttons()
        data = [d for text, d in (b for row in message.buttons for b in row) if label in text]
        assert data, f"no button {label!r} on: {message.text[:60]!r} {message.labels}"
        return await self._deliver(self.user.tap(data[0], message_id=message.message_id))

    async def tap_data(self, data: str, message: SentMessage | None = None) -> list[SentMessage]:
        message = message or self.last_with_buttons()
        return await self._deliver(self.user.tap(data, message_id=message.message_id, strict=False))

    async def share_contact(self, phone: str, user_id: int | None = None) -> list[SentMessage]:
        return await self._deliver(self.user.share_contact(phone, user_id=user_id))

    async def send(self, update: dict) -> list[SentMessage]:
        return await self._deliver(update)

    def last_with_buttons(self) -> SentMessage:
        return next(m for m in reversed(self.api.sent(self.chat_id)) if m.buttons)

    @property
    def transcript(self) -> list[SentMessage]:
        return self.api.sent(self.chat_id)


class DeadlockDetected(Exception):
    """What asyncpg raises when PostgreSQL aborts one side of a deadlock."""


def deadlocked_first(write, times: int = 1):
    """`write` (a service function taking the session first) failing its first `times` calls the way a
    deadlock fails a statement: the transaction is aborted, nothing of it is kept."""
    failures = iter(range(times))

    @functools.wraps(write)
    async def writing(session, *args, **kwargs):
        if next(failures, None) is not None:
            raise DBAPIError("UPDATE ...", {}, DeadlockDetected("deadlock detected"))
        return await write(session, *args, **kwargs)

    return writing


def text_of(messages: list[SentMessage]) -> str:
    return "\n".join(m.text for m in messages)


def labels_of(messages: list[SentMessage]) -> list[str]:
    return [label for m in messages for label in m.labels]


@pytest.fixture
def new_chat(app: BotApp, telegram: Application, bot_api: FakeBotAPI):
    def make(first_name: str = "Siti", user_id: int | None = None) -> Chat:
        return Chat(telegram, bot_api, FakeUser(bot_api, user_id=user_id, first_name=first_name), app.dispatcher)

    return make


@pytest.fixture
def chat(new_chat) -> Chat:
    return new_chat()


async def welcomed(chat: Chat, occupation: str = "Nelayan") -> Chat:
    """A worker who started the bot and picked an occupation: at the main menu."""
    await chat.command("start")
    await chat.tap(occupation)
    return chat


async def saved_lead(
    chat: Chat,
    reminders: str = "Boleh",
    name: str = "Budi Santoso",
    phone: str = "+6281234567890",
    region: str = "Mukomuko",
) -> Chat:
    """A worker who went through lead capture to the end: saved, with a call task and (by default) reminders."""
    await welcomed(chat)
    await chat.tap("Saya tertarik")
    await chat.tap("Setuju")
    await chat.tap(reminders)
    await chat.say(name)
    await chat.share_contact(phone)
    await chat.tap(region)
    await chat.tap("Pagi")
    await chat.tap("Benar, simpan")
    return chat


async def stored_lead(
    chat: Chat,
    name: str,
    phone: str,
    region: str = "Mukomuko",
    occupation: str = "Nelayan",
    reminders: bool = True,
    source: str | None = None,
) -> Chat:
    """`saved_lead` for the tests that need saved leads rather than their capture: the worker starts the bot
    (through a source's link when given) and picks their work, and the rest of lead capture is stored through
    the services its steps call. The capture itself is played turn by turn in tests/test_interest.py,
    tests/test_lead_pipeline.py and the channels' tests; eight turns fewer per lead."""
    await chat.command("start", source)
    await chat.tap(occupation)
    assert chat.dispatcher is not None, "a chat from the new_chat fixture"
    await store_lead(chat.dispatcher, "telegram", str(chat.chat_id), name, phone, region, reminders)
    return chat


async def store_lead(
    dispatcher: Dispatcher,
    channel: str,
    external_id: str,
    name: str,
    phone: str,
    region: str = "Mukomuko",
    reminders: bool = True,
) -> None:
    """The end of lead capture for a person at the menu, as its steps store it (handlers/interest.py: the
    consents, then `save`): the lead in the work they picked, its follow-ups and its officer. The officer's
    notice is not queued, so the helper checks nobody would have been told; a test about notices plays the
    capture."""
    now, version = dispatcher.clock(), dispatcher.content.consent_version
    async with dispatcher.sessions.begin() as session:
        contact = await find_contact(session, channel, external_id)
        assert contact is not None and contact.occupation is not None, "the person wrote first and picked work"
        await record_consent(session, contact, ConsentPurpose.LEAD_CONTACT, version, True, now=now)
        await record_consent(session, contact, ConsentPurpose.REMINDERS, version, reminders, now=now)
        details = LeadDetails(name, normalise_phone(phone) or phone, contact.occupation, region, "pagi")
        lead, created = await save_lead(session, contact, details, now)
        assert created, f"{name!r} had a lead already"
        cadence = Cadence.from_settings(dispatcher.settings)
        await schedule_lead_followups(session, lead, now, cadence, reminders=reminders)
        await assign_lead(session, lead)
        told = await notice_recipients(session, lead.officer_id, dispatcher.settings.admin_telegram_ids)
        assert not told, "somebody would be told of this lead: play its capture instead"


# ------------------------------------------------------------------------------------------ the command line

SYSTEM_USER = "dewi"  # the account staff log in with on the server: the audit log names it


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def command_line(
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    folder: Path,
    *command: str,
):
    """`bpu-bot [command] <args>` in this process, configured only with `environ`, run by the system user `dewi` from
    `folder`; returns an async function giving the exit code and what was printed."""
    monkeypatch.setattr(cli_main, "load_settings", functools.partial(load_settings, environ, None))
    monkeypatch.setenv("LOGNAME", SYSTEM_USER)
    monkeypatch.chdir(folder)

    async def run(*args: str) -> Result:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level  # main() configures logging for a whole process
        capsys.readouterr()
        try:
            code = await asyncio.to_thread(cli_main.main, [*command, *args])
        except SystemExit as exit:  # argparse's own mistakes end the process, as in a real one
            code = exit.code
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


# ------------------------------------------------------------------------------------------ WhatsApp

TEMPLATES = {"bpu_pengingat": {"id": 1, "en": 1}, "bpu_siaran": {"id": 1, "en": 1}, "bpu_jawaban": {"id": 1}}
CONFIGURED_TEMPLATES = (
    ("reminder", WhatsAppTemplate("bpu_pengingat", ("id", "en"), ("name",), buttons=True)),
    ("broadcast", WhatsAppTemplate("bpu_siaran", ("id", "en"), ("text",))),
    ("answer", WhatsAppTemplate("bpu_jawaban", ("id",), ("text",))),
)


@pytest.fixture
def whatsapp_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Telegram and WhatsApp both configured, the Graph API at an address only the in-process fake answers.
    The templates are CONFIGURED_TEMPLATES unless a test asks for others:
    `@pytest.mark.parametrize("whatsapp_settings", [()], indirect=True)` runs it with none."""
    templates = getattr(request, "param", CONFIGURED_TEMPLATES)
    return dataclasses.replace(
        settings,
        whatsapp_token=wa.TEST_TOKEN,
        whatsapp_phone_number_id=wa.PHONE_NUMBER_ID,
        whatsapp_app_secret=wa.APP_SECRET,
        whatsapp_verify_token=wa.VERIFY_TOKEN,
        whatsapp_api_base_url=f"http://graph.invalid/{wa.GRAPH_VERSION}",
        whatsapp_templates=templates,
        whatsapp_rate=1000.0,  # the pacer has tests of its own; these send hundreds of replies
        whatsapp_display_number=wa.DISPLAY_PHONE_NUMBER,
    )


@pytest.fixture
def graph(clock: Clock) -> wa.FakeWhatsAppAPI:
    """The Graph API fake on the app's clock (its 24-hour window moves with the test's time), unlimited
    throughput unless a test sets one."""
    return wa.FakeWhatsAppAPI(templates=TEMPLATES, throughput=None, clock=lambda: clock().timestamp())


class WhatsApp:
    """The app as `bpu-bot run` serves WhatsApp: its web server (aiohttp's test server, on loopback) and the
    runtime's senders and workers, stepped by the test instead of running in the background."""

    def __init__(self, app: BotApp, runtime: Runtime, client: TestClient, graph: wa.FakeWhatsAppAPI):
        self.app = app
        self.runtime = runtime
        self.client = client
        self.graph = graph

    async def post(self, payload: dict, signature: str = "good") -> int:
        """Meta posts a webhook body; returns the HTTP status. Nothing is processed yet."""
        body, headers = wa.signed_post_args(payload)
        if signature == "bad":
            headers["X-Hub-Signature-256"] = wa.sign(body, "not-the-app-secret")
        elif signature == "missing":
            del headers["X-Hub-Signature-256"]
        response = await self.client.post("/webhook/whatsapp", data=body, headers=headers)
        return response.status

    async def process(self) -> None:
        """What the background worker does next: every stored event, in order."""
        while await self.runtime.whatsapp.step():
            pass

    async def deliver(self, payload: dict) -> None:
        assert await self.post(payload) == 200
        await self.process()

    async def statuses(self, order: str | None = None) -> None:
        """Meta's status callbacks for everything sent so far, in the given order."""
        for body in self.graph.take_statuses(order=order):
            await self.deliver(body)

    def user(self, **options) -> WhatsAppChat:
        return WhatsAppChat(self, wa.FakeWhatsAppUser(self.graph, **options))


class WhatsAppChat:
    """One WhatsApp user talking to the bot; each action returns the bot's messages in answer to it."""

    def __init__(self, whatsapp: WhatsApp, user: wa.FakeWhatsAppUser):
        self.whatsapp = whatsapp
        self.user = user

    async def send(self, payload: dict) -> list[wa.SentWhatsApp]:
        before = len(self.transcript)
        await self.whatsapp.deliver(payload)
        return self.transcript[before:]

    async def say(self, text: str) -> list[wa.SentWhatsApp]:
        return await self.send(self.user.text(text))

    async def tap(self, title: str, message: wa.SentWhatsApp | None = None) -> list[wa.SentWhatsApp]:
        return await self.send(self.user.tap(title, message))

    @property
    def transcript(self) -> list[wa.SentWhatsApp]:
        return self.whatsapp.graph.sent(self.user.user_id)


@pytest.fixture
async def whatsapp(
    whatsapp_settings: Settings, clock: Clock, graph: wa.FakeWhatsAppAPI, bot_api: FakeBotAPI
) -> AsyncIterator[WhatsApp]:
    """Telegram runs beside it on the Bot API fake (officers are Telegram users): `Chat(whatsapp.runtime.
    application, bot_api, FakeUser(bot_api))` is an officer in the same app."""
    app = create_app(whatsapp_settings, clock)
    runtime = Runtime(app, telegram_request=FakeRequest(bot_api), whatsapp_transport=graph.transport())
    client = TestClient(TestServer(build_web_app(app, runtime.whatsapp)))
    await client.start_server()
    try:
        async with runtime.application:
            yield WhatsApp(app, runtime, client, graph)
    finally:
        await client.close()
        await runtime.graph.close()
        await app.close()


def whatsapp_text(messages: list[wa.SentWhatsApp]) -> str:
    return "\n".join(m.text for m in messages)


def whatsapp_titles(messages: list[wa.SentWhatsApp]) -> list[str]:
    return [title for m in messages for title in m.titles]
