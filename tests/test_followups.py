"""Reminders and call tasks: scheduled as rows, sent once by the ticker, across restarts. Time is injected."""

import asyncio
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot

import bot.db
import bot.workers.ticker
from bot.app import create_app
from bot.channels.telegram.sending import TelegramSender
from bot.channels.terminal import CHANNEL as TERMINAL
from bot.cli.run import Runtime
from bot.conversation.events import Inbound, Kind
from bot.models import FollowUpKind
from bot.services.followups import Cadence, claim_due_messages, give_up_interrupted_sends, settle_followup
from bot.services.tasks import queue_message
from bot.workers.ticker import FollowUpTicker
from tests.conftest import WIB, deadlocked_first, saved_lead, welcomed
from tests.fakes.telegram import TEST_TOKEN, FakeRequest


def followups(db):
    rows = db("select kind, status, due_at, outcome, attempts from followups order by due_at")
    return [
        (r["kind"], r["status"], datetime.fromisoformat(r["due_at"]).replace(tzinfo=UTC).astimezone(WIB), r["outcome"])
        for r in rows
    ]


def reminders_received(chat):
    return [m for m in chat.transcript if "Sudah daftar?" in m.text]


async def test_leaving_a_contact_schedules_a_call_now_and_reminders_after_3_and_14_days(chat, db):
    await saved_lead(chat)

    assert followups(db) == [
        ("call", "pending", datetime(2026, 11, 23, 10, 0, tzinfo=WIB), None),
        ("reminder", "pending", datetime(2026, 11, 26, 10, 0, tzinfo=WIB), None),
        ("reminder", "pending", datetime(2026, 12, 7, 10, 0, tzinfo=WIB), None),
    ]


async def test_a_friday_evening_lead_gets_its_call_the_next_morning_and_nothing_at_night(chat, db, clock):
    clock.set_local(datetime(2026, 11, 27, 21, 30, tzinfo=WIB))  # Friday, after the window

    await saved_lead(chat)

    [call, first, second] = followups(db)
    assert call[2] == datetime(2026, 11, 28, 8, 0, tzinfo=WIB)  # Fri 21:30 is quiet -> Saturday 08:00
    assert first[2] == datetime(2026, 12, 1, 8, 0, tzinfo=WIB)  # Mon 30 Nov 21:30 -> Tuesday 08:00
    assert second[2] == datetime(2026, 12, 12, 8, 0, tzinfo=WIB)


def test_a_call_delay_in_working_days_skips_the_weekend_and_the_night():
    # FOLLOWUP_CALL_WORKING_DAYS=1, as a branch that calls the next working day sets it.
    cadence = Cadence((3, 14), 1, (time(8, 0), time(20, 0)), WIB)
    friday_evening = datetime(2026, 11, 27, 21, 30, tzinfo=WIB)

    due = cadence.next_allowed(cadence.after_working_days(friday_evening, cadence.call_after_working_days))

    assert due == datetime(2026, 12, 1, 8, 0, tzinfo=WIB)  # Mon 21:30 is quiet -> Tuesday 08:00


async def test_without_consent_to_reminders_only_the_call_is_scheduled(chat, db):
    await saved_lead(chat, reminders="Tidak usah")

    assert [row[0] for row in followups(db)] == ["call"]


async def test_a_due_reminder_is_sent_once_however_many_ticks_run(chat, db, clock, ticker):
    await saved_lead(chat)
    assert (await ticker.tick()).sent == 0, "not due yet"

    clock.advance(days=3)
    reports = [await ticker.tick() for _ in range(10)]

    assert [r.sent for r in reports] == [1] + [0] * 9
    [reminder] = reminders_received(chat)
    assert "Budi Santoso" in reminder.text
    assert reminder.labels == ["✅ Sudah", "🙋 Belum, bantu saya", "🔕 Jangan ingatkan lagi"]
    sent = db("select status, platform_message_id from followups where kind = 'reminder' order by due_at")[0]
    assert sent["status"] == "sent" and sent["platform_message_id"] == str(reminder.message_id)


async def test_after_a_restart_what_fell_due_while_down_is_sent_once(chat, db, clock, settings, bot_api):
    await saved_lead(chat)
    clock.advance(days=20)  # the bot was down past both reminders

    restarted = create_app(settings, clock)
    bot = Bot(TEST_TOKEN, request=FakeRequest(bot_api))
    try:
        async with bot:
            ticker = FollowUpTicker(restarted.dispatcher, {"telegram": TelegramSender(bot, restarted.messages)})
            reports = [await ticker.tick() for _ in range(3)]
    finally:
        await restarted.close()

    assert len(reminders_received(chat)) == 1, "one 'Sudah daftar?', not one per missed reminder"
    assert sum(r.sent for r in reports) == 1
    assert [(r[0], r[1], r[3]) for r in followups(db)][1:] == [
        ("reminder", "cancelled", "superseded"),
        ("reminder", "sent", None),
    ]


async def test_nothing_is_sent_in_quiet_hours_and_the_reminder_waits_for_the_morning(chat, db, clock, ticker):
    await saved_lead(chat)
    clock.set_local(datetime(2026, 11, 26, 20, 0, tzinfo=WIB))  # due at 10:00, the tick runs at 20:00

    at_night = await ticker.tick()
    clock.set_local(datetime(2026, 11, 27, 7, 59, tzinfo=WIB))
    before_eight = await ticker.tick()
    clock.set_local(datetime(2026, 11, 27, 8, 0, tzinfo=WIB))
    morning = await ticker.tick()

    assert (at_night.sent, before_eight.sent, morning.sent) == (0, 0, 1)


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"])
@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        (datetime(2026, 11, 23, 7, 59, 59), datetime(2026, 11, 23, 8, 0)),
        (datetime(2026, 11, 23, 8, 0), datetime(2026, 11, 23, 8, 0)),
        (datetime(2026, 11, 23, 19, 59, 59), datetime(2026, 11, 23, 19, 59, 59)),
        (datetime(2026, 11, 23, 20, 0), datetime(2026, 11, 24, 8, 0)),
        (datetime(2026, 11, 23, 23, 59), datetime(2026, 11, 24, 8, 0)),
        (datetime(2026, 11, 24, 0, 0), datetime(2026, 11, 24, 8, 0)),
    ],
)
def test_quiet_hours_edges_in_each_indonesian_time_zone(zone, local, allowed):
    tz = ZoneInfo(zone)
    cadence = Cadence((3, 14), 1, (time(8, 0), time(20, 0)), tz)

    moved = cadence.next_allowed(local.replace(tzinfo=tz).astimezone(UTC))

    assert moved.astimezone(tz) == allowed.replace(tzinfo=tz)


async def test_stop_between_scheduling_and_sending_sends_nothing(chat, db, clock, ticker):
    await saved_lead(chat)
    await chat.say("BERHENTI")  # stops at once

    clock.advance(days=15)
    report = await ticker.tick()

    assert report.sent == 0 and reminders_received(chat) == []
    assert {row[1] for row in followups(db)} == {"cancelled"}


async def test_an_erasure_between_the_claim_and_the_send_sends_nothing_and_the_tick_goes_on(
    chat, db, clock, ticker, monkeypatch
):
    await saved_lead(chat)
    deliver = ticker._deliver

    async def erased_first(followup_id, now, report):
        if db("select count(*) from contacts")[0][0]:
            await chat.say("HAPUS")
            await chat.tap("Ya, hapus")
        await deliver(followup_id, now, report)

    monkeypatch.setattr(ticker, "_deliver", erased_first)
    clock.advance(days=15)
    report = await ticker.tick()

    assert report.sent == 0 and reminders_received(chat) == []
    assert followups(db) == []


async def test_a_worker_who_blocked_the_bot_is_unreachable_and_nothing_retries(chat, db, clock, ticker, bot_api):
    await saved_lead(chat)
    bot_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")

    clock.advance(days=3)
    first = await ticker.tick()
    clock.advance(days=12)
    later = await ticker.tick()

    assert (first.failed, later.sent) == (1, 0)
    assert db("select unreachable_at from contacts")[0][0] is not None
    assert [(r[0], r[1], r[3]) for r in followups(db)] == [
        ("call", "cancelled", "unreachable"),
        ("reminder", "failed", "unreachable"),
        ("reminder", "cancelled", "unreachable"),
    ]


async def test_a_worker_who_was_unreachable_and_writes_again_gets_the_officers_answer(
    chat, db, clock, ticker, bot_api, app
):
    await saved_lead(chat)
    bot_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    clock.advance(days=3)
    await ticker.tick()
    assert db("select unreachable_at from contacts")[0][0] is not None

    await chat.say("maaf kmrn keblokir, sy mau tanya soal iuran")  # she unblocked the bot and asks
    async with app.dispatcher.sessions.begin() as session:
        await queue_message(session, 1, FollowUpKind.ANSWER, "Jawaban petugas: iurannya Rp16.800 sebulan.", clock())
    report = await ticker.tick()

    assert report.sent == 1
    assert chat.transcript[-1].text.startswith("Jawaban petugas: iurannya Rp16.800 sebulan.")


async def test_a_database_error_after_the_send_is_tried_again_and_the_reminder_is_not_resent(
    chat, db, clock, ticker, monkeypatch
):
    await saved_lead(chat)
    monkeypatch.setattr(bot.db, "RECORD_PAUSE_SECONDS", 0)
    monkeypatch.setattr(bot.workers.ticker, "settle_followup", deadlocked_first(settle_followup, times=2))

    clock.advance(days=3)
    reports = [await ticker.tick() for _ in range(3)]

    assert [r.sent for r in reports] == [1, 0, 0]
    assert len(reminders_received(chat)) == 1
    assert [(r[0], r[1]) for r in followups(db)][1] == ("reminder", "sent")


async def test_a_reminder_settled_after_a_new_leader_marked_it_unknown_is_recorded_as_sent(
    chat, db, clock, ticker, monkeypatch, app
):
    await saved_lead(chat)

    async def taken_over_meanwhile(session, *args, **kwargs):
        # The ticker's process lost the lead while sending; the new leader's recovery committed first.
        async with app.dispatcher.sessions.begin() as new_leader:
            await give_up_interrupted_sends(new_leader)
        await settle_followup(session, *args, **kwargs)

    monkeypatch.setattr(bot.workers.ticker, "settle_followup", taken_over_meanwhile)
    clock.advance(days=3)
    first = await ticker.tick()
    later = [await ticker.tick() for _ in range(3)]

    assert (first.sent, [r.sent for r in later]) == (1, [0, 0, 0])
    [reminder] = reminders_received(chat)
    sent = db("select status, outcome, platform_message_id from followups where kind = 'reminder' order by due_at")[0]
    assert (sent["status"], sent["outcome"], sent["platform_message_id"]) == ("sent", None, str(reminder.message_id))


async def test_a_429_is_honoured_and_the_reminder_goes_out_once_after_retry_after(chat, db, clock, ticker, bot_api):
    await saved_lead(chat)
    bot_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 30", retry_after=30)
    clock.advance(days=3)

    limited = await ticker.tick()
    too_soon = await ticker.tick()
    clock.advance(seconds=31)
    after = await ticker.tick()

    assert (limited.retried, too_soon.sent, after.sent) == (1, 0, 1)
    assert len(reminders_received(chat)) == 1
    assert db("select attempts from followups where status = 'sent'")[0][0] == 2


async def test_a_send_interrupted_by_a_crash_is_marked_unknown_and_never_resent(chat, db, clock, app, ticker, bot_api):
    await saved_lead(chat)
    clock.advance(days=3)
    async with app.dispatcher.sessions.begin() as session:
        assert len(await claim_due_messages(session, clock(), 10)) == 1  # claimed, then the process died

    await Runtime(app, telegram_request=FakeRequest(bot_api)).recover()  # the next start-up
    report = await ticker.tick()

    assert report.sent == 0 and reminders_received(chat) == []
    assert ("reminder", "unknown", "interrupted") in [(r[0], r[1], r[3]) for r in followups(db)]


async def test_sudah_marks_the_lead_registered_keeps_the_history_and_ends_follow_ups(chat, db, clock, ticker):
    await saved_lead(chat)
    clock.advance(days=3)
    await ticker.tick()

    replies = await chat.tap("Sudah", reminders_received(chat)[0])

    assert "Selamat, Budi Santoso" in replies[0].text
    assert db("select status from leads")[0][0] == "terdaftar"
    event = db("select from_status, to_status, actor from lead_events")[0]
    assert tuple(event) == ("baru", "terdaftar", "worker")
    assert [(r[1], r[3]) for r in followups(db)] == [
        ("cancelled", "registered"),
        ("sent", "sudah"),
        ("cancelled", "registered"),
    ]


async def test_belum_bantu_saya_makes_the_call_task_due_now(chat, db, clock, ticker):
    await saved_lead(chat)
    clock.advance(days=3)
    await ticker.tick()

    replies = await chat.tap("Belum, bantu saya", reminders_received(chat)[0])

    assert "petugas lapangan akan menghubungi" in replies[0].text
    calls = db("select status, due_at from followups where kind = 'call'")
    assert len(calls) == 1 and calls[0]["status"] == "pending"
    assert datetime.fromisoformat(calls[0]["due_at"]).replace(tzinfo=UTC) <= clock(), "due now (or already overdue)"


async def test_jangan_ingatkan_lagi_ends_the_reminders_but_not_the_call(chat, db, clock, ticker):
    await saved_lead(chat)
    clock.advance(days=3)
    await ticker.tick()

    await chat.tap("Jangan ingatkan lagi", reminders_received(chat)[0])
    clock.advance(days=12)
    await ticker.tick()

    assert len(reminders_received(chat)) == 1
    assert [(r[0], r[1]) for r in followups(db)] == [
        ("call", "pending"),
        ("reminder", "sent"),
        ("reminder", "cancelled"),
    ]


async def test_a_reminder_button_of_someone_else_is_refused(chat, new_chat, db, clock, ticker):
    await saved_lead(chat)
    clock.advance(days=3)
    await ticker.tick()
    reminder_id = db("select id from followups where status = 'sent'")[0][0]
    intruder = new_chat("Joko")
    await welcomed(intruder)

    replies = await intruder.tap_data(f"1|fu_done:{reminder_id}")

    assert "tidak saya kenali" in replies[0].text
    assert db("select status from leads")[0][0] == "baru"


async def test_erasure_removes_the_follow_ups_too(chat, db):
    await saved_lead(chat)

    await chat.say("HAPUS")
    await chat.tap("Ya, hapus semua")

    assert db("select count(*) from followups")[0][0] == 0


async def test_reminders_of_the_terminal_are_cancelled_not_attempted(app, clock, ticker, db):
    """The terminal cannot receive a message while nobody is typing: its reminders end, nothing is tried."""

    async def say(line: str) -> None:
        await app.dispatcher.handle(Inbound(channel=TERMINAL, external_id="pasar", kind=Kind.TEXT, text=line))

    await app.dispatcher.handle(Inbound(channel=TERMINAL, external_id="pasar", kind=Kind.COMMAND, command="start"))
    for line in (
        "Pedagang",
        "Saya tertarik",
        "Setuju",
        "Boleh",
        "Sari",
        "081234567890",
        "Seluma",
        "🕐 Kapan saja",
        "✅ Benar, simpan",
    ):
        await say(line)
    assert db("select count(*) from leads")[0][0] == 1

    clock.advance(days=3)
    report = await ticker.tick()

    assert (report.sent, report.cancelled) == (0, 1)
    assert ("reminder", "cancelled", "no_channel") in [(r[0], r[1], r[3]) for r in followups(db)]


async def test_followups_list_prints_a_table_filtered_by_due_time_and_status(
    chat, db, database, tmp_path, monkeypatch, capsys
):
    from bot.cli.main import main

    await saved_lead(chat)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database.url)

    everything = await asyncio.to_thread(main, ["followups", "list"])
    table = capsys.readouterr().out.splitlines()
    soon = await asyncio.to_thread(main, ["followups", "list", "--due-before", "2026-11-27", "--status", "pending"])
    filtered = capsys.readouterr().out.splitlines()

    assert (everything, soon) == (0, 0)
    assert table[0].split() == [
        "ID", "KIND", "STATUS", "DUE", "TRIES", "OUTCOME", "OFFICER", "NAME", "PHONE", "REGION", "CHANNEL"
    ]  # fmt: skip
    assert len(table) == 4 and "2026-11-23 10:00" in table[1] and "Budi Santoso" in table[1]
    assert "+628*******890" in table[1] and "+6281234567890" not in "\n".join(table), "phones masked"
    assert [line.split()[1] for line in filtered[1:]] == ["call", "reminder"]
