"""``ehx topics apply`` creates the topology once, is idempotent, and reports drift."""

from __future__ import annotations

import uuid

import pytest

from ehx.broker.admin import TopicState, apply_topology
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import TOPOLOGY, TopicSpec
from tests.helpers import create_topic

pytestmark = pytest.mark.kafka


async def test_apply_twice_creates_then_finds_everything_in_place(kafka_bootstrap: str) -> None:
    settings = BrokerSettings()
    await apply_topology(kafka_bootstrap, settings)
    again = await apply_topology(kafka_bootstrap, settings)
    assert [r.topic for r in again] == [str(spec.topic) for spec in TOPOLOGY]
    assert {r.state for r in again} == {TopicState.OK}


async def test_a_topic_with_other_partitions_is_reported_as_drift(kafka_bootstrap: str) -> None:
    name = await create_topic(kafka_bootstrap, f"ehx.test.drift.{uuid.uuid4().hex[:8]}", 2)
    [report] = await apply_topology(
        kafka_bootstrap,
        BrokerSettings(max_partitions=12),
        (TopicSpec(name, partitions=3, key="test"),),
    )
    assert report.state is TopicState.DRIFT
    assert report.drift == ["partitions: 2 on the cluster, 3 wanted"]


async def test_the_embedded_broker_gets_few_partitions_and_a_cluster_the_topology_s(
    kafka_bootstrap: str,
) -> None:
    """Twelve partitions a topic add nothing on one machine but broker work; a cluster
    keeps the topology's counts, so consumers there can scale out."""
    name = f"ehx.test.cap.{uuid.uuid4().hex[:8]}"
    [created] = await apply_topology(
        kafka_bootstrap, BrokerSettings(), (TopicSpec(name, partitions=12, key="test"),)
    )
    assert created.state is TopicState.CREATED
    [checked] = await apply_topology(
        kafka_bootstrap, BrokerSettings(), (TopicSpec(name, partitions=12, key="test"),)
    )
    assert checked.state is TopicState.OK
    cluster = BrokerSettings(bootstrap_servers="kafka-0:9092")
    assert cluster.partitions(12) == 12
    assert BrokerSettings(bootstrap_servers="kafka-0:9092", max_partitions=4).partitions(12) == 4
