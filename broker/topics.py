"""The Kafka topology in one place: topic names, partitions, keys, retention, compaction.

``ehx topics apply`` makes a cluster match this module; ``deploy/`` is checked against
it by a test, so the two cannot drift apart unnoticed. The partition counts are a
cluster's; the embedded broker caps them (``BrokerSettings.partitions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ehx.schemas.vocabulary import Agency, Recipient

FOREVER = -1
DAY_MS = 24 * 60 * 60 * 1000


class Topic(StrEnum):
    """The exchange's own topics. An agency's inbound topic and a recipient's share topic
    are named from the vocabulary (``raw``, ``share``), so a new agency or recipient
    needs no change here."""

    LINKED = "ehx.linked"
    CONSENT = "ehx.consent"
    DECISIONS = "ehx.decisions"
    QUARANTINE = "ehx.quarantine"
    AUDIT = "ehx.audit"
    #: Reviewers' decisions on uncertain identity links (same person, or not).
    LINKS = "ehx.links"

    @staticmethod
    def raw(agency: Agency) -> str:
        """The topic an agency writes its records to (and only it may)."""
        return f"ehx.raw.{agency.value}"

    @staticmethod
    def share(recipient: Recipient) -> str:
        """The topic of a recipient's views and retractions."""
        return f"ehx.share.{recipient.value}"


RAW_TOPICS: tuple[str, ...] = tuple(Topic.raw(agency) for agency in Agency)
SHARE_TOPICS: tuple[str, ...] = tuple(Topic.share(recipient) for recipient in Recipient)


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


#: How long the topics that carry records on their way keep them: each stage keeps what it
#: needs in its own store, so a week covers an outage, and what a sweep or an erasure
#: removes is off these topics within the week (docs/rights.md).
TRANSIT_MS = 7 * DAY_MS


def _raw(agency: Agency) -> TopicSpec:
    return TopicSpec(
        Topic.raw(agency),
        partitions=6,
        key="source record reference",
        retention_ms=TRANSIT_MS,
        why=(
            "a week, in transit: intake and the linker keep what they need in their "
            "stores; what a sweep or an erasure removes leaves the topic within the week"
        ),
    )


def _share(recipient: Recipient) -> TopicSpec:
    return TopicSpec(
        Topic.share(recipient),
        partitions=12,
        key="family id",
        why=(
            "one family, one partition: the recipient's timeline stays in order; kept, for "
            "a timeline is rebuilt from it: sealed under keys per retention period, so what "
            "expired or was erased cannot be read (ids, type, categories and dates remain)"
        ),
    )


TOPOLOGY: tuple[TopicSpec, ...] = (
    *(_raw(agency) for agency in Agency),
    TopicSpec(
        Topic.LINKED,
        partitions=12,
        key="family id",
        retention_ms=TRANSIT_MS,
        why=(
            "all of a family's events in order on one partition; a week, in transit: the "
            "consent service keeps the events it decides on file"
        ),
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
