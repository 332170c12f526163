"""What the API holds open for its lifetime: the database, the keys, a Kafka publisher."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ehx.api.credentials import AgencyCredentials
from ehx.api.refusals import RefusalTally
from ehx.broker.publishing import MessagePublisher
from ehx.schemas import KeyStore


@dataclass
class ApiState:
    engine: Engine
    keys: KeyStore
    publisher: MessagePublisher
    credentials: AgencyCredentials
    #: The record registry's one thread for every ingest request, in arrival order,
    #: rather than a thread started and joined for each request.
    registry_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="ehx-registry")
    )
    #: Refusals counted per caller and minute, for the ledger.
    refusals: RefusalTally = field(default_factory=RefusalTally)
