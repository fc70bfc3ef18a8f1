"""Files staff and officers open in a spreadsheet: a campaign's per-recipient delivery report (CSV)."""

from __future__ import annotations

import csv
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.phone import display_phone
from bot.services.campaigns import delivery_report

REPORT_COLUMNS = (
    "number",
    "name",
    "phone",
    "region",
    "channel",
    "language",
    "status",
    "detail",
    "sent_at",
    "replied",
    "interested",
)


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula (= + - @, tab, carriage return) is kept as text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def write_delivery_report(
    session: AsyncSession, campaign_id: int, t: Translator, tz: ZoneInfo, out: TextIO
) -> int:
    """The per-recipient delivery report as CSV (RFC 4180 quoting), headers in the reader's language."""
    writer = csv.writer(out)
    writer.writerow([t(f"broadcast.column.{column}") for column in REPORT_COLUMNS])
    yes, no = t("broadcast.yes"), t("broadcast.no")
    rows = 0
    async for line in delivery_report(session, campaign_id):
        rows += 1
        delivery, contact, lead = line.delivery, line.contact, line.lead
        writer.writerow(
            spreadsheet_safe(cell)
            for cell in (
                str(rows),
                lead.name if lead else "",
                display_phone(lead.phone) if lead else "",
                lead.region if lead else "",
                contact.channel,
                contact.locale,
                t(f"broadcast.delivery.{delivery.status}"),
                delivery.outcome or "",
                delivery.sent_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if delivery.sent_at else "",
                yes if line.replied else no,
                yes if line.interested(campaign_id) else no,
            )
        )
    return rows
