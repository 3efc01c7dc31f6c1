"""Hyper-parameter search for every shop, on the validation window only.

``tune(name, train)`` searches the model's declared space (``ModelSpec.search``) with Optuna's
TPE sampler, starting from settings scaled to the shop (``ModelSpec.starting_point``) and the
defaults; each trial is fitted on the training period less its last weeks and scored by
NDCG@K on those weeks. Models that train in epochs report every epoch, so hopeless trials are
pruned early and the best epoch count becomes a setting. Nothing here sees a test window: the
caller hands in the training data only. ``tune_many`` tunes several models within one budget
and adds the blend of the best of them with best sellers (``recsys.models.blend``), its
weights chosen on the same window, so the winner is never below the best simple baseline
there. A fixed trial count with a seed gives the same choice every time; a time budget stops
earlier on a slower machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recsys.data import OrderData
from recsys.evaluate import (
    Split,
    Truth,
    build_truth,
    evaluate,
    hit_matrix,
    metrics_from_hits,
    temporal_split,
    validation_split,
)
from recsys.models import BaseRecommender, make_model, registry
from recsys.models.base import BATCH, topn
from recsys.models.blend import Blend
from recsys.models.search import ShopShape
from recsys.models.torch_base import TorchRecommender, Trainer
from recsys.models.trainer import StopTraining

MAX_VAL_CUSTOMERS = 20_000  # validation customers scored per trial (a seeded sample above)
EPOCH_PATIENCE = 1  # epochs without improvement before a trial ends (as the models' default)
BLEND_STEP = 0.1
REPEATS = 10  # the search ends when the sampler suggests only settings tried before ...
STALE_TRIALS = 60  # ... or when this many trials in a row improve the best by under 0.1%
SE_RULE = 2.0  # the chosen trial must beat the start by this many standard errors
# callback(trial number, {"model", "trial", "val_ndcg", "best", "state", "share", ...}); it
# may raise StopTraining to end the search (the best trial so far is kept).
TrialCallback = Callable[[int, dict[str, Any]], Any]


QUICK_CHECK_LINES = 1_000_000  # below this, the check before a tune job takes under a second


def too_little_history(data: OrderData, cutoff: str | None, task: str = "novel") -> str | None:
    """Why a search on this shop's validation window cannot run (None: it can, or the shop
    is too big to tell quickly; the tune job checks again). Lets a page say it at once
    instead of after the job has waited its turn."""
    if data.n_lines > QUICK_CHECK_LINES:
        return None
    try:  # the job's own check, on the same window
        Validation.of(temporal_split(data, cutoff=cutoff).train, task=task)
    except ValueError as exc:
        return str(exc)
    return None


@dataclass
class Validation:
    """The validation window at the end of a training period, and its truth."""

    split: Split
    truth: Truth
    k: int = 10
    task: str = "novel"

    @classmethod
    def of(cls, train: OrderData, days: float | None = None, task: str = "novel", k: int = 10,
           seed: int = 0) -> Validation:
        split = validation_split(train, days)
        truth = build_truth(split, task)
        n = len(truth.customer_ids)
        if n == 0:
            raise ValueError("Too little history to tune: nobody bought products new to them "
                             "in the last weeks before the holdout (after "
                             f"{split.cutoff.date()}). Move the holdout start later, or tune "
                             "once the shop has more history.")
        if n > MAX_VAL_CUSTOMERS:
            keep = np.sort(np.random.default_rng(seed).choice(n, MAX_VAL_CUSTOMERS, False))
            truth = Truth(truth.customer_ids[keep], truth.matrix[keep], truth.task)
        return cls(split, truth, k, task)

    @property
    def train(self) -> OrderData:
        return self.split.train

    def per_customer(self, model: BaseRecommender) -> np.ndarray:
        """NDCG@K of each validation customer."""
        return evaluate(model, self.split, k=self.k, task=self.task, n_boot=0,
                        truth=self.truth).per_customer["ndcg"]

    def score(self, model: BaseRecommender) -> float:
        return float(self.per_customer(model).mean())


@dataclass
class TuneResult:
    """The chosen settings (ready for ``make_model``) and how the search went."""

    model: str
    params: dict[str, Any]
    score: float  # validation NDCG@K of ``params``
    start_score: float | None  # of the shop-scaled starting point (trial 0)
    default_score: float | None  # of the defaults
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False
    kept_start: bool = False  # the best trial did not beat the better starting point
    # (the start or the defaults) by SE_RULE errors, so that point was kept

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_torch(model: BaseRecommender) -> bool:
    return isinstance(model, TorchRecommender)


def _fit_epochs(model, val: Validation, report: Callable[[float, int], bool]
                ) -> tuple[np.ndarray, int]:
    """Train epoch by epoch on the validation window's training part; ``report(score,
    epoch)`` says whether to stop. Returns the best epoch's per-customer NDCG and count."""
    best = {"score": -1.0, "per": None, "epoch": 1, "bad": 0}

    def watch(epoch: int) -> dict[str, Any]:
        per = val.per_customer(model)
        score = float(per.mean())
        improved = score > best["score"]
        if improved:
            best.update(score=score, per=per, epoch=epoch + 1, bad=0)
        else:
            best["bad"] += 1
        stop = report(score, epoch) or best["bad"] >= EPOCH_PATIENCE
        return {"stop": stop, "improved": improved}

    model.record_training(Trainer().train(model, val.train, model.config.epochs,
                                          on_epoch=watch))
    return best["per"], best["epoch"]


def sized(name: str, val: Validation, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """``fixed`` plus the settings the model picks by the shop's size (torch models: whole
    orders per step above ``whole_orders_above`` lines), picked for the whole training period
    rather than for its shorter validation window, so that every trial trains the way the
    tuned model will when fitted on all of it."""
    fixed = dict(fixed or {})
    pick = getattr(make_model(name, **fixed), "size_settings", None)
    if pick is None:
        return fixed
    return {**pick(val.train.n_lines + len(val.split.test)), **fixed}


def space(name: str, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model's search space as Optuna distributions (also what Ray Tune's Optuna
    searcher is given), less the settings ``fixed`` by the caller."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for key, dim in registry.spec(name).search.items():
        if key in (fixed or {}):
            continue
        if dim.choices:
            out[key] = CategoricalDistribution(list(dim.choices))
        elif dim.integer:
            out[key] = IntDistribution(int(dim.low), int(dim.high), log=dim.log)
        else:
            out[key] = FloatDistribution(float(dim.low), float(dim.high), log=dim.log)
    return out


def _suggest(trial, key: str, dist) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, list(dist.choices))
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(key, dist.low, dist.high, log=dist.log)


def run_trial(name: str, params: dict[str, Any], val: Validation,
              report: Callable[[float, int], bool]) -> tuple[np.ndarray, int | None]:
    """Fit one setting on the window and score it: (each validation customer's NDCG@K,
    best epoch count or None). Models that train in epochs are scored after each,
    ``report(score, epoch)`` saying whether to stop (pruned, or out of time)."""
    model = make_model(name, **params)
    if not _is_torch(model):
        return val.per_customer(model.fit(val.train)), None
    return _fit_epochs(make_model(name, **{**params, "patience": 0}), val, report)


class _Objective:
    """One Optuna trial: the settings it suggests, fitted and scored on the window."""

    def __init__(self, name: str, val: Validation, fixed: dict[str, Any], deadline: float):
        self.name, self.val, self.fixed, self.deadline = name, val, fixed, deadline
        self.space = space(name, fixed)
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self.per: dict[int, np.ndarray] = {}  # trial number -> per-customer NDCG

    def __call__(self, trial) -> float:
        params = {**self.fixed, **{k: _suggest(trial, k, d) for k, d in self.space.items()}}
        key = json.dumps(params, sort_keys=True, default=str)
        if key in self.seen:  # small discrete spaces: the sampler asks again
            value, attrs = self.seen[key]
            for k, v in {**attrs, "repeat": True}.items():
                trial.set_user_attr(k, v)
            return value
        value = self._run(trial, params)
        self.seen[key] = (value, dict(trial.user_attrs))
        return value

    def _run(self, trial, params: dict[str, Any]) -> float:
        import optuna

        def report(score: float, epoch: int) -> bool:
            trial.report(score, epoch)
            return trial.should_prune() or time.monotonic() > self.deadline

        try:
            per, epochs = run_trial(self.name, params, self.val, report)
        except (ValueError, MemoryError) as exc:  # settings this shop cannot take
            trial.set_user_attr("error", str(exc)[:200])
            return float("nan")
        self.per[trial.number] = per
        score = float(per.mean())
        if epochs is None:
            return score
        trial.set_user_attr("epochs", epochs)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return score


def chosen(name: str, params: dict[str, Any], epochs: int | None) -> dict[str, Any]:
    """The full settings of a finished trial (torch models: its best epoch count, fixed)."""
    if epochs is not None:
        params = {**params, "epochs": int(epochs), "patience": 0}
    return make_model(name, **params).params()


def starts(name: str, shape: ShopShape, fixed: dict[str, Any]) -> list[dict[str, Any]]:
    """The first settings to try: the shop-scaled starting point, then the defaults (when
    they differ), each as values of the searched settings."""
    spec = registry.spec(name)
    if not spec.search:
        return []
    defaults = {k: d.clip(v) for k, v in make_model(name, **fixed).params().items()
                if (d := spec.search.get(k)) is not None and k not in fixed}
    start = {**defaults, **{k: v for k, v in spec.starting_point(shape).items()
                            if k not in fixed}}
    if not start:  # every searched setting is fixed: one trial of them
        return []
    return [start] + ([defaults] if start != defaults else [])


def tune(name: str, train: OrderData | Validation, *, minutes: float = 5.0,
         trials: int | None = None, seed: int = 0, fixed: dict[str, Any] | None = None,
         callback: TrialCallback | None = None, task: str = "novel", k: int = 10
         ) -> TuneResult:
    """Search ``name``'s settings within ``minutes`` (and at most ``trials`` trials; at least
    one always runs) on the validation window at the end of ``train``; settings in ``fixed``
    are kept as given."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    val = train if isinstance(train, Validation) else Validation.of(train, task=task, k=k,
                                                                    seed=seed)
    fixed = sized(name, val, fixed)
    start_t = time.monotonic()
    budget = max(minutes, 0.0) * 60
    deadline = start_t + budget
    n_trials = 1 if not space(name, fixed) else trials
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    points = starts(name, ShopShape.of(val.train), fixed)
    for point in points:
        study.enqueue_trial(point)
    log: list[dict[str, Any]] = []
    stopped = [False]

    def after(study, trial) -> None:
        entry = _trial_entry(name, trial, log, time.monotonic() - start_t, budget)
        log.append(entry)
        if callback is not None:
            try:
                callback(len(log), entry)
            except StopTraining:  # asked to stop: the best trial so far is kept
                stopped[0] = True
                study.stop()
        mean = (time.monotonic() - start_t) / len(log)
        if time.monotonic() + 0.5 * mean > deadline or _converged(log):
            study.stop()

    objective = _Objective(name, val, fixed, deadline)
    study.optimize(objective, n_trials=n_trials, timeout=budget or None, callbacks=[after],
                   catch=())
    return _result(name, study, log, fixed, max(len(points), 1), objective.per,
                   time.monotonic() - start_t, stopped[0])


def _converged(log: list[dict[str, Any]]) -> bool:
    """The sampler only repeats itself, or the best has not moved for a long while."""
    if len(log) >= REPEATS and all(e["repeat"] for e in log[-REPEATS:]):
        return True
    if len(log) <= STALE_TRIALS:
        return False
    return log[-1]["best"] is not None and log[-STALE_TRIALS - 1]["best"] is not None and \
        log[-1]["best"] <= log[-STALE_TRIALS - 1]["best"] * (1 + 1e-3)


def _trial_entry(name, trial, log, elapsed: float, budget: float) -> dict[str, Any]:
    value = trial.value if trial.value is not None and np.isfinite(trial.value) else None
    if value is None and trial.intermediate_values:
        value = max(trial.intermediate_values.values())  # a pruned trial's best epoch
    best_before = max((e["best"] for e in log if e["best"] is not None), default=None)
    best = value if best_before is None else max(best_before, value or -1.0)
    return {"model": name, "trial": trial.number + 1, "val_ndcg": value, "best": best,
            "state": trial.state.name.lower(), "params": dict(trial.params),
            "epochs": trial.user_attrs.get("epochs"), "error": trial.user_attrs.get("error"),
            "repeat": bool(trial.user_attrs.get("repeat")),
            "seconds": round(elapsed, 2), "share": min(elapsed / budget, 1.0) if budget else 1.0}


def _result(name, study, log, fixed, n_starts: int, per: dict[int, np.ndarray], seconds: float,
            stopped: bool) -> TuneResult:
    """The best finished trial, unless it beats the better of the starting points (trial 0,
    the shop-scaled start, and trial ``n_starts - 1``, the defaults) by less than SE_RULE
    standard errors of their paired per-customer difference: the best of many noisy trials
    flatters itself, and a window's noise is no reason to leave a starting point. Tuned
    settings therefore never score below the defaults on the validation window."""
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
            and t.value is not None and np.isfinite(t.value)]
    if not done:
        raise ValueError(f"No setting of {name} could be fitted on this shop's validation "
                         f"window: {next((e['error'] for e in log if e['error']), 'no trial ran')}")
    best, kept = keep_start(max(done, key=_by_score), [t for t in done if t.number < n_starts],
                            _by_score, lambda t: per.get(t.number))
    scores = {t.number: t.value for t in done}
    return TuneResult(name, chosen(name, {**fixed, **best.params},
                                   best.user_attrs.get("epochs")), float(best.value),
                      start_score=scores.get(0), default_score=scores.get(n_starts - 1),
                      trials=log, seconds=seconds, stopped=stopped, kept_start=kept)


def _by_score(trial) -> tuple[float, int]:
    return trial.value, -trial.number  # ties: the earlier trial


def keep_start(best, starts: list, order: Callable, per_customer: Callable) -> tuple[Any, bool]:
    """(the trial kept, whether it is a starting point that ``best`` did not beat): the
    better of ``starts`` (by ``order``) stays unless ``best`` beats it by SE_RULE standard
    errors of their per-customer scores. The local and the Ray search share this rule."""
    ref = max(starts, key=order, default=None)
    kept = ref is not None and best is not ref and not beats(per_customer(best),
                                                               per_customer(ref))
    return (ref if kept else best), kept


def beats(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Whether per-customer scores ``a`` beat ``b`` by SE_RULE standard errors."""
    if a is None or b is None or len(a) < 2:
        return True
    d = a - b
    return bool(d.mean() > SE_RULE * d.std(ddof=1) / np.sqrt(len(d)))


# ---------------------------------------------------------------- the blend
def blend_grid(step: float = BLEND_STEP) -> list[tuple[float, float]]:
    """(popularity, recent) weights on a simplex grid, (0, 0) first (the base model alone)."""
    n = int(round(1 / step))
    return [(a * step, b * step) for a in range(n + 1) for b in range(n + 1 - a)]


def blend_scores(base: BaseRecommender, val: Validation, grid: list[tuple[float, float]],
                 recent_days: int = 30) -> np.ndarray:
    """Validation NDCG@K of the blend at every grid point, scoring the base model once."""
    blend = Blend.wrap(base, val.train, popularity=0.0, recent=0.0, recent_days=recent_days)
    truth, total = val.truth, np.zeros(len(grid))
    rows_all = blend.customer_rows(truth.customer_ids)
    for s in range(0, len(rows_all), BATCH):
        rows = rows_all[s:s + BATCH]
        z = blend.base_part(rows)
        seen = blend.X_[rows].tocoo() if val.task == "novel" else None
        for g, (a, b) in enumerate(grid):
            mix = blend.mix(z, a, b)
            if seen is not None:
                mix[seen.row, seen.col] = -np.inf
            idx = topn(mix, val.k)[0]
            part = truth.matrix[s:s + len(rows)]
            per = metrics_from_hits(hit_matrix(part, idx), np.diff(part.indptr))
            total[g] += per["ndcg"].sum()
    return total / len(rows_all)


def tune_blend(base_name: str, base_params: dict[str, Any], val: Validation,
               recent_days: int = 30, base: BaseRecommender | None = None) -> TuneResult:
    """The best mix of ``base_name`` (with these settings) and best sellers on the window."""
    start = time.monotonic()
    base = base or make_model(base_name, **base_params).fit(val.train)
    grid = blend_grid()
    scores = blend_scores(base, val, grid, recent_days)
    g = int(np.argmax(scores))  # first best: the least mixing among equals
    params = make_model("blend", base=base_name, base_params=json.dumps(base_params),
                        popularity=round(grid[g][0], 3), recent=round(grid[g][1], 3),
                        recent_days=recent_days).params()
    trials = [{"model": "blend", "trial": i + 1, "val_ndcg": float(v), "state": "complete",
               "params": {"popularity": p, "recent": r}} for i, ((p, r), v)
              in enumerate(zip(grid, scores))]
    return TuneResult("blend", params, float(scores[g]), start_score=float(scores[0]),
                      default_score=None, trials=trials, seconds=time.monotonic() - start)


def tune_many(names: list[str], train: OrderData | Validation, *, minutes: float = 5.0,
              total_minutes: float | None = None, trials: int | None = None, seed: int = 0,
              blend: bool = True, fixed: dict[str, dict[str, Any]] | None = None,
              callback: TrialCallback | None = None, task: str = "novel", k: int = 10,
              search: Callable[..., TuneResult] | None = None) -> dict[str, TuneResult]:
    """Tune each model within ``minutes`` of its own (and all within ``total_minutes``), then
    (``blend``) mix the best of them with best sellers; results by model, 'blend' last.
    ``search`` runs one model's search (default ``tune``; ``tuning_ray.searcher()`` picks the
    Ray cluster's when one is configured)."""
    val = train if isinstance(train, Validation) else Validation.of(train, task=task, k=k,
                                                                    seed=seed)
    search = search or tune
    todo = [n for n in names if not registry.spec(n).wraps_base]
    out: dict[str, TuneResult] = {}
    end = time.monotonic() + (total_minutes * 60 if total_minutes is not None else np.inf)
    for i, name in enumerate(todo):
        share = (end - time.monotonic()) / 60 / (len(todo) - i)  # of what is left
        out[name] = search(name, val, minutes=min(minutes, max(share, 0.0)), trials=trials,
                           seed=seed, fixed=(fixed or {}).get(name), callback=callback)
        if out[name].stopped:
            return out
    best = max(out.values(), key=lambda r: r.score, default=None)
    if blend and best is not None and registry.spec(best.model).personalised:
        days = int(out["recent_popularity"].params["days"]) if "recent_popularity" in out else 30
        out["blend"] = tune_blend(best.model, best.params, val, recent_days=days)
    return out
