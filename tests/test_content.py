"""The facts file: every figure sourced and dated, unconfirmed ones never usable."""

import re

import pytest

from bot.content import ContentError, load_content

CONTENT = load_content()


def test_every_fact_names_its_source_and_the_day_it_was_checked():
    for name, fact in CONTENT.facts.items():
        assert len(fact.source) > 10, name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", fact.checked), name


def test_unconfirmed_facts_cannot_be_used():
    assert not CONTENT.facts["income_brackets"].stateable
    with pytest.raises(ContentError):
        CONTENT.fact("max_declared_income")


def test_the_regions_are_bengkulus_ten_and_can_be_replaced():
    assert len(CONTENT.regions) == 10 and "Mukomuko" in CONTENT.regions
    assert CONTENT.with_regions(("Kaur", "Lebong")).regions == ("Kaur", "Lebong")
    assert CONTENT.with_regions(()).regions == CONTENT.regions


def test_there_are_at_least_fifteen_faq_entries_each_reachable_by_typing():
    from bot.conversation.understanding import understanding_for

    understanding = understanding_for(CONTENT)
    assert len(CONTENT.faq) >= 15
    for entry in CONTENT.faq:
        label = f"faq:{entry.id}"
        keywords = CONTENT.vocabulary.keywords.get(label)
        if not keywords:  # answered as its topic: a topic's answer covers it
            assert f"topic:{entry.topic}" in CONTENT.vocabulary.keywords, entry.id
            continue
        reading = understanding.read(keywords[0])
        assert reading.sure and reading.label == label, (entry.id, reading.best)


def test_a_broken_content_file_is_a_clear_error(tmp_path):
    (tmp_path / "facts.toml").write_text("[jkm_monthly]\nvalue = 6800\n")

    with pytest.raises(ContentError, match="jkm_monthly"):
        load_content(tmp_path)
