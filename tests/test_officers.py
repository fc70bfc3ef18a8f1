"""Officers: invited by an admin, given leads of their region in turn, working their tasks with buttons,
answering workers' questions through the bot, and a digest each morning. Time is injected."""

from __future__ import annotations

import dataclasses
import re
import struct
from datetime import datetime

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.services.officers import add_officer, ensure_contact
from tests.conftest import WIB, Chat, saved_lead, text_of, welcomed
from tests.fakes.telegram import UploadedFile

ADMIN_ID = 900001
RINA_ID, SARI_ID, JOKO_ID = 700001, 700002, 700003


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_telegram_ids=frozenset({str(ADMIN_ID)}))


async def make_officer(app: BotApp, user_id: int, name: str, *regions: str) -> tuple[int, str]:
    """An officer added the way `bpu-bot officers add` does; returns (id, personal code)."""
    async with app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "telegram", str(user_id), "id")
        officer, _ = await add_officer(session, contact, name, list(regions), app.dispatcher.clock())
        return officer.id, officer.code


def leads_by_name(db) -> dict[str, int | None]:
    return {row["name"]: row["officer_id"] for row in db("select name, officer_id from leads")}


def tasks(db) -> list[tuple]:
    rows = db("select kind, status, officer_id, region, outcome from followups where kind in ('call', 'question')")
    return [tuple(row) for row in rows]


async def test_an_admin_invites_an_officer_who_joins_once_with_the_link(new_chat, db):
    admin = new_chat("Admin", user_id=ADMIN_ID)

    asked = await admin.command("undang")
    await admin.say("Rina Marlina")
    await admin.tap("Mukomuko")
    await admin.tap("Seluma")
    toggled = await admin.tap("✓ Seluma")  # a second tap takes a region off again
    invited = await admin.tap("Selesai")

    assert "Ketik nama petugas" in text_of(asked)
    assert "✓ Mukomuko" in toggled[-1].labels and "Seluma" in toggled[-1].labels
    link = re.search(r"https://t\.me/bpu_test_bot\?start=(inv-[\w-]+)", invited[-1].text)
    assert link, invited[-1].text
    assert "Rina Marlina (Mukomuko)" in invited[-1].text and "7 hari" in invited[-1].text

    rina = new_chat("Rina", user_id=RINA_ID)
    joined = await rina.command("start", link.group(1))
    stranger = new_chat("Orang lain")
    refused = await stranger.command("start", link.group(1))

    assert "Selamat bergabung, Rina Marlina! Anda sekarang petugas untuk Mukomuko." in joined[-1].text
    assert "📋 Tugas saya" in joined[-1].labels
    assert "sudah dipakai atau sudah kedaluwarsa" in refused[-1].text
    assert "📋 Tugas saya" not in refused[-1].labels
    [officer] = db("select o.name, c.external_id, c.role from officers o join contacts c on c.id = o.contact_id")
    assert tuple(officer) == ("Rina Marlina", str(RINA_ID), "officer")
    assert [r["region"] for r in db("select region from officer_regions")] == ["Mukomuko"]
    [invite] = db("select token_hash, used_at from invites")
    assert invite["used_at"] is not None and link.group(1) not in invite["token_hash"], "only a hash is kept"
    assert db("select role from contacts where external_id = ?", str(stranger.user.user_id))[0]["role"] is None


async def test_an_invite_link_expires_after_seven_days(new_chat, clock, db):
    admin = new_chat("Admin", user_id=ADMIN_ID)
    await admin.command("undang")
    await admin.say("Rina Marlina")
    await admin.tap("Mukomuko")
    invited = await admin.tap("Selesai")
    payload = re.search(r"start=(inv-[\w-]+)", invited[-1].text).group(1)

    clock.advance(days=7, seconds=1)
    late = await new_chat("Rina", user_id=RINA_ID).command("start", payload)

    assert "sudah kedaluwarsa" in late[-1].text
    assert db("select count(*) from officers")[0][0] == 0


async def test_a_worker_never_reaches_officer_or_admin_steps(app, chat, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    await welcomed(chat)
    [call_id] = [row["id"] for row in db("select id from followups where kind = 'call'")]

    tugas = await chat.command("tugas")
    undang = await chat.command("undang")
    forged = await chat.tap_data(f"{0}|task_out:{call_id}:terdaftar")
    rina = new_chat("Rina", user_id=RINA_ID)
    officer_invites = await rina.command("undang")

    assert "hanya untuk petugas lapangan" in tugas[0].text
    assert "hanya untuk staf kantor cabang" in undang[0].text
    assert "hanya untuk petugas lapangan" in forged[0].text
    assert "hanya untuk staf kantor cabang" in officer_invites[0].text
    assert "📋 Tugas saya" not in tugas[-1].labels
    assert tasks(db) == [("call", "pending", 1, "Mukomuko", None)], "nothing changed"
    refused = db("select actor, actor_role, action, allowed, detail from audit_events order by id")
    assert [(r["actor"], r["actor_role"], r["action"], r["allowed"]) for r in refused] == [
        (f"telegram:{chat.chat_id}", "worker", "officer", 0),
        (f"telegram:{chat.chat_id}", "worker", "invite", 0),
        (f"telegram:{chat.chat_id}", "worker", "officer", 0),
        (f"telegram:{RINA_ID}", "officer", "invite", 0),
    ], "every refused attempt is in the audit log"
    assert db("select status from leads")[0]["status"] == "baru"


async def test_leads_go_in_turn_to_the_officers_of_their_region_and_the_rest_wait_in_the_pool(app, new_chat, db):
    rina, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    sari, _ = await make_officer(app, SARI_ID, "Sari Dewi", "Mukomuko", "Seluma")

    for name in ("Budi", "Agus", "Wati"):
        await saved_lead(new_chat(name), name=f"{name} Nelayan", phone=f"+62812000{len(name)}{ord(name[0])}")
    await saved_lead(new_chat("Tono"), name="Tono Petani", phone="+6281300000001", region="Kaur")

    assert leads_by_name(db) == {"Budi Nelayan": rina, "Agus Nelayan": sari, "Wati Nelayan": rina, "Tono Petani": None}
    calls = db(
        "select l.name, f.officer_id, f.region from followups f join leads l on l.id = f.lead_id where kind='call'"
    )
    assert {(r["name"], r["officer_id"], r["region"]) for r in calls} == {
        ("Budi Nelayan", rina, "Mukomuko"),
        ("Agus Nelayan", sari, "Mukomuko"),
        ("Wati Nelayan", rina, "Mukomuko"),
        ("Tono Petani", None, "Kaur"),
    }

    joko, _ = await make_officer(app, JOKO_ID, "Joko", "Kaur")
    assert leads_by_name(db)["Tono Petani"] == joko, "the first officer of a region takes its pool"
    assert ("call", "pending", joko, "Kaur", None) in tasks(db)


async def test_a_worker_who_came_through_an_officers_link_goes_to_that_officer(app, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    sari, code = await make_officer(app, SARI_ID, "Sari Dewi", "Mukomuko")
    budi = new_chat("Budi")

    await budi.command("start", code)
    await saved_lead(budi)

    [lead] = db("select officer_id, source_code from leads")
    assert (lead["officer_id"], lead["source_code"]) == (sari, code)


async def test_an_officer_records_a_call_with_the_buttons_and_a_note(app, new_chat, db, clock):
    rina_id, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    rina = new_chat("Rina", user_id=RINA_ID)

    too_early = await rina.command("tugas")
    clock.set_local(datetime(2026, 11, 24, 9, 0, tzinfo=WIB))  # Tuesday: the call is due at 10:00 today
    listing = await rina.command("tugas")
    recorded = await rina.tap("Terdaftar")
    noted = await rina.say("Sudah daftar lewat JMO, kartu sudah jadi")
    again = await rina.tap("Terdaftar", listing[-1])

    assert "Tidak ada tugas untuk hari ini" in too_early[-1].text
    assert "Tugas hari ini dan yang terlambat: 1–1 dari 1" in listing[0].text
    task = listing[-1].text
    assert "📞 Telepon Budi Santoso · 🎣 Nelayan · Mukomuko" in task
    assert "HP: +6281234567890 (0812-3456-7890)" in task and "Waktu telepon: 🌅 Pagi" in task
    assert "Jatuh tempo: 24 Nov 2026 10:00" in task
    assert listing[-1].labels == ["✅ Dihubungi", "📝 Terdaftar", "🚫 Tidak tertarik", "📵 Tidak bisa dihubungi"]
    assert "Tercatat: 📝 Terdaftar." in recorded[-1].text and "Ada catatan" in recorded[-1].text
    assert "Catatan disimpan" in noted[0].text and "Tidak ada tugas untuk hari ini" in text_of(noted)
    assert "sudah selesai dicatat" in again[-1].text

    [event] = db("select from_status, to_status, actor, note from lead_events")
    assert tuple(event) == ("baru", "terdaftar", f"officer:{rina_id}", "Sudah daftar lewat JMO, kartu sudah jadi")
    assert db("select status from leads")[0]["status"] == "terdaftar"
    rows = db("select kind, status, outcome from followups order by id")
    assert [tuple(r) for r in rows] == [
        ("call", "done", "terdaftar"),
        ("reminder", "cancelled", "terdaftar"),
        ("reminder", "cancelled", "terdaftar"),
    ]


async def test_an_overdue_call_is_marked_and_could_not_reach_keeps_the_reminders(app, new_chat, db, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    rina = new_chat("Rina", user_id=RINA_ID)

    clock.set_local(datetime(2026, 11, 25, 9, 0, tzinfo=WIB))  # Wednesday: the call was due yesterday
    listing = await rina.command("tugas")
    await rina.tap("Tidak bisa dihubungi")
    skipped = await rina.tap("Lewati")

    assert "⚠️ Terlambat, jatuh tempo 24 Nov 2026 10:00" in listing[-1].text
    assert "Tidak ada tugas" in text_of(skipped)
    assert db("select status from leads")[0]["status"] == "tidak_bisa_dihubungi"
    assert db("select note from lead_events")[0]["note"] is None
    assert [r["status"] for r in db("select status from followups where kind = 'reminder'")] == ["pending", "pending"]


async def test_an_officer_of_another_region_is_refused(app, new_chat, db, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, JOKO_ID, "Joko", "Kaur")
    await saved_lead(new_chat("Budi"))
    [call_id] = [row["id"] for row in db("select id from followups where kind = 'call'")]
    joko = new_chat("Joko", user_id=JOKO_ID)
    clock.advance(days=1)

    own = await joko.command("tugas")
    refused = await joko.tap_data(f"0|task_out:{call_id}:tidak_tertarik", own[-1])

    assert "Tidak ada tugas" in own[-1].text, "Budi's call is not on Joko's list"
    assert "di luar wilayah Anda" in refused[0].text
    assert db("select status from leads")[0]["status"] == "baru"
    assert tasks(db)[0][1] == "pending" and db("select count(*) from lead_events")[0][0] == 0


async def test_a_worker_asks_a_person_and_the_officers_answer_reaches_them(app, new_chat, db, ticker):
    rina_id, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await rina.command("menu")
    worker = await welcomed(new_chat("Wati"), "Pedagang")

    region = await worker.tap("Tanya petugas")
    await worker.tap("Mukomuko")
    sent = await worker.say("Apakah ibu rumah tangga yang berjualan kue bisa ikut BPU?")
    await ticker.tick()

    assert "kabupaten/kota mana" in region[-1].text
    assert "sudah diteruskan ke petugas wilayah Mukomuko" in sent[0].text
    assert "paling lambat Selasa 24 November, 10.00" in sent[0].text
    assert "bot tidak menjawab atas nama petugas" in sent[0].text
    [notice] = [m for m in rina.transcript if "pertanyaan baru" in m.text]
    assert "Ada pertanyaan baru dari pekerja di Mukomuko" in notice.text
    assert "ibu rumah tangga" not in notice.text, "the notice carries no personal words"
    assert notice.labels == ["📋 Lihat tugas"]

    listing = await rina.tap("Lihat tugas", notice)
    assert "🙋 Pertanyaan dari pekerja (tanpa nama) · 🛒 Pedagang · Mukomuko" in listing[-1].text
    assert "Bertanya: “Apakah ibu rumah tangga yang berjualan kue bisa ikut BPU?”" in listing[-1].text
    prompt = await rina.tap("Balas")
    assert "Ketik jawaban" in prompt[-1].text and "ibu rumah tangga" in prompt[-1].text
    confirmed = await rina.say("Bisa, Bu. Semua pekerja mandiri bisa ikut BPU. Saya telepon besok.")
    before = len(worker.transcript)
    await ticker.tick()

    assert "sedang dikirim" in confirmed[0].text
    [answer] = worker.transcript[before:]
    assert (
        answer.text
        == "💬 Jawaban dari petugas Rina Marlina:\n\nBisa, Bu. Semua pekerja mandiri bisa ikut BPU. Saya telepon besok."
    )
    assert answer.labels == ["🙋 Tanya lagi", "🏠 Menu"]
    assert tasks(db) == [("question", "done", rina_id, "Mukomuko", "answered")]
    sent = db("select kind, status, count(*) from followups where kind in ('answer', 'notice') group by kind, status")
    # The question's notice, the morning digest (the first tick of the day), and the answer: each sent once.
    assert [tuple(r) for r in sent] == [("answer", "sent", 1), ("notice", "sent", 2)]
    assert (await ticker.tick()).sent == 0, "nothing is sent twice"


async def test_a_second_question_before_the_answer_joins_the_first(app, new_chat, db, ticker):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    worker = await saved_lead(new_chat("Budi"))

    await worker.tap("Tanya petugas")  # the lead's region is known: no need to ask it
    await worker.say("Berapa iuran untuk nelayan?")
    waiting = await worker.tap("Tanya petugas")
    added = await worker.say("Kalau saya sakit, dibayar?")

    assert "masih menunggu jawaban petugas" in waiting[0].text
    assert "Tambahan pertanyaan Anda sudah diteruskan" in added[0].text
    [question] = db("select text, officer_id from followups where kind = 'question'")
    assert question["text"] == "Berapa iuran untuk nelayan?\n\nKalau saya sakit, dibayar?"
    assert len(db("select id from followups where kind = 'notice'")) == 1, "one notice per question"


async def test_a_question_with_a_nik_is_not_kept(app, new_chat, db):
    worker = await welcomed(new_chat("Budi"))
    await worker.tap("Tanya petugas")
    await worker.tap("Seluma")

    refused = await worker.say("NIK saya 1701 0412 3456 7890, sudah terdaftar belum?")

    assert "berisi NIK atau nomor KTP" in refused[0].text
    assert db("select count(*) from followups")[0][0] == 0


async def test_two_messages_the_bot_cannot_understand_offer_a_person(new_chat):
    worker = await welcomed(new_chat("Budi"))

    first = await worker.say("zzz qqq")
    second = await worker.say("xyzzy plugh")

    assert "Tanya petugas" not in first[0].text and first[-1].labels[0] != "🙋 Tanya petugas"
    assert "Mau bertanya langsung ke petugas?" in second[0].text
    assert second[0].labels == ["🙋 Tanya petugas", "🏠 Menu"]
    region = await worker.tap("Tanya petugas")
    assert "kabupaten/kota mana" in region[-1].text


async def test_without_an_officer_in_the_region_a_question_waits_in_the_pool_and_admins_hear_of_it(
    app, new_chat, db, ticker
):
    admin = new_chat("Admin", user_id=ADMIN_ID)
    await admin.command("menu")
    worker = await welcomed(new_chat("Budi"))
    await worker.tap("Tanya petugas")
    await worker.tap("Lebong")
    await worker.say("Di mana kantor BPJS terdekat?")
    await ticker.tick()

    assert "Ada pertanyaan baru dari pekerja di Lebong" in admin.transcript[-1].text
    listing = await admin.command("tugas")
    assert "Di mana kantor BPJS terdekat?" in listing[-1].text
    await admin.tap("Balas")
    await admin.say("Di Jalan Sudirman, Bu.")
    await ticker.tick()
    assert worker.transcript[-1].text.startswith("💬 Jawaban dari petugas kantor:")
    assert tasks(db) == [("question", "done", None, "Lebong", "answered")]


async def test_each_officer_gets_one_digest_a_morning_at_0730(app, new_chat, db, clock, ticker):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, JOKO_ID, "Joko", "Kaur")  # nothing to do: no digest
    await saved_lead(new_chat("Budi"))
    rina = new_chat("Rina", user_id=RINA_ID)

    def digests(chat: Chat) -> list[str]:
        return [m.text for m in chat.transcript if "Ringkasan hari ini" in m.text]

    clock.set_local(datetime(2026, 11, 24, 7, 29, tzinfo=WIB))
    await ticker.tick()
    assert digests(rina) == []

    clock.set_local(datetime(2026, 11, 24, 7, 30, tzinfo=WIB))
    for _ in range(10):
        await ticker.tick()
    await type(ticker)(app.dispatcher, ticker.senders).tick()  # a restart
    [tuesday] = digests(rina)
    assert "Tugas jatuh tempo hari ini: 1" in tuesday and "Tugas terlambat: 0" in tuesday
    assert "Prospek baru sejak kemarin: 1" in tuesday
    assert digests(new_chat("Joko", user_id=JOKO_ID)) == []

    clock.set_local(datetime(2026, 11, 25, 7, 45, tzinfo=WIB))
    await ticker.tick()
    wednesday = digests(rina)[-1]
    assert len(digests(rina)) == 2
    assert "Tugas jatuh tempo hari ini: 0" in wednesday and "Tugas terlambat: 1" in wednesday


async def test_an_officer_gets_their_personal_link_and_a_printable_qr_code(app, new_chat, bot_api):
    _, code = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)

    await rina.command("kode")

    [call] = bot_api.calls_of("sendDocument")
    document = call.params["document"]
    assert isinstance(document, UploadedFile) and document.filename == f"qr-{code}.png"
    assert document.content.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", document.content[16:24])
    assert width == height >= 400, "big enough to print and scan from a distance"
    assert f"https://t.me/bpu_test_bot?start={code}" in call.params["caption"]


async def test_the_officers_cli_adds_lists_and_removes_and_leads_move_on(
    app, new_chat, db, database, tmp_path, monkeypatch, capsys
):
    import asyncio

    from bot.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database.url)

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    added = await asyncio.to_thread(
        cli, "officers", "add", "--name", "Rina Marlina", "--telegram-id", str(RINA_ID), "--region", "mukomuko"
    )
    await asyncio.to_thread(
        cli, "officers", "add", "--name", "Sari Dewi", "--telegram-id", str(SARI_ID), "--region", "Mukomuko"
    )
    await saved_lead(new_chat("Budi"))
    listing = await asyncio.to_thread(cli, "officers", "list")
    mine = await asyncio.to_thread(cli, "followups", "list", "--officer", "1")
    removed = await asyncio.to_thread(cli, "officers", "remove", "1")
    wrong = await asyncio.to_thread(cli, "officers", "add", "--name", "X", "--telegram-id", "12", "--region", "Jakarta")

    assert added[0] == 0 and added[1].startswith("officer 1 added: Rina Marlina, Mukomuko, code ptg-")
    assert listing[1].splitlines()[0].split() == ["ID", "NAME", "TELEGRAM", "REGIONS", "CODE", "LEADS", "OPEN", "TASKS"]
    assert re.search(r"^1\s+Rina Marlina\s+700001\s+Mukomuko\s+ptg-\w+\s+1\s+1$", listing[1], re.M), listing[1]
    assert "call" in mine[1] and "Budi Santoso" in mine[1]
    assert removed == (0, "officer 1 removed: Rina Marlina; 1 leads reassigned\n", "")
    assert leads_by_name(db) == {"Budi Santoso": 2}, "Sari takes Rina's lead"
    assert tasks(db) == [("call", "pending", 2, "Mukomuko", None)]
    assert db("select role from contacts where external_id = ?", str(RINA_ID))[0]["role"] is None
    assert wrong[0] == 2 and wrong[2].startswith("bpu-bot: error: --region 'Jakarta' is not one of: Kota Bengkulu")

    rina = new_chat("Rina", user_id=RINA_ID)
    assert "hanya untuk petugas" in (await rina.command("tugas"))[0].text, "a removed officer is a worker again"


async def test_typing_that_one_wants_a_person_leads_to_the_question(new_chat):
    worker = await welcomed(new_chat("Budi"))

    asked = await worker.say("sy mau bicara sama petugas")

    assert "kabupaten/kota mana" in asked[-1].text
