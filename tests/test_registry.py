"""The registry is the one list of models: a model added there is on the pages, in the CLI and
in the contract suite without touching anything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys.models import make_model, registry
from recsys.models.registry import ModelSpec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy():
    from tests.plugins import toy_model

    registry.register(toy_model.SPEC)
    yield toy_model.SPEC
    registry.unregister("toy")


def test_derived_lists():
    assert registry.campaign_models()[0] == "propensity"
    assert set(registry.names(new_items=True)) == {"two_tower"}
    assert "popularity" not in registry.names(personalised=True)
    assert set(registry.names(slow=True)) == {"ncf", "two_tower", "item2vec", "customer2vec"}
    with pytest.raises(TypeError, match="capability"):
        registry.names(flies=True)
    with pytest.raises(KeyError, match="Unknown model"):
        registry.spec("deep-magic")


def test_spec_settings_are_read_only():
    spec = registry.spec("ease")
    with pytest.raises(TypeError):
        spec.campaign_params["l2"] = 1  # type: ignore[index]


def test_a_registered_model_is_everywhere(toy, clustered_data, fake_jobs):
    assert "toy" in registry.names() and "toy" in registry.names(personalised=True)
    model = make_model("toy").fit(clustered_data)
    assert model.recommend(clustered_data.customer_ids[:2], n=3)[0].shape == (2, 3)
    from recsys.cli import main

    assert main(["bench", "--demo", "--models", "toy", "--bootstrap", "10"]) == 0
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "toy" in at.multiselect[0].options


def test_a_registered_model_joins_the_contract_suite():
    """Run the contract suite with the toy plugin: its tests are collected and pass."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_models_contract.py", "-p",
         "tests.plugins.toy_model", "-k", "toy", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    passed = int(proc.stdout.strip().splitlines()[-1].split()[0])
    assert passed >= 9, proc.stdout[-1000:]


def test_bad_spec_is_caught_by_the_contract(clustered_data):
    """A spec that claims a capability its model lacks fails the contract's check."""
    from tests.test_models_contract import check_capabilities

    ease = make_model("ease").fit(clustered_data)
    check_capabilities(ease, registry.spec("ease"), clustered_data)
    liar = ModelSpec("liar", "recsys.models.ease:EASE", "claims too much", item_vectors=True,
                     customer_vectors=True, new_items=True)
    with pytest.raises(AssertionError, match="new_items"):
        check_capabilities(ease, liar, clustered_data)
