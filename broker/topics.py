"""The Kafka topology in one place: topic names, partitions, keys, retention, compaction.

``ehx topics apply`` makes a cluster match this module; ``deploy/`` is checked against
it by a test, so the two cannot drift apart unnoticed. The partition counts are a
cluster's; the embedded broker caps them (``BrokerSettings.partitions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.vocabulary import Agency, Recipient

FOREVER = -1
DAY_MS = 24 * 60 * 60 * 1000


class Topic(StrEnum):
    """Every topic the exchange uses."""

    RAW_POLICE = "ehx.raw.police"
    RAW_HEALTH = "ehx.raw.health"
    RAW_SCHOOLS = "ehx.raw.schools"
    RAW_HOUSING = "ehx.raw.housing"
    LINKED = "ehx.linked"
    CONSENT = "ehx.consent"
    DECISIONS = "ehx.decisions"
    SHARE_MASH = "ehx.share.mash"
    SHARE_EARLY_HELP = "ehx.share.early_help"
    SHARE_POLICE = "ehx.share.police"
    SHARE_HEALTH = "ehx.share.health"
    SHARE_SCHOOLS = "ehx.share.schools"
    SHARE_HOUSING = "ehx.share.housing"
    QUARANTINE = "ehx.quarantine"
    AUDIT = "ehx.audit"
    #: Reviewers' decisions on uncertain identity links (same person, or not).
    LINKS = "ehx.links"

    @classmethod
    def raw(cls, agency: Agency) -> Topic:
        return cls(f"ehx.raw.{agency.value}")

    @classmethod
    def share(cls, recipient: Recipient) -> Topic:
        return cls(f"ehx.share.{recipient.value}")


RAW_TOPICS: tuple[Topic, ...] = tuple(Topic.raw(agency) for agency in Agency)


@dataclass(frozen=True)
class TopicSpec:
    """What a topic must look like on any cluster."""

    #: A ``Topic`` member in the topology; any name when checking a cluster by hand.
    topic: str
    partitions: int
    key: str
    cleanup_policy: str = "delete"
    retention_ms: int = FOREVER
    why: str = ""

    def configs(self, replication_factor: int) -> dict[str, str]:
        """Topic-level configs; ``min.insync.replicas`` only where there are replicas."""
        configs = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if replication_factor >= 3:
            configs["min.insync.replicas"] = "2"
        return configs


def _raw(agency: Agency) -> TopicSpec:
    return TopicSpec(
        Topic.raw(agency),
        partitions=6,
        key="source record reference",
        why="kept forever: the timeline and the linker are rebuilt by replaying it",
    )


def _share(recipient: Recipient) -> TopicSpec:
    return TopicSpec(
        Topic.share(recipient),
        partitions=12,
        key="family id",
        why="one family, one partition: the recipient's timeline stays in order",
    )


TOPOLOGY: tuple[TopicSpec, ...] = (
    *(_raw(agency) for agency in Agency),
    TopicSpec(
        Topic.LINKED,
        partitions=12,
        key="family id",
        why="all of a family's events in order on one partition",
    ),
    TopicSpec(
        Topic.CONSENT,
        partitions=3,
        key="consent record id",
        cleanup_policy="compact",
        why="compacted: the latest state of each consent record is kept",
    ),
    TopicSpec(
        Topic.DECISIONS,
        partitions=12,
        key="family id",
        why=(
            "every decision, in order, an event's together in one message; the audit "
            "ledger records each one from here"
        ),
    ),
    *(_share(recipient) for recipient in Recipient),
    TopicSpec(
        Topic.QUARANTINE,
        partitions=3,
        key="agency",
        retention_ms=90 * DAY_MS,
        why="refused records wait 90 days for an operator to fix and resend",
    ),
    TopicSpec(
        Topic.LINKS,
        partitions=1,
        key="review id",
        cleanup_policy="compact",
        why="reviewers' link decisions, in order; compacted: the latest per pair is kept",
    ),
    TopicSpec(
        Topic.AUDIT,
        partitions=1,
        key="actor id",
        why="one partition: the ledger's hash chain needs one total order",
    ),
)

SPECS: dict[str, TopicSpec] = {spec.topic: spec for spec in TOPOLOGY}
