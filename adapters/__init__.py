"""Agency adapters: parse each agency's format, validate, map to canonical events, sign, publish."""

from adapters.base import AgencyAdapter, MappedRecord
from adapters.framing import RawRecord
from adapters.health import HealthAdapter
from adapters.housing import HousingAdapter
from adapters.ingest import Ingestor, IngestSummary, Refusal
from adapters.police import PoliceAdapter
from adapters.registry import Outcome, RecordRegistry
from adapters.schools import SchoolsAdapter
from broker.publishing import KafkaPublisher, MessagePublisher, OutboundMessage
from schemas import Agency as _Agency

ADAPTERS: dict[_Agency, AgencyAdapter] = {
    _Agency.POLICE: PoliceAdapter(),
    _Agency.HEALTH: HealthAdapter(),
    _Agency.SCHOOLS: SchoolsAdapter(),
    _Agency.HOUSING: HousingAdapter(),
}

__all__ = [
    "ADAPTERS",
    "AgencyAdapter",
    "HealthAdapter",
    "HousingAdapter",
    "IngestSummary",
    "Ingestor",
    "KafkaPublisher",
    "MappedRecord",
    "MessagePublisher",
    "OutboundMessage",
    "Outcome",
    "PoliceAdapter",
    "RawRecord",
    "RecordRegistry",
    "Refusal",
    "SchoolsAdapter",
]
