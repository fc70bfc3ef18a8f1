"""`bpu-bot` as an operator meets it: configuration mistakes, `.env`, migrations, help.

Every mistake a person can fix ends in exit code 2 and one line on stderr that says what to set, never a
traceback. Each test runs the CLI with an environment built from scratch: one case of each kind in a fresh
process (`run_cli`, the installed entry point), the others in this process (`run_cli_here`, a third of a
second of CPU less each, the same exit code and output).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.database import SQLiteDatabase
from tests.fakes.telegram import TEST_TOKEN
from tests.process import bot_env, catalog_text, chat_lines, run_cli, run_cli_here

# Nothing listens on the discard port: if a check failed to stop the bot, it could not reach Telegram anyway.
UNREACHABLE_BOT_API = "http://127.0.0.1:9/bot"


def assert_one_line_error(result: subprocess.CompletedProcess[str], *mentions: str) -> str:
    """Exit code 2, a single `bpu-bot: error: ...` line on stderr naming what to fix, no traceback."""
    assert result.returncode == 2, f"exit code {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("bpu-bot: error: "), lines[0]
    for mention in mentions:
        assert mention in lines[0], f"{mention!r} not named in: {lines[0]}"
    return lines[0]


@pytest.mark.parametrize(
    ("variables", "named", "cli"),
    [
        pytest.param({"TIMEZONE": "Asia/Bengkulu"}, "TIMEZONE", run_cli_here, id="unknown-timezone"),
        pytest.param({"DEFAULT_LOCALE": "fr"}, "DEFAULT_LOCALE", run_cli_here, id="unsupported-locale"),
        pytest.param(
            {"TELEGRAM_BOT_TOKEN": "paste-the-token-here", "OPERATOR_NAME": "Disnaker"},
            "TELEGRAM_BOT_TOKEN",
            run_cli,  # the real process: its stderr shows no secret either
            id="malformed-token",
        ),
        pytest.param({"TELEGRAM_BOT_TOKEN": TEST_TOKEN}, "OPERATOR_NAME", run_cli_here, id="token-without-operator"),
        pytest.param({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", run_cli_here, id="not-sqlite"),
    ],
)
def test_a_configuration_mistake_is_one_line_naming_the_variable(tmp_path: Path, variables: dict, named: str, cli):
    env = bot_env(tmp_path, **{"TELEGRAM_BASE_URL": UNREACHABLE_BOT_API, **variables})

    result = cli(["run"], env, tmp_path, input="")

    line = assert_one_line_error(result, named)
    assert result.stdout == ""
    # A mistyped secret is not echoed back into logs or screenshots.
    token = variables.get("TELEGRAM_BOT_TOKEN")
    if token:
        assert token not in line


def test_a_malformed_line_in_dotenv_names_the_file_and_line(tmp_path: Path):
    (tmp_path / ".env").write_text("# settings for the pilot\nOPERATOR_NAME=Disnaker Bengkulu\nDEFAULT_LOCALE en\n")

    result = run_cli(["chat"], bot_env(tmp_path), tmp_path, input="", fresh=True)  # a new Python, as `make run`

    assert_one_line_error(result, ".env:3", "KEY=VALUE")


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "# pilot in an English-speaking demo\n"
        "\n"
        'export DEFAULT_LOCALE="en"\n'
        "OPERATOR_NAME='Disnaker Provinsi Bengkulu'\n"
    )

    # In this process: the malformed line above shows the real one reading `.env` where it is started.
    from_dotenv = run_cli_here(["chat", "--user", "ayu"], bot_env(tmp_path), tmp_path, input="")
    overridden = run_cli_here(["chat", "--user", "budi"], bot_env(tmp_path, DEFAULT_LOCALE="id"), tmp_path, input="")

    assert from_dotenv.returncode == 0, from_dotenv.stderr
    assert catalog_text("en", "onboarding.ask_occupation") in from_dotenv.stdout
    assert "run by Disnaker Provinsi Bengkulu" in from_dotenv.stdout  # quotes stripped
    assert overridden.returncode == 0, overridden.stderr
    assert "Apa pekerjaan Anda?" in overridden.stdout
    assert "dijalankan oleh Disnaker Provinsi Bengkulu" in overridden.stdout  # the rest of .env still applies


@pytest.mark.usefixtures("unmigrated_database")
def test_chat_on_a_database_never_migrated_says_to_run_db_upgrade(tmp_path: Path):
    result = run_cli_here(["chat"], bot_env(tmp_path), tmp_path, input="halo\n")  # `run` below: the real process

    assert_one_line_error(result, "bpu-bot db upgrade")
    assert result.stdout == "", "no conversation starts on a database without tables"


@pytest.mark.usefixtures("unmigrated_database")
def test_telegram_on_a_database_never_migrated_stops_before_serving(tmp_path: Path):
    env = bot_env(
        tmp_path, TELEGRAM_BOT_TOKEN=TEST_TOKEN, TELEGRAM_BASE_URL=UNREACHABLE_BOT_API, OPERATOR_NAME="Disnaker"
    )

    result = run_cli(["run"], env, tmp_path)

    # The service logs its start-up before the check, so the error is the last line rather than the only one.
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith("bpu-bot: error: ")
    assert "bpu-bot db upgrade" in result.stderr.splitlines()[-1]
    assert "serving Telegram" not in result.stderr, "it stopped before serving"


@pytest.mark.sqlite_only("the embedded default: a file and its folder")
def test_db_upgrade_creates_the_file_and_its_folder_and_can_run_again(tmp_path: Path):
    env = bot_env(tmp_path, DATABASE_URL=None)  # the default: data/bpu-bot.sqlite3 under the working directory
    database = tmp_path / "data" / "bpu-bot.sqlite3"

    first = run_cli(["db", "upgrade"], env, tmp_path, fresh=True)
    second = run_cli_here(["db", "upgrade"], env, tmp_path)  # again, in this process

    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "database is up to date"
        assert result.stderr == ""
    assert database.is_file()
    file = SQLiteDatabase(database)
    tables = {row["name"] for row in file.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"contacts", "leads", "consents", "processed_updates", "alembic_version"} <= tables
    assert len(file.rows("SELECT version_num FROM alembic_version")) == 1


def test_run_without_a_token_chats_in_the_terminal(tmp_path: Path):
    result = run_cli(["run"], bot_env(tmp_path), tmp_path, input=chat_lines("2"))

    assert result.returncode == 0, result.stderr
    assert "bukan BPJS Ketenagakerjaan" in result.stdout
    assert "  2. 🎣 Nelayan" in result.stdout
    assert "Mau tahu apa?" in result.stdout


def test_help_lists_the_commands(tmp_path: Path):
    result = run_cli_here(["--help"], bot_env(tmp_path), tmp_path)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: bpu-bot")
    described = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")}
    assert {"run", "chat", "db"} <= described, result.stdout


@pytest.mark.sqlite_only("a SQLite file's path")
@pytest.mark.parametrize(
    ("where", "command", "cli"),
    [
        pytest.param("folder-is-a-file", ["db", "upgrade"], run_cli_here, id="folder-cannot-be-created"),
        pytest.param("not-a-database", ["chat"], run_cli, id="file-is-not-sqlite"),
    ],
)
def test_a_database_path_that_cannot_work_is_one_line_naming_database_url(tmp_path: Path, where, command, cli):
    if where == "folder-is-a-file":
        (tmp_path / "data").write_text("a file where the data folder should be\n")
        database = tmp_path / "data" / "bot.sqlite3"
    else:
        database = tmp_path / "notes.txt"
        database.write_text("this is a shopping list, not a database\n" * 100)
    env = bot_env(tmp_path, DATABASE_URL=f"sqlite:///{database}")

    result = cli(command, env, tmp_path, input="")

    line = assert_one_line_error(result)
    assert "DATABASE_URL" in line or str(database) in line, line


def test_a_web_port_already_taken_is_one_line_naming_it(tmp_path):
    env = bot_env(
        tmp_path,
        WHATSAPP_TOKEN="EAAG-test",
        WHATSAPP_PHONE_NUMBER_ID="106540352242922",
        WHATSAPP_APP_SECRET="app-secret",
        WHATSAPP_VERIFY_TOKEN="verify-me",
        OPERATOR_NAME="Disnaker",
        WEB_HOST="127.0.0.1",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["WEB_PORT"] = str(taken.getsockname()[1])

        result = run_cli(["run"], env, tmp_path)

    assert_one_line_error(result, "WEB_HOST/WEB_PORT", env["WEB_PORT"], "in use")


def test_officers_link_whatsapp_prints_the_wa_me_link_and_its_qr_code_or_says_what_is_missing(tmp_path):
    env = bot_env(tmp_path, WHATSAPP_DISPLAY_NUMBER="+62 811-0000-0000")
    officer = ["officers", "add", "--name", "Rina", "--telegram-id", "700001", "--region", "Mukomuko"]
    added = run_cli_here(officer, env, tmp_path)
    code = added.stdout.split("code ")[-1].strip()

    link = run_cli_here(["officers", "link", "1", "--whatsapp", "--qr", "rina-wa.png"], env, tmp_path)
    missing = run_cli_here(["officers", "link", "1", "--whatsapp"], {**env, "WHATSAPP_DISPLAY_NUMBER": ""}, tmp_path)

    assert link.returncode == 0, link.stderr
    assert link.stdout.startswith("https://wa.me/6281100000000?text=Halo") and code in link.stdout
    assert (tmp_path / "rina-wa.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_one_line_error(missing, "WHATSAPP_DISPLAY_NUMBER")
