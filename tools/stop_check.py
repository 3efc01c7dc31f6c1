"""How honest a training job's progress is, and how fast Stop takes effect, in real workers.

    python tools/stop_check.py [DATA|demo] [--model two_tower] [--stops 3,15,40]

First one fit runs to its end: its progress is sampled every 0.25 s, and the ETA the job
showed 10 s (and 30 s) after it started is printed beside the time it really had left.
Then one fit per stop time: Stop is pressed that many seconds after the job started
running, and the delay until the job has ended (stopped or cancelled) is printed with the
step it was in. Figures, not tests: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys.jobs import Jobs, LocalExecutor  # noqa: E402
from recsys.requests import DatasetKey, FitRequest, ImportRequest  # noqa: E402
from recsys.workflow import default_cutoff  # noqa: E402
from recsys.workspace import DatasetRef, Workspace  # noqa: E402

ENDED = ("done", "stopped", "cancelled", "failed")


def _dataset(jobs: Jobs, source: str) -> DatasetRef:
    if source == "demo":
        return DatasetRef.demo()
    jobs.submit(ImportRequest("shop", paths=(str(Path(source).resolve()),)))
    _until(jobs, lambda js: all(j.state in ENDED for j in js), 900)
    return DatasetRef.saved("shop")


def _until(jobs: Jobs, pred, timeout: float, poll: float = 0.25):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        jobs.reap()
        found = jobs.list(limit=100)
        if pred(found):
            return found
        time.sleep(poll)
    raise TimeoutError("the jobs did not end")


def _run(jobs: Jobs, key: DatasetKey, model: str, cutoff: str, seed: int,
         stop_after: float | None, settings: dict) -> dict:
    job = jobs.submit(FitRequest.of(key, model, {**settings, "seed": seed}, cutoff,
                                    refit=False), reuse=False)
    samples, started, stop_asked, stop_step = [], None, None, None
    while True:
        jobs.reap()
        j = jobs.get(job.id)
        now = time.monotonic()
        if j.state == "running" and started is None:
            started = now
        if started is not None:
            samples.append((now - started, j.progress, j.eta, j.step))
        if stop_after is not None and started is not None and stop_asked is None \
                and now - started >= stop_after:
            jobs.cancel(job.id)
            stop_asked, stop_step = now, j.step
        if j.state in ENDED:
            return {"state": j.state, "total": now - (started or now), "samples": samples,
                    "stop_delay": None if stop_asked is None else now - stop_asked,
                    "stop_step": stop_step}
        time.sleep(0.25)


def _eta_at(samples, t: float) -> tuple[float | None, str]:
    before = [s for s in samples if s[0] <= t]
    if not before:
        return None, "-"
    _, _, eta, step = before[-1]
    return eta, step or "-"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data", nargs="?", default="demo")
    p.add_argument("--model", default="two_tower")
    p.add_argument("--stops", default="3,15,40")
    p.add_argument("--settings", default="{}", help="the model's settings as JSON (a smoke "
                   'run: \'{"epochs": 2}\')')
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        jobs = Jobs(ws, LocalExecutor(workers=1))
        try:
            ref = _dataset(jobs, args.data)
            data = ws.load_dataset(ref)
            key, cutoff = DatasetKey.of(ws, ref), str(default_cutoff(data))
            settings = json.loads(args.settings)
            full = _run(jobs, key, args.model, cutoff, 0, None, settings)
            print(f"{args.model} on {ref.label}: ran {full['total']:.1f} s to its end "
                  f"({full['state']})")
            for t in (5.0, 10.0, 30.0):
                eta, step = _eta_at(full["samples"], t)
                real = full["total"] - t
                shown = "none" if eta is None else f"{eta:.0f} s"
                print(f"  at {t:.0f} s: ETA shown {shown}, really {real:.0f} s left ({step})")
            first_move = next((s[0] for s in full["samples"] if s[1] > 0.01), None)
            print(f"  the bar first moved after {first_move:.1f} s" if first_move is not None
                  else "  the bar never moved")
            for i, stop in enumerate(float(x) for x in args.stops.split(",")):
                r = _run(jobs, key, args.model, cutoff, i + 1, stop, settings)
                if r["stop_delay"] is None:
                    print(f"  Stop at {stop:.0f} s: the fit ended first ({r['total']:.0f} s)")
                else:
                    print(f"  Stop at {stop:.0f} s ({r['stop_step']}): ended "
                          f"{r['stop_delay']:.1f} s later, {r['state']}")
        finally:
            LocalExecutor.shutdown(jobs)


if __name__ == "__main__":
    main()
