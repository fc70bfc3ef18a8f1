"""Broadcast campaigns: an officer builds one in the chat, the engine sends each message once, workers' STOP,
blocks and 429s are honoured, pause/resume/cancel work between batches, and the report is a real CSV.

The engine is stepped by the test against the Bot API fake, with the app's clock injected.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime, timedelta

import pytest
from telegram import Bot

import bot.db
import bot.workers.broadcaster
from bot.app import BotApp
from bot.channels.telegram.sending import TelegramSender
from bot.channels.telegram.transport import AiohttpRequest
from bot.config import Settings
from bot.models import CampaignStatus
from bot.services.campaigns import pause_campaign, resume_campaign
from bot.services.deliveries import claim_deliveries, give_up_interrupted_deliveries, record_outcomes
from bot.services.segments import CampaignError, Segment, count_audience, limit_to_regions, parse_segment
from bot.workers.broadcaster import MAX_ATTEMPTS, Broadcaster
from bot.workers.delivery import NetworkDown, Sent
from bot.workers.pacing import Pacer
from tests import database
from tests.conftest import (
    WIB,
    Chat,
    campaign_for,
    deadlocked_first,
    saved_lead,
    send_campaigns,
    stored_lead,
    text_of,
    welcomed,
)
from tests.fakes.telegram import TEST_TOKEN, FakeBotAPI, FakeBotAPIServer
from tests.population import seed_workers
from tests.test_officers import ADMIN_ID, RINA_ID, make_officer
from tests.transcript import dialog

PHONES = ["+6281234567890", "+6281234567891", "+6281234567892", "+6281234567893"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


async def workers(new_chat, *specs: tuple[str, str, str]) -> list[Chat]:
    """Workers who left their contact: (name, region, reminders answer), each with their own phone; stored
    through the capture's services (tests/conftest.py's stored_lead)."""
    chats = []
    for (name, region, reminders), phone in zip(specs, PHONES, strict=False):
        chats.append(await stored_lead(new_chat(name), name, phone, region, reminders=reminders == "Boleh"))
    return chats


def broadcasts_to(chat: Chat, text: str) -> list:
    return [m for m in chat.transcript if m.text.startswith(text)]


async def test_an_officer_builds_previews_and_sends_a_broadcast_to_their_region(
    app, new_chat, broadcaster, bot_api, db
):
    budi, ani, dedi, eka = await workers(
        new_chat,
        ("Budi", "Mukomuko", "Boleh"),
        ("Ani", "Mukomuko", "Boleh"),
        ("Dedi", "Kaur", "Boleh"),  # another region: not Rina's to reach
        ("Eka", "Mukomuko", "Tidak"),  # never agreed to messages
    )
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await rina.command("start")

    await dialog(rina).play("""
        > /siaran
        < hanya kepada yang setuju menerima pesan
        > [Siaran baru]
        < Wilayah: Mukomuko
        < 👥 2 orang
        > [Pekerjaan]
        > [Nelayan]
        < Pekerjaan: 🎣 Nelayan
        < 👥 2 orang
        > [Lanjut]
        < Ketik pesannya
        > Sosialisasi BPU di balai desa, Sabtu pukul 09.00.
        > [Lewati]
    """)
    preview = await rina.tap("Saya tertarik")
    test = await rina.tap("Kirim tes ke saya")
    await dialog(rina).play("""
        > [Kirim sekarang]
        < sekarang ke 2 orang
        > [Ya, kirim]
        < Siaran #1 mulai dikirim
    """)

    assert "begini pesannya akan diterima oleh 2 orang (2 berbahasa Indonesia, 0 English)" in preview[0].text
    assert preview[1].text == "Sosialisasi BPU di balai desa, Sabtu pukul 09.00." and preview[1].labels == [
        "✋ Saya tertarik"
    ]
    assert test[0].text == preview[1].text and test[0].labels == preview[1].labels
    [campaign] = db("select created_by, segment, status, button from campaigns")
    assert tuple(campaign) == (
        "officer:1",
        '{"occupation": "nelayan", "regions": ["Mukomuko"]}',
        "scheduled",
        "interest",
    )

    await send_campaigns(broadcaster)

    for chat in (budi, ani):
        [message] = broadcasts_to(chat, "Sosialisasi BPU di balai desa")
        assert message.labels == ["✋ Saya tertarik"]
    assert not broadcasts_to(dedi, "Sosialisasi") and not broadcasts_to(eka, "Sosialisasi")
    assert [tuple(r) for r in db("select status, platform_message_id is not null from deliveries")] == [("sent", 1)] * 2
    progress = bot_api.message(rina.chat_id, int(db("select progress_message_id from campaigns")[0][0]))
    assert "Siaran #1: selesai" in progress.text and "▓▓▓▓▓▓▓▓▓▓ 100%" in progress.text
    assert "✅ Terkirim: 2" in progress.text and "⏳ Menunggu: 0" in progress.text
    final = rina.transcript[-1]
    assert "Siaran #1 selesai: 2 dari 2 pesan terkirim" in final.text

    await rina.tap("Laporan CSV", final)
    document = bot_api.calls_of("sendDocument")[-1].params["document"]
    assert document.filename == "siaran-1.csv" and document.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(document.content.decode("utf-8-sig")), delimiter=";"))  # Excel, id
    assert [(r["nama"], r["telepon"], r["status"], r["membalas"]) for r in rows] == [
        ("Budi", "0812-3456-7890", "terkirim", "tidak"),
        ("Ani", "0812-3456-7891", "terkirim", "tidak"),
    ]
    audit = db("select actor, actor_role, action, rows, detail from audit_events order by id")
    assert [(e["actor"], e["actor_role"], e["action"], e["rows"]) for e in audit] == [
        (f"telegram:{RINA_ID}", "officer", "broadcast", 2),
        (f"telegram:{RINA_ID}", "officer", "export", 2),
    ], "the broadcast and the report with names and phones are in the audit log"
    assert json.loads(audit[0]["detail"])["segment"] == {"occupation": "nelayan", "regions": ["Mukomuko"]}


async def test_a_tap_on_the_broadcasts_button_credits_the_lead_to_the_campaign(app, new_chat, broadcaster, db):
    [budi] = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"))
    campaign_id = await campaign_for(app, button="interest")
    await send_campaigns(broadcaster)

    [message] = broadcasts_to(budi, "Sosialisasi")
    summary = await budi.tap("Saya tertarik", message)
    await budi.tap("Benar, simpan")

    assert "Nama: Budi" in text_of(summary)
    assert db("select source_code from leads")[0][0] == f"cmp-{campaign_id}"


async def test_workers_and_forged_buttons_cannot_broadcast_and_officers_stay_in_their_regions(app, new_chat, db):
    worker = await welcomed(new_chat("Budi"))
    refused = await worker.command("siaran")
    forged = await worker.tap_data("0|bc_new")
    assert "hanya untuk petugas lapangan" in text_of(refused) and "hanya untuk petugas lapangan" in text_of(forged)

    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await rina.command("start")
    await rina.command("siaran")
    await rina.tap("Siaran baru")
    regions = await rina.tap("Wilayah")
    kaur = app.content.regions.index("Kaur")
    outside = await rina.tap_data(f"{rina.last_with_buttons().buttons[0][0][1].split('|')[0]}|bc_pick:{kaur}")

    assert [label for label in regions[-1].labels if label != "Semua"] == ["Mukomuko"]
    assert "tombol itu tidak saya kenali" in text_of(outside)
    assert db("select count(*) from campaigns")[0][0] == 0
    with pytest.raises(CampaignError, match="not one of the officer's regions"):
        limit_to_regions(Segment(regions=("Kaur",)), ["Mukomuko"])


async def test_stop_during_a_campaign_means_nothing_more_for_that_worker(app, new_chat, broadcaster, db):
    budi, ani, dedi = await workers(
        new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"), ("Dedi", "Mukomuko", "Boleh")
    )
    await campaign_for(app)
    broadcaster.batch = {"telegram": 1}  # one message a step, so the worker can answer in between

    await broadcaster.step()
    await broadcaster.drain()
    await dedi.say("STOP")  # stops at once
    await send_campaigns(broadcaster)

    assert len(broadcasts_to(budi, "Sosialisasi")) == 1 and len(broadcasts_to(ani, "Sosialisasi")) == 1
    assert not broadcasts_to(dedi, "Sosialisasi")
    statuses = {tuple(r) for r in db("select status, outcome from deliveries")}
    assert statuses == {("sent", None), ("skipped", "stopped")}


@pytest.mark.parametrize(
    ("segment", "before", "after"),
    [
        (Segment(), "baru", "tidak_tertarik"),
        (Segment(status="baru"), "baru", "tidak_tertarik"),
        (Segment(status="tidak_tertarik"), "tidak_tertarik", "terdaftar"),  # an earlier "no" reached on purpose
    ],
    ids=["any-lead", "new-leads-chosen", "not-interested-chosen"],
)
async def test_a_lead_that_ends_during_a_campaign_gets_no_more_of_it_unless_in_the_status_chosen(
    app, new_chat, broadcaster, db, segment, before, after
):
    budi, ani, dedi = await workers(
        new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"), ("Dedi", "Mukomuko", "Boleh")
    )
    db("update leads set status = ?", before)
    await campaign_for(app, segment=segment)
    broadcaster.batch = {"telegram": 1}  # one message a step, so an officer can call in between

    await broadcaster.step()
    await broadcaster.drain()
    db("update leads set status = ? where name = 'Dedi'", after)  # what Dedi told the officer on the phone
    await send_campaigns(broadcaster)

    assert len(broadcasts_to(budi, "Sosialisasi")) == 1 and len(broadcasts_to(ani, "Sosialisasi")) == 1
    assert not broadcasts_to(dedi, "Sosialisasi")
    outcomes = [tuple(r) for r in db("select status, outcome from deliveries order by id")]
    assert outcomes == [("sent", None), ("sent", None), ("skipped", "lead_ended")]


async def test_blocked_workers_become_unreachable_and_a_429_loses_nothing(
    app, clock, new_chat, broadcaster, bot_api, db
):
    budi, ani, dedi = await workers(
        new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"), ("Dedi", "Mukomuko", "Boleh")
    )
    bot_api.block(ani.chat_id)
    bot_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await campaign_for(app)

    await send_campaigns(broadcaster, steps=3)
    waiting = db("select status, outcome, attempts from deliveries where status = 'pending'")
    clock.advance(seconds=2)
    await send_campaigns(broadcaster)

    assert [tuple(r) for r in waiting] == [("pending", "rate_limited", 0)]
    assert len(broadcasts_to(budi, "Sosialisasi")) == 1 and len(broadcasts_to(dedi, "Sosialisasi")) == 1
    assert [tuple(r) for r in db("select status, outcome from deliveries order by id")] == [
        ("sent", None),
        ("failed", "blocked"),
        ("sent", None),
    ]
    assert db("select unreachable_at is not null from contacts where external_id = ?", str(ani.chat_id))[0][0] == 1
    assert db("select count(*) from followups where contact_id = 2 and status = 'pending'")[0][0] == 0
    assert db("select status from campaigns")[0][0] == "done"


async def test_a_worker_who_blocked_the_bot_and_writes_again_gets_the_next_broadcast(
    app, new_chat, broadcaster, bot_api, db
):
    budi, ani = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"))
    bot_api.block(ani.chat_id)
    await campaign_for(app, "Sosialisasi BPU Sabtu")
    await send_campaigns(broadcaster)
    assert not broadcasts_to(ani, "Sosialisasi BPU Sabtu")

    bot_api.unblock(ani.chat_id)  # weeks later she taps Restart and writes
    assert await ani.say("halo, masih bisa daftar?")
    await campaign_for(app, "Sosialisasi BPU Minggu")
    await send_campaigns(broadcaster)

    assert len(broadcasts_to(ani, "Sosialisasi BPU Minggu")) == 1, "she wrote: her chat is open again"
    assert db("select unreachable_at from contacts where external_id = ?", str(ani.chat_id)) == [(None,)]
    assert len(broadcasts_to(budi, "Sosialisasi BPU Minggu")) == 1


async def test_a_deadlock_while_recording_a_batch_is_tried_again_and_nothing_is_sent_twice(
    app, new_chat, broadcaster, db, monkeypatch, caplog
):
    budi, ani = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"))
    monkeypatch.setattr(bot.db, "RECORD_PAUSE_SECONDS", 0)
    monkeypatch.setattr(bot.workers.broadcaster, "record_outcomes", deadlocked_first(record_outcomes))
    await campaign_for(app)

    await send_campaigns(broadcaster)

    assert len(broadcasts_to(budi, "Sosialisasi")) == 1 and len(broadcasts_to(ani, "Sosialisasi")) == 1
    assert [tuple(r) for r in db("select status, outcome from deliveries order by id")] == [("sent", None)] * 2
    assert db("select status from campaigns")[0][0] == "done"
    assert "recording what was sent failed (DeadlockDetected): trying again" in caplog.text


async def test_a_batch_recorded_after_a_new_leader_marked_it_unknown_keeps_what_the_platform_said(
    app, new_chat, broadcaster, bot_api, db, monkeypatch
):
    budi, ani = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"))
    bot_api.block(ani.chat_id)

    async def taken_over_meanwhile(session, outcomes, now):
        # This engine's process lost the lead while sending; the new leader's recovery committed first.
        async with app.dispatcher.sessions.begin() as new_leader:
            assert await give_up_interrupted_deliveries(new_leader) == 2
        await record_outcomes(session, outcomes, now)

    monkeypatch.setattr(bot.workers.broadcaster, "record_outcomes", taken_over_meanwhile)
    await campaign_for(app)

    await send_campaigns(broadcaster)

    assert len(broadcasts_to(budi, "Sosialisasi")) == 1 and not broadcasts_to(ani, "Sosialisasi")
    assert [tuple(r) for r in db("select status, outcome from deliveries order by id")] == [
        ("sent", None),
        ("failed", "blocked"),
    ]
    assert db("select status from campaigns")[0][0] == "done"


async def test_pause_resume_and_cancel_take_effect_at_the_next_batch(app, new_chat, broadcaster, db):
    chats = await workers(new_chat, *[(n, "Mukomuko", "Boleh") for n in ("Budi", "Ani", "Dedi", "Eka")])
    campaign_id = await campaign_for(app)
    broadcaster.batch = {"telegram": 1}

    await broadcaster.step()
    await broadcaster.drain()
    await _change(app, campaign_id, pause_campaign)
    for _ in range(3):
        await broadcaster.step()
    paused_count = sum(len(broadcasts_to(c, "Sosialisasi")) for c in chats)
    await _change(app, campaign_id, resume_campaign)
    await broadcaster.step()
    await broadcaster.drain()
    async with app.dispatcher.sessions.begin() as session:
        from bot.services.campaigns import cancel_campaign, get_campaign

        await cancel_campaign(session, await get_campaign(session, campaign_id), app.dispatcher.clock())
    await send_campaigns(broadcaster)

    assert paused_count == 1
    assert sum(len(broadcasts_to(c, "Sosialisasi")) for c in chats) == 2
    assert [r[0] for r in db("select status from deliveries order by id")] == ["sent", "sent", "cancelled", "cancelled"]
    assert db("select status from campaigns")[0][0] == "cancelled"


async def _change(app: BotApp, campaign_id: int, change) -> None:
    async with app.dispatcher.sessions.begin() as session:
        from bot.services.campaigns import get_campaign

        await change(session, await get_campaign(session, campaign_id))


async def test_quiet_hours_hold_a_campaign_until_the_morning(app, clock, new_chat, broadcaster, db):
    [budi] = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"))
    clock.set_local(datetime(2026, 11, 23, 20, 30, tzinfo=WIB))
    await campaign_for(app)

    await send_campaigns(broadcaster, steps=3)
    at_night = broadcasts_to(budi, "Sosialisasi")
    clock.set_local(datetime(2026, 11, 24, 8, 0, tzinfo=WIB))
    await send_campaigns(broadcaster)

    assert at_night == []
    assert len(broadcasts_to(budi, "Sosialisasi")) == 1


async def test_a_crash_after_the_claim_leaves_unknown_rows_that_are_never_resent(app, new_chat, broadcaster, db):
    [budi] = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"))
    campaign_id = await campaign_for(app)
    await broadcaster.step()  # starts the campaign and sends
    await broadcaster.drain()
    ani = await saved_lead(new_chat("Ani"), name="Ani", phone=PHONES[1], region="Kaur")  # joins after the first
    second = await campaign_for(app, text="Pengingat kedua")
    async with app.dispatcher.sessions.begin() as session:
        from bot.services.campaigns import start_due_campaigns

        await start_due_campaigns(session, app.content.consent_versions, app.dispatcher.clock())
        await claim_deliveries(session, second, Segment(), app.content.consent_versions, app.dispatcher.clock(), 10)
    # ...the process dies here, after the claim was committed and before anything was recorded.
    async with app.dispatcher.sessions.begin() as session:
        interrupted = await give_up_interrupted_deliveries(session)
    await send_campaigns(broadcaster)

    assert interrupted == 2
    assert not broadcasts_to(budi, "Pengingat kedua") and not broadcasts_to(ani, "Pengingat kedua")
    assert [tuple(r) for r in db("select campaign_id, status from deliveries order by id")] == [
        (campaign_id, "sent"),
        (second, "unknown"),
        (second, "unknown"),
    ]


async def test_segments_count_people_once_and_only_those_who_agreed(app, new_chat, db):
    await workers(
        new_chat,
        ("Budi", "Mukomuko", "Boleh"),
        ("Ani", "Kaur", "Boleh"),
        ("Eka", "Kaur", "Tidak"),
    )
    # The same person on a second channel (same phone) is one recipient.
    db(
        "insert into contacts (channel, external_id, locale, state, state_data, state_serial, created_at,"
        " last_seen_at) select 'whatsapp', 'wa-1', locale, state, state_data, 0, created_at, last_seen_at"
        " from contacts where id = 1"
    )
    db(
        "insert into consents (contact_id, purpose, text_version, granted, decided_at) select"
        " (select id from contacts where external_id = 'wa-1'), purpose, text_version, granted, decided_at"
        " from consents where contact_id = 1"
    )
    db(
        "insert into leads (contact_id, name, phone, occupation, region, call_time, status, channel, locale,"
        " created_at, updated_at, last_contact_at) select (select id from contacts where external_id = 'wa-1'), name,"
        " phone, occupation, region, call_time, status, 'whatsapp', locale, created_at, updated_at, last_contact_at"
        " from leads where id = 1"
    )
    known = app.content.regions
    now = app.dispatcher.clock()
    versions = app.content.consent_versions

    async def count(text: str) -> int:
        async with app.dispatcher.sessions() as session:
            return (await count_audience(session, parse_segment(text, known), versions, now)).total

    assert await count("") == 2
    assert await count("region=kaur") == 1
    assert await count("region=Mukomuko,channel=whatsapp") == 1
    assert await count("status=baru,lang=id,occupation=nelayan") == 2
    assert await count("status=terdaftar") == 0
    assert await count("not_contacted_days=7") == 2
    for bad, said in [
        ("region=Jakarta", "region 'Jakarta' is not one of"),
        ("color=red", "unknown segment key 'color'"),
        ("occupation", "is not key=value"),
        ("not_contacted_days=0", "from 1 to 365"),
        ("lang=fr", "lang 'fr' is not one of"),
    ]:
        with pytest.raises(CampaignError, match=said):
            parse_segment(bad, known)


async def test_a_scheduled_campaign_waits_for_its_time(app, clock, new_chat, broadcaster, db):
    [budi] = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"))
    await campaign_for(app, starts_at=clock.now + timedelta(hours=2))

    await send_campaigns(broadcaster, steps=2)
    early = broadcasts_to(budi, "Sosialisasi")
    clock.advance(hours=2)
    await send_campaigns(broadcaster)

    assert early == [] and len(broadcasts_to(budi, "Sosialisasi")) == 1
    assert db("select status, recipients from campaigns")[0][:] == (CampaignStatus.DONE.value, 1)


class FlakyNetwork:
    """A sender whose connection is down for the first `failures` sends (nothing leaves the machine)."""

    channel = "telegram"

    def __init__(self, failures: int):
        self.failures = failures
        self.sent: list[str] = []

    async def send(self, external_id: str, reply) -> Sent:
        if self.failures:
            self.failures -= 1
            raise NetworkDown(60)
        self.sent.append(external_id)
        return Sent(str(len(self.sent)))

    async def edit(self, external_id: str, message_id: str, reply) -> None:
        raise AssertionError("nobody follows this campaign's progress")


async def test_a_network_error_is_retried_with_backoff_a_bounded_number_of_times(app, clock, new_chat, db):
    [budi] = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"))
    network = FlakyNetwork(failures=2)
    engine = Broadcaster(app.dispatcher, {"telegram": network}, {"telegram": Pacer(None)})
    await campaign_for(app)

    await send_campaigns(engine, steps=3)
    first = tuple(db("select status, outcome, attempts, not_before from deliveries")[0])
    clock.advance(seconds=5)
    await send_campaigns(engine, steps=3)
    second = tuple(db("select status, outcome, attempts from deliveries")[0])
    clock.advance(seconds=10)
    await send_campaigns(engine)

    assert first[:3] == ("pending", "network", 1)
    assert second == ("pending", "network", 2)
    assert network.sent == [str(budi.chat_id)]
    assert tuple(db("select status, attempts from deliveries")[0]) == ("sent", 3)

    never = FlakyNetwork(failures=100)
    engine = Broadcaster(app.dispatcher, {"telegram": never}, {"telegram": Pacer(None)})
    await campaign_for(app, text="Kedua")
    for _ in range(10):
        await send_campaigns(engine, steps=2)
        clock.advance(minutes=10)
    assert tuple(db("select status, outcome, attempts from deliveries where campaign_id = 2")[0]) == (
        "failed",
        "gave_up",
        MAX_ATTEMPTS,
    )


async def test_a_send_that_times_out_after_leaving_is_unknown_and_never_resent(app, new_chat, db):
    """Over real HTTP with the broadcast transport: the fake stores the message but answers too late."""
    server_api = FakeBotAPI()
    with FakeBotAPIServer(api=server_api, keep_alive=True) as server:
        server_api.open_chats([910001, 910002])
        ids = seed_workers(database.current(), 2, 910001)
        server_api.stall(910002, 1.0)
        bot = Bot(TEST_TOKEN, base_url=server.base_url, request=AiohttpRequest(4, read_timeout=0.2))
        async with bot:
            engine = Broadcaster(
                app.dispatcher, {"telegram": TelegramSender(bot, app.messages)}, {"telegram": Pacer(None)}
            )
            await campaign_for(app)
            await send_campaigns(engine)
            await send_campaigns(engine)

    assert server_api.sent_count_by_chat() == {ids[0]: 1, ids[1]: 1}, "the stalled message did arrive, once"
    statuses = db("select c.external_id, d.status, d.outcome from deliveries d join contacts c on c.id = d.contact_id")
    assert sorted(tuple(r) for r in statuses) == [("910001", "sent", None), ("910002", "unknown", "timeout")]


# ------------------------------------------------------------------------------------------ ended leads


async def test_people_whose_lead_ended_are_left_out_by_default_and_the_preview_counts_them_per_reason(
    app, new_chat, broadcaster, clock, db
):
    budi, ani, dedi, eka = await workers(
        new_chat,
        ("Budi", "Mukomuko", "Boleh"),
        ("Ani", "Mukomuko", "Boleh"),
        ("Dedi", "Mukomuko", "Boleh"),
        ("Eka", "Mukomuko", "Boleh"),
    )
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    clock.set_local(datetime(2026, 11, 24, 10, 0, tzinfo=WIB))
    listing = await rina.command("tugas")
    [budi_s_task] = [message for message in listing if "Telepon Budi" in message.text]
    noted = await rina.tap("Tidak tertarik", budi_s_task)
    await rina.tap("Lewati")
    assert "Tercatat: 🚫 Tidak tertarik" in text_of(noted)
    assert db("select status from leads where name = 'Budi'")[0]["status"] == "tidak_tertarik"
    db("update leads set status = 'terdaftar' where name = 'Ani'")
    db("update leads set status = 'tidak_bisa_dihubungi' where name = 'Dedi'")

    await dialog(rina).play("""
        > /siaran
        > [Siaran baru]
        < 👥 1 orang akan menerima siaran ini
        < 🚫 3 orang tidak dikirimi karena status prospeknya: 1 sudah terdaftar,
        < 1 tidak tertarik, 1 belum bisa dihubungi. Untuk menjangkau mereka, pilih Status itu.
        > [Lanjut]
        < Ketik pesannya
        > Sosialisasi BPU di balai desa, Sabtu pukul 09.00.
        > [Lewati]
        > [Tanpa tombol]
        > [Kirim sekarang]
        < sekarang ke 1 orang
        > [Ya, kirim]
        < Siaran #1 mulai dikirim
    """)
    await send_campaigns(broadcaster)

    assert broadcasts_to(eka, "Sosialisasi BPU") and not any(
        broadcasts_to(chat, "Sosialisasi BPU") for chat in (budi, ani, dedi)
    ), "Budi said no to Rina a moment ago: he is not bothered again"
    delivered = db("select leads.name from deliveries join leads using (contact_id) where deliveries.status = 'sent'")
    assert [row["name"] for row in delivered] == ["Eka"]


async def test_an_ended_status_chosen_on_purpose_reaches_those_people_and_leaves_nobody_out(
    app, new_chat, broadcaster, db
):
    budi, ani = await workers(new_chat, ("Budi", "Mukomuko", "Boleh"), ("Ani", "Mukomuko", "Boleh"))
    db("update leads set status = 'tidak_tertarik' where name = 'Budi'")
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)

    chosen = await dialog(rina).play("""
        > /siaran
        > [Siaran baru]
        < 👥 1 orang
        < 🚫 1 orang tidak dikirimi karena status prospeknya: 1 tidak tertarik.
        > [Status]
        > [tidak tertarik]
        < Status: tidak tertarik
        < 👥 1 orang akan menerima siaran ini
    """)
    assert "🚫" not in text_of(chosen), "nobody is left out of a status chosen on purpose"
    await dialog(rina).play("""
        > [Lanjut]
        > Ada kabar baru tentang BPU.
        > [Lewati]
        > [Tanpa tombol]
        > [Kirim sekarang]
        > [Ya, kirim]
        < Siaran #1 mulai dikirim
    """)
    await send_campaigns(broadcaster)

    assert broadcasts_to(budi, "Ada kabar baru") and not broadcasts_to(ani, "Ada kabar baru")
    delivered = db("select leads.name from deliveries join leads using (contact_id) where deliveries.status = 'sent'")
    assert [row["name"] for row in delivered] == ["Budi"]
