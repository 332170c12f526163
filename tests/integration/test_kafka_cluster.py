"""On Apache Kafka itself: three KRaft brokers with deploy/'s settings, principals and ACLs.

The topology is created by ``ehx topics apply`` as the admin principal deploy/ names;
``--check`` reads the brokers' own DescribeConfigs answers; each agency's principal
writes its own inbound topic only, refused by the broker anywhere else.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType
from pydantic import SecretStr
from sqlalchemy import Engine, select

from bench.faults import Disruption, fault_run, kill_a_leader, pause_a_broker, steady
from bench.kafka_cluster import ADMIN, KafkaCluster
from ehx.audit.ledger import AuditLedger
from ehx.broker.errors import BrokerError
from ehx.broker.publishing import KafkaPublisher, OutboundMessage
from ehx.broker.reading import read_from_start
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import RAW_TOPICS, SPECS, Topic
from ehx.database import migrate, open_engine, received_events, sharing_decisions, timeline_entries
from ehx.schemas import Agency, KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.conftest import eventually_now
from tests.exchange import person_named
from tests.flows import FILES, aged
from tests.helpers import EXAMPLES
from tests.people import registered
from tests.records import example_events
from tests.rights.test_removal import decide_every_alert

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


#: The agencies' private keys are encrypted at rest against a real cluster (ehx refuses
#: to start a service with plain keys there).
PASSPHRASE = "a passphrase for this test's keys only"

#: Each service with the principal deploy/kafka/acls.yaml gives it.
SERVICES = ("intake", "linker", "consent", "timeline", "audit")


@dataclass
class Exchange:
    """ehx on the cluster: a data folder (SQLite, keys) and its services, each a process
    of its own as its own principal."""

    cluster: KafkaCluster
    folder: Path

    @property
    def env(self) -> dict[str, str]:
        mine = {"EHX_DATA_DIR": str(self.folder), "EHX_KEY_PASSPHRASE": PASSPHRASE}
        return {k: v for k, v in os.environ.items() if not k.startswith("EHX_")} | mine

    def run(self, principal: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ehx", *args],
            env=self.env | self.cluster.env(principal),
            capture_output=True,
            text=True,
            timeout=120,
        )

    @property
    def engine(self) -> Engine:
        return open_engine(f"sqlite:///{self.folder / 'ehx.db'}")

    @contextmanager
    def services(self, *names: str) -> Iterator[None]:
        assert self.run("ehx-admin", "keys", "init").returncode == 0
        migrate(self.engine)  # before the services, so the test may read it at once
        logs = {name: (self.folder / f"{name}.log").open("wb") for name in names}
        command = [sys.executable, "-m", "ehx", "services", "--bootstrap", self.cluster.bootstrap]
        running = [
            subprocess.Popen(
                [*command, "--only", name],
                env=self.env | self.cluster.env(f"ehx-{name}"),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for name, log in logs.items()
        ]
        try:
            yield
        finally:
            for service in running:
                service.terminate()
            for service in running:
                service.wait(30)
            for log in logs.values():
                log.close()
        for name in names:  # nobody was refused by the broker on the way
            assert "AUTHORIZATION_FAILED" not in (self.folder / f"{name}.log").read_text()


def test_the_pipeline_runs_on_the_cluster_each_service_as_its_own_principal(
    topology: KafkaCluster, tmp_path: Path
) -> None:
    ehx = Exchange(topology, tmp_path)
    # The police incidents two years old: the schools' Encompass notices of them (kept a
    # year) are due for the retention sweep below.
    (tmp_path / "police.jsonl").write_bytes(aged("police.jsonl", 2))
    with ehx.services(*SERVICES):
        for agency, names in FILES.items():
            files = [str(tmp_path / n if n == "police.jsonl" else EXAMPLES / n) for n in names]
            sent = ehx.run("ehx-api", "ingest", agency.value, *files, "--json")
            assert sent.returncode == 0, sent.stdout + sent.stderr
        engine = ehx.engine

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
        verdict = ehx.run("ehx-admin", "audit", "verify", "--json")
        assert json.loads(verdict.stdout)["ok"], verdict.stdout

        # The DPO's sweep and an erasure, as the rights principal, while the services
        # run: each cuts the inbound and linked topics at what every service has read,
        # then proves over every topic and table, and on Apache Kafka nothing removed is
        # left to wait out a topic's week.
        registered(engine, "dpo-cluster", "dpo")
        swept = ehx.run("ehx-rights", "rights", "sweep", "--by", "dpo-cluster", "--json")
        assert swept.returncode == 0, swept.stdout + swept.stderr
        report = json.loads(swept.stdout)
        assert report["entries"] >= 2  # the schools' notices of the old incident
        assert report["transit"]["refused"] is None and report["transit"]["cut"]
        proof = report["proof"]
        assert proof["ok"] and proof["messages"] > 0
        assert proof["readable"] == proof["until_retention"] == []
        decide_every_alert(engine)
        amina = person_named(engine, "Amina")
        erased = ehx.run(
            "ehx-rights",
            *("rights", "erase", amina, "--by", "dpo-cluster", "--json"),
            *("--reason", "Her request; no case open; the DPO's decision on file."),
        )
        assert erased.returncode == 0, erased.stdout + erased.stderr
        proof = json.loads(erased.stdout)["proof"]
        assert proof["ok"] and proof["readable"] == proof["until_retention"] == []
        transit = [*RAW_TOPICS, Topic.LINKED.value]
        left = asyncio.run(_count(topology.bootstrap, topology.settings("ehx-rights"), transit))
        assert left == 0  # every example record was read by every service, and cut
        verdict = ehx.run("ehx-admin", "audit", "verify", "--json")
        assert json.loads(verdict.stdout)["ok"], verdict.stdout


async def _count(bootstrap: str, settings: BrokerSettings, topics: list[str]) -> int:
    """How many records ``topics`` still hold, read from their beginning."""
    seen = 0
    async for records in read_from_start(bootstrap, settings, topics, purpose="count"):
        seen += len(records)
    return seen


def test_an_agency_system_produces_signed_events_straight_to_its_topic(
    topology: KafkaCluster, tmp_path: Path
) -> None:
    """The third way in: an agency's own system, with its own principal and a client that
    is not ours, produces signed canonical events to its inbound topic; intake treats them
    as it treats HTTP and files: verified, stored once, refused into quarantine with why."""
    ehx = Exchange(topology, tmp_path)
    with ehx.services("intake"):
        signer = KeyStore(tmp_path / "keys", SecretStr(PASSPHRASE)).signer(Agency.HOUSING)
        event = signer.sign(example_events(Agency.HOUSING, EXAMPLES / "housing.jsonl")[0])
        producer = Producer(topology.client("agency-housing", acks="all"))
        topic, key = Topic.raw(Agency.HOUSING), event.source.record_ref.encode()
        for _ in range(2):  # sent twice, as a retrying system does: stored once
            producer.produce(topic, event.to_bytes(), key=key)
        forged = event.model_copy(update={"occurred_at": event.occurred_at.replace(year=2020)})
        producer.produce(topic, forged.to_bytes(), key=key)  # altered after signing
        producer.produce(topic, b"{not json", key=b"broken")
        assert producer.flush(30) == 0

        def stored() -> list[str]:
            with ehx.engine.connect() as connection:
                rows = select(received_events.c.event_id).where(
                    received_events.c.agency == Agency.HOUSING.value
                )
                return list(connection.execute(rows).scalars())

        eventually_now(lambda: stored() == [str(event.event_id)], timeout=60)
        refused = [
            r
            for _, value in _records(topology, Topic.QUARANTINE.value)
            if (r := json.loads(value))["stage"] == "intake" and r["source"] == topic
        ]
        assert len(refused) == 2 and all(r["position"] for r in refused), refused
        reasons = " ".join(r["reason"] for r in refused)
        assert "signature" in reasons and "JSON" in reasons, reasons
        assert stored() == [str(event.event_id)]  # the copy and the forgery: not stored


def test_a_broker_killed_mid_stream_loses_nothing_acknowledged_and_keeps_order(
    topology: KafkaCluster,
) -> None:
    """acks=all to a topic with three replicas and min.insync.replicas 2: one broker
    SIGKILLed halfway through a steady stream and restarted; every acknowledged record is
    there afterwards, each family's in the order sent."""
    topic = f"faults-{os.urandom(4).hex()}"
    admin = AdminClient(topology.client(ADMIN))
    spec = NewTopic(topic, 3, 3, config={"min.insync.replicas": "2"})
    admin.create_topics([spec])[topic].result(timeout=30)
    settings = topology.settings(ADMIN)
    acknowledged: list[tuple[str, int]] = []

    retried = 0

    async def stream() -> None:
        nonlocal retried
        async with KafkaPublisher(topology.bootstrap, settings) as publisher:
            for batch in range(40):
                if batch == 20:  # the leader of partition 0, lost without warning
                    topology.kill(topology.leader(topic))
                sent = [(f"f{n % 12:02d}", batch * 25 + n) for n in range(25)]
                messages = [OutboundMessage(topic, f.encode(), str(s).encode()) for f, s in sent]
                for _ in range(10):  # as a service does: a batch not acknowledged is sent again
                    try:
                        await publisher.publish(messages)
                        break
                    except Exception:
                        retried += 1
                acknowledged.extend(sent)

    asyncio.run(stream())
    for node in topology.nodes.values():
        if node.process is None:
            topology.start_node(node.node_id)
    seen = [(key.decode(), int(value)) for key, value in _records(topology, topic)]
    assert set(seen) == set(acknowledged)  # nothing acknowledged is lost
    twice = len(seen) - len(set(seen))
    print(f"broker killed: {retried} batches sent again, {twice} records twice")
    for family in {f for f, _ in acknowledged}:
        order = list(dict.fromkeys(s for f, s in seen if f == family))
        assert order == sorted(order), family  # each family in the order sent


def test_with_fewer_in_sync_replicas_than_required_a_write_is_refused_clearly(
    topology: KafkaCluster,
) -> None:
    """Fewer replicas in sync than min.insync.replicas: the write is refused, saying so,
    and nothing acknowledged before is lost. (Three combined nodes cannot lose two and
    keep their controller quorum, so this topic asks for all three in sync and loses one.)"""
    topic = f"isr-{os.urandom(4).hex()}"
    admin = AdminClient(topology.client(ADMIN))
    spec = NewTopic(topic, 1, 3, config={"min.insync.replicas": "3"})
    admin.create_topics([spec])[topic].result(timeout=30)
    settings = topology.settings(ADMIN)
    follower = next(n for n in topology.nodes if n != topology.leader(topic))

    async def write(value: bytes) -> None:
        async with KafkaPublisher(topology.bootstrap, settings) as publisher:
            await publisher.publish([OutboundMessage(topic, b"f01", value)])

    asyncio.run(write(b"before"))
    topology.kill(follower)
    try:
        with pytest.raises(BrokerError, match="in sync"):
            asyncio.run(write(b"during"))
    finally:
        topology.start_node(follower)
    # What was acknowledged is kept. The refused record may still appear once the
    # replicas catch up (the leader had written it): readers keep an event once, by id.
    assert [value for _, value in _records(topology, topic)][:1] == [b"before"]


def _records(cluster: KafkaCluster, topic: str) -> list[tuple[bytes, bytes]]:
    """(key, value) of every record on ``topic``, each partition in its order, read until
    the topic has been quiet for a few seconds."""
    group = f"read-{os.urandom(4).hex()}"
    consumer = Consumer(
        cluster.client(ADMIN, **{"group.id": group, "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes, bytes]] = []
    quiet = 0
    try:
        while quiet < 8:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                quiet += 1
                continue
            quiet = 0
            found.append((message.key() or b"", message.value() or b""))
    finally:
        consumer.close()
    return found


def test_ehx_says_plainly_when_the_broker_refuses_its_principal(
    topology: KafkaCluster, tmp_path: Path
) -> None:
    ehx = Exchange(topology, tmp_path)
    assert ehx.run("ehx-admin", "keys", "init").returncode == 0
    health = str(EXAMPLES / "health-amina-ed.json")
    sent = ehx.run("agency-police", "ingest", "health", health)
    said = " ".join(sent.stderr.split())
    assert sent.returncode == 2, said
    assert "error: the broker refused agency-police writing to" in said
    assert "ehx.raw.health" in said and "deploy/kafka/acls.yaml" in said
    assert "Traceback" not in said


@pytest.mark.parametrize("fault", [kill_a_leader, pause_a_broker])
def test_the_pipeline_loses_duplicates_and_reorders_nothing_when_a_broker_fails(
    topology: KafkaCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[KafkaCluster], Disruption],
) -> None:
    """The fault checker of ``ehx bench --suite faults``, on real replication: a steady
    stream through every service (each its own principal) while a broker fails."""
    for name, value in topology.env("ehx-api").items():  # the stream's own principal
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EHX_KEY_PASSPHRASE", PASSPHRASE)

    report = asyncio.run(
        fault_run(
            topology.bootstrap,
            f"sqlite:///{tmp_path / 'ehx.db'}",
            tmp_path,
            people=600,  # about 950 records: ten seconds at 100 a second, the fault in the middle
            disrupt=fault(topology),
            rate=steady(100.0),
            stream_seconds=10.0,
            settle_seconds=180.0,
            own=topology.principal_env,
        )
    )
    topology.whole()  # for the next test
    check = report["check"]
    assert report["ok"], check  # nothing lost, nothing twice, no family out of order
    assert set(check["lost"].values()) == set(check["duplicated"].values()) == {0}
    assert check["out_of_order_families"] == 0 and report["disruptions"], report
