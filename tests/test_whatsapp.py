"""WhatsApp conversations: the very same conversation as on Telegram, through signed webhooks and the Graph
API fake, asserting on what the worker's phone shows and on the rows."""

from __future__ import annotations

import csv
import io
from collections import deque
from urllib.parse import unquote

import openpyxl
import pytest

from bot.channels.whatsapp import CHANNEL, rendering
from bot.channels.whatsapp.rendering import render
from bot.config import WhatsAppTemplate
from bot.conversation.events import Inbound, Kind, Reply, encode_choice
from bot.services.contacts import copy_contact
from bot.services.officers import add_officer, ensure_contact
from bot.services.reports import write_delivery_report
from bot.workers import broadcaster as broadcaster_module
from tests.conftest import CONFIGURED_TEMPLATES, Chat, send_campaigns, text_of, whatsapp_text, whatsapp_titles
from tests.fakes.telegram import FakeUser
from tests.process import catalog_text
from tests.test_officers import RINA_ID, make_officer


async def saved_on_whatsapp(chat, name: str = "Budi Santoso", reminders: str = "Boleh") -> None:
    """A WhatsApp worker whose number WhatsApp gives: from "halo" to a saved lead."""
    welcome = await chat.say("halo")
    await chat.tap("Nelayan", welcome[0])
    await chat.tap("Saya tertarik")
    await chat.tap("Setuju")
    await chat.tap(reminders)
    await chat.say(name)
    await chat.tap("Mukomuko")
    await chat.tap("Pagi")
    await chat.tap("Benar, simpan")


async def test_a_worker_learns_the_cost_and_leaves_their_contact_with_the_phone_from_whatsapp(whatsapp, db):
    siti = whatsapp.user(name="Siti", phone="6281234567890")

    welcome = await siti.say("halo")
    assert "bukan BPJS Ketenagakerjaan" in whatsapp_text(welcome)
    assert welcome[0].kind == "list" and "🎣 Nelayan" in whatsapp_titles(welcome[:1])
    story = await siti.tap("Nelayan", welcome[0])
    assert "Rp16.800" in whatsapp_text(story) and "🧮 Hitung iuran" in whatsapp_titles(story)
    cost = await siti.say("brp iurannya")
    assert whatsapp_text(cost).startswith("Mulai Rp16.800 per bulan")
    calculator = await siti.tap("Hitung iuran")
    assert "penghasilan" in whatsapp_text(calculator)
    result = await siti.say("2,5 juta")
    assert "JKK" in whatsapp_text(result) and "Rp6.800" in whatsapp_text(result)
    consent = await siti.tap("Saya tertarik")
    assert consent[-1].kind == "buttons" and whatsapp_titles(consent[-1:])[0].startswith("✅")
    await siti.tap("Setuju")
    await siti.tap("Boleh")
    region = await siti.say("Siti Aminah")

    assert "0812-3456-7890" in whatsapp_text(region)  # taken from WhatsApp, not asked
    assert "Kirim nomor saya" not in whiteout(region)
    await siti.tap("Mukomuko")
    summary = await siti.tap("Pagi")
    assert "Siti Aminah" in whatsapp_text(summary) and summary[-1].kind == "list"
    saved = await siti.tap("Benar, simpan")

    assert "Terima kasih, Siti Aminah" in whatsapp_text(saved)
    [lead] = db("select name, phone, region, channel, status from leads")
    assert tuple(lead) == ("Siti Aminah", "+6281234567890", "Mukomuko", "whatsapp", "baru")
    [contact] = db("select channel, external_id from contacts")
    assert tuple(contact) == ("whatsapp", siti.user.user_id)  # the business-scoped id, not the phone


def whiteout(messages) -> str:
    return whatsapp_text(messages) + " ".join(whatsapp_titles(messages))


async def test_a_worker_whose_number_whatsapp_hides_types_it(whatsapp, db):
    hidden = whatsapp.user(name="Rudi", phone=None, username="@rudi_nelayan")
    welcome = await hidden.say("halo")
    await hidden.tap("Nelayan", welcome[0])
    await hidden.tap("Saya tertarik")
    await hidden.tap("Setuju")
    await hidden.tap("Boleh")

    asked = await hidden.say("Rudi Hartono")

    assert catalog_text("id", "interest.ask_phone_typed") in whatsapp_text(asked)
    assert "Kirim nomor saya" not in whiteout(asked)
    assert "dicatat" in whatsapp_text(await hidden.say("0812 9876 5432"))
    await hidden.tap("Mukomuko")
    await hidden.tap("Sore")
    await hidden.tap("Benar, simpan")
    assert [tuple(r) for r in db("select name, phone from leads")] == [("Rudi Hartono", "+6281298765432")]


async def test_stickers_photos_voice_notes_places_reactions_and_the_unknown_get_the_friendly_answer(whatsapp):
    siti = whatsapp.user()
    welcome = await siti.say("halo")
    await siti.tap("Nelayan", welcome[0])
    sent = [
        siti.user.sticker(),
        siti.user.image(),
        siti.user.audio(voice=True),
        siti.user.video(),
        siti.user.document(),
        siti.user.location(-3.79, 102.26),
        siti.user.reaction("👍", welcome[0].message_id),
        siti.user.unsupported(),
    ]
    for payload in sent:
        answer = await siti.send(payload)

        assert catalog_text("id", "common.media_not_read") in answer[0].text
        assert "✋ Saya tertarik" in whatsapp_titles(answer)  # and the menu again, to carry on


async def test_a_shared_contact_card_is_taken_only_when_it_is_the_workers_own_number(whatsapp, db):
    budi = whatsapp.user(phone=None, name="Budi")  # WhatsApp hides his number: he is asked for it
    welcome = await budi.say("halo")
    await budi.tap("Nelayan", welcome[0])
    await budi.tap("Saya tertarik")
    await budi.tap("Setuju")
    await budi.tap("Tidak usah")
    await budi.say("Budi Santoso")

    someone_else = await budi.send(budi.user.contacts("+6281311112222", "Istri"))

    assert catalog_text("id", "interest.phone_not_own").split("{")[0][:30] in whatsapp_text(someone_else)
    assert db("select state from contacts")[0][0] == "interest/phone"
    assert "dicatat" in whatsapp_text(await budi.say("0813 1111 2222"))


async def test_buttons_from_an_old_message_and_forged_ids_are_answered_kindly(whatsapp):
    siti = whatsapp.user()
    welcome = await siti.say("halo")
    await siti.tap("Nelayan", welcome[0])
    await siti.tap("Saya tertarik")
    consent = siti.transcript[-1]
    await siti.tap("Setuju")

    stale = await siti.tap("Setuju", consent)
    forged = await siti.send(siti.user.tap_id("9|hapus_semua"))
    garbage = await siti.send(siti.user.tap_id("x" * 300))

    assert catalog_text("id", "common.stale_button")[:25] in stale[0].text
    for answer in (forged, garbage):
        assert catalog_text("id", "common.unknown_button")[:25] in answer[0].text


async def test_a_reminder_days_later_goes_as_the_approved_template_and_its_quick_reply_answers_it(whatsapp, clock, db):
    budi = whatsapp.user(name="Budi")
    await saved_on_whatsapp(budi)
    clock.advance(days=3)

    report = await whatsapp.runtime.ticker.tick()

    assert report.sent == 1
    reminder = budi.transcript[-1]
    assert (reminder.kind, reminder.template_name, reminder.template_language) == ("template", "bpu_pengingat", "id")
    assert reminder.template_params == ["Budi Santoso"] and len(reminder.template_payloads) == 3
    assert db("select via from followups where kind = 'reminder' and status = 'sent'")[0][0] == "template"

    answer = await budi.send(budi.user.template_tap(0, reminder, text="Sudah"))

    assert "Selamat, Budi Santoso" in whatsapp_text(answer)
    assert db("select status from leads")[0][0] == "terdaftar"


async def test_a_reminder_to_a_worker_who_wrote_today_is_free_text_with_buttons(whatsapp, clock, db):
    budi = whatsapp.user(name="Budi")
    await saved_on_whatsapp(budi)
    clock.advance(days=3)
    await budi.say("halo")

    await whatsapp.runtime.ticker.tick()

    reminder = budi.transcript[-1]
    assert reminder.kind == "list" and "Budi Santoso" in reminder.text  # one label is too long for a button
    assert whatsapp_titles([reminder])[0] == "✅ Sudah"
    assert db("select via from followups where kind = 'reminder' and status = 'sent'")[0][0] == "text"


@pytest.mark.parametrize("whatsapp_settings", [()], indirect=True)
async def test_without_a_template_a_reminder_outside_the_window_is_not_sent_at_all(whatsapp, clock, db):
    budi = whatsapp.user(name="Budi")
    await saved_on_whatsapp(budi)
    before = len(budi.transcript)
    clock.advance(days=3)

    report = await whatsapp.runtime.ticker.tick()

    assert report.sent == 0 and budi.transcript[before:] == []  # never free text outside the window
    ended = db("select status, outcome from followups where kind = 'reminder' and status != 'pending'")
    assert [tuple(row) for row in ended] == [("cancelled", "no_template")]


async def _every_menu(whatsapp, locale: str, depth: int = 6) -> list[Reply]:
    """Every message with choices a worker can reach by tapping, up to `depth` taps from /start, each sent to
    the Graph API fake as the channel sends it. Each path is a new person: a copy of the one who reached the
    menu it taps on (their state, data and consents), so that the others are not moved on."""
    dispatcher, channel = whatsapp.app.dispatcher, whatsapp.runtime.whatsapp
    menus: list[Reply] = []
    seen: set[tuple[str, ...]] = set()
    opened = f"ID.{locale}start"
    for step in (
        Inbound(CHANNEL, opened, Kind.COMMAND, command="start"),
        Inbound(CHANNEL, opened, Kind.CHOICE, choice=encode_choice(1, f"lang:{locale}")),
    ):
        replies = await dispatcher.handle(step)
        await channel.send_kept(opened)
    # (who reached a menu, the replies that showed it, how many taps it took)
    reached: deque[tuple[str, list[Reply], int]] = deque([(opened, replies, 0)])
    while reached:
        person, replies, taps = reached.popleft()
        for reply in replies:
            shape = tuple(choice.action for choice in reply.choices)
            if not shape or shape in seen:
                continue
            seen.add(shape)
            menus.append(reply)
            if taps == depth:
                continue
            for number, action in enumerate(shape):
                tapping = f"ID.{locale}{len(menus)}x{number}"
                async with dispatcher.sessions.begin() as session:
                    await copy_contact(session, CHANNEL, person, tapping, dispatcher.clock())
                tapped = Inbound(CHANNEL, tapping, Kind.CHOICE, choice=encode_choice(reply.serial, action))
                reached.append((tapping, await dispatcher.handle(tapped), taps + 1))
                await channel.send_kept(tapping)
    return menus


def _rows(interactive: dict) -> list[dict]:
    return [row for section in interactive["action"]["sections"] for row in section["rows"]]


@pytest.mark.parametrize("locale", ["id", "en"])
async def test_every_menu_fits_whatsapps_limits_and_keeps_every_label_readable(whatsapp, graph, locale):
    menus = await _every_menu(whatsapp, locale)

    assert len(menus) > 20  # the crawl reached the calculator, the questions, the privacy menu...
    refused = [(call.error_code, call.body.get("interactive")) for call in graph.calls() if call.status != 200]
    assert refused == []  # the fake refuses what breaks a limit: 3 buttons of 20, 10 rows of 24, bodies...
    t = whatsapp.app.messages[locale]
    for reply in menus:
        shown = [message["interactive"] for message in render(reply, t)]
        rows = [(r["title"], r.get("description")) for i in shown if i["type"] == "list" for r in _rows(i)]
        buttons = [(b["reply"]["title"], None) for i in shown if i["type"] == "button" for b in i["action"]["buttons"]]
        for choice, (title, description) in zip(reply.choices, rows + buttons, strict=True):
            assert choice.label in (title, description), f"{choice.label!r} cut to {title!r} / {description!r}"
    assert any(i["type"] == "list" for reply in menus for i in (m["interactive"] for m in render(reply, t)))
    assert any(i["type"] == "button" for reply in menus for i in (m["interactive"] for m in render(reply, t)))


async def test_an_officers_answer_the_next_day_reaches_the_whatsapp_worker_as_the_answer_template(
    whatsapp, bot_api, clock, db
):
    await make_officer(whatsapp.app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = Chat(whatsapp.runtime.application, bot_api, FakeUser(bot_api, user_id=RINA_ID, first_name="Rina"))
    wati = whatsapp.user(name="Wati", phone="6285711112222")
    welcome = await wati.say("halo")
    await wati.tap("Pedagang", welcome[0])
    regions = await wati.tap("Tanya petugas")
    await wati.tap("Mukomuko", regions[0])  # ten regions and "Batal": a list and a second one
    await wati.say("Apakah penjual kue keliling bisa ikut BPU?")
    await whatsapp.runtime.ticker.tick()  # Rina's notice, on Telegram
    assert any("pertanyaan baru" in m.text for m in rina.transcript)
    clock.advance(hours=26)  # Wati's last message is now outside WhatsApp's 24 hours

    listing = await rina.command("tugas")
    await rina.tap("Balas", listing[-1])
    await rina.say("Bisa, Bu.\nSemua pekerja mandiri bisa ikut BPU.")
    await whatsapp.runtime.ticker.tick()

    answer = wati.transcript[-1]
    assert (answer.kind, answer.template_name) == ("template", "bpu_jawaban")
    # A template parameter may not hold line breaks: the answer arrives on one line, whole.
    assert answer.template_params == [
        "💬 Jawaban dari petugas Rina Marlina: Bisa, Bu. Semua pekerja mandiri bisa ikut BPU."
    ]
    assert tuple(db("select status, via from followups where kind = 'answer'")[0]) == ("sent", "template")


async def _broadcast_preview(whatsapp, bot_api) -> tuple[Chat, list]:
    """Rina, an officer of Mukomuko on Telegram, writes a broadcast and reaches its preview."""
    await make_officer(whatsapp.app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = Chat(whatsapp.runtime.application, bot_api, FakeUser(bot_api, user_id=RINA_ID, first_name="Rina"))
    await rina.command("siaran")
    await rina.tap("Siaran baru")
    await rina.tap("Lanjut")
    await rina.say("Sosialisasi BPU di balai desa, Sabtu pukul 09.00.")
    await rina.tap("Lewati")  # no English version
    return rina, await rina.tap("Tanpa tombol")


@pytest.mark.parametrize(
    ("whatsapp_settings", "outside"),
    [(CONFIGURED_TEMPLATES, "template"), ((), "skipped")],
    indirect=["whatsapp_settings"],
)
async def test_a_broadcasts_preview_says_who_gets_free_text_and_who_a_template_and_the_engine_does_so(
    whatsapp, bot_api, clock, db, outside
):
    ani, budi = whatsapp.user(name="Ani", phone="6281200000001"), whatsapp.user(name="Budi", phone="6281200000002")
    await saved_on_whatsapp(ani, name="Ani")
    clock.advance(hours=20)
    await saved_on_whatsapp(budi, name="Budi")
    clock.advance(hours=5)  # Ani last wrote 25 hours ago, Budi 5 hours ago

    rina, preview = await _broadcast_preview(whatsapp, bot_api)

    key = "broadcast.preview_whatsapp" if outside == "template" else "broadcast.preview_whatsapp_skipped"
    assert catalog_text("id", key).format(text=1, template=1) in text_of(preview)
    await rina.tap("Kirim sekarang")
    await rina.tap("Ya, kirim")
    await send_campaigns(whatsapp.runtime.broadcaster)

    [to_budi] = [m for m in budi.transcript if "balai desa" in m.text]
    assert to_budi.kind == "text"
    to_ani = [m for m in ani.transcript if m.kind == "template" or "balai desa" in m.text]
    if outside == "template":
        assert [(m.kind, m.template_name, m.template_params) for m in to_ani] == [
            ("template", "bpu_siaran", ["Sosialisasi BPU di balai desa, Sabtu pukul 09.00."])
        ]
    else:
        assert to_ani == []  # never free text outside the window
    rows = db("select external_id, d.status, via, outcome from deliveries d join contacts c on c.id = d.contact_id")
    by_person = {row[0]: tuple(row[1:]) for row in rows}
    assert by_person[budi.user.user_id] == ("sent", "text", None)
    expected = ("sent", "template", None) if outside == "template" else ("skipped", None, "no_template")
    assert by_person[ani.user.user_id] == expected

    await whatsapp.statuses(order="reverse")  # read, delivered, sent: the report says what came last in truth
    report = io.StringIO()
    async with whatsapp.app.dispatcher.sessions() as session:
        await write_delivery_report(session, 1, whatsapp.app.messages["id"], whatsapp.app.settings.tz, report)
    lines = {row["nama"]: row for row in csv.DictReader(io.StringIO(report.getvalue()), delimiter=";")}
    assert lines["Budi"]["laporan whatsapp"] == "dibaca"
    assert lines["Ani"]["laporan whatsapp"] == ("dibaca" if outside == "template" else "")


async def test_an_officers_whatsapp_qr_code_types_their_code_and_the_worker_who_sends_it_is_theirs(
    whatsapp, bot_api, db
):
    rina_id, code = await make_officer(whatsapp.app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = Chat(whatsapp.runtime.application, bot_api, FakeUser(bot_api, user_id=RINA_ID, first_name="Rina"))

    await rina.command("kode")

    telegram, on_whatsapp = bot_api.calls_of("sendDocument")
    assert f"https://t.me/bpu_test_bot?start={code}" in telegram.params["caption"]
    link = next(word for word in on_whatsapp.params["caption"].split() if word.startswith("https://wa.me/"))
    number, _, query = link.removeprefix("https://wa.me/").partition("?text=")
    typed = unquote(query)
    assert number == "6281100000000" and code in typed and typed.startswith("Halo")
    assert on_whatsapp.params["document"].content.startswith(b"\x89PNG")

    sari = whatsapp.user(name="Sari", phone="6281277776666")
    welcome = await sari.say(typed)  # what WhatsApp puts in her chat when she scans the poster
    assert "bukan BPJS Ketenagakerjaan" in whatsapp_text(welcome)
    await sari.tap("Pedagang", welcome[0])
    for step in ("Saya tertarik", "Setuju", "Boleh"):
        await sari.tap(step)
    await sari.say("Sari Dewi")
    for step in ("Mukomuko", "Pagi", "Benar, simpan"):
        await sari.tap(step)

    assert tuple(db("select source_code, officer_id from leads")[0]) == (code, rina_id)


# ------------------------------------------------------------------------------------------ officers on WhatsApp


async def officer_on_whatsapp(whatsapp, name: str = "Rina Marlina", phone: str = "6281298765432"):
    """An officer of Mukomuko whose chat is WhatsApp, added as `bpu-bot officers add` does."""
    chat = whatsapp.user(name=name.split()[0], phone=phone)
    async with whatsapp.app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, CHANNEL, chat.user.user_id, "id")
        contact.last_seen_at = whatsapp.app.dispatcher.clock()  # added now, on the test's clock
        await add_officer(session, contact, name, ["Mukomuko"], whatsapp.app.dispatcher.clock())
    return chat


async def test_an_officer_on_whatsapp_receives_the_lead_list_as_a_document_that_opens(whatsapp, db):
    for number, name in enumerate(("Budi Santoso", "Ani Lestari")):
        await saved_on_whatsapp(whatsapp.user(name=name, phone=f"628120000010{number}"), name=name)
    rina = await officer_on_whatsapp(whatsapp)

    await rina.say("/ekspor")
    made = await rina.tap("Buat file")
    assert "sedang dibuat" in whatsapp_text(made)
    await whatsapp.runtime.exporter.step()

    [document] = [m for m in rina.transcript if m.kind == "document"]
    assert document.filename is not None and document.filename.endswith(".xlsx")
    assert document.text.startswith("✅ Ekspor selesai: 2 prospek")  # the caption above the file
    assert document.media is not None
    assert document.media.mime_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(document.media.content), read_only=True)
    names = {row[1] for sheet in workbook.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {"Budi Santoso", "Ani Lestari"}
    assert tuple(db("select status, outcome from exports")[0]) == ("done", None)


async def test_a_lead_list_over_whatsapps_limit_is_not_sent_and_the_message_names_whatsapp(whatsapp, db):
    await saved_on_whatsapp(whatsapp.user(name="Budi", phone="6281200000100"))
    rina = await officer_on_whatsapp(whatsapp)
    whatsapp.runtime.exporter.senders[CHANNEL].document_limit = 100  # bytes

    await rina.say("/ekspor")
    await rina.tap("Buat file")
    await whatsapp.runtime.exporter.step()

    assert not [m for m in rina.transcript if m.kind == "document"] and whatsapp.graph.uploads() == []
    assert "lebih besar dari batas WhatsApp" in rina.transcript[-1].text
    assert tuple(db("select status, outcome from exports")[0]) == ("failed", "too_large")


async def test_a_file_over_the_cloud_apis_limits_becomes_a_message_saying_so(app, monkeypatch):
    t = app.messages["id"]
    monkeypatch.setattr(rendering, "DOCUMENT_LIMIT", 1000)
    report = Reply("📄 Laporan siaran #1: 3 penerima.", document=("siaran-1.csv", b"x" * 3 * 1024 * 1024))
    card = Reply("🔗 Tautan pribadi Anda", document=("qr.png", b"\x89PNG" + b"x" * rendering.IMAGE_LIMIT))

    [too_large] = render(report, t)
    [image_too_large] = render(card, t)

    assert too_large["type"] == "text" and rendering.UPLOAD not in too_large
    body = too_large["text"]["body"]
    assert body.startswith("📄 Laporan siaran #1") and "siaran-1.csv (3 MB) lebih besar dari batas WhatsApp" in body
    assert "batas WhatsApp (5 MB)" in image_too_large["text"]["body"]
    [small] = render(Reply("📄 Laporan", document=("siaran-1.csv", b"a,b\r\n")), t)
    assert small["type"] == "document" and small["document"] == {"caption": "📄 Laporan", "filename": "siaran-1.csv"}
    assert small[rendering.UPLOAD]["type"] == "text/plain"  # the media endpoint refuses text/csv


async def test_a_broadcast_author_on_whatsapp_gets_progress_at_milestones_and_the_report_document(
    whatsapp, db, monkeypatch
):
    monkeypatch.setattr(broadcaster_module, "PROGRESS_SECONDS", 0.0)
    workers = [whatsapp.user(name=f"Pekerja {n}", phone=f"62812000002{n:02d}") for n in range(8)]
    for worker in workers:
        await saved_on_whatsapp(worker, name=worker.user.name)
    rina = await officer_on_whatsapp(whatsapp)
    await rina.say("/siaran")
    for step in ("Siaran baru", "Lanjut"):
        await rina.tap(step)
    await rina.say("Sosialisasi BPU di balai desa, Sabtu pukul 09.00.")
    for step in ("Lewati", "Tanpa tombol", "Kirim sekarang", "Ya, kirim"):
        await rina.tap(step)
    before = len(rina.transcript)
    engine = whatsapp.runtime.broadcaster
    engine.batch = dict.fromkeys(engine.batch, 1)  # eight batches of one

    await send_campaigns(engine, steps=100)

    assert all(any("balai desa" in m.text for m in worker.transcript) for worker in workers)
    progress = [m.text for m in rina.transcript[before:] if m.text.startswith("📣 Siaran #1:")]
    percents = [int(text.splitlines()[1].split()[-1].rstrip("%")) for text in progress]
    # Started, one message in each quarter (at the first batch past it: 25% or, when several batches went out
    # between two looks, 38%), done: never one message per batch.
    assert [percent // 25 for percent in percents] == [0, 1, 2, 3, 4], percents
    assert percents[0] == 0 and percents[-1] == 100
    assert "sedang dikirim" in progress[0] and "selesai" in progress[-1]
    final = rina.transcript[-1]
    assert "Siaran #1 selesai: 8 dari 8 pesan terkirim" in final.text

    [report] = await rina.tap("Laporan CSV", final)

    assert report.kind == "document" and report.filename == "siaran-1.csv" and report.media is not None
    assert report.text == "📄 Laporan siaran #1: 8 penerima."
    rows = list(csv.DictReader(io.StringIO(report.media.content.decode("utf-8-sig")), delimiter=";"))
    assert sorted(row["nama"] for row in rows) == sorted(worker.user.name for worker in workers)


NOTICE_TEMPLATES = (*CONFIGURED_TEMPLATES, ("notice", WhatsAppTemplate("bpu_pemberitahuan", ("id",), ("text",), True)))


@pytest.mark.parametrize(
    ("whatsapp_settings", "outside"), [(NOTICE_TEMPLATES, "template"), ((), "held")], indirect=["whatsapp_settings"]
)
async def test_an_officers_notice_outside_the_24_hours_goes_as_the_notice_template_or_not_at_all(
    whatsapp, db, clock, outside
):
    whatsapp.graph.templates["bpu_pemberitahuan"] = {"id": 1}
    rina = await officer_on_whatsapp(whatsapp)
    clock.advance(hours=25)  # she has not written since she was added: her 24-hour window is closed
    await saved_on_whatsapp(whatsapp.user(name="Budi", phone="6281200000300"))  # a new lead of hers

    await whatsapp.runtime.ticker.tick()  # the new lead's notice and the daily digest

    notices = db("select kind, status, via, outcome from followups where kind = 'notice' order by id")
    if outside == "held":
        assert [tuple(n) for n in notices] == [("notice", "cancelled", None, "no_template")] * 2
        assert rina.transcript == []  # never free text outside the window
        return
    assert [tuple(n) for n in notices] == [("notice", "sent", "template", None)] * 2
    lead_notice, digest = rina.transcript
    assert lead_notice.template_name == "bpu_pemberitahuan" and "Calon peserta baru" in lead_notice.template_params[0]
    assert digest.template_name == "bpu_pemberitahuan" and "Prospek baru" in digest.template_params[0]
    assert "\n" not in digest.template_params[0]
    tasks = await rina.send(rina.user.template_tap(0, digest))  # its quick reply opens her tasks, as the button does
    assert "📞 Telepon" in whatsapp_text(tasks), "the new lead's call is due at once"
