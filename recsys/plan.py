"""A campaign plan: scope, audience size, a forecast with its interval, economics, a control
group and the target list, made "now" (at the end of the data) from two models: one fitted
before the last window (the backtest: who of its ranking bought in that window) and one
fitted on all data (who to contact now).

``make_plan`` is pure given the two models; ``track_record`` replays the same plan on the
last windows (planned vs bought) given the models fitted at their cutoffs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from recsys import campaign as cp
from recsys import forecast as fc
from recsys.data import OrderData
from recsys.experiment import ControlDesign, assign_groups, design_control
from recsys.plan_scope import (  # noqa: F401 (the plan's inputs, importable from here too)
    CAUSED_SHARE,
    EVIDENCE_HITS,
    MAX_SCOPE_ITEMS,
    Demand,
    PlanInputs,
    Ranking,
    Scope,
    Sizing,
    category_choices,
    demand_choices,
    item_ranks,
    product_choices,
    rank_audience,
    recent_buyers,
    scope_scores,
)


@dataclass
class Evidence:
    """The backtest of the scope: the model's ranking before the last window against who
    bought in it."""

    curve: pd.DataFrame  # n, hits, precision, recall, lift (the backtest's customers)
    heuristics: dict[str, pd.DataFrame]
    rank_curve: fc.RankCurve
    candidates: int
    buyers: int
    unit_value: float

    def hits_at(self, share: float) -> float:
        n = share * self.candidates
        return float(np.interp(n, np.r_[0, self.curve["n"]], np.r_[0, self.curve["hits"]]))


def backtest_scope(window: cp.CampaignWindow, model, inputs: PlanInputs) -> Evidence:
    """The scope's backtest: rank the customers before the window, see who bought in it."""
    train, items = window.train, inputs.scope.items
    pos = window.positives_any(items)
    scores = scope_scores(model, train, items)
    scores = np.where(recent_buyers(train, items, window.cutoff, inputs.exclude_recent_days),
                      -np.inf, scores)
    sizes = cp.size_grid(train.n_customers)
    heuristics = {}
    if len(items) == 1:
        heuristics = {h: cp.gains(cp.heuristic_scores(train, items[0], h,
                                                      line_cats=window.line_cats), pos, sizes)
                      for h in cp.HEURISTICS[1:]}
    heuristics["random"] = cp.expected_random(pos, sizes)
    value = float(np.mean([cp.unit_value(train, i) for i in items[:MAX_SCOPE_ITEMS]]))
    return Evidence(cp.gains(scores, pos, sizes), heuristics, fc.fit_rank_curve(pos, scores),
                    train.n_customers, int(pos.sum()), value)


@dataclass
class CampaignPlan:
    inputs: PlanInputs
    model: str
    cutoff: pd.Timestamp  # the backtest's cutoff: its window runs to the plan's time
    plan_time: pd.Timestamp
    candidates: int
    audience: int
    why_size: str
    forecast: fc.Forecast  # buyers in the whole audience (what the target list adds up to)
    control: ControlDesign
    evidence: Evidence
    targets: pd.DataFrame
    warnings: list[str]
    demand_spread: float = 0.5
    demand_rule: str = "last"
    track: list[dict[str, Any]] = field(default_factory=list)
    ranking: Ranking | None = None  # the live model's, for the forecast at other sizes

    @property
    def contacted(self) -> int:
        return self.control.target

    def economics(self) -> dict[str, float]:
        """Money at the forecast and at both ends of its interval."""
        e = self.inputs.econ
        margin = self.margin_per_buyer()
        cost = e.fixed_cost + self.contacted * e.cost_per_contact
        out = {"cost": cost, "unit_value": self.evidence.unit_value, "margin_per_buyer": margin,
               "caused_share": e.uplift}
        contacted = self.contacted / max(self.audience, 1)
        for key, buyers in (("", self.forecast.buyers), ("_low", self.forecast.low),
                            ("_high", self.forecast.high)):
            buyers *= contacted
            out[f"buyers_contacted{key}"] = buyers
            out[f"revenue{key}"] = buyers * self.evidence.unit_value
            out[f"incremental_buyers{key}"] = buyers * e.uplift
            out[f"profit{key}"] = buyers * e.uplift * margin - cost
        out["roi"] = out["profit"] / cost if cost > 0 else float("nan")
        return {k: round(float(v), 4) for k, v in out.items()}

    def offers(self) -> dict[str, float]:
        """A mailing's expected buyers among those offered each product (best first)."""
        if self.inputs.scope.kind != "mailing":
            return {}
        per = self.targets.groupby("product")["probability"].sum()
        return {k: round(float(v), 2) for k, v in per.sort_values(ascending=False).items()}

    def margin_per_buyer(self) -> float:
        return self.inputs.econ.margin(self.evidence.unit_value)

    def profit_curve(self) -> pd.DataFrame:
        """Buyers and profit (with the interval) by audience size, everyone contacted."""
        e, margin = self.inputs.econ, self.margin_per_buyer()
        rows = []
        for n in cp.size_grid(self.candidates):
            f = _forecast(self.evidence, int(n), self.candidates,
                          self.forecast.demand_factor, self.demand_spread, self.ranking)
            cost = e.fixed_cost + n * e.cost_per_contact
            rows.append({"n": int(n), "buyers": f.buyers, "low": f.low, "high": f.high,
                         **{f"profit{k}": b * e.uplift * margin - cost
                            for k, b in (("", f.buyers), ("_low", f.low), ("_high", f.high))}})
        return pd.DataFrame(rows)

    def fingerprint(self) -> str:
        """A hash of everything the plan says and who it targets (for caching its files)."""
        said = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        who = pd.util.hash_pandas_object(self.targets, index=False).to_numpy().tobytes()
        return hashlib.sha256(said + who).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        share = self.audience / max(self.candidates, 1)
        ev = self.evidence
        return {
            "scope": {"kind": self.inputs.scope.kind, "name": self.inputs.scope.name,
                      "products": list(self.inputs.scope.items)},
            "model": self.model, "plan_time": str(self.plan_time.date()),
            "backtest_cutoff": str(self.cutoff.date()), "window_days": self.inputs.days,
            "candidates": self.candidates, "audience": self.audience,
            "contacted": self.contacted, "why_size": self.why_size,
            "forecast": {**self.forecast.to_dict(), "demand_rule": self.demand_rule},
            "economics": self.economics(),
            "assumptions": {**asdict(self.inputs.econ), "sizing": asdict(self.inputs.sizing),
                            "exclude_recent_days": self.inputs.exclude_recent_days,
                            "seed": self.inputs.seed, "demand": asdict(self.inputs.demand)},
            "control": self.control.to_dict(),
            "backtest": {"buyers_in_window": ev.buyers, "candidates": ev.candidates,
                         "hits_at_share": round(ev.hits_at(share), 2),
                         "lift_at_share": _at(ev.curve, share * ev.candidates, "lift"),
                         "recall_at_share": _at(ev.curve, share * ev.candidates, "recall")},
            "offers": self.offers(), "track_record": self.track, "warnings": self.warnings,
        }


def _at(curve: pd.DataFrame, n: float, key: str) -> float | None:
    v = float(curve.loc[(curve["n"] - n).abs().idxmin(), key])
    return None if not np.isfinite(v) else round(v, 4)


def _forecast(ev: Evidence, size: int, candidates: int, factor: float, spread: float,
              ranking: Ranking | None = None) -> fc.Forecast:
    return fc.forecast(ev.hits_at(size / max(candidates, 1)), factor, spread,
                       ranking.expected_at(size) if ranking is not None else None)


def choose_size(ev: Evidence, inputs: PlanInputs, candidates: int, factor: float,
                spread: float, ranking: Ranking | None = None) -> tuple[int, str]:
    """The audience size and why, in words."""
    s, e = inputs.sizing, inputs.econ
    if s.how == "number":
        n = int(min(max(s.value or 1, 1), candidates))
        return n, f"{n:,} customers, as asked"
    if s.how == "share":
        n = max(1, round((s.value or 0.05) * candidates))
        return n, f"the top {s.value:.1%} of {candidates:,} customers, as asked"
    if s.how == "budget":
        n = int(min(max((s.value - e.fixed_cost) // max(e.cost_per_contact, 1e-9), 0),
                    candidates))
        if n < 1:
            raise ValueError(f"A budget of {s.value:,.2f} does not cover the fixed cost "
                             f"({e.fixed_cost:,.2f}) and one contact.")
        return n, f"as many as a budget of {e.currency}{s.value:,.0f} pays for"
    smallest = _evidence_floor(ev, candidates)
    grid = np.unique(np.r_[cp.size_grid(candidates), smallest])
    grid = grid[grid >= smallest]
    margin = e.margin(ev.unit_value)
    profit = [_forecast(ev, n, candidates, factor, spread, ranking).buyers * e.uplift * margin
              - n * e.cost_per_contact for n in grid]
    n = int(grid[int(np.argmax(profit))])
    why = (f"the best expected profit among audiences of at least {smallest:,} (the "
           f"smallest whose backtest holds {EVIDENCE_HITS} buyers)")
    if max(profit) < 0:
        why += "; no size is expected to pay for itself at these costs and margins"
    return n, why


def _evidence_floor(ev: Evidence, candidates: int) -> int:
    enough = ev.curve.loc[ev.curve["hits"] >= EVIDENCE_HITS, "n"]
    n_back = int(enough.iloc[0]) if len(enough) else int(ev.curve["n"].iloc[-1])
    return max(1, min(candidates, round(n_back * candidates / max(ev.candidates, 1))))


def check_demand(data: OrderData, inputs: PlanInputs, plan_time: pd.Timestamp) -> None:
    """A ValueError in words where the chosen demand rule cannot be read from these orders
    (the season without a year of them), before any model is fitted for the plan."""
    if inputs.demand.rule == "season":
        fc.require_season(data, plan_time, inputs.days)


def make_plan(data: OrderData, window: cp.CampaignWindow, window_model, live_model,
              inputs: PlanInputs, model_name: str) -> CampaignPlan:
    """The plan at the end of the data (the backtest window's end)."""
    scope, days = inputs.scope, inputs.days
    known = set(data.item_ids)
    missing = [i for i in scope.items if i not in known]
    if missing:
        raise ValueError(f"Products not in this dataset: {', '.join(missing[:5])}")
    plan_time = window.cutoff + pd.Timedelta(days=days)
    ev = backtest_scope(window, window_model, inputs)
    rule = fc.demand_rule(data, plan_time, days, list(scope.items), inputs.demand.rule,
                          inputs.demand.change)
    factor = rule.factor(data, scope.items, plan_time, days)
    spread = rule.spread
    excluded = recent_buyers(data, scope.items, plan_time, inputs.exclude_recent_days)
    candidates = int(data.n_customers - excluded.sum())
    ranking = rank_audience(live_model, data, scope, excluded, days)
    size, why = choose_size(ev, inputs, candidates, factor, spread, ranking)
    fcast = _forecast(ev, size, candidates, factor, spread, ranking)
    control = design_control(size, fcast.buyers, inputs.econ.uplift, inputs.control_share)
    targets = target_table(data, scope, ranking, size, ev.rank_curve, fcast.buyers,
                           candidates, control.control, inputs.seed, ev.unit_value)
    warnings = []
    if ev.buyers == 0:
        warnings.append(f"No customer bought {scope.name} in the {days} days before "
                        f"{plan_time.date()}: the backtest has no buyers to learn from, so the "
                        "forecast rests on nothing but chance. Pick a product that sells.")
    return CampaignPlan(inputs, model_name, window.cutoff, plan_time, candidates, size, why,
                        fcast, control, ev, targets, warnings, spread, rule.rule,
                        ranking=ranking)


def target_table(data: OrderData, scope: Scope, ranking: Ranking, size: int,
                 curve: fc.RankCurve, expected: float, candidates: int, control: int,
                 seed: int, unit_value: float) -> pd.DataFrame:
    """The audience, best first: customer, product, probability (adding up to the forecast,
    decreasing with rank), expected value, rank and group."""
    order = ranking.order[:size]
    prob = fc.audience_probabilities(curve, len(order), candidates, expected)
    names = data.products.set_index("item_id")["name"]
    if scope.kind == "mailing":  # each their best placed product of the set
        best = np.asarray(scope.items)[ranking.ranks[order].argmax(axis=1)]
        product = np.array([names.get(i, i) for i in best], dtype=object)
    else:
        product = f"{names[scope.items[0]]}" if scope.kind == "product" else scope.name
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1),
                         "customer_id": data.customer_ids[order], "product": product,
                         "probability": np.round(prob, 6),
                         "expected_value": np.round(prob * unit_value, 4),
                         "group": assign_groups(order, control, seed)})


def plan_with_record(data: OrderData, window: cp.CampaignWindow,
                     fits: dict[pd.Timestamp, Any], inputs: PlanInputs, model_name: str
                     ) -> CampaignPlan:
    """The plan from models fitted before cutoffs (``fits``: the backtest's cutoff, earlier
    ones for the track record, and the plan's time for the model on all data), with the
    same plan replayed on every past window whose models are there."""
    plan_time = window.cutoff + pd.Timedelta(days=inputs.days)
    plan = make_plan(data, window, fits[window.cutoff], fits[plan_time], inputs, model_name)
    plan.track = track_record(data, inputs, fits, plan_time, max(len(fits) - 2, 0))
    return plan


def track_record(data: OrderData, inputs: PlanInputs, models: dict[pd.Timestamp, Any],
                 plan_time: pd.Timestamp, windows: int = 2) -> list[dict[str, Any]]:
    """The same plan made at each of the last ``windows`` windows' starts (the models fitted
    before each cutoff in ``models``), against what its audience bought in that window. A
    demand change the analyst set is for the coming window: the past plans carry the last
    window instead."""
    days = pd.Timedelta(days=inputs.days)
    if inputs.demand.rule == "set":
        inputs = replace(inputs, demand=Demand("last"))
    rows = []
    for j in range(windows, 0, -1):
        then = plan_time - j * days
        if then - days not in models or then not in models:
            continue
        if inputs.demand.rule == "season" and not fc.reaches_back(data, then, inputs.days):
            continue  # no year back from then: the season could not have been planned
        upto = data.before(then)
        past = cp.CampaignWindow.of(upto, then - days, inputs.days)
        plan = make_plan(upto, past, models[then - days], models[then],
                         replace(inputs, control_share=0.0), "")
        after = cp.CampaignWindow.of(data, then, inputs.days)
        bought = after.positives_any(inputs.scope.items)
        got = int(bought[pd.Index(after.train.customer_ids).get_indexer(
            plan.targets["customer_id"])].sum())
        rows.append({"plan_time": str(then.date()), "audience": plan.audience,
                     "planned": round(plan.forecast.buyers, 1),
                     "low": round(plan.forecast.low, 1), "high": round(plan.forecast.high, 1),
                     "bought": got})
    return rows


