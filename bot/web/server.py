"""The web server of `bpu-bot run`: WhatsApp's webhook, Telegram's in webhook mode, a health check and the staff
dashboard at /dasbor (bot/web/dashboard/), on aiohttp.

Telegram: a POST is taken only with the secret of TELEGRAM_WEBHOOK_SECRET in `X-Telegram-Bot-Api-Secret-Token`
(403 otherwise, nothing processed). The update is processed before the answer (the turn commits, the replies
are sent), so an answer other than 200, or none, makes Telegram post it again, and a processed update id is
applied once (bot/conversation/dispatcher.py). Any process of the deployment can take any update: the person's
row is locked for the turn, so two updates of one person take turns.

WhatsApp: a POST is taken only with a valid `X-Hub-Signature-256` over the raw body as received (401 without one, 403
with a wrong one; nothing is stored either way). A signed body is stored as it came and answered 200 at once:
Meta retries what is not answered quickly, and processing (the dispatcher, the replies) happens afterwards in
WhatsAppChannel. GET answers Meta's verification challenge when the verify token matches.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import Application

from bot.app import BotApp
from bot.channels.telegram.channel import well_formed
from bot.channels.whatsapp.webhook import WhatsAppChannel, valid_signature
from bot.config import HEALTH_PATH, WHATSAPP_PATH
from bot.db import ping_database
from bot.web.dashboard.app import mount_dashboard
from bot.web.dashboard.rendering import Dashboard

log = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 4 * 1024 * 1024  # bytes; Meta's webhook bodies are a few kilobytes
# Objects within objects: Meta's bodies are 8 deep, Telegram's updates about as much (a reply inside a
# message inside an update); a thousand would exhaust the parser's recursion.
MAX_DEPTH = 64


def read_json(body: bytes) -> Any:
    """The JSON document in a request body; ValueError when it is not UTF-8, not JSON or nested too deep."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    except RecursionError:
        raise ValueError("nested too deep") from None
    level, pending = 0, [data]
    while pending:  # breadth first, one level at a time, without recursion
        level += 1
        if level > MAX_DEPTH:
            raise ValueError("nested too deep")
        pending = [
            child
            for value in pending
            for child in (value.values() if isinstance(value, dict) else value if isinstance(value, list) else ())
            if isinstance(child, dict | list)
        ]
    return data


class _MalformedRequests(logging.Filter):
    """aiohttp answers a request its parser cannot read (a header over 8 KB, a broken request line) with a
    400, then logs it at ERROR with a traceback that quotes the offending bytes: one warning line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args, record.exc_info, record.exc_text = (
                "a malformed HTTP request was refused (%s)",
                (type(error).__name__,),
                None,
                None,
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_malformed_requests = _MalformedRequests()


def same_secret(given: str, expected: str) -> bool:
    """Compared in constant time, whatever bytes the header held: aiohttp keeps undecodable ones as surrogates."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def build_web_app(
    app: BotApp,
    whatsapp: WhatsAppChannel | None,
    telegram: Application | None = None,
    leading: Callable[[], bool] | None = None,
) -> web.Application:
    """`leading` tells whether this process does the background work (shown by the health check)."""
    web_app = web.Application(client_max_size=MAX_BODY)
    logging.getLogger("aiohttp.server").addFilter(_malformed_requests)  # once: a filter is added once

    async def health(_request: web.Request) -> web.Response:
        try:
            await ping_database(app.engine)
        except (SQLAlchemyError, OSError) as error:
            log.error("health check: the database is unreachable: %s", error.__class__.__name__)
            return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
        answer = {"status": "ok", "database": "ok"}
        if leading is not None:
            answer["background"] = "leader" if leading() else "standby"
        return web.json_response(answer)

    web_app.router.add_get(HEALTH_PATH, health)
    dispatcher = app.dispatcher
    mount_dashboard(web_app, Dashboard(app.settings, dispatcher.sessions, app.messages, app.content, dispatcher.clock))
    if telegram is not None and app.settings.telegram_webhook_url is not None:
        secret = app.settings.telegram_webhook_secret
        path = app.settings.telegram_webhook_path
        assert secret is not None and path is not None  # config: the secret comes with TELEGRAM_WEBHOOK_URL

        async def receive_update(request: web.Request) -> web.Response:
            if not same_secret(request.headers.get(TELEGRAM_SECRET_HEADER, ""), secret):
                log.warning("a Telegram webhook request without the right secret token was refused")
                return web.Response(status=403, text="secret token invalid")
            update = None
            try:
                data = read_json(await request.read())
                if isinstance(data, dict):
                    update = Update.de_json(data, telegram.bot)
                    update = update if update is not None and well_formed(update) else None
            except Exception as error:  # noqa: BLE001 PTB's parsing of a body of the wrong shape raises anything
                log.warning("a Telegram webhook body that is not an update was refused (%s)", type(error).__name__)
                return web.Response(status=400, text="not an update")
            if update is None:
                log.warning("a Telegram webhook body that is not an update was refused")
                return web.Response(status=400, text="not an update")
            await telegram.process_update(update)
            return web.Response(text="ok")

        web_app.router.add_post(path, receive_update)
    if whatsapp is not None:
        settings = app.settings
        verify_token, app_secret = settings.whatsapp_verify_token, settings.whatsapp_app_secret
        assert verify_token is not None and app_secret is not None  # config: WhatsApp's credentials come together

        async def verify(request: web.Request) -> web.Response:
            query = request.query
            token = query.get("hub.verify_token", "")
            if query.get("hub.mode") == "subscribe" and same_secret(token, verify_token):
                return web.Response(text=query.get("hub.challenge", ""))
            return web.Response(status=403, text="verification failed")

        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            signature = request.headers.get("X-Hub-Signature-256")
            if not signature:
                return web.Response(status=401, text="signature missing")
            if not valid_signature(app_secret, body, signature):
                log.warning("a webhook request with a wrong signature was refused")
                return web.Response(status=403, text="signature invalid")
            try:
                data = read_json(body)
            except ValueError as error:
                log.warning("a signed WhatsApp webhook body was refused: %s", error)
                return web.Response(status=400, text="not JSON")
            if not isinstance(data, dict):
                log.warning("a signed WhatsApp webhook body was refused: not an object")
                return web.Response(status=400, text="not a webhook object")
            await whatsapp.store(body.decode("utf-8"))
            return web.Response(text="ok")

        web_app.router.add_get(WHATSAPP_PATH, verify)
        web_app.router.add_post(WHATSAPP_PATH, receive)
    return web_app
