"""`ticketstream customer …`: erase (crypto-shredding), export (subject access), encrypt-existing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ticketstream import assembly
from consumers.personal_data import secret_fingerprint
from ticketstream.customer_data import encrypt_existing, erase, export, keys_of, rotate_secret
from ticketstream.customer_secret import customer_secret, install_secret, pending_secret
from ticketstream.errors import TicketstreamError
from ticketstream.progress import progress
from ticketstream.safe_text import say
from ticketstream.log_setup import configure_logging
from ticketstream.settings import Settings, load_settings

customer_app = typer.Typer(no_args_is_help=True, help="Customer data: erase, export, encrypt, rotate the secret.")

Phone = Annotated[Optional[str], typer.Option("--phone", help="The customer's phone, any formatting")]
Email = Annotated[Optional[str], typer.Option("--email", help="The customer's e-mail")]
Key = Annotated[Optional[str], typer.Option("--key", help="The pseudonymous customer key")]


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _console() -> Console:
    return Console(soft_wrap=True)


@customer_app.command("erase")
def customer_erase(phone: Phone = None, email: Email = None, key: Key = None) -> None:
    """Delete the customer's data key: every event stays, their personal data reads [erased]."""
    settings = _settings()
    app = assembly.open_incidents(settings)
    console = _console()
    for customer in keys_of(app, customer_secret(settings), phone, email, key, settings.customer_phone_region):
        had = erase(app, customer)
        state = "deleted its data key" if had else "no data key held (already erased or never stored)"
        say(console, f"customer {customer}: {state}; erasure recorded")


@customer_app.command("export")
def customer_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="JSON file to write")],
    phone: Phone = None, email: Email = None, key: Key = None,
) -> None:  # fmt: skip
    """Write what the store holds about the customer (subject access request) as JSON."""
    settings = _settings()
    console = _console()
    side = assembly.read_side(settings)  # read-only; kept: its application closes the store when dropped
    app = side.reader.app
    customer = keys_of(app, customer_secret(settings), phone, email, key, settings.customer_phone_region)
    with progress(console, "reading the store", None) as advance:
        count = export(app, customer, output, advance)
    say(console, f"customer {', '.join(customer)}: {count} incidents written to {output}")


@customer_app.command("encrypt-existing")
def customer_encrypt_existing() -> None:
    """Seal personal data stored before encryption, rewriting those events (done once)."""
    settings = _settings()
    console = _console()
    app = assembly.open_incidents(settings)
    with progress(console, "sealing stored personal data", None) as advance:
        done = encrypt_existing(app, customer_secret(settings), settings.customer_phone_region, advance)
    if done.nothing:
        say(console, "nothing to seal: every stored event, dead letter and parked event with personal"
                     " data is sealed already")  # fmt: skip
        return
    say(console, f"sealed the personal data of {done.events} stored events, {done.dead_letters} dead"
                 f" letters and {done.parked} parked events; run `ticketstream projections rebuild"
                 " --all` so the repeat-contacts report knows their customers")  # fmt: skip


@customer_app.command("rotate-secret")
def customer_rotate_secret(
    new_secret_file: Annotated[Optional[Path], typer.Option(
        "--new-secret-file", help="Read the new secret from this file (else one is made);"
        " needed when the secret is TICKETSTREAM_CUSTOMER_KEY_SECRET")] = None,
) -> None:  # fmt: skip
    """Move to a new customer key secret: every customer still readable keeps their key.

    Stop every consumer first; start them again after (they read the secret when they start)."""
    settings = _settings()
    console = _console()
    old = customer_secret(settings)
    new, pending = pending_secret(settings, new_secret_file)
    if new == old:
        raise TicketstreamError("the new secret is the one in force: nothing to rotate")
    app = assembly.open_incidents(settings)
    with progress(console, "indexing readable customers under the new secret", None) as advance:
        done = rotate_secret(app, new, settings.customer_phone_region, advance)
    where = "TICKETSTREAM_CUSTOMER_KEY_SECRET: set it to the new secret" if pending is None else \
        f"{install_secret(settings, pending)} now holds the new secret"  # fmt: skip
    say(console, f"indexed {done.customers} customers, {done.incidents} name-only customers and"
                 f" {done.messages} dead-letter customers under the new secret (fingerprint"
                 f" {done.fingerprint}, was {secret_fingerprint(old)}); {where}, then restart every"
                 " consumer; the old secret is no longer needed")  # fmt: skip
