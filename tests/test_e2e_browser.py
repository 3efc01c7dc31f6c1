"""One real-browser journey: start the app, upload an export, train a model as a background
job, reload the page and find the model still there, tune models, open a customer and a
product.

Drives Debian's Chromium through Playwright (never a downloaded browser); skipped where
Chromium or Playwright is missing. Screenshots land in artifacts/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import job_tables
from tools.browser import CHROMIUM, ROOT, app_server, has_chromium, wait_idle

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "artifacts"
SHOP = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
""" + "".join(
    f"{1000 + o},{20000 + (o * 7 + k * 3) % 40},PRODUCT {(o * 7 + k * 3) % 40},"
    f"{1 + k},2024-{1 + o % 6:02d}-{1 + o % 27:02d} 10:00:00,{1.5 + k},{500 + o % 60}.0,UK\n"
    for o in range(400) for k in range(4))


def needs_browser() -> None:
    if not has_chromium():
        pytest.skip("Debian chromium is not installed")
    pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    needs_browser()
    root = tmp_path_factory.mktemp("e2e-ws")
    try:
        with app_server({"RECSYS_WORKSPACE": str(root)}) as url:
            yield url
    finally:
        _stop_job_workers(root)


def _stop_job_workers(root: Path) -> None:
    """The app's job workers outlive it (they are detached): stop them, or they go on
    training the journey's models while later tests run."""
    from recsys.jobs import InlineExecutor, Jobs, LocalExecutor
    from recsys.workspace import Workspace

    for db in job_tables(root):
        LocalExecutor.shutdown(Jobs(Workspace(db.parent), InlineExecutor()))


def check_page(page, name: str) -> None:
    wait_idle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0, name


def test_browser_journey(server, tmp_path):
    from playwright.sync_api import sync_playwright

    export = tmp_path / "shop.csv"
    export.write_text(SHOP)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server, timeout=60_000)
        page.get_by_text("Customers").first.wait_for(timeout=120_000)
        check_page(page, "1-data-demo")

        page.get_by_text("Upload an order export").first.click()  # below the insights
        page.locator("input[type=file]").set_input_files(str(export))
        wait_idle(page)
        page.get_by_role("button", name="Import").click()
        page.get_by_text("Imported 1,600 lines").wait_for(timeout=120_000)
        check_page(page, "2-data-uploaded")

        page.get_by_role("link", name="Models").click()
        page.get_by_role("button", name="Train and evaluate").wait_for(timeout=60_000)
        page.get_by_role("button", name="Train and evaluate").click()
        page.get_by_text("Leaderboard").first.wait_for(timeout=180_000)
        check_page(page, "3-models")

        assert "dataset=shop" in page.url
        page.reload()  # the same dataset and its models: they live in the workspace
        page.get_by_text("Leaderboard").first.wait_for(timeout=60_000)
        check_page(page, "3b-models-after-reload")
        assert page.get_by_text("Lines kept").count() == 0  # still on Models, not the demo
        assert "60 customers" in page.locator("[data-testid='stSidebar']").inner_text()  # the shop

        # Half a year of a tiny shop is too little to tune on: it says so where it was asked.
        page.get_by_text("Tune settings automatically").click()
        page.get_by_role("button", name="Tune", exact=True).click()
        # (at once: no job is asked for, so nothing waits behind the starter jobs)
        page.get_by_text("Too little history to tune").first.wait_for(timeout=60_000)
        check_page(page, "3c-models-tune-refused")

        page.get_by_role("link", name="Customer").click()
        page.get_by_text("Recommendations").first.wait_for(timeout=240_000)
        check_page(page, "4-customer")

        page.get_by_role("link", name="Products").click()
        page.get_by_text("Similar products").first.wait_for(timeout=240_000)
        check_page(page, "5-products")
        browser.close()
