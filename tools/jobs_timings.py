"""The background-jobs goals, measured in a real browser on the shared Online Retail data.

    python tools/jobs_timings.py [DATA]
    python tools/jobs_timings.py --smoke DATA   # quick models instead (a smoke run)

Prints: how long the starter jobs take on first sight of the data; with two_tower training
(clicked on the Models page), page switches and a reload; click-to-usable model (holdout
model stored) and click-to-refit; Embeddings PCA once the model is there; that UMAP runs as a
job while pages switch; a Campaigns what-if; two browser sessions training different models at
once. Figures, not tests: run it on a quiet machine.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.browser import CHROMIUM, app_server  # noqa: E402

MARKERS = {"Customer": "Recommendations", "Products": "Similar products",
           "Data": "Orders per week", "Campaigns": "Size the audience by",
           "Models": "Models to train"}


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


def main(path: str, smoke: bool = False) -> dict[str, float]:
    # the model trained while pages switch (it needs vectors), and the two trained at once
    big, pair = ("bpr", ("itemknn", "recent_popularity")) if smoke else \
        ("two_tower", ("ncf", "item2vec"))
    from playwright.sync_api import sync_playwright

    from recsys.data import ImportOptions, load_orders
    from recsys.jobs import Jobs
    from recsys.workspace import Workspace

    root = tempfile.mkdtemp(prefix="jobs-timings-")
    os.environ["RECSYS_WORKSPACE"] = root
    ws = Workspace(root)
    ws.save_dataset(load_orders(path, options=ImportOptions(pii_key=ws.pii_key)), "retail")
    jobs = Jobs(ws)
    server = ExitStack()
    url = server.enter_context(app_server())
    out: dict[str, float] = {}
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
            choose_models(page, [big])
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
            # the running job in view again -- or, a quick model, already done and listed
            shown = page.get_by_text(f"{big} · fit + holdout score")
            wait_jobs(jobs, lambda js: any(shown.nth(i).is_visible()
                                           for i in range(shown.count()))
                      or [j for j in js if j.kind == "fit" and j.state == "done"
                          and big in (j.label or "")], timeout=60, poll=0.1)
            out["reload_shows_running_job_s"] = time.perf_counter() - t
            fit = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "fit" and not j.active
                                              and big in (j.label or "")])[0]
            out[f"{big}_click_to_usable_s"] = fit.finished - click
            out[f"{big}_fit_seconds_in_job"] = fit.holdout["fit_seconds"]
            serve = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "serve"
                                                and not j.active
                                                and big in (j.label or "")])[0]
            out[f"{big}_click_to_refit_done_s"] = serve.finished - click
            wait_jobs(jobs, lambda js: js and all(not j.active for j in js))
            out[f"{big}_fit_jobs"] = float(len([j for j in jobs.list() if j.kind == "fit"
                                                   and big in (j.label or "")]))

            switch(page, "Models")  # the model is listed and used without retraining
            switch(page, "Customer")
            page.get_by_text(big).first.wait_for(timeout=30_000)

            page.get_by_role("link", name="Embeddings").click()
            page.get_by_text("Embeddings and segments").first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            page.locator("[data-testid='stSelectbox']").nth(1).click()
            t = time.perf_counter()
            page.get_by_role("option", name=big).click()
            page.get_by_text("Select a point").first.wait_for(timeout=60_000)
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
            page.get_by_text("Expected buyers").first.wait_for(timeout=300_000)
            cost = page.get_by_label("Cost per contact")
            whatifs = []
            for value in ("0.40", "0.55", "0.30"):
                cost.fill(value)
                t = time.perf_counter()
                cost.press("Enter")
                # (with the shop's currency sign, when the export says which)
                page.get_by_text(re.compile(rf"{value} per contact")).first.wait_for(
                    timeout=60_000)
                whatifs.append(time.perf_counter() - t)
            out["campaign_what_if_browser_median_s"] = statistics.median(whatifs)

            other = browser.new_context().new_page()
            other.goto(url + "/models?dataset=retail")
            other.get_by_text("Models to train").first.wait_for(timeout=60_000)
            switch(page, "Models")
            choose_models(page, [pair[0]])
            choose_models(other, [pair[1]])
            t = time.time()
            page.get_by_role("button", name="Train and evaluate").click()
            other.get_by_role("button", name="Train and evaluate").click()
            both = wait_jobs(jobs, lambda js: [j for j in js if j.kind == "fit" and not j.active
                                               and j.started and j.started >= t - 1] if len(
                [j for j in js if j.kind == "fit" and not j.active and j.started
                 and j.started >= t - 1]) == 2 else None)
            out["two_sessions_both_done_s"] = max(j.finished for j in both) - t
            out["two_sessions_states_done"] = float(sum(j.state == "done" for j in both))
            for p_, name in ((page, pair[1]), (other, pair[0])):
                p_.reload()
                p_.get_by_text(name).first.wait_for(timeout=60_000)  # each sees both results
            browser.close()
    finally:
        server.close()
    return out


if __name__ == "__main__":
    shared = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    data = args[0] if args else str(shared)
    if not Path(data).exists():
        sys.exit(f"no data at {data}")
    for k, v in main(data, smoke="--smoke" in sys.argv).items():
        print(f"{k:<42}{v:10.2f}", flush=True)
