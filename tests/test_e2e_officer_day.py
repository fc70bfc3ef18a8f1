"""A field officer's day, end to end: the real `bpu-bot run` and `bpu-bot` commands against the platform fakes
over HTTP on 127.0.0.1. Staff add the officer, a worker at the market scans the officer's code and leaves a lead,
the officer hears of it within seconds, calls, marks "akan daftar" with a date to check back, and later
"terdaftar"; the lead's story is in the staff's export."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from PIL import Image

from tests.fakes.telegram import FakeBotAPI, FakeBotAPIServer
from tests.fakes.whatsapp import DISPLAY_PHONE_NUMBER, FakeGraphServer, FakeWhatsAppAPI, SentWhatsApp, post_to_bot
from tests.process import catalog_text, free_port, rows, run_cli
from tests.test_e2e_telegram import ANSWER_TIMEOUT, Worker, assert_clean_log, button_data, serving, telegram_env
from tests.test_e2e_whatsapp import TEMPLATES, Chat, Site, text_of, whatsapp_env
from tests.test_e2e_whatsapp import assert_clean_log as assert_clean_whatsapp_log
from tests.test_e2e_whatsapp import serving as serving_whatsapp

RINA, BUDI = 820_501, 820_502
RINA_PHONE = "+6281311112222"
NOTICE_WITHIN = 5.0  # seconds from the worker's "save" to the officer's notice


@pytest.fixture
def server() -> Iterator[FakeBotAPIServer]:
    with FakeBotAPIServer(api=FakeBotAPI(max_poll_wait=0.25)) as server:
        yield server


def wait_for(server: FakeBotAPIServer, chat_id: int, text: str, after: int = 0):
    """The first message to the chat from index `after` on that contains `text`."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while True:
        sent = server.api.sent(chat_id)
        found = [message for message in sent[after:] if text in message.text]
        if found:
            return found[0]
        server.wait_for_sent(chat_id, len(sent) + 1, max(0.0, deadline - time.monotonic()))


def own_menu(server: FakeBotAPIServer, chat_id: int, entry: tuple[str, str]) -> list[tuple[str, str]]:
    """The chat's own command menu once it holds `entry` (the leader gives it in the background), or as it is."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while entry not in (menu := server.api.commands(chat_id=chat_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return menu


def test_on_telegram_a_lead_from_the_market_reaches_the_officer_and_ends_terdaftar(
    tmp_path: Path, server: FakeBotAPIServer
):
    # A call due now and the officer's digest due today, whatever the hour the test runs; ticks only when woken.
    env = telegram_env(tmp_path, server) | {
        "SEND_HOURS": "00:00-23:59",
        "DIGEST_TIME": "00:00",
        "FIRST_TICK_SECONDS": "3600",
        "TICK_SECONDS": "3600",
    }
    # Staff know her phone number, not her Telegram id.
    added = run_cli(
        ["officers", "add", "--name", "Rina Marlina", "--phone", RINA_PHONE, "--region", "Mukomuko"], env, tmp_path
    )
    assert added.returncode == 0, added.stderr

    with serving(env, tmp_path, server) as bot:
        budi, rina = Worker(server, BUDI, "Budi"), Worker(server, RINA, "Rina")
        assert "Staf menambahkan Anda lewat nomor HP?" in rina.command("id").text
        joined = rina.share_contact(RINA_PHONE)
        assert "Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko" in joined.text
        indonesian = ("tugas", "Tugas hari ini dan yang terlambat")
        menu = own_menu(server, RINA, indonesian)  # at once: the grant woke the leader
        assert indonesian in menu and [command for command, _ in menu][:3] == ["tugas", "cari", "kode"]
        assert "tugas" not in dict(server.api.commands()), "the default menu stays the workers'"
        rina.command("kode")  # her card, to print: its caption carries the link its QR code holds
        [card] = server.api.calls_of("sendDocument")
        code = re.search(r"start=(ptg-\w+)", card.params["caption"]).group(1)

        budi.start(code)  # scanned at the stall
        budi.tap("Nelayan")
        budi.tap("Saya tertarik")
        budi.tap("Setuju")
        budi.tap("Boleh")
        budi.say("Budi Santoso")
        budi.share_contact("+6281234567890")
        budi.tap("Mukomuko")
        budi.tap("Pagi")
        saved_at = time.monotonic()
        assert "Terima kasih, Budi Santoso" in budi.tap("Benar, simpan").text

        notice = wait_for(server, RINA, "Calon peserta baru: Budi")
        delay = time.monotonic() - saved_at
        assert delay < NOTICE_WITHIN, f"the notice took {delay:.1f} s"
        assert "🎣 Nelayan, Mukomuko" in notice.text and "🌅 Pagi" in notice.text
        digest = wait_for(server, RINA, "Ringkasan hari ini")  # the same wake-up made her day's digest
        assert "Menunggu ditelepon:\n• Budi Santoso, Mukomuko" in digest.text

        before = len(server.api.sent(RINA))
        rina.user.tap(button_data(notice, "Telepon & catat"), message_id=notice.message_id)
        card = wait_for(server, RINA, "Tahap: baru", before)
        assert "HP: +6281234567890 (0812-3456-7890)" in card.text
        rina.seen = len(server.api.sent(RINA))
        assert "Tercatat: ✅ Dihubungi" in rina.tap("Dihubungi").text
        assert "Catatan disimpan" in rina.say("Mau daftar lewat JMO setelah gajian").text

        found = rina.command("tugas")
        assert "Tidak ada tugas untuk hari ini" in found.text, "the call was made: its task is done"
        rina.last_update = rina.user.send_command("cari", "0812 3456")
        card = rina.answer()
        assert "“Mau daftar lewat JMO setelah gajian”" in card.text
        assert "Kapan saya ingatkan" in rina.tap("Akan daftar").text
        assert "Ada catatan" in rina.tap("3 hari lagi").text
        rina.tap("Lewati")

        [call] = rows("SELECT due_at, officer_id FROM followups WHERE kind = 'call' AND status = 'pending'")
        due = datetime.fromisoformat(str(call["due_at"])).replace(tzinfo=UTC)
        assert due.date() - datetime.now(UTC).date() in (timedelta(days=2), timedelta(days=3))
        assert call["officer_id"] == 1

        # Days later: he has registered.
        rina.last_update = rina.user.send_command("cari", "santoso")
        rina.answer()
        assert "Tercatat: 📝 Terdaftar" in rina.tap("Terdaftar").text
        rina.say("Sudah dapat kartu digital di JMO")
        rina.command("bahasa")
        rina.tap("English")
        english = ("tugas", "Today's tasks and overdue ones")
        assert english in own_menu(server, RINA, english), "her menu follows her language, at once"
        assert bot.stop() == 0
        assert_clean_log(bot)
    assert "81311112222" not in bot.log

    events = rows("SELECT to_status, note FROM lead_events ORDER BY id")
    assert [tuple(e) for e in events] == [
        ("dihubungi", "Mau daftar lewat JMO setelah gajian"),
        ("akan_daftar", None),
        ("terdaftar", "Sudah dapat kartu digital di JMO"),
    ]
    assert (
        rows("SELECT count(*) AS n FROM followups WHERE kind IN ('call', 'reminder') AND status = 'pending'")[0]["n"]
        == 0
    ), "registered: nothing more is due"

    # The staff's list at the end of the week: the lead's whole story in one row, as Excel in Indonesian opens it.
    exported = run_cli(["export", "leads", "--output", "minggu-ini.csv"], env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "minggu-ini.csv").open(encoding="utf-8-sig", newline="") as file:
        [budi_row] = list(csv.DictReader(file, delimiter=";"))
    assert budi_row[catalog_text("id", "export.column.status")] == "terdaftar"
    notes = budi_row[catalog_text("id", "export.column.notes")]
    assert "Mau daftar lewat JMO setelah gajian" in notes and "Sudah dapat kartu digital di JMO" in notes
    history = budi_row[catalog_text("id", "export.column.history")]
    assert history.index("dihubungi") < history.index("akan_daftar") < history.index("terdaftar"), history


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer(FakeWhatsAppAPI(templates=TEMPLATES)) as server:
        yield server


def wait_in_inbox(chat: Chat, text: str, after: int = 0) -> SentWhatsApp:
    """The first message to the WhatsApp user from index `after` on whose text or caption contains `text`."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while not (found := [m for m in chat.inbox[after:] if text in m.text]):
        assert time.monotonic() < deadline, f"no {text!r} within {ANSWER_TIMEOUT}s.\nTranscript:\n{chat.transcript}"
        time.sleep(0.02)
    return found[0]


def test_on_whatsapp_the_officer_added_by_phone_gets_the_card_the_lead_and_the_export_as_files(
    tmp_path: Path, graph: FakeGraphServer
):
    site = Site(free_port())
    env = whatsapp_env(tmp_path, graph, site) | {
        "SEND_HOURS": "00:00-23:59",
        "WHATSAPP_DISPLAY_NUMBER": DISPLAY_PHONE_NUMBER,
        "FIRST_TICK_SECONDS": "3600",
        "TICK_SECONDS": "3600",
        "DIGEST_TIME": "23:59",  # (the digest is the Telegram test's)
    }
    added = run_cli(
        ["officers", "add", "--name", "Rina Marlina", "--phone", "0813-1111-2222", "--region", "Mukomuko"],
        env,
        tmp_path,
    )
    assert added.returncode == 0, added.stderr

    with serving_whatsapp(env, tmp_path, site) as bot:
        rina = Chat(graph, site, bot, phone="6281311112222", name="Rina")
        welcome = rina.say("halo")  # her number is the one staff added
        assert "Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko" in text_of(welcome)

        rina.say("/kode")
        [card] = [m for m in rina.inbox if m.kind == "image"]
        assert card.media is not None and card.media.mime_type == "image/png"
        assert Image.open(io.BytesIO(card.media.content)).size == (1240, 1748)
        link = next(word for word in card.text.split() if word.startswith("https://wa.me/"))
        typed = parse_qs(urlsplit(link).query)["text"][0]  # what the card's QR code types for a worker

        budi = Chat(graph, site, bot, phone="6281234567890", name="Budi")
        budi.say(typed)  # scanned at the stall
        budi.tap("Nelayan")
        budi.tap("Saya tertarik")
        budi.tap("Setuju")
        budi.tap("Boleh")
        budi.say("Budi Santoso")
        budi.tap("Mukomuko")
        budi.tap("Pagi")
        seen = len(rina.inbox)
        assert text_of(budi.tap("Benar, simpan")).startswith("Terima kasih, Budi Santoso!")

        notice = wait_in_inbox(rina, "Calon peserta baru: Budi", seen)
        assert notice.titles == ["📞 Telepon & catat", "📋 Lihat tugas"]
        opened = rina.tap("Telepon & catat", notice)
        assert "HP: +6281234567890 (0812-3456-7890)" in text_of(opened)
        rina.tap("Akan daftar")
        rina.tap("3 hari lagi")
        assert "Catatan disimpan" in text_of(rina.say("Daftar lewat JMO setelah gajian"))
        rina.say("/cari budi")
        rina.tap("Terdaftar")
        rina.say("Sudah dapat kartu digital")

        form = rina.say("/ekspor")
        assert "prospek" in text_of(form)
        seen = len(rina.inbox)
        assert post_to_bot(site.webhook_url, rina.user.tap("Buat file")) == 200  # (the file may come last)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not (documents := [m for m in rina.inbox[seen:] if m.kind == "document"]):
            assert time.monotonic() < deadline, rina.transcript
            time.sleep(0.05)
        assert bot.stop() == 0
        assert_clean_whatsapp_log(bot, "+6281234567890", "+6281311112222")

    [document] = documents
    assert document.filename is not None and document.filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(document.media.content), read_only=True).active
    lines = [[str(value) if value is not None else "" for value in line] for line in sheet.iter_rows(values_only=True)]
    header = lines[0]
    [budi_row] = [dict(zip(header, line, strict=True)) for line in lines[1:] if "Budi Santoso" in line]
    assert budi_row[catalog_text("id", "export.column.status")] == "terdaftar"
    assert "Daftar lewat JMO setelah gajian" in budi_row[catalog_text("id", "export.column.notes")]
