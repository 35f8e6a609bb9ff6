"""The secret of the customer key: TICKETSTREAM_CUSTOMER_KEY_SECRET, else a file under the
state directory that the first command to need it creates, readable by its owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ticketstream.errors import ConfigError
from ticketstream.settings import Settings

SECRET_FILE = "customer_key.secret"


def customer_secret(settings: Settings) -> bytes:
    """The configured secret, else the state directory's (made on first use, mode 0600).

    Raises:
        ConfigError: when the secret file cannot be read or made.
    """
    if settings.customer_key_secret is not None:
        return settings.customer_key_secret.get_secret_value().encode()
    path = settings.state_dir / SECRET_FILE
    try:
        return _read(path) if path.exists() else _create(path)
    except OSError as err:
        raise ConfigError(f"cannot use the customer key secret file {path}: {err.strerror}") from None


def _create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another command made it first
        return _read(path)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return _read(path)


def _read(path: Path) -> bytes:
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"the customer key secret file {path} is empty")
    return value.encode()
