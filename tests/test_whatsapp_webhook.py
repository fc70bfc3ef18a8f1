"""WhatsApp's webhook and what WhatsApp reports back: Meta's verification and signatures, events stored before
they are processed (and processed once, after a restart too), the health check, status callbacks in any order,
every Graph error code a broadcast or a reminder can meet, and the 24-hour window.

Everything goes through the aiohttp app as Meta would reach it and through the Graph API fake; the broadcast
engine and the follow-up ticker are stepped by the test, with the app's clock moved by hand.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.cli.run import Runtime
from bot.models import Contact
from bot.services.campaigns import create_campaign, get_campaign, resume_campaign
from bot.services.officers import add_officer, ensure_contact
from bot.services.segments import Audience, Segment, count_audience
from bot.web.server import build_web_app
from bot.workers.broadcaster import Broadcaster
from bot.workers.pacing import Pacer
from tests.conftest import WhatsApp, WhatsAppChat, send_campaigns, store_lead, whatsapp_text
from tests.fakes import whatsapp as wa
from tests.fakes.telegram import FakeBotAPI, FakeRequest
from tests.process import catalog_text

NEWS = "Sosialisasi BPU di balai desa, Sabtu pukul 09.00."
PHONES = ["6281234567890", "6281234567891", "6281234567892", "6281234567893"]
NAMES = ["Budi Santoso", "Ani Lestari", "Dedi Kurnia", "Eka Putri"]
UNKNOWN_CODE = 131000  # "Something went wrong": a code the bot has no rule for
WEBHOOK = "/webhook/whatsapp"


# ------------------------------------------------------------------------------------------ helpers


async def lead_on_whatsapp(whatsapp: WhatsApp, name: str, phone: str) -> WhatsAppChat:
    """A worker on WhatsApp who left their contact and agreed to reminders (so broadcasts may reach them)."""
    chat = whatsapp.user(name=name.split()[0], phone=phone)
    welcome = await chat.say("halo")
    await chat.tap("Nelayan", welcome[0])
    await chat.tap("Saya tertarik")
    await chat.tap("Setuju")
    await chat.tap("Boleh")
    await chat.say(name)
    await chat.tap("Mukomuko")
    await chat.tap("Pagi")
    saved = await chat.tap("Benar, simpan")
    assert f"Terima kasih, {name}" in whatsapp_text(saved)
    return chat


async def stored_lead_on_whatsapp(whatsapp: WhatsApp, name: str, phone: str) -> WhatsAppChat:
    """`lead_on_whatsapp` for the tests that need saved leads rather than their capture (tests/conftest.py's
    store_lead): the worker writes and picks their work (WhatsApp's 24 hours open then, and they are at the
    menu), and the rest is stored through the services. The conversation itself is tested in
    tests/test_whatsapp.py (and lead_on_whatsapp in tests/test_lead_pipeline.py)."""
    chat = whatsapp.user(name=name.split()[0], phone=phone)
    welcome = await chat.say("halo")
    menu = await chat.tap("Nelayan", welcome[0])
    assert "Mau tahu apa?" in whatsapp_text(menu)
    await store_lead(whatsapp.app.dispatcher, "whatsapp", chat.user.user_id, name, phone)
    return chat


async def workers(whatsapp: WhatsApp, count: int) -> list[WhatsAppChat]:
    """`count` saved leads on WhatsApp; the status callbacks of their conversations are dropped (those carry
    no row of ours: the tests that care about them deliver them)."""
    pairs = zip(NAMES, PHONES[:count], strict=False)
    chats = [await stored_lead_on_whatsapp(whatsapp, name, phone) for name, phone in pairs]
    whatsapp.graph.take_statuses()
    return chats


async def broadcast(whatsapp: WhatsApp, text: str = NEWS, author_contact_id: int | None = None) -> int:
    """A campaign to everybody, starting now, as the command line or an officer's chat makes it."""
    dispatcher = whatsapp.app.dispatcher
    now = dispatcher.clock()
    async with dispatcher.sessions.begin() as session:
        campaign = await create_campaign(
            session,
            created_by="cli",
            author_contact_id=author_contact_id,
            segment=Segment(),
            text_id=text,
            text_en=None,
            button=None,
            starts_at=now,
            now=now,
        )
        return campaign.id


async def officer_on_telegram(whatsapp: WhatsApp) -> int:
    """The contact of an officer who writes campaigns from their Telegram chat: their notices are queued there."""
    async with whatsapp.app.dispatcher.sessions.begin() as session:
        officer = Contact(channel="telegram", external_id="7001", locale="id", state="main", state_data={})
        session.add(officer)
        await session.flush()
        return officer.id


async def audience(whatsapp: WhatsApp) -> Audience:
    dispatcher = whatsapp.app.dispatcher
    async with dispatcher.sessions() as session:
        return await count_audience(session, Segment(), dispatcher.content.consent_versions, dispatcher.clock())


def received(chat: WhatsAppChat, text: str = NEWS) -> list[wa.SentWhatsApp]:
    """The broadcast as it reached the worker's phone: free text, or the template with the text as parameter."""
    return [m for m in chat.transcript if m.text.startswith(text) or text in m.template_params]


def delivery(db, chat: WhatsAppChat, campaign_id: int = 1):
    [row] = db(
        "select d.* from deliveries d join contacts c on c.id = d.contact_id where c.external_id = ? "
        "and d.campaign_id = ?",
        chat.user.user_id,
        campaign_id,
    )
    return row


def contact(db, chat: WhatsAppChat):
    [row] = db("select * from contacts where external_id = ?", chat.user.user_id)
    return row


def reminder(db, chat: WhatsAppChat):
    """The first "Sudah daftar?" reminder of the worker's lead (due 3 days after it was saved)."""
    return db(
        "select f.* from followups f join contacts c on c.id = f.contact_id where c.external_id = ? "
        "and f.kind = 'reminder' order by f.due_at",
        chat.user.user_id,
    )[0]


def contact_name(db, chat: WhatsAppChat) -> str:
    query = "select l.name from leads l join contacts c on c.id = l.contact_id where c.external_id = ?"
    return db(query, chat.user.user_id)[0][0]


def stored(value: str) -> datetime:
    """A timestamp as the file holds it (UTC, no zone), comparable with the app's clock."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def seen(db, chat: WhatsAppChat, moment: datetime) -> None:
    """Move by hand what the bot holds as the worker's last message (in the file's own format)."""
    value = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")
    db("update contacts set last_seen_at = ? where external_id = ?", value, chat.user.user_id)


def status_in(body: dict) -> dict:
    """The one status callback in a webhook body (take_statuses puts one in each by default)."""
    return body["entry"][0]["changes"][0]["value"]["statuses"][0]


class PacerTime:
    """The broadcast pacer's seconds, moved only by its own sleeps: a pause is waited out at once, and kept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@contextlib.asynccontextmanager
async def serving(settings, clock, graph: wa.FakeWhatsAppAPI) -> AsyncIterator[WhatsApp]:
    """The app as `bpu-bot run` serves WhatsApp (as the `whatsapp` fixture), with other settings."""
    app = create_app(settings, clock)
    runtime = Runtime(app, telegram_request=FakeRequest(FakeBotAPI()), whatsapp_transport=graph.transport())
    client = TestClient(TestServer(build_web_app(app, runtime.whatsapp)))
    await client.start_server()
    try:
        yield WhatsApp(app, runtime, client, graph)
    finally:
        await client.close()
        await runtime.graph.close()
        await app.close()


@pytest.fixture
def pacer_time() -> PacerTime:
    return PacerTime()


def engine_for(whatsapp: WhatsApp, pacer_time: PacerTime) -> Broadcaster:
    """The broadcast engine with the runtime's WhatsApp sender, unpaced, its pauses counted instead of slept."""
    sender = whatsapp.runtime.broadcaster.senders["whatsapp"]
    pacer = Pacer(None, monotonic=pacer_time.monotonic, sleep=pacer_time.sleep)
    return Broadcaster(whatsapp.app.dispatcher, {"whatsapp": sender}, {"whatsapp": pacer})


@pytest.fixture
def engine(whatsapp: WhatsApp, pacer_time: PacerTime) -> Broadcaster:
    return engine_for(whatsapp, pacer_time)


@pytest.fixture
async def whatsapp_without_templates(whatsapp_settings, clock, graph) -> AsyncIterator[WhatsApp]:
    """A business number with no approved template configured: outside the 24 hours it cannot reach anyone."""
    async with serving(dataclasses.replace(whatsapp_settings, whatsapp_templates=()), clock, graph) as whatsapp:
        yield whatsapp


async def step(engine: Broadcaster) -> None:
    """One batch of every sending campaign, sent and recorded."""
    await engine.step()
    await engine.drain()


# ------------------------------------------------------------------------------------------ the webhook


async def test_meta_verifies_the_webhook_with_the_verify_token(whatsapp):
    query = {"hub.mode": "subscribe", "hub.verify_token": wa.VERIFY_TOKEN, "hub.challenge": "1158201444"}

    answered = await whatsapp.client.get(WEBHOOK, params=query)
    wrong_token = await whatsapp.client.get(WEBHOOK, params={**query, "hub.verify_token": "guessed"})
    wrong_mode = await whatsapp.client.get(WEBHOOK, params={**query, "hub.mode": "unsubscribe"})
    no_token = await whatsapp.client.get(WEBHOOK, params={"hub.mode": "subscribe", "hub.challenge": "1"})

    assert answered.status == 200 and await answered.text() == "1158201444"
    assert (wrong_token.status, wrong_mode.status, no_token.status) == (403, 403, 403)
    assert "1158201444" not in await wrong_token.text()


async def test_a_signed_message_is_answered(whatsapp, db):
    siti = whatsapp.user()

    assert await whatsapp.post(siti.user.text("halo")) == 200
    await whatsapp.process()

    answered = db("select state_serial from contacts")
    await whatsapp.statuses(order="shuffle")  # the replies' receipts carry no row of ours: nothing to record

    assert "bukan BPJS Ketenagakerjaan" in whatsapp_text(siti.transcript)
    assert db("select state_serial from contacts") == answered
    assert db("select count(*) from webhook_events")[0][0] == 0


@pytest.mark.parametrize(("signature", "status"), [("bad", 403), ("missing", 401)])
async def test_a_post_without_the_right_signature_is_refused_and_nothing_is_kept(whatsapp, db, signature, status):
    siti = whatsapp.user()

    assert await whatsapp.post(siti.user.text("halo"), signature=signature) == status
    await whatsapp.process()

    assert db("select count(*) from webhook_events")[0][0] == 0
    assert db("select count(*) from contacts")[0][0] == 0
    assert siti.transcript == [] and whatsapp.graph.calls() == []


async def test_the_signature_is_checked_over_the_raw_bytes_and_a_signed_body_must_be_json(whatsapp, db):
    siti = whatsapp.user()
    payload = siti.user.text("halo, brp iurannya? 👋")
    body, headers = wa.signed_post_args(payload)  # Meta's bytes: compact, "\/" and "\ud83d" escaped
    reserialised = json.dumps(payload).encode()
    assert reserialised != body and json.loads(reserialised) == json.loads(body)

    same_json_other_bytes = await whatsapp.client.post(WEBHOOK, data=reserialised, headers=headers)
    garbage = b"{this is not json"
    not_json = await whatsapp.client.post(
        WEBHOOK, data=garbage, headers={"Content-Type": "application/json", "X-Hub-Signature-256": wa.sign(garbage)}
    )
    stored_before = db("select count(*) from webhook_events")[0][0]
    exact = await whatsapp.client.post(WEBHOOK, data=body, headers=headers)

    assert (same_json_other_bytes.status, not_json.status, exact.status) == (403, 400, 200)
    assert stored_before == 0
    assert [r["body"] for r in db("select body from webhook_events")] == [body.decode()], "stored as it came"


async def test_an_event_is_stored_before_it_is_processed_and_a_restart_processes_it(
    whatsapp, whatsapp_settings, clock, graph, db
):
    siti = whatsapp.user()

    assert await whatsapp.post(siti.user.text("halo")) == 200
    stored = db("select channel, body from webhook_events")
    answered_before = list(siti.transcript)

    # The process stops before its worker got to the row; the next start finds it.
    restarted = create_app(whatsapp_settings, clock)
    runtime = Runtime(restarted, telegram_request=FakeRequest(FakeBotAPI()), whatsapp_transport=graph.transport())
    try:
        await runtime.recover()
        while await runtime.whatsapp.step():
            pass
    finally:
        await runtime.graph.close()
        await restarted.close()

    assert [r["channel"] for r in stored] == ["whatsapp"] and "halo" in stored[0]["body"]
    assert answered_before == []
    assert "bukan BPJS Ketenagakerjaan" in whatsapp_text(siti.transcript)
    assert db("select count(*) from webhook_events")[0][0] == 0
    await whatsapp.process()  # the first process, had it lived on, finds nothing left to do
    assert len(siti.transcript) == 2


async def test_a_message_meta_delivers_again_is_answered_once(whatsapp, db):
    siti = whatsapp.user()
    hello = siti.user.text("halo")
    first = await siti.send(hello)
    serial = contact(db, siti)["state_serial"]

    again_later = await siti.send(siti.user.redeliver(hello))  # Meta retries after the row was processed
    question = siti.user.text("brp iurannya")
    for body in (question, siti.user.redeliver(question)):  # ... or twice before the worker got to it
        assert await whatsapp.post(body) == 200
    before = len(siti.transcript)
    await whatsapp.process()
    answers = siti.transcript[before:]

    assert len(first) == 2 and again_later == []
    assert len(answers) == 1 and "Rp16.800" in whatsapp_text(answers)
    assert contact(db, siti)["state_serial"] == serial, "a question answered in passing leaves the step as it was"
    assert db("select count(*) from processed_updates")[0][0] == 2
    assert db("select count(*) from webhook_events")[0][0] == 0


async def test_two_messages_posted_before_processing_are_both_answered_in_order(whatsapp):
    siti = whatsapp.user()

    for text in ("halo", "brp iurannya"):
        assert await whatsapp.post(siti.user.text(text)) == 200
    await whatsapp.process()

    texts = [m.text for m in siti.transcript]
    assert len(texts) == 3
    assert "bukan BPJS Ketenagakerjaan" in texts[0] and "penghasilan" in texts[-1]


async def test_a_reply_whatsapp_refuses_is_logged_and_the_other_messages_are_answered(whatsapp, db):
    siti, budi = whatsapp.user(), whatsapp.user(name="Budi", phone=PHONES[1])
    whatsapp.graph.fail_next(siti.user.user_id, 131050)

    for chat in (siti, budi):
        assert await whatsapp.post(chat.user.text("halo")) == 200
    await whatsapp.process()

    assert "bukan BPJS Ketenagakerjaan" in whatsapp_text(budi.transcript)
    assert db("select count(*) from webhook_events")[0][0] == 0


async def test_a_file_whose_upload_fails_for_now_waits_and_goes_out_uploaded_once(whatsapp, db):
    rina = whatsapp.user(name="Rina", phone=PHONES[1])
    async with whatsapp.app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "whatsapp", rina.user.user_id, "id")
        await add_officer(session, contact, "Rina Marlina", ["Mukomuko"], whatsapp.app.dispatcher.clock())
    whatsapp.graph.fail_next_upload()  # 503: Meta's servers are busy

    assert await whatsapp.post(rina.user.text("/kode")) == 200
    await whatsapp.runtime.whatsapp.step()

    # The card waits, and the menu after it waits behind it: replies keep their order.
    assert rina.transcript == [] and [tuple(row) for row in db("select status from outbox")] == [("pending",)] * 2
    await whatsapp.runtime.whatsapp.step()  # the worker's next look

    card, menu = rina.transcript
    assert "📋 Tugas saya" in menu.titles
    assert card.kind == "image" and card.media is not None and card.media.content.startswith(b"\x89PNG")
    assert len(whatsapp.graph.uploads()) == 1 and db("select count(*) from outbox")[0][0] == 0
    assert [call.status for call in whatsapp.graph.calls() if call.path.endswith("/media")] == [503, 200]


async def test_the_health_check_says_whether_the_database_answers(whatsapp, whatsapp_settings, clock, tmp_path):
    healthy = await whatsapp.client.get("/health")
    folder = tmp_path / "not-a-database"
    folder.mkdir()
    broken = create_app(dataclasses.replace(whatsapp_settings, database_url=f"sqlite+aiosqlite:///{folder}"), clock)
    client = TestClient(TestServer(build_web_app(broken, None)))
    await client.start_server()
    try:
        unhealthy = await client.get("/health")
        body = await unhealthy.json()
    finally:
        await client.close()
        await broken.close()

    assert healthy.status == 200 and await healthy.json() == {"status": "ok", "database": "ok"}
    assert unhealthy.status == 503 and body["database"] == "unreachable"


# ------------------------------------------------------------------------------------------ status callbacks


@pytest.mark.parametrize(("order", "per_body"), [("reverse", 1), ("shuffle", 1), ("shuffle", 4)])
async def test_a_broadcasts_receipts_end_as_read_whatever_order_they_come_in(whatsapp, engine, db, order, per_body):
    chats = await workers(whatsapp, 3)
    campaign_id = await broadcast(whatsapp)
    await send_campaigns(engine)

    for body in whatsapp.graph.take_statuses(order=order, per_body=per_body):  # Meta may batch several
        await whatsapp.deliver(body)

    for chat in chats:
        [message] = received(chat)
        row = delivery(db, chat, campaign_id)
        assert message.callback_data == f"d:{row['id']}"
        assert (row["status"], row["receipt"], row["platform_message_id"]) == ("sent", "read", message.message_id)
        assert row["via"] == "text" and row["error_code"] is None
    assert db("select status from campaigns")[0][0] == "done"


async def test_a_delivery_unknown_after_a_timeout_becomes_sent_when_whatsapp_reports_it_delivered(whatsapp, engine, db):
    [budi] = await workers(whatsapp, 1)
    await broadcast(whatsapp)
    await send_campaigns(engine)
    # As if the Graph API's answer never came back: the engine could not know the message left.
    db("update deliveries set status = 'unknown', outcome = 'timeout', platform_message_id = null, sent_at = null")
    statuses = whatsapp.graph.take_statuses()
    [message] = received(budi)
    [delivered] = [
        b for b in statuses if status_in(b)["id"] == message.message_id and status_in(b)["status"] == "delivered"
    ]

    await whatsapp.deliver(delivered)
    after_delivered = delivery(db, budi)
    for body in reversed(statuses):
        await whatsapp.deliver(body)

    assert (after_delivered["status"], after_delivered["receipt"]) == ("sent", "delivered")
    assert after_delivered["platform_message_id"] == message.message_id and after_delivered["sent_at"] is not None
    row = delivery(db, budi)
    assert (row["status"], row["receipt"]) == ("sent", "read")
    assert len(received(budi)) == 1, "never sent again"


async def test_a_reminders_receipts_are_recorded_and_an_unknown_reminder_becomes_sent(whatsapp, clock, db):
    budi, ani = await workers(whatsapp, 2)
    clock.advance(days=3)  # their first "Sudah daftar?" is due; they last wrote 3 days ago

    report = await whatsapp.runtime.ticker.tick()
    db("update followups set status = 'unknown', platform_message_id = null where id = ?", reminder(db, ani)["id"])
    await whatsapp.statuses(order="shuffle")

    assert report.sent == 2
    for chat in (budi, ani):
        [message] = [m for m in chat.transcript if m.kind == "template"]
        row = reminder(db, chat)
        assert message.template_name == "bpu_pengingat" and message.template_params == [contact_name(db, chat)]
        assert message.callback_data == f"f:{row['id']}"
        assert (row["status"], row["receipt"], row["via"]) == ("sent", "read", "template")
        assert row["platform_message_id"] == message.message_id


# ------------------------------------------------------------------------------------------ error codes: broadcasts


@pytest.mark.parametrize("code", [130429, 80007])
async def test_a_throughput_limit_loses_nothing_everyone_waits_and_the_message_goes_after_the_pause(
    whatsapp, engine, pacer_time, clock, db, code
):
    budi, ani, dedi = await workers(whatsapp, 3)
    await broadcast(whatsapp)
    whatsapp.graph.fail_next(budi.user.user_id, code)

    await step(engine)
    waiting = delivery(db, budi)
    await step(engine)  # at once: Budi's turn has not come again
    too_soon = len(received(budi))
    still = db("select status from campaigns")[0][0]
    clock.advance(seconds=3)
    await send_campaigns(engine)

    assert (waiting["status"], waiting["outcome"], waiting["attempts"]) == ("pending", "rate_limited", 0)
    assert stored(waiting["not_before"]) == clock() - timedelta(seconds=3) + timedelta(seconds=2)
    assert too_soon == 0 and still == "sending"
    assert [len(received(chat)) for chat in (budi, ani, dedi)] == [1, 1, 1], "nothing lost, nothing twice"
    assert pacer_time.slept == [2.0], "everybody waited the pause out before the next send"
    row = delivery(db, budi)
    assert (row["status"], row["attempts"]) == ("sent", 1), "a rate limit does not count as an attempt"
    assert db("select status from campaigns")[0][0] == "done"


async def test_a_pair_rate_limit_holds_back_only_that_worker(whatsapp, engine, pacer_time, clock, db):
    budi, ani, dedi = await workers(whatsapp, 3)
    await broadcast(whatsapp)
    whatsapp.graph.fail_next(budi.user.user_id, 131056)

    await step(engine)
    waiting = delivery(db, budi)
    others = [len(received(chat)) for chat in (ani, dedi)]
    clock.advance(seconds=11)
    await send_campaigns(engine)

    assert others == [1, 1], "the others went in the same step"
    assert (waiting["status"], waiting["outcome"]) == ("pending", "pair_rate_limited")
    assert stored(waiting["not_before"]) == clock() - timedelta(seconds=11) + timedelta(seconds=10)
    assert pacer_time.slept == [], "nobody else waited"
    assert [len(received(chat)) for chat in (budi, ani, dedi)] == [1, 1, 1]


async def test_the_spam_rate_limit_pauses_the_campaign_keeps_the_rest_waiting_and_tells_the_author_once(
    whatsapp, engine, db
):
    budi, ani, dedi = await workers(whatsapp, 3)
    author = await officer_on_telegram(whatsapp)
    campaign_id = await broadcast(whatsapp, author_contact_id=author)
    engine.batch = {"whatsapp": 2}
    whatsapp.graph.fail_next(budi.user.user_id, 131048)
    whatsapp.graph.fail_next(ani.user.user_id, 131048)

    await send_campaigns(engine)

    assert db("select status from campaigns")[0][0] == "paused"
    assert [(delivery(db, c)["status"], delivery(db, c)["outcome"]) for c in (budi, ani, dedi)] == [
        ("pending", "spam_limited"),
        ("pending", "spam_limited"),
        ("pending", None),
    ]
    assert [len(received(chat)) for chat in (budi, ani, dedi)] == [0, 0, 0]
    notices = db("select contact_id, status, text from followups where kind = 'notice'")
    expected = catalog_text("id", "broadcast.spam_paused").format(id=campaign_id)
    assert [tuple(n) for n in notices] == [(author, "pending", expected)], "one notice, in the author's chat"

    async with whatsapp.app.dispatcher.sessions.begin() as session:  # the author resumes it later
        await resume_campaign(session, await get_campaign(session, campaign_id))
    await send_campaigns(engine)

    assert [len(received(chat)) for chat in (budi, ani, dedi)] == [1, 1, 1]
    assert db("select status from campaigns")[0][0] == "done"


async def test_the_spam_rate_limit_reported_in_a_status_pauses_the_campaign_too(whatsapp, engine, db):
    budi, ani, dedi = await workers(whatsapp, 3)
    author = await officer_on_telegram(whatsapp)
    campaign_id = await broadcast(whatsapp, author_contact_id=author)
    engine.batch = {"whatsapp": 1}
    whatsapp.graph.fail_next(budi.user.user_id, 131048, on="status")

    await step(engine)
    await whatsapp.statuses()
    await send_campaigns(engine)

    assert db("select status from campaigns")[0][0] == "paused"
    row = delivery(db, budi)
    assert (row["status"], row["outcome"], row["receipt"], row["error_code"]) == (
        "pending",
        "spam_limited",
        None,  # waiting to go again: no receipt yet, the reason kept
        131048,
    )
    assert [delivery(db, c)["status"] for c in (ani, dedi)] == ["pending", "pending"]
    assert [len(received(chat)) for chat in (ani, dedi)] == [0, 0]
    notices = db("select contact_id, text from followups where kind = 'notice'")
    expected = catalog_text("id", "broadcast.spam_paused").format(id=campaign_id)
    assert [tuple(n) for n in notices] == [(author, expected)]


@pytest.mark.parametrize("on", ["send", "status"])
async def test_an_undeliverable_worker_becomes_unreachable_and_later_campaigns_skip_them(whatsapp, engine, db, on):
    budi, ani = await workers(whatsapp, 2)
    await broadcast(whatsapp)
    whatsapp.graph.fail_next(budi.user.user_id, 131026, on=on)

    await send_campaigns(engine)
    await whatsapp.statuses()
    second = await broadcast(whatsapp, "Kabar kedua")
    await send_campaigns(engine)

    row = delivery(db, budi)
    assert (row["status"], row["outcome"]) == ("failed", "blocked")
    assert contact(db, budi)["unreachable_at"] is not None
    still_due = db("select count(*) from followups where contact_id = ? and status = 'pending'", row["contact_id"])
    assert still_due[0][0] == 0, "his reminders end too"
    in_second = db(
        "select count(*) from deliveries where campaign_id = ? and contact_id = ?", second, row["contact_id"]
    )
    assert in_second[0][0] == 0, "not even a row in the next campaign"
    assert received(budi, "Kabar kedua") == [] and len(received(ani, "Kabar kedua")) == 1


@pytest.mark.parametrize("how", ["status", "window", "send"])
async def test_a_broadcast_refused_for_the_closed_window_goes_again_as_the_template(whatsapp, engine, clock, db, how):
    budi, ani, dedi = await workers(whatsapp, 3)
    if how == "window":  # WhatsApp counts the 24 hours itself, and they are over; the bot thinks otherwise
        clock.advance(hours=25)
        for chat in (budi, ani, dedi):
            seen(db, chat, clock() - timedelta(hours=1))
    else:
        whatsapp.graph.fail_next(budi.user.user_id, 131047, on=how)
    await broadcast(whatsapp)

    await step(engine)
    await whatsapp.statuses()  # WhatsApp's callbacks come back while the campaign is still going
    await send_campaigns(engine)

    forms = [m.kind for m in received(budi)]
    assert forms == (["template"] if how == "send" else ["text", "template"])
    template = received(budi)[-1]
    assert (template.template_name, template.template_params) == ("bpu_siaran", [NEWS])
    row = delivery(db, budi)
    assert (row["status"], row["via"], row["platform_message_id"]) == ("sent", "template", template.message_id)
    others = [[m.kind for m in received(chat)] for chat in (ani, dedi)]
    assert others == ([["text", "template"]] * 2 if how == "window" else [["text"], ["text"]])


@pytest.mark.parametrize(("code", "later"), [(131047, timedelta(0)), (131049, timedelta(hours=24))])
async def test_a_retry_reported_after_the_campaign_finished_is_still_sent(whatsapp, engine, clock, db, code, later):
    budi, ani = await workers(whatsapp, 2)
    whatsapp.graph.fail_next(budi.user.user_id, code, on="status")
    await broadcast(whatsapp)
    await send_campaigns(engine)  # two messages: the campaign is done before WhatsApp's callbacks arrive
    finished = db("select status from campaigns")[0][0]

    await whatsapp.statuses()
    clock.advance(seconds=later.total_seconds())
    await send_campaigns(engine, steps=3)

    assert finished == "done"
    assert [m.kind for m in received(budi)] == ["text", "template"]
    assert (delivery(db, budi)["status"], delivery(db, budi)["via"]) == ("sent", "template")


async def test_a_failure_of_the_template_sent_after_a_closed_window_is_not_lost(whatsapp, engine, db):
    budi, ani = await workers(whatsapp, 2)
    whatsapp.graph.fail_next(budi.user.user_id, 131047, on="status")  # the free text: the window is closed
    whatsapp.graph.fail_next(budi.user.user_id, 131026, on="status")  # the template: his account is gone
    await broadcast(whatsapp)

    await step(engine)
    await whatsapp.statuses()
    await step(engine)
    await whatsapp.statuses()
    await send_campaigns(engine)

    assert [m.kind for m in received(budi)] == ["text", "template"]
    row = delivery(db, budi)
    assert (row["status"], row["outcome"], row["error_code"]) == ("failed", "blocked", 131026)
    assert contact(db, budi)["unreachable_at"] is not None


@pytest.mark.parametrize("how", ["status", "send", "outside"])
async def test_without_a_template_a_closed_window_skips_the_broadcast_and_never_sends_free_text(
    whatsapp_without_templates, clock, db, how
):
    whatsapp = whatsapp_without_templates
    engine = engine_for(whatsapp, PacerTime())
    budi, ani = await workers(whatsapp, 2)
    if how == "outside":
        clock.advance(hours=25)
        await ani.say("brp iurannya")  # Ani wrote just now, Budi 25 hours ago
    else:
        whatsapp.graph.fail_next(budi.user.user_id, 131047, on=how)
    await broadcast(whatsapp)

    await step(engine)
    await whatsapp.statuses()
    await send_campaigns(engine)

    row = delivery(db, budi)
    assert (row["status"], row["outcome"]) == ("skipped", "no_template")
    # Only the one the bot could not know about (WhatsApp accepted it, then reported the window closed).
    assert [m.kind for m in received(budi)] == (["text"] if how == "status" else [])
    assert [m.kind for m in received(ani)] == ["text"]
    assert all(m.kind != "template" for m in whatsapp.graph.sent())
    assert db("select status from campaigns")[0][0] == "done"


@pytest.mark.parametrize("on", ["send", "status"])
async def test_a_workers_marketing_limit_puts_their_message_off_for_a_day(whatsapp, engine, clock, db, on):
    budi, ani = await workers(whatsapp, 2)
    whatsapp.graph.fail_next(budi.user.user_id, 131049, on=on)
    await broadcast(whatsapp)

    await step(engine)
    await whatsapp.statuses()
    now = clock()
    await step(engine)
    waiting = delivery(db, budi)
    clock.advance(hours=23)
    await step(engine)
    not_yet = len(received(budi))
    clock.advance(hours=1, minutes=1)
    await send_campaigns(engine)

    assert (waiting["status"], waiting["outcome"]) == ("pending", "marketing_limit")
    assert stored(waiting["not_before"]) == now + timedelta(hours=24)
    assert not_yet == (1 if on == "status" else 0)
    assert len(received(ani)) == 1
    late = received(budi)[-1]
    assert late.kind == "template", "a day later the 24 hours are over: the template"
    assert (delivery(db, budi)["status"], delivery(db, budi)["platform_message_id"]) == ("sent", late.message_id)
    assert db("select status from campaigns")[0][0] == "done"


@pytest.mark.parametrize("on", ["send", "status"])
async def test_a_worker_who_stopped_marketing_messages_is_left_out_of_the_next_campaigns(whatsapp, engine, db, on):
    budi, ani = await workers(whatsapp, 2)
    before = await audience(whatsapp)
    whatsapp.graph.fail_next(budi.user.user_id, 131050, on=on)
    await broadcast(whatsapp)

    await step(engine)
    await whatsapp.statuses()
    await send_campaigns(engine)
    after = await audience(whatsapp)
    second = await broadcast(whatsapp, "Kabar kedua")
    await send_campaigns(engine)

    row = delivery(db, budi)
    assert (row["status"], row["outcome"]) == ("skipped", "marketing_stopped")
    assert contact(db, budi)["marketing_stopped_at"] is not None
    assert (before.total, before.whatsapp_text, after.total, after.whatsapp_text) == (2, 2, 1, 1)
    assert db("select count(*) from deliveries where campaign_id = ?", second)[0][0] == 1
    assert received(budi, "Kabar kedua") == [] and len(received(ani, "Kabar kedua")) == 1


@pytest.mark.parametrize(
    "on",
    [
        "send",
        "status",
    ],
)
async def test_an_unknown_error_code_fails_the_delivery_and_keeps_the_code(whatsapp, engine, db, on):
    budi, ani = await workers(whatsapp, 2)
    whatsapp.graph.fail_next(budi.user.user_id, UNKNOWN_CODE, on=on)
    await broadcast(whatsapp)

    await step(engine)
    await whatsapp.statuses()
    await send_campaigns(engine)

    row = delivery(db, budi)
    assert row["status"] == "failed"
    assert str(UNKNOWN_CODE) in (row["outcome"] or "") and row["error_code"] == UNKNOWN_CODE
    assert delivery(db, ani)["status"] == "sent"
    assert db("select status from campaigns")[0][0] == "done"


# ------------------------------------------------------------------------------------------ the 24 hours


async def test_outside_the_24_hours_a_broadcast_goes_as_the_template_inside_as_free_text(whatsapp, engine, clock, db):
    budi, ani = await workers(whatsapp, 2)
    clock.advance(hours=24)
    await ani.say("brp iurannya")
    clock.advance(hours=1)  # Budi last wrote 25 hours ago, Ani 1 hour ago

    counted = await audience(whatsapp)
    await broadcast(whatsapp)
    await send_campaigns(engine)

    assert (counted.total, counted.whatsapp_text, counted.whatsapp_template) == (2, 1, 1)
    [to_budi] = received(budi)
    [to_ani] = received(ani)
    assert (to_budi.kind, to_budi.template_name, to_budi.template_params) == ("template", "bpu_siaran", [NEWS])
    assert (to_ani.kind, to_ani.text) == ("text", NEWS)
    assert [delivery(db, c)["via"] for c in (budi, ani)] == ["template", "text"]


async def test_the_24_hours_count_from_when_the_worker_wrote_not_from_when_the_bot_read_it(whatsapp, engine, clock, db):
    [budi] = await workers(whatsapp, 1)
    clock.advance(hours=1)
    thanks = budi.user.text("terima kasih")  # written now; the bot is down and Meta retries 5 hours later
    clock.advance(hours=5)
    await budi.send(thanks)
    clock.advance(hours=19, minutes=30)  # 24.5 hours after he wrote

    await broadcast(whatsapp)
    await send_campaigns(engine)

    assert [m.kind for m in received(budi)] == ["template"]


# ------------------------------------------------------------------------------------------ error codes: reminders

REMINDER_ERRORS = [
    # (code, how WhatsApp said it, the reminder's status and outcome, when it goes again)
    (130429, "send", "pending", None, timedelta(seconds=2)),
    (131056, "send", "pending", None, timedelta(seconds=10)),
    (131048, "send", "pending", None, timedelta(hours=1)),
    (131049, "send", "pending", None, timedelta(hours=24)),
    (131026, "send", "failed", "unreachable", None),
    (131050, "send", "failed", "marketing_stopped", None),
    (UNKNOWN_CODE, "send", "failed", f"refused:{UNKNOWN_CODE}", None),
    (130429, "status", "pending", "rate_limited", timedelta(minutes=1)),
    (131048, "status", "pending", "spam_limited", timedelta(hours=1)),
    (131049, "status", "pending", "marketing_limit", timedelta(hours=24)),
    (131026, "status", "failed", "unreachable", None),
    (131050, "status", "failed", "marketing_stopped", None),
    (UNKNOWN_CODE, "status", "failed", f"refused:{UNKNOWN_CODE}", None),
]


@pytest.mark.parametrize(("code", "on", "status", "outcome", "later"), REMINDER_ERRORS)
async def test_a_reminder_meets_a_graph_error(whatsapp, clock, db, code, on, status, outcome, later):
    [budi] = await workers(whatsapp, 1)
    clock.advance(days=3)
    whatsapp.graph.fail_next(budi.user.user_id, code, on=on)
    ticker = whatsapp.runtime.ticker

    await ticker.tick()
    await whatsapp.statuses()
    now = clock()
    row = reminder(db, budi)
    tried = len([m for m in budi.transcript if m.kind == "template"])

    assert (row["status"], row["outcome"]) == (status, outcome)
    assert tried == (1 if on == "status" else 0)
    if later is not None:
        assert stored(row["due_at"]) == now + later
        clock.advance(seconds=later.total_seconds() - 1)
        early = await ticker.tick()
        clock.advance(seconds=2)
        again = await ticker.tick()
        assert (early.sent, again.sent) == (0, 1)
        assert reminder(db, budi)["status"] == "sent"
        assert len([m for m in budi.transcript if m.kind == "template"]) == tried + 1
    if code == 131026:
        assert contact(db, budi)["unreachable_at"] is not None
        assert db("select count(*) from followups where status = 'pending'")[0][0] == 0, "the later one ends too"
    if code == 131050:
        assert contact(db, budi)["marketing_stopped_at"] is not None


async def test_a_reminder_sent_as_text_and_refused_for_the_window_goes_again_as_the_template(whatsapp, clock, db):
    [budi] = await workers(whatsapp, 1)
    clock.advance(days=3, hours=-1)
    await budi.say("brp iurannya")  # an hour before the reminder is due: it goes as free text
    clock.advance(hours=1)
    whatsapp.graph.fail_next(budi.user.user_id, 131047, on="status")
    ticker = whatsapp.runtime.ticker

    await ticker.tick()
    as_text = budi.transcript[-1]
    await whatsapp.statuses()
    requeued = reminder(db, budi)
    await ticker.tick()

    assert as_text.kind != "template" and "Budi Santoso" in as_text.text
    assert (requeued["status"], requeued["via"], requeued["outcome"]) == ("pending", "template", "window_closed")
    template = budi.transcript[-1]
    assert (template.template_name, template.template_params) == ("bpu_pengingat", ["Budi Santoso"])
    assert len(template.template_payloads) == 3, "Sudah / Belum / Jangan ingatkan lagi, as quick replies"
    row = reminder(db, budi)
    assert (row["status"], row["via"], row["platform_message_id"]) == ("sent", "template", template.message_id)


async def test_without_a_template_a_reminder_outside_the_24_hours_is_cancelled_not_sent(
    whatsapp_without_templates, clock, db
):
    [budi] = await workers(whatsapp_without_templates, 1)
    clock.advance(days=3)
    before = len(budi.transcript)

    report = await whatsapp_without_templates.runtime.ticker.tick()

    assert report.cancelled == 1 and len(budi.transcript) == before
    row = reminder(db, budi)
    assert (row["status"], row["outcome"]) == ("cancelled", "no_template")


async def test_a_signed_body_of_an_unexpected_shape_is_dropped_and_the_next_message_is_answered(whatsapp, db):
    siti = whatsapp.user()
    odd = siti.user.text("halo")
    odd["entry"][0]["changes"][0]["value"]["messages"][0]["text"] = "not an object"  # Meta never sends this
    assert await whatsapp.post(odd) == 200

    answer = await siti.say("halo")

    assert "bukan BPJS Ketenagakerjaan" in whatsapp_text(answer)
    assert db("select count(*) from webhook_events")[0][0] == 0
