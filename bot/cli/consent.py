"""`bpu-bot consent show PHONE`: the proof of a person's consent for an auditor (each decision's purpose, text
version, time and the words they answered with), audited."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.cli.common import CommandError, command_line_actor, database, print_table
from bot.config import Settings


def add_parser(commands: Any) -> None:
    consent = commands.add_parser("consent", help="the proof of a person's consent, for an auditor")
    consent_commands = consent.add_subparsers(dest="consent_command", required=True)
    show = consent_commands.add_parser(
        "show", help="every consent decision of the person with this phone number: version, time, words"
    )
    show.add_argument("phone", metavar="PHONE", help="their mobile number as they gave it, 08… or +62…")


def run(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_show(settings, args.phone))


async def _show(settings: Settings, typed: str) -> None:
    from bot.content import load_content
    from bot.i18n import Messages, consent_periods, load_catalogs
    from bot.models import utcnow
    from bot.phone import mask_phone, normalise_phone
    from bot.services.audit import record_event
    from bot.services.consent import consents_of_phone

    phone = normalise_phone(typed)
    if phone is None:
        raise CommandError(f"{typed!r} is not an Indonesian mobile number (08… or +62…)")
    content = load_content()
    async with database(settings) as sessions, sessions.begin() as session:
        people = await consents_of_phone(session, phone)
        await record_event(
            session, command_line_actor(), "consent", utcnow(), subject=f"phone:{mask_phone(phone)}", rows=len(people)
        )
    if not people:
        raise CommandError(f"no one has left the number {mask_phone(phone)} (erased, or never given)")
    messages = Messages(content, load_catalogs())
    for person in people:
        print(f"{person.lead.name}, {person.contact.channel}, lead {person.lead.id} ({person.contact.locale})")
        rows = [
            (
                consent.purpose,
                "granted" if consent.granted else "refused",
                consent.text_version,
                f"{consent.decided_at.astimezone(settings.tz):%Y-%m-%d %H:%M:%S %Z}",
                consent.typed_text or "(tapped the button)",
            )
            for consent in person.consents
        ]
        print_table(("PURPOSE", "DECISION", "TEXT VERSION", "AT", "ANSWERED WITH"), rows)
        if any(consent.text_version == content.consent_version for consent in person.consents):
            t = messages[person.contact.locale]
            operator = settings.operator_name or t("explain.operator_unnamed")
            shown = t("consent.body", operator=operator, **consent_periods(t, settings.retention))
            print(f"\nThe words of version {content.consent_version}, as shown to them:\n{shown}\n")
