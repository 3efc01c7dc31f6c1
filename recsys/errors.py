"""What an error may say where people and logs see it: never a cell of the user's file.

The project's own messages name line numbers, column names and counts, never values, so
they are shown as they are. A message made by a library (pandas, pyarrow, openpyxl, ...)
may quote whatever row it choked on -- an e-mail, a name, an address -- so it is replaced
by its kind and where it was raised. Logs get the traceback's frames with the same rule for
every chained exception. A leaf module: anything may use it.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep
DEBUG_ENV = "RECSYS_DEBUG"  # set: messages are shown whole (an operator's own machine)


def _origin(exc: BaseException) -> str | None:
    """The file the exception was raised in (the innermost frame), if it was raised."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def is_ours(exc: BaseException) -> bool:
    """Whether the message was written by this project: its own exception classes, or a
    built-in one raised in its code."""
    if type(exc).__module__.split(".")[0] == "recsys":
        return True
    origin = _origin(exc)
    return origin is not None and os.path.abspath(origin).startswith(_PACKAGE)


def _entry(exc: BaseException) -> str | None:
    """The file through which the failing call left the project's code (or the innermost
    one when it never went through it): 'pandas', not the stdlib helper pandas called."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(os.path.abspath(tb.tb_frame.f_code.co_filename))
        tb = tb.tb_next
    ours = [i for i, f in enumerate(frames) if f.startswith(_PACKAGE)]
    if ours and ours[-1] + 1 < len(frames):
        return frames[ours[-1] + 1]
    return frames[-1] if frames else None


def _library(exc: BaseException) -> str:
    origin = _entry(exc)
    if origin is None:
        return type(exc).__module__.split(".")[0]
    parts = Path(origin).parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return parts[i + 1].split(".")[0] if i + 1 < len(parts) else "a library"
    return Path(origin).stem


def text_of(exc: BaseException) -> str:
    """The message as written (a KeyError's own text, not its repr)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def safe_message(exc: BaseException) -> str:
    """One line for people: the project's own message, or a library's replaced by its kind
    and origin ('TypeError in pandas')."""
    if is_ours(exc) or os.environ.get(DEBUG_ENV):
        text = " ".join(text_of(exc).split())
        return text or type(exc).__name__
    return f"{type(exc).__name__} in {_library(exc)}"


def safe_traceback(exc: BaseException) -> str:
    """The traceback for a log: every frame, and each exception in the chain by its kind,
    with its message only where the project wrote it."""
    out: list[str] = []
    seen: set[int] = set()
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for i, item in enumerate(reversed(chain)):
        if i:
            out.append("The above led to:")
        out.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(item.__traceback__):
            out.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        said = safe_message(item) if is_ours(item) or os.environ.get(DEBUG_ENV) else (
            f"(message left out: written by {_library(item)}, it may quote the user's data)")
        out.append(f"{type(item).__name__}: {said}")
    return "\n".join(out)
