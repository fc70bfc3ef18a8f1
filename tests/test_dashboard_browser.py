"""The dashboard in a real browser: Debian's Chromium, headless, driven through its chromedriver (Selenium), on
`bpu-bot dashboard serve` started as its own process on the test's database.

A staff member gets a link from `bpu-bot dashboard link`, opens it, presses Masuk, and walks the menu: every
page answers, its charts are drawn (the browser lays out a bar for each figure), and the figures match the
database; a masked lead is shown (and audited), and a running broadcast's figures move without a reload. A
screenshot of every page is saved, to the test's folder or to DASHBOARD_SCREENSHOTS when set (the README's
pictures are of a bigger data set: `python -m bench.dashboard --screenshots`).

Without Chromium the test is skipped, unless REQUIRE_BROWSER is set: `.ci/run` installs Chromium and sets it, so
CI fails rather than skip it.
"""

from __future__ import annotations

import asyncio
import http.client
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from bot.web.dashboard.rendering import PAGES
from tests.browser import INSTALLED, MISSING, chromium, screenshot
from tests.dashboard import LINK, STAFF_ID, browser, make_staff, settings
from tests.population import seed_workers
from tests.process import bot_env, free_port, run_cli, running_bot
from tests.test_dashboard import four_workers
from tests.test_dashboard_campaigns import FIRST_WORKER, in_database, send, started
from tests.test_officers import ADMIN_ID, RINA_ID, make_officer

__all__ = ["browser", "settings"]  # fixtures

PERIOD = "?dari=2026-11-01&sampai=2026-11-30"  # the test clock's month (tests/conftest.py: MONDAY_10_WIB)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[WebDriver]:
    if not INSTALLED:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {MISSING} are not installed")
        pytest.skip(f"no {MISSING}")
    with chromium(tmp_path / "chromium") as started:
        yield started


def press(driver: WebDriver, button: str, lands_on: str) -> None:
    """Click a form's button and wait for the page it leads to (the click returns before the form is sent)."""
    driver.find_element(By.CSS_SELECTOR, button).click()
    WebDriverWait(driver, 10).until(expected_conditions.url_to_be(lands_on))


def table_numbers(driver: WebDriver, css: str) -> list[int]:
    return [int(cell.text.replace(".", "")) for cell in driver.find_elements(By.CSS_SELECTOR, f"td.number.{css}")]


def drawn_bars(driver: WebDriver, css: str = "rect.bar") -> list[tuple[str, float]]:
    """Each bar's figure (from its tooltip, "label: 3") and the width the browser laid it out at."""
    bars = []
    for bar in driver.find_elements(By.CSS_SELECTOR, f"svg.chart {css}"):
        title = bar.find_element(By.TAG_NAME, "title").get_attribute("textContent") or ""
        bars.append((title.rsplit(": ", 1)[1], bar.rect["width"]))
    return bars


def assert_bars_match(bars: list[tuple[str, float]], numbers: list[int]) -> None:
    assert [int(shown.replace(".", "")) for shown, _ in bars] == numbers
    # The browser drew a visible bar for each figure above zero, and none for a zero.
    assert all((width > 0) == (number > 0) for (_, width), number in zip(bars, numbers, strict=True))


def check_summary(driver: WebDriver, db) -> None:
    funnel = table_numbers(driver, "count")
    steps = [
        row.get_attribute("data-step")
        for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-step]")
        if row.find_elements(By.CSS_SELECTOR, "td.count")  # the funnel's table (today's block has other cells)
    ]
    counted = dict(zip(steps, funnel, strict=True))
    assert counted["lead"] == db("select count(*) as n from leads")[0]["n"]
    assert counted["asked_cost"] == db("select count(asked_cost_at) as n from contacts")[0]["n"]
    assert counted["registered"] == db("select count(*) as n from lead_events where to_status = 'terdaftar'")[0]["n"]
    assert_bars_match(drawn_bars(driver)[: len(funnel)], funnel)


def check_regions(driver: WebDriver, db) -> None:
    by_region = {row["region"]: row["n"] for row in db("select region, count(*) as n from leads group by region")}
    names = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "tbody th[scope=row]")]
    shown = dict(zip(names, table_numbers(driver, "leads"), strict=True))
    assert {region: n for region, n in shown.items() if n} == by_region
    assert_bars_match(drawn_bars(driver)[: len(names)], list(shown.values()))


def check_occupations(driver: WebDriver, db) -> None:
    shown = table_numbers(driver, "leads")
    assert sum(shown) == db("select count(*) as n from leads")[0]["n"]
    assert_bars_match(drawn_bars(driver)[: len(shown)], shown)


def check_officers(driver: WebDriver, db) -> None:
    open_tasks = db(
        "select coalesce(o.name, '') as name, count(*) as n from followups f left join officers o"
        " on o.id = f.officer_id where f.status = 'pending' and f.kind in ('call', 'question') group by o.name"
    )
    names = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "table.tasks tbody th[scope=row]")]
    shown = dict(zip(names, table_numbers(driver, "open"), strict=True))
    officers = {row["name"]: row["n"] for row in open_tasks if row["name"]}
    assert {name: n for name, n in shown.items() if name in officers} == officers
    pool = sum(row["n"] for row in open_tasks if not row["name"])
    assert sum(shown.values()) == sum(officers.values()) + pool
    # The open tasks' chart: a bar each, the overdue part drawn over it in another colour.
    assert_bars_match(drawn_bars(driver, "rect.bar:not(.overdue)")[: len(names)], list(shown.values()))


def check_leads(driver: WebDriver, db) -> None:
    rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-lead]")
    leads = {row["id"]: row["phone"] for row in db("select id, phone from leads")}
    assert len(rows) == min(50, len(leads))
    # Masked until shown: every number on the page has its middle starred.
    assert all("*" in cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "td.phone"))
    first = rows[0]
    lead = int(first.get_attribute("data-lead") or 0)
    first.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    shown = WebDriverWait(driver, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"tr.shown[data-lead='{lead}']"))
    )
    digits = "".join(char for char in shown.find_element(By.CSS_SELECTOR, "td.phone").text if char.isdigit())
    assert digits.removeprefix("0") == leads[lead].removeprefix("+62")
    assert db("select count(*) as n from audit_events where action = 'dashboard_reveal'")[0]["n"] == 1


def figures(box: WebElement) -> list[int]:
    return [int(cell.text.replace(".", "")) for cell in box.find_elements(By.CSS_SELECTOR, "[data-figure]")]


def check_campaigns(driver: WebDriver, db) -> None:
    rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-campaign]")
    assert [int(row.get_attribute("data-campaign") or 0) for row in rows] == [
        row["id"] for row in db("select id from campaigns order by id desc")
    ]
    for row in rows:
        assert figures(row) == in_database(db, int(row.get_attribute("data-campaign") or 0))


# What each page must show, read in the browser and checked against the database (a page without an entry is
# only checked to answer with its title).
CHECKS = {
    "summary": check_summary,
    "regions": check_regions,
    "occupations": check_occupations,
    "officers": check_officers,
    "campaigns": check_campaigns,
    "leads": check_leads,
}


def walk_the_dashboard(
    driver: WebDriver, db, tmp_path: Path, shots: Path, campaign: int, send_more: Callable[[], None]
) -> None:
    """As a staff member at an office PC: a link made on the server, Masuk, every page of the menu, a running
    broadcast's page while it sends, Keluar."""
    port = free_port()
    env = bot_env(tmp_path, ADMIN_TELEGRAM_IDS=str(ADMIN_ID), WEB_PORT=str(port))
    origin = f"http://127.0.0.1:{port}"
    # The link is made on the server (the chat's /dasbor makes the same, tests/test_dashboard.py): the test's chat
    # runs on the test clock, the served dashboard on the real one, which a link from the chat would be old for.
    made = run_cli(["dashboard", "link", "--as", str(STAFF_ID)], env, tmp_path)
    found = LINK.search(made.stdout)
    assert made.returncode == 0 and found is not None, made.stderr
    path = f"/dasbor/masuk/{found.group(2)}"

    def answering() -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/dasbor/")
            return connection.getresponse().status == 401
        except OSError:
            return False

    with running_bot(env, tmp_path, "dashboard.log", ready=answering, command=("dashboard", "serve")) as served:
        driver.get(origin + path)
        press(driver, "form button[type=submit]", f"{origin}/dasbor/")
        # The session is a cookie the page's scripts cannot read.
        assert driver.execute_script("return document.cookie") == ""
        driver.get(f"{origin}/dasbor/{PERIOD}")

        # Every page of the menu, reached by its link (which keeps the period): its title, what it draws.
        menu = {link.text: link.get_attribute("href") for link in driver.find_elements(By.CSS_SELECTOR, "nav a")}
        assert len(menu) == len(PAGES)
        for (title, href), name in zip(menu.items(), PAGES, strict=True):
            driver.get(href)
            assert driver.find_element(By.TAG_NAME, "h1").text == title
            if name in CHECKS:
                CHECKS[name](driver, db)
            screenshot(driver, shots, name)

        # A running broadcast: its figures move while the page stays (no reload: the page's own mark survives).
        driver.get(f"{origin}/dasbor/siaran/{campaign}{PERIOD}")
        box = driver.find_element(By.CSS_SELECTOR, f"section[data-campaign='{campaign}']")
        assert figures(box) == in_database(db, campaign)
        screenshot(driver, shots, "campaign")
        driver.execute_script("window.stayed = true")
        send_more()
        expected = in_database(db, campaign)
        WebDriverWait(driver, 20).until(lambda _: figures(box) == expected)
        assert driver.execute_script("return window.stayed") is True

        press(driver, ".who form button", f"{origin}/dasbor/keluar")
        driver.get(f"{origin}/dasbor/")
        assert "/dasbor" in driver.find_element(By.TAG_NAME, "main").text  # signed out: how to get a link
        assert served.stop() == 0
    assert found.group(2) not in served.log
    assert {f"dashboard-{name}.png" for name in (*PAGES, "campaign")} <= {
        shot.name for shot in shots.glob("dashboard-*.png")
    }


async def test_staff_open_the_link_in_chromium_and_every_page_draws_the_databases_figures(
    app, new_chat, db, database, clock, tmp_path, driver
):
    await make_officer(app, RINA_ID, "Rina Marlina", "Mukomuko")
    await make_staff(app, STAFF_ID)
    await four_workers(app, new_chat)
    seed_workers(database, 6, FIRST_WORKER, now=clock())
    campaign = await started(app, "Sosialisasi BPU besok di balai desa Air Dikit pukul 09.00.")
    await send(app, campaign, None, None)
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    loop = asyncio.get_running_loop()

    def send_more() -> None:  # from the browser's thread, on the test's loop (the campaign engine's steps)
        asyncio.run_coroutine_threadsafe(send(app, campaign, None, None, "blocked"), loop).result(timeout=30)

    # The browser and the process it talks to are driven from a thread: they block, the test's loop does not.
    await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(walk_the_dashboard, driver, db, tmp_path, shots, campaign, send_more)
