"""``python -m recsys campaign``: a backtest report for products (the default), a campaign plan
made now (``--audience``, ``--budget``, ``--plan``, ``--targets`` or ``--category``), or a
campaign read back (``--read-back CONTACTS.csv``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from recsys import campaign as cp
from recsys import experiment as ex
from recsys import plan as pl
from recsys.cli_common import (
    CliError,
    add_data_args,
    date_arg,
    load_input,
    number_arg,
    output_path,
    parse_params,
)
from recsys.insights import currency_prefix, safe_csv
from recsys.models import registry
from recsys.pipelines import plan_campaign
from recsys.plan_report import plan_html, plan_lines
from recsys.workspace import Workspace

PLAN_FLAGS = ("audience", "budget", "plan", "targets", "category", "mailing", "demand")


def add_parser(sub) -> None:
    camp = sub.add_parser("campaign", help="size a campaign from a backtest, plan one now, "
                                           "or read one back")
    add_data_args(camp)
    camp.add_argument("--model", help="default: the best campaign model ("
                                      f"{registry.campaign_models()[0]})")
    camp.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE")
    target = camp.add_mutually_exclusive_group()
    target.add_argument("--product", nargs="+", metavar="SKU",
                        help="one product, or several: a plan reaches buyers of any of them")
    target.add_argument("--category", help="plan for buyers of any product of a category")
    target.add_argument("--mailing", nargs="+", metavar="SKU",
                        help="a personalised mailing: each customer offered their best "
                             "product of these")
    target.add_argument("--top-products", type=number_arg(int, 1, 10_000), metavar="N",
                        help="the N best sellers of the training period (backtest report)")
    target.add_argument("--new-product", metavar="NAME,CATEGORY,PRICE")
    camp.add_argument("--cutoff", type=date_arg, help="the backtest report's cutoff")
    camp.add_argument("--window-days", type=number_arg(int, 1, 365), default=30)
    camp.add_argument("--cost-per-contact", type=number_arg(float, 0), default=0.35)
    camp.add_argument("--fixed-cost", type=number_arg(float, 0), default=0.0)
    camp.add_argument("--margin-pct", type=number_arg(float, 0, 100, above=True), default=30.0,
                      help="percent of the price")
    camp.add_argument("--caused-pct", type=number_arg(float, 0, 100),
                      default=100 * pl.CAUSED_SHARE,
                      help="percent of the audience's buying the campaign causes (plan)")
    camp.add_argument("--audience", help="plan: a number of customers (500) or a share (5%%); "
                                         "default: the best expected profit")
    camp.add_argument("--budget", type=number_arg(float, 0, above=True), help="plan: size by money")
    camp.add_argument("--control-pct", type=number_arg(float, 0, 50),
                      help="plan: percent held back (default: the least that measures it)")
    camp.add_argument("--exclude-recent-days", type=number_arg(int, 0, 3650), default=0,
                      help="plan: leave out who bought it this many days before")
    camp.add_argument("--demand",
                      help="plan: the next window's demand: auto (the season where the orders "
                           "reach a year back, else the last window), last, level, season, "
                           "or a change you expect on the last window (+20%%, -10%%)")
    camp.add_argument("--seed", type=number_arg(int, 0), default=0, help="plan: control draw")
    camp.add_argument("--track-record", type=number_arg(int, 0, 6), default=2, metavar="N",
                      help="plan: replay it on the last N windows (2 fits each)")
    camp.add_argument("--plan", type=output_path, help="plan: write the HTML plan here")
    camp.add_argument("--targets", type=output_path, help="plan: write the target list here")
    camp.add_argument("--read-back", type=Path, metavar="CONTACTS.csv",
                      help="read a campaign back: customer_id, group (target/control), date")
    camp.add_argument("--since", type=date_arg, help="read-back: the campaign's start date")
    camp.add_argument("--json", type=output_path)


def cmd_campaign(args: argparse.Namespace) -> dict[str, Any]:
    model = args.model or registry.campaign_models()[0]
    registry.spec(model)
    params = parse_params(args.set, [model])[model] or None  # None: campaign defaults
    if args.read_back:
        out = _read_back(args)
    elif any(getattr(args, f) for f in PLAN_FLAGS):
        out = _plan(args, model, params)
    else:
        out = _report(args, model, params)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return out


def _econ(args, data, caused: float = 1.0) -> cp.Economics:
    return cp.Economics(cost_per_contact=args.cost_per_contact, fixed_cost=args.fixed_cost,
                        currency=currency_prefix(data.report.currency),
                        margin_pct=args.margin_pct / 100, uplift=caused)


def _report(args, model: str, params) -> dict[str, Any]:
    if not (args.product or args.top_products or args.new_product):
        raise CliError("Name what to promote: --product SKU, --category NAME, --top-products N "
                       "or --new-product NAME,CATEGORY,PRICE")
    data = load_input(args)
    econ = _econ(args, data)
    if args.new_product:
        name, category, price = _new_product(args.new_product)
        out = cp.new_product_report(data, model, params, name, category, price, args.cutoff,
                                    args.window_days, econ)
    else:
        train_items = None if args.product else args.top_products
        out = cp.report(data, model, params, args.product, train_items, args.cutoff,
                        args.window_days, econ)
    print(cp.format_report(out))
    return out


def _new_product(text: str) -> tuple[str, str | None, float]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not parts[0]:
        raise CliError("--new-product is NAME,CATEGORY,PRICE")
    try:
        price = float(parts[2])
    except ValueError:
        raise CliError(f"--new-product: the price {parts[2]!r} is not a number") from None
    if not 0 <= price < 1e7:
        raise CliError(f"--new-product: the price {price} is out of range")
    return parts[0], parts[1] or None, price


def _scope(args, data) -> pl.Scope:
    if args.mailing:
        return pl.Scope.mailing(data, args.mailing)
    if args.category:
        return pl.Scope.category(data, args.category)
    if not args.product:
        raise CliError("A plan needs --product SKU (one or more), --category NAME or "
                       "--mailing SKU SKU ...")
    if len(args.product) == 1:
        return pl.Scope.product(data, args.product[0])
    return pl.Scope.collection(data, args.product)


def _plan(args, model: str, params) -> dict[str, Any]:
    if args.cutoff or args.new_product or args.top_products:
        raise CliError("A plan is made now, for one scope: --cutoff, --new-product and "
                       "--top-products belong to the backtest report.")
    if args.budget is not None and args.budget < args.fixed_cost + args.cost_per_contact:
        raise CliError(f"A budget of {args.budget:,.2f} does not cover the fixed cost "
                       f"({args.fixed_cost:,.2f}) and one contact.")
    data = load_input(args)
    try:
        sizing = pl.Sizing.parse(args.audience, args.budget)
        inputs = pl.PlanInputs(_scope(args, data), sizing, _econ(args, data,
                                                                  args.caused_pct / 100),
                               args.window_days,
                               None if args.control_pct is None else args.control_pct / 100,
                               args.exclude_recent_days, args.seed,
                               pl.Demand.parse(args.demand))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    plan = plan_campaign(data, model, params, inputs, args.track_record)
    print("\n".join(plan_lines(plan).values()))
    if args.plan:
        args.plan.write_text(plan_html(plan), encoding="utf-8")
    if args.targets:
        args.targets.write_bytes(safe_csv(plan.targets))
    return plan.to_dict()


def _read_back(args) -> dict[str, Any]:
    data = load_input(args)
    try:
        contacts = ex.read_contacts(args.read_back, str(args.read_back))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    items = args.product or (list(pl.Scope.category(data, args.category).items)
                             if args.category else None)
    try:
        back = ex.read_back(contacts, data, items, args.window_days, args.since,
                            Workspace().pii_key)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(back.words(currency_prefix(data.report.currency)))
    if back.unknown_customers:
        print(f"{back.unknown_customers:,} contacts are not customers of this dataset.")
    return back.to_dict()
