"""Dependencies run one way: a rule module loads no Kafka client, database or web framework."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

#: What a pure rule must not pull in, directly or through its package.
PLUMBING = ("faststream", "aiokafka", "sqlalchemy", "alembic", "fastapi", "opentelemetry")


def _rule_modules() -> list[str]:
    """The rule modules, as the import contract in ``pyproject.toml`` names them (one list)."""
    config = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    [forbidden] = [c for c in contracts if c["type"] == "forbidden"]
    return list(forbidden["source_modules"])


RULES = _rule_modules()


@pytest.mark.parametrize("module", RULES)
def test_a_rule_module_imports_without_kafka_a_database_or_a_web_framework(module: str) -> None:
    # A fresh interpreter: this one has loaded everything already.
    script = f"import sys, {module}; print(' '.join(m for m in {PLUMBING!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_the_broker_package_imports_no_service() -> None:
    script = (
        "import sys, ehx.broker, ehx.broker.consuming, ehx.broker.publishing;"
        " print(' '.join(sorted({'.'.join(m.split('.')[:2]) for m in sys.modules}"
        " & {'ehx.intake', 'ehx.linker', 'ehx.consent', 'ehx.timeline', 'ehx.alerts',"
        " 'ehx.audit', 'ehx.api', 'ehx.services', 'ehx.runtime'})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_everything_installs_under_one_import_name() -> None:
    config = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]
    assert {name.split(".")[0] for name in packages} == {"ehx"}
