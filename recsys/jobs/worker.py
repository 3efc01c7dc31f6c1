"""``python -m recsys.jobs.worker WORKSPACE``: one worker process (see ``executor``)."""

from __future__ import annotations

import logging
import os
import sys
import time

from recsys.jobs import Jobs
from recsys.jobs.executor import IDLE_EXIT_S, Heartbeat, LocalExecutor
from recsys.models import registry
from recsys.settings import env_int
from recsys.workspace import Workspace


def worker_main(root: str, shared: bool = False) -> int:
    """The loop of one worker process: claim, run, repeat; exit when idle. ``shared``: the
    workspace belongs to a server with sign-in, which never makes its own key."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(message)s")
    # Below the app in CPU priority: a page an analyst waits for goes before a model that
    # trains for minutes (on two cores, they compete).
    os.nice(env_int("RECSYS_WORKER_NICE"))
    registry.load_plugins()
    # Follow-up jobs are queued for the pool (this worker takes them next if none is free).
    jobs = Jobs(Workspace(root, create_key=not shared), executor=LocalExecutor())
    # A worker that starts after another was killed cleans up after it: the dead one's job
    # ends as failed, and the raw upload it was importing is deleted.
    jobs.store.reap()
    jobs.sweep_uploads()
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < IDLE_EXIT_S:
        job = jobs.store.claim()
        if job is None:
            time.sleep(0.3)
            continue
        with Heartbeat(jobs, job.id, kill=True):
            jobs.run(job)
        idle_since = time.monotonic()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1], shared="--shared" in sys.argv[2:]))
