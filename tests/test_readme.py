"""The README's examples run as written: its Python blocks in order, as one script, and the
command lines it shows are real sub-commands (their --help works)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.full
def test_the_python_examples_run(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 3
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "RECSYS_WORKSPACE": str(tmp_path / "ws"), "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=900)
    finally:
        from recsys.jobs import LocalExecutor
        from recsys.workspace import Workspace

        if (tmp_path / "ws").exists():
            LocalExecutor.shutdown(Workspace(tmp_path / "ws"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"\n0\.\d+\n?$", proc.stdout), proc.stdout[-500:]  # the job's NDCG


def test_the_commands_shown_exist():
    from recsys.cli import build_parser

    commands = set(re.findall(r"python -m recsys (\w+)", README))
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 (argparse's)
    assert commands and commands <= known, commands - known
