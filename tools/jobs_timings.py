"""The background-jobs goals, measured in a real browser on the shared Online Retail data.

    python tools/jobs_timings.py [DATA]

Prints: how long the starter jobs take on first sight of the data; with two_tower training
(clicked on the Models page), page switches and a reload; click-to-usable model (holdout
model stored) and click-to-refit; Embeddings PCA once the model is there; that UMAP runs as a
job while pages switch; a Campaigns what-if; two browser sessions training different models at
once. Figures, not tests: run it on a quiet machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_e2e_browser import CHROMIUM, free_port  # noqa: E402

MARKERS = {"Customer": "Recommendations", "Products": "Similar products",
           "Data": "Orders per week", "Campaigns": "Backtest cutoff", "Models": "Models to train"}


def wait_jobs(jobs, pred, timeout: float = 1800.0, poll: float = 0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        jobs.reap()
        found = pred(jobs.list(limit=500))
        if found:
            return found
        time.sleep(poll)
    raise TimeoutError("jobs did not finish")


def switch(page, name: str) -> float:
    t = time.perf_counter()
    page.get_by_role("link", name=name).click()
    page.get_by_text(MARKERS[name]).first.wait_for(timeout=60_000)
    return time.perf_counter() - t


def choose_models(page, names: list[str]) -> None:
    """Replace the Models page's multiselect with these models."""
    box = page.locator("[data-testid='stMultiSelect']").first
    box.click()
    for _ in range(4):
        page.keyboard.press("Backspace")
    for name in names:
        page.keyboard.type(name)
        page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_timeout(800)


def main(path: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from recsys.data import ImportOptions, load_orders
    from recsys.jobs import Jobs
    from recsys.workspace import Workspace

    root = tempfile.mkdtemp(prefix="jobs-timings-")
    os.environ["RECSYS_WORKSPACE"] = root
    ws = Workspace(root)
    ws.save_dataset(load_orders(path, options=ImportOptions(pii_key=ws.pii_key)), "retail")
    jobs = Jobs(ws)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                               "--server.port", str(port), "--server.headless", "true"],
                              cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url + "/?dataset=retail")
            page.get_by_text("Lines kept").first.wait_for(timeout=120_000)
            wait_jobs(jobs, lambda js: js and all(not j.active for j in js))
            out["starter_jobs_all_done_s"] = time.perf_counter() - t0
            out["starter_jobs"] = float(len(jobs.list()))

            switch(page, "Models")
            choose_models(page, ["two_tower"])
            page.get_by_role("button", name="Train and evaluate").click()
            click = time.time()
            page.get_by_text("Running").first.wait_for(timeout=60_000)
            names = ("Customer", "Products", "Data", "Campaigns", "Customer", "Products",
                     "Data", "Models")
            times = [switch(page, n) for n in names]
            for name, took in zip(names, times):
                print(f"  switch to {name:<10}{took:6.2f} s", flush=True)
            out["page_switch_while_training_median_s"] = statistics.median(times)
            out["page_switch_while_training_max_s"] = max(times)
            t = time.perf_counter()
            page.reload()
            page.get_by_text("two_tower · fit + holdout score").first.wait_for(timeout=60_000)
            out["reload_shows_running_job_s"] = time.perf_counter() - t
            fit = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "fit" and not j.active
                                              and "two_tower" in (j.label or "")])[0]
            out["two_tower_click_to_usable_s"] = fit.finished - click
            out["two_tower_fit_seconds_in_job"] = fit.result["metrics"]["fit_seconds"]
            serve = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "serve"
                                                and not j.active
                                                and "two_tower" in (j.label or "")])[0]
            out["two_tower_click_to_refit_done_s"] = serve.finished - click
            wait_jobs(jobs, lambda js: js and all(not j.active for j in js))
            out["two_tower_fit_jobs"] = float(len([j for j in jobs.list() if j.kind == "fit"
                                                   and "two_tower" in (j.label or "")]))

            switch(page, "Models")  # the model is listed and used without retraining
            switch(page, "Customer")
            page.get_by_text("two_tower").first.wait_for(timeout=30_000)

            page.get_by_role("link", name="Embeddings").click()
            page.get_by_text("Embeddings and segments").first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            page.locator("[data-testid='stSelectbox']").nth(1).click()
            t = time.perf_counter()
            page.get_by_role("option", name="two_tower").click()
            page.get_by_text("Silhouette by number of clusters").first.wait_for(timeout=60_000)
            out["embeddings_pca_after_training_s"] = time.perf_counter() - t
            page.locator("[data-testid='stSelectbox']").nth(2).click()
            page.get_by_role("option", name="umap").click()
            page.wait_for_timeout(500)
            out["switch_while_umap_runs_s"] = switch(page, "Customer")
            umap = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "segments"
                                               and j.params["method"] == "umap"
                                               and not j.active])[0]
            out["umap_job_s"] = umap.elapsed

            switch(page, "Campaigns")
            page.get_by_text("Targeting").first.wait_for(timeout=300_000)
            cost = page.get_by_label("Cost per contact")
            whatifs = []
            for value in ("0.40", "0.55", "0.30"):
                cost.fill(value)
                t = time.perf_counter()
                cost.press("Enter")
                page.get_by_text(f"£{value} per contact").first.wait_for(timeout=60_000)
                whatifs.append(time.perf_counter() - t)
            out["campaign_what_if_browser_median_s"] = statistics.median(whatifs)

            other = browser.new_context().new_page()
            other.goto(url + "/models?dataset=retail")
            other.get_by_text("Models to train").first.wait_for(timeout=60_000)
            switch(page, "Models")
            choose_models(page, ["ncf"])
            choose_models(other, ["item2vec"])
            t = time.time()
            page.get_by_role("button", name="Train and evaluate").click()
            other.get_by_role("button", name="Train and evaluate").click()
            both = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "fit" and not j.active
                                               and j.started and j.started >= t - 1] if len(
                [j for j in js if j.kind == "fit" and not j.active and j.started
                 and j.started >= t - 1]) == 2 else None)
            out["two_sessions_both_done_s"] = max(j.finished for j in both) - t
            out["two_sessions_states_done"] = float(sum(j.state == "done" for j in both))
            for p_, name in ((page, "item2vec"), (other, "ncf")):
                p_.reload()
                p_.get_by_text(name).first.wait_for(timeout=60_000)  # each sees both results
            browser.close()
    finally:
        server.terminate()
    return out


if __name__ == "__main__":
    shared = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"
    data = sys.argv[1] if len(sys.argv) > 1 else str(shared)
    if not Path(data).exists():
        sys.exit(f"no data at {data}")
    for k, v in main(data).items():
        print(f"{k:<42}{v:10.2f}", flush=True)
