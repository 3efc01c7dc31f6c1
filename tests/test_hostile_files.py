"""Hostile and broken files: each is read or refused with one clear message, never a crash,
a traceback or silently wrong data. Memory bombs run in a subprocess under a memory limit."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from recsys.data import ImportOptions, load_orders
from recsys.data.readers import LimitError, RawSource
from tests import hostile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def small_limits(monkeypatch):
    for k, v in hostile.LIMITS.items():
        monkeypatch.setenv(k, v)


def test_the_corpus_is_big_enough():
    assert len(hostile.FILES) >= 70


@pytest.mark.parametrize("case", list(hostile.FILES))
def test_hostile_file(case):
    name, build, expect = hostile.FILES[case]
    src = RawSource(name=name, data=build())
    opts = ImportOptions(pii_key=b"corpus-key")
    if expect[0] == "ok":
        data = load_orders(src, options=opts)
        assert expect[1](data), data.report
        return
    _, kind, pattern = expect
    with pytest.raises(kind) as info:
        load_orders(src, options=opts)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert "\n" not in message.strip() and "Traceback" not in message
    assert len(message) < 600
    assert not {v for v in PII if v.lower() in message.lower()}, message  # never a cell


PII = hostile.pii_values()


def test_the_identity_fixtures_are_real():
    assert len(PII) > 30 and any("@" in v for v in PII) and any(v.startswith("+") for v in PII)


def test_a_file_on_disk_is_held_to_the_same_limits(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(hostile.gz(hostile.lines(10) + "x" * 3_000_000))
    with pytest.raises(LimitError, match="2 MB"):
        load_orders(path)


@pytest.mark.full  # each in a memory-limited subprocess
@pytest.mark.parametrize("bomb", list(hostile.BOMBS))
def test_memory_bombs_under_a_memory_limit(bomb, tmp_path):
    """The CLI import of each bomb, in a subprocess allowed 2 GB of data segment and the
    default limits: a one-line error, no crash, and a small peak memory."""
    name, write, size = hostile.BOMBS[bomb]
    path = tmp_path / name
    write(path, size)
    assert path.stat().st_size < 40_000_000  # small on disk, as the were
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "recsys", "import", str(path), "--name", "b"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          preexec_fn=hostile.memory_limited(2 << 30),
                          env=hostile.default_env(ROOT))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith("error:") and proc.stderr.strip().count("\n") == 0
    assert "RECSYS_MAX" in proc.stderr
    if peak_mb > before / 1024:  # the child's peak is the largest so far
        assert peak_mb < 2048, peak_mb
    print(f"{bomb}: {path.stat().st_size / 1e6:.1f} MB on disk, peak RSS {peak_mb:.0f} MB, "
          f"{proc.stderr.strip()}")
