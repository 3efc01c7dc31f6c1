"""Every page in a real browser on three shops: the demo, a real-shape Shopify export (phone-only
and guest buyers, mixed UTC offsets, taka prices) uploaded through the Data page, and the shared
Online Retail data where it is present. Screenshots land in artifacts/, and the facts an
analyst checks first (how customers were identified, customers vs orders, the currency, the
segments' worth) in artifacts/journey_facts.json."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest

from tests.conftest import SHARED_RETAIL
from tests.shops import shopify_orders
from tests.test_e2e_browser import ARTIFACTS, needs_browser
from tools.browser import CHROMIUM, app_server, wait_idle

pytestmark = pytest.mark.e2e
PAGES = [("Data", "Lines kept"), ("Models", "Leaderboard"), ("Customer", "Recommendations"),
         ("Products", "Similar products"), ("Embeddings", "Select a point"),
         ("Campaigns", "Expected buyers")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    needs_browser()
    ws = tmp_path_factory.mktemp("e2e-pages-ws")
    env = {"RECSYS_WORKSPACE": str(ws), "RECSYS_PII_KEY_FILE": str(ws.parent / "e2e.key")}
    try:
        with app_server(env) as url:
            yield url, ws
    finally:
        from recsys.jobs import Jobs, LocalExecutor
        from recsys.workspace import Workspace

        LocalExecutor.shutdown(Jobs(Workspace(ws)))


def jobs_idle(ws: Path, timeout: float = 600) -> None:
    from recsys.jobs import Jobs
    from recsys.workspace import Workspace

    jobs = Jobs(Workspace(ws))
    end = time.monotonic() + timeout
    time.sleep(1)
    while jobs.list(states=("queued", "running")):
        jobs.reap()
        assert time.monotonic() < end, "jobs did not finish"
        time.sleep(1)


def tour(page, name: str) -> dict[str, str]:
    """Visit every page, screenshot it, and keep the text an analyst reads first."""
    facts = {}
    for link, marker in PAGES:
        page.get_by_role("link", name=link).click()
        page.get_by_text(marker).first.wait_for(timeout=300_000)
        wait_idle(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{link.lower()}.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0, (name, link)
        main = page.locator("[data-testid='stMain']").inner_text()
        if link == "Data":
            facts["data"] = page.locator("[data-testid='stCaptionContainer']").filter(
                has_text="dates read as").first.inner_text()
            facts["warnings"] = [w for w in main.splitlines() if "Almost every order" in w]
        if link == "Embeddings":
            worth = page.locator("[data-testid='stCaptionContainer']").filter(
                has_text="segment's best sellers")
            facts["segments"] = worth.first.inner_text() if worth.count() else ""
        if link == "Campaigns":
            facts["campaign"] = next(line for line in main.splitlines()
                                     if line.startswith("Contacting"))
        if link == "Customer":  # the table is drawn on a canvas: its downloaded file says
            facts["customer_why"] = first_reasons(page)  # what the first rows' "why" read
        # What the analyst sees chosen, and the tables' first lines (the closing notes of
        # the pages issue quote them from here).
        facts[f"{link.lower()}_choices"] = [
            " · ".join(box.inner_text().split("\n")) for box in page.locator(
                "[data-testid='stSelectbox'], [data-testid='stMultiSelect']").all()[:4]]
        tables = page.locator("[data-testid='stDataFrame']")
        facts[f"{link.lower()}_tables"] = [tables.nth(i).inner_text()[:1200]
                                           for i in range(min(tables.count(), 3))]
    return facts


def first_reasons(page, n: int = 5) -> list[str]:
    """The first model's first ``n`` recommendations with their reasons, from its download."""
    with page.expect_download(timeout=60_000) as got:
        page.get_by_role("button", name=re.compile("^Download .* list$")).first.click()
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert rows and "because you bought" in rows[0], rows[:1]
    return [f"{r['name']} ← {r['because you bought']}" for r in rows[:n]]


def upload(page, path: Path) -> None:
    page.get_by_role("link", name="Data").click()
    wait_idle(page)
    if not page.get_by_role("button", name="Import").is_visible():
        page.get_by_text("Upload an order export").first.click()  # collapsed: one click away
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text(path.name).first.wait_for(timeout=120_000)  # the upload has arrived
    wait_idle(page)
    page.get_by_role("button", name="Import").click()
    page.get_by_text(re.compile(r"^Imported [\d,]+ lines")).first.wait_for(timeout=600_000)


def test_every_page_on_three_shops(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, ws = server
    shops = {"shopify": tmp_path / "orders_export.csv"}
    shops["shopify"].write_bytes(shopify_orders(n_customers=120, weeks=40))
    if SHARED_RETAIL.exists():
        shops["online-retail"] = SHARED_RETAIL
    facts = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, timeout=60_000)
        page.get_by_text("Welcome").first.wait_for(timeout=120_000)
        jobs_idle(ws)
        page.reload()
        facts["demo"] = tour(page, "demo")
        for name, path in shops.items():
            upload(page, path)
            jobs_idle(ws, timeout=1800)
            page.reload()  # the shop stays in view (it is in the address)
            facts[name] = tour(page, name)
        browser.close()
    (ARTIFACTS / "journey_facts.json").write_text(json.dumps(facts, indent=2))
    shop = facts["shopify"]
    assert "phone number" in shop["data"] and "name and postcode" in shop["data"]
    assert "BDT" in shop["data"] and "৳" in shop["campaign"] and "£" not in shop["campaign"]
    assert not shop["warnings"]
    assert "£" in facts["demo"]["campaign"]
    for name in facts:
        assert "RFM segments" in facts[name]["segments"], (name, facts[name])
        assert len(facts[name]["customer_why"]) == 5, (name, facts[name]["customer_why"])
