"""`bpu-bot consent show PHONE`: an auditor asks for a person's consent evidence and gets every decision with its
version, time and the words answered, the text of the version in force, and an audit entry; mistakes are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import OPERATOR, SYSTEM_USER, command_line, saved_lead
from tests.test_cli import assert_one_line_error
from tests.transcript import dialog


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path):
    environ = {"DATABASE_URL": settings.database_url, "OPERATOR_NAME": OPERATOR}
    return command_line(environ, monkeypatch, capsys, tmp_path, "consent")


async def test_consent_show_gives_each_decision_with_its_version_time_and_words(cli, new_chat, db):
    budi = new_chat("Budi")
    await dialog(budi).play("""
        > /start
        > [Nelayan]
        > [Saya tertarik]
        > iya saya setuju
        < bolehkah kami sesekali mengirim pengingat
    """)
    await budi.tap("Tidak usah")
    await saved_lead(new_chat("Ani"), name="Ani Lestari", phone="+6281300001111")  # someone else
    await budi.say("Budi Santoso")
    await budi.share_contact("+6281234567890")
    await budi.tap("Mukomuko")
    await budi.tap("Pagi")
    await budi.tap("Benar, simpan")

    shown = await cli("show", "0812-3456-7890")

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("Budi Santoso, telegram, lead ")
    assert lines[1].split() == ["PURPOSE", "DECISION", "TEXT", "VERSION", "AT", "ANSWERED", "WITH"]
    [contact, reminders] = lines[2:4]
    assert contact.split()[:3] == ["lead_contact", "granted", "2026-12-07.1"] and "iya saya setuju" in contact
    assert reminders.split()[:3] == ["reminders", "refused", "2026-12-07.1"] and "(tapped the button)" in reminders
    assert "Ani" not in shown.stdout
    assert "The words of version 2026-12-07.1, as shown to them:" in shown.stdout
    assert f"data disimpan oleh {OPERATOR}, bukan oleh BPJS Ketenagakerjaan" in shown.stdout
    assert "data dihapus 6 bulan setelah kontak terakhir" in shown.stdout, "the periods, as the chat shows them"
    [entry] = db("select actor, action, subject, rows, detail from audit_events where action = 'consent'")
    assert (entry["actor"], entry["subject"], entry["rows"]) == (f"cli:{SYSTEM_USER}", "phone:+628*******890", 1)
    assert json.loads(entry["detail"]) == {}


@pytest.mark.parametrize(
    ("phone", "said"), [("12345", "not an Indonesian mobile number"), ("0812-9999-0000", "no one has left the number")]
)
async def test_consent_show_of_a_bad_or_unknown_number_is_one_line(cli, phone, said):
    result = await cli("show", phone)

    assert_one_line_error(result, said)
