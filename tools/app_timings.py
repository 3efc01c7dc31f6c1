"""Measure the app's speed goals in a real browser and print the figures.

    python tools/app_timings.py

cold start (server start to the first page rendered), page switches with everything cached,
and one customer's recommendations (library call behind the Customer page).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_e2e_browser import CHROMIUM, free_port, wait_idle  # noqa: E402


def browser_timings(workspace: str) -> dict[str, float]:
    import os
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "RECSYS_WORKSPACE": workspace}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    out = {"server_ready_s": time.perf_counter() - t0}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("Lines kept").first.wait_for(timeout=120_000)
            out["cold_start_first_content_s"] = time.perf_counter() - t0
            page.get_by_text("Orders per week").first.wait_for(timeout=120_000)
            out["cold_start_charts_drawn_s"] = time.perf_counter() - t0
            wait_idle(page)
            for name, marker in [("Customer", "Recommendations"), ("Products", "Similar products"),
                                 ("Data", "Orders per week"), ("Models", "Train and evaluate")]:
                page.get_by_role("link", name=name).click()  # warm every page once
                page.get_by_text(marker).first.wait_for(timeout=120_000)
                wait_idle(page)
            switches = []
            for _ in range(3):
                for name, marker in [("Customer", "Recommendations"),
                                     ("Products", "Similar products"),
                                     ("Data", "Orders per week")]:
                    t = time.perf_counter()
                    page.get_by_role("link", name=name).click()
                    page.get_by_text(marker).first.wait_for(timeout=60_000)
                    page.wait_for_function("() => !document.querySelector("
                                           "'[data-testid=\"stStatusWidget\"]')")
                    switches.append(time.perf_counter() - t)
            out["page_switch_median_s"] = statistics.median(switches)
            out["page_switch_max_s"] = max(switches)
            browser.close()
    finally:
        proc.terminate()
    return out


def recommendation_timing() -> dict[str, float]:
    from recsys import insights
    from recsys.datasets import load_demo
    from recsys.models import make_model

    data = load_demo()
    model = make_model("ease").fit(data)
    ids = insights.customer_choices(data)[:50]
    times = []
    for cid in ids:
        t = time.perf_counter()
        insights.recommendation_table(model, data, cid, n=10)
        times.append((time.perf_counter() - t) * 1000)
    return {"one_customer_recommendations_ms_median": statistics.median(times),
            "one_customer_recommendations_ms_max": max(times)}


if __name__ == "__main__":
    import tempfile

    ws = tempfile.mkdtemp()
    first = browser_timings(ws)  # generates the demo shop and caches it in the workspace
    later = browser_timings(ws)  # a later start: the demo is read back
    figures = {**recommendation_timing(),
               "first_ever_start_first_content_s": first["cold_start_first_content_s"],
               **later}
    for k, v in figures.items():
        print(f"{k:<42}{v:8.3f}")
