"""Logging for every command: one redaction over the whole record, whoever logged it, at every level.

What a log line may never hold: a token or a secret, a message a person typed, a name, an unmasked phone or
NIK. Three layers keep them out:
- our own code logs ids, counts and masked phones only;
- other libraries' loggers stay at INFO or above even at LOG_LEVEL=DEBUG, because their debug lines carry
  whole request bodies (PTB's Bot API calls and the updates they return, SQLAlchemy's statements with their
  parameters), and at WARNING where even INFO carries a secret (httpx logs each URL, and a Bot API URL holds
  the bot token);
- this formatter, over the finished message and the traceback: the configured secrets and anything shaped
  like a Bot API token, SQLAlchemy's `[parameters: ...]` and a database's `Key (...)=(...)` detail (which echo
  the values of a failed statement), and digit runs that could be a phone or a NIK.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

from bot.phone import mask_numbers

# Libraries whose records are never below INFO, and those never below WARNING (see the docstring).
_QUIET_AT_INFO = ("telegram", "aiohttp", "asyncio")
_QUIET_AT_WARNING = ("httpx", "httpcore", "apscheduler", "alembic", "sqlalchemy", "hpack")
_OWN = ("bot", "handlers", "__main__")
_BOT_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
# SQLAlchemy ends a database error with the statement's values, then a line pointing at its docs.
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background on this error|\Z))", re.DOTALL)
_KEY_DETAIL = re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already exists| is not present| conflicts|\.|$)", re.MULTILINE)
HIDDEN = "[hidden]"


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = (), fmt: str | None = None):
        super().__init__(fmt)
        # Longest first, so a secret that contains another is hidden whole. Short values would hide ordinary
        # words, and none of ours is that short.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        text = _BOT_TOKEN.sub(HIDDEN, text)
        text = _BEARER.sub(rf"\1{HIDDEN}", text)
        text = _PARAMETERS.sub(f"[parameters: {HIDDEN}]", text)
        text = _KEY_DETAIL.sub(rf"\1=({HIDDEN})", text)
        return mask_numbers(text)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        # Only the message: the time stamp in front of it is a digit run that must stay readable.
        record.message = self.redact(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802
        return self.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return self.redact(super().formatStack(stack_info))


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Log to stderr at `level` (our own loggers; see the docstring for the others), redacting `secrets`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    chosen = logging.getLevelName(level)
    logging.basicConfig(level=max(chosen, logging.INFO), handlers=[handler], force=True)
    # A failing log call would print its raw arguments to stderr, past the redaction.
    logging.raiseExceptions = False
    for name in _OWN:
        logging.getLogger(name).setLevel(chosen)
    for name in _QUIET_AT_INFO:
        logging.getLogger(name).setLevel(max(chosen, logging.INFO))
    for name in _QUIET_AT_WARNING:
        logging.getLogger(name).setLevel(max(chosen, logging.WARNING))
