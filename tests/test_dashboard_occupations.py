"""The dashboard's Pekerjaan page over HTTP: leads and registrations per occupation, the people erased since, each
role's view, and a bad period. Leads are saved through the chat or the services; the clock is the test's."""

from __future__ import annotations

import re

import pytest

from bot.services.contacts import find_contact
from tests.conftest import saved_lead
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
from tests.test_officers import RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures

NOVEMBER = "?dari=2026-11-01&sampai=2026-11-30"
LABELS = ["Petani", "Nelayan", "Pedagang", "Sopir angkot", "Mitra ojol", "Lainnya"]  # the bot's order


def shown_rows(page: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]*)</th>', page)[:-1]  # the last is the total


async def leads_of_every_kind(app, new_chat, database) -> None:
    """In Mukomuko (Rina's): Budi the fisherman (through the chat), Siti and Agus the farmers, Siti registered by
    Rina. In Kaur (Eko's): Made the trader, registered by Eko, and Tono, saved with no occupation (as an older
    version of the bot could). Erased since: three leads of November, one of October."""
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, EKO_ID, "Eko Prasetyo", "Kaur")
    await saved_lead(new_chat("Budi"), name="Budi Santoso", region="Mukomuko")
    siti = await stored_lead(app, "Siti Rahma", "petani", "Mukomuko")
    await stored_lead(app, "Agus Salim", "petani", "Mukomuko")
    made = await stored_lead(app, "Made Wirawan", "pedagang", "Kaur")
    await stored_lead(app, "Tono Sumarno", "", "Kaur")
    await record_outcome(app, RINA_ID, siti, "terdaftar")
    await record_outcome(app, EKO_ID, made, "terdaftar")
    database.execute_many(
        "insert into erased_counts (reason, erased_month, started_month, lead_month, channel, occupation, region,"
        " outcome, count) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("retention", "2026-11", "2026-11", "2026-11", "telegram", "petani", "Kaur", "terdaftar", 1),
            ("request", "2026-11", "2026-11", "2026-11", "whatsapp", "ojol", "Mukomuko", "baru", 2),
            ("request", "2026-11", "2026-10", "2026-10", "telegram", "sopir", "Mukomuko", "baru", 4),  # October
        ],
    )


async def test_staff_see_every_occupation_with_its_share_and_the_leads_without_one(
    app, new_chat, browser, db, database
):
    await leads_of_every_kind(app, new_chat, database)
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    response = await browser.get(f"/dasbor/pekerjaan{NOVEMBER}")

    assert response.status == 200
    page = await response.text()
    saved = {row["occupation"]: row["n"] for row in db("select occupation, count(*) as n from leads group by 1")}
    registered = {
        row["occupation"]: row["n"]
        for row in db(
            "select l.occupation, count(distinct e.lead_id) as n from lead_events e join leads l on l.id = e.lead_id"
            " where e.to_status = 'terdaftar' group by 1"
        )
    }
    erased_leads, erased_registered = {"petani": 1, "ojol": 2}, {"petani": 1}  # November's rows above
    order = ["petani", "nelayan", "pedagang", "sopir", "ojol", "lainnya", ""]
    leads = [saved.get(o, 0) + erased_leads.get(o, 0) for o in order]
    done = [registered.get(o, 0) + erased_registered.get(o, 0) for o in order]
    assert leads == [3, 1, 1, 0, 2, 0, 1] and done == [2, 0, 1, 0, 0, 0, 0]
    assert shown_rows(page) == [*LABELS, "Belum dipilih"]  # every occupation, even at zero
    assert cells(page, "leads") == [str(n) for n in leads]
    assert cells(page, "registered") == [str(n) for n in done]
    petani = re.search(r'data-occupation="petani">(.*?)</tr>', page, re.DOTALL)
    assert petani is not None
    # 3 of 8 leads, 2 of 3 registrations, 2 registered of 3 leads.
    assert re.findall(r'<td class="number">([^<]*)</td>', petani.group(1)) == ["38%", "67%", "67%"]
    assert page.count('<rect class="bar"') == 7 and page.count('<rect class="bar done"') == 7
    assert re.findall(r'<tfoot>.*?<td class="number">(\d+)</td>.*?<td class="number">(\d+)</td>', page, re.DOTALL) == [
        ("8", "3")
    ]

    # A September with none of it: every occupation at zero, and no line for leads without one.
    september = await (await browser.get("/dasbor/pekerjaan?dari=2026-09-01&sampai=2026-09-30")).text()
    assert shown_rows(september) == LABELS and cells(september, "leads") == ["0"] * 6


async def test_an_officer_sees_the_occupations_of_her_own_regions_only(app, new_chat, browser, database):
    await leads_of_every_kind(app, new_chat, database)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    page = await (await browser.get(f"/dasbor/pekerjaan{NOVEMBER}")).text()

    # Mukomuko: Budi, Siti (registered) and Agus, and the two erased mitra ojol; nothing of Kaur.
    assert shown_rows(page) == LABELS
    assert cells(page, "leads") == ["2", "1", "0", "0", "2", "0"]
    assert cells(page, "registered") == ["1", "0", "0", "0", "0", "0"]
    assert "Belum dipilih" not in page and "Kaur" not in page and "Eko" not in page


async def test_the_page_speaks_english_to_an_english_reader(app, new_chat, browser):
    await make_staff(app, STAFF_ID)
    await stored_lead(app, "Tono Sumarno", "", "Kaur")
    async with app.dispatcher.sessions.begin() as session:
        contact = await find_contact(session, "telegram", str(STAFF_ID))
        assert contact is not None
        contact.locale = "en"
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get(f"/dasbor/pekerjaan{NOVEMBER}")).text()

    assert "<h1>Occupations</h1>" in page and ">Fisher</th>" in page and ">Not chosen</th>" in page


@pytest.mark.parametrize("query", ["dari=2026-02-30", "dari=2026-11-20&sampai=2026-11-01", "sampai=kemarin"])
async def test_a_bad_period_gets_a_400_page(app, new_chat, browser, query):
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    response = await browser.get(f"/dasbor/pekerjaan?{query}")

    assert response.status == 400 and "Periode tidak bisa dibaca" in await response.text()
