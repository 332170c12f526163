"""A real Apache Kafka cluster on this machine: three KRaft nodes on loopback, for the
test suite (tests/integration/test_kafka_cluster.py) and ``ehx bench --suite
faults-cluster``.

The broker is the Apache Kafka server from Maven Central (``deploy/kafka/pom.xml``),
fetched once into a cache outside the repository (``EHX_KAFKA_CACHE``, else
``~/.cache/ehx/kafka``) and run on the machine's JDK. Each node runs the production
settings of ``deploy/kafka/server.properties`` as they are (TLS between the nodes with
client certificates, SASL/SCRAM over TLS for clients) and the principals and ACLs of
``deploy/kafka/acls.yaml``, so a wrong setting or ACL there fails a test. Only the names
the file leaves open are filled in: loopback addresses and ports, data folders, and a
throwaway certificate authority made here (each node's certificate names ``kafka-N``, as
in production, and 127.0.0.1, where the tests reach it).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ehx.broker.embedded import free_port
from ehx.broker.settings import BrokerSettings

KAFKA = Path(__file__).parents[1] / "deploy" / "kafka"
#: The principal the fixture itself acts as (a super user, as in deploy/).
ADMIN = "admin"


def make_certificates(folder: Path) -> Path:
    """A certificate authority and each node's key and certificate, as
    deploy/scripts/make-secrets.sh makes them for Compose (``ca.crt``, ``kafka-N.pem``:
    key then certificate); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ehx-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for n in (1, 2, 3):
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName(f"kafka-{n}"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kafka-{n}")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) + cert.public_bytes(serialization.Encoding.PEM)
        (folder / f"kafka-{n}.pem").write_bytes(pem)
    return folder


def kafka_jars() -> Path:
    """The broker's jars, fetched by Maven into the cache the first time (about 15 s)."""
    pom = KAFKA / "pom.xml"
    version = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    root = Path(os.environ.get("EHX_KAFKA_CACHE", Path.home() / ".cache" / "ehx" / "kafka"))
    lib = root / version / "lib"
    if (lib / ".complete").exists():
        return lib
    shutil.rmtree(lib, ignore_errors=True)
    work = root / version / "build"
    subprocess.run(
        [
            shutil.which("mvn") or "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            f"-Dproject.build.directory={work}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (lib / ".complete").touch()
    return lib


def principals() -> dict[str, dict[str, Any]]:
    """Each principal of deploy/kafka/acls.yaml and what it may do."""
    found: dict[str, dict[str, Any]] = yaml.safe_load((KAFKA / "acls.yaml").read_text())[
        "principals"
    ]
    return found


def node_settings(
    node_id: int, ports: dict[int, tuple[int, int, int]], data: Path, secrets: Path
) -> str:
    """deploy/kafka/server.properties for one loopback node: its names filled in."""
    internal, client, controller = ports[node_id]
    values = {
        "ID": str(node_id),
        "VOTERS": ",".join(f"{n}@127.0.0.1:{p[2]}" for n, p in sorted(ports.items())),
        "BIND": "127.0.0.1",
        "HOST": "127.0.0.1",
        "INTERNAL_PORT": str(internal),
        "CLIENT_PORT": str(client),
        "CONTROLLER_PORT": str(controller),
        "DATA": str(data),
        "SECRETS": str(secrets),
    }
    lines = [
        re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], line)
        for line in (KAFKA / "server.properties").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Node:
    node_id: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class KafkaCluster:
    """Three KRaft nodes (controller and broker each) on loopback."""

    workdir: Path
    jars: Path
    nodes: dict[int, Node] = field(default_factory=dict)
    ports: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def secrets(self) -> Path:
        return self.workdir / "secrets"

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p[1]}" for _, p in sorted(self.ports.items()))

    def env(self, principal: str) -> dict[str, str]:
        """The ``EHX_`` settings an ehx process uses to reach the cluster as ``principal``."""
        return {
            "EHX_BOOTSTRAP_SERVERS": self.bootstrap,
            "EHX_SECURITY_PROTOCOL": "SASL_SSL",
            "EHX_SSL_CAFILE": str(self.secrets / "ca.crt"),
            "EHX_SASL_MECHANISM": "SCRAM-SHA-512",
            "EHX_SASL_USERNAME": principal,
            "EHX_SASL_PASSWORD": self.passwords[principal],
            "EHX_REPLICATION_FACTOR": "3",
        }

    def settings(self, principal: str) -> BrokerSettings:
        """ehx's broker settings as ``principal``: what ``env`` gives a process, read as
        the process would read it."""
        fields = {k.removeprefix("EHX_").lower(): v for k, v in self.env(principal).items()}
        return BrokerSettings.model_validate(fields)

    def client(self, principal: str, **extra: Any) -> dict[str, Any]:
        """A confluent-kafka (librdkafka) client's settings, as ``principal``."""
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(self.secrets / "ca.crt"),
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": principal,
            "sasl.password": self.passwords[principal],
            # Connection errors while a broker is down are the point of some tests: they
            # read the broker's answers, not librdkafka's log of them.
            "log_level": 2,
            **extra,
        }

    def _java(self, *args: str) -> list[str]:
        return [
            "java",
            "-Xms128m",
            "-Xmx512m",
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.yaml'}",
            "-cp",
            f"{self.jars}/*",
            *args,
        ]

    def start(self) -> None:
        """Format each node's storage with every principal's SCRAM credential, start the
        three, and wait until the cluster answers with three brokers and the ACLs set."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.yaml").write_text(_LOG4J)
        make_certificates(self.secrets)
        self.passwords = {p: secrets.token_urlsafe(18) for p in [ADMIN, *principals()]}
        self.ports = {n: (free_port(), free_port(), free_port()) for n in (1, 2, 3)}
        scram = [
            arg
            for name, password in self.passwords.items()
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]
        formatting = []
        for n in self.ports:
            data = self.workdir / f"node-{n}"
            config = self.workdir / f"node-{n}.properties"
            config.write_text(node_settings(n, self.ports, data, self.secrets))
            self.nodes[n] = Node(n, config, self.workdir / f"node-{n}.log")
            formatting.append(
                subprocess.Popen(
                    self._java(
                        "kafka.tools.StorageTool",
                        "format",
                        "--config",
                        str(config),
                        "--cluster-id",
                        "ehx-test-cluster-0001",
                        *scram,
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        for process in formatting:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err.decode()[-2000:]
        for n in self.nodes:
            self.start_node(n)
        self._wait_for_brokers(3, timeout=120)
        self._grant()

    def start_node(self, node_id: int) -> None:
        node = self.nodes[node_id]
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                self._java("kafka.Kafka", str(node.config)), stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, node_id: int) -> None:
        """SIGKILL: a node lost without warning."""
        process = self.nodes[node_id].process
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            self.nodes[node_id].process = None

    def pause(self, node_id: int) -> None:
        process = self.nodes[node_id].process
        assert process is not None
        process.send_signal(signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        process = self.nodes[node_id].process
        assert process is not None
        process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes.values():
            if node.process is not None:
                try:
                    node.process.wait(30)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(30)
                node.process = None

    def leader(self, topic: str, partition: int = 0) -> int:
        """The node leading ``partition`` of ``topic`` now."""
        from confluent_kafka.admin import AdminClient

        found = AdminClient(self.client(ADMIN)).list_topics(topic, timeout=10).topics[topic]
        return int(found.partitions[partition].leader)

    def principal_env(self, service: str) -> dict[str, str]:
        """What ``ehx services --only SERVICE`` adds to reach the cluster as its own
        principal (``ehx-intake``, ...), the rest of ``env`` being another's."""
        principal = f"ehx-{service}"
        return {"EHX_SASL_USERNAME": principal, "EHX_SASL_PASSWORD": self.passwords[principal]}

    def whole(self) -> None:
        """Every node running again (after a test or a run that killed one)."""
        for node in self.nodes.values():
            if node.process is None:
                self.start_node(node.node_id)

    def _wait_for_brokers(self, count: int, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(self.client(ADMIN))
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):  # not up yet
                if len(admin.list_topics(timeout=5).brokers) >= count:
                    return
            if time.monotonic() > deadline:
                logs = "\n".join(n.log.read_text()[-1500:] for n in self.nodes.values())
                raise AssertionError(f"the cluster did not start:\n{logs}")
            time.sleep(0.5)

    def _grant(self) -> None:
        """Every ACL of deploy/kafka/acls.yaml, created as the admin."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(self.client(ADMIN))
        for done in admin.create_acls(acl_bindings(principals())).values():
            done.result(timeout=30)  # raises, naming the binding, if the broker refuses


def acl_bindings(acls: dict[str, dict[str, Any]]) -> list[Any]:
    """The ACLs acls.yaml describes, as deploy/kafka/apply-acls.sh creates them: each
    principal's topics to read, write and delete from, its consumer groups (and groups
    it may only look at), and the admin's rights to create topics and read their configs."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    def allow(kind: Any, name: str, principal: str, operation: Any) -> Any:
        return AclBinding(
            kind,
            name,
            ResourcePatternType.LITERAL,
            f"User:{principal}",
            "*",
            operation,
            AclPermissionType.ALLOW,
        )

    bindings = []
    for principal, rights in acls.items():
        for topic in rights.get("read", []):
            bindings.append(allow(ResourceType.TOPIC, topic, principal, AclOperation.READ))
        for topic in rights.get("write", []):
            bindings.append(allow(ResourceType.TOPIC, topic, principal, AclOperation.WRITE))
        for topic in rights.get("delete", []):
            bindings.append(allow(ResourceType.TOPIC, topic, principal, AclOperation.DELETE))
        for group in rights.get("groups", []):
            bindings.append(allow(ResourceType.GROUP, group, principal, AclOperation.READ))
        for group in rights.get("describe_groups", []):
            bindings.append(allow(ResourceType.GROUP, group, principal, AclOperation.DESCRIBE))
        if rights.get("create") == "all":
            bindings.append(
                allow(ResourceType.BROKER, "kafka-cluster", principal, AclOperation.CREATE)
            )
        if rights.get("describe_configs") == "all":
            for operation in (AclOperation.DESCRIBE_CONFIGS, AclOperation.DESCRIBE):
                bindings.append(allow(ResourceType.TOPIC, "*", principal, operation))
    return bindings


@contextlib.contextmanager
def acting_as(cluster: KafkaCluster, principal: str) -> Iterator[dict[str, Any]]:
    """This process's ehx settings (``EHX_...``) as ``principal`` on ``cluster``, with a
    key passphrase (ehx refuses plain keys on a real deployment), until the block ends;
    yields the aiokafka options for the same principal."""
    saved = dict(os.environ)
    os.environ.update(cluster.env(principal))
    os.environ["EHX_KEY_PASSPHRASE"] = secrets.token_urlsafe(18)
    try:
        yield BrokerSettings().client_options()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def running_cluster(workdir: Path) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(workdir, kafka_jars())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


_LOG4J = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""
