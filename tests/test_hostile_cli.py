"""The command line under bad input: every case ends with exit status 2 and one line saying
what is wrong (and usually what to do), checked before any long work where it can be."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from recsys.cli import main
from tests import hostile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("cli-files")
    out = {}
    for key, (name, data) in {
        "good": ("good.csv", hostile.GOOD.encode()),
        "bad": ("bad.csv", b"a,b\n1,2\n"),
        "png": ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(200)),
        "truncated": ("t.csv.gz", hostile.gz(hostile.lines(3000))[:-40]),
        "generic": ("generic.csv", b"client,sku,day\nc1,p1,2024-01-01\nc2,p2,2024-01-02\n"),
    }.items():
        (d / name).write_bytes(data)
        out[key] = str(d / name)
    out["missing"] = str(d / "nope.csv")
    out["folder"] = str(d)
    return out


@pytest.fixture(scope="module", autouse=True)
def shared_workspace(tmp_path_factory):
    """One workspace for the module, so the demo shop is generated once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_WORKSPACE", str(tmp_path_factory.mktemp("cli-ws")))
        yield


DEMO_EASE = ["--demo", "--models", "ease"]
CAMP = ["campaign", "--demo", "--model", "ease", "--top-products", "2"]
CASES: list[tuple[list[str], str]] = [
    # usage
    ([], "command"),
    (["nosuch"], "invalid choice"),
    (["bench"], "Give DATA files"),
    (["bench", "--demo", "--bogus"], "unrecognized arguments"),
    (["bench", "--demo", "--k", "0"], "--k: 0 is out of range"),
    (["bench", "--demo", "--k", "abc"], "not a whole number"),
    (["bench", "--demo", "--k", "-3"], "out of range"),
    (["bench", "--demo", "--bootstrap", "-1"], "out of range"),
    (["bench", "--demo", "--test-days", "0"], "out of range"),
    (["bench", "--demo", "--test-days", "nan"], "out of range"),
    (["bench", "--demo", "--cutoff", "nonsense"], "not a date"),
    (["bench", *DEMO_EASE, "--cutoff", "2030-01-01"], "leaves no test data"),
    (["bench", *DEMO_EASE, "--cutoff", "1990-01-01"], "leaves no training data"),
    (["bench", "--demo", "--cutoff", "2011-01-01", "--test-days", "5"], "not allowed with"),
    (["bench", "--demo", "--task", "weird"], "invalid choice"),
    (["bench", "--demo", "--models", ","], "names no model"),
    (["bench", "--demo", "--models", "magic"], "Unknown model 'magic'"),
    (["bench", *DEMO_EASE, "--set", "ease.l2"], "is not MODEL.PARAM=VALUE"),
    (["bench", *DEMO_EASE, "--set", "ease.l2=abc"], "l2 must be a number"),
    (["bench", *DEMO_EASE, "--set", "ease.l2=-1"], "l2 must be at least"),
    (["bench", *DEMO_EASE, "--set", "ease.l2=1e999"], "l2 must be a number"),
    (["bench", *DEMO_EASE, "--set", "ease.lambda=3"], "no setting 'lambda'"),
    (["bench", *DEMO_EASE, "--set", "als.factors=3"], "not in --models"),
    (["bench", "--demo", "--models", "als", "--set", "als.factors=0"], "between 1 and 1024"),
    (["bench", "--demo", "--models", "als", "--set", "als.factors=2.5"], "whole number"),
    (["bench", *DEMO_EASE, "--set", "ease.history=weird"], "history"),
    (["bench", *DEMO_EASE, "--json", "/nonexistent/x.json"], "does not exist"),
    (["bench", "--demo", "--format", "sap"], "invalid choice"),
    # files
    (["bench", "{missing}"], "File not found"),
    (["bench", "{bad}"], "Could not recognise"),
    (["bench", "{png}"], "PNG image"),
    (["bench", "{truncated}"], "truncated"),
    (["bench", "{generic}", "--map", "customer=client"], "missing the required roles"),
    (["bench", "{generic}", "--map", "nonsense"], "not ROLE=COLUMN"),
    (["bench", "{generic}", "--map", "customer=client,item=sku,time=when"], "not in the file"),
    (["bench", "{generic}", "--map", "customer=Nope,item=sku,time=day"],
     "Columns seen: client, sku, day"),
    (["bench", "{generic}", "--map", "client=client,item=sku,time=day"], "Unknown role"),
    (["bench", "{good}", "--format", "shopify"], "does not look like a shopify"),
    # segments
    (["segments", "--demo"], "--model"),
    (["segments", "--demo", "--model", "magic"], "Unknown model"),
    (["segments", "--demo", "--model", "ease", "--k", "1"], "--k is 'auto' or a number"),
    (["segments", "--demo", "--model", "ease", "--k", "x"], "--k is 'auto' or a number"),
    (["segments", "--demo", "--model", "popularity", "--what", "items"], "no item embeddings"),
    (["segments", "--demo", "--model", "itemknn", "--what", "customers"],
     "no customer embeddings"),
    (["segments", "--demo", "--model", "ease", "--projection", "magic"], "invalid choice"),
    (["segments", "--demo", "--model", "ease", "--json", "{folder}"], "is a folder"),
    # campaign
    (["campaign", "--demo", "--model", "ease"], "Name what to promote"),
    (["campaign", "--demo", "--audience", "5%"], "A plan needs --product"),
    (["campaign", "--demo", "--mailing", "20574"], "two or more products"),
    (["campaign", "--demo", "--product", "20574", "--audience", "lots"], "--audience 'lots'"),
    (["campaign", "--demo", "--product", "20574", "--audience", "0"], "--audience '0'"),
    (["campaign", "--demo", "--product", "20574", "--audience", "150%"], "--audience '150%'"),
    (["campaign", "--demo", "--product", "20574", "--budget", "-5"], "out of range"),
    (["campaign", "--demo", "--product", "20574", "--budget", "0.1", "--fixed-cost", "5"],
     "does not cover the fixed cost"),
    (["campaign", "--demo", "--product", "20574", "--control-pct", "80"], "out of range"),
    (["campaign", "--demo", "--product", "NOPE", "--audience", "5%"], "No product 'NOPE'"),
    (["campaign", "--demo", "--category", "NOPE", "--audience", "5%"], "No product in the "
     "category"),
    (["campaign", "--demo", "--product", "20574", "--audience", "5%", "--cutoff",
      "2011-06-01"], "A plan is made now"),
    (["campaign", "--demo", "--product", "20574", "--plan", "{folder}"], "is a folder"),
    (["campaign", "--demo", "--read-back", "/no/such/file.csv"], "Could not read the contact"),
    (["campaign", "--demo", "--model", "ease", "--top-products", "0"], "out of range"),
    ([*CAMP, "--window-days", "0"], "out of range"),
    ([*CAMP, "--window-days", "-5"], "out of range"),
    ([*CAMP, "--cost-per-contact", "-1"], "out of range"),
    ([*CAMP, "--fixed-cost", "-5"], "out of range"),
    ([*CAMP, "--margin-pct", "0"], "out of range"),
    ([*CAMP, "--margin-pct", "150"], "out of range"),
    ([*CAMP, "--cutoff", "2030-01-01"], "No orders in the 30 days"),
    ([*CAMP, "--cutoff", "1990-01-01"], "No orders before the cutoff"),
    (["campaign", "--demo", "--model", "ease", "--product", "NOPE"], "not sold before"),
    (["campaign", "--demo", "--model", "ease", "--new-product", "MUG,Kitchen,3"],
     "use --model two_tower"),
    (["campaign", "--demo", "--model", "two_tower", "--new-product", "MUG,Kitchen"],
     "NAME,CATEGORY,PRICE"),
    (["campaign", "--demo", "--model", "two_tower", "--new-product", "MUG,Kitchen,abc"],
     "not a number"),
    (["campaign", "--demo", "--model", "magic", "--top-products", "1"], "Unknown model"),
    # import, train, jobs
    (["import", "{good}"], "--name"),
    (["import", "{good}", "--name", "evil\n"], "Invalid name"),
    (["import", "{good}", "--name", "../x"], "Invalid name"),
    (["import", "--demo", "--name", "x"], "Give the export files"),
    (["import", "{bad}", "--name", "x"], "Could not recognise"),
    (["train", "--model", "ease"], "Give DATA files, --dataset NAME"),
    (["train", "--dataset", "nope", "--model", "ease"], "No dataset named 'nope'"),
    (["train", "--demo", "--model", "magic"], "Unknown model"),
    (["train", "--demo", "--model", "ease", "--set", "ease.l2=abc"], "must be a number"),
    (["train", "--demo", "--model", "propensity", "--set", "propensity.windows=0"],
     "windows must be between"),
    (["train", "--demo", "--model", "ease", "--name", "x" * 10_000], "Invalid model name"),
    (["train", "--demo", "--model", "ease", "--name", "two\nlines"], "Invalid model name"),
    (["jobs", "--state", "weird"], "invalid choice"),
    (["jobs", "--limit", "0"], "out of range"),
]


def test_enough_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("argv,pattern", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_cli_case(argv, pattern, files, capsys):
    argv = [a.format(**files) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert re.search(pattern, err), err


def test_import_asks_before_replacing_and_refuses_confusable_names(files, capsys, tmp_path):
    def run(*argv: str) -> tuple[int, str]:
        rc = main(list(argv))
        return rc, capsys.readouterr().err.strip()

    other = tmp_path / "two-buyers.csv"
    other.write_text(hostile.GOOD.replace("17852", "17850"))
    assert run("import", files["good"], "--name", "shop-a")[0] == 0
    rc, err = run("import", str(other), "--name", "shop-a")
    assert rc == 2 and "exists already" in err and "--replace" in err, err
    from recsys.workspace import DatasetRef, Workspace

    assert Workspace().load_dataset(DatasetRef.saved("shop-a")).n_customers == 3  # untouched
    for name in ("Shop-A", "shop_a", "shop a"):
        rc, err = run("import", files["good"], "--name", name)
        assert rc == 2 and "too like the dataset 'shop-a'" in err, err
    rc, err = run("import", files["good"], "--name", "shop-b ")
    assert rc == 2 and "no spaces at the start or end" in err, err
    assert run("import", str(other), "--name", "shop-a", "--replace")[0] == 0
    assert Workspace().load_dataset(DatasetRef.saved("shop-a")).n_customers == 2
    assert [d["name"] for d in Workspace().list_datasets()] == ["shop-a"]


REFUSED = [c for c, (_, _, expect) in hostile.FILES.items() if expect[0] == "error"]


@pytest.mark.parametrize("case", REFUSED)
def test_every_refused_file_is_one_line_and_exit_2_on_the_command_line(case, tmp_path, capsys,
                                                                       monkeypatch):
    """The hostile corpus through `python -m recsys import` (an import job, as in the app):
    the same message as the library's, on one line, exit status 2, never 'unexpected'."""
    for key, value in hostile.LIMITS.items():
        monkeypatch.setenv(key, value)
    name, build, (_, _, pattern) = hostile.FILES[case]
    path = tmp_path / name
    path.write_bytes(build())
    rc = main(["import", str(path), "--name", "case"])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("error:") and "\n" not in err and "unexpected" not in err, err
    assert re.search(pattern, err), err


def test_one_line_from_a_real_process(files):
    """The same through `python -m recsys`, as a shell script sees it."""
    for argv in (["bench", files["png"]], ["bench", "--demo", "--k", "0"],
                 ["import", files["good"], "--name", "bad/name"]):
        proc = subprocess.run([sys.executable, "-m", "recsys", *argv], capture_output=True,
                              text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("error:") and not proc.stdout
