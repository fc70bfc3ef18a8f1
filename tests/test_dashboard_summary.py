"""Ringkasan over HTTP, beyond the funnel's table (tests/test_dashboard.py): the same steps per local week as a line
chart, and today's figures beside the same weekday a week before, for staff and for an officer.

People act in the chat at the times the test's clock is set to; the page is read as a browser gets it.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import MONDAY_10_WIB, WIB, saved_lead, welcomed
from tests.dashboard import STAFF_ID, browser, cells, link_from_chat, make_staff, sign_in
from tests.test_officers import RINA_ID, make_officer

__all__ = ["browser"]  # fixtures

SERIES = re.compile(r'<g class="series s\d" data-series="(\w+)" data-values="([\d ]*)">')


def weekly(page: str) -> dict[str, list[int]]:
    """The line chart's counts per step, one per week, as the polylines carry them."""
    return {name: [int(n) for n in values.split()] for name, values in SERIES.findall(page)}


def local_monday(moment: object) -> date:
    """The local week's Monday of a timestamp as the test's database client gives it (text on SQLite)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    assert isinstance(moment, datetime)
    day = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(WIB).date()
    return day - timedelta(days=day.weekday())


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


async def leads_over_three_weeks(app, new_chat, clock) -> None:
    """Budi leaves his contact on Wednesday 4 November, Siti at 00:30 on Monday 9 November (still Sunday in UTC),
    Made (Kaur) on Sunday 15 November late in the evening; on Monday 23 November Rina registers Budi."""
    clock.set_local(at(4, 9))
    await saved_lead(new_chat("Budi"), name="Budi Santoso", phone="+6281234567890", region="Mukomuko")
    clock.set_local(at(9, 0, 30))
    await saved_lead(new_chat("Siti"), name="Siti Rahma", phone="+6281234567891", region="Mukomuko")
    clock.set_local(at(15, 23, 30))
    await saved_lead(new_chat("Made"), name="Made Wirawan", phone="+6281234567892", region="Kaur")
    clock.set_local(MONDAY_10_WIB)
    rina = new_chat("Rina", user_id=RINA_ID)
    budi = next(m for m in await rina.command("tugas") if "Budi Santoso" in m.text)
    await rina.tap("Terdaftar", budi)


async def test_the_funnel_per_week_is_a_line_per_step_counted_in_local_weeks(
    app, new_chat, browser, clock, db, database
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_staff(app, STAFF_ID)
    await leads_over_three_weeks(app, new_chat, clock)
    # Erased earlier in November: in the table's counts, in no week's line (their counts know months only).
    database.execute_many(
        "insert into erased_counts (reason, erased_month, started_month, lead_month, channel, occupation, region,"
        " outcome, count) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("retention", "2026-11", "2026-11", "2026-11", "telegram", "petani", "Kaur", "terdaftar", 1)],
    )
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get("/dasbor/?dari=2026-11-01&sampai=2026-11-23")).text()

    # Weeks from Monday 26 October (the period starts on a Sunday) to Monday 23 November (the period's last day).
    mondays = [date(2026, 10, 26) + timedelta(weeks=n) for n in range(5)]
    leads = Counter(local_monday(row["created_at"]) for row in db("select created_at from leads"))
    started = Counter(
        local_monday(row["created_at"]) for row in db("select created_at from contacts where role is null")
    )
    registered = Counter(
        local_monday(row["at"]) for row in db("select at from lead_events where to_status = 'terdaftar'")
    )
    lines = weekly(page)
    assert list(lines) == ["started", "occupation", "asked_cost", "agreed", "lead", "reached", "registered", "declined"]
    assert lines["lead"] == [leads[monday] for monday in mondays] == [0, 1, 2, 0, 0]  # Siti's 00:30 in her week
    assert lines["started"] == lines["occupation"] == lines["agreed"] == [started[m] for m in mondays]
    assert lines["reached"] == lines["registered"] == [registered[m] for m in mondays] == [0, 0, 0, 0, 1]
    assert lines["declined"] == lines["asked_cost"] == [0] * 5  # nobody asked the cost
    assert cells(page, "count")[4] == "4"  # the table: 3 leads and the one erased
    # Every point says what it is; the dates under the chart are the Mondays; the grid is in round numbers.
    assert "<title>Prospek (data tersimpan), 9 Nov: 2</title>" in page
    assert re.findall(r'text-anchor="middle">([^<]+)</text>', page) == ["26 Okt", "2 Nov", "9 Nov", "16 Nov", "23 Nov"]
    assert re.findall(r'<text class="tick"[^>]*text-anchor="end">(\d+)</text>', page) == ["0", "1", "2"]
    assert page.count('<li class="s') == 8 and "hanya jumlah per bulan" in page


async def test_an_officer_sees_the_weeks_of_her_own_regions_from_the_lead_on(app, new_chat, browser, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await leads_over_three_weeks(app, new_chat, clock)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    page = await (await browser.get("/dasbor/?dari=2026-11-02&sampai=2026-11-29")).text()

    # Made's lead of Kaur (week of 9 November) is not hers; a period of four whole weeks.
    assert weekly(page) == {
        "lead": [1, 1, 0, 0],
        "reached": [0, 0, 0, 1],
        "registered": [0, 0, 0, 1],
        "declined": [0, 0, 0, 0],
    }
    assert "Kaur" not in page and "Made" not in page and "Mulai chat" not in page


async def test_today_is_set_beside_the_same_weekday_last_week_up_to_the_same_time(app, new_chat, browser, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_staff(app, STAFF_ID)
    clock.set_local(at(16, 9))  # last Monday, before 10:00: counted
    await saved_lead(new_chat("Ani"), name="Ani Lestari", phone="+6281234567880")
    clock.set_local(at(16, 11))  # last Monday, after 10:00: not
    await welcomed(new_chat("Eka"))
    clock.set_local(at(22, 23, 59))  # yesterday
    await welcomed(new_chat("Tono"))
    clock.set_local(at(23, 8))  # today
    await saved_lead(new_chat("Budi"), name="Budi Santoso", phone="+6281234567890")
    await saved_lead(new_chat("Made"), name="Made Wirawan", phone="+6281234567892", region="Kaur")
    await welcomed(new_chat("Wati"))
    clock.set_local(MONDAY_10_WIB)
    rina = new_chat("Rina", user_id=RINA_ID)
    budi = next(m for m in await rina.command("tugas") if "Budi Santoso" in m.text)
    await rina.tap("Terdaftar", budi)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get("/dasbor/")).text()

    today = re.search(r'<section class="today">(.*?)</section>', page, re.DOTALL)
    assert today is not None
    block = today.group(1)
    assert re.findall(r'<tr data-step="(\w+)">', block) == ["started", "agreed", "lead", "reached", "registered"]
    # Today: Budi, Made and Wati started, Budi and Made agreed and left their contact; Rina registered Budi.
    # Last Monday to 10:00: Ani only.
    assert cells(block, "today") == ["3", "2", "2", "1", "1"]
    assert cells(block, "before") == ["1", "1", "1", "0", "0"]
    assert re.findall(r'<td class="number change (\w+)">([^<]*)</td>', block) == [
        ("up", "↑ 2"),
        ("up", "↑ 1"),
        ("up", "↑ 1"),
        ("up", "↑ 1"),
        ("up", "↑ 1"),
    ]
    assert "Senin lalu s.d. 10.00" in block

    # Rina sees her regions from the lead on: Made's lead of Kaur is not counted.
    await sign_in(browser, await link_from_chat(rina))
    hers = await (await browser.get("/dasbor/")).text()
    assert cells(hers, "today") == ["1", "1", "1"] and cells(hers, "before") == ["1", "0", "0"]
    assert re.findall(r'<td class="number change (\w+)">([^<]*)</td>', hers) == [
        ("same", "0"),
        ("up", "↑ 1"),
        ("up", "↑ 1"),
    ]


@pytest.fixture
def settings(settings, request):
    """The test's settings (conftest's), in the time zone a test names by parametrizing `settings`."""
    zone = getattr(request, "param", None)
    return dataclasses.replace(settings, timezone=zone) if zone else settings


@pytest.mark.parametrize("settings", ["Europe/Berlin"], indirect=True)
async def test_weeks_start_at_local_midnight_across_a_change_to_summer_time(app, new_chat, browser, clock):
    """Berlin moves from UTC+1 to UTC+2 on Sunday 29 March 2026: one offset for the whole period would put one of
    these two people in the wrong week."""
    berlin = ZoneInfo("Europe/Berlin")
    await make_staff(app, STAFF_ID)
    clock.set_local(datetime(2026, 3, 22, 23, 30, tzinfo=berlin))  # a Sunday night, 22:30 UTC
    await welcomed(new_chat("Budi"))
    clock.set_local(datetime(2026, 3, 30, 0, 30, tzinfo=berlin))  # just after Monday's midnight, still Sunday in UTC
    await welcomed(new_chat("Siti"))
    clock.set_local(MONDAY_10_WIB)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get("/dasbor/?dari=2026-03-16&sampai=2026-04-05")).text()

    assert weekly(page)["started"] == [1, 0, 1]
