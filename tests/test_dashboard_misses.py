"""Belum dimengerti over HTTP: what the bot did not understand in the chat, counted and masked for staff, the top 50
of the period with a bar chart of the top 10; an officer is refused (audited) and her menu does not offer it."""

from __future__ import annotations

import re
from datetime import datetime

from bot.services.misses import record_miss
from tests.conftest import MONDAY_10_WIB, WIB, welcomed
from tests.dashboard import STAFF_ID, browser, cells, link_from_chat, make_staff, settings, sign_in
from tests.test_misses import contact_id_of, miss
from tests.test_officers import RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures

ROW = re.compile(
    r'<td class="text">([^<]*)</td>\s*<td><code>([^<]*)</code></td>\s*<td class="number count">(\d+)</td>'
    r"\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>"
)


async def test_staff_see_what_the_bot_did_not_understand_counted_and_masked(app, new_chat, browser, clock, db):
    await make_staff(app, STAFF_ID)
    clock.set_local(datetime(2026, 10, 1, 9, tzinfo=WIB))  # before the default period (25 Oct to 23 Nov)
    await (await welcomed(new_chat("Made"))).say("qwerty asdf")
    clock.set_local(datetime(2026, 11, 20, 9, tzinfo=WIB))
    await (await welcomed(new_chat("Budi"))).say("xyzzy plugh")
    clock.set_local(datetime(2026, 11, 23, 8, 15, tzinfo=WIB))
    await (await welcomed(new_chat("Siti"))).say("XYZZY   plugh")
    await (await welcomed(new_chat("Ani"))).say("blabla wkwk 0812-3456-7891 ya")
    clock.set_local(MONDAY_10_WIB)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    response = await browser.get("/dasbor/belum-dimengerti")

    assert response.status == 200
    page = await response.text()
    kept = db(
        "select lower(text) as text, state, count(*) as n from misses where created_at >= '2026-10-24'"
        " group by lower(text), state order by count(*) desc, max(created_at) desc"
    )
    assert len(kept) == 2
    rows = ROW.findall(page)
    assert [(text, state, int(n)) for text, state, n, _, _ in rows] == [
        (row["text"], row["state"], row["n"]) for row in kept
    ]
    assert rows[0][:3] == ("xyzzy plugh", "main", "2")
    assert rows[0][3:] == ("20 Nov 2026 09.00", "23 Nov 2026 08.15")  # first and last seen, local time
    # The number typed is never shown: masked when kept, as the logs mask it.
    assert rows[1][0] == "blabla wkwk 0812*****891 ya"
    assert "3456" not in page and "0812-3456-7891" not in page
    assert "qwerty" not in page  # October's, before the period
    assert "Pesan yang tidak dimengerti bot dalam periode ini: 3." in page
    assert page.count('<rect class="bar"') == 2 and "<title>xyzzy plugh: 2</title>" in page

    october = await (await browser.get("/dasbor/belum-dimengerti?dari=2026-10-01&sampai=2026-10-01")).text()
    assert [row[:3] for row in ROW.findall(october)] == [("qwerty asdf", "main", "1")]
    september = await (await browser.get("/dasbor/belum-dimengerti?dari=2026-09-01&sampai=2026-09-30")).text()
    assert ROW.findall(september) == [] and "Semua pesan dalam periode ini dimengerti bot." in september
    assert "<svg" not in september


async def test_the_page_lists_the_50_most_frequent_and_charts_the_top_10(app, new_chat, browser, db):
    await make_staff(app, STAFF_ID)
    budi = contact_id_of(await welcomed(new_chat("Budi")), db)
    # 60 different messages, the n-th one typed n times: 1830 misses kept through the service.
    async with app.dispatcher.sessions.begin() as session:
        for n in range(1, 61):
            for _ in range(n):
                await record_miss(session, budi, "main", f"kata ke {n}", MONDAY_10_WIB)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get("/dasbor/belum-dimengerti")).text()

    rows = ROW.findall(page)
    assert [(text, int(count)) for text, _, count, _, _ in rows] == [(f"kata ke {n}", n) for n in range(60, 10, -1)]
    assert len(cells(page, "count")) == 50 and page.count('<rect class="bar"') == 10
    assert "Pesan yang tidak dimengerti bot dalam periode ini: 1.830." in page


async def test_an_officer_is_refused_the_page_and_her_menu_does_not_offer_it(app, new_chat, browser, db):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_staff(app, STAFF_ID)
    budi = await welcomed(new_chat("Budi"))
    await miss(app, contact_id_of(budi, db), "xyzzy plugh")
    rina = new_chat("Rina", user_id=RINA_ID)
    await sign_in(browser, await link_from_chat(rina))

    refused = await browser.get("/dasbor/belum-dimengerti")
    menu = await (await browser.get("/dasbor/")).text()

    assert refused.status == 403
    text = await refused.text()
    assert "Tidak ada akses" in text and "hanya untuk staf dan admin" in text and "xyzzy" not in text
    event = db("select actor, actor_role, allowed, detail from audit_events where action = 'dashboard'")[-1]
    assert (event["actor"], event["actor_role"], event["allowed"]) == (f"telegram:{RINA_ID}", "officer", 0)
    assert "belum-dimengerti" in str(event["detail"])
    assert "belum-dimengerti" not in menu and "Belum dimengerti" not in menu
    assert (await browser.get("/dasbor/wilayah")).status == 200  # the rest of her dashboard still opens

    # Staff find it in their menu.
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))
    staff_menu = await (await browser.get("/dasbor/")).text()
    assert 'href="/dasbor/belum-dimengerti?dari=' in staff_menu and ">Belum dimengerti</a>" in staff_menu
