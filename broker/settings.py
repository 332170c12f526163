"""Broker connection settings: the only place the Kafka connection is configured."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Partitions per topic on the embedded broker (see ``BrokerSettings.partitions``).
EMBEDDED_PARTITIONS = 2


class BrokerSettings(BaseSettings):
    """How to reach Kafka. With no ``EHX_BOOTSTRAP_SERVERS``, ehx runs its embedded broker."""

    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True, extra="ignore")

    #: Comma-separated ``host:port`` list of a real cluster; empty means embedded.
    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    #: Replication factor for topics ``ehx topics apply`` creates (3 in production).
    replication_factor: int = 1
    #: Where ``ehx up`` keeps its state and logs, and where the SQLite database lives.
    data_dir: Path = Path(".ehx")
    #: Loopback port for the embedded broker; 0 picks a free one.
    embedded_port: int = 0
    client_id: str = "ehx"
    #: At most this many partitions per topic when topics are created. Unset: the
    #: topology's own counts on a cluster (12 for a family-keyed topic, for consumers
    #: scaled out), and ``EMBEDDED_PARTITIONS`` on the embedded broker.
    max_partitions: int | None = None

    def partitions(self, wanted: int) -> int:
        """How many partitions a topic the topology gives ``wanted`` has here.

        The embedded broker runs one consumer per service on one machine, so more
        partitions add no parallelism, only work: tansu's cost grows with the partitions
        each fetch names (docs/performance.md). A cap never splits a family: a key still
        maps to one partition, only to another one.
        """
        cap = self.max_partitions
        if cap is None and self.bootstrap_servers is None:
            cap = EMBEDDED_PARTITIONS
        return min(wanted, cap) if cap else wanted

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (security only, never the servers)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None
            )
            if self.ssl_certfile:
                context.load_cert_chain(
                    str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
                )
            options["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options
