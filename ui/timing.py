"""Page run times for operators: with ``RECSYS_PAGE_LOG`` set to a file, every page run
appends a line to it -- when it ended (unix time), the page, the seconds the server spent --
so what a page costs the server under load can be told apart from what the browser takes
(``tools/load_bench.py`` reads it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

PAGE_LOG_ENV = "RECSYS_PAGE_LOG"


@contextmanager
def page_run(page: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        path = os.environ.get(PAGE_LOG_ENV)
        if path:
            with open(path, "a") as fh:
                fh.write(f"{time.time():.3f}\t{page}\t{time.perf_counter() - start:.4f}\n")
