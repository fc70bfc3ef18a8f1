"""The web server of `bpu-bot run`: WhatsApp's webhook and a health check, on aiohttp.

A POST is taken only with a valid `X-Hub-Signature-256` over the raw body as received (401 without one, 403
with a wrong one; nothing is stored either way). A signed body is stored as it came and answered 200 at once:
Meta retries what is not answered quickly, and processing (the dispatcher, the replies) happens afterwards in
WhatsAppChannel. GET answers Meta's verification challenge when the verify token matches.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.app import BotApp
from bot.channels.whatsapp import WhatsAppChannel, valid_signature

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/webhook/whatsapp"
HEALTH_PATH = "/health"
MAX_BODY = 4 * 1024 * 1024  # bytes; Meta's webhook bodies are a few kilobytes


def build_web_app(app: BotApp, whatsapp: WhatsAppChannel | None) -> web.Application:
    web_app = web.Application(client_max_size=MAX_BODY)

    async def health(_request: web.Request) -> web.Response:
        try:
            async with app.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as error:
            log.error("health check: the database is unreachable: %s", error.__class__.__name__)
            return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
        return web.json_response({"status": "ok", "database": "ok"})

    web_app.router.add_get(HEALTH_PATH, health)
    if whatsapp is not None:
        settings = app.settings

        async def verify(request: web.Request) -> web.Response:
            query = request.query
            token = query.get("hub.verify_token", "")
            if query.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode(), settings.whatsapp_verify_token.encode()
            ):
                return web.Response(text=query.get("hub.challenge", ""))
            return web.Response(status=403, text="verification failed")

        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            signature = request.headers.get("X-Hub-Signature-256")
            if not signature:
                return web.Response(status=401, text="signature missing")
            if not valid_signature(settings.whatsapp_app_secret, body, signature):
                log.warning("a webhook request with a wrong signature was refused")
                return web.Response(status=403, text="signature invalid")
            try:
                decoded = body.decode("utf-8")
                json.loads(decoded)
            except ValueError:
                return web.Response(status=400, text="not JSON")
            await whatsapp.store(decoded)
            return web.Response(text="ok")

        web_app.router.add_get(WHATSAPP_PATH, verify)
        web_app.router.add_post(WHATSAPP_PATH, receive)
    return web_app
