"""`bpu-bot run` end to end: the real process, unchanged, polling a fake Bot API over HTTP on 127.0.0.1.

A worker is played by `FakeUser`; everything the bot sent is in the fake server, everything it stored is in
the SQLite file, read with plain sqlite3.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest

from tests import database
from tests.fakes.telegram import TEST_TOKEN, FakeBotAPI, FakeBotAPIServer, FakeUser, SentMessage
from tests.population import seed_workers
from tests.process import BotProcess, bot_env, catalog_text, free_port, migrate, rows, run_cli, running_bot

OPERATOR = "Dinas Tenaga Kerja Provinsi Bengkulu (uji)"
# The process has to start (about 1-2 s) before its first answer; later answers are quick.
ANSWER_TIMEOUT = 15.0


@pytest.fixture
def server() -> Iterator[FakeBotAPIServer]:
    # Short long polls: the bot stops (and a dead bot's last poll ends) quickly.
    with FakeBotAPIServer(api=FakeBotAPI(max_poll_wait=0.25)) as server:
        yield server


def telegram_env(tmp_path: Path, server: FakeBotAPIServer) -> dict[str, str]:
    return bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TEST_TOKEN,
        TELEGRAM_BASE_URL=server.base_url,
        OPERATOR_NAME=OPERATOR,
        OPERATOR_CONTACT="0736-000000",
        LOG_LEVEL="INFO",
    )


@contextmanager
def serving(
    env: dict[str, str], cwd: Path, server: FakeBotAPIServer, log_name: str = "bot.log", fresh: bool = False
) -> Iterator[BotProcess]:
    """`bpu-bot run` against the fake server, once it has prepared polling (deleteWebhook comes right before)."""
    before = len(server.api.calls_of("deleteWebhook"))
    ready = lambda: len(server.api.calls_of("deleteWebhook")) > before  # noqa: E731
    with running_bot(env, cwd, log_name, ready=ready, fresh=fresh) as bot:
        yield bot


def button_data(message: SentMessage, label: str) -> str:
    """The callback data of the one button whose label contains `label`."""
    matches = [data for text, data in (button for row in message.buttons for button in row) if label in text]
    assert len(matches) == 1 and matches[0], f"no single button {label!r} on {message.text[:60]!r}: {message.labels}"
    return matches[0]


def tap_label(user: FakeUser, server: FakeBotAPIServer, label: str) -> dict:
    """Tap the button whose label contains `label` on the latest message that has buttons."""
    message = next((m for m in reversed(server.api.sent(user.user_id)) if m.buttons), None)
    assert message is not None, "the bot has sent no buttons"
    return user.tap(button_data(message, label), message_id=message.message_id)


class Answer:
    """The bot's messages in answer to one thing the worker did; it ends with a message that asks something
    (inline buttons or a reply keyboard), as every answer of this bot does."""

    def __init__(self, messages: list[SentMessage]):
        self.messages = messages

    @property
    def text(self) -> str:
        return "\n\n".join(message.text for message in self.messages)

    @property
    def last(self) -> SentMessage:
        return self.messages[-1]

    @property
    def labels(self) -> list[str]:
        return self.last.labels


class Worker:
    """A worker chatting with the bot: every action waits for the bot's answer to it and returns it."""

    def __init__(self, server: FakeBotAPIServer, user_id: int, first_name: str):
        self.server = server
        self.user = FakeUser(server.api, user_id=user_id, first_name=first_name)
        self.seen = len(server.api.sent(user_id))
        self.last_update: dict = {}  # the latest update the worker sent, as Telegram delivered it

    @property
    def chat_id(self) -> int:
        return self.user.user_id

    def answer(self, timeout: float = ANSWER_TIMEOUT) -> Answer:
        deadline = time.monotonic() + timeout
        while True:
            sent = self.server.api.sent(self.chat_id)
            new = sent[self.seen :]
            if new and (new[-1].buttons or new[-1].keyboard):
                self.seen = len(sent)
                return Answer(new)
            # Raises with the transcript when nothing more comes in time.
            self.server.wait_for_sent(self.chat_id, len(sent) + 1, max(0.0, deadline - time.monotonic()))

    def start(self, payload: str | None = None) -> Answer:
        self.last_update = self.user.send_command("start", payload)
        return self.answer()

    def command(self, name: str) -> Answer:
        self.last_update = self.user.send_command(name)
        return self.answer()

    def say(self, text: str) -> Answer:
        self.last_update = self.user.send_text(text)
        return self.answer()

    def tap(self, label: str) -> Answer:
        self.last_update = tap_label(self.user, self.server, label)
        return self.answer()

    def share_contact(self, phone: str) -> Answer:
        self.last_update = self.user.share_contact(phone)
        return self.answer()

    def send(self, media: str, *args: object) -> Answer:
        """A sticker, photo, voice note... (the FakeUser method `send_<media>`)."""
        self.last_update = getattr(self.user, f"send_{media}")(*args)
        return self.answer()

    @property
    def transcript(self) -> str:
        return self.server.api.transcript(self.chat_id)


def assert_clean_log(bot: BotProcess) -> None:
    log = bot.log
    assert "Traceback" not in log and " ERROR " not in log, log
    assert TEST_TOKEN not in log, "the bot token leaked into the log"
    assert "81234567890" not in log and "3456-7890" not in log, "a phone number reached the log unmasked"


def test_a_worker_from_an_officers_link_leaves_their_contact(tmp_path: Path, server: FakeBotAPIServer):
    env = telegram_env(tmp_path, server)
    migrate(env, tmp_path)  # what `make run` does first

    with serving(env, tmp_path, server, fresh=True) as bot:  # `python -m bot run` as an operator starts it
        budi = Worker(server, user_id=810_001, first_name="Budi")

        welcome = budi.start("PETUGAS_01")
        assert f"dijalankan oleh {OPERATOR}" in welcome.text
        assert "bukan BPJS Ketenagakerjaan" in welcome.text
        assert "Kontak penyelenggara: 0736-000000" in welcome.text
        assert [label for label, _ in welcome.last.buttons[0]] == ["🌾 Petani", "🎣 Nelayan"]
        assert {"🛒 Pedagang", "🚐 Sopir/angkot", "🛵 Mitra ojol", "👤 Lainnya"} <= set(welcome.labels)

        menu = budi.tap("🎣 Nelayan")
        assert "🎣 Melaut itu berisiko" in menu.text and "Mau tahu apa?" in menu.text
        assert {"🧮 Hitung iuran", "✋ Saya tertarik"} <= set(menu.labels)

        question = budi.say("brp iurannya")
        assert question.text.startswith("Mulai Rp16.800 per bulan")
        calculator = budi.tap("🧮 Hitung iuran")
        assert "Berapa kira-kira penghasilan Anda per bulan?" in calculator.text
        assert calculator.labels[:3] == ["Rp1.000.000", "Rp1.500.000", "Rp2.000.000"]

        result = budi.tap("Rp2.000.000")
        assert "JKK 1%: Rp20.000" in result.text and "JKM: Rp6.800" in result.text
        assert "= Rp26.800 per bulan" in result.text
        assert "✋ Saya tertarik" in result.labels

        consent = budi.tap("✋ Saya tertarik")
        assert f"data disimpan oleh {OPERATOR}, bukan oleh BPJS Ketenagakerjaan" in consent.text
        assert consent.labels == ["✅ Setuju", "❌ Tidak setuju"]

        reminders = budi.tap("✅ Setuju")
        assert "pengingat" in reminders.text and reminders.labels == ["👍 Boleh", "Tidak usah"]

        name_question = budi.tap("👍 Boleh")
        assert "Siapa nama Anda?" in name_question.text

        phone_question = budi.say("Budi Santoso")
        assert "Nomor HP berapa" in phone_question.text
        assert phone_question.last.requests_contact
        assert phone_question.last.keyboard[0] == ["📱 Kirim nomor saya"]

        region_question = budi.share_contact("6281234567890")
        recorded = region_question.messages[0]
        assert recorded.text == "Nomor 0812-3456-7890 dicatat ✓"
        assert recorded.removes_keyboard, "the share-contact keyboard is taken away"
        assert "Di kabupaten/kota mana Anda tinggal?" in region_question.last.text
        assert {"Kota Bengkulu", "Mukomuko", "Rejang Lebong"} <= set(region_question.labels)

        call_time = budi.tap("Mukomuko")
        assert "Kapan waktu yang enak" in call_time.text and "🕐 Kapan saja" in call_time.labels

        summary = budi.tap("🕐 Kapan saja")
        for line in ("👤 Nama: Budi Santoso", "📱 HP: 0812-3456-7890", "👷 Pekerjaan: 🎣 Nelayan",
                     "📍 Kabupaten/kota: Mukomuko", "🕐 Waktu ditelepon: 🕐 Kapan saja"):  # fmt: skip
            assert line in summary.text
        assert summary.labels[0] == "✅ Benar, simpan"

        thanks = budi.tap("✅ Benar, simpan")
        assert thanks.text.startswith("Terima kasih, Budi Santoso! 🙏")
        assert "Mau tahu apa?" in thanks.text and "✋ Saya tertarik" in thanks.labels

        assert bot.stop() == 0, "SIGTERM ends the bot cleanly"
        assert_clean_log(bot)

    [lead] = rows("SELECT * FROM leads")
    stored = {
        key: value
        for key, value in dict(lead).items()
        if key not in ("id", "created_at", "updated_at", "last_contact_at")
    }
    assert stored == {
        "name": "Budi Santoso",
        "phone": "+6281234567890",
        "occupation": "nelayan",
        "region": "Mukomuko",
        "call_time": "kapan",
        "status": "baru",
        "source_code": "PETUGAS_01",
        "channel": "telegram",
        "locale": "id",
        "contact_id": stored["contact_id"],
        "officer_id": None,  # no officer covers Mukomuko: the lead waits in the unassigned pool
        "expiry_warned_at": None,  # no officer was told it would go: it has just come
    }
    [contact] = rows("SELECT id, external_id, source_code, state FROM contacts")
    assert (contact["external_id"], contact["source_code"], contact["state"]) == ("810001", "PETUGAS_01", "main")
    assert contact["id"] == lead["contact_id"]
    consents = rows("SELECT purpose, granted FROM consents ORDER BY id")
    assert [tuple(c) for c in consents] == [("lead_contact", 1), ("reminders", 1)]


def test_in_webhook_mode_telegram_posts_each_update_and_one_posted_again_is_answered_once(
    tmp_path: Path, server: FakeBotAPIServer
):
    port = free_port()
    env = telegram_env(tmp_path, server) | {
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook/telegram",
        "TELEGRAM_WEBHOOK_SECRET": "rahasia-webhook-uji-e2e",
        "WEB_PORT": str(port),
    }

    with running_bot(env, tmp_path, ready=lambda: bool(server.api.calls_of("setWebhook"))) as bot:
        siti = Worker(server, user_id=810_101, first_name="Siti")
        welcome = siti.start()
        menu = siti.tap("🛒 Pedagang")
        question = siti.say("brp iurannya")
        server.api.redeliver(siti.last_update["update_id"])  # as Telegram does when it saw no 200 in time
        # The bot answers a webhook POST once it has handled the update and sent its replies (bot/web/server.py), so
        # when the update posted again has its 200, a second answer to it would already be in the fake.
        server.api.wait_until_delivered(4)
        repeated = server.api.sent(siti.chat_id)[siti.seen :]
        assert bot.stop() == 0
        log = bot.log

    assert "bukan BPJS Ketenagakerjaan" in welcome.text and "Mau tahu apa?" in menu.text
    assert question.text.startswith("Mulai Rp16.800 per bulan")
    assert repeated == [], "the update posted again is not answered again"
    assert {attempt.status for attempt in server.api.webhook_attempts} == {200}
    assert server.api.calls_of("getUpdates") == [], "no polling beside the webhook"
    assert rows("SELECT count(*) AS n FROM processed_updates")[0]["n"] == 3
    assert "serving Telegram by webhook on" in log and "Traceback" not in log


def test_the_command_menu_is_set_in_indonesian_and_english(tmp_path: Path, server: FakeBotAPIServer):
    with serving(telegram_env(tmp_path, server), tmp_path, server):
        Worker(server, user_id=810_002, first_name="Ayu").start()  # once it answers, start-up is done

    methods = [call.method for call in server.api.calls]
    assert methods[0] == "getMe" and "deleteWebhook" in methods, methods
    languages = [call.params.get("language_code") for call in server.api.calls_of("setMyCommands")]
    assert sorted(languages, key=str) == [None, "en"], "default (Indonesian) and English"
    indonesian, english = server.api.commands(), server.api.commands("en")
    assert [name for name, _ in indonesian] == ["start", "menu", "bahasa", "datasaya", "berhenti", "mulai", "hapus",
                                                "bantuan"]  # fmt: skip
    assert indonesian == [(name, catalog_text("id", f"telegram.command.{name}")) for name, _ in indonesian]
    assert english == [(name, catalog_text("en", f"telegram.command.{name}")) for name, _ in indonesian]
    assert english != indonesian


def test_kill_9_in_the_middle_of_lead_capture_then_restart_continues(tmp_path: Path, server: FakeBotAPIServer):
    env = telegram_env(tmp_path, server)
    siti = Worker(server, user_id=810_003, first_name="Siti")

    with serving(env, tmp_path, server, log_name="bot-first.log") as bot:
        siti.start("PETUGAS_01")
        siti.tap("🌾 Petani")
        siti.tap("✋ Saya tertarik")
        siti.tap("✅ Setuju")
        siti.tap("Tidak usah")
        assert "Nomor HP berapa" in siti.say("Siti Aminah").text

        bot.kill_hard()

    [contact] = rows("SELECT state, state_data FROM contacts")
    assert contact["state"] == "interest/phone" and "Siti Aminah" in contact["state_data"]
    assert rows("SELECT count(*) AS n FROM leads")[0]["n"] == 0
    # Telegram delivers again what a dead bot did not confirm: the name arrives a second time, same update id.
    # (First the dead bot's last long poll has to end on the server, or it would confirm the update away.)
    time.sleep(server.api.max_poll_wait + 0.25)
    server.api.push_update(siti.last_update)

    with serving(env, tmp_path, server, log_name="bot-second.log") as bot:
        region_question = siti.share_contact("+62 812-3456-7890")
        assert region_question.messages[0].text == "Nomor 0812-3456-7890 dicatat ✓", (
            "the phone is taken at the question where the worker stopped, and the redelivered name is not "
            "answered again"
        )
        assert "Di kabupaten/kota mana Anda tinggal?" in region_question.text
        siti.tap("Seluma")
        summary = siti.tap("🌇 Sore")
        assert "👤 Nama: Siti Aminah" in summary.text and "👷 Pekerjaan: 🌾 Petani" in summary.text
        assert siti.tap("✅ Benar, simpan").text.startswith("Terima kasih, Siti Aminah!")

        # An impatient second tap on the same summary does not save twice.
        siti.user.tap(button_data(summary.last, "✅ Benar, simpan"), message_id=summary.last.message_id)
        stale = siti.answer()
        assert "sudah tidak berlaku" in stale.text and "✋ Saya tertarik" in stale.labels
        assert bot.running
        assert_clean_log(bot)

    leads = rows("SELECT name, phone, occupation, region, call_time, source_code FROM leads")
    assert [tuple(lead) for lead in leads] == [
        ("Siti Aminah", "+6281234567890", "petani", "Seluma", "sore", "PETUGAS_01")
    ]
    consents = rows("SELECT purpose, granted FROM consents ORDER BY id")
    assert [tuple(c) for c in consents] == [("lead_contact", 1), ("reminders", 0)]


def test_stickers_photos_and_unknown_commands_get_a_friendly_answer(tmp_path: Path, server: FakeBotAPIServer):
    with serving(telegram_env(tmp_path, server), tmp_path, server) as bot:
        rina = Worker(server, user_id=810_004, first_name="Rina")
        rina.start()
        rina.tap("🛒 Pedagang")
        rina.tap("✋ Saya tertarik")
        rina.tap("✅ Setuju")
        rina.tap("👍 Boleh")

        for media, args in [("sticker", ()), ("photo", ()), ("voice", ()), ("video", ()),
                            ("location", (-3.79, 102.26)), ("document", ("ktp.jpg",))]:  # fmt: skip
            answer = rina.send(media, *args)
            assert "saya hanya bisa membaca tulisan dan tombol" in answer.text, media
            assert "Siapa nama Anda?" in answer.last.text, f"after a {media} the question is asked again"

        unknown = rina.command("kirimpulsa")
        assert "Perintah itu tidak ada" in unknown.text and "/menu" in unknown.text
        assert "Siapa nama Anda?" in unknown.last.text

        phone_question = rina.say("Rina")
        assert "Nomor HP berapa" in phone_question.text, "the conversation goes on after all that"
        assert bot.running
        assert_clean_log(bot)

    [contact] = rows("SELECT state, state_data FROM contacts")
    assert contact["state"] == "interest/phone"
    assert rows("SELECT count(*) AS n FROM leads")[0]["n"] == 0


def wait_for_text(server: FakeBotAPIServer, chat_id: int, text: str, timeout: float = ANSWER_TIMEOUT) -> SentMessage:
    """The first message to the chat containing `text`, however many others come around it."""
    deadline = time.monotonic() + timeout
    while True:
        sent = server.api.sent(chat_id)
        found = [message for message in sent if text in message.text]
        if found:
            return found[0]
        server.wait_for_sent(chat_id, len(sent) + 1, max(0.0, deadline - time.monotonic()))


def test_an_officers_answer_reaches_the_worker_at_once_not_at_the_next_tick(tmp_path: Path, server: FakeBotAPIServer):
    # An hour before the first tick and between ticks: only the wake-ups after the worker's question and the
    # officer's reply can deliver the notice and the answer in time.
    env = telegram_env(tmp_path, server) | {"TICK_SECONDS": "3600", "FIRST_TICK_SECONDS": "3600"}
    added = run_cli(
        ["officers", "add", "--name", "Rina Marlina", "--telegram-id", "820001", "--region", "Seluma"], env, tmp_path
    )
    link = run_cli(["officers", "link", "1", "--qr", "rina.png"], env, tmp_path)  # asks the fake's getMe over HTTP
    assert added.returncode == 0 and link.returncode == 0, added.stderr + link.stderr
    assert link.stdout.startswith("https://t.me/bpu_test_bot?start=ptg-")
    assert (tmp_path / "rina.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code = link.stdout.strip().rpartition("=")[2]

    with serving(env, tmp_path, server) as bot:
        rina = Worker(server, 820001, "Rina")
        wati = Worker(server, 820002, "Wati")
        wati.start(code)
        wati.tap("Pedagang")
        wati.tap("Tanya petugas")
        wati.tap("Seluma")
        sent = wati.say("Kalau saya berhenti bayar tiga bulan, apa yang terjadi?")
        assert "sudah diteruskan ke petugas wilayah Seluma" in sent.text

        # The morning digest may come too, depending on the hour the test runs: look for each message by text.
        notice = wait_for_text(server, rina.chat_id, "pertanyaan baru")
        rina.user.tap(button_data(notice, "Lihat tugas"), message_id=notice.message_id)
        listing = wait_for_text(server, rina.chat_id, "Kalau saya berhenti bayar tiga bulan")
        rina.seen = len(server.api.sent(rina.chat_id))
        rina.user.tap(button_data(listing, "Balas"), message_id=listing.message_id)
        assert "Ketik jawaban" in rina.answer().text
        replied_at = time.monotonic()
        rina.say("Kepesertaan jadi tidak aktif, Bu. Bisa aktif lagi setelah bayar. Nanti saya jelaskan.")
        answer = wati.answer(timeout=5.0)
        delay = time.monotonic() - replied_at

        assert answer.text == (
            "💬 Jawaban dari petugas Rina Marlina:\n\n"
            "Kepesertaan jadi tidak aktif, Bu. Bisa aktif lagi setelah bayar. Nanti saya jelaskan."
        )
        assert delay < 5.0, f"the answer took {delay:.1f} s"
        assert bot.stop() == 0
        assert_clean_log(bot)

    [question] = rows("SELECT status, outcome, officer_id FROM followups WHERE kind = 'question'")
    assert tuple(question) == ("done", "answered", 1)
    [contact] = rows("SELECT source_code FROM contacts WHERE external_id = '820002'")
    assert contact["source_code"] == code, "the worker is credited to Rina"


def test_staff_export_arrives_as_a_document_from_the_running_bot(tmp_path: Path, server: FakeBotAPIServer):
    env = telegram_env(tmp_path, server)
    seed_workers(database.current(), 3000, 840_000, region="Kaur")
    granted = run_cli(["roles", "set", "830001", "staff"], env, tmp_path)
    assert granted.returncode == 0, granted.stderr

    with serving(env, tmp_path, server) as bot:
        dewi = Worker(server, 830001, "Dewi")
        form = dewi.command("ekspor")
        assert "👥 3000 prospek · file Excel" in form.text
        queued = dewi.tap("Buat file")
        assert "sedang dibuat" in queued.text
        server.wait_for_sent(dewi.chat_id, dewi.seen + 1, ANSWER_TIMEOUT)  # the document
        dewi.seen += 1
        menu = dewi.command("menu")  # the bot kept answering after the export
        assert "📤 Ekspor data" in menu.labels
        assert bot.stop() == 0
        assert_clean_log(bot)

    [upload] = server.api.calls_of("sendDocument")
    assert upload.params["caption"].startswith("✅ Ekspor selesai: 3000 prospek (Excel)")
    sheet = openpyxl.load_workbook(io.BytesIO(upload.params["document"].content), read_only=True).active
    lines = list(sheet.iter_rows(values_only=True))
    assert len(lines) == 3001 and lines[1][1] == "Pekerja 840000" and lines[1][5] == "Kaur"
    [export] = rows("SELECT status, rows FROM exports")
    assert tuple(export) == ("done", 3000)
    audit = run_cli(["audit", "list", "--action", "export"], env, tmp_path)
    [entry] = [line.split() for line in audit.stdout.splitlines()[1:]]
    assert audit.returncode == 0 and entry[3:8] == ["telegram:830001", "staff", "export", "yes", "3000"], entry
