"""The command line: bench JSON shape, leaderboard, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from recsys.cli import main

_rng = np.random.default_rng(0)
DATA = "customer_id,product_id,order_date,order_id\n" + "".join(
    f"c{c},p{_rng.integers(0, 15)},2024-0{1 + (k % 3)}-{10 + c % 9},o{c}-{k % 3}\n"
    for c in range(40) for k in range(9))


def test_bench_json_shape(tmp_path, capsys):
    src = tmp_path / "orders.csv"
    src.write_text(DATA)
    out = tmp_path / "bench.json"
    rc = main(["bench", str(src), "--cutoff", "2024-03-01", "--models", "popularity,ease",
               "--set", "ease.l2=5", "--bootstrap", "50", "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res) >= {"dataset", "split", "task", "k", "models"}
    assert set(res["dataset"]) >= {"format", "raw_rows", "clean_rows", "customers", "items",
                                   "orders"}
    assert set(res["split"]) >= {"cutoff", "train_rows", "test_customers"}
    m = res["models"]["ease"]
    assert set(m) >= {"ndcg", "recall", "hr", "precision", "map", "coverage", "ndcg_lo", "ndcg_hi",
                      "fit_seconds", "recommend_ms_per_customer", "params"}
    assert m["params"]["l2"] == 5 and m["ndcg_lo"] <= m["ndcg"] <= m["ndcg_hi"]
    assert "ease" in capsys.readouterr().out


def test_bench_demo_runs(capsys):
    assert main(["bench", "--demo", "--models", "popularity", "--bootstrap", "20"]) == 0
    assert "popularity" in capsys.readouterr().out


def test_bad_input_one_line_no_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    for args in (["bench", str(bad)], ["bench", str(tmp_path / "nope.csv")],
                 ["bench", "--demo", "--models", "magic"],
                 ["bench", "--demo", "--set", "ease.l2"]):
        proc = subprocess.run([sys.executable, "-m", "recsys", *args], capture_output=True,
                              text=True, cwd=tmp_path.parent if False else None)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") <= 1 and proc.stderr.startswith(("error:",
                                                                                "imported"))


def test_import_command(tmp_path, capsys):
    src = tmp_path / "orders.csv"
    src.write_text(DATA)
    assert main(["import", str(src), "--name", "shop"]) == 0
    from recsys.workspace import DatasetRef, Workspace

    assert Workspace().load_dataset(DatasetRef.saved("shop")).summary()["customers"] == 40
