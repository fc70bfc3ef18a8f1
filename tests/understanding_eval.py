"""The labelled sets of what workers type, driven through the real conversation and scored.

Each row is typed by a new person at its step (bot/conversation/rehearsal.py); what counts is what the worker gets: the
answer's first line for a topic, the rows written for a consent, a lead's fields in the step's data, STOP
honoured, a cancel that leaves nothing behind. Used by tests/test_understanding.py and, to print the
figures and every miss, by `python -m tests.understanding_eval [FILE...]`.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from bot.app import BotApp, create_app
from bot.config import Settings
from bot.conversation.rehearsal import CHANNEL, Rehearsal, Tried
from bot.db import upgrade_database
from bot.i18n import rupiah
from bot.models import Consent, ConsentPurpose, Contact, FollowUp, FollowUpKind, Lead
from bot.phone import normalise_phone

ROOT = Path(__file__).resolve().parent.parent
TUNING_SET = ROOT / "content" / "examples.tsv"  # the vocabulary is fitted to it
HELD_OUT_SET = ROOT / "tests" / "nlu" / "heldout.tsv"  # never tuned to: only reported
OUTSIDE_SET = ROOT.parent / "shared" / "nlu" / "worker-messages.tsv"

# The states the sets name, as the bot calls them.
STATES = {
    "menu": "main",
    "occupation": "onboarding/occupation",
    "consent": "interest/consent",
    "reminders": "interest/reminders",
    "name": "interest/name",
    "phone": "interest/phone",
    "region": "interest/region",
    "calltime": "interest/call_time",
    "calc": "calc/income",
    "ask_question": "ask/question",
    "stop_confirm": "privacy/stop_confirm",
    "erase_confirm": "privacy/erase_confirm",
}
ASKING_A_PERSON = ("ask/region", "ask/question")


@dataclass(frozen=True)
class Row:
    state: str
    text: str
    expect: str
    style: str
    split: str


@dataclass(frozen=True)
class Outcome:
    row: Row
    passed: bool
    got: str  # what the bot made of it, for the report


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Row(r["state"], r["text"], r["expect"], r["style"], path.stem) for r in reader]


class Judge:
    """Whether what the bot did is what the row expects."""

    def __init__(self, app: BotApp):
        self.app = app
        self.t = app.messages["id"]
        operator = app.settings.operator_name or self.t("explain.operator_unnamed")
        example = self.t("occupation.nelayan.example")
        self._first_lines: dict[str, set[str]] = {}
        for key in app.messages["id"].catalog._catalog:  # noqa: SLF001 - every message key of the catalog
            if isinstance(key, str) and key.startswith("answer."):
                topic = key.removeprefix("answer.")
                self._first_lines.setdefault(topic, set()).add(self._first(key, operator, example))
        for entry in app.content.faq:
            self._first_lines.setdefault(entry.topic, set()).add(self._first(f"faq.{entry.id}.a", operator, example))

    def _first(self, key: str, operator: str, example: str) -> str:
        return self.t(key, operator=operator, example=example).split("\n")[0].strip()

    async def judge(self, row: Row, tried: Tried) -> Outcome:
        kind, _, value = row.expect.partition(":")
        async with self.app.dispatcher.sessions() as session:
            contact = (
                await session.execute(
                    select(Contact).where(Contact.channel == CHANNEL, Contact.external_id == tried.person)
                )
            ).scalar_one_or_none()
            consents = (
                (await session.execute(select(Consent).where(Consent.contact_id == contact.id))).scalars().all()
                if contact
                else []
            )
            leads = (
                (
                    await session.execute(select(func.count()).select_from(Lead).where(Lead.contact_id == contact.id))
                ).scalar_one()
                if contact
                else 0
            )
            tasks = (
                (
                    await session.execute(
                        select(func.count())
                        .select_from(FollowUp)
                        .where(FollowUp.contact_id == contact.id, FollowUp.kind == FollowUpKind.QUESTION)
                    )
                ).scalar_one()
                if contact
                else 0
            )
        state = contact.state if contact else "(erased)"
        data = dict(contact.state_data or {}) if contact else {}
        first = tried.replies[0].text.split("\n")[0].strip() if tried.replies else ""
        reading = tried.turn.reading
        got = f"{reading.best if reading and reading.best else 'nothing'} -> {state}: {first[:70]!r}"
        step_state = STATES[row.state]
        passed = False
        if kind == "topic" and value == "human":
            passed = state in ASKING_A_PERSON or tasks == 1  # on the way to a person, or the question sent to one
        elif kind == "topic":
            passed = first in self._first_lines.get(value, set())
        elif kind in ("greeting", "thanks"):
            passed = first.startswith(self.t(f"onboarding.{kind}").split("\n")[0])
        elif kind == "stop":
            passed = contact is not None and contact.messages_stopped_at is not None
        elif kind == "erase":
            passed = state == STATES["erase_confirm"]
        elif kind == "show_my_data":
            header = self.t("privacy.data.header")
            passed = any(header in reply.text for reply in tried.replies)
        elif kind == "answer":
            passed = self._answered(row.state, value == "yes", contact, consents, state)
        elif kind == "cancel":
            passed = state == "main" and not consents_decided(consents, row.state) and leads == 0 and tasks == 0
        elif kind == "not_an_answer":
            passed = state == step_state and not consents_decided(consents, row.state) and leads == 0 and tasks == 0
        elif kind == "occupation":
            passed = contact is not None and contact.occupation == value
        elif kind == "region":
            passed = data.get("region") == value
        elif kind == "calltime":
            passed = data.get("call_time") == value
        elif kind == "name":
            passed = str(data.get("name", "")).casefold() == value.casefold()
        elif kind == "phone":
            passed = data.get("phone") == normalise_phone(value)
        elif kind == "income":
            amount = rupiah(Decimal(value))
            passed = state == step_state and any(amount in reply.text for reply in tried.replies)
            passed = passed and any(
                reply.choices and "calc" in {c.action for c in reply.choices} for reply in tried.replies
            )
        return Outcome(row, passed, got)

    @staticmethod
    def _answered(step: str, yes: bool, contact: Contact | None, consents: list[Consent], state: str) -> bool:
        if step in ("consent", "reminders"):
            purpose = ConsentPurpose.LEAD_CONTACT if step == "consent" else ConsentPurpose.REMINDERS
            decided = [c for c in consents if c.purpose == purpose]
            return len(decided) == 1 and decided[0].granted is yes
        if step == "stop_confirm":
            stopped = contact is not None and contact.messages_stopped_at is not None
            return stopped if yes else (not stopped and state == "main")
        if step == "erase_confirm":
            return contact is None if yes else (contact is not None and state == "main")
        return False


def consents_decided(consents: list[Consent], step: str) -> bool:
    """Whether the row's step recorded a decision (the consent steps start with one given already)."""
    given_before = {"reminders": 1, "name": 2, "phone": 2, "region": 2, "calltime": 2}.get(step, 0)
    return len(consents) > given_before


async def evaluate(app: BotApp, rows: list[Row], prefix: str = "eval") -> list[Outcome]:
    rehearsal, judge = Rehearsal(app.dispatcher, prefix), Judge(app)
    outcomes = []
    for row in rows:
        tried = await rehearsal.tell(row.state, row.text)
        outcomes.append(await judge.judge(row, tried))
    return outcomes


def score(outcomes: list[Outcome]) -> float:
    return sum(o.passed for o in outcomes) / len(outcomes) if outcomes else 0.0


def report(name: str, outcomes: list[Outcome], misses: bool = True) -> str:
    lines = [f"{name}: {sum(o.passed for o in outcomes)}/{len(outcomes)} = {score(outcomes):.1%}"]
    by_state = Counter(o.row.state for o in outcomes)
    passed_by_state = Counter(o.row.state for o in outcomes if o.passed)
    lines.append("  " + ", ".join(f"{s} {passed_by_state[s]}/{n}" for s, n in sorted(by_state.items())))
    if misses:
        for o in outcomes:
            if not o.passed:
                lines.append(f"  MISS [{o.row.state}] {o.row.text!r} expect {o.row.expect}; got {o.got}")
    return "\n".join(lines)


async def _main(url: str, paths: list[Path]) -> None:
    app = create_app(Settings(database_url=url, operator_name="Dinas Tenaga Kerja (uji)"))
    try:
        for path in paths:
            rows = read_rows(path)
            outcomes = await evaluate(app, rows, prefix=path.stem)
            print(report(path.name, outcomes))
    finally:
        await app.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite+aiosqlite:///{directory}/eval.sqlite3"
        upgrade_database(database_url)  # Alembic runs its own event loop: before ours starts
        asyncio.run(_main(database_url, [Path(p) for p in sys.argv[1:]] or [TUNING_SET, HELD_OUT_SET, OUTSIDE_SET]))
