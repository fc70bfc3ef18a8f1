"""Tests for the offline Telegram Bot API fake, driven through real python-telegram-bot code."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest.mock import ANY

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram import (
    TEST_BOT_ID,
    TEST_TOKEN,
    FakeBotAPI,
    FakeBotAPIServer,
    FakeRequest,
    FakeUser,
    UploadedFile,
    WebhookAttempt,
)
from tests.process import PYTHON, ROOT

START_BUTTONS = [[("Daftar", "register"), ("Info", "info")]]


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in START_BUTTONS]
    )
    await update.effective_message.reply_text(f"start:{' '.join(context.args)}", reply_markup=keyboard)


async def on_phone(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Bagikan nomor", request_contact=True)], ["Batal"]])
    await update.effective_message.reply_text("share your number", reply_markup=keyboard)


async def on_tap(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    await query.edit_message_text(f"chose:{query.data}")


async def on_contact(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    contact = update.effective_message.contact
    await update.effective_message.reply_text(
        f"contact:{contact.phone_number}:{contact.user_id}", reply_markup=ReplyKeyboardRemove()
    )


async def on_text(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"text:{update.effective_message.text}")


async def on_other(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message.location:
        kind = f"location:{message.location.latitude},{message.location.longitude}"
    elif message.document:
        kind = f"document:{message.document.file_name}:{message.document.mime_type}"
    else:
        kind = next(k for k in ("sticker", "photo", "voice", "video") if getattr(message, k))
    await message.reply_text(kind)


def add_handlers(application: Application) -> None:
    application.add_handlers(
        [
            CommandHandler("start", on_start),
            CommandHandler("phone", on_phone),
            CallbackQueryHandler(on_tap),
            MessageHandler(filters.CONTACT, on_contact),
            MessageHandler(filters.TEXT & ~filters.COMMAND, on_text),
            MessageHandler(filters.ALL, on_other),
        ]
    )


@pytest.fixture
def api() -> FakeBotAPI:
    return FakeBotAPI()


@pytest_asyncio.fixture
async def app(api: FakeBotAPI) -> AsyncIterator[Application]:
    # In-process tests hand updates to process_update() themselves.
    api.queue_updates = False
    application = (
        ApplicationBuilder().token(TEST_TOKEN).request(FakeRequest(api)).get_updates_request(FakeRequest(api)).build()
    )
    add_handlers(application)
    async with application:
        yield application


async def feed(app: Application, update: dict[str, Any]) -> None:
    await app.process_update(Update.de_json(update, app.bot))


def http_call(url: str, body: bytes | None = None, content_type: str | None = None) -> tuple[int, dict]:
    """A raw HTTP call, to check the server independently of PTB's request code."""
    request = urllib.request.Request(url, data=body, method="POST")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


# --------------------------------------------------------------------------- in-process (FakeRequest)


@pytest.mark.asyncio
async def test_initialize_calls_get_me(app: Application, api: FakeBotAPI) -> None:
    assert app.bot.id == TEST_BOT_ID
    assert app.bot.username == "bpu_test_bot"
    assert api.calls[0].method == "getMe"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("act", "expected"),
    [
        (lambda user: user.send_text("halo"), "text:halo"),
        (lambda user: user.send_sticker(), "sticker"),
        (lambda user: user.send_photo(), "photo"),
        (lambda user: user.send_voice(), "voice"),
        (lambda user: user.send_video(), "video"),
        (lambda user: user.send_location(-6.2, 106.8), "location:-6.2,106.8"),
        (lambda user: user.send_document("ktp.pdf"), "document:ktp.pdf:application/pdf"),
        (lambda user: user.share_contact("+6281234567890"), "contact:+6281234567890:4242"),
    ],
    ids=["text", "sticker", "photo", "voice", "video", "location", "document", "contact"],
)
async def test_user_messages_reach_handlers(
    app: Application, api: FakeBotAPI, act: Callable[[FakeUser], dict[str, Any]], expected: str
) -> None:
    user = FakeUser(api, user_id=4242)
    await feed(app, act(user))
    [reply] = user.inbox()
    assert reply.chat_id == 4242
    assert reply.text == expected
    assert api.sent(4242) == [reply]


@pytest.mark.asyncio
async def test_command_reply_has_decoded_inline_buttons(app: Application, api: FakeBotAPI) -> None:
    user = FakeUser(api)
    update = user.send_command("start", "ref123")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    await feed(app, update)
    [reply] = user.inbox()
    assert reply.text == "start:ref123"
    assert reply.buttons == START_BUTTONS
    assert reply.labels == ["Daftar", "Info"]
    assert reply.keyboard == []
    call = api.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == user.user_id
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "register"


@pytest.mark.asyncio
async def test_reply_keyboard_and_its_removal(app: Application, api: FakeBotAPI) -> None:
    user = FakeUser(api)
    await feed(app, user.send_command("phone"))
    await feed(app, user.share_contact("+628111"))
    ask, thanks = user.inbox()
    assert ask.keyboard == [["Bagikan nomor"], ["Batal"]]
    assert ask.requests_contact and not ask.removes_keyboard
    assert ask.buttons == []
    assert thanks.removes_keyboard and not thanks.requests_contact


@pytest.mark.asyncio
async def test_tap_answers_and_edits_message(app: Application, api: FakeBotAPI) -> None:
    user = FakeUser(api)
    await feed(app, user.send_command("start"))
    menu = user.inbox()[0]
    update = user.tap("register")
    assert update["callback_query"]["message"]["message_id"] == menu.message_id
    assert update["callback_query"]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Daftar"
    await feed(app, update)

    assert [call.method for call in api.calls[-2:]] == ["answerCallbackQuery", "editMessageText"]
    edited = api.message(user.user_id, menu.message_id)
    assert edited.text == "chose:register"
    assert edited.buttons == []  # an edit without reply_markup drops the keyboard
    assert user.inbox() == [menu]  # sent() keeps messages as they were sent

    with pytest.raises(ValueError, match="no button"):
        user.tap("no-such-button")
    with pytest.raises(BadRequest, match="not modified"):
        await app.bot.edit_message_text("chose:register", chat_id=user.user_id, message_id=menu.message_id)


@pytest.mark.asyncio
async def test_user_and_bot_share_message_ids_and_updates_are_not_queued(app: Application, api: FakeBotAPI) -> None:
    user = FakeUser(api)
    first = user.send_text("a")
    await feed(app, first)
    second = user.send_text("b")
    assert first["message"]["message_id"] == 1
    assert user.inbox()[0].message_id == 2
    assert second["message"]["message_id"] == 3
    assert second["update_id"] == first["update_id"] + 1
    assert api.handle("getUpdates", {}) == (200, {"ok": True, "result": []})


@pytest.mark.asyncio
async def test_send_document_upload_is_recorded(app: Application, api: FakeBotAPI) -> None:
    user = FakeUser(api)
    message = await app.bot.send_document(user.user_id, document=b"%PDF-1.4", filename="kartu.pdf")
    assert message.document.file_name == "kartu.pdf"
    [call] = api.calls_of("sendDocument")
    assert call.params["document"] == UploadedFile("kartu.pdf", b"%PDF-1.4", "application/pdf")


@pytest.mark.asyncio
async def test_commands_are_stored_per_language(app: Application, api: FakeBotAPI) -> None:
    await app.bot.set_my_commands([("start", "Mulai")], language_code="id")
    await app.bot.set_my_commands([("start", "Start")])
    assert api.commands("id") == [("start", "Mulai")]
    assert api.commands() == [("start", "Start")]
    assert [c.command for c in await app.bot.get_my_commands(language_code="id")] == ["start"]
    await app.bot.delete_my_commands(language_code="id")
    assert api.commands("id") == []


@pytest.mark.asyncio
async def test_sending_to_unknown_chat_fails(app: Application) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await app.bot.send_message(999, "hi")


@pytest.mark.asyncio
async def test_in_process_polling_wakes_on_new_update(api: FakeBotAPI) -> None:
    application = (
        ApplicationBuilder().token(TEST_TOKEN).request(FakeRequest(api)).get_updates_request(FakeRequest(api)).build()
    )
    add_handlers(application)
    user = FakeUser(api)
    async with application:
        await application.updater.start_polling(poll_interval=0, timeout=10)
        await application.start()
        try:
            user.send_text("halo")
            [reply] = await api.wait_for_sent_async(user.user_id, 1, within=5)
        finally:
            await application.updater.stop()
            await application.stop()
    assert reply.text == "text:halo"
    # Long polling waits instead of spinning: a handful of getUpdates calls, not thousands.
    assert len(api.calls_of("getUpdates")) < 10


# --------------------------------------------------------------------------- over HTTP (FakeBotAPIServer)


@pytest.mark.asyncio
@pytest.mark.parametrize("keep_alive", [False, True], ids=["http-1.0", "keep-alive"])
async def test_application_polls_the_server_and_answers(keep_alive: bool) -> None:
    with FakeBotAPIServer(TEST_TOKEN, keep_alive=keep_alive) as server:
        application = ApplicationBuilder().token(TEST_TOKEN).base_url(server.base_url).build()
        add_handlers(application)
        user = FakeUser(server.api, first_name="Budi")
        await application.initialize()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            user.send_command("start", "promo")
            [menu] = await server.wait_for_sent_async(user.user_id, 1, within=5)
            user.tap("info")
            user.send_text("terima kasih")
            _, thanks = await server.wait_for_sent_async(user.user_id, 2, within=5)
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()

        assert menu.text == "start:promo"
        assert menu.buttons == START_BUTTONS
        assert thanks.text == "text:terima kasih"
        assert server.api.message(user.user_id, menu.message_id).text == "chose:info"
        # Form-encoded values arrive typed, exactly as with the in-process transport.
        params = server.api.calls_of("sendMessage")[0].params
        assert params["chat_id"] == user.user_id
        assert params["reply_markup"]["inline_keyboard"][0][1] == {"text": "Info", "callback_data": "info"}
        # Stopping the updater confirmed every fetched update.
        assert server.api.handle("getUpdates", {})[1]["result"] == []


@pytest.mark.asyncio
async def test_document_upload_over_http_is_multipart() -> None:
    with FakeBotAPIServer() as server:
        user = FakeUser(server.api)
        async with Bot(TEST_TOKEN, base_url=server.base_url) as bot:
            await bot.send_document(user.user_id, document=b"\x00\r\nbinary\xff", filename="a.bin", caption="[1]")
        [call] = server.api.calls_of("sendDocument")
        assert call.params["document"] == UploadedFile("a.bin", b"\x00\r\nbinary\xff", "application/octet-stream")
        assert call.params["caption"] == "[1]"  # free text is never JSON-decoded


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", ["in-process", "http"])
# PTB itself warns when building RetryAfter with integer seconds (until PTB_TIMEDELTA becomes the default).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_failures_raise_ptb_errors(transport: str) -> None:
    with FakeBotAPIServer() as server:
        api = server.api
        user = FakeUser(api)
        bot = (
            Bot(TEST_TOKEN, request=FakeRequest(api))
            if transport == "in-process"
            else Bot(TEST_TOKEN, base_url=server.base_url)
        )
        async with bot:
            api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(user.user_id, "halo")

            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3, times=2)
            for _ in range(2):
                with pytest.raises(RetryAfter) as raised:
                    await bot.send_message(user.user_id, "halo")
                assert "3" in str(raised.value)
            await bot.send_message(user.user_id, "finally")

            with pytest.raises(EndPointNotFound):
                await bot.do_api_request("no_such_method")
    assert [sent.text for sent in user.inbox()] == ["finally"]
    assert "bot: sendMessage failed: 403" in api.transcript(user.user_id)


def test_error_bodies_match_the_bot_api(api: FakeBotAPI) -> None:
    assert api.handle("noSuchMethod", {}) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    api.fail_next("getMe", 429, "Too Many Requests: retry after 7", retry_after=7)
    assert api.handle("getme", {}) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    status, body = api.handle("GETME", {})
    assert status == 200 and body["result"]["is_bot"] is True
    assert [call.method for call in api.calls] == ["noSuchMethod", "getMe", "getMe"]


def test_server_routes_and_checks_token() -> None:
    with FakeBotAPIServer(TEST_TOKEN) as server:
        assert http_call(f"{server.base_url}{TEST_TOKEN}/getMe")[1]["result"]["username"] == "bpu_test_bot"
        assert http_call(f"{server.base_url}{TEST_TOKEN}/noSuchMethod") == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found"},
        )
        assert http_call(f"{server.base_url}123:wrong/getMe") == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )


@pytest.mark.asyncio
async def test_wrong_token_is_rejected_by_ptb() -> None:
    with FakeBotAPIServer(TEST_TOKEN) as server:
        with pytest.raises(InvalidToken):
            await Bot("123:wrong", base_url=server.base_url).initialize()
        assert server.api.calls == []


def test_server_decodes_json_form_and_chunked_bodies() -> None:
    with FakeBotAPIServer() as server:
        user = FakeUser(server.api)
        url = f"{server.base_url}{TEST_TOKEN}/sendMessage"
        markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
        status, _ = http_call(
            url,
            json.dumps({"chat_id": user.user_id, "text": "json", "reply_markup": markup}).encode(),
            "application/json",
        )
        assert status == 200
        form = urllib.parse.urlencode({"chat_id": user.user_id, "text": "{form}", "reply_markup": json.dumps(markup)})
        assert http_call(url, form.encode(), "application/x-www-form-urlencoded")[0] == 200

        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        body = json.dumps({"chat_id": user.user_id, "text": "chunked"}).encode()
        connection.request(
            "POST",
            f"/bot{TEST_TOKEN}/sendMessage",
            body=iter([body[:5], body[5:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        assert connection.getresponse().status == 200
        connection.close()

        texts = [(sent.text, sent.buttons) for sent in user.inbox()]
        assert texts == [("json", [[("OK", "ok")]]), ("{form}", [[("OK", "ok")]]), ("chunked", [])]


def test_get_updates_offset_limit_and_long_poll_cap() -> None:
    api = FakeBotAPI(max_poll_wait=0.2)
    user = FakeUser(api)
    ids = [user.send_text(str(n))["update_id"] for n in range(3)]
    result = api.handle("getUpdates", {"limit": 2})[1]["result"]
    assert [update["update_id"] for update in result] == ids[:2]
    # Confirming the first update drops it; the others stay until confirmed.
    result = api.handle("getUpdates", {"offset": str(ids[1])})[1]["result"]
    assert [update["message"]["text"] for update in result] == ["1", "2"]
    assert api.handle("getUpdates", {"offset": ids[2] + 1})[1]["result"] == []

    with FakeBotAPIServer(api=api) as server:
        status, body = http_call(f"{server.base_url}{TEST_TOKEN}/getUpdates?timeout=30")
    assert (status, body["result"]) == (200, [])

    api.handle("setWebhook", {"url": "https://example.invalid/hook"})
    assert api.handle("getUpdates", {})[0] == 409


def test_wait_for_sent_wakes_on_a_send_from_another_thread() -> None:
    with FakeBotAPIServer() as server:
        user = FakeUser(server.api)
        url = f"{server.base_url}{TEST_TOKEN}/sendMessage?chat_id={user.user_id}&text=later"
        sender = threading.Timer(0.05, http_call, args=(url,))
        sender.start()
        [reply] = server.wait_for_sent(user.user_id, 1, timeout=5)
        sender.join()
    assert reply.text == "later"


def test_wait_for_sent_times_out_with_transcript() -> None:
    with FakeBotAPIServer() as server:
        user = FakeUser(server.api)
        user.send_text("halo?")
        with pytest.raises(AssertionError, match=r"(?s)got 0.*user: 'halo\?'"):
            server.wait_for_sent(user.user_id, 1, timeout=0.05)


def test_forget_history_keeps_only_each_chats_latest_message_which_can_still_be_tapped() -> None:
    api = FakeBotAPI()
    user = FakeUser(api)
    for text in ("one", "two"):
        api.handle(
            "sendMessage",
            {
                "chat_id": user.user_id,
                "text": text,
                "reply_markup": {"inline_keyboard": [[{"text": "ok", "callback_data": text}]]},
            },
        )

    api.forget_history()

    assert [m.text for m in api.sent(user.user_id)] == ["two"]
    assert api.calls == []
    assert user.tap("two")["callback_query"]["message"]["text"] == "two"


# --------------------------------------------------------------------------- broadcasts


class ManualClock:
    """Arrival times for the rate limits, moved by hand so that no test waits for a window to pass."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send(api: FakeBotAPI, chat_id: int, **extra: Any) -> tuple[int, dict]:
    return api.handle("sendMessage", {"chat_id": chat_id, "text": "siaran", **extra})


TOO_MANY_REQUESTS = (
    429,
    {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    },
)


@pytest.mark.asyncio
# PTB itself warns when building RetryAfter with integer seconds (until PTB_TIMEDELTA becomes the default).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_refuses_calls_over_it_with_retry_after() -> None:
    clock = ManualClock()
    api = FakeBotAPI(rate_limit=3, clock=clock)
    api.open_chats(range(1, 10))
    for chat_id in (1, 2, 3):
        assert send(api, chat_id)[0] == 200
        clock.now += 0.1
    assert send(api, 4) == TOO_MANY_REQUESTS
    message_id = api.sent(1)[0].message_id
    # Edits count too; refused calls store nothing and take no slot.
    assert api.handle("editMessageText", {"chat_id": 1, "message_id": message_id, "text": "baru"})[0] == 429
    assert api.sent(4) == [] and api.message(1).text == "siaran"

    clock.now = 1001.0  # the first call has left the window
    async with Bot(TEST_TOKEN, request=FakeRequest(api)) as bot:
        await bot.send_message(4, "siaran")
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(5, "siaran")
    assert raised.value.retry_after == 1
    assert api.rate_limited == 3
    assert api.sent_count_by_chat() == Counter({1: 1, 2: 1, 3: 1, 4: 1})
    assert api.max_in_any_second() == 3


def test_paid_broadcasts_are_counted_against_their_own_limit() -> None:
    clock = ManualClock()
    api = FakeBotAPI(rate_limit=1, paid_rate_limit=2, clock=clock)
    api.open_chats(range(1, 10))
    assert [send(api, chat_id)[0] for chat_id in (1, 2)] == [200, 429]
    assert [send(api, chat_id, allow_paid_broadcast=True)[0] for chat_id in (3, 4, 5)] == [200, 200, 429]
    assert api.rate_limited == 2

    unlimited_paid = FakeBotAPI(rate_limit=1, clock=clock)
    unlimited_paid.open_chats(range(1, 10))
    assert {send(unlimited_paid, chat_id, allow_paid_broadcast=True)[0] for chat_id in range(1, 10)} == {200}
    assert send(unlimited_paid, 1)[0] == 200


def test_per_chat_limit_is_kept_for_each_chat() -> None:
    clock = ManualClock()
    api = FakeBotAPI(rate_limit=2, per_chat_limit=1, clock=clock)
    api.open_chats([1, 2])
    assert send(api, 1)[0] == 200
    assert send(api, 1) == TOO_MANY_REQUESTS
    # Refused by the chat's limit, the call took no slot of the bot's.
    assert send(api, 2)[0] == 200
    clock.now += 1.0
    assert send(api, 1)[0] == 200
    assert api.sent_count_by_chat() == Counter({1: 2, 2: 1})


@pytest.mark.asyncio
async def test_blocked_and_deactivated_users_raise_forbidden(api: FakeBotAPI) -> None:
    api.open_chats([1, 2, 3])
    api.block(1)
    api.deactivate(2)
    async with Bot(TEST_TOKEN, request=FakeRequest(api)) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(1, "siaran")
        with pytest.raises(Forbidden, match="user is deactivated"):
            await bot.send_message(2, "siaran")
        await bot.send_message(3, "siaran")
    assert api.sent_count_by_chat() == Counter({3: 1})
    assert "bot: sendMessage failed: 403 Forbidden: bot was blocked by the user" in api.transcript(1)


@pytest.mark.asyncio
async def test_stalled_chat_gets_the_message_but_the_client_times_out() -> None:
    with FakeBotAPIServer() as server:
        user = FakeUser(server.api)
        server.api.stall(user.user_id, 0.5)
        request = HTTPXRequest(read_timeout=0.1)
        async with Bot(TEST_TOKEN, base_url=server.base_url, request=request) as bot:
            with pytest.raises(TimedOut):
                await bot.send_message(user.user_id, "over HTTP")
            # In process the answer waits in the event loop instead of a server thread.
            async with Bot(TEST_TOKEN, request=FakeRequest(server.api)) as in_process:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(in_process.send_message(user.user_id, "in process"), 0.05)
            server.api.stall(user.user_id, 0)
            await bot.send_message(user.user_id, "no longer stalled")
    assert [sent.text for sent in user.inbox()] == ["over HTTP", "in process", "no longer stalled"]


@pytest.mark.asyncio
async def test_latency_delays_every_answer(api: FakeBotAPI) -> None:
    api.latency = 0.05
    started = time.monotonic()
    assert api.handle("getMe", {})[0] == 200
    assert await api.handle_async("getMe", {}) == api.handle("getMe", {})
    assert time.monotonic() - started >= 0.15


def test_open_chats_lets_the_bot_message_many_users_without_fake_users(api: FakeBotAPI) -> None:
    FakeUser(api, user_id=5, first_name="Budi")
    api.open_chats(range(1, 100_001))
    status, body = send(api, 100_000)
    assert status == 200
    assert body["result"]["chat"] == {"id": 100_000, "type": "private", "first_name": "Pengguna"}
    assert send(api, 5)[1]["result"]["chat"]["first_name"] == "Budi"  # an open chat keeps its details
    assert send(api, 100_001)[0] == 400


def test_without_recording_only_counts_are_kept() -> None:
    clock = ManualClock()
    api = FakeBotAPI(record=False, clock=clock)
    user = FakeUser(api, user_id=1)
    user.send_text("halo")
    api.open_chats([2])
    assert [send(api, 1)[1]["result"]["message_id"] for _ in range(2)] == [2, 3]
    assert api.handle("sendDocument", {"chat_id": 2, "document": "fake-file-id"})[0] == 200
    clock.now += 1.0
    assert send(api, 2)[0] == 200
    assert api.calls == [] and api.sent() == [] and api.transcript(1) == "(empty)"
    assert api.sent_count_by_chat() == Counter({1: 2, 2: 2})
    assert api.max_in_any_second() == 3


def test_keep_alive_server_reuses_one_connection_and_closes_it_on_stop() -> None:
    with FakeBotAPIServer() as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request("POST", f"/bot{TEST_TOKEN}/getMe")
        assert json.load(connection.getresponse())["ok"]
        assert connection.sock is None  # the default HTTP/1.0 closes after every answer

    with FakeBotAPIServer(keep_alive=True) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        sockets = []
        for _ in range(2):
            connection.request("POST", f"/bot{TEST_TOKEN}/getMe")
            response = connection.getresponse()
            assert response.version == 11 and json.load(response)["ok"]
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1] is not None
        # An error answered before the body was read ends the connection, and says so.
        connection.request("POST", "/bot123:wrong/getMe", body=b"{}")
        response = connection.getresponse()
        assert (response.status, response.getheader("Connection")) == (401, "close")
        response.read()
        assert connection.sock is None
        connection.request("POST", f"/bot{TEST_TOKEN}/getMe")
        assert json.load(connection.getresponse())["ok"]
        sockets.append(connection.sock)
        started = time.monotonic()
    assert time.monotonic() - started < 1
    assert sockets[2].recv(1) == b""  # the stopped server closed the idle connection
    connection.close()


def test_runs_as_a_process_and_reports_on_sigterm() -> None:
    command = [PYTHON, "-m", "tests.fakes.telegram", "--rate-limit", "3", "--keep-alive", "--no-record"]
    with subprocess.Popen([*command, "--open-chats", "1000:2"], cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        # Every wait below is bounded: a hung process is killed, which ends its output.
        watchdog = threading.Timer(20, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            ready, base_url = process.stdout.readline().split()
            assert ready == "ready" and base_url.startswith("http://127.0.0.1:")
            statuses = [
                http_call(f"{base_url}{TEST_TOKEN}/sendMessage?chat_id={chat_id}&text=siaran")[0]
                for chat_id in (1000, 1000, 1001, 1001)
            ]
            assert statuses == [200, 200, 200, 429]
            process.send_signal(signal.SIGTERM)
            summary = json.loads(process.stdout.read())
            assert process.wait() == 0
        finally:
            watchdog.cancel()
            process.kill()
    assert summary == {"sent": 3, "rate_limited": 1, "duplicates": 1, "max_in_any_second": 3}


# --------------------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class Post:
    path: str
    headers: Message
    update: dict[str, Any]


class _BotWebhook(BaseHTTPRequestHandler):
    """The bot's side, as small as it gets: every POST is recorded and answered as the test planned."""

    server: WebhookReceiver

    def do_POST(self) -> None:
        receiver = self.server
        update = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with receiver.lock:
            receiver.posts.append(Post(self.path, self.headers, update))
            receiver.active += 1
            receiver.most_active = max(receiver.most_active, receiver.active)
            status = receiver.statuses.popleft() if receiver.statuses else receiver.status
            delay = receiver.delays.popleft() if receiver.delays else receiver.delay
        receiver.got_post.set()
        receiver.released.wait(delay)
        with receiver.lock:
            receiver.active -= 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what was posted, not logs."""


class WebhookReceiver(ThreadingHTTPServer):
    """A bot's webhook on 127.0.0.1: it answers first ``statuses`` then ``status``, after first ``delays`` then
    ``delay`` seconds, and counts the POSTs it is answering at once."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BotWebhook)
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.statuses: deque[int] = deque()
        self.status = 200
        self.delays: deque[float] = deque()
        self.delay = 0.0
        self.active = self.most_active = 0
        self.got_post = threading.Event()
        # Set when the test ends, so that no answer is still being held back.
        self.released = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/telegram/webhook"

    def update_ids(self) -> list[int]:
        with self.lock:
            return [post.update["update_id"] for post in self.posts]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: an answer the fake no longer waits for cannot be written, as the tests intend."""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[FakeBotAPIServer]:
    with FakeBotAPIServer(api=FakeBotAPI(webhook_retry_delay=0.05)) as served:
        yield served


def set_webhook(api: FakeBotAPI, url: str, **params: Any) -> None:
    assert api.handle("setWebhook", {"url": url, **params}) == (200, {"ok": True, "result": True})


def webhook_info(api: FakeBotAPI) -> dict[str, Any]:
    return api.handle("getWebhookInfo", {})[1]["result"]


def bad_request(description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.asyncio
async def test_set_webhook_parameters_are_stored_and_shown_by_get_webhook_info(server: FakeBotAPIServer) -> None:
    FakeUser(server.api).send_text("sebelum webhook")
    async with Bot(TEST_TOKEN, base_url=server.base_url) as bot:
        assert await bot.set_webhook(
            "http://127.0.0.1:9/telegram",
            secret_token="rahasia_BPU-1",
            max_connections=7,
            allowed_updates=["callback_query", "message"],
            drop_pending_updates=True,
            certificate=b"-----BEGIN CERTIFICATE-----",
        )
        info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/telegram"
    assert info.has_custom_certificate is True
    assert info.pending_update_count == 0  # dropped
    assert info.max_connections == 7
    assert info.allowed_updates == ("message", "callback_query")  # in Telegram's order
    assert info.last_error_date is None and info.last_error_message is None


def test_max_connections_defaults_to_40_and_is_clamped_to_1_100_as_on_telegram(api: FakeBotAPI) -> None:
    for given, kept in [(None, 40), (0, 1), ("12", 12), (1000, 100)]:
        set_webhook(api, "https://bot.example.com/hook", **({} if given is None else {"max_connections": given}))
        assert webhook_info(api)["max_connections"] == kept

    set_webhook(api, "https://bot.example.com/hook", allowed_updates=json.dumps(["message"]))
    api.handle("deleteWebhook", {})
    # The allowed update types outlive the webhook.
    assert webhook_info(api) == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "allowed_updates": ["message"],
    }


def test_a_secret_token_must_be_up_to_256_letters_digits_underscores_and_hyphens(api: FakeBotAPI) -> None:
    url = "https://bot.example.com/hook"
    set_webhook(api, url, secret_token="aZ09_-" * 42 + "abcd")
    for token in ("dua kata", "base64+/=", "rahasia!", "kunci\u00e9"):
        assert api.handle("setWebhook", {"url": url, "secret_token": token}) == bad_request(
            "secret token contains unallowed characters"
        )
    assert api.handle("setWebhook", {"url": url, "secret_token": "a" * 257}) == bad_request("secret token is too long")
    # As on Telegram, the old webhook was closed before the new one was checked.
    assert webhook_info(api)["url"] == ""


def test_a_webhook_url_must_be_https_except_on_loopback(api: FakeBotAPI) -> None:
    refused = {
        "http://bot.example.com/hook": "bad webhook: An HTTPS URL must be provided for webhook",
        "https://bot.example.com:3000/hook": "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        "ftp://bot.example.com/hook": "invalid webhook URL specified",
    }
    for url, description in refused.items():
        assert api.handle("setWebhook", {"url": url}) == bad_request(description)
    for url in ("https://bot.example.com:8443/hook", "http://127.0.0.1:8080/hook", "http://localhost:8080/hook"):
        set_webhook(api, url)
        assert webhook_info(api)["url"] == url


def test_updates_are_posted_as_json_with_the_secret_token_header(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    user = FakeUser(api)
    set_webhook(api, receiver.url + "?bot=bpu", secret_token="rahasia_BPU-1")
    sent = user.send_text("Halo 🌾")

    assert api.wait_until_delivered(1, timeout=5) == [sent["update_id"]]
    [post] = receiver.posts
    assert post.path == "/telegram/webhook?bot=bpu"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-Telegram-Bot-Api-Secret-Token"] == "rahasia_BPU-1"
    assert post.update == sent
    assert api.webhook_attempts == [WebhookAttempt(sent["update_id"], 200, None, ANY)]
    assert webhook_info(api)["pending_update_count"] == 0

    set_webhook(api, receiver.url)
    user.send_text("tanpa rahasia")
    api.wait_until_delivered(2, timeout=5)
    assert "X-Telegram-Bot-Api-Secret-Token" not in receiver.posts[1].headers


def test_an_update_answered_500_is_posted_again_until_answered_200(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    user = FakeUser(api)
    receiver.statuses.extend([500, 503])
    before = int(time.time())
    update_id = user.send_text("halo")["update_id"]
    set_webhook(api, receiver.url)

    api.wait_until_delivered(1, timeout=5)
    assert [(a.update_id, a.status, a.error) for a in api.webhook_attempts] == [
        (update_id, 500, "Wrong response from the webhook: 500 Internal Server Error"),
        (update_id, 503, "Wrong response from the webhook: 503 Service Unavailable"),
        (update_id, 200, None),
    ]
    assert all(b.at - a.at >= api.webhook_retry_delay for a, b in itertools.pairwise(api.webhook_attempts))
    assert receiver.update_ids() == [update_id] * 3
    info = webhook_info(api)
    assert info["last_error_message"] == "Wrong response from the webhook: 503 Service Unavailable"
    assert info["last_error_date"] >= before
    assert "webhook: update" in api.transcript(user.user_id)


def test_a_webhook_answering_too_late_gets_the_update_again(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    api.webhook_timeout = 0.2
    receiver.delays.append(5.0)
    update_id = FakeUser(api).send_text("halo")["update_id"]
    set_webhook(api, receiver.url)

    api.wait_until_delivered(1, timeout=5)
    assert [(a.status, a.error) for a in api.webhook_attempts] == [(None, "Read timeout expired"), (200, None)]
    # The answer was late, not the update: the bot got it twice, under the same id.
    assert receiver.update_ids() == [update_id, update_id]


def test_an_unreachable_webhook_is_retried_and_the_error_reported(server: FakeBotAPIServer) -> None:
    api = server.api
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    FakeUser(api).send_text("halo")
    set_webhook(api, f"http://127.0.0.1:{port}/hook")

    wait_until(lambda: len(api.webhook_attempts) >= 2)
    assert {(a.status, a.error) for a in api.webhook_attempts} == {(None, "Connection refused")}
    info = webhook_info(api)
    assert (info["last_error_message"], info["pending_update_count"]) == ("Connection refused", 1)


def test_only_allowed_update_types_are_queued_and_posted(server: FakeBotAPIServer, receiver: WebhookReceiver) -> None:
    api = server.api
    user = FakeUser(api)
    set_webhook(api, receiver.url, allowed_updates=["message"])
    first = user.send_text("halo")
    api.push_update({"edited_message": {**first["message"], "text": "halo semua", "edit_date": int(time.time())}})
    second = user.send_text("apa kabar")

    assert api.wait_until_delivered(2, timeout=5) == [first["update_id"], second["update_id"]]
    assert [post.update for post in receiver.posts] == [first, second]
    assert webhook_info(api)["pending_update_count"] == 0


def test_chat_member_and_reaction_updates_are_not_queued_unless_asked_for(api: FakeBotAPI) -> None:
    for kind in ("chat_member", "message_reaction", "message_reaction_count", "my_chat_member"):
        api.push_update({kind: {}})
    [update] = api.handle("getUpdates", {})[1]["result"]
    assert "my_chat_member" in update


def test_max_connections_1_posts_one_update_at_a_time_in_update_id_order(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    receiver.delay = 0.05
    # From five chats, which Telegram could post side by side.
    update_ids = [FakeUser(api).send_text("halo")["update_id"] for _ in range(5)]
    set_webhook(api, receiver.url, max_connections=1)

    api.wait_until_delivered(5, timeout=5)
    assert receiver.most_active == 1
    assert receiver.update_ids() == update_ids


def test_max_connections_4_posts_up_to_four_updates_at_once(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    receiver.delay = 0.2
    for _ in range(8):
        FakeUser(api).send_text("halo")
    set_webhook(api, receiver.url, max_connections=4)

    api.wait_until_delivered(8, timeout=5)
    assert receiver.most_active == 4


def test_one_chats_updates_are_posted_one_at_a_time_in_order_whatever_max_connections(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    user = FakeUser(api)
    receiver.delay = 0.05
    receiver.statuses.append(500)
    first, *later = [user.send_text(str(n))["update_id"] for n in range(4)]
    set_webhook(api, receiver.url, max_connections=4)

    api.wait_until_delivered(4, timeout=5)
    assert receiver.most_active == 1
    # The failed first update held back the rest of the chat.
    assert receiver.update_ids() == [first, first, *later]


@pytest.mark.asyncio
async def test_get_updates_is_a_conflict_while_a_webhook_is_set(server: FakeBotAPIServer) -> None:
    async with Bot(TEST_TOKEN, base_url=server.base_url) as bot:
        await bot.set_webhook("http://127.0.0.1:9/telegram")
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        assert await bot.get_updates() == ()


def test_delete_webhook_stops_delivery_and_leaves_the_update_to_get_updates(
    server: FakeBotAPIServer, receiver: WebhookReceiver
) -> None:
    api = server.api
    receiver.status = 500
    sent = FakeUser(api).send_text("halo")
    set_webhook(api, receiver.url)
    assert receiver.got_post.wait(5)

    api.handle("deleteWebhook", {})
    deleted = time.monotonic()
    time.sleep(5 * api.webhook_retry_delay)
    assert all(attempt.at < deleted for attempt in api.webhook_attempts)
    assert len(receiver.posts) == len(api.webhook_attempts)
    assert api.handle("getUpdates", {})[1]["result"] == [sent]


def test_redeliver_posts_an_update_again_under_the_same_id(server: FakeBotAPIServer, receiver: WebhookReceiver) -> None:
    api = server.api
    user = FakeUser(api)
    set_webhook(api, receiver.url)
    name = user.send_text("Siti Aminah")
    api.wait_until_delivered(1, timeout=5)

    api.redeliver(name["update_id"])
    phone = user.send_text("081234567890")
    # Queued at once, the phone is redelivered after its first delivery, whenever that is.
    api.redeliver(phone["update_id"])

    ids = [name["update_id"], name["update_id"], phone["update_id"], phone["update_id"]]
    assert api.wait_until_delivered(4, timeout=5) == ids
    assert [post.update for post in receiver.posts] == [name, name, phone, phone]
    with pytest.raises(LookupError):
        api.redeliver(999)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_stopping_the_server_ends_a_delivery_in_flight_and_its_threads(receiver: WebhookReceiver) -> None:
    receiver.delay = 30.0  # a bot that never answers
    with FakeBotAPIServer() as server:
        set_webhook(server.api, receiver.url)
        FakeUser(server.api).send_text("halo")
        assert receiver.got_post.wait(5)
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 1
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("FakeBotAPI webhook")] == []
    # Cut short, the POST is no attempt; the update stays for whoever serves the api next.
    assert server.api.webhook_attempts == []
    assert webhook_info(server.api)["pending_update_count"] == 1
