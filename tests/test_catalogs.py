"""Every shipped locale loads and translates every message; figures are never typed into a text."""

import hashlib
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.cli.catalog import required_keys, template
from bot.config import SUPPORTED_LOCALES
from bot.content import load_content
from bot.i18n import LOCALES_DIR, CatalogError, Messages, load_catalogs

CONTENT = load_content()
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=locale)


def messages(locale: str) -> dict[str, str]:
    return {m.id: m.string for m in catalog(locale) if m.id}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_the_code_can_ask_for_is_translated_and_nothing_else_is_shipped(locale):
    shipped = messages(locale)
    untranslated = sorted(key for key, text in shipped.items() if not text.strip())
    fuzzy = sorted(m.id for m in catalog(locale) if m.id and m.fuzzy)

    required = required_keys(CONTENT)  # every source file parsed: once
    assert sorted(required - set(shipped)) == [], "missing"
    assert sorted(set(shipped) - required) == [], "no longer used"
    assert untranslated == [] and fuzzy == []


def test_every_shipped_locale_loads_its_compiled_catalog_and_differs_from_the_others():
    catalogs = load_catalogs()

    assert set(catalogs) == set(SUPPORTED_LOCALES)
    texts = {locale: catalogs[locale].gettext("menu.title") for locale in SUPPORTED_LOCALES}
    assert all(text != "menu.title" for text in texts.values())
    assert len(set(texts.values())) == len(SUPPORTED_LOCALES), "a locale fell back to another's texts"


def test_a_missing_compiled_catalog_is_an_error_not_a_silent_fallback(tmp_path: Path):
    with pytest.raises(CatalogError, match="make compile"):
        load_catalogs(tmp_path)


def test_translations_use_the_same_placeholders_as_the_reference():
    reference = messages("id")
    for locale in SUPPORTED_LOCALES:
        for key, text in messages(locale).items():
            assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(reference[key])), (locale, key)


def test_texts_name_only_figures_the_bot_may_state():
    stateable = {name for name, fact in CONTENT.facts.items() if fact.stateable}
    unconfirmed = {name for name, fact in CONTENT.facts.items() if not fact.stateable}
    figures = set(Messages(CONTENT, load_catalogs())["id"].figures)

    assert unconfirmed and not (figures & unconfirmed)
    assert stateable <= figures
    for locale in SUPPORTED_LOCALES:
        for key, text in messages(locale).items():
            assert not (set(_PLACEHOLDER.findall(text)) & unconfirmed), (locale, key)


def test_no_rupiah_amount_or_rate_is_typed_into_a_text():
    """Figures come from content/facts.toml through placeholders, so a change of rules is one edit."""
    for locale in SUPPORTED_LOCALES:
        for key, text in messages(locale).items():
            assert not re.search(r"Rp\s?\d", text), (locale, key)
            assert not re.search(r"\d\s?%", text), (locale, key)


def test_indonesian_has_one_plural_form():
    assert catalog("id").plural_forms.replace(" ", "") == "nplurals=1;plural=0;"


def test_the_template_is_up_to_date():
    with (LOCALES_DIR / "messages.pot").open("rb") as file:
        shipped = {m.id for m in read_po(file) if m.id}

    assert shipped == {m.id for m in template(CONTENT) if m.id}, "run `make catalogs`"


def test_the_consent_version_changes_with_its_text():
    """The version stored with each agreement must identify the text that was shown: bump both together."""
    consent_texts = "".join(
        f"{locale}:{key}={text}"
        for locale in SUPPORTED_LOCALES
        for key, text in sorted(messages(locale).items())
        if key.startswith("consent.")
    )
    fingerprint = hashlib.sha256(consent_texts.encode()).hexdigest()[:16]

    assert CONTENT.consent_fingerprint == fingerprint, (
        f"consent texts changed: give content/consent.toml a new version and fingerprint = {fingerprint!r}"
    )
