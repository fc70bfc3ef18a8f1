"""`bpu-bot understand "teks"` and `bpu-bot understanding misses` as staff meet them on the server.

`understand` tries a message on a throwaway database of its own, so the real one is never touched;
`understanding misses` reads the real one and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import Settings
from bot.models import Contact
from bot.services.misses import record_miss
from tests.conftest import MONDAY_10_WIB, Result, command_line
from tests.test_cli import assert_one_line_error


@pytest.fixture
def bpu_bot(settings: Settings, monkeypatch, capsys, tmp_path):
    return command_line({"DATABASE_URL": settings.database_url}, monkeypatch, capsys, tmp_path)


def line_starting(result: Result, start: str) -> str:
    found = [line for line in result.stdout.splitlines() if line.startswith(start)]
    assert found, f"no line starting with {start!r} in:\n{result.stdout}"
    return found[0]


async def test_understand_shows_the_reading_and_the_answer_without_touching_the_database(bpu_bot, db):
    result = await bpu_bot("understand", "berapa iurannya", "--state", "menu")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert line_starting(result, "step: ") == "step: menu"
    assert line_starting(result, "text: ") == "text: berapa iurannya"
    assert line_starting(result, "understood: ").startswith("understood: topic:cost (phrase, score ")
    assert line_starting(result, "sure: ") == "sure: yes"
    assert line_starting(result, "runner-up: ")
    answer = result.stdout.split("the bot answers:\n", 1)[1]
    assert "Rp16.800" in answer
    assert "  [🧮 Hitung iuran]" in answer.splitlines()
    assert "rehearsal" not in result.stdout, "nothing about the made-up person"
    assert db("select count(*) from contacts")[0][0] == 0, "the real database is not used"


async def test_understand_a_typed_yes_at_the_consent_step(bpu_bot):
    result = await bpu_bot("understand", "iyo", "--state", "consent")

    assert result.returncode == 0, result.stderr
    assert line_starting(result, "understood: ").startswith("understood: answer:yes (")
    assert line_starting(result, "sure: ") == "sure: yes"


async def test_understand_at_an_unknown_step_is_one_line_naming_the_steps(bpu_bot):
    result = await bpu_bot("understand", "halo", "--state", "nowhere")

    assert_one_line_error(result, "--state", "nowhere", "menu", "consent")
    assert result.stdout == ""


async def test_understanding_misses_on_an_empty_database_says_so(bpu_bot):
    result = await bpu_bot("understanding", "misses")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no messages were missed"


async def test_understanding_misses_lists_them_masked_most_frequent_first(bpu_bot, app, db):
    async with app.dispatcher.sessions.begin() as session:
        contact = Contact(channel="telegram", external_id="700001", locale="id")
        session.add(contact)
        await session.flush()
        for text, state, when in [
            ("hubungi 0812-3456-7890 aja", "main", MONDAY_10_WIB),
            ("Kapan cair?", "main", MONDAY_10_WIB - timedelta(days=3)),
            ("kapan cair?", "main", MONDAY_10_WIB + timedelta(hours=15)),  # Tuesday, 01:00 WIB
        ]:
            await record_miss(session, contact.id, state, text, when)
    rows_before = db("select * from misses")

    result = await bpu_bot("understanding", "misses")
    since = await bpu_bot("understanding", "misses", "--since", "2026-11-22")
    bad = await bpu_bot("understanding", "misses", "--since", "22/11/2026")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["COUNT", "LAST", "SEEN", "STATE", "TEXT"]
    assert lines[1].split() == ["2", "2026-11-24", "main", "kapan", "cair?"], "local date of the latest"
    assert lines[2].split() == ["1", "2026-11-23", "main", "hubungi", "0812*****890", "aja"]
    assert "3456" not in result.stdout
    assert [line.split()[0] for line in since.stdout.splitlines()[1:]] == ["1", "1"]
    assert_one_line_error(bad, "--since", "22/11/2026")
    assert db("select * from misses") == rows_before, "read only"
