"""The numeric settings read from the environment, checked in one place.

A mistyped value (``RECSYS_MAX_ROWS=abc``, ``=1e3``, ``RECSYS_MAX_INPUT_MB=0.5``) is refused
with one line naming the variable, never ignored: a limit an operator believes is set but
is not is worse than a refusal. A leaf module (imports nothing of the project), so the data
layer can use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class SettingError(ValueError):
    """An environment variable holds a value the product cannot use."""


@dataclass(frozen=True)
class Setting:
    """A whole-number setting: its default, its allowed range and what it is for."""

    default: int
    low: int = 1
    high: int | None = None
    what: str = ""


SETTINGS: dict[str, Setting] = {
    "RECSYS_MAX_INPUT_MB": Setting(1024, what="MB per imported file once decompressed"),
    "RECSYS_MAX_ROWS": Setting(50_000_000, what="lines per imported file"),
    "RECSYS_MAX_COLUMNS": Setting(1000, what="columns per imported file"),
    "RECSYS_MAX_SHEET_CELLS": Setting(20_000_000, what="cells an XLSX sheet may declare"),
    "RECSYS_MAX_FILES": Setting(500, what="files per zip or folder"),
    "RECSYS_WORKERS": Setting(2, high=64, what="worker processes that run the jobs"),
    "RECSYS_WORKER_THREADS": Setting(0, low=0, high=1024,
                                     what="math threads per worker (0: automatic)"),
    "RECSYS_WORKER_NICE": Setting(10, low=0, high=19,
                                  what="how far below the app the workers' CPU priority is"),
    "RECSYS_RAY_TRAIN_WORKERS": Setting(2, high=4096, what="Ray Train workers per fit"),
}


def env_int(name: str) -> int:
    """The variable's value, or its default when unset; a SettingError when it is not a
    whole number in range."""
    spec = SETTINGS[name]
    text = os.environ.get(name)
    if text is None or not text.strip():
        return spec.default
    try:
        value = int(text.strip())
    except ValueError:
        raise SettingError(_not_whole(name, text, spec)) from None
    if value < spec.low or (spec.high is not None and value > spec.high):
        top = f" and {spec.high:,}" if spec.high is not None else ""
        raise SettingError(f"{name}={text.strip()} is out of range: it counts {spec.what} and "
                           f"must be between {spec.low:,}{top or ' and more'}"
                           f" (unset it for the default, {spec.default:,}).")
    return value


def _not_whole(name: str, text: str, spec: Setting) -> str:
    shown = text.strip()[:40]
    try:
        number = float(text)
    except ValueError:
        number = None
    hint = ""
    if number is not None and number == number and abs(number) < 1e18:
        hint = (f" write it as {int(number)}" if number == int(number)
                else f" it counts {spec.what}, in whole numbers")
        hint = f";{hint}"
    return (f"{name}={shown!r} is not a whole number{hint} (it sets {spec.what}; unset it "
            f"for the default, {spec.default:,}).")


def problems() -> list[str]:
    """Every numeric setting that is set wrongly, one line each (checked when the app or the
    command line starts, so a typo is reported before any work)."""
    out = []
    for name in SETTINGS:
        try:
            env_int(name)
        except SettingError as exc:
            out.append(str(exc))
    return out
