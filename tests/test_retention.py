"""Retention: what is past its period goes, through the path of HAPUS, leaving only counts; an officer hears
about a lead before it goes and keeps it by recording a call; the daily job runs once a day from its time and
carries on after a crash. Time is the app's clock, moved by the tests."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.app import BotApp
from bot.models import Base, Contact, Lead, utcnow
from bot.services.campaigns import campaign_progress
from bot.services.misses import record_miss
from bot.services.tasks import move_lead
from bot.workers.retention import purge, purge_if_due
from tests import database
from tests.conftest import WIB, campaign_for, command_line, saved_lead, send_campaigns, welcomed
from tests.database import SQLiteDatabase
from tests.process import bot_env, run_cli, start
from tests.test_officers import RINA_ID, make_officer

BUDI = ("Budi Santoso", "+6281234567890")  # never reached: an open lead
ANI = ("Ani Rahmawati", "+6281377778888")  # registered
SARI_CHAT = 810077  # only chatted


async def purge_now(app: BotApp) -> dict[str, int]:
    return await purge(app.dispatcher.sessions, app.settings.retention, app.dispatcher.clock())


def everything_stored(db) -> str:
    """Every row of every table, as one text: what a person reading the database would find."""
    return "\n".join(str(tuple(row)) for table in Base.metadata.tables for row in db(f"select * from {table}"))


def names(db) -> list[str]:
    return sorted(row[0] for row in db("select name from leads"))


async def test_each_kind_goes_after_its_own_period_and_only_counts_remain(app, new_chat, db, clock, broadcaster):
    budi = await saved_lead(new_chat("Budi"), name=BUDI[0], phone=BUDI[1])
    ani = await saved_lead(new_chat("Ani"), name=ANI[0], phone=ANI[1], region="Kaur")
    await welcomed(new_chat("Sari", user_id=SARI_CHAT))
    campaign = await campaign_for(app, "Sosialisasi BPU di pasar Selasa")
    await send_campaigns(broadcaster)
    async with app.dispatcher.sessions.begin() as session:  # then Ani registers
        lead = (await session.execute(Lead.__table__.select().where(Lead.name == ANI[0]))).one()
        await move_lead(session, await session.get_one(Lead, lead.id), "terdaftar", "worker", clock())
        await record_miss(session, lead.contact_id, "main", "gmn cara nya sy bingung", clock())
    async with app.dispatcher.sessions() as session:
        sent_before = (await campaign_progress(session, [campaign]))[campaign]
    assert sent_before.sent == 2  # Budi and Ani agreed to messages; Sari never did
    assert await purge_now(app) == dict.fromkeys(await purge_now(app), 0), "nothing is past its period yet"

    clock.advance(days=31)  # Sari's chat and the text not understood are past their 30 days
    removed = await purge_now(app)
    assert (removed["chat"], removed["not_understood"], removed["open_lead"], removed["ended_lead"]) == (1, 1, 0, 0)
    assert db("select count(*) from contacts where external_id = ?", str(SARI_CHAT))[0][0] == 0
    assert db("select count(*) from misses")[0][0] == 0

    clock.advance(days=60)  # 91 days: Ani registered 91 days ago; the campaign ended as long ago
    removed = await purge_now(app)
    assert (removed["ended_lead"], removed["delivery"], removed["open_lead"]) == (1, 1, 0)
    assert names(db) == [BUDI[0]]
    async with app.dispatcher.sessions() as session:
        assert (await campaign_progress(session, [campaign]))[campaign] == sent_before, "a campaign's figures stay"

    clock.advance(days=90)  # 181 days since Budi last wrote, and nobody reached him
    assert (await purge_now(app))["open_lead"] == 1
    assert names(db) == []

    stored = everything_stored(db)
    for name, phone in (BUDI, ANI):
        assert name not in stored and phone[3:] not in stored, "no trace in any table"
    for chat in (budi, ani):
        assert f"telegram:{chat.chat_id}" not in stored
    counts = {
        (row["reason"], row["outcome"], row["region"]): row["count"]
        for row in db("select reason, outcome, region, sum(count) as count from erased_counts group by 1, 2, 3")
    }
    assert counts == {
        ("retention", "no_lead", ""): 1,
        ("retention", "terdaftar", "Kaur"): 1,
        ("retention", "baru", "Mukomuko"): 1,
    }
    audit_and_rest = await purge_now(app)
    assert sum(audit_and_rest.values()) == 0, "a second run finds nothing: the purge is idempotent"


@pytest.mark.sqlite_only("reads the file's bytes, its write-ahead log included")
async def test_after_a_purge_no_byte_of_the_person_is_left_in_the_file_or_its_log(app, new_chat, clock, database_path):
    await saved_lead(new_chat("Sutarmi"), name="Sutarmi Nelayanwati", phone="+6281299990000")
    clock.advance(days=181)

    assert (await purge_now(app))["open_lead"] == 1

    # Read while the bot still runs (as after a kill -9): the write-ahead log holds nothing of her either.
    files = sorted(database_path.parent.glob(f"{database_path.name}*"))
    stored = b"".join(path.read_bytes() for path in files)
    assert b"Sutarmi Nelayanwati" not in stored and b"81299990000" not in stored, [path.name for path in files]


async def test_a_worker_who_writes_again_or_a_call_recorded_keeps_the_lead(app, new_chat, db, clock):
    budi = await saved_lead(new_chat("Budi"))
    await saved_lead(new_chat("Ani"), name=ANI[0], phone=ANI[1])

    clock.advance(days=100)
    await budi.say("berapa iurannya?")  # Budi writes again: his period starts again from today
    async with app.dispatcher.sessions.begin() as session:  # an officer reached Ani: so does hers
        [ani_id] = [row[0] for row in db("select id from leads where name = ?", ANI[0])]
        await move_lead(session, await session.get_one(Lead, ani_id), "dihubungi", "officer:1", clock())
    clock.advance(days=100)

    assert (await purge_now(app))["open_lead"] == 0
    assert names(db) == [ANI[0], BUDI[0]]


async def test_an_officer_is_told_a_week_ahead_and_a_lead_goes_only_a_week_after_she_was(
    app, new_chat, db, clock, ticker
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await saved_lead(new_chat("Budi"))  # Mukomuko: Rina's lead
    await saved_lead(new_chat("Ani"), name=ANI[0], phone=ANI[1])

    def digests() -> list[str]:
        return [m.text for m in rina.transcript if "Ringkasan hari ini" in m.text]

    # 180 days after they last wrote (23 Nov, 10:00) is 22 May 2027, 10:00: more than 7 days after the digest
    # of 15 May, within 7 days of the one of the 16th. Told then, they go a week later, on the 23rd.
    clock.set_local(datetime(2027, 5, 15, 7, 30, tzinfo=WIB))
    await ticker.tick()
    assert "Akan dihapus" not in digests()[-1]
    clock.set_local(datetime(2027, 5, 16, 7, 30, tzinfo=WIB))
    await ticker.tick()
    told = digests()[-1]
    assert "⏳ Akan dihapus karena lama tanpa kabar" in told
    assert "• Budi Santoso, Mukomuko — dihapus Minggu 23 Mei" in told
    assert "• Ani Rahmawati, Mukomuko — dihapus Minggu 23 Mei" in told
    assert "+62" not in told, "the digest names them; the numbers are on the cards"

    # Rina reaches Ani: her lead is kept and is no longer named.
    async with app.dispatcher.sessions.begin() as session:
        [ani_id] = [row[0] for row in db("select id from leads where name = ?", ANI[0])]
        await move_lead(session, await session.get_one(Lead, ani_id), "dihubungi", "officer:1", clock())

    # The 180 days are over on the 22nd, but Rina was told on the 16th at 07:30: not before the 23rd at 07:30.
    clock.set_local(datetime(2027, 5, 23, 7, 0, tzinfo=WIB))
    assert (await purge_now(app))["open_lead"] == 0
    clock.set_local(datetime(2027, 5, 23, 7, 31, tzinfo=WIB))
    assert (await purge_now(app))["open_lead"] == 1
    assert names(db) == [ANI[0]]


async def test_a_lead_found_late_gets_its_full_week_of_notice(app, new_chat, db, clock, ticker):
    """The bot was off (or the period shortened): a lead already past its period is named first, then waits."""
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await saved_lead(new_chat("Budi"))

    clock.set_local(datetime(2027, 7, 1, 7, 30, tzinfo=WIB))  # long past its 180 days, never told
    assert (await purge_now(app))["open_lead"] == 0
    await ticker.tick()
    assert "• Budi Santoso, Mukomuko — dihapus Kamis 8 Jul" in rina.transcript[-1].text
    clock.advance(days=7)
    assert (await purge_now(app))["open_lead"] == 1


async def test_the_daily_job_runs_once_a_local_day_from_its_time_and_again_when_it_did_not_finish(
    app, new_chat, db, clock, monkeypatch
):
    sessions, retention, tz = app.dispatcher.sessions, app.settings.retention, app.settings.tz
    await welcomed(new_chat("Sari", user_id=SARI_CHAT))
    clock.set_local(datetime(2027, 1, 10, 1, 59, tzinfo=WIB))
    assert await purge_if_due(sessions, retention, clock(), tz) is None, "before 02:00"

    # Killed in the middle (here: its batch fails), the day is not done: the next look runs it again.
    clock.set_local(datetime(2027, 1, 10, 2, 0, tzinfo=WIB))
    from bot.workers import retention as worker

    real = worker.erase_contacts

    async def dies(*args, **kwargs):
        raise ConnectionError("the process died")

    monkeypatch.setattr(worker, "erase_contacts", dies)
    with pytest.raises(ConnectionError):
        await purge_if_due(sessions, retention, clock(), tz)
    assert db("select count(*) from contacts")[0][0] == 1, "the batch rolled back whole"
    monkeypatch.setattr(worker, "erase_contacts", real)

    clock.advance(minutes=10)
    assert (await purge_if_due(sessions, retention, clock(), tz))["chat"] == 1
    clock.advance(hours=12)
    assert await purge_if_due(sessions, retention, clock(), tz) is None, "done for the day"
    clock.set_local(datetime(2027, 1, 11, 2, 5, tzinfo=WIB))
    assert await purge_if_due(sessions, retention, clock(), tz) == dict.fromkeys(worker.KINDS, 0)


async def test_a_purge_beside_a_conversation_and_a_broadcast_takes_only_what_is_past(
    app, new_chat, db, clock, broadcaster
):
    old = 400  # chats a month old: eight batches of the purge, between which the others take their turns
    async with app.dispatcher.sessions.begin() as session:
        await session.execute(
            insert(Contact),
            [
                {"channel": "telegram", "external_id": str(820000 + n), "locale": "id", "last_seen_at": clock()}
                for n in range(old)
            ],
        )
    clock.advance(days=31)
    budi = await saved_lead(new_chat("Budi"))
    campaign = await campaign_for(app, "Info BPU")

    async def converse() -> None:
        for question in ("berapa iurannya?", "manfaatnya apa", "cara daftar gimana"):
            await budi.say(question)

    removed, _, _ = await asyncio.gather(purge_now(app), converse(), send_campaigns(broadcaster))

    assert removed["chat"] == old
    assert names(db) == [BUDI[0]]
    assert db("select count(*) from contacts")[0][0] == 1
    async with app.dispatcher.sessions() as session:
        progress = (await campaign_progress(session, [campaign]))[campaign]
    assert progress.sent == 1, "Budi got the broadcast once; the expired were never sent to"
    assert [row[0] for row in db("select count(*) from deliveries")] == [1]


@pytest.fixture
def cli(settings, monkeypatch, capsys, tmp_path):
    return command_line({"DATABASE_URL": settings.database_url}, monkeypatch, capsys, tmp_path, "retention")


async def test_retention_show_and_purge_on_the_command_line_are_audited(app, new_chat, db, clock, cli):
    clock.now = utcnow() - timedelta(days=31)  # the command line runs at the real time: Sari wrote a month ago
    await welcomed(new_chat("Sari", user_id=SARI_CHAT))

    shown = await cli("show")
    assert shown.returncode == 0
    [chats] = [line for line in shown.stdout.splitlines() if line.startswith("chats that never left a contact")]
    assert "30 days after the last message" in chats and chats.split()[-1] == "1"
    assert "once a day from 02:00 (Asia/Jakarta)" in shown.stdout

    dry = await cli("purge", "--dry-run")
    assert "WOULD REMOVE" in dry.stdout and db("select count(*) from contacts")[0][0] == 1

    done = await cli("purge")
    assert done.returncode == 0 and "REMOVED" in done.stdout
    assert db("select count(*) from contacts")[0][0] == 0
    audit = [(row["action"], row["actor"], row["rows"]) for row in db("select * from audit_events order by id")]
    assert audit == [("retention", "cli:dewi", 1)] * 3


def kill_once_some_are_gone(env: dict[str, str], folder: Path, db, people: int) -> int:
    """`bpu-bot retention purge`, killed with SIGKILL as soon as its first batch is committed; how many are left."""
    with open(os.devnull, "rb") as nothing, (folder / "purge.log").open("ab") as log:  # a crash's traceback stays
        purging = start(["retention", "purge"], env, folder, nothing.fileno(), log.fileno(), log.fileno())
    while db("select count(*) from leads")[0][0] == people and purging.poll() is None:
        time.sleep(0.01)
    purging.send_signal(signal.SIGKILL)
    purging.wait()
    return db("select count(*) from leads")[0][0]


async def test_a_purge_killed_mid_way_keeps_what_it_did_and_the_next_run_finishes_it(app, tmp_path, db, clock):
    people = 600
    clock.now = utcnow() - timedelta(days=200)  # the command line runs at the real time
    async with app.dispatcher.sessions.begin() as session:
        await session.execute(
            insert(Contact),
            [
                {"channel": "telegram", "external_id": str(900000 + n), "locale": "id", "last_seen_at": clock()}
                for n in range(people)
            ],
        )
        ids = (await session.execute(select(Contact.id).order_by(Contact.id))).scalars().all()
        await session.execute(
            insert(Lead),
            [
                {
                    "contact_id": contact_id, "name": f"Pekerja Nomor {n:05}", "phone": f"+62812{n:08}",
                    "occupation": "petani", "region": "Kaur", "call_time": "pagi", "channel": "telegram",
                    "locale": "id", "created_at": clock(), "last_contact_at": clock(),
                }
                for n, contact_id in enumerate(ids)
            ],
        )  # fmt: skip
    env = bot_env(tmp_path)

    left = await asyncio.to_thread(kill_once_some_are_gone, env, tmp_path, db, people)
    assert 0 < left < people, "killed in the middle"
    assert db("select sum(count) from erased_counts")[0][0] == people - left, "counted exactly what went"

    again = run_cli(["retention", "purge"], env, tmp_path, timeout=120)  # paced: about 100 people a second
    assert again.returncode == 0, again.stderr
    assert db("select count(*) from leads")[0][0] == db("select count(*) from contacts")[0][0] == 0
    assert db("select sum(count) from erased_counts")[0][0] == people, "nobody counted twice"
    if isinstance(current := database.current(), SQLiteDatabase):
        path = current.path
        stored = b"".join(file.read_bytes() for file in path.parent.glob(f"{path.name}*"))
        assert b"Pekerja Nomor" not in stored and b"+62812" not in stored
