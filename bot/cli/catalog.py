"""Which message keys the code can ask for, and the template (messages.pot) made from them.

Keys come from two places: string literals in bot/ and handlers/ that are keys (found with `ast`, as pybabel
extract does), and the families built from content (one question and answer per FAQ
entry, four texts per occupation...). `python -m bot.cli.catalog` (`make catalogs`) rewrites locales/messages.pot and
merges it into each locale's messages.po, keeping the file's own header and one line per message.
"""

from __future__ import annotations

import ast
import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.config import SUPPORTED_LOCALES
from bot.content import Content, load_content
from bot.i18n import LOCALES_DIR, PERIOD_UNITS, PLURAL_FORMS
from bot.models import (
    CampaignStatus,
    ConsentPurpose,
    DeliveryStatus,
    LeadStatus,
    Occupation,
    Receipt,
    Role,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = (ROOT / "bot", ROOT / "handlers")
# Keys in the dashboard's templates: t("dashboard.title") and the like (Jinja2, not Python: read as text).
TEMPLATE_DIRS = (ROOT / "bot" / "web" / "dashboard" / "templates",)
_TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")
# A message key is a dotted name in one of these namespaces; state names use "/" so they never look like one.
NAMESPACES = (
    "answer",
    "ask",
    "broadcast",
    "calc",
    "common",
    "consent",
    "dashboard",
    "explain",
    "export",
    "faq",
    "followup",
    "interest",
    "language",
    "menu",
    "occupation",
    "officer",
    "onboarding",
    "privacy",
    "step",
    "telegram",
    "topic",
    "understanding",
    "whatsapp",
)
_KEY = re.compile(rf"^(?:{'|'.join(NAMESPACES)})\.[a-z0-9_]+(?:\.[a-z0-9_]+)*$")


def static_keys() -> dict[str, list[tuple[str, int]]]:
    """Every string literal in the source that is a message key, with where it stands."""
    keys: dict[str, list[tuple[str, int]]] = {}
    for directory in SOURCE_DIRS:
        for path in sorted(directory.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Constant):
                    continue
                literal = node.value
                if isinstance(literal, str) and _KEY.match(literal) and not literal.endswith(".toml"):
                    keys.setdefault(literal, []).append((str(path.relative_to(ROOT)), node.lineno))
    for directory in TEMPLATE_DIRS:
        for path in sorted(directory.rglob("*.html")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                for key in _TEMPLATE_KEY.findall(line):
                    if _KEY.match(key):
                        keys.setdefault(key, []).append((str(path.relative_to(ROOT)), number))
    return keys


def content_keys(content: Content) -> set[str]:
    """Keys built at run time from content and enumerations."""
    from bot.channels.telegram.menus import MENU_COMMANDS, ROLE_COMMANDS
    from bot.services.dashboard import STEPS
    from bot.services.exports import FORMATS
    from bot.services.reports import LEAD_COLUMNS, REPORT_COLUMNS
    from bot.services.segments import CHANNELS
    from bot.services.tasks import CALL_OUTCOMES
    from bot.web.dashboard.campaigns import FIGURES as CAMPAIGN_FIGURES
    from bot.web.dashboard.campaigns import FILTERS as CAMPAIGN_FILTERS
    from bot.web.dashboard.rendering import PAGES
    from handlers.broadcast import FILTERS
    from handlers.broadcast_message import SAVED
    from handlers.explain import BENEFITS, TOPICS
    from handlers.export import FILTERS as EXPORT_FILTERS
    from handlers.export import PERIODS
    from handlers.interest import CALL_TIMES

    keys = set()
    for occupation in Occupation:
        keys |= {f"occupation.{occupation}.{part}" for part in ("label", "hello", "example", "risk")}
    for entry in content.faq:
        keys |= {f"faq.{entry.id}.q", f"faq.{entry.id}.a"}
    keys |= {f"explain.benefit.{benefit}.button" for benefit in BENEFITS}
    keys |= {f"answer.{topic}" for topic in TOPICS}
    keys |= {f"topic.{topic}.button" for topic in (*TOPICS, "human")}
    keys |= {f"interest.call_time.{c}" for c in CALL_TIMES}
    keys |= {f"interest.status.{status}" for status in LeadStatus}
    keys |= {f"officer.outcome.{outcome}" for outcome in CALL_OUTCOMES}
    keys |= {f"language.{locale}" for locale in SUPPORTED_LOCALES}
    keys |= {f"consent.period.{unit}.{form}" for unit in PERIOD_UNITS for form in PLURAL_FORMS}
    keys |= {f"privacy.purpose.{purpose}" for purpose in ConsentPurpose}
    keys |= {f"telegram.command.{name}" for names in (MENU_COMMANDS, *ROLE_COMMANDS.values()) for name in names}
    keys |= {f"broadcast.state.{state}" for state in (*CampaignStatus, "night")}
    keys |= {f"broadcast.delivery.{status}" for status in DeliveryStatus}
    keys |= {f"broadcast.receipt.{receipt}" for receipt in Receipt}
    keys |= {f"broadcast.filter.{name}" for name in FILTERS} | {f"broadcast.ask.{name}" for name in FILTERS}
    keys |= {f"broadcast.channel.{channel}" for channel in CHANNELS}
    keys |= {f"broadcast.saved.{key}.{part}" for key in SAVED for part in ("button", "text")}
    keys |= {f"broadcast.column.{column}" for column in REPORT_COLUMNS}
    keys |= {f"common.only.{role}" for role in Role if role is not Role.WORKER}
    keys |= {f"dashboard.step.{step}" for step in STEPS} | {f"dashboard.page.{page}" for page in PAGES}
    keys |= {f"dashboard.campaigns.figure.{name}" for name in CAMPAIGN_FIGURES}
    keys |= {f"dashboard.campaigns.filter.{name}" for name in CAMPAIGN_FILTERS}
    keys |= {f"dashboard.campaigns.lang.{locale}" for locale in SUPPORTED_LOCALES}
    keys |= {f"officer.role.{role}" for role in Role if role is not Role.WORKER}
    keys |= {f"export.column.{column}" for column in LEAD_COLUMNS}
    keys |= {f"export.occupation.{occupation}" for occupation in Occupation}
    keys |= {f"export.filter.{name}" for name in EXPORT_FILTERS} | {f"export.ask.{name}" for name in EXPORT_FILTERS}
    keys |= {f"export.period.{period}" for period in PERIODS} | {f"export.format.{fmt}" for fmt in FORMATS}
    return keys


def required_keys(content: Content, used: dict[str, list[tuple[str, int]]] | None = None) -> set[str]:
    """Every key the code and the content can ask for; `used`: static_keys() when the caller has it already."""
    return set(static_keys() if used is None else used) | content_keys(content)


def template(content: Content) -> Catalog:
    catalog = Catalog(project="bpu-bot", version="", msgid_bugs_address="", fuzzy=False)
    used = static_keys()
    for key in sorted(required_keys(content, used)):
        catalog.add(key, locations=used.get(key, []), flags=("python-brace-format",))
    return catalog


def update_locale(locale: str, pot: Catalog) -> None:
    """Add new keys (untranslated), drop unused ones, refresh locations; the header stays as written."""
    path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    text = path.read_text(encoding="utf-8")
    header = text[: text.index("\n\n") + 1]  # the comment and the msgid "" block
    with path.open("rb") as file:
        catalog = read_po(file, locale=locale)
    catalog.update(pot, no_fuzzy_matching=True)
    body = io.BytesIO()
    write_po(body, catalog, omit_header=True, sort_output=True, ignore_obsolete=True, width=0)
    path.write_text(header + "\n" + body.getvalue().decode("utf-8"), encoding="utf-8")


def main() -> None:
    pot = template(load_content())
    with (LOCALES_DIR / "messages.pot").open("wb") as file:
        write_po(file, pot, omit_header=True, sort_output=True)
    for locale in SUPPORTED_LOCALES:
        update_locale(locale, pot)
    print(f"wrote {LOCALES_DIR / 'messages.pot'} and merged it into {', '.join(SUPPORTED_LOCALES)}", file=sys.stderr)


if __name__ == "__main__":
    main()
