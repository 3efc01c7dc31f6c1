"""Campaign plans on small data the tests build: the forecast and its interval, probabilities
that add up to it, the control group's power (checked against a simulation), reading a
campaign back (a planted effect is recovered), the self-contained HTML and the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from recsys import campaign as cp
from recsys import experiment as ex
from recsys import forecast as fc
from recsys import plan as pl
from recsys.data import OrderData

pytestmark = pytest.mark.fast


def shop(weeks: int = 30, customers: int = 300, seed: int = 0) -> OrderData:
    """Customers with a favourite product each, buying weekly with some chance."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    fav = rng.integers(0, 12, customers)
    for w in range(weeks):
        for c in range(customers):
            if rng.random() < 0.25:
                item = fav[c] if rng.random() < 0.7 else rng.integers(0, 12)
                rows.append((f"c{c}", f"p{item}", f"o{w}-{c}", start + pd.Timedelta(days=7 * w
                             + int(rng.integers(0, 7))), 1, 2.0 + item))
    lines = pd.DataFrame(rows, columns=["customer_id", "item_id", "order_id", "timestamp",
                                        "quantity", "price"])
    return OrderData.from_lines(_canonical(lines), {"format": "test"})


def _canonical(lines: pd.DataFrame) -> pd.DataFrame:
    return lines.assign(name="PRODUCT " + lines["item_id"],
                        category=np.where(lines["item_id"].isin(["p0", "p1", "p2"]), "mugs",
                                          "bags"),
                        country="United Kingdom", region=None, cancelled=False,
                        event="purchase")


@pytest.fixture(scope="module")
def data() -> OrderData:
    return shop()


@pytest.fixture(scope="module")
def plan(data):
    from recsys.pipelines import plan_campaign

    inputs = pl.PlanInputs(pl.Scope.product(data, "p3"), pl.Sizing("share", 0.2))
    return plan_campaign(data, "propensity", None, inputs, track_windows=1)


def test_window_buyers_count_distinct_buyers_per_window(data):
    end = data.interactions["timestamp"].max()
    got = fc.window_buyers(data, ["p3"], end, 30, 3)
    inter = data.interactions
    for k, n in enumerate(got[::-1]):
        hi, lo = end - pd.Timedelta(days=30 * k), end - pd.Timedelta(days=30 * (k + 1))
        sel = inter[(inter["item_id"] == "p3") & (inter["timestamp"] >= lo)
                    & (inter["timestamp"] < hi)]
        assert n == sel["customer_id"].nunique()


def test_demand_factor_is_the_last_two_windows_level_over_the_last():
    assert fc.demand_factor(np.array([30, 50])) == pytest.approx(0.8)
    assert fc.demand_factor(np.array([40])) == 1.0
    assert fc.demand_factor(np.array([10, 0])) == 1.0


def test_the_interval_holds_the_forecast_and_widens_with_the_spread():
    narrow, wide = fc.forecast(100, 1.1, 0.1), fc.forecast(100, 1.1, 0.4)
    assert narrow.buyers == pytest.approx(110)
    assert narrow.low < 110 < narrow.high
    assert wide.low < narrow.low and wide.high > narrow.high
    none = fc.forecast(0, 1.0, 0.2)
    assert none.buyers == 0 and none.low == 0 and none.high > 0


def test_the_model_s_chances_are_half_the_base_and_move_with_the_demand():
    f = fc.forecast(100, 1.2, 0.1, model_buyers=60)
    assert f.buyers == pytest.approx(96) and f.model_buyers == 60
    assert fc.forecast(100, 1.2, 0.1).buyers == pytest.approx(120)
    assert f.to_dict()["model_buyers"] == 60


def test_a_propensity_plan_adds_up_the_live_model_s_chances(plan, data):
    """The live model's chances for the audience, added up, are half the forecast's base;
    a model whose scores are not chances (EASE) leaves the backtest's count alone."""
    import scipy.special as sc

    window, m1, m2 = _window_models(data)
    z = cp.customer_scores(m2, data, "p3")
    top = np.sort(sc.expit(z))[::-1][:plan.audience].sum()
    assert plan.forecast.model_buyers == pytest.approx(top, rel=1e-6)
    hits = plan.evidence.hits_at(plan.audience / plan.candidates)
    assert plan.forecast.buyers == pytest.approx(
        (hits + top) / 2 * plan.forecast.demand_factor, rel=1e-6)
    ease = cp.make_model("ease").fit(data)
    other = pl.make_plan(data, window, ease, ease, plan.inputs, "ease")
    assert other.forecast.model_buyers is None
    hits = other.evidence.hits_at(other.audience / other.candidates)
    assert other.forecast.buyers == pytest.approx(hits * other.forecast.demand_factor)
    from recsys.plan_report import plan_lines

    assert "own chances" in plan_lines(plan)["evidence"]
    assert "own chances" not in plan_lines(other)["evidence"]


def test_a_plan_of_another_window_fits_its_model_for_that_window(data):
    """A 14-day plan asks the propensity model for chances of buying within 14 days, and
    adds them up; models without odds keep their campaign settings."""
    from recsys.models import registry
    from recsys.pipelines import plan_campaign

    assert registry.campaign_params("propensity", 14)["window_days"] == 14
    assert "window_days" not in registry.campaign_params("ease", 14)
    inputs = pl.PlanInputs(pl.Scope.product(data, "p3"), pl.Sizing("share", 0.2), days=14)
    plan = plan_campaign(data, "propensity", None, inputs)
    assert plan.forecast.model_buyers is not None and plan.inputs.days == 14


def test_a_set_s_chances_are_of_buying_any_of_it():
    ranking = pl.rank_audience(_Odds(np.array([[0.0, 0.0], [2.0, -50.0], [-1.0, 1.0]])),
                               _Shop(), pl.Scope(("a", "b"), "a set", "collection"),
                               np.array([False, False, True]), 30)
    assert ranking.order.tolist() == [0, 1]  # the third is excluded
    assert ranking.expected_at(1) == pytest.approx(0.75)
    assert ranking.expected_at(2) == pytest.approx(0.75 + 1 / (1 + np.exp(-2.0)), rel=1e-6)
    assert ranking.expected_at(5) == ranking.expected_at(2) and ranking.expected_at(0) == 0
    nobody = pl.Ranking(np.zeros(0, int), None, np.zeros(0))
    assert nobody.expected_at(3) == 0 and pl.Ranking(ranking.order, None, None
                                                      ).expected_at(1) is None


class _Shop:
    item_ids = np.array(["a", "b"])
    customer_ids = np.array(["x", "y", "z"])
    n_customers = 3


class _Odds:
    """A registered odds model's look-alike: each product's log-odds per customer."""

    name = "propensity"

    def __init__(self, z: np.ndarray) -> None:
        self.z = z
        self.config = type("C", (), {"window_days": 30})()

    def recommend_customers(self, item, n, exclude_buyers=False):
        j = ["a", "b"].index(item)
        return np.array(["x", "y", "z"]), self.z[:, j]


def test_probabilities_decrease_with_rank_and_add_up_to_the_forecast():
    rng = np.random.default_rng(1)
    scores = rng.random(2000)
    positives = rng.random(2000) < 0.3 * scores  # the better ranked buy more
    curve = fc.fit_rank_curve(positives, scores)
    assert curve.b < 0
    p = fc.audience_probabilities(curve, 300, 2000, 40.0)
    assert p.sum() == pytest.approx(40.0, rel=1e-6)
    assert (np.diff(p) < 0).all() and p.max() < 1


def test_the_plan_adds_up(plan, data):
    t = plan.targets
    assert len(t) == plan.audience == round(0.2 * data.n_customers)
    assert t["probability"].sum() == pytest.approx(plan.forecast.buyers, abs=0.01)
    assert (np.diff(t["probability"]) < 0).all()
    assert (t["group"] == "control").sum() == plan.control.control
    assert plan.forecast.low <= plan.forecast.buyers <= plan.forecast.high
    e = plan.economics()
    assert e["cost"] == pytest.approx(plan.contacted * 0.35)
    assert e["profit"] == pytest.approx(e["incremental_buyers"] * e["margin_per_buyer"]
                                        - e["cost"], abs=1e-3)
    assert len(plan.track) == 1 and plan.track[0]["bought"] >= 0


def test_same_seed_same_groups(data, plan):
    again = pl.make_plan(data, *_window_models(data), plan.inputs, "propensity")
    assert again.targets["group"].tolist() == plan.targets["group"].tolist()


def _window_models(data):
    from recsys.models import make_model

    window = cp.CampaignWindow.of(data, str(cp.default_cutoff(data, 30)), 30)
    params = cp.campaign_params("propensity")
    return (window, make_model("propensity", **params).fit(window.train),
            make_model("propensity", **params).fit(data))


@pytest.mark.parametrize("sizing,expect", [(pl.Sizing("number", 40), 40),
                                           (pl.Sizing("budget", 10.0), 28)])
def test_sizing_by_number_and_budget(data, sizing, expect):
    window, m1, m2 = _window_models(data)
    inputs = pl.PlanInputs(pl.Scope.product(data, "p3"), sizing)
    assert pl.make_plan(data, window, m1, m2, inputs, "propensity").audience == expect


def test_best_profit_never_picks_an_audience_without_evidence(data):
    window, m1, m2 = _window_models(data)
    p = pl.make_plan(data, window, m1, m2, pl.PlanInputs(pl.Scope.product(data, "p3")),
                     "propensity")
    assert p.evidence.hits_at(p.audience / p.candidates) >= pl.EVIDENCE_HITS - 1


def test_a_category_plan_reaches_buyers_of_any_of_its_products(data):
    window, m1, m2 = _window_models(data)
    scope = pl.Scope.category(data, "mugs")
    assert set(scope.items) == {"p0", "p1", "p2"}
    p = pl.make_plan(data, window, m1, m2, pl.PlanInputs(scope, pl.Sizing("number", 50)),
                     "propensity")
    assert p.evidence.buyers == window.positives_any(scope.items).sum()
    assert p.targets["product"].iloc[0].startswith("category mugs")


def test_recent_buyers_can_be_left_out(data):
    window, m1, m2 = _window_models(data)
    inputs = pl.PlanInputs(pl.Scope.product(data, "p3"), pl.Sizing("number", 30),
                           exclude_recent_days=14)
    p = pl.make_plan(data, window, m1, m2, inputs, "propensity")
    recent = set(data.customer_ids[pl.recent_buyers(data, ["p3"], p.plan_time, 14)])
    assert recent and not recent & set(p.targets["customer_id"])


def test_detectable_rate_matches_a_simulated_test():
    """At the computed smallest detectable rise, a two-sided z-test at 5% finds it about 80%
    of the time (2,000 simulated campaigns)."""
    from statsmodels.stats.proportion import proportions_ztest

    n_t, n_c, base = 900, 300, 0.10
    rise = ex.detectable_rate(n_t, n_c, base)
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(2000):
        a, b = rng.binomial(n_t, base + rise), rng.binomial(n_c, base)
        found += proportions_ztest([a, b], [n_t, n_c])[1] < 0.05
    assert 0.76 < found / 2000 < 0.84
    assert ex.power_of(n_t, n_c, base + rise, base) == pytest.approx(0.8, abs=0.01)


def test_the_control_is_the_smallest_that_measures_the_effect():
    d = ex.design_control(5000, expected_buyers=1000, caused=0.3)
    assert d.enough
    smaller = ex.design_control(5000, 1000, 0.3, share=d.share - 0.01)
    assert not smaller.enough
    hopeless = ex.design_control(50, 2, 0.1)
    assert not hopeless.enough and "cannot be measured" in hopeless.words()


def test_groups_are_seeded_and_exact():
    a = ex.assign_groups(range(1000), 100, seed=3)
    assert (a == "control").sum() == 100
    assert (a == ex.assign_groups(range(1000), 100, seed=3)).all()
    assert not (a == ex.assign_groups(range(1000), 100, seed=4)).all()


def _campaign(effect: float, seed: int = 0):
    """A planted campaign: 4,000 contacted and 1,000 held back; the held back buy at 10%,
    the contacted at 10% + ``effect``."""
    rng = np.random.default_rng(seed)
    groups = np.r_[["target"] * 4000, ["control"] * 1000]
    rate = np.where(groups == "target", 0.10 + effect, 0.10)
    bought = rng.random(5000) < rate
    start = pd.Timestamp("2024-03-01")
    ids = [f"c{i}" for i in range(5000)]
    lines = pd.DataFrame({
        "customer_id": ids + [ids[i] for i in np.flatnonzero(bought)],
        "item_id": ["p0"] * 5000 + ["p1"] * int(bought.sum()),
        "order_id": [f"h{i}" for i in range(5000)] + [f"o{i}" for i in range(bought.sum())],
        "timestamp": [start - pd.Timedelta(days=20)] * 5000
        + [start + pd.Timedelta(days=3)] * int(bought.sum()),
        "quantity": 1, "price": 10.0})
    contacts = pd.DataFrame({"customer_id": ids, "group": groups, "date": "2024-03-01",
                             "probability": rate + rng.normal(0, 0.01, 5000)})
    return OrderData.from_lines(_canonical(lines), {"format": "test"}), contacts


def test_a_planted_effect_is_recovered_inside_its_interval():
    data, contacts = _campaign(0.05)
    back = ex.read_back(contacts, data, ["p1"], days=30)
    assert back.rate_low < 0.05 < back.rate_high
    assert back.buyers_low < 200 < back.buyers_high  # 4,000 contacted x 5 points
    assert back.revenue_low < 2000 < back.revenue_high
    assert back.qini is not None and back.qini_curve["contacted"].iloc[-1] == 5000
    assert "caused an estimated" in back.words("£")


def test_no_effect_reads_as_none():
    data, contacts = _campaign(0.0, seed=2)
    back = ex.read_back(contacts, data, ["p1"], days=30)
    assert back.rate_low < 0 < back.rate_high


def test_without_a_control_group_it_says_what_it_measures():
    data, contacts = _campaign(0.05)
    back = ex.read_back(contacts[contacts["group"] == "target"], data, ["p1"], days=30)
    assert not back.has_control
    assert "measures who bought, not what the campaign caused" in back.words()


@pytest.mark.parametrize("bad,said", [
    (pd.DataFrame({"who": ["a"]}), "customer_id column"),
    (pd.DataFrame({"customer_id": ["a"], "group": ["maybe"], "date": ["2024-01-01"]}),
     "other than 'target'"),
    (pd.DataFrame({"customer_id": ["a"], "group": ["target"]}), "When did the campaign"),
])
def test_a_bad_contact_list_says_what_is_wrong(data, bad, said):
    with pytest.raises(ValueError, match=said):
        ex.read_back(bad, data, ["p1"])


def test_the_html_plan_is_self_contained(plan):
    from recsys.plan_report import plan_html, plan_lines

    page = plan_html(plan)
    assert len(page.encode()) < 10 * 2**20
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert page.count("Plotly.newPlot") >= 3
    embedded = page.split("<script type='application/json' id='plan'>")[1].split("</script>")[0]
    assert json.loads(embedded)["forecast"] == plan.to_dict()["forecast"]
    assert plan_lines(plan)["headline"] in page.replace("&#x27;", "'")


def test_the_cli_writes_plan_targets_and_json(tmp_path):
    from recsys.cli import main
    from tests.shops import shopify_orders

    export = tmp_path / "orders_export.csv"
    export.write_bytes(shopify_orders(n_customers=120, weeks=40))
    raw = export.read_text()
    out = {k: tmp_path / f"{k}.{e}" for k, e in (("plan", "html"), ("targets", "csv"),
                                                   ("json", "json"))}
    sku = _best_seller(export)
    assert main(["campaign", str(export), "--product", sku, "--audience", "25%",
                 "--track-record", "0",
                 *[a for k, p in out.items() for a in (f"--{k}", str(p))]]) == 0
    plan = json.loads(out["json"].read_text())
    f = plan["forecast"]
    assert f["low"] <= f["buyers"] <= f["high"] and plan["audience"] > 0
    assert {"control", "economics"} <= set(plan)
    targets = pd.read_csv(out["targets"], dtype=str)
    assert {"customer_id", "group", "probability"} <= set(targets.columns)
    assert set(targets["group"]) <= {"target", "control"}
    identities = {c for c in pd.read_csv(export, dtype=str)[["Email", "Phone"]].stack()
                  if isinstance(c, str) and len(c) > 5}
    assert identities and identities & set(raw.split(","))  # the export has them...
    text = out["targets"].read_text()
    assert not any(i in text for i in identities)  # ...the target list does not


def _best_seller(export) -> str:
    df = pd.read_csv(export, dtype=str)
    return df["Lineitem sku"].value_counts().index[0]


def test_the_profit_chart_shows_its_peak(plan):
    from recsys.plan_report import plan_figures

    fig, curve = plan_figures(plan)["profit"], plan.profit_curve()
    lo, hi = fig.layout.yaxis.range
    assert hi >= curve["profit"].max() and lo > curve["profit_low"].min()


def test_the_cli_reads_a_campaign_back(tmp_path):
    from recsys.cli import main

    data, contacts = _campaign(0.05)
    lines = data.interactions[["customer_id", "item_id", "timestamp"]].astype(str)
    lines.to_csv(tmp_path / "orders.csv", index=False)
    contacts.to_csv(tmp_path / "contacts.csv", index=False)
    out = tmp_path / "back.json"
    assert main(["campaign", str(tmp_path / "orders.csv"), "--map",
                 "customer=customer_id,item=item_id,time=timestamp", "--product", "p1",
                 "--read-back", str(tmp_path / "contacts.csv"), "--json", str(out)]) == 0
    back = json.loads(out.read_text())
    assert back["rate_low"] < 0.05 < back["rate_high"]
    assert {g["group"] for g in back["groups"]} == {"target", "control"}


@pytest.mark.parametrize("text,said", [("customer,grp\na,b\n", "customer_id column"),
                                       (b"\xff\xfe\x00bad", "Could not read")])
def test_the_cli_refuses_a_bad_contact_list_in_one_line(tmp_path, capsys, text, said):
    from recsys.cli import main

    bad = tmp_path / "contacts.csv"
    (bad.write_bytes if isinstance(text, bytes) else bad.write_text)(text)
    assert main(["campaign", "--demo", "--read-back", str(bad), "--since", "2011-11-01"]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_reading_back_past_the_end_of_the_orders_says_so():
    data, contacts = _campaign(0.05)
    with pytest.raises(ValueError, match="before the campaign started"):
        ex.read_back(contacts, data, ["p1"], start="2024-06-01")
    back = ex.read_back(contacts, data, ["p1"], days=60)
    assert back.covered_days == 4 and "Only 4 of the 60 days" in back.words()  # 1st to 4th


def _weekly_shop(buyers_per_window: list[int]) -> OrderData:
    """Three products whose distinct buyers per 30-day window follow the given counts."""
    rows, end = [], pd.Timestamp("2024-12-31")
    for item in ("a", "b", "c"):
        for w, n in enumerate(buyers_per_window[::-1]):
            for c in range(n):
                rows.append((f"{item}{w}-{c}", item, f"{item}{w}-{c}",
                             end - pd.Timedelta(days=30 * w + 1 + c % 25), 1, 1.0))
    lines = pd.DataFrame(rows, columns=["customer_id", "item_id", "order_id", "timestamp",
                                        "quantity", "price"])
    return OrderData.from_lines(_canonical(lines), {"format": "test"})


@pytest.mark.parametrize("counts,rule,miss", [
    ([20, 26, 34, 44, 57, 74, 96, 125, 160], "last", 0.26),  # growth: last misses by 30%
    ([20, 26, 34, 44, 57, 74, 96, 125, 160], "level", 0.39),  # ...the level by 40%
    ([40, 80, 40, 80, 40, 80, 40, 80, 40], "last", 0.69)])  # swings: last misses by half
def test_the_spread_is_how_far_the_rule_missed_on_the_shops_past(counts, rule, miss):
    data = _weekly_shop(counts)
    end = data.interactions["timestamp"].max() + pd.Timedelta(days=1)
    got = fc.demand_rule(data, end, 30, rule=rule)
    assert got.rule == rule and got.cases >= 5
    assert got.spread == pytest.approx(1.4826 * miss, rel=0.15)


def _seasonal_shop(start: str, days: int, peak: float = 3.0) -> OrderData:
    """Three products bought by new customers every day: ``peak`` times as many in October
    and November as in the rest of the year (and product c sells nothing a year back)."""
    rows = []
    for d in pd.date_range(start, periods=days, freq="D"):
        n = round(4 * (peak if d.month in (10, 11) else 1.0))
        for item in ("a", "b", "c"):
            if item == "c" and d < pd.Timestamp(start) + pd.Timedelta(days=400):
                continue
            rows += [(f"{item}{d.date()}-{k}", item, f"{item}{d.date()}-{k}",
                      d + pd.Timedelta(hours=9), 1, 1.0) for k in range(n)]
    lines = pd.DataFrame(rows, columns=["customer_id", "item_id", "order_id", "timestamp",
                                        "quantity", "price"])
    return OrderData.from_lines(_canonical(lines), {"format": "test"})


def test_a_season_a_year_back_is_carried_into_the_next_window():
    data = _seasonal_shop("2022-09-01", 850)  # to 2024-12-28; plan on 2024-10-01
    end = pd.Timestamp("2024-10-01")
    rule = fc.demand_rule(data, end, 30, ["a"])
    assert rule.rule == "season" and rule.cases >= 5
    # 52 weeks back, [2023-10-03, 11-02) held 30 peak days (360 buyers) and the window
    # before it 28 plain and 2 peak days (136); the last window alone says 1x
    assert rule.factor(data, ["a"], end, 30) == pytest.approx(360 / 136, rel=0.01)
    assert fc.demand_factor(fc.window_buyers(data, ["a"], end, 30, 2), "last") == 1.0
    # product c was launched within that year-ago window: it follows the shop's move, and
    # its launch is not read as the shop's season
    assert rule.factor(data, ["c"], end, 30) == pytest.approx(360 / 136, rel=0.01)
    # replayed on the windows up to the end (the season's turns among them), the season
    # misses far less than the last window does
    last = pd.Timestamp("2024-12-29")
    miss = {r: np.abs(fc._replay_errors(data, ["a", "b"], last, 30, r)).mean()
            for r in ("season", "last")}
    assert miss["season"] < miss["last"] / 3, miss


def test_the_plan_says_which_demand_rule_it_carried(plan):
    from dataclasses import replace

    from recsys.plan_report import plan_lines

    assert plan.demand_rule == "last"  # thirty weeks of orders: no year to read a season from
    assert "the last month's demand" in plan_lines(plan)["evidence"]
    seasonal = plan_lines(replace(plan, demand_rule="season"))["evidence"]
    assert "how the same two months moved a year earlier" in seasonal


def test_without_a_year_of_history_the_last_window_is_carried():
    data = _seasonal_shop("2023-11-01", 330)
    end = data.interactions["timestamp"].max() + pd.Timedelta(days=1)
    assert not fc.reaches_back(data, end, 30)
    assert fc.demand_rule(data, end, 30).rule == fc.RULE == "last"


def test_a_season_factor_rests_on_the_product_when_it_sold_plenty_a_year_back():
    shop = np.array([1000, 2000])  # the whole shop doubled
    assert fc.season_factor(np.array([0, 0]), shop) == pytest.approx(2.0, rel=0.01)
    assert fc.season_factor(np.array([5000, 5000]), shop) == pytest.approx(1.0, abs=0.03)
    mid = fc.season_factor(np.array([100, 100]), shop)
    assert 1.2 < mid < 1.8  # a hundred buyers: half its own, half the shop's


def test_a_mailing_offers_each_customer_their_best_product(data):
    window, m1, m2 = _window_models(data)
    scope = pl.Scope.mailing(data, ["p1", "p3", "p5"])
    p = pl.make_plan(data, window, m1, m2, pl.PlanInputs(scope, pl.Sizing("number", 90)),
                     "propensity")
    t = p.targets
    assert set(t["product"]) <= {"PRODUCT p1", "PRODUCT p3", "PRODUCT p5"}
    assert t["product"].nunique() >= 2
    ranks = pl.item_ranks(m2, data, scope.items)
    first = list(data.customer_ids).index(t["customer_id"].iloc[0])
    assert t["product"].iloc[0] == f"PRODUCT {scope.items[int(ranks[first].argmax())]}"
    offers = p.offers()
    assert sum(offers.values()) == pytest.approx(p.forecast.buyers, abs=0.05)
    from recsys.plan_report import plan_lines

    assert "offered their best placed product" in plan_lines(p)["offers"]
    with pytest.raises(ValueError, match="two or more"):
        pl.Scope.mailing(data, ["p1"])


@pytest.mark.parametrize("fit", [cp.calibrate, fc.fit_rank_curve],
                         ids=["backtest bands", "plan's rank curve"])
def test_a_few_buyers_at_the_top_do_not_read_as_certainty(fit):
    scores = np.arange(1000)[::-1].astype(float)
    pos = np.zeros(1000, bool)
    pos[:3] = True  # the three best-ranked customers bought: no reason to promise 100%
    top = fit(pos, scores).predict(np.array([0.0]))[0]
    assert 0.003 < top < 0.5


@pytest.mark.parametrize("text,rule,change", [(None, "auto", 0.0), ("season", "season", 0.0),
                                              ("+20%", "set", 0.2), ("-10%", "set", -0.1)])
def test_the_demand_setting_reads_a_rule_or_a_change(text, rule, change):
    got = pl.Demand.parse(text)
    assert (got.rule, got.change) == (rule, pytest.approx(change))


@pytest.mark.parametrize("text", ["sideways", "set", "20", "-100%", "+5000%"])
def test_a_demand_setting_out_of_reach_is_refused_in_words(text):
    with pytest.raises(ValueError, match="--demand|out of range"):
        pl.Demand.parse(text)


@pytest.fixture(scope="module")
def fits(data):
    """The propensity model before the backtest's cutoff, a window earlier, and on all data."""
    window = cp.CampaignWindow.of(data, str(cp.default_cutoff(data, 30)), 30)
    cuts = [window.cutoff - j * pd.Timedelta(days=30) for j in (-1, 0, 1)]
    params = cp.campaign_params("propensity")
    return window, {c: cp.make_model("propensity", **params).fit(data.before(c)) for c in cuts}


def test_a_demand_change_the_analyst_sets_scales_the_forecast_not_its_past(data, fits):
    from recsys.plan_report import demand_label, plan_lines

    window, models = fits
    scope = pl.Scope.product(data, "p3")
    base = pl.plan_with_record(data, window, models, pl.PlanInputs(scope), "propensity")
    told = pl.plan_with_record(data, window, models, pl.PlanInputs(
        scope, demand=pl.Demand("set", 0.5)), "propensity")
    assert base.demand_rule == "last" and told.demand_rule == "set"
    assert told.forecast.demand_factor == 1.5
    assert told.forecast.backtest_hits == base.forecast.backtest_hits
    assert told.demand_spread == base.demand_spread  # the last window's misses, as measured
    # at the same size (profit sizing may move it), 1.5x the buyers
    at = pl.plan_with_record(data, window, models, pl.PlanInputs(
        scope, pl.Sizing("number", base.audience), demand=pl.Demand("set", 0.5)), "propensity")
    assert at.forecast.buyers == pytest.approx(1.5 * base.forecast.buyers)
    assert at.targets["probability"].sum() == pytest.approx(at.forecast.buyers, rel=0.01)
    assert told.track and told.track == base.track  # the past plans carried the last window
    assert "your change is for the coming one" in plan_lines(told)["track"]
    said = plan_lines(told)["evidence"]
    assert "the change you set (+50%" in said and "not for how far your change is off" in said
    assert told.to_dict()["assumptions"]["demand"] == {"rule": "set", "change": 0.5}
    assert "+50% (set)" in demand_label(told) and "chosen" in demand_label(base)


def test_the_season_asked_of_a_shop_without_a_year_is_refused_before_any_fit(data, monkeypatch):
    from recsys import pipelines

    monkeypatch.setattr(pipelines, "make_model", lambda *a, **k: pytest.fail("fitted"))
    inputs = pl.PlanInputs(pl.Scope.product(data, "p3"), demand=pl.Demand("season"))
    with pytest.raises(ValueError, match="The season needs orders from a year and 30 days"):
        pipelines.plan_campaign(data, "propensity", None, inputs)


def test_the_season_asked_of_a_shop_with_two_years_is_its_rule():
    data = _seasonal_shop("2022-09-01", 850)
    end = pd.Timestamp("2024-10-01")
    got = fc.demand_rule(data, end, 30, ["a"], "season")
    assert got.rule == "season" and got.factor(data, ["a"], end, 30) > 2
    told = fc.demand_rule(data, end, 30, ["a"], "set", -0.2)
    assert told.factor(data, ["a"], end, 30) == pytest.approx(0.8)
    assert told.spread == fc.demand_rule(data, end, 30, ["a"], "last").spread


def test_the_cli_takes_the_demand_and_writes_it_down(tmp_path, capsys):
    from recsys.cli import main
    from tests.shops import shopify_orders

    export = tmp_path / "orders_export.csv"
    export.write_bytes(shopify_orders(n_customers=120, weeks=40))
    out = tmp_path / "plan.json"
    assert main(["campaign", str(export), "--product", _best_seller(export), "--audience",
                 "30", "--track-record", "0", "--demand", "+25%", "--json", str(out)]) == 0
    plan = json.loads(out.read_text())
    assert plan["forecast"]["demand_rule"] == "set"
    assert plan["forecast"]["demand_factor"] == 1.25
    assert plan["assumptions"]["demand"] == {"rule": "set", "change": 0.25}
    capsys.readouterr()
    assert main(["campaign", str(export), "--product", _best_seller(export),
                 "--demand", "season"]) == 2
    err = capsys.readouterr().err
    assert "The season needs orders" in err and "Traceback" not in err
