"""The key that pseudonymises customer identities, kept away from the data it protects.

From ``$RECSYS_PII_KEY`` (a deployment's secret), else a key file outside every workspace:
``$RECSYS_PII_KEY_FILE`` or ``~/.config/recsys/pii.key``. Only the local single-analyst
default creates that file on first use; a shared server must be given its key. A key
shorter than 32 bytes is refused: with an empty or short key the pseudonyms can be
recomputed from a list of e-mails.

A workspace made by an earlier version kept its own key in ``.secret``. That key is moved
out of the workspace; when it differs from the configured key, the workspace stays *pinned*
to it (its datasets' pseudonyms were made with it): the key goes to ``keys/<id>.key`` beside
the key file and the workspace keeps only the id, in ``key.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path

PII_KEY_ENV = "RECSYS_PII_KEY"
PII_KEY_FILE_ENV = "RECSYS_PII_KEY_FILE"
MIN_KEY_BYTES = 32
PIN_FILE = "key.json"  # in a pinned workspace: which key its pseudonyms were made with
MAKE_KEY = "python -c \"import secrets; print(secrets.token_hex(32))\""

log = logging.getLogger(__name__)


class MissingKeyError(ValueError):
    """No pseudonymisation key is configured (and none may be created here)."""


class WeakKeyError(ValueError):
    """The configured key is too short to keep pseudonyms from being recomputed."""


def key_file() -> Path:
    env = os.environ.get(PII_KEY_FILE_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "recsys" / "pii.key"


def pinned_dir() -> Path:
    """Where keys kept for older workspaces live (beside the key file, never in a
    workspace)."""
    return key_file().parent / "keys"


def key_location() -> str:
    """Where the key comes from, in words (for the command line and operators)."""
    return f"${PII_KEY_ENV}" if os.environ.get(PII_KEY_ENV) else str(key_file())


def _checked(key: bytes, where: str, fix: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise WeakKeyError(f"The pseudonymisation key in {where} is {len(key)} bytes; at least "
                           f"{MIN_KEY_BYTES} random bytes are needed (a shorter key lets anyone "
                           f"with a list of e-mails recompute the pseudonyms). {fix}")
    return key


def _configured(create: bool) -> bytes | None:
    """The deployment's key (environment, else key file), created if allowed; None when
    there is none and none may be made."""
    env = os.environ.get(PII_KEY_ENV)
    if env is not None:
        return _checked(env.encode(), f"${PII_KEY_ENV}",
                        f"Set it to a long random string, e.g. the output of {MAKE_KEY}.")
    path = key_file()
    if not path.exists():
        if not create:
            return None
        _write(path, secrets.token_hex(32).encode())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    return _checked(path.read_bytes().strip(), str(path),
                    f"Make one with: {MAKE_KEY} > {path}")


def key_id(key: bytes) -> str:
    """A name for a key that says nothing about it (a hash of a long random key)."""
    return hashlib.sha256(b"recsys-key-id\0" + key).hexdigest()[:16]


def pii_key(create: bool = True, legacy: Path | None = None, pin: Path | None = None) -> bytes:
    """The key for a workspace. ``legacy``: where earlier versions kept a workspace's own
    key (``.secret``); ``pin``: the workspace's ``key.json``. With ``create`` (the local
    default) a random key is made on first use."""
    if pin is not None and pin.exists():
        return _pinned(pin)
    if legacy is not None and legacy.exists():
        return _migrate(legacy, pin, create)
    key = _configured(create)
    if key is None:
        raise MissingKeyError(f"No pseudonymisation key: set ${PII_KEY_ENV}, or put one in "
                              f"{key_file()} (a shared server never makes its own).")
    return key


def _pinned(pin: Path) -> bytes:
    try:
        kid = str(json.loads(pin.read_text())["key"])
    except (OSError, ValueError, KeyError, TypeError):
        raise MissingKeyError(f"{pin} is unreadable: it names the key this workspace's "
                              "pseudonyms were made with.") from None
    path = pinned_dir() / f"{kid}.key"
    if not path.exists():
        raise MissingKeyError(f"This workspace's datasets were pseudonymised with its own key "
                              f"({kid}), expected at {path}; restore that file.")
    return _read_key(path)


def _migrate(legacy: Path, pin: Path | None, create: bool) -> bytes:
    """Move a workspace's own key out of it, keeping its datasets' pseudonyms valid."""
    old = _checked(legacy.read_bytes().strip(), str(legacy),
                   "Import the workspace's datasets again with a configured key.")
    configured = _configured(create=False)
    if configured is None:
        _write(key_file(), old)  # the first workspace's key becomes everyone's
    elif configured != old:
        if pin is None:
            raise MissingKeyError(f"{legacy} holds a key other than the configured one, and "
                                  "there is nowhere to keep it.")
        kid = key_id(old)
        target = pinned_dir() / f"{kid}.key"
        if not target.exists():
            _write(target, old)
        pin.write_text(json.dumps({"key": kid, "since": time.strftime("%Y-%m-%d"),
                                   "why": "the key this workspace's datasets were "
                                          "pseudonymised with (was in .secret)"}))
        log.warning("workspace %s keeps the key its datasets were pseudonymised with: moved "
                    "from .secret to %s", legacy.parent, target)
    legacy.unlink()  # never leave a key beside the data
    return old


def _write(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
