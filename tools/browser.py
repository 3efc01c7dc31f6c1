"""The app in a real browser, for the end-to-end tests and the measurement tools alike:
start a Streamlit server on a free port, wait until it answers (or say why it did not), and
drive Debian's Chromium (never a browser Playwright downloads)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
START_TIMEOUT_S = 90.0


class ServerDidNotStart(RuntimeError):
    """The app's server exited or never answered; the message ends with its output."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_chromium() -> bool:
    return Path(CHROMIUM).exists()


@contextmanager
def app_server(env: dict[str, str] | None = None, *, timeout: float = START_TIMEOUT_S,
               log: Path | None = None) -> Iterator[str]:
    """``streamlit run app.py`` with ``env`` added to this process's environment; yields its
    URL once ``/_stcore/health`` answers and stops it afterwards. A server that exits or does
    not answer within ``timeout`` raises ``ServerDidNotStart`` with its output's tail. The
    output goes to ``log`` when given (kept), else to a temporary file."""
    port = free_port()
    with (open(log, "w+b") if log else tempfile.TemporaryFile()) as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1"],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(proc, url, out, timeout)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(proc: subprocess.Popen, url: str, out, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.5)
    out.seek(0)
    tail = out.read().decode(errors="replace")[-2000:]
    why = f"exited with {proc.returncode}" if proc.poll() is not None else \
        f"did not answer within {timeout:.0f} s"
    raise ServerDidNotStart(f"the app's server {why}; its output:\n{tail}")


def wait_idle(page, timeout: float = 180_000) -> None:
    """Until Streamlit has finished the current run (no running indicator)."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    page.wait_for_timeout(300)
