"""Settings, read once from the environment and `.env`.

This is the only module that reads the environment (DESIGN principle 5): everything else receives a
`Settings`. Invalid values raise `ConfigError` with one line that names the variable to set; the CLI turns it
into exit code 2 without a traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SUPPORTED_LOCALES = ("id", "en")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bpu-bot.sqlite3"
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
# Telegram's limits per bot (platforms.md): about 30 messages/s, 1000/s for paid broadcasts.
FREE_BROADCAST_CEILING = 30
PAID_BROADCAST_CEILING = 1000
DEFAULT_WHATSAPP_API_BASE_URL = "https://graph.facebook.com/v23.0"
# WhatsApp Cloud API: 80 messages/s per business number by default, up to 1000 once Meta upgrades it.
DEFAULT_WHATSAPP_RATE = 80.0
WHATSAPP_RATE_CEILING = 1000
WHATSAPP_VARIABLES = ("WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
# What the bot sends outside WhatsApp's 24-hour window, each through an approved template (see WhatsAppTemplate).
TEMPLATE_PURPOSES = ("reminder", "broadcast", "answer", "notice")
# Values a template's body parameters can be filled with (bot.channels.whatsapp fills them).
TEMPLATE_FIELDS = ("name", "text", "operator")

# The web server's own paths; Telegram's webhook is served on the path of TELEGRAM_WEBHOOK_URL.
HEALTH_PATH = "/health"
WHATSAPP_PATH = "/webhook/whatsapp"
DASHBOARD_PATH = "/dasbor"  # the staff dashboard (bot/web/dashboard/)
DASHBOARD_LOGIN_PATH = f"{DASHBOARD_PATH}/masuk/"  # and a one-time link's token
# Telegram's secret_token of setWebhook: 1-256 characters of these (sent back in X-Telegram-Bot-Api-Secret-Token).
_WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Token shape as issued by @BotFather: numeric bot id, colon, 35 url-safe characters (a little slack kept).
_TOKEN_RE = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{20,60}$")


class ConfigError(Exception):
    """A configuration problem a person can fix by setting one variable."""


@dataclass(frozen=True)
class Retention:
    """How long personal data is kept (whole days), as the consent text states it; the daily purge removes what
    is past its period (bot/workers/retention.py). A lead's and a chat's period runs from the last contact: the
    person's last message or the last thing an officer recorded on their lead."""

    open_lead_days: int = 180  # a lead nobody has reached yet or that is still being worked on
    ended_lead_days: int = 90  # a lead that registered or declined: after the outcome
    chat_days: int = 30  # a conversation that never became a lead
    delivery_days: int = 90  # broadcast deliveries and sent messages with their receipts
    not_understood_days: int = 30  # texts the bot did not understand (masked)
    audit_days: int = 730  # the audit log, which names no worker once they are erased
    notice_days: int = 7  # officers are told this long before one of their leads would go
    at: time = time(2, 0)  # the local time of the daily purge

    @property
    def periods(self) -> dict[str, int]:
        """The periods by kind, in the order staff read them (`bpu-bot retention show`)."""
        return {
            "open_lead": self.open_lead_days,
            "ended_lead": self.ended_lead_days,
            "chat": self.chat_days,
            "delivery": self.delivery_days,
            "message": self.delivery_days,  # sent messages and their receipts, as long as deliveries
            "not_understood": self.not_understood_days,
            "audit": self.audit_days,
        }


@dataclass(frozen=True)
class WhatsAppTemplate:
    """An approved message template: `WHATSAPP_TEMPLATE_REMINDER=bpu_pengingat:id,en:name:buttons`.

    Its name, the languages it is approved in (the worker's language when listed, else the first), the body
    parameters in order (from TEMPLATE_FIELDS), and whether its quick-reply buttons carry the message's
    choices (the template must then have as many quick replies as the message has choices, at most 3).
    """

    name: str
    languages: tuple[str, ...]
    parameters: tuple[str, ...] = ()
    buttons: bool = False

    def language_for(self, locale: str) -> str:
        return next((code for code in self.languages if code.split("_")[0] == locale), self.languages[0])


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    telegram_token: str | None = None
    telegram_base_url: str = DEFAULT_TELEGRAM_BASE_URL
    # Webhook mode (several processes behind a proxy): the public HTTPS URL Telegram posts updates to, whose
    # path the web server serves, and the secret Telegram sends with each of them. None: long polling.
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    default_locale: str = "id"
    timezone: str = "Asia/Jakarta"
    operator_name: str | None = None
    operator_contact: str | None = None
    regions: tuple[str, ...] = ()
    log_level: str = "INFO"
    # Follow-ups: reminders to the worker this many days after they left their contact, a call task for an
    # officer this many working days after, nothing sent outside the daily window (local time).
    reminder_days: tuple[int, ...] = (3, 14)
    call_after_working_days: int = 0
    send_window: tuple[time, time] = (time(8, 0), time(20, 0))
    tick_seconds: int = 30
    # The first tick after start-up (or after taking the lead): the start is done by then.
    first_tick_seconds: int = 5
    # Officers: Telegram user ids of the admins (who add officers), and the local time of officers' digest.
    admin_telegram_ids: frozenset[str] = frozenset()
    digest_time: time = time(7, 30)
    # Broadcasts: messages per second per bot. Telegram allows about 30; 25 keeps room for the conversation's
    # own replies. Paid broadcasts (allow_paid_broadcast, charged in Stars) allow up to 1000.
    broadcast_rate: float = 25.0
    broadcast_paid: bool = False
    # WhatsApp Cloud API: all four of token, number id, app secret and verify token, or none.
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_api_base_url: str = DEFAULT_WHATSAPP_API_BASE_URL
    whatsapp_rate: float = DEFAULT_WHATSAPP_RATE
    whatsapp_templates: tuple[tuple[str, WhatsAppTemplate], ...] = ()  # (purpose, template)
    # The business number as people dial it (digits, country code first): officers' wa.me links and QR codes.
    whatsapp_display_number: str | None = None
    # The web server of the webhooks and the health check.
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # The dashboard's public address as staff's browsers reach it (what its links carry); None: the web server's
    # own, http://WEB_HOST:WEB_PORT. An https address makes the session cookie Secure.
    dashboard_url: str | None = None
    retention: Retention = Retention()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None

    @property
    def whatsapp_enabled(self) -> bool:
        return self.whatsapp_token is not None

    @property
    def telegram_webhook_path(self) -> str | None:
        return urlsplit(self.telegram_webhook_url).path if self.telegram_webhook_url else None

    @property
    def web_enabled(self) -> bool:
        """Whether `bpu-bot run` serves HTTP: WhatsApp's webhook, Telegram's in webhook mode, the health check."""
        return self.whatsapp_enabled or self.telegram_webhook_url is not None

    @property
    def dashboard_base(self) -> str:
        """Where the dashboard's links point (no trailing slash): DASHBOARD_URL, or the web server's address."""
        return (self.dashboard_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def postgresql(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no log line may show: tokens, secrets and the database password (see bot/logs.py)."""
        password = urlsplit(self.database_url).password
        values = (
            self.telegram_token,
            self.telegram_token.partition(":")[2] if self.telegram_token else None,
            self.telegram_webhook_secret,
            self.whatsapp_token,
            self.whatsapp_app_secret,
            self.whatsapp_verify_token,
            password,
        )
        return tuple(value for value in values if value)

    def template(self, purpose: str) -> WhatsAppTemplate | None:
        return dict(self.whatsapp_templates).get(purpose)

    def __repr__(self) -> str:  # never print a secret, even in a traceback or a debug log
        token = "***" if self.telegram_token else None
        whatsapp = "***" if self.whatsapp_token else None
        return (
            f"Settings(database_url={_mask_url(self.database_url)!r}, telegram_token={token!r}, "
            f"whatsapp_token={whatsapp!r}, ...)"
        )


def _mask_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):([^@]+)@", r"//\1:***@", url)


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; `#` comments, `export ` prefixes and matching quotes are allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def load_settings(environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Build Settings from `.env` overlaid by the process environment (the environment wins)."""
    env: dict[str, str] = read_dotenv(dotenv) if dotenv is not None else {}
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    token = get("TELEGRAM_BOT_TOKEN")
    if token is not None and not _TOKEN_RE.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN does not look like a bot token (digits:letters from @BotFather); "
            "set it correctly or leave it empty for the terminal chat"
        )

    base_url = get("TELEGRAM_BASE_URL") or DEFAULT_TELEGRAM_BASE_URL
    _http_url(base_url, "TELEGRAM_BASE_URL", DEFAULT_TELEGRAM_BASE_URL)

    locale = get("DEFAULT_LOCALE") or "id"
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")

    timezone = get("TIMEZONE") or "Asia/Jakarta"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE {timezone!r} is not a known time zone; set e.g. Asia/Jakarta") from None

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

    regions: tuple[str, ...] = ()
    if raw_regions := get("REGIONS"):
        regions = tuple(dict.fromkeys(r.strip() for r in raw_regions.split(",") if r.strip()))
        if not regions or any(len(r) > 60 for r in regions):
            raise ConfigError("REGIONS must be a comma-separated list of kabupaten/kota names")

    reminder_days = _int_list(get("FOLLOWUP_REMINDER_DAYS") or "3,14", "FOLLOWUP_REMINDER_DAYS", "3,14")
    # 0: an officer calls a new lead the same day (the next morning when it came in after SEND_HOURS).
    call_days = _int_list(get("FOLLOWUP_CALL_WORKING_DAYS") or "0", "FOLLOWUP_CALL_WORKING_DAYS", "0")
    if len(call_days) != 1:
        raise ConfigError("FOLLOWUP_CALL_WORKING_DAYS must be one whole number of working days, such as 0 or 1")
    tick_seconds = get("TICK_SECONDS") or "30"
    if not tick_seconds.isdigit() or not 5 <= int(tick_seconds) <= 3600:
        raise ConfigError("TICK_SECONDS must be a whole number of seconds from 5 to 3600")
    first_tick = get("FIRST_TICK_SECONDS") or "5"
    if not first_tick.isdigit() or not 0 <= int(first_tick) <= 3600:
        raise ConfigError("FIRST_TICK_SECONDS must be a whole number of seconds from 0 to 3600")
    send_window = _window(get("SEND_HOURS") or "08:00-20:00")
    admins = [part.strip() for part in (get("ADMIN_TELEGRAM_IDS") or "").split(",") if part.strip()]
    if any(not (admin.isascii() and admin.isdigit()) for admin in admins):
        raise ConfigError("ADMIN_TELEGRAM_IDS must be Telegram user ids (numbers) separated by commas")
    try:
        digest_time = time.fromisoformat(get("DIGEST_TIME") or "07:30")
    except ValueError:
        raise ConfigError("DIGEST_TIME must be a local time such as 07:30") from None

    broadcast_paid = (get("BROADCAST_PAID") or "false").lower()
    if broadcast_paid not in ("true", "false"):
        raise ConfigError("BROADCAST_PAID must be true or false")
    ceiling = PAID_BROADCAST_CEILING if broadcast_paid == "true" else FREE_BROADCAST_CEILING
    hint = "" if broadcast_paid == "true" else " (up to 1000 with BROADCAST_PAID=true)"
    broadcast_rate = _rate(get("BROADCAST_RATE") or "25", "BROADCAST_RATE", ceiling, hint)

    webhook_url, webhook_secret = get("TELEGRAM_WEBHOOK_URL"), get("TELEGRAM_WEBHOOK_SECRET")
    if webhook_url is not None:
        if token is None:
            raise ConfigError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_BOT_TOKEN as well")
        _http_url(webhook_url, "TELEGRAM_WEBHOOK_URL", "https://bot.example.go.id/webhook/telegram")
        if urlsplit(webhook_url).path in ("", "/", HEALTH_PATH, WHATSAPP_PATH):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_URL needs a path of its own, such as https://bot.example.go.id/webhook/telegram"
            )
        if webhook_secret is None or not _WEBHOOK_SECRET_RE.match(webhook_secret):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET must be set with TELEGRAM_WEBHOOK_URL: 16 to 256 letters, digits, _ or -"
            )
    elif webhook_secret is not None:
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET is set without TELEGRAM_WEBHOOK_URL")

    whatsapp = _whatsapp(get)
    web_host = get("WEB_HOST") or "127.0.0.1"
    web_port = get("WEB_PORT") or "8080"
    if not web_port.isdigit() or not 1 <= int(web_port) <= 65535:
        raise ConfigError("WEB_PORT must be a TCP port number from 1 to 65535")

    dashboard_url = get("DASHBOARD_URL")
    if dashboard_url is not None:
        _http_url(dashboard_url, "DASHBOARD_URL", "https://bpu.example.go.id")
        if urlsplit(dashboard_url).path.rstrip("/") not in ("", DASHBOARD_PATH) or urlsplit(dashboard_url).query:
            raise ConfigError(
                "DASHBOARD_URL must be the address of the bot's web server (the dashboard is at /dasbor on it), "
                "such as https://bpu.example.go.id"
            )
        dashboard_url = dashboard_url.rstrip("/").removesuffix(DASHBOARD_PATH)

    operator_name = get("OPERATOR_NAME")
    if (token is not None or whatsapp["whatsapp_token"] is not None) and operator_name is None:
        # A public bot must say who runs it (UU PDP: the controller's identity); the terminal may not.
        raise ConfigError("OPERATOR_NAME is not set: the bot must tell workers who runs it")

    return Settings(
        retention=_retention(get),
        database_url=normalise_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
        telegram_token=token,
        telegram_base_url=base_url.rstrip("/"),
        telegram_webhook_url=webhook_url,
        telegram_webhook_secret=webhook_secret,
        default_locale=locale,
        timezone=timezone,
        operator_name=operator_name,
        operator_contact=get("OPERATOR_CONTACT"),
        regions=regions,
        log_level=log_level,
        reminder_days=reminder_days,
        call_after_working_days=call_days[0],
        send_window=send_window,
        tick_seconds=int(tick_seconds),
        first_tick_seconds=int(first_tick),
        admin_telegram_ids=frozenset(admins),
        digest_time=digest_time,
        broadcast_rate=broadcast_rate,
        broadcast_paid=broadcast_paid == "true",
        web_host=web_host,
        web_port=int(web_port),
        dashboard_url=dashboard_url,
        **whatsapp,
    )


# RETAIN_* variables: (setting, smallest, largest). The audit log keeps at least a year: it is the proof of who did
# what with people's data; a lead's notice must come before the shortest lead period.
_RETENTION_VARIABLES = {
    "RETAIN_OPEN_LEAD_DAYS": ("open_lead_days", 7, 3650),
    "RETAIN_ENDED_LEAD_DAYS": ("ended_lead_days", 7, 3650),
    "RETAIN_CHAT_DAYS": ("chat_days", 1, 3650),
    "RETAIN_DELIVERY_DAYS": ("delivery_days", 1, 3650),
    "RETAIN_NOT_UNDERSTOOD_DAYS": ("not_understood_days", 1, 3650),
    "RETAIN_AUDIT_DAYS": ("audit_days", 365, 3650),
    "RETENTION_NOTICE_DAYS": ("notice_days", 1, 30),
}


def _retention(get) -> Retention:
    values: dict[str, Any] = {}
    for name, (field, low, high) in _RETENTION_VARIABLES.items():
        raw = get(name)
        if raw is None:
            continue
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            raise ConfigError(f"{name} must be a whole number of days from {low} to {high}, not {raw!r}")
        values[field] = int(raw)
    retention = replace(Retention(), **values)
    if retention.notice_days >= min(retention.open_lead_days, retention.ended_lead_days):
        raise ConfigError(
            "RETENTION_NOTICE_DAYS must be fewer days than RETAIN_OPEN_LEAD_DAYS and RETAIN_ENDED_LEAD_DAYS"
        )
    try:
        at = time.fromisoformat(get("RETENTION_TIME") or "02:00")
    except ValueError:
        raise ConfigError("RETENTION_TIME must be a local time such as 02:00") from None
    return replace(retention, at=at)


def _whatsapp(get) -> dict:
    """The WhatsApp settings: the four credentials together or none of them, the API's URL, pace, templates."""
    credentials = {name: get(name) for name in WHATSAPP_VARIABLES}
    given = [name for name, value in credentials.items() if value is not None]
    if given and len(given) < len(WHATSAPP_VARIABLES):
        missing = ", ".join(name for name in WHATSAPP_VARIABLES if name not in given)
        raise ConfigError(f"WhatsApp needs {missing} as well (or none of the WHATSAPP_ variables)")
    number = credentials["WHATSAPP_PHONE_NUMBER_ID"]
    if number is not None and not (number.isascii() and number.isdigit()):
        raise ConfigError("WHATSAPP_PHONE_NUMBER_ID must be the number's id from Meta's App Dashboard (digits)")
    base_url = (get("WHATSAPP_API_BASE_URL") or DEFAULT_WHATSAPP_API_BASE_URL).rstrip("/")
    _http_url(base_url, "WHATSAPP_API_BASE_URL", DEFAULT_WHATSAPP_API_BASE_URL)
    rate = _rate(get("WHATSAPP_RATE") or str(DEFAULT_WHATSAPP_RATE), "WHATSAPP_RATE", WHATSAPP_RATE_CEILING)
    display = re.sub(r"[\s+()-]", "", get("WHATSAPP_DISPLAY_NUMBER") or "") or None
    if display is not None and not (display.isascii() and display.isdigit() and 8 <= len(display) <= 15):
        raise ConfigError("WHATSAPP_DISPLAY_NUMBER must be the business number with its country code: 6281100000000")
    templates = tuple(
        (purpose, _template(f"WHATSAPP_TEMPLATE_{purpose.upper()}", raw))
        for purpose in TEMPLATE_PURPOSES
        if (raw := get(f"WHATSAPP_TEMPLATE_{purpose.upper()}")) is not None
    )
    return {
        "whatsapp_token": credentials["WHATSAPP_TOKEN"],
        "whatsapp_phone_number_id": number,
        "whatsapp_app_secret": credentials["WHATSAPP_APP_SECRET"],
        "whatsapp_verify_token": credentials["WHATSAPP_VERIFY_TOKEN"],
        "whatsapp_api_base_url": base_url,
        "whatsapp_rate": rate,
        "whatsapp_templates": templates,
        "whatsapp_display_number": display,
    }


def _http_url(url: str, name: str, example: str) -> None:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"{name} must be an http(s) URL such as {example}")


def _rate(raw: str, name: str, ceiling: int, hint: str = "") -> float:
    """Messages per second, above 0 and at most the platform's ceiling."""
    try:
        rate = float(raw)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= ceiling:
        raise ConfigError(f"{name} must be messages per second above 0 and at most {ceiling}{hint}")
    return rate


def _template(name: str, raw: str) -> WhatsAppTemplate:
    """`bpu_pengingat:id,en:name:buttons`: name, languages, body parameters (optional), `buttons` (optional)."""
    parts = [part.strip() for part in raw.split(":")]
    usage = f"{name} must look like template_name:id[,en][:param,param][:buttons] with params from " + ", ".join(
        TEMPLATE_FIELDS
    )
    if not 2 <= len(parts) <= 4 or not re.fullmatch(r"[a-z0-9_]{1,512}", parts[0]):
        raise ConfigError(usage)
    languages = tuple(code for code in (c.strip() for c in parts[1].split(",")) if code)
    if not languages or any(not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", code) for code in languages):
        raise ConfigError(usage)
    buttons = len(parts) > 2 and parts[-1] == "buttons"
    rest = parts[2:-1] if buttons else parts[2:]
    if len(rest) > 1:
        raise ConfigError(usage)
    parameters = tuple(p.strip() for p in rest[0].split(",") if p.strip()) if rest else ()
    if any(p not in TEMPLATE_FIELDS for p in parameters):
        raise ConfigError(usage)
    return WhatsAppTemplate(parts[0], languages, parameters, buttons)


def _int_list(raw: str, name: str, example: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be whole numbers separated by commas, such as {example}") from None
    if not values or any(v < 0 or v > 365 for v in values):
        raise ConfigError(f"{name} must be whole numbers from 0 to 365, such as {example}")
    return values


def _window(raw: str) -> tuple[time, time]:
    """`08:00-20:00`: the local hours in which messages may be sent; outside them is quiet."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ConfigError("SEND_HOURS must look like 08:00-20:00 (local time, start before end)") from None
    if not start < end:
        raise ConfigError("SEND_HOURS must look like 08:00-20:00 (local time, start before end)")
    return start, end


def normalise_database_url(url: str) -> str:
    """Accept the plain SQLAlchemy spelling and pick the async driver we ship: aiosqlite for a SQLite file (the
    embedded default), asyncpg for PostgreSQL (production)."""
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            url = "postgresql+asyncpg://" + url.removeprefix(plain)
    if url.startswith("postgresql+asyncpg://") and len(url) > len("postgresql+asyncpg://"):
        return url
    if not url.startswith("sqlite+aiosqlite:///") or url.removeprefix("sqlite+aiosqlite:///") in ("", ":memory:"):
        raise ConfigError(
            "DATABASE_URL must be a SQLite file such as sqlite:///data/bpu-bot.sqlite3 "
            "or a PostgreSQL database such as postgresql://bpu:secret@db.example/bpu"
        )
    return url
