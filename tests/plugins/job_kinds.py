"""Job kinds for the job-layer tests only (loaded in workers through $RECSYS_PLUGINS):
``nap`` works without ever reporting progress (so it can only be stopped by force) and
``crash`` dies the way a worker can die."""

from __future__ import annotations

import os
import time

from recsys.jobs.kinds import kind


@kind("nap")
def nap(ctx, p):
    ctx.reporter.stage("napping", 0.0, 1.0)
    end = time.monotonic() + float(p.get("seconds", 30))
    while time.monotonic() < end:
        time.sleep(0.05)  # no callbacks: like one long solve
    return {"slept": p.get("seconds")}


@kind("crash")
def crash(ctx, p):
    ctx.reporter.stage("about to crash", 0.0, 1.0)
    if p.get("how") == "exit":
        os._exit(137)  # like the kernel's out-of-memory kill
    if p.get("how") == "memory":
        raise MemoryError
    raise RuntimeError("boom")


@kind("leak")
def leak(ctx, p):
    """Fails inside a library whose message quotes the offending value (as pandas does); the
    value comes from the environment, as a cell comes from a file (not from the request)."""
    import pandas as pd

    ctx.reporter.stage("parsing", 0.0, 1.0)
    pd.to_datetime(pd.Series([os.environ["RECSYS_TEST_CELL"]]), format="%Y-%m-%d")
    return {}
