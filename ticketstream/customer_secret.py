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


def pending_secret(settings: Settings, given: Path | None) -> tuple[bytes, Path | None]:
    """The new secret of a rotation and, when the secret is the state directory's file, the
    file holding it until the rotation is done (``customer_key.secret.new``, mode 0600).

    A file left by a rotation that did not finish is used again: running the rotation once
    more completes it. ``given``: a file to read the new secret from (required when the
    secret is TICKETSTREAM_CUSTOMER_KEY_SECRET, which ticketstream cannot change).

    Raises:
        ConfigError: when the new secret cannot be read or written, or none is given where
            one is needed.
    """
    try:
        new = _read(given) if given is not None else None
        if settings.customer_key_secret is not None:
            if new is None:
                raise ConfigError("the secret is TICKETSTREAM_CUSTOMER_KEY_SECRET: give the new one with --new-secret-file")
            return new, None
        path = settings.state_dir / (SECRET_FILE + ".new")
        if new is None and path.exists():
            return _read(path), path
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write((new.decode() if new is not None else secrets.token_hex(32)) + "\n")
        return _read(path), path
    except OSError as err:
        raise ConfigError(f"cannot use the new customer key secret: {err.strerror}") from None


def install_secret(settings: Settings, pending: Path) -> Path:
    """Make the rotation's new secret the state directory's (an atomic rename); its path.

    Raises:
        ConfigError: when it cannot be renamed.
    """
    path = settings.state_dir / SECRET_FILE
    try:
        os.replace(pending, path)
    except OSError as err:
        raise ConfigError(f"the store is re-indexed under the new secret in {pending}, but it cannot"
                          f" be moved to {path}: {err.strerror}; move it there") from None  # fmt: skip
    return path
