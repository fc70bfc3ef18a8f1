"""Texts from the Babel catalogs in locales/, with the program figures filled in from content/.

Messages are looked up by stable keys (``menu.title``); the Indonesian catalog holds the reference text and
English its translation. A message names figures in braces (``{jkm_monthly}``) and they are filled from the
facts file, so a figure is typed once. The catalog is chosen per contact and per update, never globally.
"""

from __future__ import annotations

import functools
import gettext
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from babel import Locale
from babel.numbers import format_currency, format_decimal

from bot.config import SUPPORTED_LOCALES, Retention
from bot.content import Content, file_stamp
from bot.contributions import compute_contributions

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
# The plural forms a counted message has, as CLDR names them: `key.one` and `key.other`. Every shipped language
# uses no others (Indonesian only `other`; every catalog still has both, so the key sets stay the same).
PLURAL_FORMS = ("one", "other")
# Days in plain words: whole years, else whole months from two on ("30 hari", not "1 bulan"), else days.
DAYS_PER_YEAR, DAYS_PER_MONTH = 365, 30
PERIOD_UNITS = ("years", "months", "days")  # consent.period.<unit>.<form>
log = logging.getLogger(__name__)


class CatalogError(Exception):
    """A shipped catalog is missing or was not compiled."""


@functools.lru_cache(maxsize=4096)  # formatting is slow next to a conversation step, and amounts repeat
def rupiah(amount: int | Decimal) -> str:
    """Rp16.800: the Indonesian format, used in every language so figures match official material."""
    whole = Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return format_currency(whole, "IDR", format="¤#,##0", locale="id_ID", currency_digits=False)


def format_fact(value: Decimal, unit: str, locale: str) -> str:
    if unit == "rupiah":
        return rupiah(value)
    if unit == "rate":
        return format_decimal(value * 100, locale=locale) + "%"
    return format_decimal(value, locale=locale)


def load_catalogs(directory: Path = LOCALES_DIR) -> dict[str, gettext.GNUTranslations]:
    """Load every shipped locale's compiled catalog, failing loudly where gettext would fall back silently.

    Read once per process while the files stay as they are (every app built asks for them); the dictionary is
    a new one each time, the catalogs in it are only ever read."""
    stamps = tuple(
        file_stamp(directory / locale / "LC_MESSAGES" / f"{DOMAIN}.{suffix}")
        for locale in SUPPORTED_LOCALES
        for suffix in ("mo", "po")
    )
    return dict(_load_catalogs(directory, stamps))


@functools.lru_cache(maxsize=4)
def _load_catalogs(directory: Path, stamps: tuple[tuple[int, int] | None, ...]) -> dict[str, gettext.GNUTranslations]:
    catalogs = {}
    for locale in SUPPORTED_LOCALES:
        mo = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        po = mo.with_suffix(".po")
        if not mo.is_file():
            raise CatalogError(f"catalog {mo} is missing: run `make compile` (pybabel compile -d locales)")
        if po.is_file() and po.stat().st_mtime > mo.stat().st_mtime:
            raise CatalogError(f"catalog {mo} is older than {po.name}: run `make compile`")
        with mo.open("rb") as file:
            catalogs[locale] = gettext.GNUTranslations(file)
    return catalogs


@dataclass
class Translator:
    """One locale's messages, with the stateable facts ready to be filled in."""

    locale: str
    catalog: gettext.GNUTranslations
    fallback: gettext.GNUTranslations
    figures: dict[str, str]

    def __call__(self, key: str, /, **values: object) -> str:
        template = self.catalog.gettext(key)
        if template == key:
            # A missing translation must never break a conversation; the catalog tests make it rare.
            log.error("message %s missing in locale %s", key, self.locale)
            template = self.fallback.gettext(key)
        try:
            return template.format_map({**self.figures, **values})
        except (KeyError, ValueError, IndexError):
            log.exception("message %s in locale %s has a placeholder that was not given", key, self.locale)
            return self.fallback.gettext(key).format_map({**self.figures, **values})

    def has(self, key: str) -> bool:
        return self.catalog.gettext(key) != key

    def counted(self, key: str, count: int, **values: object) -> str:
        """`key.one` or `key.other`, as this language says `count` of something ("1 month", "6 months"), with
        {count} filled in."""
        form = Locale.parse(self.locale).plural_form(count)
        return self(f"{key}.{form if form in PLURAL_FORMS else 'other'}", count=count, **values)

    def days(self, days: int) -> str:
        """A period in plain words: "6 bulan", "30 hari", "2 tahun" ("6 months"...)."""
        if days % DAYS_PER_YEAR == 0:
            unit, count = "years", days // DAYS_PER_YEAR
        elif days % DAYS_PER_MONTH == 0 and days >= 2 * DAYS_PER_MONTH:
            unit, count = "months", days // DAYS_PER_MONTH
        else:
            unit, count = "days", days
        return self.counted(f"consent.period.{unit}", count)


def consent_periods(t: Translator, retention: Retention) -> dict[str, str]:
    """The periods the consent text states (consent.body), in words, from the settings in force."""
    return {
        "open_lead_period": t.days(retention.open_lead_days),
        "ended_lead_period": t.days(retention.ended_lead_days),
        "chat_period": t.days(retention.chat_days),
    }


def derived_figures(content: Content) -> dict[str, str]:
    """Figures computed from the rules rather than typed: the minimum package is JKK's floor plus JKM."""
    lowest = compute_contributions(content, content.fact("min_declared_income"))
    return {
        "min_package_monthly": rupiah(lowest.mandatory),
        "min_jht_monthly": rupiah(lowest.jht),
        "min_package_with_jht": rupiah(lowest.with_jht),
    }


class Messages:
    """All locales' translators, built once at start-up."""

    def __init__(self, content: Content, catalogs: dict[str, gettext.GNUTranslations]):
        derived = derived_figures(content)
        self._translators = {
            locale: Translator(
                locale=locale,
                catalog=catalog,
                fallback=catalogs["id"],
                figures={
                    **{
                        name: format_fact(fact.value, fact.unit, locale)
                        for name, fact in content.facts.items()
                        if fact.stateable
                    },
                    **derived,
                },
            )
            for locale, catalog in catalogs.items()
        }

    def __getitem__(self, locale: str) -> Translator:
        return self._translators.get(locale) or self._translators["id"]

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._translators)
