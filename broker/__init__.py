"""The Kafka side: the topology, settings and security, the embedded broker, and what every
service does alike (its router, batch subscriptions, verification, the order of side effects)."""

from ehx.broker.admin import TopicReport, TopicState, apply_topology
from ehx.broker.embedded import EmbeddedBroker, embedded_broker
from ehx.broker.errors import BrokerError, BrokerUnavailable, EmbeddedBrokerError, NoRunningBroker
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import RAW_TOPICS, SHARE_TOPICS, SPECS, TOPOLOGY, Topic, TopicSpec

__all__ = [
    "RAW_TOPICS",
    "SHARE_TOPICS",
    "SPECS",
    "TOPOLOGY",
    "BrokerError",
    "BrokerSettings",
    "BrokerUnavailable",
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "NoRunningBroker",
    "Topic",
    "TopicReport",
    "TopicSpec",
    "TopicState",
    "apply_topology",
    "embedded_broker",
]
