"""A campaign as an experiment: the control group that can measure it, and reading it back.

Sizing uses statsmodels' power for two independent proportions (Cohen's h); the read-back
uses its interval for a difference of proportions (Newcombe) and scikit-uplift's Qini and
uplift-at-k where the contact list carries scores.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.data import OrderData
from recsys.data.loader import pseudonymise

ALPHA = 0.05
POWER = 0.8
SHARES = np.round(np.arange(0.01, 0.51, 0.01), 2)  # control shares considered
FALLBACK_SHARE = 0.10  # where no share up to half can measure the effect


def _h(p: float) -> float:
    return 2 * float(np.arcsin(np.sqrt(np.clip(p, 0, 1))))


def detectable_rate(n_target: int, n_control: int, rate_control: float,
                    alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest increase in buying rate over ``rate_control`` that a split of this size
    detects (two-sided test at ``alpha``, with ``power``); inf when a group is empty."""
    from statsmodels.stats.power import NormalIndPower

    if n_target < 1 or n_control < 1:
        return float("inf")
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n_target, alpha=alpha,
                                     power=power, ratio=n_control / n_target)
    top = _h(rate_control) + float(h)
    if top >= np.pi:
        return float("inf")
    return float(np.sin(top / 2) ** 2 - rate_control)


def power_of(n_target: int, n_control: int, rate_target: float, rate_control: float,
             alpha: float = ALPHA) -> float:
    """The chance this split finds a real difference of this size (two-sided)."""
    from statsmodels.stats.power import NormalIndPower

    if n_target < 1 or n_control < 1:
        return 0.0
    h = abs(_h(rate_target) - _h(rate_control))
    return float(NormalIndPower().power(effect_size=h, nobs1=n_target, alpha=alpha,
                                        ratio=n_control / n_target))


@dataclass(frozen=True)
class ControlDesign:
    """Who is held back and what that can measure."""

    audience: int
    control: int
    rate_target: float  # expected buying rate of the contacted
    rate_control: float  # ...of the held back (the buyers the campaign does not cause)
    detectable: float  # smallest rate increase this split detects (80% power, 5% level)

    @property
    def target(self) -> int:
        return self.audience - self.control

    @property
    def share(self) -> float:
        return self.control / self.audience if self.audience else 0.0

    @property
    def enough(self) -> bool:
        return self.rate_target - self.rate_control >= self.detectable

    def words(self) -> str:
        effect = self.rate_target - self.rate_control
        head = (f"Hold back {self.control:,} of {self.audience:,} ({self.share:.0%}) as a control "
                f"group. This split detects a rise in buying rate of {self.detectable:.2%} or "
                f"more (80% power, 5% significance)")
        if self.enough:
            return f"{head}; the plan expects {effect:.2%}, so it can measure the campaign."
        return (f"{head}; the plan expects only {effect:.2%}, which even half the audience "
                "held back could not tell from chance: this campaign cannot be measured on its "
                "own. A larger audience, a longer window or repeated campaigns would.")

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"audience": self.audience, "control": self.control, "target": self.target,
                "share": round(self.share, 4), "rate_target": round(self.rate_target, 6),
                "rate_control": round(self.rate_control, 6),
                "detectable_rate": round(self.detectable, 6), "enough": self.enough}


def design_control(audience: int, expected_buyers: float, caused: float,
                   share: float | None = None) -> ControlDesign:
    """The smallest control share that detects the forecast's effect (``caused``: the share of
    the audience's buyers the campaign causes), or the given ``share``."""
    audience = int(audience)
    rate_t = min(max(expected_buyers / max(audience, 1), 0.0), 1.0)
    rate_c = rate_t * (1 - min(max(caused, 0.0), 1.0))

    def split(s: float) -> ControlDesign:
        control = (min(max(1, round(s * audience)), audience - 1)
                   if audience > 1 and s > 0 else 0)
        return ControlDesign(audience, control, rate_t, rate_c,
                             detectable_rate(audience - control, control, rate_c))

    if share is not None:
        return split(share)
    for s in SHARES:
        design = split(float(s))
        if design.enough:
            return design
    return split(FALLBACK_SHARE)  # none can: hold back a little, and say what it can measure


def assign_groups(customers, control: int, seed: int = 0) -> np.ndarray:
    """'target' or 'control' per customer, exactly ``control`` held back, drawn at random
    (seeded: the same list and seed give the same groups)."""
    n = len(customers)
    groups = np.full(n, "target", dtype=object)
    if control > 0:
        held = np.random.default_rng(seed).choice(n, size=min(control, n), replace=False)
        groups[held] = "control"
    return groups


@dataclass(frozen=True)
class ReadBack:
    """A campaign's outcome: buyers and revenue per group, and what the campaign caused."""

    groups: pd.DataFrame  # group, customers, buyers, rate, revenue
    incremental_rate: float | None
    rate_low: float | None
    rate_high: float | None
    incremental_buyers: float | None
    buyers_low: float | None
    buyers_high: float | None
    incremental_revenue: float | None
    revenue_low: float | None
    revenue_high: float | None
    qini: float | None
    uplift_at_30: float | None
    unknown_customers: int
    window: tuple[str, str]
    covered_days: int = 0  # of the window, the days the dataset's orders reach
    qini_curve: pd.DataFrame | None = None  # contacted (by score) -> incremental buyers

    @property
    def has_control(self) -> bool:
        return self.incremental_rate is not None

    def words(self, currency: str = "") -> str:
        g = self.groups.set_index("group")
        t = g.loc["target"] if "target" in g.index else None
        if t is None:
            return "The contact list names no target group: nothing to read back."
        head = (f"{int(t['buyers']):,} of {int(t['customers']):,} contacted customers bought "
                f"({t['rate']:.2%}) between {self.window[0]} and {self.window[1]}.")
        days = (pd.Timestamp(self.window[1]) - pd.Timestamp(self.window[0])).days + 1
        if self.covered_days < days:
            head = (f"Only {self.covered_days} of the {days} days after the campaign are in "
                    "this dataset's orders: import the later orders to read it back fully. "
                    + head)
        if not self.has_control:
            return (f"{head} Without a control group this measures who bought, not what the "
                    "campaign caused: some of them would have bought anyway.")
        c = g.loc["control"]
        return (f"{head} Of the {int(c['customers']):,} held back, {int(c['buyers']):,} bought "
                f"({c['rate']:.2%}). The campaign caused an estimated "
                f"{self.incremental_buyers:,.0f} buyers (95% interval {self.buyers_low:,.0f} to "
                f"{self.buyers_high:,.0f}) and {currency}{self.incremental_revenue:,.0f} revenue "
                f"({currency}{self.revenue_low:,.0f} to {currency}{self.revenue_high:,.0f}).")

    def to_dict(self) -> dict:
        out = {k: (None if v is None else round(float(v), 6)) for k, v in self.__dict__.items()
               if k not in ("groups", "window", "unknown_customers", "covered_days",
                            "qini_curve")}
        out["covered_days"] = self.covered_days
        out["groups"] = self.groups.round(6).to_dict("records")
        out["window"] = list(self.window)
        out["unknown_customers"] = self.unknown_customers
        return out


def _outcomes(data: OrderData, customers: pd.Series, items, start: pd.Timestamp,
              end: pd.Timestamp) -> pd.DataFrame:
    """Per contacted customer: bought (any of ``items``, or anything when None) in [start,
    end), and the revenue of those lines."""
    inter = data.interactions
    keep = ((inter["timestamp"] >= start) & (inter["timestamp"] < end)).to_numpy()
    if items:
        keep = keep & inter["item_id"].isin(list(items)).to_numpy()
    lines = inter.loc[keep]
    spend = (lines["price"] * lines["quantity"]).groupby(
        lines["customer_id"].astype(str), observed=True).sum()
    revenue = spend.reindex(customers.astype(str)).fillna(0.0).to_numpy()
    bought = pd.Index(customers.astype(str)).isin(spend.index)
    return pd.DataFrame({"bought": bought, "revenue": revenue})


def read_back(contacts: pd.DataFrame, data: OrderData, items=None, days: int = 30,
              start: str | pd.Timestamp | None = None, key=None) -> ReadBack:
    """Buyers in the ``days`` after the campaign (``start``, or the list's ``date`` column)
    per group; with a control group, the incremental buying rate, buyers and revenue with
    95% intervals, and Qini / uplift at the top 30% when the list carries scores. Raw IDs
    (e-mails, the shop's numbers) of a pseudonymised dataset are matched through the
    workspace's key (``key()``), as at import."""
    from scipy import stats
    from statsmodels.stats.proportion import confint_proportions_2indep

    contacts = _checked_contacts(contacts, start)
    contacts["customer_id"] = _as_stored(contacts["customer_id"], data, key)
    first = pd.Timestamp(contacts["date"].min())
    end = first + pd.Timedelta(days=days)
    last = data.interactions["timestamp"].max()
    if last < first:
        raise ValueError(f"This dataset's orders end on {last.date()}, before the campaign "
                         f"started ({first.date()}): import the export that covers the "
                         "weeks after it.")
    covered = min(days, (last.normalize() - first.normalize()).days + 1)
    known = pd.Index(data.customer_ids).isin(contacts["customer_id"].astype(str))
    unknown = int(len(contacts) - known.sum())
    out = _outcomes(data, contacts["customer_id"], items, first, end)
    out["group"] = contacts["group"].to_numpy()
    groups = (out.groupby("group").agg(customers=("bought", "size"), buyers=("bought", "sum"),
                                       revenue=("revenue", "sum")).reset_index())
    groups["rate"] = groups["buyers"] / groups["customers"]
    window = (str(first.date()), str((end - pd.Timedelta(days=1)).date()))
    empty = dict.fromkeys(("incremental_rate", "rate_low", "rate_high", "incremental_buyers",
                           "buyers_low", "buyers_high", "incremental_revenue", "revenue_low",
                           "revenue_high", "qini", "uplift_at_30"))
    if not {"target", "control"} <= set(groups["group"]):
        return ReadBack(groups, **empty, unknown_customers=unknown, window=window,
                        covered_days=covered)
    t, c = (out[out["group"] == g] for g in ("target", "control"))
    diff = t["bought"].mean() - c["bought"].mean()
    lo, hi = confint_proportions_2indep(int(t["bought"].sum()), len(t), int(c["bought"].sum()),
                                        len(c), method="newcomb", compare="diff")
    welch = stats.ttest_ind(t["revenue"], c["revenue"], equal_var=False)
    r_lo, r_hi = welch.confidence_interval(0.95) if len(t) > 1 and len(c) > 1 else (np.nan,) * 2
    r_diff = t["revenue"].mean() - c["revenue"].mean()
    qini, at30, curve = _uplift_metrics(contacts, out)
    n_t = len(t)
    return ReadBack(groups, diff, lo, hi, diff * n_t, lo * n_t, hi * n_t, r_diff * n_t,
                    r_lo * n_t, r_hi * n_t, qini, at30, unknown, window, covered, curve)


def _as_stored(ids: pd.Series, data: OrderData, key) -> pd.Series:
    """The IDs as the dataset stores them: pseudonymised where they are not already."""
    missing = ~ids.isin(set(data.customer_ids))
    if key is None or not data.report.pseudonymised or not missing.any():
        return ids
    hashed = pseudonymise(ids[missing].astype("string"), key()).astype(str)
    return ids.where(~missing, hashed.reindex(ids.index))


def read_contacts(source, name: str = "") -> pd.DataFrame:
    """A contact list (a path, or the bytes of an upload) as text columns; one line saying
    so when it is not a readable CSV."""
    try:
        return pd.read_csv(io.BytesIO(source) if isinstance(source, bytes) else source,
                           dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # a ParserError is a ValueError
        raise ValueError(f"Could not read the contact list{' ' + name if name else ''}: "
                         f"{type(exc).__name__}") from None


def _checked_contacts(contacts: pd.DataFrame, start) -> pd.DataFrame:
    cols = {c.lower().strip(): c for c in contacts.columns}
    if "customer_id" not in cols:
        raise ValueError("The contact list needs a customer_id column (the plan's target "
                         f"list has one); it has {', '.join(map(str, contacts.columns[:8]))}.")
    out = pd.DataFrame({"customer_id": contacts[cols["customer_id"]].astype(str).str.strip()})
    group = (contacts[cols["group"]].astype(str).str.strip().str.lower() if "group" in cols
             else pd.Series("target", index=contacts.index))
    bad = ~group.isin(["target", "control"])
    if bad.any():
        raise ValueError(f"The group column holds {int(bad.sum()):,} values other than 'target' "
                         "or 'control' (the first on data line "
                         f"{int(np.flatnonzero(bad.to_numpy())[0]) + 1}).")
    out["group"] = group.to_numpy()
    if start is not None:
        out["date"] = pd.Timestamp(start)
    elif "date" in cols:
        out["date"] = pd.to_datetime(contacts[cols["date"]], errors="coerce")
        if out["date"].isna().all():
            raise ValueError("The contact list's date column holds no date: give the "
                             "campaign's start date instead.")
    else:
        raise ValueError("When did the campaign start? The contact list has no date column: "
                         "give the start date.")
    for name in ("probability", "score"):
        if name in cols:
            out["score"] = pd.to_numeric(contacts[cols[name]], errors="coerce").to_numpy()
            break
    return out.drop_duplicates("customer_id").reset_index(drop=True)


def _uplift_metrics(contacts: pd.DataFrame, out: pd.DataFrame) -> tuple:
    """Qini AUC, uplift at the top 30% by score and the Qini curve (scikit-uplift), where
    scores exist."""
    if "score" not in contacts or contacts["score"].isna().all():
        return None, None, None
    from sklift.metrics import qini_auc_score, qini_curve, uplift_at_k

    y = out["bought"].to_numpy().astype(int)
    treat = (out["group"] == "target").to_numpy().astype(int)
    score = contacts["score"].fillna(contacts["score"].min()).to_numpy()
    if y.sum() == 0 or treat.all() or not treat.any():
        return None, None, None
    with warnings.catch_warnings():  # scikit-uplift 0.5 calls a deprecated sklearn helper
        warnings.simplefilter("ignore", FutureWarning)
        x, q = qini_curve(y, score, treat)
        return (float(qini_auc_score(y, score, treat)),
                float(uplift_at_k(y, score, treat, strategy="by_group", k=0.3)),
                pd.DataFrame({"contacted": x, "incremental_buyers": q}))
