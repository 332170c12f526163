"""``ehx topics apply``: create missing topics and report drift from the topology module."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ehx.broker.errors import BrokerUnavailable
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import TOPOLOGY, TopicSpec

TOPIC_ALREADY_EXISTS = 36


class TopicState(StrEnum):
    CREATED = "created"
    OK = "ok"
    DRIFT = "drift"


@dataclass
class TopicReport:
    """What ``apply`` found or did for one topic."""

    topic: str
    state: TopicState
    drift: list[str] = field(default_factory=list)
    #: Configs the broker would not describe (the embedded broker reports none).
    unverified: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def admin_client(
    bootstrap: str, settings: BrokerSettings, purpose: str
) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client as ``settings`` say (its id names ``purpose``), started, and closed
    after; ``BrokerUnavailable`` if the broker does not answer."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id=f"{settings.client_id}-{purpose}",
        **settings.client_options(),
    )
    try:
        await admin.start()
    except Exception as exc:
        raise BrokerUnavailable(bootstrap, type(exc).__name__) from exc
    try:
        yield admin
    finally:
        await admin.close()


async def apply_topology(
    bootstrap: str,
    settings: BrokerSettings,
    topology: tuple[TopicSpec, ...] = TOPOLOGY,
) -> list[TopicReport]:
    """Create each missing topic; check each existing one. Safe to run any number of times.

    Drift is reported, never "fixed": shrinking partitions is impossible and growing
    them would move families between partitions and break their order.
    """
    async with admin_client(bootstrap, settings, "admin") as admin:
        # List first and describe only what exists: some brokers (tansu) create a
        # topic with default settings when asked about one they do not know.
        existing = set(await admin.list_topics())
        reports: list[TopicReport] = []
        missing = [spec for spec in topology if str(spec.topic) not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        str(spec.topic),
                        settings.partitions(spec.partitions),
                        settings.replication_factor,
                        topic_configs=spec.configs(settings.replication_factor),
                    )
                    for spec in missing
                ]
            )
            for name, code, message in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise BrokerUnavailable(bootstrap, f"cannot create {name}: {message}")
            reports += [TopicReport(str(spec.topic), TopicState.CREATED) for spec in missing]
        present = [spec for spec in topology if str(spec.topic) in existing]
        if present:
            reports += await _check(admin, present, settings)
        order = {str(spec.topic): index for index, spec in enumerate(topology)}
        return sorted(reports, key=lambda report: order[report.topic])


async def _check(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], settings: BrokerSettings
) -> list[TopicReport]:
    replication_factor = settings.replication_factor
    described = {
        entry["topic"]: entry
        for entry in await admin.describe_topics([str(s.topic) for s in specs])
    }
    config_responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, str(spec.topic)) for spec in specs]
    )
    actual_configs: dict[str, dict[str, str]] = {}
    for response in config_responses:
        for resource in response.resources:
            _code, _message, _type, name, entries = resource[:5]
            actual_configs[name] = {entry[0]: entry[1] for entry in entries}
    reports = []
    for spec in specs:
        name = str(spec.topic)
        report = TopicReport(name, TopicState.OK)
        found = described.get(name, {}).get("partitions", [])
        count = settings.partitions(spec.partitions)
        if len(found) != count:
            report.drift.append(f"partitions: {len(found)} on the cluster, {count} wanted")
        replicas = sorted({len(p.get("replicas", ())) for p in found})
        if replicas and replicas != [replication_factor]:
            shown = ", ".join(str(r) for r in replicas)
            report.drift.append(f"replication: {shown} on the cluster, {replication_factor} wanted")
        configs = actual_configs.get(name, {})
        for key, wanted in spec.configs(replication_factor).items():
            if key not in configs:
                report.unverified.append(key)
            elif configs[key] != wanted:
                report.drift.append(f"{key}: {configs[key]} on the cluster, {wanted} wanted")
        if report.drift:
            report.state = TopicState.DRIFT
        reports.append(report)
    return reports
