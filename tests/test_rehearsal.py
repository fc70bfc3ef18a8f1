"""The rehearsal's made-up people (bot/conversation/rehearsal.py): the first one at a step walks there, the next
ones start as copies; a copy must stand exactly where a walk would have brought them, or the labelled sets
would be measured somewhere else than where workers type."""

from __future__ import annotations

import pytest

from bot.conversation.rehearsal import STEPS, Rehearsal
from bot.services.contacts import copy_contact
from tests.test_officers import RINA_ID, make_officer

WALKED = [step for step, walk in STEPS.items() if walk]


def where(db, person: str) -> tuple:
    """A person's place in the conversation and what was decided on the way, without ids or names."""
    contact = db(
        "select id, channel, locale, occupation, source_code, role, state, state_data, state_serial,"
        " messages_stopped_at is null, asked_cost_at is null from contacts where external_id = ?",
        person,
    )
    assert len(contact) == 1, f"{person} has no contact row"
    contact_id, *place = contact[0]
    consents = db(
        "select purpose, text_version, granted, typed_text from consents where contact_id = ? order by id",
        contact_id,
    )
    return tuple(place), [tuple(consent) for consent in consents]


@pytest.mark.parametrize("step", WALKED)
async def test_a_copied_person_stands_where_the_walk_brought_the_first(app, db, step):
    rehearsal = Rehearsal(app.dispatcher, prefix="r")
    copied = await rehearsal.at(step)
    again = await rehearsal.at(step)
    walked = Rehearsal(app.dispatcher, prefix="w")._walk  # the walk itself, for a person of its own
    first = await walked(step, "w-alone")

    assert where(db, copied) == where(db, first) == where(db, again)
    assert len({copied, again, first}) == 3


async def test_what_a_copy_is_told_moves_only_the_copy(app, db):
    rehearsal = Rehearsal(app.dispatcher, prefix="r")
    before = await rehearsal.at("name")
    tried = await rehearsal.tell("name", "Siti Aminah")
    after = await rehearsal.at("name")

    assert tried.state == "interest/phone"
    assert where(db, before) == where(db, after), "the next person still starts at the name step"
    assert where(db, tried.person) != where(db, after)


async def test_an_officer_is_never_copied(app, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    async with app.dispatcher.sessions.begin() as session:
        with pytest.raises(ValueError, match="role"):
            await copy_contact(session, "telegram", str(RINA_ID), "copy-of-rina", app.dispatcher.clock())

    assert db("select count(*) from contacts where external_id = 'copy-of-rina'")[0][0] == 0
