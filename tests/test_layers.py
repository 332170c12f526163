"""Dependencies run one way: a rule module loads no Kafka client, database or web framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: What a pure rule must not pull in, directly or through its package.
PLUMBING = ("faststream", "aiokafka", "sqlalchemy", "alembic", "fastapi", "opentelemetry")

RULES = [
    "schemas",
    "consent.decide",
    "consent.policy",
    "linker.index",
    "linker.families",
    "alerts.needs",
    "alerts.encompass",
    "adapters.police",
    "adapters.health",
    "adapters.schools",
    "adapters.housing",
    "audit.verify",
]


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
        "import sys, broker, broker.consuming, broker.publishing;"
        " print(' '.join(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'intake', 'linker', 'consent', 'timeline', 'alerts', 'audit', 'ehx', 'api'})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
