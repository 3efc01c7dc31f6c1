"""Command line: ``python -m recsys bench|tune|train|jobs|model|segments|campaign|import|generate``.

Errors in the input end the program with exit status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recsys import cli_campaign, cli_model
from recsys.bench import format_leaderboard, run_bench
from recsys.cli_common import (
    CliError,
    OneLineParser,
    add_data_args,
    date_arg,
    load_input,
    model_list,
    number_arg,
    output_path,
    parse_params,
    progress,
)
from recsys.data import FormatError, ReadError
from recsys.errors import safe_message
from recsys.jobs import InlineExecutor, Jobs
from recsys.jobs.executor import Heartbeat
from recsys.memory import PeakRSS
from recsys.models import ModelFileError, make_model, registry
from recsys.pipelines import segment_model
from recsys.requests import DatasetKey, FitRequest, ImportRequest, TuneRequest
from recsys.settings import problems
from recsys.synthetic import Shape, generate
from recsys.workspace import DatasetRef, StoreError, Workspace, check_label, check_name


def _add_tune_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--tune-minutes", type=number_arg(float, 0, 24 * 60, above=True),
                   required=required, metavar="N",
                   help="tune each model's settings for up to N minutes on the validation "
                        "window at the end of the training period (never the test window)")
    p.add_argument("--tune-trials", type=number_arg(int, 1, 100_000), metavar="N",
                   help="at most N trials per model (with the seed: the same choice each time)")
    p.add_argument("--tune-total-minutes", type=number_arg(float, 0, 7 * 24 * 60, above=True),
                   metavar="N", help="all models' tuning within N minutes (shared out)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m recsys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="fit models and print a temporal-holdout leaderboard")
    add_data_args(bench)
    when = bench.add_mutually_exclusive_group()
    when.add_argument("--cutoff", type=date_arg, help="YYYY-MM-DD: train before, test on/after")
    when.add_argument("--test-days", type=number_arg(float, 0, above=True),
                      help="test on the last N days")
    bench.add_argument("--task", default="novel", choices=["novel", "all"])
    bench.add_argument("--k", type=number_arg(int, 1, 1000), default=10)
    bench.add_argument("--models", default=",".join(registry.names(bench_default=True)),
                       help="comma-separated: " + ", ".join(registry.names()))
    bench.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE")
    bench.add_argument("--bootstrap", type=number_arg(int, 0, 100_000), default=1000,
                       help="bootstrap resamples")
    bench.add_argument("--json", type=output_path, help="write the results as JSON here")
    bench.add_argument("--choose-windows", type=number_arg(int, 1, 24), default=0, metavar="N",
                       help="also choose between the models on the last N validation windows "
                            "of the training period, and say whether the test weeks agree")
    _add_tune_args(bench, required=False)
    seg = sub.add_parser("segments", help="cluster customer or product embeddings of a model")
    add_data_args(seg)
    seg.add_argument("--model", required=True)
    seg.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE")
    seg.add_argument("--what", default="customers", choices=["customers", "items"])
    seg.add_argument("--k", default="auto", help="auto (by silhouette) or a number")
    seg.add_argument("--projection", default="umap", choices=["umap", "tsne", "pca"])
    seg.add_argument("--json", type=output_path, help="write the segments as JSON here")
    cli_campaign.add_parser(sub)
    cli_model.add_parser(sub)
    gen = sub.add_parser("generate", help="write a large synthetic order export (for "
                         "measuring scale): customers in taste clusters, Instacart-like")
    gen.add_argument("--out", type=output_path, required=True,
                     help="file to write: .parquet, .csv or .csv.gz")
    gen.add_argument("--lines", type=number_arg(int, 1, 2_000_000_000), default=1_000_000)
    gen.add_argument("--customers", type=number_arg(int, 1, 100_000_000), default=20_000)
    gen.add_argument("--products", type=number_arg(int, 2, 10_000_000), default=10_000)
    gen.add_argument("--seed", type=number_arg(int, 0), default=0)
    imp = sub.add_parser("import", help="import and clean an export into the workspace")
    add_data_args(imp)
    imp.add_argument("--name", required=True, help="dataset name in the workspace")
    imp.add_argument("--replace", action="store_true",
                     help="replace a dataset of the same name (otherwise refused)")
    train = sub.add_parser("train", help="fit a model as a job: scored on the holdout, "
                           "refitted on all data, stored in the workspace with its metrics")
    add_data_args(train)
    train.add_argument("--dataset", help="a dataset already in the workspace (or import DATA "
                       "under this name)")
    train.add_argument("--model", required=True)
    train.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE")
    train.add_argument("--cutoff", type=date_arg, help="YYYY-MM-DD: train before, score on/after")
    train.add_argument("--name", help="what to call the trained model in the workspace")
    train.add_argument("--replace", action="store_true",
                       help="with DATA: replace the dataset of that name")
    train.add_argument("--no-refit", action="store_true",
                       help="keep only the holdout model (no refit on all data)")
    tune = sub.add_parser("tune", help="search each model's settings on the validation "
                          "window as a job; the app then trains and shows the tuned models")
    add_data_args(tune)
    tune.add_argument("--dataset", help="a dataset already in the workspace (or import DATA "
                      "under this name)")
    tune.add_argument("--models", default=",".join(registry.names(tune_default=True)),
                      help="comma-separated registry names")
    tune.add_argument("--replace", action="store_true",
                      help="with DATA: replace the dataset of that name")
    tune.add_argument("--cutoff", type=date_arg, help="YYYY-MM-DD: the holdout the tuned "
                      "models are scored on; tuning sees only the orders before it")
    _add_tune_args(tune, required=True)
    tune.add_argument("--json", type=output_path, help="write the search as JSON here")
    jobs = sub.add_parser("jobs", help="list the workspace's jobs (the records the app shows)")
    jobs.add_argument("--json", action="store_true", help="print them as JSON")
    jobs.add_argument("--state", choices=["queued", "running", "done", "failed", "cancelled",
                                          "stopped"])
    jobs.add_argument("--limit", type=number_arg(int, 1, 100_000), default=50)
    jobs.add_argument("--rebuild", action="store_true",
                      help="make the job table again from the models and results on disk "
                           "(a damaged one is moved aside, never deleted)")
    return parser


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    models = model_list(args.models)
    params = parse_params(args.set, models)

    with PeakRSS() as mem:
        held = [load_input(args)]  # handed over below: the bench frees it once split
    import_s = mem.seconds
    rep, n = held[0].report, len(held[0].interactions)
    progress(f"imported {rep.rows_read:,} lines -> {n:,} "
              f"clean in {import_s:.2f}s ({rep.format}, peak {mem.peak_gb:.2f} GB)")
    result = run_bench(held.pop(), models, params, cutoff=args.cutoff, test_days=args.test_days,
                       task=args.task, k=args.k, n_boot=args.bootstrap,
                       tune_minutes=args.tune_minutes, tune_trials=args.tune_trials,
                       tune_total_minutes=args.tune_total_minutes,
                       choose_windows=args.choose_windows, log=progress)
    result["dataset"]["import_seconds"] = round(import_s, 3)
    result["steps"] = {"import": {"seconds": round(import_s, 3), "peak_gb": mem.peak_gb},
                       **result.get("steps", {})}

    print(format_leaderboard(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def cmd_generate(args: argparse.Namespace) -> dict[str, Any]:
    if args.out.suffix not in (".parquet", ".csv", ".gz"):
        raise CliError("--out must end in .parquet, .csv or .csv.gz")
    shape = Shape(lines=args.lines, customers=args.customers, products=args.products,
                  aisles=min(134, args.products), seed=args.seed)
    done = generate(args.out, shape, log=progress)
    print(f"wrote {done['lines']:,} lines to {args.out} ({done['bytes'] / 2**20:,.1f} MB) "
          f"in {done['seconds']:.1f}s")
    return done


def cmd_segments(args: argparse.Namespace) -> dict[str, Any]:
    if args.k != "auto" and not (args.k.isdigit() and 2 <= int(args.k) <= 100):
        raise CliError(f"--k is 'auto' or a number of clusters from 2 to 100, not {args.k!r}")
    k: int | str = args.k if args.k == "auto" else int(args.k)
    registry.spec(args.model)
    params = parse_params(args.set, [args.model])[args.model]
    data = load_input(args)
    model = make_model(args.model, **params).fit(data)
    seg = segment_model(data, model, args.what, k, args.projection)  # as the segments job
    ids, vectors, res, proj = seg.ids, seg.vectors, seg.segments, seg.projection
    print(f"{args.model} {args.what}: {len(ids):,} vectors of {vectors.shape[1]} dims; "
          f"{args.projection} projection of {len(proj.index):,} points in {proj.seconds:.1f}s")
    print("silhouette by K: " + ", ".join(f"{c}={v:.3f}" for c, v in res["silhouette"].items()))
    print(f"chosen K={res['k']} (silhouette {res['chosen_silhouette']:.3f}); hand-crafted "
          f"baseline features at the same K: {res['baseline_silhouette']:.3f}")
    for c in res["clusters"]:
        print(f"  cluster {c['cluster']}: {c['size']:,} ({c['share']:.0%}) · "
              f"{', '.join(map(str, c['top_categories'][:3]))} · e.g. "
              f"{'; '.join(map(str, c['distinctive_items'][:3]))}")
    out = {"model": args.model, "what": args.what, "k": res["k"],
           "silhouette": res["chosen_silhouette"],
           "silhouette_curve": {str(c): v for c, v in res["silhouette"].items()},
           "baseline_silhouette": res["baseline_silhouette"], "clusters": res["clusters"],
           "projection": args.projection, "projection_seconds": round(proj.seconds, 3),
           "projected_points": int(len(proj.index)), "sampled": bool(proj.sampled)}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return out


def _inline_jobs():
    return Jobs(executor=InlineExecutor())


def _run_job(jobs, request, reuse: bool = True):
    """Run a job here, printing its progress (and that of its follow-ups) on stderr."""
    done = threading.Event()
    since = time.time()

    def show() -> None:
        last = ""
        while not done.wait(0.5):
            mine = [j for j in jobs.list(states=("running",), limit=5)
                    if (j.started or 0) >= since - 1]
            if mine:  # the innermost: follow-ups run inside the job that asked for them
                j = max(mine, key=lambda j: j.started or 0)
                line = f"[{j.progress:4.0%}] {j.label or j.kind} · {j.step or ''}"
                line += f" · ~{j.eta:.0f} s left" if j.eta else ""
                if line != last:
                    print(line[:110], file=sys.stderr, flush=True)
                    last = line

    printer = threading.Thread(target=show, daemon=True)
    if sys.stderr.isatty():  # progress is for people watching, not for scripts and logs
        printer.start()
    try:
        job = _run_or_join(jobs, request, reuse)
    finally:
        done.set()
        if printer.is_alive():
            printer.join(timeout=2)
    if job.state == "failed":
        raise CliError(job.error or "the job failed")
    if job.state == "cancelled":
        raise CliError("the job was stopped")
    return job


def _run_or_join(jobs, request, reuse: bool):
    """Run the job here; when the same request is already running elsewhere (another
    command, the app's workers), wait for it and take its result instead of running it
    twice. A queued one is taken over and run here."""
    job = jobs.submit(request, reuse=reuse)
    for _ in range(3):  # a job whose runner dies while we wait is asked for again
        claimed = jobs.store.claim(job.id) if job.state == "queued" else None
        if claimed is not None:

            with Heartbeat(jobs, claimed.id, kill=False):
                return jobs.run(claimed)
        if not job.active:
            return job
        progress(f"the same job is already running (job {job.id}, {job.label or job.kind}); "
                  "waiting for it")
        while job.active:
            time.sleep(0.5)
            jobs.store.reap()
            job = jobs.get(job.id)
        if job.state in ("done", "stopped"):
            return job
        job = jobs.submit(request, reuse=reuse)
    return job


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    check_name(args.name)
    if args.demo or not args.data:
        raise CliError("Give the export files to import.")
    jobs = _inline_jobs()
    jobs.ws.check_new_dataset(args.name, replace=args.replace)
    job = _run_job(jobs, _import_request(args, args.name), reuse=False)
    ref = DatasetRef.saved(args.name)
    data = jobs.ws.load_dataset(ref)
    rep = data.report
    print(f"{args.name}: {rep.format}, {rep.rows_read:,} lines read, "
          f"{rep.rows_kept:,} kept -> {jobs.ws.location(ref)} (job {job.id})")
    for r in rep.cleaning:
        if r["removed"]:
            print(f"  removed {r['removed']:>9,}  {r['description']}")
    return data.summary()


def _import_request(args: argparse.Namespace, name: str):
    """The files named on the command line into dataset ``name``."""

    return ImportRequest(name, paths=tuple(str(Path(p).resolve()) for p in args.data),
                         format=args.format, mapping=args.map, replace=args.replace)


def _train_dataset(args: argparse.Namespace, jobs):
    """The dataset to train on: --demo, a workspace dataset, or DATA imported first."""
    if args.demo:
        return DatasetRef.demo()
    if args.data:
        name = check_name(args.dataset or Path(args.data[0]).name.split(".")[0][:60])
        jobs.ws.check_new_dataset(name, replace=args.replace)
        _run_job(jobs, _import_request(args, name), reuse=False)
        return DatasetRef.saved(name)
    if args.dataset:
        ref = DatasetRef.saved(check_name(args.dataset))
        if not jobs.ws.has_dataset(ref):
            raise StoreError(f"No dataset named {args.dataset!r} in {jobs.ws.root}; import "
                             "it first (python -m recsys import FILE --name NAME).")
        return ref
    raise CliError("Give DATA files, --dataset NAME (in the workspace) or --demo.")


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    registry.spec(args.model)
    params = parse_params(args.set, [args.model])[args.model]
    if args.name is not None:
        args.name = check_label(args.name)
    jobs = _inline_jobs()
    ref = _train_dataset(args, jobs)
    fp = jobs.ws.fingerprint(ref)
    job = _run_job(jobs, FitRequest.of(DatasetKey(ref, fp), args.model, params, args.cutoff,
                                       refit=not args.no_refit))
    row = job.holdout
    group = jobs.ws.model_record(job.model_id).group
    ids = [r.name for r in jobs.ws.model_records(fingerprint=fp, group=group)]
    if args.name:
        for i in ids:
            jobs.ws.update_model(i, label=args.name)
    print(f"{row['model']} on {ref.label}: ndcg@{row['k']}={row['ndcg']:.4f} "
          f"[{row['ndcg_lo']:.4f}, {row['ndcg_hi']:.4f}] recall={row['recall']:.4f} "
          f"hr={row['hr']:.4f} · holdout from {row['cutoff']} · {row['customers']:,} customers"
          + (" · stopped early (partial)" if row.get("partial") else ""))
    print(f"stored in {jobs.ws.root}: models {', '.join(ids)} (job {job.id})")
    return {"job": job.id, "models": ids, "metrics": row}


def cmd_tune(args: argparse.Namespace) -> dict[str, Any]:
    jobs = _inline_jobs()
    models = model_list(args.models)
    ref = _train_dataset(args, jobs)
    job = _run_job(jobs, TuneRequest(DatasetKey.of(jobs.ws, ref), tuple(models),
                                     args.cutoff, float(args.tune_minutes), args.tune_trials,
                                     total_minutes=args.tune_total_minutes))
    summary, _, _ = jobs.ws.load_result(job.result_key)
    print(f"tuned on the validation window {summary['validation']['from']} to "
          f"{summary['validation']['to']} (holdout from {summary['cutoff']} never seen)")
    print(f"{'model':<18}{'trials':>7}{'default':>9}{'start':>9}{'tuned':>9}{'holdout':>9}"
          "  chosen settings")
    for name, r in summary["models"].items():
        fit = r.get("holdout") or {}
        print(f"{name:<18}{len(r['trials']):>7}{_num(r['default_score']):>9}"
              f"{_num(r['start_score']):>9}{_num(r['score']):>9}{_num(fit.get('ndcg')):>9}"
              f"  {r.get('settings') or 'defaults'}")
    print(f"stored in {jobs.ws.root} (job {job.id}); the app's Models page shows them")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def cmd_jobs(args: argparse.Namespace) -> list[dict[str, Any]]:
    ws = Workspace()
    if args.rebuild:
        aside, n = Jobs.rebuild(ws)
        print(f"rebuilt {ws.jobs_db()}: {n} finished jobs listed again from the models, "
              "results and datasets on disk"
              + (f"; the old file is kept as {aside}" if aside else ""))
    if not ws.root.exists():
        progress(f"no jobs: there is no workspace at {ws.root} yet (the first import or "
                  "training makes it)")
    jobs = Jobs(ws, create=False)  # a listing never makes a workspace (nor starts workers)
    jobs.store.reap()
    jobs.sweep_uploads()
    found = jobs.list(states=(args.state,) if args.state else None, limit=args.limit)
    out = [{"id": j.id, "kind": j.kind, "label": j.label, "state": j.state,
            "progress": round(j.progress, 4), "step": j.step, "params": j.params,
            "started": _when(j.started), "finished": _when(j.finished),
            "seconds": round(j.elapsed, 2), "error": j.error, "result": j.result}
           for j in found]
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return out
    print(f"{'id':<13}{'kind':<10}{'state':<10}{'done':>6}  {'started':<20}{'label'}")
    for j in out:
        print(f"{j['id']:<13}{j['kind']:<10}{j['state']:<10}{j['progress']:>6.0%}  "
              f"{j['started'] or '-':<20}{j['label'] or ''}"
              + (f"\n{'':<13}error: {j['error']}" if j["error"] else ""))
    return out


def _when(t: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else None


def main(argv: Sequence[str] | None = None) -> int:
    registry.load_plugins()
    args = build_parser().parse_args(argv)

    wrong = problems()  # a mistyped limit is refused before any work, never ignored
    if wrong:
        print(f"error: {wrong[0]}", file=sys.stderr)
        return 2
    try:
        {"bench": cmd_bench, "import": cmd_import, "generate": cmd_generate,
         "segments": cmd_segments, "campaign": cli_campaign.cmd_campaign, "train": cmd_train,
         "jobs": cmd_jobs, "tune": cmd_tune, "model": cli_model.cmd_model}[args.command](args)
    except (CliError, FormatError, ReadError, StoreError, ModelFileError, KeyError,
            ValueError) as exc:
        # safe_message: a library's own message may quote a row of the user's file.
        print(f"error: {safe_message(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: ran out of memory; try a smaller export or model (or a bigger machine)",
              file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("RECSYS_DEBUG"):
            raise
        print(f"error: unexpected {safe_message(exc)} (set RECSYS_DEBUG=1 for the details)",
              file=sys.stderr)
        return 1
    return 0


def _os_error(exc: OSError) -> str:
    """A file-system error in one line; a workspace that cannot be written says so."""
    root = Workspace().root.resolve()
    where = Path(exc.filename).resolve() if exc.filename else None
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and where is not None \
            and where.is_relative_to(root):
        return (f"the workspace at {root} is read-only ({exc.strerror}): nothing can be run "
                "or saved there; use a writable workspace (RECSYS_WORKSPACE).")
    return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
