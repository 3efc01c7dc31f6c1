"""Command line: ``python -m recsys bench|import ...``.

Errors in the input end the program with exit status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_MODELS = "popularity,recent_popularity,itemknn,ease,als,bpr"


class CliError(Exception):
    """A problem with the user's input, reported as one line."""


def _parse_value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_params(items: Sequence[str], models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--set ease.l2=250`` entries into {model: {param: value}}."""
    out: dict[str, dict[str, Any]] = {m: {} for m in models}
    for item in items:
        try:
            key, value = item.split("=", 1)
            model, param = key.split(".", 1)
        except ValueError:
            raise CliError(f"--set {item!r} is not MODEL.PARAM=VALUE") from None
        if model not in out:
            raise CliError(f"--set {item!r} names model {model!r}, which is not in --models")
        out[model][param] = _parse_value(value)
    return out


def load_input(args: argparse.Namespace):
    """The OrderData the command works on: --demo or the DATA files."""
    from recsys.data import ColumnMapping, load_orders
    from recsys.datasets import load_demo

    if args.demo or not args.data:
        if not args.demo:
            raise CliError("Give DATA files, or --demo for the generated demo shop.")
        return load_demo()
    mapping = ColumnMapping.from_string(args.map) if args.map else None
    return load_orders([Path(p) for p in args.data], format=args.format, mapping=mapping)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="*", help="order export files, folders or zips")
    p.add_argument("--format", default="auto",
                   choices=["auto", "online_retail", "shopify", "instacart", "rees46", "generic"])
    p.add_argument("--map", help="customer=COL,item=COL,time=COL[,order=COL,quantity=COL,...]")
    p.add_argument("--demo", action="store_true", help="use the generated demo shop")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recsys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="fit models and print a temporal-holdout leaderboard")
    _add_data_args(bench)
    when = bench.add_mutually_exclusive_group()
    when.add_argument("--cutoff", help="YYYY-MM-DD: train before, test on/after")
    when.add_argument("--test-days", type=float, help="test on the last N days")
    bench.add_argument("--task", default="novel", choices=["novel", "all"])
    bench.add_argument("--k", type=int, default=10)
    bench.add_argument("--models", default=DEFAULT_MODELS)
    bench.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE")
    bench.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    bench.add_argument("--json", help="write the results as JSON here")
    imp = sub.add_parser("import", help="import and clean an export into the workspace")
    _add_data_args(imp)
    imp.add_argument("--name", required=True, help="dataset name in the workspace")
    return parser


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    from recsys.bench import run_bench

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    params = parse_params(args.set, models)
    t0 = time.perf_counter()
    data = load_input(args)
    import_s = time.perf_counter() - t0
    print(f"imported {data.report['rows_read']:,} lines -> {len(data.interactions):,} clean "
          f"in {import_s:.2f}s ({data.report['format']})", file=sys.stderr)
    result = run_bench(data, models, params, cutoff=args.cutoff, test_days=args.test_days,
                       task=args.task, k=args.k, n_boot=args.bootstrap,
                       log=lambda msg: print(msg, file=sys.stderr))
    result["dataset"]["import_seconds"] = round(import_s, 3)
    from recsys.bench import format_leaderboard

    print(format_leaderboard(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    from recsys import store

    data = load_input(args)
    path = store.save_dataset(data, args.name)
    rep = data.report
    print(f"{args.name}: {rep['format']}, {rep['rows_read']:,} lines read, "
          f"{rep['rows_kept']:,} kept -> {path}")
    for r in rep["cleaning"]:
        if r["removed"]:
            print(f"  removed {r['removed']:>9,}  {r['description']}")
    return data.summary()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from recsys.data import FormatError, ReadError
    from recsys.store import StoreError

    try:
        {"bench": cmd_bench, "import": cmd_import}[args.command](args)
    except (CliError, FormatError, ReadError, StoreError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0
