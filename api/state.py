"""What the API holds open for its lifetime: the database, the keys, a Kafka publisher."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from adapters import MessagePublisher
from api.credentials import AgencyCredentials
from schemas import KeyStore


@dataclass
class ApiState:
    engine: Engine
    keys: KeyStore
    publisher: MessagePublisher
    credentials: AgencyCredentials
