"""The dashboard's Pekerjaan figures: leads saved and registrations recorded in a period per occupation, counted by
the database, with the people erased since added from `erased_counts` the way bot/services/dashboard.py says
(months only: an erased lead counts in a period when the first day of the month it was saved lies in it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Occupation
from bot.services.dashboard import Period, leads_and_registered

NOT_CHOSEN = ""  # the line of leads with no occupation the bot knows (none stored, or a value no longer offered)


@dataclass(frozen=True)
class OccupationLine:
    occupation: str  # an Occupation, or NOT_CHOSEN
    leads: int
    registered: int


async def per_occupation(
    session: AsyncSession, period: Period, tz: ZoneInfo, regions: Sequence[str] | None = None
) -> list[OccupationLine]:
    """Leads saved and leads registered in the period per occupation, limited to `regions` (an officer's): every
    occupation in the bot's order (at zero too), then the leads without one, when there are any."""
    counts: dict[str, list[int]] = {occupation.value: [0, 0] for occupation in Occupation}
    known = set(counts)
    for occupation, leads, done in await leads_and_registered(session, period, tz, "occupation", regions):
        line = counts.setdefault(occupation if occupation in known else NOT_CHOSEN, [0, 0])
        line[0], line[1] = line[0] + leads, line[1] + done
    return [OccupationLine(occupation, leads_, done) for occupation, (leads_, done) in counts.items()]
