"""`bpu-bot run` end to end on WhatsApp: the real process, unchanged, serving its webhook on 127.0.0.1 and
sending through the Graph API fake served over HTTP (FakeGraphServer).

The test plays Meta: it signs and POSTs webhook bodies built by `FakeWhatsAppUser`. Everything the bot sent is
in the fake, everything it stored is in the SQLite file, read with plain sqlite3. An answer is complete when
the bot has processed every stored webhook event (the `webhook_events` table is empty again): the bot deletes
an event only after it sent the replies to it.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.whatsapp import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TEST_TOKEN,
    VERIFY_TOKEN,
    FakeGraphServer,
    FakeWhatsAppAPI,
    FakeWhatsAppUser,
    SentWhatsApp,
    post_to_bot,
    verify_webhook,
)
from tests.process import BotProcess, bot_env, catalog_text, free_port, migrate, rows, running_bot

OPERATOR = "Dinas Tenaga Kerja Provinsi Bengkulu (uji)"
# The process has to start (about 1-2 s) before its first answer; later answers are quick.
ANSWER_TIMEOUT = 15.0
WEBHOOK_PATH = "/webhook/whatsapp"
# The approved templates the fake knows: name -> {language: number of body parameters}.
TEMPLATES = {"bpu_pengingat": {"id": 1, "en": 1}}


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer(FakeWhatsAppAPI(templates=TEMPLATES)) as server:
        yield server


class Site:
    """Where the bot serves: its webhook and health check on 127.0.0.1."""

    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.webhook_url = self.base + WEBHOOK_PATH

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=1.0) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False


def whatsapp_env(tmp_path: Path, graph: FakeGraphServer, site: Site) -> dict[str, str]:
    """WhatsApp only (no TELEGRAM_BOT_TOKEN), the Graph API at the fake, the web server on `site`'s port."""
    return bot_env(
        tmp_path,
        WHATSAPP_TOKEN=TEST_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_API_BASE_URL=graph.base_url,
        WHATSAPP_TEMPLATE_REMINDER="bpu_pengingat:id,en:name:buttons",
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(site.port),
        OPERATOR_NAME=OPERATOR,
        OPERATOR_CONTACT="0736-000000",
        LOG_LEVEL="INFO",
    )


@contextmanager
def serving(env: dict[str, str], cwd: Path, site: Site, log_name: str = "bot.log") -> Iterator[BotProcess]:
    """`bpu-bot run`, once its health check answers 200."""
    with running_bot(env, cwd, log_name, ready=site.healthy) as bot:
        yield bot


def pending_events() -> int:
    return rows("SELECT count(*) AS n FROM webhook_events")[0]["n"]


def wait_until_processed(bot: BotProcess, timeout: float = ANSWER_TIMEOUT) -> None:
    """Until every stored webhook event was processed (its replies sent) and deleted."""
    deadline = time.monotonic() + timeout
    while pending_events():
        assert bot.running, f"the bot exited with code {bot.process.returncode}"
        assert time.monotonic() < deadline, f"webhook events still stored after {timeout}s"
        time.sleep(0.02)


class Chat:
    """A WhatsApp user chatting with the running bot: each action waits for the bot's answer to it."""

    def __init__(self, graph: FakeGraphServer, site: Site, bot: BotProcess, **user: object):
        self.graph = graph
        self.site = site
        self.bot = bot
        self.user = FakeWhatsAppUser(graph.api, **user)

    @property
    def inbox(self) -> list[SentWhatsApp]:
        return self.user.inbox()

    def send(self, payload: dict) -> list[SentWhatsApp]:
        before = len(self.inbox)
        assert post_to_bot(self.site.webhook_url, payload) == 200
        wait_until_processed(self.bot)
        answer = self.inbox[before:]
        assert answer, f"no answer.\nTranscript:\n{self.transcript}"
        assert answer[-1].kind in ("buttons", "list"), f"the answer asks nothing.\nTranscript:\n{self.transcript}"
        return answer

    def say(self, text: str) -> list[SentWhatsApp]:
        return self.send(self.user.text(text))

    def tap(self, title: str, message: SentWhatsApp | None = None) -> list[SentWhatsApp]:
        return self.send(self.user.tap(title, message))

    @property
    def transcript(self) -> str:
        return self.graph.api.transcript(self.user.user_id)


def text_of(messages: list[SentWhatsApp]) -> str:
    return "\n\n".join(message.text for message in messages)


def titles_of(messages: list[SentWhatsApp]) -> list[str]:
    return [title for message in messages for title in message.titles]


def assert_clean_log(bot: BotProcess, *phones: str) -> None:
    log = bot.log
    assert "Traceback" not in log and " ERROR " not in log, log
    for phone in phones:
        digits = re.sub(r"\D", "", phone)
        for shown in {phone, digits, digits.removeprefix("62"), "0" + digits.removeprefix("62")}:
            assert shown not in log, f"{shown} is in the log in clear:\n{log}"


def test_a_worker_on_whatsapp_leaves_their_contact_with_the_phone_whatsapp_gives(
    tmp_path: Path, graph: FakeGraphServer
):
    site = Site(free_port())
    env = whatsapp_env(tmp_path, graph, site)
    migrate(env, tmp_path)  # what `make run` does first

    with serving(env, tmp_path, site) as bot:
        budi = Chat(graph, site, bot, phone="6281234567890", name="Budi")

        welcome = budi.say("halo")
        assert f"dijalankan oleh {OPERATOR}" in text_of(welcome)
        assert "bukan BPJS Ketenagakerjaan" in text_of(welcome)
        occupations = welcome[0]  # then "Halo juga!" and the menu: "halo" is understood as well
        assert occupations.kind == "list"
        assert {"🌾 Petani", "🎣 Nelayan", "🛒 Pedagang", "🛵 Mitra ojol"} <= set(occupations.titles)

        menu = budi.tap("Nelayan", occupations)
        assert "🎣 Melaut itu berisiko" in text_of(menu) and "Rp16.800" in text_of(menu)
        assert "✋ Saya tertarik" in titles_of(menu)

        question = budi.say("brp iurannya")
        assert text_of(question).startswith("Mulai Rp16.800 per bulan")
        calculator = budi.tap("Hitung iuran")
        assert "Berapa kira-kira penghasilan Anda per bulan?" in text_of(calculator)
        result = budi.say("2,5 juta")
        assert "JKK 1%: Rp25.000" in text_of(result) and "JKM: Rp6.800" in text_of(result)
        assert "✋ Saya tertarik" in titles_of(result)

        consent = budi.tap("Saya tertarik")
        assert f"data disimpan oleh {OPERATOR}, bukan oleh BPJS Ketenagakerjaan" in text_of(consent)
        assert consent[-1].kind == "buttons" and consent[-1].titles == ["✅ Setuju", "❌ Tidak setuju"]
        reminders = budi.tap("Setuju")
        assert "pengingat" in text_of(reminders)
        assert "Siapa nama Anda?" in text_of(budi.tap("Boleh"))

        region_question = budi.say("Budi Santoso")
        taken = catalog_text("id", "interest.phone_from_platform").replace("{phone}", "0812-3456-7890")
        assert taken in text_of(region_question), "the phone is taken from WhatsApp, and the bot says so"
        assert "Nomor HP berapa" not in text_of(region_question), "the phone is not asked"
        assert "Di kabupaten/kota mana Anda tinggal?" in text_of(region_question)
        assert {"Kota Bengkulu", "Mukomuko"} <= set(titles_of(region_question))

        call_time = budi.tap("Mukomuko")
        assert "Kapan waktu yang enak" in text_of(call_time)
        summary = budi.tap("Pagi")
        for line in ("👤 Nama: Budi Santoso", "📱 HP: 0812-3456-7890", "👷 Pekerjaan: 🎣 Nelayan",
                     "📍 Kabupaten/kota: Mukomuko"):  # fmt: skip
            assert line in text_of(summary)
        thanks = budi.tap("Benar, simpan")
        assert text_of(thanks).startswith("Terima kasih, Budi Santoso! 🙏")
        assert "✋ Saya tertarik" in titles_of(thanks)

        assert bot.stop() == 0, "SIGTERM ends the bot cleanly"
        assert "serving the WhatsApp webhook" in bot.log
        assert_clean_log(bot, "+6281234567890")

    [lead] = rows("SELECT * FROM leads")
    assert (lead["name"], lead["phone"], lead["channel"], lead["region"]) == (
        "Budi Santoso",
        "+6281234567890",
        "whatsapp",
        "Mukomuko",
    )
    assert (lead["occupation"], lead["call_time"], lead["status"]) == ("nelayan", "pagi", "baru")
    [contact] = rows("SELECT id, channel, external_id, state FROM contacts")
    assert (contact["channel"], contact["external_id"]) == ("whatsapp", budi.user.user_id), "keyed by the BSUID"
    assert contact["external_id"].startswith("ID.") and contact["id"] == lead["contact_id"]
    consents = rows("SELECT purpose, granted FROM consents ORDER BY id")
    assert [tuple(c) for c in consents] == [("lead_contact", 1), ("reminders", 1)]
    assert pending_events() == 0


def test_the_webhook_answers_metas_verification_and_refuses_unsigned_or_forged_posts(
    tmp_path: Path, graph: FakeGraphServer
):
    site = Site(free_port())
    with serving(whatsapp_env(tmp_path, graph, site), tmp_path, site) as bot:
        assert verify_webhook(site.webhook_url, challenge="1158201444") == (200, "1158201444")
        assert verify_webhook(site.webhook_url, verify_token="wrong")[0] == 403

        intruder = FakeWhatsAppUser(graph.api, phone="6281111111111", name="Palsu")
        assert post_to_bot(site.webhook_url, intruder.text("halo"), signature="bad") == 403
        assert post_to_bot(site.webhook_url, intruder.text("halo"), signature="missing") == 401
        assert pending_events() == 0, "nothing refused is stored"

        # A signed message afterwards is answered; by then anything stored before it would have been too.
        ayu = Chat(graph, site, bot, phone="6282222222222", name="Ayu")
        assert "bukan BPJS Ketenagakerjaan" in text_of(ayu.say("halo"))
        assert intruder.inbox() == [], "a refused POST is not processed"
        assert [tuple(c) for c in rows("SELECT external_id FROM contacts")] == [(ayu.user.user_id,)]
        assert bot.stop() == 0
        assert "wrong signature was refused" in bot.log
        assert_clean_log(bot, "+6281111111111", "+6282222222222")


def test_status_callbacks_after_a_conversation_are_answered_200_and_processed(tmp_path: Path, graph: FakeGraphServer):
    site = Site(free_port())
    with serving(whatsapp_env(tmp_path, graph, site), tmp_path, site) as bot:
        rina = Chat(graph, site, bot, phone="6283333333333", name="Rina")
        welcome = rina.say("halo")
        rina.tap("Pedagang", welcome[0])
        rina.tap("Saya tertarik")
        sent = len(graph.api.sent())

        # sent, delivered and read for each message, shuffled, two statuses to a body, as Meta may batch them.
        answers = graph.api.deliver_statuses(site.webhook_url, order="shuffle", per_body=2)
        assert len(answers) == (3 * sent + 1) // 2 and set(answers) == {200}
        wait_until_processed(bot)

        assert "Siapa nama Anda?" in text_of(rina.tap("Setuju") + rina.tap("Boleh")), "the conversation goes on"
        assert bot.stop() == 0
        assert_clean_log(bot, "+6283333333333")


BURST = 40  # workers writing at the same moment; the bot paces its replies to 80 messages/s
KILL_TIMEOUT = 5.0


def wait_for_contacts(count: int, timeout: float = KILL_TIMEOUT) -> None:
    """Until the bot has taken `count` people in (their first turn is committed): it is processing."""
    deadline = time.monotonic() + timeout
    while rows("SELECT count(*) AS n FROM contacts")[0]["n"] < count:
        assert time.monotonic() < deadline, f"fewer than {count} contacts after {timeout}s"
        time.sleep(0.002)


def test_kill_9_right_after_answering_200_loses_no_reply_but_those_on_their_way_and_sends_none_twice(
    tmp_path: Path, graph: FakeGraphServer
):
    site = Site(free_port())
    env = whatsapp_env(tmp_path, graph, site)
    users = [FakeWhatsAppUser(graph.api, phone=f"62813{n:08d}", name=f"Pekerja {n}") for n in range(BURST)]
    bodies = [user.text("halo") for user in users]

    with serving(env, tmp_path, site, log_name="bot-first.log") as bot:
        # How many messages the welcome is, from one worker before the burst.
        first = Chat(graph, site, bot, phone="6281399999999", name="Pertama")
        welcome_size = len(first.say("halo"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            answered = list(pool.map(lambda body: post_to_bot(site.webhook_url, body), bodies))
        # Right after the last 200, while the bot is processing the burst (half of it taken in): some messages
        # are still only stored, some being processed or answered, some answered.
        wait_for_contacts(1 + BURST // 2)
        bot.kill_hard()
        assert_clean_log(bot, *(user.phone for user in users))
    assert answered == [200] * BURST, "each POST was stored and answered before the kill"
    stored = pending_events()
    before_restart = sum(1 for user in users if user.inbox())

    with serving(env, tmp_path, site, log_name="bot-second.log") as bot:
        wait_until_processed(bot)
        time.sleep(0.3)  # a reply sent after the events were deleted would show up now
        counts = {user.user_id: len(user.inbox()) for user in users}
        assert bot.stop() == 0
        assert_clean_log(bot, *(user.phone for user in users))

    dropped = re.findall(r"(\d+) replies were being sent when the bot \(or the last leader\) stopped", bot.log)
    in_flight = int(dropped[0]) if dropped else 0
    missing = sum(max(0, welcome_size - count) for count in counts.values())
    duplicated = [user_id for user_id, count in counts.items() if count > welcome_size]
    context = (
        f"{stored} of {BURST} events were still stored at the kill; {before_restart} workers had had (part of) "
        f"their answer before it; the welcome is {welcome_size} message(s); {in_flight} were on their way"
    )
    assert not duplicated, f"{len(duplicated)} workers got their answer twice ({context})"
    assert rows("SELECT count(*) AS n FROM contacts")[0]["n"] == BURST + 1
    # Every reply arrived, except at most those on their way at the kill (claimed, never sent twice).
    assert missing <= in_flight, f"{missing} messages never arrived ({context})"
    assert in_flight <= 4, f"the in-flight window is the requests on the wire, not the queue ({context})"
