"""What every command of the command line shares: the one-line error, argument types, the
data arguments and loading them."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recsys.data import FORMATS, ColumnMapping, ImportOptions, load_orders
from recsys.evaluate import as_cutoff
from recsys.models import make_model, registry
from recsys.workspace import DatasetRef, Workspace


class CliError(Exception):
    """A problem with the user's input, reported as one line."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (exit status 2), like every other error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def date_arg(text: str) -> str:
    try:
        as_cutoff(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _parse_value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_params(items: Sequence[str], models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--set ease.l2=250`` entries into {model: {param: value}}, each checked against the
    model's settings (name, type, allowed range) before anything runs."""
    out: dict[str, dict[str, Any]] = {m: {} for m in models}
    for item in items:
        try:
            key, value = item.split("=", 1)
            model, param = key.split(".", 1)
        except ValueError:
            raise CliError(f"--set {item!r} is not MODEL.PARAM=VALUE") from None
        if model not in out:
            raise CliError(f"--set {item!r} names model {model!r}, which is not in --models")
        names = [f.name for f in dataclasses.fields(registry.spec(model).cls.Config)]
        if param not in names:
            raise CliError(f"--set {item!r}: {model} has no setting {param!r}; it has "
                           f"{', '.join(names)}")
        out[model][param] = _parse_value(value)
    for model, params in out.items():
        try:
            make_model(model, **params)
        except ValueError as exc:
            raise CliError(f"--set for {model}: {exc}") from None
    return out


def model_list(text: str) -> list[str]:
    """``--models a,b`` as a checked list."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise CliError("--models names no model; choose from " + ", ".join(registry.names()))
    for name in names:
        registry.spec(name)
    return names


def number_arg(kind, low: float | None = None, high: float | None = None, above: bool = False):
    """An argparse type: a number of this kind within bounds (``above``: strictly)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a "
                                             f"{'whole ' if kind is int else ''}number") from None
        if value != value or (low is not None and (value <= low if above else value < low)) \
                or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"{text} is out of range ({'above' if above else 'at least'} {low}"
                + (f", at most {high}" if high is not None else "") + ")")
        return value
    return parse


def output_path(text: str) -> Path:
    """A file the command can write to (checked before any work is done)."""
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write to {text!r}")
    return path


def progress(message: str) -> None:
    """Progress for people at a terminal (on stderr); scripts see only results and errors."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def load_input(args: argparse.Namespace):
    """The OrderData the command works on: --demo or the DATA files."""
    if args.demo or not args.data:
        if not args.demo:
            raise CliError("Give DATA files, or --demo for the generated demo shop.")
        return Workspace().load_dataset(DatasetRef.demo())  # generated once, then kept
    mapping = ColumnMapping.from_string(args.map) if args.map else None
    opts = ImportOptions(pii_key=Workspace().pii_key)
    return load_orders([Path(p) for p in args.data], format=args.format, mapping=mapping,
                       options=opts)


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="*", help="order export files, folders or zips")
    p.add_argument("--format", default="auto",
                   choices=["auto", *FORMATS])
    p.add_argument("--map", help="customer=COL,item=COL,time=COL[,order=COL,quantity=COL,...]")
    p.add_argument("--demo", action="store_true", help="use the generated demo shop")
