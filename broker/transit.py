"""Deleting what every reader of a transit topic has read (Kafka's DeleteRecords).

The agencies' inbound topics and ``ehx.linked`` carry records on their way: each service
keeps what it needs in its own store, and the topics keep a week for an outage. After an
erasure or a retention sweep, what they still hold of the removed records would stay
readable until the week is out; so each partition is cut at the lowest offset every
reading group has committed: nothing a service has yet to read is lost, nothing it has
read stays.

Apache Kafka does this; the embedded broker does not (it advertises DeleteRecords and
drops the connection when asked), and then the week's retention does it instead:
``Truncation.refused`` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import KafkaError

from ehx.broker.admin import admin_client
from ehx.broker.embedded import EMBEDDED_CLUSTER_ID
from ehx.broker.settings import BrokerSettings


@dataclass
class Truncation:
    #: Partitions cut, with the offset each now begins at.
    cut: dict[str, int] = field(default_factory=dict)
    #: Why nothing was cut, in words, if the broker would not.
    refused: str | None = None


async def delete_what_was_read(
    bootstrap: str, settings: BrokerSettings, readers: Mapping[str, Sequence[str]]
) -> Truncation:
    """Cut each partition of each topic of ``readers`` (topic: the groups that read it) at
    the lowest offset all its groups have committed; a partition some group has never
    committed on is left whole."""
    found = Truncation()
    async with admin_client(bootstrap, settings, "transit") as admin:
        try:
            await _cut(admin, readers, found)
        except (KafkaError, OSError) as exc:
            found.refused = (
                f"this broker would not delete records ({type(exc).__name__}); the topics' "
                "retention removes them instead"
            )
    return found


async def _cut(
    admin: AIOKafkaAdminClient, readers: Mapping[str, Sequence[str]], found: Truncation
) -> None:
    if (await admin.describe_cluster())["cluster_id"] == EMBEDDED_CLUSTER_ID:
        # It advertises DeleteRecords, then drops the connection when asked.
        found.refused = (
            "the embedded broker cannot delete records; the topics' retention removes them instead"
        )
        return
    committed: dict[str, dict[TopicPartition, int]] = {}
    for group in sorted({g for groups in readers.values() for g in groups}):
        offsets = await admin.list_consumer_group_offsets(group)
        committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    cuts: dict[TopicPartition, RecordsToDelete] = {}
    for topic, groups in readers.items():
        partitions = {tp for g in groups for tp in committed.get(g, {}) if tp.topic == topic}
        for tp in partitions:
            reached = [committed[g].get(tp) for g in groups]
            if all(r is not None for r in reached):
                lowest = min(r for r in reached if r is not None)
                if lowest > 0:
                    cuts[tp] = RecordsToDelete(lowest)
    if cuts:
        done = await admin.delete_records(cuts)
        found.cut = {f"{tp.topic}:{tp.partition}": low for tp, low in sorted(done.items())}
