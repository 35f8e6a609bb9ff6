"""`ticketstream serve` in its own process, for the tests that ask it over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from tests.integration.conftest import Cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(cli: Cli, stderr: int | IO[str] = subprocess.PIPE) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start `serve` on a free port, wait until `/healthz` answers, yield (base URL, process);
    stopped by SIGTERM on exit (its stderr, when piped, is left to read)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ticketstream", "serve", "--port", str(port)],
                              env=cli.env, cwd=cli.cwd, stderr=stderr, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)
