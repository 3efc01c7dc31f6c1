"""The Campaigns page's inputs, kept in the session and the page address (so a colleague
opening the link sees the same plan), the jobs a plan waits for, and the read-back panel."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys import campaign as cp
from recsys import experiment as ex
from recsys import plan as pl
from recsys.data import OrderData
from recsys.errors import safe_message
from recsys.models import NewProduct, registry
from recsys.plan_report import qini_figure
from recsys.requests import CampaignRequest, DatasetKey, ServeRequest
from ui.cache import model, workspace
from ui.jobs import ensure, served
from ui.widgets import choice, number

SIZING = {"Best expected profit": "profit", "Number of customers": "number",
          "Share of customers (%)": "share", "Budget": "budget"}
DEMAND = {"Auto: the season, else the last month": "auto", "As the last month": "last",
          "Mean of the last two months": "level", "As it moved a year ago": "season",
          "A change I expect (%)": "set"}
TRACK_WINDOWS = 2  # past windows the plan is replayed on (two more fits in the background)
MAX_CONTACTS_MB = 50


def scope(data: OrderData, days: int) -> pl.Scope:
    kinds = ["One product", "A personalised mailing"] + (
        ["A category"] if pl.category_choices(data) else [])
    kind = choice(st, "Promote", kinds, kinds[0], name="scope")
    if kind == "A category":
        cats = pl.category_choices(data)
        return pl.Scope.category(data, choice(st, "Category", cats, cats[0], name="category"))
    products = pl.product_choices(data, days)
    if kind == "A personalised mailing":
        picked = choice(st, "Products (each customer is offered their best placed one)",
                        list(products), list(products)[:3], name="mailing", multi=True,
                        format_func=products.get)
        if len(picked) < 2:
            st.info("Pick two or more products for a mailing.")
            st.stop()
        return pl.Scope.mailing(data, picked)
    first = next(iter(products))
    item = choice(st, "Product to promote", list(products), first, name="product",
                  format_func=products.get)
    return pl.Scope.product(data, item)


def inputs(data: OrderData, currency: str, days: int) -> tuple[str, pl.PlanInputs]:
    """The model and the plan's inputs, from the widgets."""
    where = scope(data, days)
    offered = registry.campaign_models()
    c1, c2, c3, c4 = st.columns(4)
    model = choice(c1, "Model", offered, offered[0], name="campaign_model",
                   help=" ".join(f"{m}: {registry.spec(m).description}" for m in offered[:2]))
    how = SIZING[choice(c2, "Size the audience by", list(SIZING), "Best expected profit",
                        name="size_by")]
    value = {"number": lambda: number(c3, "Customers", 1, data.n_customers,
                                       min(500, data.n_customers), name="size_n"),
             "share": lambda: number(c3, "Share (%)", 0.1, 100.0, 5.0, name="size_pct") / 100,
             "budget": lambda: number(c3, f"Budget ({currency.strip() or 'money'})", 1.0, 1e7,
                                      500.0, name="budget"),
             "profit": lambda: None}[how]()
    demand = demand_input(c4, data, days)
    e = st.columns(6)
    econ = cp.Economics(
        cost_per_contact=number(e[0], "Cost per contact", 0.0, 100.0, 0.35, step=0.05,
                                name="cost"),
        fixed_cost=number(e[1], "Fixed cost", 0.0, 1e6, 0.0, step=50.0, name="fixed"),
        margin_pct=number(e[2], "Margin % of price", 1.0, 100.0, 30.0, name="margin") / 100,
        uplift=number(e[3], "Buying caused %", 0.0, 100.0, 100 * pl.CAUSED_SHARE, name="caused",
                      help="Share of the audience's buying the campaign causes (the rest "
                           "would buy anyway). A read-back with a control group measures "
                           "it.") / 100,
        currency=currency)
    control = number(e[4], "Control % (0: auto)", 0.0, 50.0, 0.0, name="control",
                     help="Held back and not contacted. Auto: the least that can measure "
                          "the campaign.")
    recent = number(e[5], "Skip buyers of last N days", 0, 3650, 0, name="recent")
    return model, pl.PlanInputs(where, pl.Sizing(how, value), econ, days,
                                control / 100 if control else None, int(recent), demand=demand)


def demand_input(where, data: OrderData, days: int) -> pl.Demand:
    """How next month's demand is carried: a rule, or the analyst's expected change. The
    season is offered where the orders reach a year back from the plan."""
    usable = pl.demand_choices(data, days)
    offered = [k for k, v in DEMAND.items() if v in usable]
    rule = DEMAND[choice(where, "Next month's demand", offered, offered[0], name="demand",
                         help="How the backtest month's buyers are carried into the next "
                              "month. Set a change when you know what the history does not "
                              "(a sale, a first Christmas).")]
    if rule != "set":
        return pl.Demand(rule)
    change = number(where, "Change on the last month (%)", -90.0, 1000.0, 0.0, step=5.0,
                    name="demand_pct")
    return pl.Demand("set", change / 100)


def plan_jobs(key: DatasetKey, model: str, cutoff, days: int):
    """The fitted models a plan needs, as jobs: before the cutoff (the backtest), on all data
    (the audience), and before each earlier cutoff (the track record, in the background)."""
    back = pd.Timestamp(cutoff)
    cuts = [str((back - j * pd.Timedelta(days=days)).date()) for j in range(TRACK_WINDOWS + 1)]
    jobs = {c: ensure(CampaignRequest.of(key, model, c, days), priority=-j)
            for j, c in enumerate(cuts)}
    jobs["live"] = ensure(ServeRequest.for_campaigns(key, model))
    return jobs


def usable_jobs(key: DatasetKey, chosen: str, cutoff, days: int):
    """The chosen model's jobs, or, where it cannot fit this shop (too short a history, say),
    the next campaign model's; with the reason in words when it moved on."""
    why = None
    for name in [chosen] + [m for m in registry.campaign_models() if m != chosen]:
        jobs = plan_jobs(key, name, cutoff, days)
        failed = [j for j in (jobs[str(cutoff)], jobs["live"]) if j.state == "failed"]
        if not failed:
            note = why and f"{chosen} cannot plan for this shop ({why}): using {name}."
            return name, jobs, note
        why = why or (failed[0].error or "its fit failed").rstrip(".")
    return chosen, plan_jobs(key, chosen, cutoff, days), None


def read_back_panel(data: OrderData, currency: str, items, default_start) -> None:
    st.caption("After a campaign: upload its contact list (customer_id, group target/control, "
               "date; the target list downloaded here works as is). Orders are this dataset's: "
               "import the export that covers the weeks after the campaign.")
    upload = st.file_uploader("Contact list (CSV)", type=["csv"], key="contacts")
    c1, c2 = st.columns(2)
    start = c1.date_input("Campaign start (when the list has no date)", value=default_start)
    days = c2.number_input("Days to count", 1, 365, 30, key="readback_days")
    if upload is None:
        return
    if upload.size > MAX_CONTACTS_MB * 2**20:
        st.error(f"The contact list is over {MAX_CONTACTS_MB} MB.")
        return
    try:
        contacts = ex.read_contacts(upload.getvalue(), upload.name)
        has_date = "date" in {c.lower().strip() for c in contacts.columns}
        back = ex.read_back(contacts, data, items, int(days), None if has_date else start,
                            workspace().pii_key)
    except ValueError as exc:
        st.error(f"Could not read the campaign back: {safe_message(exc)}")
        return
    (st.success if back.has_control else st.info)(back.words(currency))
    st.dataframe(back.groups, hide_index=True)
    if back.qini_curve is not None:
        st.plotly_chart(qini_figure(back.qini_curve), width="stretch")
        st.caption(f"Qini AUC {back.qini:.4f}; uplift in the top 30% by score "
                   f"{back.uplift_at_30:.2%} (scikit-uplift).")
    if back.unknown_customers:
        st.warning(f"{back.unknown_customers:,} contacts are not customers of this dataset.")


def new_product_panel(data: OrderData) -> None:
    """A product that has not sold yet: its audience from a model that reads attributes."""
    n1, n2, n3 = st.columns(3)
    name = n1.text_input("Name", "RED SPOTTY CAKE STAND")
    cat = n2.text_input("Category", "")
    price = n3.number_input("Price", 0.0, 1e4, 4.95)
    able = served("new_items")
    if not able:
        st.caption(f"Train {' or '.join(registry.names(new_items=True))} on the Models page "
                   "to score new products.")
    elif st.toggle("Score this new product"):
        cold = model(next(iter(able.values())).serving_id)
        st.dataframe(cp.target_list(cold, data, NewProduct(name, cat or None, price), n=50),
                     hide_index=True)
