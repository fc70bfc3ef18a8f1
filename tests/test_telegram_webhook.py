"""Telegram in webhook mode: updates posted to the web server with the deployment's secret, as Telegram posts
them, answered by the same conversation as long polling; anything without the secret is refused unread."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.cli.run import ALLOWED_UPDATES, Runtime
from bot.web.server import TELEGRAM_SECRET_HEADER, build_web_app
from tests.conftest import Chat, Clock, saved_lead
from tests.fakes.telegram import FakeBotAPI, FakeRequest, FakeUser, SentMessage

SECRET = "rahasia-webhook-kantor-cabang-bengkulu"
PATH = "/tg/bpu-bengkulu"


class Telegram:
    """Telegram's side of the webhook: it posts each update and waits for the answer."""

    def __init__(self, client: TestClient, api: FakeBotAPI, runtime: Runtime):
        self.client = client
        self.api = api
        self.runtime = runtime

    async def post(self, update: dict, secret: str | None = SECRET, body: bytes | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[TELEGRAM_SECRET_HEADER] = secret
        data = body if body is not None else json.dumps(update).encode()
        async with self.client.post(PATH, data=data, headers=headers) as response:
            return response.status

    def chat(self, user_id: int, first_name: str) -> WebhookChat:
        return WebhookChat(self, FakeUser(self.api, user_id=user_id, first_name=first_name))


class WebhookChat(Chat):
    """A worker whose updates reach the bot by webhook (the tests' Chat feeds them to PTB directly)."""

    def __init__(self, webhook: Telegram, user: FakeUser):
        super().__init__(webhook.runtime.application, webhook.api, user)
        self.webhook = webhook

    async def _deliver(self, update: dict) -> list[SentMessage]:
        before = len(self.api.sent(self.chat_id))
        assert await self.webhook.post(update) == 200
        return self.api.sent(self.chat_id)[before:]


@pytest.fixture
async def webhook(settings, clock: Clock, bot_api: FakeBotAPI) -> AsyncIterator[Telegram]:
    with_webhook = dataclasses.replace(
        settings, telegram_webhook_url=f"https://bot.disnaker.example{PATH}", telegram_webhook_secret=SECRET
    )
    app = create_app(with_webhook, clock)
    runtime = Runtime(app, telegram_request=FakeRequest(bot_api))
    client = TestClient(TestServer(build_web_app(app, None, runtime.application)))
    await client.start_server()
    try:
        async with runtime.application:
            yield Telegram(client, bot_api, runtime)
    finally:
        await client.close()
        await app.close()


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(message.text for message in messages)


async def test_a_worker_posted_by_telegram_gets_the_same_welcome_as_by_polling(webhook: Telegram, db):
    budi = webhook.chat(7001, "Budi")

    welcome = await budi.command("start")

    assert len(welcome) == 1 and "bukan BPJS Ketenagakerjaan" in welcome[0].text
    assert db("select state from contacts where external_id = ?", "7001")[0][0] != "new"


@pytest.mark.parametrize("secret", [None, "", "rahasia-yang-salah-sekali", SECRET.upper()], ids=repr)
async def test_an_update_without_the_right_secret_is_refused_and_nothing_is_read(webhook: Telegram, db, secret):
    budi = FakeUser(webhook.api, user_id=7002, first_name="Budi")

    status = await webhook.post(budi.send_command("start"), secret=secret)

    assert status == 403
    assert webhook.api.sent(budi.user_id) == []
    assert db("select count(*) from contacts")[0][0] == 0
    assert db("select count(*) from processed_updates")[0][0] == 0


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]", b'"halo"'], ids=repr)
async def test_a_body_that_is_not_an_update_is_a_400_and_changes_nothing(webhook: Telegram, db, body):
    status = await webhook.post({}, body=body)

    assert status == 400
    assert db("select count(*) from contacts")[0][0] == 0


async def test_an_update_telegram_posts_again_is_answered_once(webhook: Telegram, db):
    """Telegram posts again what it saw no 200 for (a process killed mid-turn, a proxy's timeout)."""
    ani = FakeUser(webhook.api, user_id=7003, first_name="Ani")
    update = ani.send_command("start")

    first = await webhook.post(update)
    again = await webhook.post(update)

    assert (first, again) == (200, 200), "a repeat is acknowledged, or Telegram would keep posting it"
    assert len(webhook.api.sent(ani.user_id)) == 1
    assert db("select count(*) from processed_updates")[0][0] == 1


async def test_a_whole_conversation_by_webhook_saves_the_lead(webhook: Telegram, db):
    siti = webhook.chat(7004, "Siti")

    await saved_lead(siti, name="Siti Aminah", phone="+6281377777777", region="Kaur")

    assert "Terima kasih, Siti Aminah" in texts(siti.api.sent(siti.chat_id))
    assert [tuple(row) for row in db("select name, phone, region from leads")] == [
        ("Siti Aminah", "+6281377777777", "Kaur")
    ]


async def test_the_webhook_is_set_with_the_secret_and_the_update_types_the_bot_reads(settings, clock, bot_api):
    webhook = dataclasses.replace(
        settings,
        telegram_webhook_url=f"https://bot.disnaker.example{PATH}",
        telegram_webhook_secret=SECRET,
        web_port=0,
    )
    runtime = Runtime(create_app(webhook, clock), telegram_request=FakeRequest(bot_api))

    await runtime.start()
    try:
        [call] = bot_api.calls_of("setWebhook")
    finally:
        await runtime.stop()

    assert call.params["url"] == f"https://bot.disnaker.example{PATH}"
    assert call.params["secret_token"] == SECRET
    allowed = call.params["allowed_updates"]
    assert (json.loads(allowed) if isinstance(allowed, str) else allowed) == ALLOWED_UPDATES
    assert bot_api.calls_of("getUpdates") == [], "no long polling beside the webhook"
