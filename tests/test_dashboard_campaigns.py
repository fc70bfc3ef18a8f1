"""The dashboard's Siaran page over HTTP: the campaigns of a period with their figures, one campaign's bars and
sending curve, the JSON its live script reads, and who may see which campaign.

Campaigns are made, started and sent through the services the engine uses (create, start, claim, record, the
WhatsApp receipts), at the test's clock; workers are seeded in the database and write through the chat.
"""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotApp
from bot.models import DeliveryStatus
from bot.services.campaigns import create_campaign, finish_if_done, start_due_campaigns
from bot.services.contacts import find_contact
from bot.services.deliveries import Outcome, claim_deliveries, record_outcomes
from bot.services.receipts import Report, apply_reports
from bot.services.segments import Segment
from bot.web.server import build_web_app
from bot.workers.retention import purge
from tests.dashboard import EKO_ID, STAFF_ID, browser, link_from_chat, make_staff, settings, sign_in
from tests.population import seed_workers
from tests.test_officers import RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures

FIGURES = ("recipients", "sent", "delivered", "read", "replied", "failed", "blocked", "skipped", "waiting")
FIRST_WORKER = 810_000_000
MUKOMUKO = Segment(regions=("Mukomuko",))


# ------------------------------------------------------------------------------------------ campaigns as made


async def started(app: BotApp, text: str, segment: Segment = MUKOMUKO, by: str = "cli", author: int | None = None):
    """A campaign made now and started at once (its recipients chosen), as the engine starts it; returns its id."""
    now = app.dispatcher.clock()
    async with app.dispatcher.sessions.begin() as session:
        campaign = await create_campaign(
            session,
            created_by=by,
            author_contact_id=author,
            segment=segment,
            text_id=text,
            text_en=None,
            button=None,
            starts_at=now,
            now=now,
        )
        await start_due_campaigns(session, app.content.consent_versions, now)
        return campaign.id


async def send(app: BotApp, campaign_id: int, *outcomes: str | None) -> list[int]:
    """The next deliveries sent now, one per outcome: None sent, else failed with that outcome ("blocked",
    "refused"); the campaign is done when nothing is left. Returns the deliveries' ids."""
    now, versions = app.dispatcher.clock(), app.content.consent_versions
    async with app.dispatcher.sessions.begin() as session:
        claimed = await claim_deliveries(session, campaign_id, Segment(), versions, now, len(outcomes))
    results = [
        Outcome(r.delivery_id, r.contact_id, DeliveryStatus.SENT, message_id=f"m{r.delivery_id}")
        if outcome is None
        else Outcome(r.delivery_id, r.contact_id, DeliveryStatus.FAILED, outcome=outcome)
        for r, outcome in zip(claimed, outcomes, strict=True)
    ]
    async with app.dispatcher.sessions.begin() as session:
        await record_outcomes(session, results, now)
        await finish_if_done(session, campaign_id, now)
    return [r.delivery_id for r in claimed]


async def receipts(app: BotApp, status: str, *delivery_ids: int) -> None:
    """WhatsApp's status callbacks for these deliveries' messages."""
    now = app.dispatcher.clock()
    async with app.dispatcher.sessions.begin() as session:
        reports = [Report(f"d:{d}", f"m{d}", status, now) for d in delivery_ids]
        await apply_reports(session, reports, now, frozenset())


async def contact_id(app: BotApp, user_id: int) -> int:
    async with app.dispatcher.sessions() as session:
        contact = await find_contact(session, "telegram", str(user_id))
        assert contact is not None
        return contact.id


def in_database(db, campaign_id: int) -> list[int]:
    """A campaign's figures as a person reading its rows would count them, in the page's order."""
    [row] = db(
        "select count(*),"
        " sum(case when d.status = 'sent' then 1 else 0 end),"
        " sum(case when d.receipt in ('delivered', 'read') then 1 else 0 end),"
        " sum(case when d.receipt = 'read' then 1 else 0 end),"
        " sum(case when d.status = 'sent' and c.last_seen_at > d.sent_at then 1 else 0 end),"
        " sum(case when d.status in ('failed', 'unknown') and d.outcome != 'blocked' then 1 else 0 end),"
        " sum(case when d.status in ('failed', 'unknown') and d.outcome = 'blocked' then 1 else 0 end),"
        " sum(case when d.status in ('skipped', 'cancelled') then 1 else 0 end),"
        " sum(case when d.status in ('pending', 'sending') then 1 else 0 end)"
        " from deliveries d join contacts c on c.id = d.contact_id where d.campaign_id = ?",
        campaign_id,
    )
    return [int(value or 0) for value in row]


def row_of(page: str, campaign_id: int) -> str:
    found = re.search(rf'<tr data-campaign="{campaign_id}".*?</tr>', page, re.S)
    assert found is not None, f"campaign {campaign_id} is not listed"
    return found.group(0)


def shown(html: str) -> list[int]:
    """The figures an element carries (data-figure cells), in the page's order, as numbers."""
    found = re.findall(r'data-figure="(\w+)">([^<]*)<', html)
    assert [name for name, _ in found] == list(FIGURES)
    return [int(value.replace(".", "").replace(",", "")) for _, value in found]


def listed(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-campaign="(\d+)"', page)]


def curve(page: str) -> list[int]:
    """The sending curve's values, as its line carries them, and drawn: a point of the polyline for each."""
    line = re.search(
        r'<g class="series s0" data-series="sent" data-values="([^"]*)">\s*<polyline points="([^"]*)"', page
    )
    assert line is not None
    values = [int(value) for value in line.group(1).split()]
    assert len(line.group(2).split()) == len(values)
    return values


async def a_sent_campaign(app: BotApp, new_chat, database, clock) -> tuple[int, list[int]]:
    """Ten workers of Mukomuko; a campaign sent in three batches over 25 minutes (7 sent, 1 blocked, 1 refused),
    one worker stopping messages before their turn; WhatsApp reports 3 delivered, 1 of them read; then two of
    those who got it write to the bot, and one whose message failed."""
    users = seed_workers(database, 10, FIRST_WORKER, now=clock())
    campaign = await started(app, 'Sosialisasi BPU <b>Sabtu</b> & "Minggu" di balai desa')
    await new_chat("Sari", user_id=users[9]).say("STOP")  # her place in the campaign is given up
    first = await send(app, campaign, None, None, None, None)
    clock.advance(minutes=10)
    await send(app, campaign, None, None, "blocked")
    clock.advance(minutes=15)
    await send(app, campaign, None, "refused")
    await receipts(app, "delivered", *first[:3])
    await receipts(app, "read", first[0])
    clock.advance(minutes=5)
    for user in (users[0], users[5], users[8]):  # users[8]'s message was refused: not a reply to it
        await new_chat("Pekerja", user_id=user).say("halo, mau tanya soal BPU")
    return campaign, users


# ------------------------------------------------------------------------------------------ the list


async def test_the_list_shows_each_campaign_with_its_figures_as_the_database_counts_them(
    app, new_chat, browser, database, db, clock
):
    await make_staff(app, STAFF_ID)
    campaign, _ = await a_sent_campaign(app, new_chat, database, clock)
    clock.advance(minutes=5)
    nobody = await started(app, "Info untuk Kaur", Segment(regions=("Kaur",)))  # nobody there: done at once
    async with app.dispatcher.sessions.begin() as session:
        await finish_if_done(session, nobody, clock())
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get("/dasbor/siaran")).text()

    assert listed(page) == [nobody, campaign], "newest first"
    expected = in_database(db, campaign)
    assert expected == [10, 7, 3, 1, 2, 1, 1, 1, 0]
    row = row_of(page, campaign)
    assert shown(row) == expected
    assert shown(row_of(page, nobody)) == [0] * 9
    assert "selesai" in row and "baris perintah" in row and "Wilayah: Mukomuko" in row
    # The text is the author's: shown as text, never as markup.
    assert "&lt;b&gt;Sabtu&lt;/b&gt; &amp; &#34;Minggu&#34;" in row and "<b>" not in page
    assert "<script" not in page, "nothing runs: no live script"
    # A period before the campaigns has none of them.
    before = await (await browser.get("/dasbor/siaran?dari=2026-10-01&sampai=2026-10-31")).text()
    assert listed(before) == [] and "Belum ada siaran" in before


# ------------------------------------------------------------------------------------------ one campaign


async def test_a_campaign_shows_its_figures_as_bars_and_its_sending_curve_minute_by_minute(
    app, new_chat, browser, database, db, clock
):
    await make_staff(app, STAFF_ID)
    campaign, _ = await a_sent_campaign(app, new_chat, database, clock)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    response = await browser.get(f"/dasbor/siaran/{campaign}")
    page = await response.text()

    assert response.status == 200
    expected = in_database(db, campaign)
    assert shown(page) == expected
    bars = re.findall(r'<g class="row" data-bar="(\w+)">.*?<text class="value"[^>]*>([^<]*)</text>', page, re.S)
    assert bars == [(name, str(value)) for name, value in zip(FIGURES, expected, strict=True)]
    # Sent from 10:00 to 10:25, one point a minute from 0: 4 at once, 2 more at 10:10, the last at 10:25.
    assert curve(page) == [0] + [4] * 10 + [6] * 14 + [7]
    assert curve(page)[-1] == expected[1], "the curve ends at the messages sent"
    # Its start and end, local time written the Indonesian way as on every page (Belum dimengerti's too).
    assert "23 Nov 2026 10.00" in page and "23 Nov 2026 10.25" in page
    assert "<script" not in page and "data-live" not in page, "done: nothing moves"


async def test_a_running_campaigns_figures_are_served_as_json_for_the_live_script(
    app, new_chat, browser, database, clock
):
    await make_staff(app, STAFF_ID)
    seed_workers(database, 6, FIRST_WORKER, now=clock())
    text = "Sosialisasi BPU besok di balai desa Air Dikit pukul 09.00. " * 3
    campaign = await started(app, text)
    await send(app, campaign, None, None)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get(f"/dasbor/siaran/{campaign}")).text()
    listed_now = await (await browser.get("/dasbor/siaran")).text()
    running = await browser.get(f"/dasbor/siaran/{campaign}.json")
    answer = await running.json()

    # The page asks for the script (the bot's own file, no inline script) and names where its figures are.
    assert re.findall(r"<script.*?</script>", page, re.S) == ['<script src="/dasbor/live.js" defer></script>']
    assert f'data-live="/dasbor/siaran/{campaign}.json"' in page
    assert f'data-live="/dasbor/siaran/{campaign}.json"' in row_of(listed_now, campaign)  # its row moves too
    # The page has the whole text; the list its first 80 characters.
    assert text.strip() in page and text[:78] in listed_now and text[:90] not in listed_now
    assert running.status == 200 and running.content_type == "application/json"
    assert running.headers["Cache-Control"] == "no-store"
    assert answer["running"] is True and answer["status"] == "sending"
    assert {name: figure["value"] for name, figure in answer["figures"].items()} == dict(
        zip(FIGURES, shown(page), strict=True)
    )
    assert answer["figures"]["sent"]["shown"] == "2" and answer["figures"]["waiting"]["value"] == 4
    assert answer["figures"]["recipients"]["width"] == 480  # the longest bar, as the page draws it

    clock.advance(minutes=1)
    await send(app, campaign, None, None, None, "blocked")
    done = await (await browser.get(f"/dasbor/siaran/{campaign}.json")).json()

    assert done["running"] is False and done["status_shown"] == "selesai"
    assert done["figures"]["sent"]["value"] == 5 and done["figures"]["blocked"]["value"] == 1
    assert done["figures"]["waiting"]["value"] == 0
    script = await browser.get("/dasbor/live.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "data-live" in await script.text()


# ------------------------------------------------------------------------------------------ who sees what


async def test_an_officer_sees_only_the_campaigns_she_made_for_her_own_regions(app, new_chat, browser, database, clock):
    rina_id, _ = await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    eko_id, _ = await make_officer(app, EKO_ID, "Eko Prasetyo", "Kaur")
    seed_workers(database, 3, FIRST_WORKER, now=clock())
    rina, eko = await contact_id(app, RINA_ID), await contact_id(app, EKO_ID)
    staffs = await started(app, "Dari kantor cabang")  # to Mukomuko, by staff on the command line
    hers = await started(app, "Dari Rina", by=f"officer:{rina_id}", author=rina)
    # One she made when Kaur was hers too: Kaur is Eko's now, so it is out of her sight.
    kaur = await started(app, "Dari Rina untuk Kaur", Segment(regions=("Kaur",)), by=f"officer:{rina_id}", author=rina)
    ekos = await started(app, "Dari Eko", Segment(regions=("Kaur",)), by=f"officer:{eko_id}", author=eko)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    page = await (await browser.get("/dasbor/siaran")).text()

    assert listed(page) == [hers]
    assert "Rina Marlina" in row_of(page, hers) and shown(row_of(page, hers))[0] == 3
    assert "Eko" not in page and "Kaur" not in page and "kantor cabang" not in page
    assert (await browser.get(f"/dasbor/siaran/{hers}")).status == 200
    assert (await browser.get(f"/dasbor/siaran/{hers}.json")).status == 200
    for other in (staffs, kaur, ekos):
        for path in (f"/dasbor/siaran/{other}", f"/dasbor/siaran/{other}.json"):
            response = await browser.get(path)
            assert response.status == 404, path
            assert "Eko" not in await response.text()


async def test_staff_see_every_campaign_and_without_a_session_nothing_is_shown(app, new_chat, browser, clock):
    await make_staff(app, STAFF_ID)
    eko_id, _ = await make_officer(app, EKO_ID, "Eko Prasetyo", "Kaur")
    eko = await contact_id(app, EKO_ID)
    ekos = await started(app, "Dari Eko", Segment(regions=("Kaur",)), by=f"officer:{eko_id}", author=eko)
    staffs = await started(app, "Dari kantor cabang")

    async with TestClient(TestServer(build_web_app(app, None))) as stranger:
        for path in ("/dasbor/siaran", f"/dasbor/siaran/{ekos}", f"/dasbor/siaran/{ekos}.json"):
            response = await stranger.get(path)
            assert response.status == 401 and "Dari Eko" not in await response.text(), path

    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))
    page = await (await browser.get("/dasbor/siaran")).text()

    assert listed(page) == [staffs, ekos]
    assert "Eko Prasetyo" in row_of(page, ekos) and "Wilayah: Kaur" in row_of(page, ekos)


async def test_an_unknown_or_forged_campaign_id_gets_a_404_page(app, new_chat, browser):
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    for path in ("999", "999.json", "0", "abc", "1;drop", "12345678901", "-1", "1.json.json"):
        response = await browser.get(f"/dasbor/siaran/{path}")
        assert response.status == 404, path
        assert "Traceback" not in await response.text()
    assert "Siaran tidak ada" in await (await browser.get("/dasbor/siaran/999")).text()


# ------------------------------------------------------------------------------------------ kept counts


async def test_a_campaign_whose_deliveries_the_retention_purge_removed_still_shows_its_figures(
    app, new_chat, browser, database, db, clock
):
    await make_staff(app, STAFF_ID)
    campaign, _ = await a_sent_campaign(app, new_chat, database, clock)
    before = in_database(db, campaign)
    clock.advance(days=app.settings.retention.delivery_days + 1)

    removed = await purge(app.dispatcher.sessions, app.settings.retention, clock())
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))
    page = await (await browser.get(f"/dasbor/siaran/{campaign}")).text()
    listed_then = await (await browser.get("/dasbor/siaran?dari=2026-11-23&sampai=2026-11-23")).text()

    assert removed["delivery"] == 10 and db("select count(*) from deliveries")[0][0] == 0
    assert shown(page) == before == [10, 7, 3, 1, 2, 1, 1, 1, 0]
    assert shown(row_of(listed_then, campaign)) == before
    # The messages' times went with their rows: the curve is flat, and the page says why.
    assert set(curve(page)) == {0} and "tidak ada lagi di grafik" in page
