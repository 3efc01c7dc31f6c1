"""recsys is a library: no streamlit, and importing it does nothing."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import recsys

ROOT = Path(recsys.__file__).parent


def test_recsys_never_imports_streamlit():
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        assert "import streamlit" not in text and "from streamlit" not in text, path


def test_import_has_no_side_effects(tmp_path):
    modules = [m.name for m in pkgutil.walk_packages([str(ROOT)], "recsys.")
               if m.name != "recsys.__main__"]
    code = (
        "import os, sys, random, numpy as np\n"
        "before = (random.getstate(), np.random.get_state()[1].tolist())\n"
        f"import importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
        "after = (random.getstate(), np.random.get_state()[1].tolist())\n"
        "assert before == after, 'an import touched the global random state'\n"
        "assert 'streamlit' not in sys.modules\n"
        "assert os.listdir('.') == [], os.listdir('.')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr


def test_light_entry_points_do_not_load_heavy_libraries(tmp_path):
    """The registry, data layer and harness load torch/gensim/umap only when a model needs it."""
    code = ("import sys, recsys, recsys.data, recsys.models, recsys.evaluate, recsys.cli\n"
            "heavy = [m for m in ('streamlit', 'torch', 'gensim', 'umap') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr
