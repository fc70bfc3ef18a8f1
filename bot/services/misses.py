"""Messages the bot did not understand: kept (masked) so staff can grow the vocabulary from real use.

`bpu-bot understanding misses` lists them grouped, most frequent first; a phrase that keeps coming back
becomes a content change (content/understanding.toml), checked with `bpu-bot understand "teks"`. The rows go
with the person when they are erased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Miss
from bot.phone import DIGIT_WORDS, mask_numbers, mask_phone

TEXT_LENGTH = 300
NUMBER = "[nomor]"
# Sixteen digits or more (a NIK, an account or card number), spaces, dots or dashes between them allowed:
# nothing of it is kept.
_SEPARATOR = r"[\s.\-/_–—]"  # what people put between digit groups: 0812-3456, 0812/3456, 0812 3456
_LONG_RUN = re.compile(rf"\d(?:{_SEPARATOR}?\d){{15,}}")
# Ten digits or more: a phone number, shown the way mask_phone shows one (first 4 and last 3 digits).
_PHONE_RUN = re.compile(rf"\+?\d(?:{_SEPARATOR}?\d){{9,}}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits said as words, mixed with digit groups ("nol delapan satu dua 3456 ..."): eight or more in a row.
_SAID = r"(?:" + "|".join(DIGIT_WORDS) + r"|\d+)"
_SAID_RUN = re.compile(rf"\b{_SAID}(?:[\s.\-,]+{_SAID}){{7,}}\b", re.IGNORECASE)


@dataclass(frozen=True)
class MissGroup:
    text: str  # case-folded
    state: str
    count: int
    first_seen: datetime
    last_seen: datetime


def mask_miss(text: str) -> str:
    """The message as it may be kept: no phone number, NIK or e-mail address, one space between words, at most
    300 characters. Also what a typed consent keeps of the words typed (bot/services/consent.py)."""
    text = _EMAIL.sub("[email]", text)
    text = _LONG_RUN.sub(NUMBER, text)
    text = _PHONE_RUN.sub(lambda m: mask_phone(re.sub(r"[^\d+]", "", m.group())), text)
    text = _SAID_RUN.sub(NUMBER, text)
    text = mask_numbers(text)
    return " ".join(text.split())[:TEXT_LENGTH]


async def record_miss(session: AsyncSession, contact_id: int, state: str, text: str, now: datetime) -> None:
    if not text.strip():
        return
    session.add(Miss(contact_id=contact_id, state=state[:40], text=mask_miss(text), created_at=now))
    await session.flush()


async def grouped_misses(
    session: AsyncSession, since: datetime | None, until: datetime | None = None, limit: int | None = None
) -> list[MissGroup]:
    """The same words (in any letter case) in the same step counted together: most frequent first, then the
    ones seen last; those from `since` and before `until`, the first `limit` groups."""
    text = func.lower(Miss.text)
    count = func.count(Miss.id)
    first_seen, last_seen = func.min(Miss.created_at), func.max(Miss.created_at)
    query = select(text, Miss.state, count, first_seen, last_seen).group_by(text, Miss.state)
    if since is not None:
        query = query.where(Miss.created_at >= since)
    if until is not None:
        query = query.where(Miss.created_at < until)
    query = query.order_by(count.desc(), last_seen.desc(), text, Miss.state).limit(limit)
    rows = (await session.execute(query)).all()
    return [MissGroup(row[0], row[1], row[2], row[3], row[4]) for row in rows]


async def count_misses(session: AsyncSession, since: datetime, until: datetime) -> int:
    """How many messages were missed from `since` to before `until`, every one counted."""
    query = select(func.count()).select_from(Miss).where(Miss.created_at >= since, Miss.created_at < until)
    return (await session.execute(query)).scalar_one()
