"""What each kind of job does, thinly: the job's request (``recsys.requests``) goes to its
pipeline, and what comes out is stored in the workspace; the handler returns a small JSON
result naming what it stored. Handlers report their stages through ``ctx.reporter``.

Kinds: ``import`` (an export into a dataset), ``fit`` (fit before the cutoff and score the
holdout; the model is usable at once), ``serve`` (fit on all the data, the model pages use),
``tune`` (search settings on the validation window, then fit the tuned models),
``segments`` (clusters, profiles and a 2D projection of a model's embeddings) and
``campaign`` (stage 1 of a campaign backtest: the model fitted before its cutoff).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from recsys import campaign as cp
from recsys import distributed, segments, tuning
from recsys import segment_value as sv
from recsys.data import CleaningOptions, ColumnMapping, ImportOptions, load_orders
from recsys.evaluate import temporal_split
from recsys.models import make_model, model_class, registry
from recsys.pipelines import fit_and_score, plain_fit, segment_model
from recsys.presentation import fit_label, model_label, settings_in_words
from recsys.records import TrainedOn
from recsys.requests import (
    CampaignRequest,
    FitRequest,
    ImportRequest,
    Request,
    SegmentsRequest,
    ServeRequest,
    TuneRequest,
)
from recsys.tuning_ray import searcher

if TYPE_CHECKING:
    from recsys.jobs import JobContext


class JobError(RuntimeError):
    """A job cannot run as asked; the message is for people."""


Handler = Callable[["JobContext", Any], dict[str, Any]]
KINDS: dict[str, Handler] = {}
TRAIN_SHARE = 0.88  # of the fit job's bar; scoring the holdout and saving take the rest


def kind(which: type[Request] | str) -> Callable[[Handler], Handler]:
    """Register the handler of a request type (a plugin's kind: by name, with its
    parameters as a ``Params`` request)."""
    name = which if isinstance(which, str) else which.kind

    def add(fn: Handler) -> Handler:
        KINDS[name] = fn
        return fn
    return add


def _stages(ctx: JobContext, spans: dict[str, tuple]):
    """A pipeline's ``step(name)`` for this job: each named step moves the bar to its span
    (text, from, to[, progress steps])."""
    @contextmanager
    def step(name: str) -> Iterator[None]:
        ctx.reporter.stage(*spans[name])
        yield
    return step


# ---------------------------------------------------------------- import
@kind(ImportRequest)
def run_import(ctx: JobContext, req: ImportRequest) -> dict[str, Any]:
    ws = ctx.ws
    own = req.upload or f"job-{ctx.job.id}"  # the raw upload, or the scratch space
    try:
        ws.check_new_dataset(req.name, replace=req.replace)
        ctx.reporter.stage("reading and cleaning the export", 0.0, 0.8)
        opts = ImportOptions(cleaning=CleaningOptions(**req.cleaning), pii_key=ws.pii_key,
                             pseudonymise=not req.ids_anonymous,
                             scratch=ws.import_scratch(own))
        mapping = ColumnMapping.from_string(req.mapping) if req.mapping else None
        sources = ws.upload_sources(req.upload) if req.upload else list(req.paths)
        data = load_orders(sources, format=req.format, mapping=mapping, options=opts)
    finally:  # the raw upload holds identities: it never outlives its import
        ws.drop_upload(own)
    ctx.reporter.stage("saving the dataset", 0.8, 1.0)
    ref = ws.save_dataset(data, req.name)
    rep = data.report
    return {"dataset": ref.name, "fingerprint": ws.fingerprint(ref), "format": rep.format,
            "rows_read": rep.rows_read, "rows_kept": rep.rows_kept}


# ---------------------------------------------------------------- fit, serve
def _fitter(ctx: JobContext, model_name: str, params: dict[str, Any]):
    """Fit here, or data-parallel on the Ray cluster when one is configured and the model
    can (``recsys.distributed``); either way the same fitted model comes back."""

    if not (distributed.address() and registry.spec(model_name).data_parallel):
        return plain_fit

    def fit(model, train, callback):
        workers = distributed.train_workers()
        r = ctx.reporter
        r.stage(f"{r.step} (on {workers} Ray workers)", r.lo, r.hi, r.steps)
        return distributed.fit_data_parallel(
            model_name, params, train, workers=workers, callback=callback,
            should_stop=lambda: ctx.reporter.cancelled, storage=ctx.ws.ray_storage())
    return fit


@kind(FitRequest)
def run_fit(ctx: JobContext, req: FitRequest) -> dict[str, Any]:
    """Fit before the cutoff, score the holdout, store the model (usable at once), then ask
    for the serving refit on all the data with the same choices."""
    split = temporal_split(ctx.dataset(req.data), cutoff=req.cutoff)
    steps = model_class(req.model)(**req.params).progress_steps()
    step = _stages(ctx, {"fit": ("training on the orders before the cutoff", 0.0, TRAIN_SHARE,
                                 steps),
                         "evaluate": ("scoring the holdout", TRAIN_SHARE, 0.98)})
    label = fit_label(req)
    scored = fit_and_score(req.model, req.params, split, label=label, k=req.k, task=req.task,
                           n_boot=req.n_boot, fit=_fitter(ctx, req.model, req.params),
                           callback=ctx.reporter, step=step, tuned=bool(req.tuned),
                           validation_ndcg=req.val_ndcg)
    ctx.reporter.stage("saving the model", 0.98, 1.0)
    model, row = scored.model, scored.row
    model_id = ctx.save_model(model, req.data, req.model, req.params,
                              trained_on=TrainedOn.HOLDOUT, cutoff=row.cutoff, metrics=row,
                              label=label, fit_seconds=row.fit_seconds, tuned=req.tuned)
    if req.refit and not model.partial_:
        ctx.submit(ServeRequest(req.data, req.model, model.refit_params(), group=req.params,
                                source=model_id, label=label))
    return {"model_id": model_id, "metrics": row.to_dict(), "partial": row.partial}


@kind(ServeRequest)
def run_serve(ctx: JobContext, req: ServeRequest) -> dict[str, Any]:
    """Fit on all the data (what the pages recommend from); its embeddings get segmented."""

    data = ctx.dataset(req.data)
    model = make_model(req.model, **req.params)
    ctx.reporter.stage("training on all the orders", 0.0, 0.97, model.progress_steps())
    start = time.perf_counter()
    model = _fitter(ctx, req.model, req.params)(model, data, ctx.reporter)
    ctx.reporter.stage("saving the model", 0.97, 1.0)
    model_id = ctx.save_model(model, req.data, req.model, req.asked, trained_on=TrainedOn.ALL,
                              label=req.label or model_label(req.model, req.asked),
                              fit_seconds=time.perf_counter() - start, source=req.source,
                              serve_params=req.params)
    spec = registry.spec(req.model)
    for what, has in (("customers", spec.customer_vectors), ("items", spec.item_vectors)):
        if has and req.source and not model.partial_:  # a refit the pages will show
            ctx.submit(SegmentsRequest(req.data, model_id, what, "pca", req.source))
    return {"model_id": model_id, "partial": bool(model.partial_)}


# ---------------------------------------------------------------- tune
@kind(TuneRequest)
def run_tune(ctx: JobContext, req: TuneRequest) -> dict[str, Any]:
    """Search each model's settings on the validation window before the cutoff, store the
    search, then fit the tuned models (and their blend) and score them on the holdout."""
    split = temporal_split(ctx.dataset(req.data), cutoff=req.cutoff)
    val = tuning.Validation.of(split.train, seed=req.seed)
    names = [m for m in req.models if not registry.spec(m).wraps_base]
    ctx.reporter.stage(f"searching settings for {len(names)} models on the validation window",
                       0.0, 0.8)
    results = tuning.tune_many(names, val, minutes=float(req.minutes),
                               total_minutes=req.total_minutes, trials=req.trials,
                               seed=req.seed, callback=_trial_reporter(ctx, names),
                               search=searcher())
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
        fit = ctx.submit(FitRequest.of(req.data, name, r.params, req.cutoff,
                                       tuned=ctx.job.key, val_ndcg=r.score))
        if fit.result:  # ran here (the command line), or done before with these settings
            ctx.ws.update_model(fit.model_id, tuned=ctx.job.key)
            summary["models"][name]["holdout"] = fit.holdout
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
@kind(SegmentsRequest)
def run_segments(ctx: JobContext, req: SegmentsRequest) -> dict[str, Any]:
    data = ctx.dataset(req.data)
    model = ctx.ws.load_model(req.model_id)
    # Customer segments are measured with the holdout model (it never saw the test weeks)
    # and counted by use; without one, or for products, counted by silhouette.
    measured = req.what == "customers" and req.holdout_id is not None
    if measured:
        cutoff = ctx.ws.model_record(req.holdout_id).cutoff
        h_ids, h_vec = segments.model_vectors(ctx.ws.load_model(req.holdout_id), "customers")
    by_use = measured and req.k == "auto"
    if by_use:
        ctx.reporter.stage("choosing how many segments predict purchases best", 0.0, 0.3)
        choice = sv.choose_k(data, cutoff, h_ids, h_vec)
    step = _stages(ctx, {"cluster": ("clustering" if by_use else
                                     "clustering (choosing K by silhouette)", 0.3, 0.55),
                         "project": (f"projecting to 2D ({req.method.upper()})", 0.55, 0.9)})
    seg = segment_model(data, model, req.what, choice["k"] if by_use else req.k, req.method,
                        step=step)
    res, proj = seg.segments, seg.projection
    summary = {k: res[k] for k in ("what", "k", "chosen_silhouette", "baseline_silhouette",
                                   "clusters", "projection")}
    summary.update(silhouette={str(k): v for k, v in res["silhouette"].items()},
                   sampled=bool(proj.sampled), seconds=proj.seconds, points=len(seg.points))
    if by_use:
        summary["choice"] = choice
    frames = {"points": seg.points}
    if req.what == "customers":
        frames["promote"] = sv.promote(data, seg.ids, res["labels"])
        frames["rfm"] = sv.rfm_mix(data, seg.ids, res["labels"])
        if measured:
            ctx.reporter.stage("measuring how well segments predict purchases", 0.9, 0.95)
            summary["value"] = sv.usefulness(data, cutoff, h_ids, h_vec, res["k"])
    ctx.reporter.stage("saving", 0.95, 1.0)
    ctx.save_result(summary, frames=frames,
                    arrays={"ids": seg.ids, "vectors": seg.vectors, "labels": res["labels"]})
    return {"result": ctx.job.key}


# ---------------------------------------------------------------- campaigns
@kind(CampaignRequest)
def run_campaign(ctx: JobContext, req: CampaignRequest) -> dict[str, Any]:
    """Stage 1 of a campaign backtest: the model fitted on the orders before the cutoff."""
    window = cp.CampaignWindow.of(ctx.dataset(req.data), req.cutoff, req.window_days)
    ctx.reporter.stage(f"training on the orders before {window.cutoff.date()}", 0.0, 0.97,
                       make_model(req.model, **req.params).progress_steps())
    model = cp.fit_window_model(window, req.model, req.params, callback=ctx.reporter)
    ctx.reporter.stage("saving the model", 0.97, 1.0)
    model_id = ctx.save_model(model, req.data, req.model, req.params,
                              trained_on=TrainedOn.WINDOW, cutoff=str(window.cutoff.date()),
                              window_days=req.window_days,
                              label=model_label(req.model, req.params))
    return {"model_id": model_id, "partial": bool(model.partial_)}
