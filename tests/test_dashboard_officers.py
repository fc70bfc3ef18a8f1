"""The dashboard's Petugas page over HTTP: each officer's open and overdue tasks now, tasks done and outcomes recorded
in a period, the median wait from a lead's saving to her first call, an officer removed, the unassigned pool, each
role's view, and a bad period. Officers record through the chat and the lead's card; the clock is the test's."""

from __future__ import annotations

import re
import statistics
from datetime import datetime

import pytest

from bot.services.contacts import find_contact
from bot.services.officers import get_officer, remove_officer
from tests.conftest import WIB
from tests.dashboard import (
    EKO_ID,
    STAFF_ID,
    browser,
    cells,
    link_from_chat,
    make_staff,
    record_outcome,
    settings,
    sign_in,
    stored_lead,
)
from tests.test_officers import JOKO_ID, RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures

NOVEMBER = "?dari=2026-11-01&sampai=2026-11-30"
WATI_ID = 700_000_888
OUTCOMES = ["dihubungi", "akan_daftar", "terdaftar", "tidak_tertarik", "tidak_bisa_dihubungi"]  # the columns


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=WIB)


def rows_of(page: str, table: str) -> list[str]:
    found = re.search(rf'<table class="{table}">(.*?)</table>', page, re.DOTALL)
    assert found is not None
    return re.findall(r'<th scope="row">([^<]*)</th>', found.group(1))


def outcomes_of(page: str) -> list[list[str]]:
    counts = cells(page, "outcome")
    return [counts[index : index + len(OUTCOMES)] for index in range(0, len(counts), len(OUTCOMES))]


async def remove(app, officer_id: int) -> None:
    async with app.dispatcher.sessions.begin() as session:
        await remove_officer(session, await get_officer(session, officer_id), app.dispatcher.clock())


async def a_week_of_calls(app, new_chat, clock) -> None:
    """Monday 10:00 four leads come in for Rina (Mukomuko), two for Eko (Kaur), one for Joko (Seluma) and one where
    nobody works (Kota Bengkulu: the pool); each call is due at once. Joko reaches his lead at 11:00 and leaves
    that day; Wati (Lebong) leaves without having done anything. Eko reaches one lead at 12:00, the other says no
    at 14:00. Rina reaches Ani at 15:00 (in the chat); Tuesday 13:00 she cannot reach Bayu; Wednesday 10:00 Dodi
    will register (she checks back on 1 December) and Bayu has registered. Cici is never called."""
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, EKO_ID, "Eko Prasetyo", "Kaur")
    joko, _ = await make_officer(app, JOKO_ID, "Joko Susilo", "Seluma")
    wati, _ = await make_officer(app, WATI_ID, "Wati Lestari", "Lebong")
    await stored_lead(app, "Ani Lestari")
    bayu, _, dodi = [await stored_lead(app, name) for name in ("Bayu Saputra", "Cici Paramita", "Dodi Kurniawan")]
    eko_first, eko_second = [await stored_lead(app, name, "petani", "Kaur") for name in ("Edi", "Fajar")]
    gita = await stored_lead(app, "Gita Anggraini", "pedagang", "Seluma")
    await stored_lead(app, "Hadi Wijaya", "sopir", "Kota Bengkulu")

    clock.set_local(at(23, 11))
    await record_outcome(app, JOKO_ID, gita, "dihubungi")
    await remove(app, joko)
    await remove(app, wati)
    clock.set_local(at(23, 12))
    await record_outcome(app, EKO_ID, eko_first, "dihubungi")
    clock.set_local(at(23, 14))
    await record_outcome(app, EKO_ID, eko_second, "tidak_tertarik")
    clock.set_local(at(23, 15))
    chat = new_chat("Rina", user_id=RINA_ID)
    ani = next(message for message in await chat.command("tugas") if "Ani Lestari" in message.text)
    await chat.tap("Dihubungi", ani)
    clock.set_local(at(24, 13))
    await record_outcome(app, RINA_ID, bayu, "tidak_bisa_dihubungi")
    clock.set_local(at(25, 10))
    await record_outcome(app, RINA_ID, dodi, "akan_daftar", check_back=datetime(2026, 12, 1, 10, 0, tzinfo=WIB))
    await record_outcome(app, RINA_ID, bayu, "terdaftar")
    clock.set_local(at(25, 12))


async def test_staff_see_each_officers_tasks_outcomes_and_median_wait_the_removed_and_the_pool(
    app, new_chat, browser, clock, db
):
    await a_week_of_calls(app, new_chat, clock)
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    response = await browser.get(f"/dasbor/petugas{NOVEMBER}")

    assert response.status == 200
    page = await response.text()
    # By name, the removed officer with work after them (Wati, who did nothing, left out), then the pool.
    lines = ["Eko Prasetyo", "Rina Marlina", "Joko Susilo (sudah berhenti)", "Belum ditugaskan"]
    assert rows_of(page, "tasks") == lines and rows_of(page, "calls") == lines[:3]
    ids = {row["name"]: row["id"] for row in db("select id, name from officers")}
    tasks = "from followups where kind in ('call', 'question') and"
    pending = {
        row["officer_id"]: row["n"]
        for row in db(f"select officer_id, count(*) as n {tasks} status = 'pending' group by 1")
    }
    done = {
        row["officer_id"]: row["n"]
        for row in db(f"select officer_id, count(*) as n {tasks} status = 'done' group by 1")
    }
    order = [ids["Eko Prasetyo"], ids["Rina Marlina"], ids["Joko Susilo"], None]
    assert [pending.get(officer, 0) for officer in order] == [0, 2, 0, 1]  # Cici and Dodi's check-back; Hadi
    assert cells(page, "open") == ["0", "2", "0", "1"]
    # Now is Wednesday 12:00: Cici's call and Hadi's (due Monday) are overdue, Dodi's check-back is not yet.
    assert cells(page, "overdue") == ["0", "1", "0", "1"]
    assert page.count('<tr class="late"') == 2 and page.count('<rect class="bar overdue"') == 2
    assert [done.get(officer, 0) for officer in order] == [2, 3, 1, 0]  # Rina: Ani, Bayu, Dodi's first call
    assert cells(page, "done") == ["2", "3", "1", "0"]
    assert page.count('<rect class="bar done"') == 4
    # Leads per outcome, in the columns' order: Bayu counts once as not reached and once as registered.
    assert outcomes_of(page) == [["1", "0", "0", "1", "0"], ["1", "1", "1", "0", "1"], ["1", "0", "0", "0", "0"]]
    # The waits from saving (Monday 10:00) to each officer's first call: Eko 2 and 4 hours, Rina 5 (Ani),
    # 27 (Bayu) and 48 (Dodi), Joko 1.
    waits = {"eko": [2, 4], "rina": [5, 27, 48], "joko": [1]}
    assert {name: statistics.median(hours) for name, hours in waits.items()} == {"eko": 3, "rina": 27, "joko": 1}
    assert cells(page, "first-calls") == ["2", "3", "1"]
    assert cells(page, "wait") == ["3 jam", "1 hari 3 jam", "1 jam"]


async def test_a_period_counts_the_leads_first_called_in_it_and_the_tasks_done_in_it(app, new_chat, browser, clock):
    await a_week_of_calls(app, new_chat, clock)
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    from_tuesday = await (await browser.get("/dasbor/petugas?dari=2026-11-24&sampai=2026-11-30")).text()
    from_wednesday = await (await browser.get("/dasbor/petugas?dari=2026-11-25&sampai=2026-11-30")).text()

    # From Tuesday: Joko did nothing (his line goes), Eko neither; Rina first called Bayu (27 hours after he was
    # saved) and Dodi (48): the median of two is their mean, 37.5 hours, shown in its two largest units.
    assert rows_of(from_tuesday, "tasks") == ["Eko Prasetyo", "Rina Marlina", "Belum ditugaskan"]
    assert cells(from_tuesday, "done") == ["0", "2", "0"]
    assert cells(from_tuesday, "first-calls") == ["0", "2"]
    assert cells(from_tuesday, "wait") == ["–", "1 hari 13 jam"]
    assert statistics.median([27, 48]) == 37.5
    # From Wednesday: Bayu was first called on Tuesday, so only Dodi counts, though Bayu registered on Wednesday.
    assert cells(from_wednesday, "first-calls") == ["0", "1"] and cells(from_wednesday, "wait") == ["–", "2 hari"]
    assert outcomes_of(from_wednesday)[1] == ["0", "1", "1", "0", "0"]
    # Open and overdue are as of now, whatever the period.
    assert cells(from_wednesday, "open") == ["0", "2", "1"] and cells(from_wednesday, "overdue") == ["0", "1", "1"]


async def test_an_officer_sees_her_own_line_only(app, new_chat, browser, clock):
    await a_week_of_calls(app, new_chat, clock)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    page = await (await browser.get(f"/dasbor/petugas{NOVEMBER}")).text()

    assert rows_of(page, "tasks") == ["Rina Marlina"] and rows_of(page, "calls") == ["Rina Marlina"]
    assert cells(page, "open") == ["2"] and cells(page, "overdue") == ["1"] and cells(page, "done") == ["3"]
    assert outcomes_of(page) == [["1", "1", "1", "0", "1"]] and cells(page, "wait") == ["1 hari 3 jam"]
    for other in ("Eko", "Joko", "Wati", "Belum ditugaskan", "Kaur"):
        assert other not in page


async def test_a_wait_under_an_hour_is_in_minutes_in_the_readers_language(app, new_chat, browser, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    lead = await stored_lead(app, "Ani Lestari")
    clock.advance(minutes=40)
    await record_outcome(app, RINA_ID, lead, "dihubungi")
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    indonesian = await (await browser.get(f"/dasbor/petugas{NOVEMBER}")).text()
    async with app.dispatcher.sessions.begin() as session:
        contact = await find_contact(session, "telegram", str(RINA_ID))
        assert contact is not None
        contact.locale = "en"
    english = await (await browser.get(f"/dasbor/petugas{NOVEMBER}")).text()

    assert cells(indonesian, "wait") == ["40 menit"] and cells(english, "wait") == ["40 minutes"]
    assert "<h1>Officers</h1>" in english and "Median wait" in english


@pytest.mark.parametrize("query", ["dari=2026-11-31", "dari=2026-11-20&sampai=2026-11-01", "sampai=besok"])
async def test_a_bad_period_gets_a_400_page(app, new_chat, browser, query):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    response = await browser.get(f"/dasbor/petugas?{query}")

    assert response.status == 400 and "Periode tidak bisa dibaca" in await response.text()
