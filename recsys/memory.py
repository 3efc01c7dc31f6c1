"""Peak resident memory of a step, measured by sampling (benchmarks print it per step)."""

from __future__ import annotations

import resource
import sys
import threading
import time
from pathlib import Path

_STATUS = Path("/proc/self/status")


def rss_bytes() -> int:
    """The process's resident memory now (Linux); elsewhere its peak so far."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_bytes()


def peak_bytes() -> int:
    """The process's peak resident memory since it started."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakRSS:
    """``with PeakRSS() as m: ...`` then ``m.peak`` (bytes): the highest resident memory seen
    during the block, sampled every ``interval`` seconds (the process-wide peak counter
    cannot be reset, so per-step peaks are sampled)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self.started = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        self.seconds = time.perf_counter() - self.started

    @property
    def peak_gb(self) -> float:
        return round(self.peak / 2**30, 3)
