"""A campaign plan in words, figures and one self-contained HTML file a stakeholder opens
offline (plotly's JavaScript embedded once; no request to any server)."""

from __future__ import annotations

import html
import json

import plotly.graph_objects as go

from recsys import forecast as fc
from recsys.plan import CampaignPlan

RULE_WORDS = {"level": "with the demand of the last two months against the last",
              "last": "with the last month's demand",
              "season": "with how the same two months moved a year earlier"}


def _m(currency: str, value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.0f}"


def plan_lines(plan: CampaignPlan) -> dict[str, str]:
    """The plan in plain sentences, keyed by section; the page and the HTML say the same."""
    c, e, f = plan.inputs.econ.currency, plan.economics(), plan.forecast
    days, share = plan.inputs.days, plan.audience / max(plan.candidates, 1)
    ev = plan.evidence
    who = "customer" if plan.audience == 1 else "customers"
    out = {
        "headline": (
            f"Audience: {plan.audience:,} {who} ({share:.1%} of {plan.candidates:,}) for "
            f"{plan.inputs.scope.name}. Expected buyers among them in the {days} days from "
            f"{plan.plan_time.date()}: {f.buyers:,.0f} (80% interval {f.low:,.0f} to "
            f"{f.high:,.0f})."),
        "money": (
            f"Contacting {plan.contacted:,} of them costs {_m(c, e['cost'])} "
            f"({c}{plan.inputs.econ.cost_per_contact:,.2f} per contact). They are expected "
            f"to spend {_m(c, e['revenue'])} on it ({_m(c, e['revenue_low'])} to "
            f"{_m(c, e['revenue_high'])}). If the campaign causes {e['caused_share']:.0%} of "
            f"their buying (an assumption; a read-back with a control group measures it), it "
            f"adds {_count(e['incremental_buyers'], 'buyer')} and {_m(c, e['profit'])} profit "
            f"({_m(c, e['profit_low'])} to {_m(c, e['profit_high'])})"
            + (f", ROI {e['roi']:.0%}." if e["roi"] == e["roi"] else ".")),
        "size": f"Why this size: {plan.why_size}.",
        "control": plan.control.words(),
        "evidence": (
            f"Backtest: of {ev.candidates:,} customers ranked by {plan.model} on the orders "
            f"before {plan.cutoff.date()}, the top {share:.1%} held "
            f"{ev.hits_at(share):,.0f} of the {ev.buyers:,} who bought in the {days} days "
            f"after ({_lift(plan, share)} a random audience). " + _demand_words(plan)),
    }
    offers = plan.offers()
    if offers:
        counts = plan.targets["product"].value_counts()
        out["offers"] = ("Each customer is offered their best placed product of the set: "
                         + "; ".join(f"{name} to {counts[name]:,} (expected {b:,.0f} buyers)"
                                     for name, b in list(offers.items())[:8])
                         + ("; …" if len(offers) > 8 else "") + ".")
    if ev.buyers == 0:  # nothing to forecast from: no money, no ratios, no control design
        out = {k: out[k] for k in ("size",)}
    if plan.track:
        said = "; ".join(f"{r['plan_time']}: planned {r['planned']:,.0f} "
                         f"({r['low']:,.0f} to {r['high']:,.0f}), {r['bought']:,} bought"
                         for r in plan.track)
        out["track"] = f"The same plan made on the last windows: {said}." + (
            " (Those plans carry the last month: your change is for the coming one.)"
            if plan.demand_rule == "set" else "")
    for i, w in enumerate(plan.warnings):
        out[f"warning{i}"] = w
    return out


def demand_label(plan: CampaignPlan) -> str:
    """The demand rule in a few words, with ``auto`` said as what it chose."""
    if plan.demand_rule == "set":
        return f"the last window's, changed by {plan.inputs.demand.change:+.0%} (set)"
    said = RULE_WORDS[plan.demand_rule].removeprefix("with ")
    return said + (" (chosen for this shop)" if plan.inputs.demand.rule == "auto" else "")


def _demand_words(plan: CampaignPlan) -> str:
    """How the forecast carries the backtest into the next month, and how far that missed."""
    return _base_words(plan) + _carry_words(plan)


def _base_words(plan: CampaignPlan) -> str:
    """What the forecast starts from, where the model's own chances are half of it."""
    f = plan.forecast
    if f.model_buyers is None:
        return ""
    return (f"The {plan.model} model's own chances for this audience add up to "
            f"{f.model_buyers:,.0f} buyers; they rest on several past months, where one month's "
            f"count is noisy, so the forecast starts from the mean of the two "
            f"({fc.base_buyers(f.backtest_hits, f.model_buyers):,.0f}). ")


def _carry_words(plan: CampaignPlan) -> str:
    f, miss = plan.forecast, plan.demand_spread / fc.MAD_TO_SD
    if plan.demand_rule == "set":
        return (f"The forecast carries that forward with the change you set "
                f"({plan.inputs.demand.change:+.0%} on the last month, x{f.demand_factor:.2f}). "
                f"On this shop's best sellers, carrying the last month forward missed the next "
                f"month by a median {miss:.0%}: the interval allows for that, not for how far "
                "your change is off.")
    return (f"The forecast carries that forward, {RULE_WORDS[plan.demand_rule]} "
            f"(x{f.demand_factor:.2f}): on this shop's best sellers that rule missed the next "
            f"month by a median {miss:.0%} (which the interval allows for).")


def plan_metrics(plan: CampaignPlan) -> list[tuple[str, str, str]]:
    """(label, value, the line under it) of the plan's four headline figures."""
    c, e, f = plan.inputs.econ.currency, plan.economics(), plan.forecast
    return [("Audience", f"{plan.audience:,}", f"{plan.control.control:,} held back"),
            ("Expected buyers", f"{f.buyers:,.0f}", f"80%: {f.low:,.0f} to {f.high:,.0f}"),
            ("Revenue from the contacted", _m(c, e["revenue"]),
             f"80%: {_m(c, e['revenue_low'])} to {_m(c, e['revenue_high'])}"),
            ("Expected profit", _m(c, e["profit"]), f"cost {_m(c, e['cost'])}")]


def _count(n: float, word: str) -> str:
    return f"{n:,.0f} {word}{'' if round(n) == 1 else 's'}"


def _lift(plan: CampaignPlan, share: float) -> str:
    ev = plan.evidence
    base = ev.buyers / max(ev.candidates, 1)
    if base <= 0:
        return "no buyers, so no comparison with"
    return f"{ev.hits_at(share) / max(share * ev.candidates, 1) / base:.1f}× the rate of"


def plan_figures(plan: CampaignPlan) -> dict[str, go.Figure]:
    """Gains and lift of the backtest (the model beside simple rules), expected profit with
    its interval by audience size, and the last windows' planned vs bought."""
    c = plan.inputs.econ.currency
    curves = {plan.model: plan.evidence.curve, **plan.evidence.heuristics}
    figs = {}
    for key, title in (("recall", "Backtest gains: share of the window's buyers reached"),
                       ("lift", "Backtest lift over a random audience")):
        fig = go.Figure([go.Scatter(x=v["n"], y=v[key], name=k, mode="lines")
                         for k, v in curves.items()])
        figs[key] = _axes(fig, title, plan.audience * plan.evidence.candidates
                          / max(plan.candidates, 1))
    pc = plan.profit_curve()
    fig = go.Figure([
        go.Scatter(x=pc["n"], y=pc["profit_high"], line_width=0, showlegend=False,
                   hoverinfo="skip"),
        go.Scatter(x=pc["n"], y=pc["profit_low"], fill="tonexty", line_width=0,
                   name="80% interval", fillcolor="rgba(99,110,250,0.2)"),
        go.Scatter(x=pc["n"], y=pc["profit"], name="expected profit", mode="lines")])
    figs["profit"] = _axes(fig, "Expected profit by audience size" + (f" ({c.strip()})" if c
                                                                      else ""), plan.audience)
    # Scaled to the peak, not to the loss of contacting everyone.
    peak, low = float(pc["profit_high"].max()), float(pc["profit_low"].min())
    span = max(abs(peak), 1.0)
    figs["profit"].update_yaxes(range=[max(low, -1.5 * span), peak + 0.2 * span])
    if plan.track:
        t = plan.track
        fig = go.Figure([
            go.Bar(x=[r["plan_time"] for r in t], y=[r["planned"] for r in t], name="planned",
                   error_y=dict(type="data", symmetric=False,
                                array=[r["high"] - r["planned"] for r in t],
                                arrayminus=[r["planned"] - r["low"] for r in t])),
            go.Bar(x=[r["plan_time"] for r in t], y=[r["bought"] for r in t], name="bought")])
        figs["track"] = fig.update_layout(title="The same plan on the last windows", height=320,
                                          template="plotly_white",
                                          margin=dict(l=50, r=10, t=40, b=40))
    return figs


def qini_figure(curve) -> go.Figure:
    """A read-back's Qini curve: incremental buyers as more of the list, best scores first,
    is counted, against a list in random order."""
    fig = go.Figure([
        go.Scatter(x=curve["contacted"], y=curve["incremental_buyers"], name="by score"),
        go.Scatter(x=[0, curve["contacted"].iloc[-1]], y=[0, curve["incremental_buyers"].iloc[-1]],
                   name="random order", line_dash="dot")])
    return fig.update_layout(title="Qini curve: incremental buyers by list position",
                             height=320, template="plotly_white", xaxis_title="contacted",
                             margin=dict(l=50, r=10, t=40, b=40))


def _axes(fig: go.Figure, title: str, chosen: float) -> go.Figure:
    fig.add_vline(x=max(chosen, 1), line_dash="dot")
    return fig.update_layout(title=title, height=320, xaxis_title="audience size (log scale)",
                             xaxis_type="log", template="plotly_white",
                             margin=dict(l=50, r=10, t=40, b=40))


STYLE = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em}td,th{padding:2px 10px;text-align:left}
.warn{background:#fff3cd;padding:.6em}"""


def plan_html(plan: CampaignPlan) -> str:
    """One self-contained HTML page: the plan in words, its assumptions, figures and the
    evidence (plotly.js embedded once, no link to anything outside the file)."""
    lines = plan_lines(plan)
    figs = plan_figures(plan)
    charts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0),
                          config={"displaylogo": False, "displayModeBar": False})
              for i, fig in enumerate(figs.values())]
    e = plan.to_dict()
    rows = [("Scope", plan.inputs.scope.name), ("Model", plan.model),
            ("Plan made at", e["plan_time"]), ("Window", f"{plan.inputs.days} days"),
            ("Cost per contact", f"{plan.inputs.econ.currency}"
                                 f"{plan.inputs.econ.cost_per_contact:,.2f}"),
            ("Fixed cost", _m(plan.inputs.econ.currency, plan.inputs.econ.fixed_cost)),
            ("Margin per buyer", f"{plan.inputs.econ.currency}{plan.margin_per_buyer():,.2f}"),
            ("Share of buying caused", f"{plan.inputs.econ.uplift:.0%}"),
            ("Next window's demand", demand_label(plan)),
            ("Currency", plan.inputs.econ.currency.strip() or "not given"),
            ("Control group seed", str(plan.inputs.seed))]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                    for k, v in rows)
    body = "".join(f'<p class="{"warn" if k.startswith("warning") else k}">{html.escape(v)}</p>'
                   for k, v in lines.items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Campaign plan: "
            f"{html.escape(plan.inputs.scope.name)}</title><style>{STYLE}</style></head><body>"
            f"<h1>Campaign plan: {html.escape(plan.inputs.scope.name)}</h1>{body}"
            f"<h2>Assumptions</h2><table>{table}</table><h2>Evidence</h2>"
            f"<div class='figs'>{''.join(f'<div>{c}</div>' for c in charts)}</div>"
            f"<script type='application/json' id='plan'>"
            f"{_script_json(e)}</script></body></html>")


def _script_json(value) -> str:
    """JSON safe inside a <script> element (no '</' to close it early)."""
    return json.dumps(value, default=str).replace("</", "<\\/")
