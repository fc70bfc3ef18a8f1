"""A field officer's day, end to end: the real `bpu-bot run` and `bpu-bot` commands against the platform fakes
over HTTP on 127.0.0.1. Staff add the officer, a worker at the market scans the officer's code and leaves a lead,
the officer hears of it within seconds, calls, marks "akan daftar" with a date to check back, and later
"terdaftar"; the lead's story is in the staff's export."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeBotAPI, FakeBotAPIServer
from tests.process import rows, run_cli
from tests.test_e2e_telegram import ANSWER_TIMEOUT, Worker, assert_clean_log, button_data, serving, telegram_env

RINA, BUDI = 820_501, 820_502
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
    added = run_cli(
        ["officers", "add", "--name", "Rina Marlina", "--telegram-id", str(RINA), "--region", "Mukomuko"], env, tmp_path
    )
    assert added.returncode == 0, added.stderr
    link = run_cli(["officers", "link", "1"], env, tmp_path)
    code = link.stdout.strip().rpartition("=")[2]

    with serving(env, tmp_path, server) as bot:
        budi, rina = Worker(server, BUDI, "Budi"), Worker(server, RINA, "Rina")
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
        welcome = wait_for(server, RINA, "Anda terdaftar sebagai petugas lapangan BPU untuk Mukomuko", before)
        card = wait_for(server, RINA, "Tahap: baru", before)  # her first contact: the welcome, then the card
        assert welcome.message_id < card.message_id
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
        assert bot.stop() == 0
        assert_clean_log(bot)

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
