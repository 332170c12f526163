"""A PostgreSQL server of the fault run's own, so it can be stopped hard and started again
without touching the server everything else uses.

Made with the machine's own PostgreSQL binaries (``initdb``, ``pg_ctl``) in a scratch
folder, on a free loopback port, trust authentication. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ehx.broker.embedded import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start: says which."""


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise PostgresUnavailable("no PostgreSQL binaries (pg_ctl, initdb) on this machine")


class PrivateCluster:
    """One PostgreSQL server in a scratch folder: ``start``, ``crash``, ``stop``."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.port = free_port()
        self._scratch = tempfile.mkdtemp(prefix="ehx-pg-")
        self.data = Path(self._scratch) / "data"
        self.log = Path(self._scratch) / "postgres.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self._scratch, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed: {(done.stderr or done.stdout)[-300:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self._scratch} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a power cut would: no checkpoint, connections dropped."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable):  # not running
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> PrivateCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
