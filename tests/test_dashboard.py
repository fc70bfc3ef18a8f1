"""The staff dashboard over HTTP, as a browser sees it: one-time links from the chat and the command line, the
session cookie, logging out, the summary's funnel and the regions, each role's view, and bad input.

The web server is the one `bpu-bot run` serves (bot/web/server.py), on aiohttp's test server; the chat is
Telegram's fake; the clock is the test's.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.config import ConfigError, load_settings
from bot.models import Role
from bot.services.audit import Actor
from bot.services.dashboard_access import create_link
from bot.services.officers import ensure_contact
from bot.services.roles import set_role
from bot.web.server import build_web_app
from tests.conftest import command_line, saved_lead, text_of, welcomed
from tests.dashboard import EKO_ID, LINK, STAFF_ID, browser, cells, link_from_chat, make_staff, settings, sign_in
from tests.process import bot_env, free_port, run_cli, running_bot
from tests.test_officers import ADMIN_ID, RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures


# ------------------------------------------------------------------------------------------ getting in


async def test_an_officer_signs_in_once_with_the_link_from_the_chat_and_the_cookie_is_strict(
    app, new_chat, browser, db
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    rina = new_chat("Rina", user_id=RINA_ID)

    sent = text_of(await rina.command("dasbor"))
    assert "http://127.0.0.1:8080/dasbor/masuk/" in sent and "15 menit" in sent
    found = LINK.search(sent)
    assert found is not None
    path = f"/dasbor/masuk/{found.group(2)}"

    opened = await browser.get(path)
    assert opened.status == 200 and "Masuk" in await opened.text()
    # Opening it used nothing (a link preview fetches it too): pressing the button does.
    assert db("select used_at from dashboard_links where used_at is not null") == []
    signed = await browser.post(path, allow_redirects=False)
    assert signed.status == 303
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dasbor" in cookie
    assert "Max-Age=32400" in cookie and "Secure" not in cookie  # http here: Secure only behind https

    summary = await browser.get("/dasbor/")
    assert summary.status == 200
    assert "Prospek (data tersimpan)" in await summary.text()

    # Only hashes are stored: neither the link's token nor the cookie is in the database.
    token, session_cookie = path.rsplit("/", 1)[1], signed.cookies["dasbor_sesi"].value
    stored = [
        tuple(row)
        for row in db("select token_hash from dashboard_links union all select token_hash from dashboard_sessions")
    ]
    assert len(stored) == 2 and all(token not in row and session_cookie not in row for row in stored)

    # The same link a second time, in another browser: refused, with a page saying what to do.
    async with TestClient(TestServer(build_web_app(app, None))) as other:
        again = await other.post(path, allow_redirects=False)
        assert again.status == 410 and "/dasbor" in await again.text()
        assert (await other.get(path)).status == 410
        assert (await other.get("/dasbor/")).status == 401


async def test_a_link_past_15_minutes_or_forged_opens_nothing(app, new_chat, browser, clock):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    path = await link_from_chat(new_chat("Rina", user_id=RINA_ID))

    clock.advance(minutes=15, seconds=1)
    expired = await browser.post(path, allow_redirects=False)
    assert expired.status == 410 and "Tautan tidak berlaku" in await expired.text()
    for forged in ("/dasbor/masuk/" + "A" * 43, "/dasbor/masuk/x", "/dasbor/masuk/%00%27--"):
        assert (await browser.get(forged)).status == 410
        assert (await browser.post(forged, allow_redirects=False)).status == 410
    assert (await browser.get("/dasbor/")).status == 401


async def test_a_worker_asking_for_the_dashboard_is_refused_like_any_staff_command_and_audited(new_chat, db):
    worker = await welcomed(new_chat("Budi"))

    answer = text_of(await worker.command("dasbor"))

    assert "hanya untuk petugas lapangan" in answer and "/dasbor/masuk/" not in answer
    events = db("select actor, actor_role, action, allowed from audit_events")
    assert [tuple(e) for e in events] == [(f"telegram:{worker.chat_id}", "worker", "dashboard", 0)]
    assert db("select count(*) as n from dashboard_links")[0]["n"] == 0


async def test_a_role_taken_away_closes_the_dashboard_at_the_next_click(app, new_chat, browser, db):
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))
    assert (await browser.get("/dasbor/wilayah")).status == 200

    async with app.dispatcher.sessions.begin() as session:
        contact = await ensure_contact(session, "telegram", str(STAFF_ID), "id")
        await set_role(
            session, contact, Role.WORKER, Actor("cli:test", Role.ADMIN), frozenset(), app.dispatcher.clock()
        )

    refused = await browser.get("/dasbor/wilayah")
    assert refused.status == 403 and "Tidak ada akses" in await refused.text()
    assert [tuple(e) for e in db("select actor_role, action, allowed from audit_events where action = 'dashboard'")][
        -1
    ] == ("worker", "dashboard", 0)
    assert (await browser.get("/dasbor/")).status == 401  # the session ended with it


async def test_logging_out_takes_a_post_with_the_pages_csrf_token(app, new_chat, browser, caplog):
    await make_staff(app, STAFF_ID)
    path = await link_from_chat(new_chat("Dewi", user_id=STAFF_ID))
    caplog.set_level(logging.DEBUG)
    await sign_in(browser, path)
    page = await (await browser.get("/dasbor/")).text()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None

    forged = await browser.post("/dasbor/keluar", data={"csrf": "0" * 64}, allow_redirects=False)
    assert forged.status == 403
    assert (await browser.post("/dasbor/keluar", allow_redirects=False)).status == 403
    assert (await browser.get("/dasbor/")).status == 200  # still signed in

    out = await browser.post("/dasbor/keluar", data={"csrf": csrf.group(1)}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/dasbor/keluar"
    assert "Anda sudah keluar" in await (await browser.get("/dasbor/keluar")).text()
    assert (await browser.get("/dasbor/")).status == 401
    # The token never reached a log line.
    assert not [r for r in caplog.records if path.rsplit("/", 1)[1] in r.getMessage()]


async def test_the_command_line_makes_a_link_for_staff_and_refuses_a_worker(
    app, new_chat, browser, database, monkeypatch, capsys, tmp_path, db
):
    await make_staff(app, STAFF_ID)
    worker = await welcomed(new_chat("Budi"))
    environ = {"DATABASE_URL": database.url, "DASHBOARD_URL": "https://bpu.example.go.id/"}
    run = command_line(environ, monkeypatch, capsys, tmp_path, "dashboard", "link")

    made = await run("--as", str(STAFF_ID))
    refused = await run("--as", str(worker.chat_id))

    assert made.returncode == 0, made.stderr
    found = re.search(r"https://bpu\.example\.go\.id/dasbor/masuk/(\S+)", made.stdout)
    assert found is not None and "15 minutes" in made.stdout
    assert refused.returncode == 2 and "not an officer, staff member or admin" in refused.stderr
    rows = db("select actor, subject, allowed from audit_events where action = 'dashboard' order by id")
    assert [tuple(r)[1:] for r in rows] == [(f"telegram:{STAFF_ID}", 1), (f"telegram:{worker.chat_id}", 0)]
    assert rows[0]["actor"].startswith("cli:")
    # The link works on the web server (the address is DASHBOARD_URL's; the path is the server's).
    await sign_in(browser, f"/dasbor/masuk/{found.group(1)}")


# ------------------------------------------------------------------------------------------ the pages


async def test_every_page_is_sent_with_a_strict_policy_and_no_inline_script_or_style(app, new_chat, browser):
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    pages = ("/dasbor/", "/dasbor/wilayah", "/dasbor/pekerjaan", "/dasbor/petugas", "/dasbor/siaran")
    for path in (*pages, "/dasbor/tidak-ada", "/dasbor/?dari=kemarin", "/dasbor/style.css", "/dasbor/live.js"):
        response = await browser.get(path)
        policy = response.headers["Content-Security-Policy"]
        # Scripts only from the bot itself (live.js, on the Siaran pages while a broadcast runs), never inline.
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        body = await response.text()
        assert "<script" not in body and "style=" not in body and "http" not in body.replace("http-equiv", "")
    assert (await browser.get("/dasbor/tidak-ada")).status == 404
    assert (await browser.get("/dasbor", allow_redirects=False)).headers["Location"] == "/dasbor/"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("dari=2026-13-01", "Tanggal dari"),
        ("sampai=23-11-2026", "Tanggal sampai"),
        ("dari=2026-11-20&sampai=2026-11-01", "sesudah tanggal"),
        ("dari=2019-01-01&sampai=2026-11-01", "paling panjang"),
    ],
)
async def test_a_bad_period_gets_a_400_page_that_says_what_is_wrong(app, new_chat, browser, query, said):
    await make_staff(app, STAFF_ID)
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    for page in ("/dasbor/", "/dasbor/wilayah", "/dasbor/pekerjaan", "/dasbor/petugas"):
        response = await browser.get(f"{page}?{query}")
        assert response.status == 400 and said in await response.text()


async def four_workers(app, new_chat) -> None:
    """Budi and Siti leave their contact in Mukomuko, Made in Kaur, Ani only asks what it costs; Rina reaches Budi,
    who registers."""
    await saved_lead(new_chat("Budi"), name="Budi Santoso", phone="+6281234567890", region="Mukomuko")
    await saved_lead(new_chat("Siti"), name="Siti Rahma", phone="+6281234567891", region="Mukomuko")
    await saved_lead(new_chat("Made"), name="Made Wirawan", phone="+6281234567892", region="Kaur")
    ani = await welcomed(new_chat("Ani"))
    await ani.say("brp iurannya")
    await ani.say("brp iurannya")  # asked twice: counted once
    rina = new_chat("Rina", user_id=RINA_ID)
    tasks = await rina.command("tugas")
    budi = next(m for m in tasks if "Budi Santoso" in m.text)
    await rina.tap("Terdaftar", budi)


async def test_the_summary_counts_each_step_as_the_database_holds_it_with_the_erased_people(
    app, new_chat, browser, db, database
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_staff(app, STAFF_ID)
    await four_workers(app, new_chat)
    # Erased earlier: 2 who started in November (1 chose an occupation and asked the cost), 1 of them a lead of
    # Kaur who registered.
    database.execute_many(
        "insert into erased_counts (reason, erased_month, started_month, lead_month, channel, occupation, region,"
        " outcome, count, asked_cost) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("retention", "2026-11", "2026-11", "2026-11", "telegram", "petani", "Kaur", "terdaftar", 1, 1),
            ("request", "2026-11", "2026-11", "", "telegram", "", "", "no_lead", 1, 0),
            ("request", "2026-10", "2026-10", "", "telegram", "", "", "no_lead", 5, 5),  # October: before the period
        ],
    )
    # The admin of ADMIN_TELEGRAM_IDS (a contact without a role) signs in: not a worker who started a chat.
    await sign_in(browser, await link_from_chat(new_chat("Admin", user_id=ADMIN_ID)))

    page = await (await browser.get("/dasbor/?dari=2026-11-01&sampai=2026-11-30")).text()

    workers = f"from contacts where role is null and external_id != '{ADMIN_ID}'"
    expected = [
        db(f"select count(*) as n {workers}")[0]["n"] + 2,
        db(f"select count(occupation) as n {workers}")[0]["n"] + 1,
        db(f"select count(asked_cost_at) as n {workers}")[0]["n"] + 1,
        db("select count(distinct contact_id) as n from consents where purpose = 'lead_contact' and granted")[0]["n"]
        + 1,
        db("select count(*) as n from leads")[0]["n"] + 1,
        db("select count(distinct lead_id) as n from lead_events where actor like 'officer:%'")[0]["n"] + 1,
        db("select count(*) as n from lead_events where to_status = 'terdaftar'")[0]["n"] + 1,
        0,
    ]
    assert expected == [6, 5, 2, 4, 4, 2, 2, 0]
    assert cells(page, "count") == [str(n) for n in expected]
    # Conversions: 5 of 6 chose an occupation, 2 of them asked the cost and 4 agreed (agreeing is counted from the
    # occupation: nobody has to ask the cost first), 2 of 4 leads were reached, both of the 2 reached registered.
    assert re.findall(r"(\d+%) <span", page) == ["83%", "40%", "80%", "100%", "50%", "100%", "0%"]
    assert "<svg" in page and page.count('<rect class="bar"') == 8
    # The week before has none of it; the erased people's November counts only where November 1st is.
    before = await (await browser.get("/dasbor/?dari=2026-11-02&sampai=2026-11-22")).text()
    assert cells(before, "count") == ["0"] * 8


async def test_an_officer_sees_the_regions_and_funnel_of_her_own_regions_only(app, new_chat, browser):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_officer(app, EKO_ID, "Eko Prasetyo", "Kaur")
    await four_workers(app, new_chat)
    await sign_in(browser, await link_from_chat(new_chat("Rina", user_id=RINA_ID)))

    regions = await (await browser.get("/dasbor/wilayah")).text()
    summary = await (await browser.get("/dasbor/")).text()

    assert re.findall(r'<th scope="row">([^<]*)</th>', regions)[:-1] == ["Mukomuko"]
    assert cells(regions, "leads") == ["2"] and cells(regions, "registered") == ["1"]
    for page in (regions, summary):
        assert "Kaur" not in page and "Bengkulu" not in page and "Eko" not in page and "Made" not in page
    # From the lead on: the steps before have no region.
    assert "Mulai chat" not in summary and cells(summary, "count") == ["2", "1", "1", "0"]


async def test_staff_see_every_region_with_its_share_and_the_erased_leads(app, new_chat, browser, database):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_staff(app, STAFF_ID)
    await four_workers(app, new_chat)
    # Two leads of Kaur erased since, one of whom registered, from November (the default period holds Nov 1st).
    database.execute_many(
        "insert into erased_counts (reason, erased_month, started_month, lead_month, channel, occupation, region,"
        " outcome, count) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("retention", "2026-11", "2026-11", "2026-11", "telegram", "petani", "Kaur", "terdaftar", 1),
            ("request", "2026-11", "2026-11", "2026-11", "whatsapp", "nelayan", "Kaur", "baru", 1),
        ],
    )
    await sign_in(browser, await link_from_chat(new_chat("Dewi", user_id=STAFF_ID)))

    page = await (await browser.get("/dasbor/wilayah")).text()

    shown = re.findall(r'<th scope="row">([^<]*)</th>', page)
    assert shown[:2] == ["Kaur", "Mukomuko"] and "Kota Bengkulu" in shown  # configured regions, even at zero
    assert cells(page, "leads")[:2] == ["3", "2"] and cells(page, "registered")[:2] == ["1", "1"]
    assert "60%" in page and "40%" in page and "50%" in page  # 3 and 2 of 5 leads; 1 of 2 registrations each
    assert page.count('<rect class="bar"') == len(shown) - 1


# ------------------------------------------------------------------------------------------ configuration


def test_dashboard_url_is_checked_and_defaults_to_the_web_servers_address():
    assert load_settings({}, None).dashboard_base == "http://127.0.0.1:8080"
    given = load_settings({"DASHBOARD_URL": "https://bpu.example.go.id/dasbor/"}, None)
    assert given.dashboard_base == "https://bpu.example.go.id"
    for wrong in ("bpu.example.go.id", "ftp://bpu.example.go.id", "https://bpu.example.go.id/lain"):
        with pytest.raises(ConfigError, match="DASHBOARD_URL"):
            load_settings({"DASHBOARD_URL": wrong}, None)


async def test_behind_https_the_cookie_is_secure(settings, clock):

    secure = create_app(dataclasses.replace(settings, dashboard_url="https://bpu.example.go.id"), clock)
    try:
        await make_staff(secure, STAFF_ID)
        async with secure.dispatcher.sessions.begin() as session:
            contact = await ensure_contact(session, "telegram", str(STAFF_ID), "id")
            token = await create_link(session, contact, clock())
        async with TestClient(TestServer(build_web_app(secure, None))) as client:
            response = await client.post(f"/dasbor/masuk/{token}", allow_redirects=False)
            assert response.status == 303 and "Secure" in response.headers["Set-Cookie"]
    finally:
        await secure.close()


# ------------------------------------------------------------------------------------------ a real process


def test_dashboard_serve_is_the_dashboard_alone_in_a_process_of_its_own(tmp_path):
    """As on an office PC: a link made with the command line, the dashboard served alone, SIGTERM ends it."""
    port = free_port()
    env = bot_env(tmp_path, ADMIN_TELEGRAM_IDS=str(ADMIN_ID), WEB_PORT=str(port))
    made = run_cli(["dashboard", "link", "--as", str(ADMIN_ID)], env, tmp_path)
    assert made.returncode == 0, made.stderr
    found = LINK.search(made.stdout)
    assert found is not None and found.group(1) == f"http://127.0.0.1:{port}"
    path = f"/dasbor/masuk/{found.group(2)}"

    def ask(method: str, target: str, cookie: str = "") -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(method, target, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def answering() -> bool:
        try:
            return ask("GET", "/dasbor/").status == 401
        except OSError:
            return False

    with running_bot(env, tmp_path, "dashboard.log", ready=answering, command=("dashboard", "serve")) as served:
        assert ask("GET", path).status == 200
        signed = ask("POST", path)
        assert signed.status == 303
        cookie = signed.headers["Set-Cookie"].split(";")[0]
        assert ask("GET", "/dasbor/", cookie).status == 200
        assert ask("GET", "/dasbor/wilayah", cookie).status == 200
        assert ask("POST", path).status == 410
        assert served.stop() == 0
    assert found.group(2) not in served.log and "serving the dashboard on" in served.log
