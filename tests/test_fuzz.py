"""Property-based tests (Hypothesis): whatever bytes, headers and JSON reach the two webhooks, and whatever text a
person types at any step, the bot answers 2xx or 4xx, logs no traceback, keeps no row from a bad value, and still
answers the next good message. On SQLite and, with --database=postgresql, on PostgreSQL.

Examples per target: FUZZ_EXAMPLES (default 60, so `make test` stays quick); docs/benchmarks.md gives the figures of a
longer run. The app and its web server run on an event loop of the test's own, since Hypothesis calls the
property once per example, synchronously.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.cli.run import Runtime
from bot.conversation.events import Inbound, Kind
from bot.conversation.rehearsal import STEPS, Rehearsal
from bot.web.server import TELEGRAM_SECRET_HEADER, build_web_app
from tests.fakes import whatsapp as wa
from tests.fakes.telegram import FakeRequest, FakeUser
from tests.test_bad_input import raw_post

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SECRET = "rahasia-webhook-fuzz-bengkulu"
TELEGRAM_PATH = "/tg/fuzz"
WHATSAPP_PATH = "/webhook/whatsapp"
# What a contact's id may look like: Telegram's numbers, WhatsApp's phones and business-scoped ids, the terminal's.
EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
WELCOME = "bukan BPJS Ketenagakerjaan"

PROPERTY = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure in CI is a failure on a laptop
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

bodies = st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode())
# Any bytes a header may carry on the wire (a line break would end it).
header_values = st.binary(max_size=80).filter(lambda b: b"\r" not in b and b"\n" not in b)


def explore(check: Callable[..., None], **strategies: st.SearchStrategy) -> None:
    """Run `check` on examples drawn from `strategies` (PROPERTY's settings), then print how many were tried:
    `pytest -rP` shows it, the figures of docs/benchmarks.md."""
    tried = 0

    @functools.wraps(check)
    def counted(**values: Any) -> None:
        nonlocal tried
        tried += 1
        check(**values)

    PROPERTY(given(**strategies)(counted))()
    print(f"examples tried: {tried}")


def mutated(template: Any) -> st.SearchStrategy:
    """`template` with any of its values, at any depth, possibly replaced by arbitrary JSON (shrinks to itself)."""
    if isinstance(template, dict):
        kept = st.fixed_dictionaries({key: mutated(value) for key, value in template.items()})
    elif isinstance(template, list):
        kept = st.tuples(*(mutated(value) for value in template)).map(list)
    else:
        kept = st.just(template)
    return st.one_of(kept, json_values)


class Served:
    """The app as `bpu-bot run` serves both webhooks, on a loop of its own; `run` waits for a coroutine on it."""

    def __init__(self, settings, clock, graph, bot_api):
        self.loop = asyncio.new_event_loop()
        self.app = create_app(settings, clock)
        self.runtime = Runtime(self.app, telegram_request=FakeRequest(bot_api), whatsapp_transport=graph.transport())
        web_app = build_web_app(self.app, self.runtime.whatsapp, self.runtime.application)
        self.client = TestClient(TestServer(web_app), loop=self.loop)
        self.graph, self.bot_api = graph, bot_api
        self.run(self.client.start_server())
        self.run(self.runtime.application.initialize())

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.runtime.application.shutdown())
        self.run(self.client.close())
        self.run(self.runtime.graph.close())
        self.run(self.app.close())
        self.loop.close()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        async with self.client.post(path, data=body, headers=headers) as response:
            return response.status

    async def whatsapp(self, body: bytes) -> int:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": wa.sign(body)}
        status = await self.post(WHATSAPP_PATH, body, headers)
        while await self.runtime.whatsapp.step():
            pass
        return status

    async def telegram(self, body: bytes, secret: str = SECRET) -> int:
        return await self.post(
            TELEGRAM_PATH, body, {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: secret}
        )


@pytest.fixture
def served(settings, clock, graph, bot_api, whatsapp_settings) -> Iterator[Served]:
    both = dataclasses.replace(
        whatsapp_settings,
        telegram_webhook_url=f"https://bot.disnaker.example{TELEGRAM_PATH}",
        telegram_webhook_secret=SECRET,
    )
    served = Served(both, clock, graph, bot_api)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def failures(caplog) -> pytest.LogCaptureFixture:
    """Every logger's records from WARNING up (read at each check: pytest gives each phase a list of its own)."""
    caplog.set_level(logging.WARNING)
    return caplog


def assert_clean(failures: pytest.LogCaptureFixture, db) -> None:
    records = failures.records
    bad = [f"{r.name}: {r.getMessage()}" for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == []
    ids = [row[0] for row in db("select external_id from contacts")]
    assert all(EXTERNAL_ID.fullmatch(i) for i in ids), ids


# ------------------------------------------------------------------------------------------ WhatsApp


def test_whatsapp_answers_4xx_or_2xx_to_any_signed_bytes_and_still_answers_a_worker(served, failures, db):
    siti = wa.FakeWhatsAppUser(served.graph, phone="6281299900001")

    def check(body: bytes) -> None:
        assert served.run(served.whatsapp(body)) < 500
        assert_clean(failures, db)

    explore(check, body=bodies)
    assert_still_answers_whatsapp(served, siti)


def test_whatsapp_answers_4xx_to_any_signature_header(served, failures, db):
    body = json.dumps(wa.FakeWhatsAppUser(served.graph, phone="6281299900002").text("halo")).encode()

    def check(header: bytes) -> None:
        headers = [(b"Content-Type", b"application/json"), (b"X-Hub-Signature-256", header)]
        status = served.run(raw_post(served.client, WHATSAPP_PATH, headers, body))
        assert 400 <= status < 500
        assert db("select count(*) from webhook_events")[0][0] == 0
        assert_clean(failures, db)

    explore(check, header=header_values)


def test_whatsapp_keeps_every_good_message_beside_a_mangled_one(served, failures, db):
    user = wa.FakeWhatsAppUser(served.graph)
    served.run(served.whatsapp(json.dumps(user.text("halo")).encode()))
    entries = [user.text("berapa iurannya")["entry"][0], *(body["entry"][0] for body in served.graph.take_statuses())]
    people = iter(range(10**8))

    def check(mangled: Any) -> None:
        good = wa.FakeWhatsAppUser(served.graph, phone=f"62813{next(people):08d}")
        batch = {"object": "whatsapp_business_account", "entry": [mangled, *good.text("halo")["entry"]]}
        assert served.run(served.whatsapp(json.dumps(batch).encode())) == 200
        assert WELCOME in "\n".join(m.text for m in served.graph.sent(good.user_id)), "the good message is answered"
        assert_clean(failures, db)

    explore(check, mangled=st.sampled_from(range(len(entries))).flatmap(lambda i: mutated(entries[i])))


def assert_still_answers_whatsapp(served: Served, user: wa.FakeWhatsAppUser) -> None:
    assert served.run(served.whatsapp(json.dumps(user.text("halo")).encode())) == 200
    assert WELCOME in "\n".join(m.text for m in served.graph.sent(user.user_id))


# ------------------------------------------------------------------------------------------ Telegram


def test_telegram_answers_4xx_or_2xx_to_any_body_and_still_answers_a_worker(served, failures, db):
    def check(body: bytes) -> None:
        assert served.run(served.telegram(body)) < 500
        assert_clean(failures, db)

    explore(check, body=bodies)
    assert_still_answers_telegram(served, 99001)


def test_telegram_answers_4xx_to_any_secret_header(served, failures, db):
    body = json.dumps(FakeUser(served.bot_api, user_id=99002).send_command("start")).encode()

    def check(header: bytes) -> None:
        headers = [(b"Content-Type", b"application/json"), (TELEGRAM_SECRET_HEADER.encode(), header)]
        status = served.run(raw_post(served.client, TELEGRAM_PATH, headers, body))
        assert 400 <= status < 500
        assert db("select count(*) from contacts")[0][0] == 0
        assert_clean(failures, db)

    explore(check, header=header_values)


def test_telegram_updates_with_mangled_fields_never_fail(served, failures, db):
    user = FakeUser(served.bot_api, user_id=99003)
    templates = [user.send_text("halo"), user.send_command("start"), user.share_contact("+6281234567890")]

    def check(update: Any) -> None:
        assert served.run(served.telegram(json.dumps(update).encode())) < 500
        assert_clean(failures, db)

    explore(check, update=st.sampled_from(range(len(templates))).flatmap(lambda i: mutated(templates[i])))
    assert_still_answers_telegram(served, 99004)


def assert_still_answers_telegram(served: Served, user_id: int) -> None:
    user = FakeUser(served.bot_api, user_id=user_id)
    assert served.run(served.telegram(json.dumps(user.send_command("start")).encode())) == 200
    assert WELCOME in "\n".join(m.text for m in served.bot_api.sent(user_id))


# ------------------------------------------------------------------------------------------ every step

typed = st.text(max_size=300) | st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(["\x00", "\u202e"])


@pytest.mark.parametrize("step", sorted(STEPS))
def test_any_text_at_any_step_gets_an_answer_and_the_next_message_is_answered(served, failures, db, step):
    rehearsal = Rehearsal(served.app.dispatcher, prefix=f"fuzz-{step}")
    dispatcher = served.app.dispatcher
    error = served.app.messages[served.app.settings.default_locale]("common.error")

    def check(text: str) -> None:
        answered = served.run(rehearsal.tell(step, text))
        assert answered.replies, "never silence"
        assert all(reply.text != error for reply in answered.replies)
        after = served.run(dispatcher.handle(Inbound("terminal", answered.person, Kind.COMMAND, command="menu")))
        assert after and all(reply.text != error for reply in after)
        assert_clean(failures, db)

    explore(check, text=typed)
