"""Tests for the offline Telegram Bot API fake, driven through real python-telegram-bot code."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

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
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
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

from tests.fakes.telegram import (
    TEST_BOT_ID,
    TEST_TOKEN,
    FakeBotAPI,
    FakeBotAPIServer,
    FakeRequest,
    FakeUser,
    UploadedFile,
)

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
async def test_application_polls_the_server_and_answers() -> None:
    with FakeBotAPIServer(TEST_TOKEN) as server:
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
