"""Smoke runs of every measurement tool (CONTRIBUTING lists them): each runs to the end on
the generated demo shop with its smallest budget, so a change that breaks a tool fails here
instead of on the next person who needs its figures. The figures themselves are not checked:
they are measurements, taken on a quiet machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.browser import has_chromium

pytestmark = [pytest.mark.full, pytest.mark.tools]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory) -> Path:
    """A smaller sibling of the demo shop (a year of orders in the Online Retail format)."""
    from recsys.datasets import demo_csv_bytes

    path = tmp_path_factory.mktemp("tools") / "demo.csv"
    path.write_bytes(demo_csv_bytes(n_customers=600, n_products=150))
    return path


def run_tool(*args: str, timeout: float = 600) -> str:
    """The tool's output; a failure shows its last lines."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ})
    assert proc.returncode == 0, (proc.stdout[-1500:], proc.stderr[-3000:])
    return proc.stdout


def needs_browser() -> None:
    if not has_chromium():
        pytest.skip("Debian chromium is not installed")
    pytest.importorskip("playwright.sync_api")


def test_structure(tmp_path):
    run_tool("tools/structure.py", "--json", str(tmp_path / "s.json"))
    shape = json.loads((tmp_path / "s.json").read_text())
    assert shape["modules"] > 50 and shape["tools_importing_tests"] == []


def test_recommend_all(demo_csv):
    assert "top 10 for all" in run_tool("tools/recommend_all.py", str(demo_csv),
                                        "--models", "popularity,ease")


def test_neural_epoch(demo_csv):
    run_tool("tools/neural_epoch.py", str(demo_csv), "--model", "two_tower", "--steps", "3")


def test_segments_bench(demo_csv):
    assert "umap warm" in run_tool("tools/segments_bench.py", str(demo_csv), "als", "1000")


def test_campaign_validation(demo_csv):
    assert "ease" in run_tool("tools/campaign_validation.py", "ease", "2011-10-01",
                              str(demo_csv))


def test_campaign_ceiling(demo_csv):
    run_tool("tools/campaign_ceiling.py", "ease", "2011-10-01", str(demo_csv))


def test_app_timings_campaign(demo_csv):
    assert "campaigns_what_if_fits" in run_tool("tools/app_timings.py", "campaign",
                                                str(demo_csv))


def test_app_timings_in_a_browser():
    needs_browser()
    assert "page_switch_median_s" in run_tool("tools/app_timings.py", "--smoke")


def test_jobs_timings(demo_csv):
    needs_browser()
    assert "umap_job_s" in run_tool("tools/jobs_timings.py", "--smoke", str(demo_csv))


def test_load_bench(tmp_path):
    needs_browser()
    run_tool("tools/load_bench.py", "--demo-only", "--sessions", "1", "--rounds", "1",
             "--no-jobs", "--json", str(tmp_path / "load.json"))
    assert json.loads((tmp_path / "load.json").read_text())


def test_ray_compare(demo_csv):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -r "
                        "requirements-ray.txt)")
    run_tool("tools/ray_compare.py", str(demo_csv), "--params",
             '{"epochs": 1, "patience": 0}', "--no-single")


def test_forecast_check(demo_csv):
    out = run_tool("tools/forecast_check.py", str(demo_csv), "--cutoffs", "2011-10-01",
                   "--products", "3")
    assert "80% interval covers" in out and "all:" in out and "told the demand" in out
    assert "counting noise alone" in out


def test_the_forecasts_counting_noise_floor_is_a_poisson_ratios():
    import pandas as pd

    from tools.forecast_check import noise_floor

    floor = noise_floor(pd.DataFrame({"bought": [100] * 50}))
    # the mean against a Poisson(100) count: sd 0.1, median |error| 0.67 sd
    assert floor["oracle"][0] == pytest.approx(0.6745 * 0.1, rel=0.12)
    # two Poisson(100) counts: the ratio's sd is about sqrt(2/100)
    assert floor["counted"][0] == pytest.approx(0.6745 * (2 / 100) ** 0.5, rel=0.12)
    assert 0.65 < floor["counted"][1] < 0.77  # P(|Z| < 0.15 / 0.141)
    assert noise_floor(pd.DataFrame({"bought": [10_000] * 5}))["counted"][0] < 0.02


def test_stop_check(demo_csv):
    out = run_tool("tools/stop_check.py", str(demo_csv), "--model", "two_tower", "--stops",
                   "1", "--settings", '{"epochs": 2}')
    assert "ETA shown" in out and "Stop at 1 s" in out


def test_segment_count_check(demo_csv):
    out = run_tool("tools/segment_count_check.py", str(demo_csv), "--models", "als")
    assert "segments: of 3 to 12" in out and "RFM segments" in out


def test_the_generators_chances_are_what_it_generates():
    import numpy as np

    from recsys import synthetic as syn
    from tools.generator_ceiling import generated, line_chances

    shape = syn.Shape(lines=20_000, customers=300, products=60, aisles=6, clusters=3,
                      basket=3, reorder=0.4, seed=2)
    p = line_chances(shape)
    assert np.allclose(p.sum(axis=1), 1)
    inter = generated(shape).interactions
    u = inter["customer_id"].astype(int).to_numpy() - 100_000
    i = inter["item_id"].astype(int).to_numpy() - 1
    got = np.zeros_like(p)
    np.add.at(got, (u, i), 1)
    cluster = np.arange(shape.customers) % shape.clusters
    # each cluster's lines of each product: as many as its customers' chances say
    expected = np.stack([(got[cluster == c].sum(1)[:, None] * p[cluster == c]).sum(0)
                         for c in range(shape.clusters)])
    seen = np.stack([got[cluster == c].sum(0) for c in range(shape.clusters)])
    assert np.corrcoef(expected.ravel(), seen.ravel())[0, 1] > 0.99
    assert np.abs(expected - seen).sum() / seen.sum() < 0.15


def test_generator_ceiling():
    out = run_tool("tools/generator_ceiling.py", "--customers", "400", "--products", "50",
                   "--lines", "6000", "--aisles", "5", "--clusters", "3", "--models", "ease")
    assert "bayes" in out and "cluster" in out and "x EASE" in out


def test_generator_ceiling_on_the_demo_knows_the_tastes():
    import re

    out = run_tool("tools/generator_ceiling.py", "--demo", "--models", "ease")
    ndcg = dict(re.findall(r"^(\w+)\s+NDCG@10 ([0-9.]+)", out, re.M))
    # ids mapped wrongly, the generator's chances would rank no better than chance
    assert float(ndcg["bayes"]) > float(ndcg["ease"]) > 0.1
