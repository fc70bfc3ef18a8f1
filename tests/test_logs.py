"""What the log says at LOG_LEVEL=DEBUG, as `bpu-bot run` configures it: a whole lead capture and a database
error in the middle of saving leave no token, secret, typed text, name or unmasked phone anywhere in it,
tracebacks and SQLAlchemy's parameters included."""

from __future__ import annotations

import dataclasses
import io
import logging

import pytest

from bot.logs import HIDDEN, configure_logging
from tests.conftest import saved_lead, text_of, welcomed
from tests.fakes.telegram import TEST_TOKEN

NAME = "Sumarni Wulandari"
PHONE = "+6281377788899"
TYPED = "apakah iuran bisa dibayar tiap bulan lewat kantor pos desa"
WEBHOOK_SECRET = "rahasia-webhook-kantor-cabang-bengkulu"


@pytest.fixture
def debug_log(settings):
    """The logging of `bpu-bot run` at DEBUG, its stderr read back; restored afterwards."""
    root = logging.getLogger()
    handlers, level, raising = root.handlers[:], root.level, logging.raiseExceptions
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    configure_logging("DEBUG", dataclasses.replace(settings, telegram_webhook_secret=WEBHOOK_SECRET).secrets)
    written = io.StringIO()
    root.handlers[0].setStream(written)
    yield written.getvalue
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.raiseExceptions = raising
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def leaks(log: str) -> list[str]:
    secret_part = TEST_TOKEN.partition(":")[2]
    words = {
        "token": TEST_TOKEN,
        "token's secret": secret_part,
        "webhook secret": WEBHOOK_SECRET,
        "name": NAME,
        "surname": NAME.split()[1],
        "phone": PHONE.removeprefix("+"),
        "local phone": "081377788899",
        "typed text": TYPED,
    }
    return [what for what, word in words.items() if word in log]


async def test_a_lead_capture_at_debug_logs_no_personal_data_or_secret(debug_log, chat, db):
    await chat.command("start")
    await chat.say(TYPED)
    await saved_lead(chat, name=NAME, phone=PHONE)
    logging.getLogger("bot.test").debug("calling https://api.telegram.org/bot%s/getMe", TEST_TOKEN)
    logging.getLogger("bot.test").debug("webhook secret is %s", WEBHOOK_SECRET)

    log = debug_log()

    assert db("select name from leads")[0][0] == NAME
    assert " DEBUG bot." in log or " INFO bot." in log, "the bot's own lines are there"
    assert HIDDEN in log
    assert leaks(log) == []


async def test_a_database_error_while_saving_logs_the_traceback_without_the_values(debug_log, chat, db):
    await welcomed(chat)
    for label in ("Saya tertarik", "Setuju", "Boleh"):
        await chat.tap(label)
    await chat.say(NAME)
    await chat.share_contact(PHONE)
    await chat.tap("Mukomuko")
    await chat.tap("Pagi")
    db("alter table leads rename to leads_gone")  # every statement on leads now fails, with its parameters
    try:
        await chat.tap("Benar, simpan")
    finally:
        db("alter table leads_gone rename to leads")  # the PostgreSQL test database is shared by the tests
    log = debug_log()

    assert "gangguan" in text_of(chat.transcript[-1:]).lower(), "the worker is told"
    assert "Traceback" in log and "leads" in log
    assert f"[parameters: {HIDDEN}]" in log
    assert leaks(log) == []


async def test_third_party_debug_lines_stay_out_and_their_warnings_stay_in(debug_log):
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT INTO leads (name) VALUES (?) %s", NAME)
    logging.getLogger("telegram.Bot").debug("Calling Bot API endpoint with parameters {'text': %r}", TYPED)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/sendMessage", TEST_TOKEN)
    logging.getLogger("aiohttp.server").warning("Error handling request from %s", PHONE)

    log = debug_log()

    assert "Error handling request" in log
    assert leaks(log) == []
