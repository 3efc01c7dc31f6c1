"""A deep link as the first request a fresh server gets goes through the router.

Streamlit honours its legacy ``pages/`` discovery until a session has run ``st.navigation``;
a first request for ``/customer`` used to run pages/customer.py alone: no sign-in gate, no
sidebar, no dataset from the link. Each page now calls ``ui.routing.routed()`` first."""

from __future__ import annotations

import pytest

from tests.test_e2e_browser import needs_browser
from tools.browser import CHROMIUM, app_server

pytestmark = pytest.mark.e2e


def test_a_deep_link_first_runs_the_router(_workspace, tmp_path):
    needs_browser()
    from playwright import sync_api

    with app_server({"RECSYS_PAGE_LOG": str(tmp_path / "runs.log")}) as url:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + "/customer", timeout=60_000)  # nobody has opened "/" yet
            page.get_by_text("Purchase history").first.wait_for(timeout=180_000)
            sidebar = page.locator("[data-testid='stSidebar']")
            sidebar.get_by_text("Dataset").first.wait_for(timeout=60_000)  # the router's
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            assert "Customer" in nav and "app" not in nav.split(), nav  # not pages/ alone
            browser.close()
        runs = (tmp_path / "runs.log").read_text().split("\n")
        assert runs[0].split("\t")[1] == "Customer"  # logged by the router's run of the page
    # its job workers are stopped with the test's workspace
