"""A real OpenID provider (npm's oidc-provider on Node) for the single sign-on tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
#: Outside the repository, kept between runs (as Maven's and Playwright's caches are).
CACHE = Path(os.environ.get("EHX_TEST_CACHE", Path.home() / ".cache" / "ehx-tests")) / "oidc"
PACKAGE = "oidc-provider@9.13.3"
CLIENT_SECRET = "test-only-client-secret-" + "x" * 24


def installed() -> Path:
    """The provider package in the cache, installed from the npm registry if missing."""
    modules = CACHE / "node_modules"
    if not (modules / "oidc-provider").exists():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("EHX_REQUIRE_BROWSER") == "1":
                pytest.fail("EHX_REQUIRE_BROWSER=1 but npm is missing for the OpenID provider")
            pytest.skip("no npm: the OpenID provider for the sign-on tests needs Node")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(CACHE),
                PACKAGE,
            ],
            check=True,
            timeout=300,
        )
    return modules


@contextmanager
def openid_provider(port: int, redirect_uri: str, people: dict[str, Any]) -> Iterator[str]:
    """The provider on ``port``, its client redirecting to ``redirect_uri``; yields the
    issuer URL. ``people``: each name's claims (``groups``, ``organisation``)."""
    modules = installed()
    node = shutil.which("node") or "/usr/bin/node"
    script = CACHE / "provider.mjs"  # beside node_modules, so its import resolves
    shutil.copyfile(HERE / "provider.mjs", script)
    process = subprocess.Popen(
        [node, str(script), str(port), redirect_uri],
        env={
            **os.environ,
            "NODE_PATH": str(modules),
            "EHX_TEST_PEOPLE": json.dumps(people),
            "EHX_TEST_CLIENT_SECRET": CLIENT_SECRET,
        },
        stdout=subprocess.PIPE,  # read until it is ready; it says little after that
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        said = []  # it warns first that Node 20 is not the LTS it prefers; it runs on it
        while (line := process.stdout.readline()) and line.strip() != "ready":
            said.append(line)
            assert len(said) < 20 and process.poll() is None, "".join(said)
        assert line.strip() == "ready", "".join(said)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
