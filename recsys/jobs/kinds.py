"""What each kind of job does. A handler gets the job's context and parameters, reports its
stages through ``ctx.reporter`` and returns a small JSON result naming what it stored.

Kinds: ``import`` (an export into a dataset), ``fit`` (fit before the cutoff and score the
holdout; the model is usable at once), ``serve`` (fit on all the data, the model pages use),
``segments`` (clusters, profiles and a 2D projection of a model's embeddings), ``campaign``
(stage 1 of a campaign backtest: the model fitted before its cutoff) and ``bench`` (the CLI's
leaderboard). Models and results land in the workspace; nothing is held only in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from recsys.models import make_model, registry
from recsys.workspace import DatasetRef

if TYPE_CHECKING:
    from recsys.jobs import JobContext


class JobError(RuntimeError):
    """A job cannot run as asked; the message is for people."""


Handler = Callable[["JobContext", dict[str, Any]], dict[str, Any]]
KINDS: dict[str, Handler] = {}
TRAIN_SHARE = 0.88  # of the fit job's bar; scoring the holdout and saving take the rest


def kind(name: str) -> Callable[[Handler], Handler]:
    def add(fn: Handler) -> Handler:
        KINDS[name] = fn
        return fn
    return add


def canonical_params(model: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Every hyper-parameter spelled out (defaults filled in), so that equal settings give
    equal job keys however they were written."""
    return make_model(model, **(params or {})).params()


def model_label(model: str, params: dict[str, Any] | None) -> str:
    """'ease' for defaults, 'ease (l2=250)' when settings differ from them."""
    given = canonical_params(model, params)
    default = canonical_params(model, {})
    diff = [f"{k}={_short(v)}" for k, v in given.items() if default.get(k) != v]
    return model + (f" ({', '.join(diff[:3])}{', …' if len(diff) > 3 else ''})" if diff else "")


def _short(value: Any) -> str:
    """A setting's value as a label shows it: 3 significant digits, long text cut."""
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 24 else text[:23] + "…"


def settings_in_words(model: str, params: dict[str, Any]) -> str:
    """The settings that differ from the defaults, by their plain names: 'Regularisation 312,
    Taste dimensions 16' ('' for the defaults); a blend says what it mixes."""
    given = canonical_params(model, params)
    if model == "blend":
        base = settings_in_words(given["base"], json.loads(given["base_params"]))
        return (f"{given['base']}{f' ({base})' if base else ''} with "
                f"{given['popularity']:.0%} best sellers and {given['recent']:.0%} best "
                f"sellers of the last {given['recent_days']} days")
    helps = getattr(registry.spec(model).cls.Config, "HELP", {})
    default = canonical_params(model, {})
    words = []
    for key, value in given.items():
        if key in ("seed", "patience") or default.get(key) == value:
            continue
        name = helps.get(key, key).partition(" — ")[0]
        words.append(f"{name} {_short(value)}")
    return ", ".join(words)


def label_of(kind: str, params: dict[str, Any]) -> str:
    """How a job reads in a list: 'ease · fit + holdout', 'als · serving refit', ..."""
    if kind == "import":
        return f"import {params.get('name', '')}".strip()
    if kind == "segments":
        return f"segments · {params['what']} · {params['method'].upper()}"
    if kind == "bench":
        return f"bench · {len(params.get('models', []))} models"
    if kind == "tune":
        models = params.get("models", [])
        return (f"tune · {', '.join(models[:4])}{', …' if len(models) > 4 else ''} · "
                f"{params.get('minutes', 0):g} min each")
    if "model" not in params:
        return kind
    label = params.get("_label") or model_label(params["model"],
                                                params.get("_group", params.get("params")))
    return label + {"fit": " · fit + holdout score", "serve": " · fitted on all orders",
                    "campaign": f" · campaign model before {params.get('cutoff')}"}.get(kind, "")


def dataset_params(ref: DatasetRef, fingerprint: str) -> dict[str, Any]:
    return {"dataset": {"kind": ref.kind, "name": ref.name}, "fingerprint": fingerprint}


# ---------------------------------------------------------------- import
@kind("import")
def run_import(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    from recsys.data import CleaningOptions, ColumnMapping, ImportOptions, load_orders

    ws = ctx.ws
    own = p.get("upload") or f"job-{ctx.job.id}"  # the raw upload, or the scratch space
    try:
        ws.check_new_dataset(p["name"], replace=p.get("replace", True))
        ctx.reporter.stage("reading and cleaning the export", 0.0, 0.8)
        opts = ImportOptions(cleaning=CleaningOptions(**p.get("cleaning", {})),
                             pii_key=ws.pii_key, pseudonymise=not p.get("ids_anonymous", False),
                             scratch=ws.import_scratch(own))
        mapping = ColumnMapping.from_string(p["mapping"]) if p.get("mapping") else None
        sources = ws.upload_sources(p["upload"]) if p.get("upload") else p["paths"]
        data = load_orders(sources, format=p.get("format", "auto"), mapping=mapping,
                           options=opts)
    finally:  # the raw upload holds identities: it never outlives its import
        ws.drop_upload(own)
    ctx.reporter.stage("saving the dataset", 0.8, 1.0)
    ref = ws.save_dataset(data, p["name"])
    rep = data.report
    return {"dataset": ref.name, "fingerprint": ws.fingerprint(ref), "format": rep["format"],
            "rows_read": rep["rows_read"], "rows_kept": rep["rows_kept"]}


# ---------------------------------------------------------------- fit, serve
def _fit(ctx: JobContext, model, p: dict[str, Any], train):
    """Fit here, or data-parallel on the Ray cluster when one is configured and the model
    can (``recsys.distributed``); either way the same fitted model comes back."""
    from recsys import distributed

    if distributed.address() and registry.spec(p["model"]).data_parallel:
        workers = distributed.train_workers()
        r = ctx.reporter
        r.stage(f"{r.step} (on {workers} Ray workers)", r.lo, r.hi, r.steps)
        return distributed.fit_data_parallel(
            p["model"], p["params"], train, workers=workers, callback=ctx.reporter,
            should_stop=lambda: ctx.reporter.cancelled, storage=ctx.ws.ray_storage())
    return model.fit(train, callback=ctx.reporter)


@kind("fit")
def run_fit(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    """Fit before the cutoff, score the holdout, store the model (usable at once), then ask
    for the serving refit on all the data with the same choices."""
    from recsys.evaluate import evaluate, temporal_split

    data = ctx.dataset(p)
    split = temporal_split(data, cutoff=p.get("cutoff"))
    model = make_model(p["model"], **p["params"])
    ctx.reporter.stage("training on the orders before the cutoff", 0.0, TRAIN_SHARE,
                       model.progress_steps())
    start = time.perf_counter()
    model = _fit(ctx, model, p, split.train)
    fit_s = time.perf_counter() - start
    ctx.reporter.stage("scoring the holdout", TRAIN_SHARE, 0.98)
    k, task = int(p.get("k", 10)), p.get("task", "novel")
    res = evaluate(model, split, k=k, task=task, n_boot=int(p.get("n_boot", 500)))
    # A tuned model is named by what it is; its settings are in the leaderboard's own column.
    label = f"{p['model']} · tuned" if p.get("_tuned") else model_label(p["model"], p["params"])
    row = {"model": label, **res.metrics,
           **{f"{m}_lo": lo for m, (lo, _) in res.ci.items()},
           **{f"{m}_hi": hi for m, (_, hi) in res.ci.items()}, "coverage": res.coverage,
           "customers": len(res.customer_ids), "fit_seconds": fit_s,
           "cutoff": str(split.cutoff.date()), "task": task, "k": k,
           "partial": bool(model.partial_), "notes": "; ".join(model.notes()),
           "tuned": bool(p.get("_tuned")), "val_ndcg": p.get("_val_ndcg"),
           "settings": settings_in_words(p["model"], p["params"])}
    ctx.reporter.stage("saving the model", 0.98, 1.0)
    model_id = ctx.save_model(model, p, trained_on="holdout", cutoff=row["cutoff"],
                              metrics=row, label=label, fit_seconds=fit_s,
                              tuned=p.get("_tuned"))
    if p.get("refit", True) and not model.partial_:
        ctx.submit("serve", {**ctx.dataset_part(p), "model": p["model"],
                             "params": model.refit_params(), "_group": p["params"],
                             "_source": model_id, "_label": label})
    return {"model_id": model_id, "metrics": row, "partial": row["partial"]}


@kind("serve")
def run_serve(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    """Fit on all the data (what the pages recommend from); its embeddings get segmented."""
    data = ctx.dataset(p)
    model = make_model(p["model"], **p["params"])
    ctx.reporter.stage("training on all the orders", 0.0, 0.97, model.progress_steps())
    start = time.perf_counter()
    model = _fit(ctx, model, p, data)
    ctx.reporter.stage("saving the model", 0.97, 1.0)
    group = p.get("_group", p["params"])
    model_id = ctx.save_model(model, {**p, "params": group}, trained_on="all",
                              label=p.get("_label") or model_label(p["model"], group),
                              fit_seconds=time.perf_counter() - start,
                              source=p.get("_source"), serve_params=p["params"])
    spec = registry.spec(p["model"])
    for what, has in (("customers", spec.customer_vectors), ("items", spec.item_vectors)):
        if has and p.get("_source") and not model.partial_:  # a refit the pages will show
            ctx.submit("segments", {"fingerprint": p["fingerprint"], "dataset": p["dataset"],
                                    "model_id": model_id, "what": what, "method": "pca",
                                    "holdout_id": p["_source"]})
    return {"model_id": model_id, "partial": bool(model.partial_)}


# ---------------------------------------------------------------- tune
@kind("tune")
def run_tune(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    """Search each model's settings on the validation window before the cutoff, store the
    search, then fit the tuned models (and their blend) and score them on the holdout."""
    from recsys import tuning
    from recsys.evaluate import temporal_split
    from recsys.tuning_ray import searcher

    split = temporal_split(ctx.dataset(p), cutoff=p.get("cutoff"))
    val = tuning.Validation.of(split.train, seed=int(p.get("seed", 0)))
    names = [m for m in p["models"] if m != "blend"]
    ctx.reporter.stage(f"searching settings for {len(names)} models on the validation window",
                       0.0, 0.8)
    results = tuning.tune_many(names, val, minutes=float(p["minutes"]),
                               total_minutes=p.get("total_minutes"),
                               trials=p.get("trials"), seed=int(p.get("seed", 0)),
                               callback=_trial_reporter(ctx, names), search=searcher())
    stopped = any(r.stopped for r in results.values())
    summary = {"cutoff": str(split.cutoff.date()), "stopped": stopped, "models": {},
               "validation": {"from": str(val.split.cutoff.date()),
                              "to": str(split.train.interactions["timestamp"].max().date())}}
    for i, (name, r) in enumerate(results.items()):
        summary["models"][name] = {**r.to_dict(), "settings": settings_in_words(name, r.params)}
        if stopped:
            continue
        ctx.reporter.stage(f"training {name} with its tuned settings",
                           0.8 + 0.2 * i / len(results), 0.8 + 0.2 * (i + 1) / len(results))
        fit = ctx.submit("fit", {**ctx.dataset_part(p), "model": name,
                                 "params": canonical_params(name, r.params),
                                 "cutoff": p.get("cutoff"), "_tuned": ctx.job.key,
                                 "_val_ndcg": r.score})
        if fit.result:  # ran here (the command line), or done before with these settings
            ctx.ws.update_model_meta(fit.result["model_id"], tuned=ctx.job.key)
            summary["models"][name]["holdout"] = fit.result["metrics"]
    ctx.save_result(summary)
    return {"result": ctx.job.key, "partial": stopped,
            "best": max(results, key=lambda n: results[n].score) if results else None}


def _trial_reporter(ctx: JobContext, names: list[str]):
    """Each trial into the job's history (for the trial chart) and the bar (by time)."""
    def report(n: int, e: dict[str, Any]) -> None:
        done = names.index(e["model"]) if e["model"] in names else len(names)
        score = "-" if e["val_ndcg"] is None else f"{e['val_ndcg']:.4f}"
        ctx.reporter.record({"epoch": n, **{k: e[k] for k in ("model", "trial", "val_ndcg",
                                                              "best", "state", "seconds")}},
                            (done + e.get("share", 1.0)) / max(len(names), 1),
                            f"{e['model']} trial {e['trial']} · validation NDCG {score}")
    return report


# ---------------------------------------------------------------- segments
@kind("segments")
def run_segments(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    from recsys import segments

    data = ctx.dataset(p)
    model = ctx.ws.load_model(p["model_id"])
    ids, vectors = segments.model_vectors(model, p["what"])
    ctx.reporter.stage("clustering (choosing K by silhouette)", 0.0, 0.5)
    res = segments.segment(data, vectors, ids, p["what"], p.get("k", "auto"), p["method"])
    ctx.reporter.stage(f"projecting to 2D ({p['method'].upper()})", 0.5, 0.95)
    proj = segments.project(vectors, p["method"], strata=res["labels"])
    points = segments.scatter_frame(data, ids, p["what"], proj, res["labels"])
    ctx.reporter.stage("saving", 0.95, 1.0)
    summary = {k: res[k] for k in ("what", "k", "chosen_silhouette", "baseline_silhouette",
                                   "clusters", "projection")}
    summary.update(silhouette={str(k): v for k, v in res["silhouette"].items()},
                   sampled=bool(proj.sampled), seconds=proj.seconds, points=len(points))
    frames = {"points": points}
    if p["what"] == "customers":
        from recsys import segment_value as sv

        frames["promote"] = sv.promote(data, ids, res["labels"])
        frames["rfm"] = sv.rfm_mix(data, ids, res["labels"])
        if p.get("holdout_id"):  # measured with the model that never saw the test weeks
            ctx.reporter.stage("measuring how well segments predict purchases", 0.9, 0.95)
            holdout = ctx.ws.load_model(p["holdout_id"])
            h_ids, h_vec = segments.model_vectors(holdout, "customers")
            summary["value"] = sv.usefulness(data, ctx.ws.model_meta(p["holdout_id"])["cutoff"],
                                             h_ids, h_vec, res["k"])
    ctx.save_result(summary, frames=frames,
                    arrays={"ids": ids, "vectors": vectors, "labels": res["labels"]})
    return {"result": ctx.job.key}


# ---------------------------------------------------------------- campaigns
@kind("campaign")
def run_campaign(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    """Stage 1 of a campaign backtest: the model fitted on the orders before the cutoff."""
    from recsys import campaign as cp

    data = ctx.dataset(p)
    window = cp.CampaignWindow.of(data, p["cutoff"], int(p["window_days"]))
    model = make_model(p["model"], **p["params"])
    ctx.reporter.stage(f"training on the orders before {window.cutoff.date()}", 0.0, 0.97,
                       model.progress_steps())
    model.fit(window.train, callback=ctx.reporter)
    ctx.reporter.stage("saving the model", 0.97, 1.0)
    model_id = ctx.save_model(model, p, trained_on="window", cutoff=str(window.cutoff.date()),
                              window_days=int(p["window_days"]),
                              label=model_label(p["model"], p["params"]))
    return {"model_id": model_id, "partial": bool(model.partial_)}


# ---------------------------------------------------------------- bench
@kind("bench")
def run_bench_job(ctx: JobContext, p: dict[str, Any]) -> dict[str, Any]:
    from recsys.bench import run_bench

    names = list(p["models"])
    done = [0]

    def log(msg: str) -> None:
        done[0] += 1
        ctx.reporter.stage(msg, done[0] / len(names), done[0] / len(names))

    ctx.reporter.stage(f"fitting {len(names)} models", 0.0, 0.0)
    # The dataset goes straight in: the bench lets it go once split.
    result = run_bench(ctx.dataset(p), names, p.get("params") or {}, cutoff=p.get("cutoff"),
                       test_days=p.get("test_days"), task=p.get("task", "novel"),
                       k=int(p.get("k", 10)), n_boot=int(p.get("n_boot", 1000)), log=log)
    ctx.save_result(result)
    return {"result": ctx.job.key, "best": result["best"]}
