"""The local runtime behind ``ehx up``, ``ehx status`` and ``ehx down``.

``up`` starts the embedded broker and the services as background processes and writes
where they are to ``<data dir>/run/state.json``; every other command reads that file to
find the running broker by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ehx.broker.embedded import HOST, EmbeddedBroker, answers
from ehx.broker.errors import NoRunningBroker
from ehx.broker.settings import BrokerSettings

#: The services, in pipeline order, one process each under ``up`` (the timeline service
#: raises alerts too; the audit service keeps the ledger every other one writes to).
SERVICES = ("intake", "linker", "consent", "timeline", "audit")


@dataclass(frozen=True)
class ProcessState:
    pid: int
    log: str
    started_at: str


@dataclass(frozen=True)
class RuntimeState:
    bootstrap: str
    port: int
    broker: ProcessState
    #: Each service's process, by name.
    services: dict[str, ProcessState]


def run_dir(settings: BrokerSettings) -> Path:
    return settings.data_dir / "run"


def state_path(settings: BrokerSettings) -> Path:
    return run_dir(settings) / "state.json"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def read_state(settings: BrokerSettings) -> RuntimeState | None:
    path = state_path(settings)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    services = data.get("services") or {}
    if "pid" in services:  # written before the services ran one process each
        services = {"services": services}
    return RuntimeState(
        bootstrap=data["bootstrap"],
        port=data["port"],
        broker=ProcessState(**data["broker"]),
        services={name: ProcessState(**process) for name, process in services.items()},
    )


def write_state(settings: BrokerSettings, state: RuntimeState) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2))


def running_bootstrap(settings: BrokerSettings) -> str | None:
    """The configured cluster, else the broker ``ehx up`` started, else None."""
    if settings.bootstrap_servers:
        return settings.bootstrap_servers
    state = read_state(settings)
    if state and alive(state.broker.pid) and answers(state.port):
        return state.bootstrap
    return None


def require_bootstrap(settings: BrokerSettings) -> str:
    bootstrap = running_bootstrap(settings)
    if bootstrap is None:
        raise NoRunningBroker()
    return bootstrap


@contextlib.contextmanager
def broker_for_command(settings: BrokerSettings) -> Iterator[str]:
    """The running broker if there is one, otherwise an embedded one for this command only."""
    bootstrap = running_bootstrap(settings)
    if bootstrap is not None:
        yield bootstrap
        return
    with EmbeddedBroker(port=settings.embedded_port) as broker:
        yield broker.bootstrap


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start_background(settings: BrokerSettings) -> RuntimeState:
    """Start the embedded broker and the services in the background; return where they are."""
    logs = settings.data_dir / "logs"
    broker = EmbeddedBroker(
        port=settings.embedded_port, log_path=logs / "broker.log", detach=True
    ).start()
    assert broker.process is not None
    state = RuntimeState(
        bootstrap=broker.bootstrap,
        port=broker.port,
        broker=ProcessState(broker.process.pid, str(logs / "broker.log"), _now()),
        services={},
    )
    write_state(settings, state)
    return state


def start_services(settings: BrokerSettings, state: RuntimeState) -> RuntimeState:
    """Each service in a background process of its own (``ehx services --only NAME``)."""
    started: dict[str, ProcessState] = {}
    for name in SERVICES:
        log_path = settings.data_dir / "logs" / f"{name}.log"
        command = [sys.executable, "-m", "ehx", "services", "--bootstrap", state.bootstrap]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*command, "--only", name],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "EHX_DATA_DIR": str(settings.data_dir.resolve())},
            )
        started[name] = ProcessState(process.pid, str(log_path), _now())
    state = RuntimeState(state.bootstrap, state.port, state.broker, started)
    write_state(settings, state)
    return state


def stop_process(pid: int, timeout: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True if it was running."""
    if not alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def stop_background(settings: BrokerSettings) -> list[str]:
    """Stop what ``up`` started, services first; return what was stopped."""
    state = read_state(settings)
    stopped: list[str] = []
    if state is None:
        return stopped
    for name, process in state.services.items():
        if stop_process(process.pid):
            stopped.append(f"{name} (pid {process.pid})")
    if stop_process(state.broker.pid):
        stopped.append(f"broker (pid {state.broker.pid}, {HOST}:{state.port})")
    state_path(settings).unlink(missing_ok=True)
    return stopped
