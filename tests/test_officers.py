"""Officers: invited by an admin, given leads of their region in turn, working their tasks with buttons,
answering workers' questions through the bot, and a digest each morning. Time is injected."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.services.officers import add_officer, ensure_contact
from tests.conftest import WIB, Chat, saved_lead, welcomed
from tests.transcript import dialog

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

    invited = await dialog(admin).play("""
        > /undang
        < Ketik nama petugas
        > Rina Marlina
        > [Mukomuko]
        > [Seluma]
        # a second tap takes a region off again
        > [✓ Seluma]
        < ... [✓ Mukomuko] ... [Seluma] ...
        > [Selesai]
        < Rina Marlina (Mukomuko)
        < 7 hari
    """)

    link = re.search(r"https://t\.me/bpu_test_bot\?start=(inv-[\w-]+)", invited[-1].text)
    assert link, invited[-1].text

    await dialog(new_chat("Rina", user_id=RINA_ID)).play(f"""
        > /start {link.group(1)}
        < Halo Rina Marlina! Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko.
        < ... [📋 Tugas saya] ...
    """)
    stranger = new_chat("Orang lain")
    refused = await dialog(stranger).play(f"""
        > /start {link.group(1)}
        < sudah dipakai atau sudah kedaluwarsa
    """)

    assert "📋 Tugas saya" not in refused[-1].labels
    [officer] = db("select o.name, c.external_id, c.role from officers o join contacts c on c.id = o.contact_id")
    assert tuple(officer) == ("Rina Marlina", str(RINA_ID), "officer")
    assert [r["region"] for r in db("select region from officer_regions")] == ["Mukomuko"]
    [invite] = db("select token_hash, used_at from invites")
    assert invite["used_at"] is not None and link.group(1) not in invite["token_hash"], "only a hash is kept"
    assert db("select role from contacts where external_id = ?", str(stranger.user.user_id))[0]["role"] is None


async def invite_from_the_chat(new_chat, name: str, region: str) -> str:
    """An admin's /undang for `name` in `region`: the link's payload (`inv-…`)."""
    invited = await dialog(new_chat("Admin", user_id=ADMIN_ID)).play(f"""
        > /undang
        > {name}
        > [{region}]
        > [Selesai]
    """)
    return re.search(r"start=(inv-[\w-]+)", invited[-1].text).group(1)


async def test_an_invite_link_expires_after_seven_days(new_chat, clock, db):
    payload = await invite_from_the_chat(new_chat, "Rina Marlina", "Mukomuko")

    clock.advance(days=7, seconds=1)
    await dialog(new_chat("Rina", user_id=RINA_ID)).play(f"""
        > /start {payload}
        < sudah kedaluwarsa
    """)

    assert db("select count(*) from officers")[0][0] == 0


async def test_a_worker_never_reaches_officer_or_admin_steps(app, chat, new_chat, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    await welcomed(chat)
    [call_id] = [row["id"] for row in db("select id from followups where kind = 'call'")]

    tugas = await dialog(chat).play("""
        > /tugas
        < hanya untuk petugas lapangan
    """)
    await dialog(chat).play("""
        > /undang
        < hanya untuk staf kantor cabang
    """)
    forged = await chat.tap_data(f"{0}|task_out:{call_id}:terdaftar")
    await dialog(new_chat("Rina", user_id=RINA_ID)).play("""
        > /undang
        < hanya untuk staf kantor cabang
    """)

    assert "hanya untuk petugas lapangan" in forged[0].text
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

    # The lead came in at 10:00 on Monday: its call is due at once, the same day.
    listing = await dialog(rina).play("""
        > /tugas
        < Tugas hari ini dan yang terlambat: 1–1 dari 1
        < 📞 Telepon Budi Santoso · 🎣 Nelayan · Mukomuko
        < HP: +6281234567890 (0812-3456-7890)
        < Waktu telepon: 🌅 Pagi
        < Jatuh tempo: 23 Nov 2026 10:00
        < [✅ Dihubungi] [🗓️ Akan daftar] [📝 Terdaftar] [🚫 Tidak tertarik] [📵 Tidak bisa dihubungi] ...
        < ... [📇 Riwayat & catatan]
    """)
    await dialog(rina).play("""
        > [Terdaftar]
        < Tercatat: 📝 Terdaftar.
        < Ada catatan
        > Sudah daftar lewat JMO, kartu sudah jadi
        < Catatan disimpan
        < Tidak ada tugas untuk hari ini
    """)
    again = await rina.tap("Terdaftar", listing[-1])

    assert "sudah selesai dicatat" in again[-1].text

    [event] = db("select from_status, to_status, actor, note from lead_events")
    assert tuple(event) == ("baru", "terdaftar", f"officer:{rina_id}", "Sudah daftar lewat JMO, kartu sudah jadi")
    assert db("select status from leads")[0]["status"] == "terdaftar"
    rows = db("select kind, status, outcome from followups where kind != 'notice' order by id")  # the worker's
    assert [tuple(r) for r in rows] == [
        ("call", "done", "terdaftar"),
        ("reminder", "cancelled", "terdaftar"),
        ("reminder", "cancelled", "terdaftar"),
    ]


async def test_an_overdue_call_is_marked_and_could_not_reach_keeps_the_reminders(app, new_chat, db, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await saved_lead(new_chat("Budi"))
    rina = new_chat("Rina", user_id=RINA_ID)

    clock.set_local(datetime(2026, 11, 25, 9, 0, tzinfo=WIB))  # Wednesday: the call was due on Monday
    await dialog(rina).play("""
        > /tugas
        < ⚠️ Terlambat, jatuh tempo 23 Nov 2026 10:00
        > [Tidak bisa dihubungi]
        > [Lewati]
        < Tidak ada tugas
    """)

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

    own = await dialog(joko).play("""
        # Budi's call is not on Joko's list
        > /tugas
        < Tidak ada tugas
    """)
    refused = await joko.tap_data(f"0|task_out:{call_id}:tidak_tertarik", own[-1])

    assert "di luar wilayah Anda" in refused[0].text
    assert db("select status from leads")[0]["status"] == "baru"
    assert tasks(db)[0][1] == "pending" and db("select count(*) from lead_events")[0][0] == 0


async def test_a_worker_asks_a_person_and_the_officers_answer_reaches_them(app, new_chat, db, ticker):
    rina_id, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)
    await rina.command("menu")
    worker = await welcomed(new_chat("Wati"), "Pedagang")

    await dialog(worker).play("""
        > [Tanya petugas]
        < kabupaten/kota mana
        > [Mukomuko]
        > Apakah ibu rumah tangga yang berjualan kue bisa ikut BPU?
        < sudah diteruskan ke petugas wilayah Mukomuko
        < paling lambat Selasa 24 November, 10.00
        < bot tidak menjawab atas nama petugas
    """)
    await ticker.tick()

    [notice] = [m for m in rina.transcript if "pertanyaan baru" in m.text]
    assert "Ada pertanyaan baru dari pekerja di Mukomuko" in notice.text
    assert "ibu rumah tangga" not in notice.text, "the notice carries no personal words"
    assert notice.labels == ["📋 Lihat tugas"]

    listing = await rina.tap("Lihat tugas", notice)
    assert "🙋 Pertanyaan dari pekerja (tanpa nama) · 🛒 Pedagang · Mukomuko" in listing[-1].text
    assert "Bertanya: “Apakah ibu rumah tangga yang berjualan kue bisa ikut BPU?”" in listing[-1].text
    await dialog(rina).play("""
        > [Balas]
        < Ketik jawaban
        < ibu rumah tangga
        > Bisa, Bu. Semua pekerja mandiri bisa ikut BPU. Saya telepon besok.
        < sedang dikirim
    """)
    before = len(worker.transcript)
    await ticker.tick()

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

    await dialog(worker).play("""
        # the lead's region is known: no need to ask it
        > [Tanya petugas]
        > Berapa iuran untuk nelayan?
        > [Tanya petugas]
        < masih menunggu jawaban petugas
        > Kalau saya sakit, dibayar?
        < Tambahan pertanyaan Anda sudah diteruskan
    """)

    [question] = db("select text, officer_id from followups where kind = 'question'")
    assert question["text"] == "Berapa iuran untuk nelayan?\n\nKalau saya sakit, dibayar?"
    notices = db("select id from followups where kind = 'notice' and lead_id is null")  # (not the new lead's)
    assert len(notices) == 1, "one notice per question"


async def test_a_question_with_a_nik_is_not_kept(app, new_chat, db):
    worker = await welcomed(new_chat("Budi"))

    await dialog(worker).play("""
        > [Tanya petugas]
        > [Seluma]
        > NIK saya 1701 0412 3456 7890, sudah terdaftar belum?
        < berisi NIK atau nomor KTP
    """)

    assert db("select count(*) from followups")[0][0] == 0


async def test_two_messages_the_bot_cannot_understand_offer_a_person(new_chat):
    worker = await welcomed(new_chat("Budi"))

    first = await worker.say("zzz qqq")

    assert "Tanya petugas" not in first[0].text and first[-1].labels[0] != "🙋 Tanya petugas"
    await dialog(worker).play("""
        > xyzzy plugh
        < Mau bertanya langsung ke petugas?
        < [🙋 Tanya petugas] [🏠 Menu]
        > [Tanya petugas]
        < kabupaten/kota mana
    """)


async def test_without_an_officer_in_the_region_a_question_waits_in_the_pool_and_admins_hear_of_it(
    app, new_chat, db, ticker
):
    admin = new_chat("Admin", user_id=ADMIN_ID)
    await admin.command("menu")
    worker = await welcomed(new_chat("Budi"))
    await dialog(worker).play("""
        > [Tanya petugas]
        > [Lebong]
        > Di mana kantor BPJS terdekat?
    """)
    await ticker.tick()

    assert "Ada pertanyaan baru dari pekerja di Lebong" in admin.transcript[-1].text
    await dialog(admin).play("""
        > /tugas
        < Di mana kantor BPJS terdekat?
        > [Balas]
        > Di Jalan Sudirman, Bu.
    """)
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
    # The call fell due when the lead came in, on Monday: on Tuesday it is late, and named.
    assert "Tugas jatuh tempo hari ini: 0" in tuesday and "Tugas terlambat: 1" in tuesday
    assert "Prospek baru sejak kemarin: 1" in tuesday
    assert "Menunggu ditelepon:\n• Budi Santoso, Mukomuko — 🌅 Pagi" in tuesday
    assert digests(new_chat("Joko", user_id=JOKO_ID)) == []

    clock.set_local(datetime(2026, 11, 25, 7, 45, tzinfo=WIB))
    await ticker.tick()
    wednesday = digests(rina)[-1]
    assert len(digests(rina)) == 2
    assert "Tugas jatuh tempo hari ini: 0" in wednesday and "Tugas terlambat: 1" in wednesday


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
    removed = await asyncio.to_thread(cli, "officers", "remove", "1", "--yes")
    wrong = await asyncio.to_thread(cli, "officers", "add", "--name", "X", "--telegram-id", "12", "--region", "Jakarta")

    assert added[0] == 0 and added[1].startswith("officer 1 added: Rina Marlina, Mukomuko, code ptg-")
    assert listing[1].splitlines()[0].split() == ["ID", "NAME", "ACCOUNT", "REGIONS", "CODE", "LEADS", "OPEN", "TASKS"]
    assert re.search(r"^1\s+Rina Marlina\s+telegram:700001\s+Mukomuko\s+ptg-\w+\s+1\s+1$", listing[1], re.M), listing[1]
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

    await dialog(worker).play("""
        > sy mau bicara sama petugas
        < kabupaten/kota mana
    """)
