"""The key that pseudonymises customer identities, kept away from the data it protects.

From ``$RECSYS_PII_KEY`` (a deployment's secret), else a key file outside every workspace:
``$RECSYS_PII_KEY_FILE`` or ``~/.config/recsys/pii.key``. Only the local single-analyst
default creates that file on first use; a shared server must be given its key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PII_KEY_ENV = "RECSYS_PII_KEY"
PII_KEY_FILE_ENV = "RECSYS_PII_KEY_FILE"


class MissingKeyError(ValueError):
    """No pseudonymisation key is configured (and none may be created here)."""


def key_file() -> Path:
    env = os.environ.get(PII_KEY_FILE_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "recsys" / "pii.key"


def key_location() -> str:
    """Where the key comes from, in words (for the Data page and the CLI)."""
    return f"${PII_KEY_ENV}" if os.environ.get(PII_KEY_ENV) else str(key_file())


def pii_key(create: bool = True, legacy: Path | None = None) -> bytes:
    """The key. With ``create`` (the local default) a random one is made on first use; a
    key left inside a workspace by earlier versions (``legacy``) is moved out to the key file,
    so data imported before keeps the same pseudonyms."""
    env = os.environ.get(PII_KEY_ENV)
    if env:
        return env.encode()
    path = key_file()
    if not path.exists():
        if legacy is not None and legacy.exists():
            _write(path, legacy.read_bytes().strip())
            legacy.unlink()
        elif create:
            _write(path, secrets.token_hex(32).encode())
        else:
            raise MissingKeyError(f"No pseudonymisation key: set ${PII_KEY_ENV}, or put one in "
                            f"{path} (a shared server never makes its own).")
    if legacy is not None and legacy.exists():
        legacy.unlink()  # never leave a key beside the data
    return path.read_bytes().strip()


def _write(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
