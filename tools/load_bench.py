"""Several analysts on one server: browser sessions switching pages while models train.

    python tools/load_bench.py [DATA] [--sessions 8] [--rounds 2] [--json out.json]
    python tools/load_bench.py --demo-only --sessions 3 --rounds 1      # a smoke run

One app server on a fresh workspace holding the demo shop and DATA (default: the shared
Online Retail export, when present) with their starter models trained. Then SESSIONS
browser sessions at once (one headless Chromium, a context each) open every page on the
demo and on DATA, ROUNDS times; meanwhile session 1 trains two_tower and session 2 ncf on
DATA from the Models page, and session 3 asks for a UMAP projection on the Embeddings page.
Prints the page-switch median and p95 as the browser saw them, and the server's own time per
page run (the app logs it with RECSYS_PAGE_LOG), how long opening a dataset took, what each job did
(how long it waited in the queue, ran, how it ended), whether a queued job said where it
stood, and every error a page or the server showed. Figures, not a test. The browsers run
on the server's machine (an analyst's runs on their own), each a Chromium of its own: on two
cores eight of them took 1.4 cores, starving the server. So they share one CPU cgroup
(--browser-share: all eight weigh as much as the server's one process; the job workers run
below both), and the server's own time per page run is reported beside what they saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
SHARED = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"

from tools.browser import CHROMIUM, app_server  # noqa: E402

# What shows once a page has drawn its data (not just its title).
MARKERS = {
    "Data": "Orders per week", "Models": "Models to train", "Customer": "Recommendations",
    "Products": "Who bought it",
    "Embeddings": re.compile("Projection|are training in the background|No model is trained"),
    "Campaigns": "Size the audience by"}
QUEUED = re.compile(r"queued · (next|\d+\w\w in line) for a free worker")




def prepare(root: Path, data: str | None) -> list[str]:
    """The workspace: the demo and DATA stored, with their starter models trained (a server
    in use, not a first start). Returns the datasets' addresses."""
    from recsys.data import ImportOptions, load_orders
    from recsys.jobs import Jobs, LocalExecutor
    from recsys.requests import DatasetKey
    from recsys.workflow import starter_requests
    from recsys.workspace import DatasetRef, Workspace

    ws = Workspace(root)
    refs = [DatasetRef.demo()]
    if data:
        ws.save_dataset(load_orders(data, options=ImportOptions(pii_key=ws.pii_key)), "shop")
        refs.append(DatasetRef.saved("shop"))
    jobs = Jobs(ws, LocalExecutor())
    for ref in refs:
        key = DatasetKey.of(ws, ref)
        for request in starter_requests(key, ws.load_dataset(ref)):
            jobs.submit(request, priority=1)
    while any(j.active for j in jobs.list(limit=500)):
        jobs.reap()
        time.sleep(1)
    return ["" if r.is_demo else r.address for r in refs]


async def switch(page, name: str, timings: list[float]) -> None:
    t = time.perf_counter()
    await page.get_by_role("link", name=name, exact=True).click()
    await page.get_by_text(MARKERS[name]).first.wait_for(timeout=120_000)
    timings.append(time.perf_counter() - t)


async def choose(page, box: int, option: str) -> None:
    await page.locator("[data-testid='stSelectbox']").nth(box).click()
    await page.get_by_role("option", name=option, exact=True).click()


async def train(page, model: str) -> None:
    """Ask for a model on the Models page (its multiselect holds just this one)."""
    box = page.locator("[data-testid='stMultiSelect']").first
    await box.click()
    for _ in range(4):
        await page.keyboard.press("Backspace")
    await page.keyboard.type(model)
    await page.get_by_role("option", name=model).first.click(timeout=120_000)
    await page.keyboard.press("Escape")
    from playwright.async_api import expect

    await expect(box).to_contain_text(model, timeout=120_000)
    await page.get_by_role("button", name="Train and evaluate").click(timeout=120_000)
    await page.get_by_text(f"{model} · fit + holdout score").first.wait_for(timeout=600_000)


BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # Each session stands for an analyst's own browser, in the foreground: no throttling of
    # pages Chromium would treat as background tabs.
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows"]


async def session(n: int, pw, url: str, datasets: list[str], rounds: int, out: dict):
    """One analyst: a browser of their own (its own browser and GPU processes, as on their
    own machine), every page on every dataset, ROUNDS times."""
    browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                       args=BROWSER_ARGS)
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(300_000)  # slow is measured, not failed
    page = await ctx.new_page()
    for rnd in range(rounds):
        for address in datasets:
            t = time.perf_counter()
            await page.goto(url + (f"/?dataset={address}" if address else "/"))
            await page.get_by_text(MARKERS["Data"]).first.wait_for(timeout=180_000)
            out["open"].append(time.perf_counter() - t)
            for name in ("Models", "Customer", "Products", "Embeddings", "Campaigns", "Data"):
                await switch(page, name, out["switch"])
                out["by_page"].setdefault(name, []).append(out["switch"][-1])
                if rnd == 0 and address == datasets[-1] and not out["no_jobs"]:
                    await _job_for(n, name, page, out)
                out["errors"] += await page.locator("[data-testid='stException']").count()
    return browser  # closed once every session is done and the CPU is read


async def _job_for(n: int, name: str, page, out: dict) -> None:
    """Sessions 1 and 2 train on the Models page; session 3 asks for UMAP."""
    if name == "Models" and n in (1, 2):
        await train(page, "two_tower" if n == 1 else "ncf")
        out["asked"].append("two_tower" if n == 1 else "ncf")
    if name == "Embeddings" and n == 3:
        await page.get_by_text("Projection").first.wait_for(timeout=600_000)
        await choose(page, 2, "umap")
        out["asked"].append("umap")
        try:  # the two trainings hold both workers: the projection should say it waits
            await page.get_by_text(QUEUED).first.wait_for(timeout=15_000)
            out["queued_said"] = True
        except Exception:  # noqa: BLE001 (it may have started at once: then nothing to say)
            out["queued_said"] = False


async def drive(url: str, datasets: list[str], sessions: int, rounds: int, no_jobs: bool,
                before: dict) -> dict:
    from playwright.async_api import async_playwright

    out = {"open": [], "switch": [], "errors": 0, "asked": [], "queued_said": None,
           "no_jobs": no_jobs, "by_page": {}}
    async with async_playwright() as pw:
        browsers = await asyncio.gather(*(session(n, pw, url, datasets, rounds, out)
                                          for n in range(1, sessions + 1)))
        out["cpu"], _ = cpu_by_role(before)
        for browser in browsers:
            await browser.close()
    return out


def cpu_by_role(since: dict[int, tuple[str, float]] | None = None
                ) -> tuple[dict[str, float], dict[int, tuple[str, float]]]:
    """CPU seconds used by the processes of each role (browser, app server, job workers),
    read from /proc -- since an earlier reading, for the processes alive at both (or born
    between): where the machine's two cores went. Also the reading itself."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"browser": 0.0, "server": 0.0, "workers": 0.0}
    now: dict[int, tuple[str, float]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = ("browser" if "chrom" in cmd else "server" if "streamlit" in cmd
                else "workers" if "recsys.jobs.worker" in cmd else None)
        if role:
            now[int(proc.name)] = (role, (int(fields[11]) + int(fields[12])) / tick)
    for pid, (role, used) in now.items():
        out[role] += used - (since or {}).get(pid, (role, 0.0))[1]
    return out, now


def browsers_yield(share: int) -> Path | None:
    """Put this process (and so the browsers it starts) in a CPU cgroup of its own with
    ``share`` against the rest's 1024; the group, or None where none can be made."""
    if share <= 0:
        return Path("/")  # nothing to undo
    group = Path("/sys/fs/cgroup/cpu") / f"recsys-load-bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cpu.shares").write_text(str(share))
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    return group


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(SHARED) if SHARED.exists() else None)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--demo-only", action="store_true", help="no second shop (a smoke run)")
    parser.add_argument("--browser-share", type=int, default=1024,
                        help="the browsers' CPU share against the server's 1024 (cgroup v1 "
                             "cpu.shares; 0: they compete as equals)")
    parser.add_argument("--no-jobs", action="store_true",
                        help="browse only, nothing trains (the baseline to compare with)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.demo_only:
        args.data = None
    root = Path(tempfile.mkdtemp(prefix="load-bench-"))
    os.environ["RECSYS_WORKSPACE"] = str(root)
    t0 = time.perf_counter()
    datasets = prepare(root, args.data)
    print(f"workspace ready in {time.perf_counter() - t0:.0f} s: the demo"
          + (f" and {args.data}" if args.data else ""), flush=True)
    server = ExitStack()
    url = server.enter_context(app_server({"RECSYS_PAGE_LOG": str(root / "pages.log")},
                                          log=root / "server.log"))
    # The browsers (started from here) yield the CPU to the server and its workers, as
    # browsers on the analysts' own machines would: what is measured is the server's.
    # Chromium resets its renderers' niceness when run as root, so a CPU cgroup with a
    # small share holds them where one can be made; niceness otherwise.
    group = browsers_yield(args.browser_share)
    if group is None:
        os.nice(19)
    try:
        start = time.time()
        t = time.perf_counter()
        _, before = cpu_by_role()
        got = asyncio.run(drive(url, datasets, args.sessions, args.rounds, args.no_jobs,
                                before))
        browsing = time.perf_counter() - t
        jobs = finish_jobs(root, start)
    finally:
        if group is not None and group != Path("/"):
            (group.parent / "cgroup.procs").write_text(str(os.getpid()))
            time.sleep(1)  # the browsers have exited
            try:
                group.rmdir()
            except OSError:
                pass
        server.close()
        from recsys.jobs import LocalExecutor
        from recsys.workspace import Workspace

        LocalExecutor.shutdown(Workspace(root))
    server_errors = [ln for ln in (root / "server.log").read_text().splitlines()
                     if "Traceback" in ln or "Error" in ln]
    runs = [float(ln.split("\t")[2]) for ln in (root / "pages.log").read_text().splitlines()
            if float(ln.split("\t")[0]) >= start] if (root / "pages.log").exists() else [0.0]
    result = {
        "sessions": args.sessions, "rounds": args.rounds, "datasets": len(datasets),
        "page_switches": len(got["switch"]),
        "page_switch_median_s": round(statistics.median(got["switch"]), 2),
        "page_switch_p95_s": round(p95(got["switch"]), 2),
        "page_switch_max_s": round(max(got["switch"]), 2),
        "server_page_runs": len(runs),
        "server_page_run_median_s": round(statistics.median(runs), 2),
        "server_page_run_p95_s": round(p95(runs), 2),
        "open_dataset_median_s": round(statistics.median(got["open"]), 2),
        "open_dataset_p95_s": round(p95(got["open"]), 2),
        "browsing_s": round(browsing, 1),
        "cpu_s_while_browsing": {k: round(v, 1) for k, v in got["cpu"].items()},
        "page_switch_median_by_page_s": {k: round(statistics.median(v), 2)
                                         for k, v in got["by_page"].items()},
        "page_exceptions": got["errors"],
        "server_log_errors": len(server_errors), "asked": got["asked"],
        "queued_job_said_where_it_stands": got["queued_said"], "jobs": jobs}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def finish_jobs(root: Path, since: float, timeout: float = 3600) -> list[dict]:
    """Wait for every job asked for during the run; what each did."""
    from recsys.jobs import Jobs
    from recsys.workspace import Workspace

    jobs = Jobs(Workspace(root))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        jobs.reap()
        mine = [j for j in jobs.list(limit=1000) if j.created >= since]
        if not any(j.active for j in mine):
            break
        time.sleep(2)
    return [{"label": j.label, "state": j.state, "queued_s": round((j.started or j.created)
                                                                   - j.created, 1),
             "ran_s": round(j.elapsed, 1), "error": j.error}
            for j in sorted(mine, key=lambda j: j.created)]


if __name__ == "__main__":
    main()
