"""The program facts, FAQ, intents and lists in content/, loaded and checked once at start-up."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
CONFIDENCE_LEVELS = ("HIGH", "MED-HIGH", "MED", "LOW", "UNCONFIRMED")
UNITS = ("rupiah", "rate", "number", "months", "years")


class ContentError(Exception):
    """A content file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Fact:
    name: str
    value: Decimal
    unit: str
    confidence: str
    source: str
    checked: str

    @property
    def stateable(self) -> bool:
        """The bot may state a fact unless the fact sheet could not confirm it."""
        return self.confidence != "UNCONFIRMED"


@dataclass(frozen=True)
class FaqEntry:
    id: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Content:
    facts: dict[str, Fact]
    faq: tuple[FaqEntry, ...]
    regions: tuple[str, ...]
    example_incomes: tuple[int, ...]
    smallest_typed_income: int
    largest_typed_income: int
    consent_version: str
    consent_fingerprint: str
    intents: dict[str, tuple[str, ...]]
    slang: dict[str, str]
    suffixes: tuple[str, ...]

    def fact(self, name: str) -> Decimal:
        """The value of a fact the bot may state; an unconfirmed one is a programming error."""
        fact = self.facts[name]
        if not fact.stateable:
            raise ContentError(f"fact {name} is UNCONFIRMED and must not be used")
        return fact.value

    def region_at(self, index: str) -> str | None:
        """The region a button's index names, or None for data no list of ours could have produced."""
        return self.regions[int(index)] if index.isdigit() and int(index) < len(self.regions) else None

    def with_regions(self, regions: tuple[str, ...]) -> Content:
        return Content(**{**self.__dict__, "regions": regions}) if regions else self


def match_region(name: str, regions: tuple[str, ...]) -> str | None:
    """The region as the bot spells it, for a name typed in any letter case and spacing; None if unknown."""
    typed = " ".join(name.split()).casefold()
    return next((region for region in regions if region.casefold() == typed), None)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ContentError(f"missing content file {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{path}: {error}") from None


def load_content(directory: Path = CONTENT_DIR) -> Content:
    facts: dict[str, Fact] = {}
    for name, entry in _read(directory / "facts.toml").items():
        try:
            fact = Fact(
                name=name,
                value=Decimal(str(entry["value"])),
                unit=entry["unit"],
                confidence=entry["confidence"],
                source=entry["source"],
                checked=entry["checked"],
            )
        except (KeyError, TypeError) as error:
            raise ContentError(f"facts.toml [{name}]: missing or wrong field {error}") from None
        if fact.unit not in UNITS or fact.confidence not in CONFIDENCE_LEVELS:
            raise ContentError(f"facts.toml [{name}]: unknown unit or confidence")
        facts[name] = fact

    faq = tuple(
        FaqEntry(id=item["id"], keywords=tuple(item.get("keywords", ())))
        for item in _read(directory / "faq.toml")["faq"]
    )
    if len({entry.id for entry in faq}) != len(faq):
        raise ContentError("faq.toml: duplicate id")

    calculator = _read(directory / "calculator.toml")
    consent = _read(directory / "consent.toml")
    intents = _read(directory / "intents.toml")
    regions = tuple(_read(directory / "regions.toml")["regions"])
    if not regions:
        raise ContentError("regions.toml: the list of kabupaten/kota is empty")

    return Content(
        facts=facts,
        faq=faq,
        regions=regions,
        example_incomes=tuple(int(v) for v in calculator["example_incomes"]),
        smallest_typed_income=int(calculator["smallest_typed_income"]),
        largest_typed_income=int(calculator["largest_typed_income"]),
        consent_version=consent["version"],
        consent_fingerprint=consent["fingerprint"],
        intents={name: tuple(patterns) for name, patterns in intents["intents"].items()},
        slang=dict(intents["slang"]),
        suffixes=tuple(intents["suffixes"]),
    )
