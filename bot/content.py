"""The program facts, FAQ, intents and lists in content/, loaded and checked once at start-up."""

from __future__ import annotations

import csv
import functools
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
CONTENT_FILES = (
    "facts.toml",
    "faq.toml",
    "calculator.toml",
    "consent.toml",
    "regions.toml",
    "understanding.toml",
    "examples.tsv",
)
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
    topic: str  # the topic of the fact sheet it answers part of (docs/understanding.md)


@dataclass(frozen=True)
class Vocabulary:
    """content/understanding.toml: how typed words reach a label (see bot/conversation/understanding.py)."""

    words: dict[str, str]
    yes: tuple[str, ...]
    no: tuple[str, ...]
    corrections: tuple[str, ...]
    occupations: dict[str, tuple[str, ...]]
    call_times: dict[str, tuple[str, ...]]
    name_lead_ins: tuple[str, ...]
    honorifics: tuple[str, ...]
    labels: tuple[str, ...]  # in the file's order, which breaks ties
    keywords: dict[str, tuple[str, ...]]
    examples: dict[str, tuple[str, ...]]
    weak: frozenset[str]
    ignored: tuple[str, ...]  # words that say nothing about what is asked ("bpjs", "pak")


@dataclass(frozen=True)
class Content:
    facts: dict[str, Fact]
    faq: tuple[FaqEntry, ...]
    regions: tuple[str, ...]
    example_incomes: tuple[int, ...]
    smallest_typed_income: int
    largest_typed_income: int
    largest_computed_income: int
    consent_version: str  # the version of the consent text shown now, stored with every new decision
    consent_fingerprint: str
    consent_still_valid: tuple[str, ...]  # earlier versions whose decisions still count (content/consent.toml)
    vocabulary: Vocabulary
    places: dict[str, tuple[str, ...]]  # region -> the towns and short names people use for it
    days_per_month: int
    weeks_per_month: int

    def fact(self, name: str) -> Decimal:
        """The value of a fact the bot may state; an unconfirmed one is a programming error."""
        fact = self.facts[name]
        if not fact.stateable:
            raise ContentError(f"fact {name} is UNCONFIRMED and must not be used")
        return fact.value

    @property
    def consent_versions(self) -> tuple[str, ...]:
        """The versions of the consent text an agreement may have been given on and still count: the one in
        force and the earlier ones that added no purpose and no longer period."""
        return (self.consent_version, *self.consent_still_valid)

    def region_at(self, index: str) -> str | None:
        """The region a button's index names, or None for data no list of ours could have produced."""
        return self.regions[int(index)] if index.isdigit() and int(index) < len(self.regions) else None

    def with_regions(self, regions: tuple[str, ...]) -> Content:
        if not regions:
            return self
        places = {region: names for region, names in self.places.items() if region in regions}
        return Content(**{**self.__dict__, "regions": regions, "places": places})


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
    """The content of `directory`, parsed once per process while its files stay as they are: every app built
    (each test's, a command's that also reads the regions) asks for it, and parsing is most of building one."""
    return _load_content(directory, tuple(file_stamp(directory / name) for name in CONTENT_FILES))


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, to know it unchanged since it was read; None when it is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None  # reading it raises the loader's own error
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _load_content(directory: Path, stamps: tuple[tuple[int, int] | None, ...]) -> Content:
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

    faq = tuple(FaqEntry(id=item["id"], topic=item["topic"]) for item in _read(directory / "faq.toml")["faq"])
    if len({entry.id for entry in faq}) != len(faq):
        raise ContentError("faq.toml: duplicate id")

    calculator = _read(directory / "calculator.toml")
    consent = _read(directory / "consent.toml")
    regions_file = _read(directory / "regions.toml")
    regions = tuple(regions_file["regions"])
    if not regions:
        raise ContentError("regions.toml: the list of kabupaten/kota is empty")
    places = {region: tuple(names) for region, names in regions_file.get("places", {}).items()}
    if unknown := set(places) - set(regions):
        raise ContentError(f"regions.toml: places of unknown regions {sorted(unknown)}")

    return Content(
        facts=facts,
        faq=faq,
        regions=regions,
        example_incomes=tuple(int(v) for v in calculator["example_incomes"]),
        smallest_typed_income=int(calculator["smallest_typed_income"]),
        largest_typed_income=int(calculator["largest_typed_income"]),
        largest_computed_income=int(calculator["largest_computed_income"]),
        consent_version=consent["version"],
        consent_fingerprint=consent["fingerprint"],
        consent_still_valid=_still_valid(consent),
        vocabulary=load_vocabulary(directory / "understanding.toml", directory / "examples.tsv"),
        places=places,
        days_per_month=int(calculator["days_per_month"]),
        weeks_per_month=int(calculator["weeks_per_month"]),
    )


def _still_valid(consent: dict[str, Any]) -> tuple[str, ...]:
    versions = consent.get("still_valid", [])
    if not isinstance(versions, list) or not all(isinstance(version, str) for version in versions):
        raise ContentError("consent.toml: still_valid must be a list of earlier versions, as strings")
    if consent["version"] in versions:
        raise ContentError("consent.toml: still_valid lists earlier versions, not the one in force")
    return tuple(versions)


def read_examples(path: Path) -> list[tuple[str, str, str]]:
    """content/examples.tsv: (state, text, label) rows of messages as workers type them, each with what it
    means. The vocabulary is fitted to them (they train the classifier) and the tests check them all."""
    try:
        with path.open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))
    except FileNotFoundError:
        raise ContentError(f"missing content file {path}") from None
    try:
        return [(row["state"], row["text"], row["expect"]) for row in rows]
    except KeyError as error:
        raise ContentError(f"{path.name}: missing column {error}") from None


def load_vocabulary(path: Path, examples_path: Path) -> Vocabulary:
    data = _read(path)
    typed = read_examples(examples_path)
    try:
        labels = data["labels"]
        names = data["names"]
        return Vocabulary(
            words={str(k): str(v) for k, v in data["words"].items()},
            yes=tuple(data["answers"]["yes"]),
            no=tuple(data["answers"]["no"]),
            corrections=tuple(data["answers"]["corrections"]),
            occupations={k: tuple(v) for k, v in data["occupations"].items()},
            call_times={k: tuple(v) for k, v in data["call_times"].items()},
            name_lead_ins=tuple(names["lead_ins"]),
            honorifics=tuple(names["honorifics"]),
            labels=tuple(labels),
            keywords={label: tuple(entry.get("keywords", ())) for label, entry in labels.items()},
            examples={
                label: (*entry.get("examples", ()), *(text for _, text, meant in typed if meant == label))
                for label, entry in labels.items()
            },
            weak=frozenset(label for label, entry in labels.items() if entry.get("weak")),
            ignored=tuple(data["ignored"]["words"]),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ContentError(f"{path.name}: missing or wrong section {error}") from None
