"""``deploy/`` and ``broker/topics.py`` describe the same topics, settings and permissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ehx.broker.topics import RAW_TOPICS, SHARE_TOPICS, SPECS, TOPOLOGY, Topic
from ehx.schemas import Agency
from ehx.schemas.vocabulary import Recipient

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_topic_has_a_spec_and_the_names_follow_the_scheme() -> None:
    # One inbound topic an agency and one share topic a recipient, named from the vocabulary.
    assert set(SPECS) == set(Topic) | set(RAW_TOPICS) | set(SHARE_TOPICS)
    assert set(RAW_TOPICS) == {f"ehx.raw.{a.value}" for a in Agency}
    assert set(SHARE_TOPICS) == {f"ehx.share.{r.value}" for r in Recipient}


def test_topics_keyed_by_family_keep_a_family_on_one_partition_and_audit_is_one_sequence() -> None:
    assert SPECS[Topic.LINKED].key == "family id"
    assert SPECS[Topic.AUDIT].partitions == 1  # the hash chain needs one total order
    assert SPECS[Topic.CONSENT].cleanup_policy == "compact"


def test_kubernetes_topics_match_the_topology_with_replication_three() -> None:
    topics = {
        d["spec"]["topicName"]: d["spec"] for d in _docs(DEPLOY / "kubernetes" / "topics.yaml")
    }
    assert set(topics) == {str(spec.topic) for spec in TOPOLOGY}
    for spec in TOPOLOGY:
        deployed = topics[str(spec.topic)]
        assert deployed["partitions"] == spec.partitions, spec.topic
        assert deployed["replicas"] == 3
        assert deployed["config"] == spec.configs(3)
        assert deployed["config"]["min.insync.replicas"] == "2"


def test_compose_runs_kraft_with_three_nodes_and_applies_the_topology_with_replication_three() -> (
    None
):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    kafka = [
        name for name in compose["services"] if name.startswith("kafka-") and name[-1].isdigit()
    ]
    assert kafka == ["kafka-1", "kafka-2", "kafka-3"]
    # Each node's settings, which the test suite's real cluster runs too.
    start = (DEPLOY / "kafka" / "server.properties").read_text()
    assert "server.properties" in (DEPLOY / "kafka" / "start.sh").read_text()
    assert "process.roles=broker,controller" in start  # KRaft, no ZooKeeper
    assert "min.insync.replicas=2" in start and "default.replication.factor=3" in start
    assert "allow.everyone.if.no.acl.found=false" in start
    topics_job = compose["services"]["ehx-topics"]
    assert topics_job["command"] == ["topics", "apply", "--check"]
    assert topics_job["environment"]["EHX_REPLICATION_FACTOR"] == "3"
    assert topics_job["environment"]["EHX_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert {"postgres", "otel-collector", "ehx-services"} <= set(compose["services"])


def test_each_agency_may_write_only_its_own_raw_topic() -> None:
    acls = yaml.safe_load((DEPLOY / "kafka" / "acls.yaml").read_text())["principals"]
    known = {str(spec.topic) for spec in TOPOLOGY}
    for agency in Agency:
        rights = acls[f"agency-{agency.value}"]
        assert rights == {"write": [Topic.raw(agency)]}
    for principal, rights in acls.items():
        for op in ("read", "write", "delete"):
            assert set(rights.get(op, [])) <= known, (principal, op)
    # Deleting records is the DPO's, and only from the topics that carry them on their way.
    deleters = {p: r["delete"] for p, r in acls.items() if r.get("delete")}
    assert deleters == {"ehx-rights": [*RAW_TOPICS, Topic.LINKED.value]}


def test_kubernetes_users_carry_the_same_acls() -> None:
    acls = yaml.safe_load((DEPLOY / "kafka" / "acls.yaml").read_text())["principals"]
    users = {
        d["metadata"]["name"]: d
        for d in _docs(DEPLOY / "kubernetes" / "kafka.yaml")
        if d["kind"] == "KafkaUser"
    }
    assert set(users) == set(acls)
    for name, rights in acls.items():
        rules = users[name]["spec"]["authorization"]["acls"]
        writes = {r["resource"]["name"] for r in rules if "Write" in r["operations"]}
        reads = {
            r["resource"]["name"]
            for r in rules
            if "Read" in r["operations"] and r["resource"]["type"] == "topic"
        }
        assert writes == set(rights.get("write", [])), name
        assert reads == set(rights.get("read", [])), name
        deletes = {r["resource"]["name"] for r in rules if "Delete" in r["operations"]}
        assert deletes == set(rights.get("delete", [])), name
        looks = {
            r["resource"]["name"]
            for r in rules
            if r["resource"]["type"] == "group" and r["operations"] == ["Describe"]
        }
        assert looks == set(rights.get("describe_groups", [])), name


def test_every_services_consumer_group_is_allowed_by_name() -> None:
    from ehx.audit.service import GROUP as AUDIT
    from ehx.consent.service import GROUP as CONSENT
    from ehx.intake.service import GROUP as INTAKE
    from ehx.linker.service import GROUP as LINKER
    from ehx.linker.service import REVIEWS
    from ehx.timeline.service import GROUP as TIMELINE

    acls = yaml.safe_load((DEPLOY / "kafka" / "acls.yaml").read_text())["principals"]
    allowed = {group for rights in acls.values() for group in rights.get("groups", [])}
    used = {INTAKE, LINKER, REVIEWS, CONSENT, f"{CONSENT}-registry", TIMELINE, AUDIT}
    assert used == allowed
