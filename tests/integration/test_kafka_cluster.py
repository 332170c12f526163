"""On Apache Kafka itself: three KRaft brokers with deploy/'s settings, principals and ACLs.

The topology is created by ``ehx topics apply`` as the admin principal deploy/ names;
``--check`` reads the brokers' own DescribeConfigs answers; each agency's principal
writes its own inbound topic only, refused by the broker anywhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from sqlalchemy import select

from ehx.audit.ledger import AuditLedger
from ehx.broker.topics import SPECS, Topic
from ehx.database import open_engine, sharing_decisions, timeline_entries
from ehx.schemas import Agency
from ehx.schemas.vocabulary import Recipient
from tests.conftest import eventually_now
from tests.flows import FILES
from tests.helpers import EXAMPLES
from tests.kafka_cluster import ADMIN, KafkaCluster

pytestmark = [pytest.mark.kafka_cluster, pytest.mark.slow]


def ehx(cluster: KafkaCluster, principal: str, *args: str) -> subprocess.CompletedProcess[str]:
    """An ``ehx`` command as an operator runs it, as ``principal``."""
    return subprocess.run(
        [sys.executable, "-m", "ehx", *args],
        env={**os.environ, **cluster.env(principal)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def topology(kafka_cluster: KafkaCluster) -> KafkaCluster:
    applied = ehx(kafka_cluster, "ehx-admin", "topics", "apply", "--json")
    assert applied.returncode == 0, applied.stderr
    assert {r["state"] for r in json.loads(applied.stdout)} <= {"created", "ok"}
    return kafka_cluster


def test_the_topology_is_created_with_three_replicas_and_check_finds_drift(
    topology: KafkaCluster,
) -> None:
    admin = AdminClient(topology.client(ADMIN))
    found = admin.list_topics(timeout=10).topics
    assert {str(t) for t in Topic if t in SPECS} <= set(found)
    linked = found[Topic.LINKED.value]
    assert len(linked.partitions) == SPECS[Topic.LINKED].partitions
    assert {len(p.replicas) for p in linked.partitions.values()} == {3}
    clean = ehx(topology, "ehx-admin", "topics", "apply", "--check", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # As an operator reads it: a table of topics in place (it once crashed printing one).
    table = ehx(topology, "ehx-admin", "topics", "apply", "--check")
    assert table.returncode == 0 and "ehx.audit" in table.stdout, table.stderr
    # Someone shortens the audit topic's retention on the cluster: --check says so.
    audit = ConfigResource(ResourceType.TOPIC, Topic.AUDIT.value, {"retention.ms": "86400000"})
    for done in admin.incremental_alter_configs([_set(audit)]).values():
        done.result(timeout=30)
    drifted = ehx(topology, "ehx-admin", "topics", "apply", "--check", "--json")
    assert drifted.returncode == 1
    [report] = [r for r in json.loads(drifted.stdout) if r["topic"] == Topic.AUDIT.value]
    assert report["drift"] == ["retention.ms: 86400000 on the cluster, -1 wanted"]
    for done in admin.incremental_alter_configs(
        [_set(ConfigResource(ResourceType.TOPIC, Topic.AUDIT.value, {"retention.ms": "-1"}))]
    ).values():
        done.result(timeout=30)


def _set(resource: ConfigResource) -> ConfigResource:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

    entries = [
        ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
        for name, value in resource.set_config_dict.items()
    ]
    return ConfigResource(resource.restype, resource.name, incremental_configs=entries)


def _produce(cluster: KafkaCluster, principal: str, topic: str) -> KafkaError | None:
    """One record to ``topic`` as ``principal`` with acks=all; the broker's answer."""
    producer = Producer(cluster.client(principal, acks="all", **{"message.timeout.ms": 15_000}))
    answers: list[KafkaError | None] = []
    producer.produce(topic, b"{}", key=b"probe", on_delivery=lambda e, _: answers.append(e))
    producer.flush(20)
    return answers[0]


def _read(cluster: KafkaCluster, principal: str, topic: str) -> Any:
    """The broker's answer to ``principal`` reading ``topic`` (an error, or None)."""
    consumer = Consumer(
        cluster.client(
            principal,
            **{"group.id": "intake", "auto.offset.reset": "earliest", "enable.auto.commit": False},
        )
    )
    try:
        consumer.subscribe([topic])
        for _ in range(20):
            message = consumer.poll(1.0)
            if message is not None and message.error() is not None:
                return message.error()
        return None
    finally:
        consumer.close()


def test_an_agency_writes_only_its_own_inbound_topic_and_reads_nothing(
    topology: KafkaCluster,
) -> None:
    assert _produce(topology, "agency-police", Topic.raw(Agency.POLICE)) is None
    refused = _produce(topology, "agency-police", Topic.raw(Agency.HEALTH))
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    for topic in (Topic.share(Recipient.SCHOOLS), Topic.AUDIT):
        answer = _read(topology, "agency-police", str(topic))
        assert answer is not None, f"agency-police read {topic}"
        assert answer.code() in (
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            KafkaError.GROUP_AUTHORIZATION_FAILED,
        )


def test_a_service_may_do_only_what_its_stage_needs(topology: KafkaCluster) -> None:
    # The timeline service reads the share topics; it never writes what the linker does.
    refused = _produce(topology, "ehx-timeline", Topic.LINKED.value)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # The intake service reads the agencies' topics in its own group.
    assert _read(topology, "ehx-intake", Topic.raw(Agency.POLICE)) is None


#: Each service with the principal deploy/kafka/acls.yaml gives it.
SERVICES = ("intake", "linker", "consent", "timeline", "audit")


def test_the_pipeline_runs_on_the_cluster_each_service_as_its_own_principal(
    topology: KafkaCluster, tmp_path: Path
) -> None:
    data = {"EHX_DATA_DIR": str(tmp_path), "EHX_KEY_PASSPHRASE": ""}
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHX_")} | data

    def run(principal: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ehx", *args],
            env=env | topology.env(principal),
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("ehx-admin", "keys", "init").returncode == 0
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in SERVICES}
    services = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ehx",
                "services",
                "--bootstrap",
                topology.bootstrap,
                "--only",
                name,
            ],
            env=env | topology.env(f"ehx-{name}"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for name, log in logs.items()
    ]
    try:
        for agency, names in FILES.items():
            files = [str(EXAMPLES / n) for n in names]
            sent = run("ehx-api", "ingest", agency.value, *files, "--json")
            assert sent.returncode == 0, sent.stdout + sent.stderr
        engine = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")

        def decided() -> int:
            with engine.connect() as connection:
                found = select(sharing_decisions.c.event_id).distinct()
                return len(connection.execute(found).all())

        # Every example event verified, linked and decided (as ehx demo counts them), and
        # what was shared is on the recipients' timelines.
        eventually_now(lambda: decided() == 10, timeout=120)
        with engine.connect() as connection:
            shown = connection.execute(select(timeline_entries.c.event_id)).scalars().all()
            assert shown
        eventually_now(lambda: AuditLedger(engine).head() is not None, timeout=60)
        verdict = run("ehx-admin", "audit", "verify", "--json")
        assert json.loads(verdict.stdout)["ok"], verdict.stdout
    finally:
        for service in services:
            service.terminate()
        for service in services:
            service.wait(30)
        for log in logs.values():
            log.close()
    for name in SERVICES:  # nobody was refused by the broker on the way
        assert "AUTHORIZATION_FAILED" not in (tmp_path / f"{name}.log").read_text(), name
