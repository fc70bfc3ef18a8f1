"""Settings from the environment and .env: what a person can get wrong, said in one line."""

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.fakes.telegram import TEST_TOKEN

WHATSAPP = {
    "WHATSAPP_TOKEN": "EAAG-test",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_APP_SECRET": "app-secret",
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
    "OPERATOR_NAME": "Disnaker",
}
TELEGRAM = {"TELEGRAM_BOT_TOKEN": TEST_TOKEN, "OPERATOR_NAME": "Disnaker"}
SECRET = "webhook-secret-of-the-deployment"


def settings(tmp_path: Path, **environ: str):
    return load_settings(environ, dotenv=tmp_path / ".env")


def test_defaults_run_the_terminal_on_the_embedded_sqlite_file(tmp_path):
    loaded = settings(tmp_path)

    assert loaded.database_url == "sqlite+aiosqlite:///./data/bpu-bot.sqlite3"
    assert not loaded.telegram_enabled
    assert (loaded.default_locale, loaded.timezone) == ("id", "Asia/Jakarta")
    assert loaded.regions == ()
    assert (loaded.tick_seconds, loaded.first_tick_seconds) == (30, 5)


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"DATABASE_URL": "sqlite:///:memory:"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://localhost/bpu"}, "DATABASE_URL"),
        ({"TIMEZONE": "Asia/Bengkulu"}, "TIMEZONE"),
        ({"DEFAULT_LOCALE": "jv"}, "DEFAULT_LOCALE"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": TEST_TOKEN}, "OPERATOR_NAME"),
        ({"TELEGRAM_BASE_URL": "api.telegram.org"}, "TELEGRAM_BASE_URL"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"BROADCAST_RATE": "31"}, "BROADCAST_RATE"),
        ({"BROADCAST_RATE": "cepat"}, "BROADCAST_RATE"),
        ({"BROADCAST_RATE": "0"}, "BROADCAST_RATE"),
        ({"BROADCAST_PAID": "true", "BROADCAST_RATE": "1001"}, "BROADCAST_RATE"),
        ({"BROADCAST_PAID": "ya"}, "BROADCAST_PAID"),
        ({"WHATSAPP_TOKEN": "EAAG"}, "WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN"),
        ({**WHATSAPP, "OPERATOR_NAME": ""}, "OPERATOR_NAME"),
        ({**WHATSAPP, "WHATSAPP_PHONE_NUMBER_ID": "+62 811"}, "WHATSAPP_PHONE_NUMBER_ID"),
        ({**WHATSAPP, "WHATSAPP_API_BASE_URL": "graph.facebook.com"}, "WHATSAPP_API_BASE_URL"),
        ({**WHATSAPP, "WHATSAPP_RATE": "1001"}, "WHATSAPP_RATE"),
        ({**WHATSAPP, "WHATSAPP_TEMPLATE_REMINDER": "bpu_pengingat"}, "WHATSAPP_TEMPLATE_REMINDER"),
        ({**WHATSAPP, "WHATSAPP_TEMPLATE_BROADCAST": "Siaran BPU:id:text"}, "WHATSAPP_TEMPLATE_BROADCAST"),
        ({**WHATSAPP, "WHATSAPP_TEMPLATE_ANSWER": "bpu_jawaban:id:nik"}, "WHATSAPP_TEMPLATE_ANSWER"),
        ({**WHATSAPP, "WHATSAPP_TEMPLATE_ANSWER": "bpu_jawaban:indonesia:text"}, "WHATSAPP_TEMPLATE_ANSWER"),
        ({"WEB_PORT": "80800"}, "WEB_PORT"),
        ({"FIRST_TICK_SECONDS": "-1"}, "FIRST_TICK_SECONDS"),
        ({"FIRST_TICK_SECONDS": "3601"}, "FIRST_TICK_SECONDS"),
        ({"WHATSAPP_DISPLAY_NUMBER": "0811-BPJS"}, "WHATSAPP_DISPLAY_NUMBER"),
        ({"DATABASE_URL": "postgresql://"}, "DATABASE_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.go.id/tg"}, "TELEGRAM_BOT_TOKEN"),
        ({**TELEGRAM, "TELEGRAM_WEBHOOK_URL": "https://bot.example.go.id/tg"}, "TELEGRAM_WEBHOOK_SECRET"),
        (
            {**TELEGRAM, "TELEGRAM_WEBHOOK_URL": "https://bot.example.go.id/tg", "TELEGRAM_WEBHOOK_SECRET": "short"},
            "TELEGRAM_WEBHOOK_SECRET",
        ),  # fmt: skip
        (
            {**TELEGRAM, "TELEGRAM_WEBHOOK_URL": "https://bot.example.go.id", "TELEGRAM_WEBHOOK_SECRET": SECRET},
            "a path of its own",
        ),  # fmt: skip
        (
            {**TELEGRAM, "TELEGRAM_WEBHOOK_URL": "bot.example.go.id/tg", "TELEGRAM_WEBHOOK_SECRET": SECRET},
            "TELEGRAM_WEBHOOK_URL",
        ),  # fmt: skip
        ({**TELEGRAM, "TELEGRAM_WEBHOOK_SECRET": SECRET}, "without TELEGRAM_WEBHOOK_URL"),
        ({"RETAIN_CHAT_DAYS": "0"}, "RETAIN_CHAT_DAYS"),
        ({"RETAIN_OPEN_LEAD_DAYS": "6 bulan"}, "RETAIN_OPEN_LEAD_DAYS"),
        ({"RETAIN_AUDIT_DAYS": "30"}, "RETAIN_AUDIT_DAYS must be a whole number of days from 365"),
        ({"RETAIN_ENDED_LEAD_DAYS": "10", "RETENTION_NOTICE_DAYS": "14"}, "RETENTION_NOTICE_DAYS"),
        ({"RETENTION_TIME": "jam 2"}, "RETENTION_TIME"),
    ],
)
def test_invalid_values_name_the_variable_to_set(tmp_path, environ, names):
    with pytest.raises(ConfigError, match=names) as error:
        settings(tmp_path, **environ)

    assert "\n" not in str(error.value)


def test_retention_periods_have_defaults_and_are_whole_days(tmp_path):
    assert settings(tmp_path).retention.periods == {
        "open_lead": 180,
        "ended_lead": 90,
        "chat": 30,
        "delivery": 90,
        "message": 90,
        "not_understood": 30,
        "audit": 730,
    }
    chosen = settings(tmp_path, RETAIN_OPEN_LEAD_DAYS="365", RETENTION_NOTICE_DAYS="14", RETENTION_TIME="23:30")
    assert (chosen.retention.open_lead_days, chosen.retention.notice_days) == (365, 14)
    assert f"{chosen.retention.at:%H:%M}" == "23:30"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://bpu:rahasia@db.internal:5432/bpu", "postgresql+asyncpg://bpu:rahasia@db.internal:5432/bpu"),
        ("postgres://bpu@db.internal/bpu", "postgresql+asyncpg://bpu@db.internal/bpu"),
        ("postgresql+asyncpg://bpu@db.internal/bpu", "postgresql+asyncpg://bpu@db.internal/bpu"),
    ],
)
def test_postgresql_is_taken_in_its_usual_spellings_through_asyncpg(tmp_path, given, used):
    loaded = settings(tmp_path, DATABASE_URL=given)

    assert loaded.database_url == used and loaded.postgresql
    assert "rahasia" not in repr(loaded), "the password never shows"


def test_webhook_mode_serves_the_path_of_its_url_with_its_secret(tmp_path):
    loaded = settings(
        tmp_path, **TELEGRAM, TELEGRAM_WEBHOOK_URL="https://bot.example.go.id/tg/bpu", TELEGRAM_WEBHOOK_SECRET=SECRET
    )

    assert (loaded.telegram_webhook_path, loaded.web_enabled) == ("/tg/bpu", True)
    assert SECRET not in repr(loaded)


def test_the_environment_overrides_dotenv_and_regions_are_a_list(tmp_path):
    (tmp_path / ".env").write_text(
        'export DEFAULT_LOCALE="en"\n# comment\nREGIONS=Kaur, Lebong ,Kaur\nTIMEZONE=Asia/Makassar\n'
    )

    loaded = settings(tmp_path, TIMEZONE="Asia/Jayapura")

    assert (loaded.default_locale, loaded.timezone, loaded.regions) == ("en", "Asia/Jayapura", ("Kaur", "Lebong"))


def test_the_token_never_shows_in_a_repr(tmp_path):
    loaded = settings(tmp_path, TELEGRAM_BOT_TOKEN=TEST_TOKEN, OPERATOR_NAME="Disnaker")

    assert TEST_TOKEN not in repr(loaded) and TEST_TOKEN.split(":")[1] not in str(loaded)


def test_paid_broadcasts_allow_up_to_a_thousand_a_second(tmp_path):
    loaded = settings(tmp_path, BROADCAST_PAID="true", BROADCAST_RATE="900")
    assert (loaded.broadcast_paid, loaded.broadcast_rate) == (True, 900.0)
    assert settings(tmp_path).broadcast_rate == 25.0


def test_whatsapp_is_configured_by_its_four_credentials_with_meta_defaults(tmp_path):
    loaded = settings(tmp_path, **WHATSAPP)

    assert loaded.whatsapp_enabled and not loaded.telegram_enabled
    assert (loaded.whatsapp_api_base_url, loaded.whatsapp_rate) == ("https://graph.facebook.com/v23.0", 80.0)
    assert (loaded.web_host, loaded.web_port) == ("127.0.0.1", 8080)
    assert loaded.template("reminder") is None
    assert "EAAG-test" not in repr(loaded) and "app-secret" not in repr(loaded)


def test_templates_are_a_name_its_languages_its_parameters_and_its_quick_replies(tmp_path):
    loaded = settings(
        tmp_path,
        **WHATSAPP,
        WHATSAPP_TEMPLATE_REMINDER="bpu_pengingat:id,en_US:name:buttons",
        WHATSAPP_TEMPLATE_BROADCAST="bpu_siaran:id:text",
        WHATSAPP_TEMPLATE_ANSWER="bpu_jawaban:id",
    )

    reminder = loaded.template("reminder")
    assert (reminder.name, reminder.parameters, reminder.buttons) == ("bpu_pengingat", ("name",), True)
    assert (reminder.language_for("en"), reminder.language_for("id"), reminder.language_for("jv")) == (
        "en_US",
        "id",
        "id",
    )
    assert loaded.template("broadcast").parameters == ("text",) and not loaded.template("broadcast").buttons
    assert loaded.template("answer").parameters == ()
