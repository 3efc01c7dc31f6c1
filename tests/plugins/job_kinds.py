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
