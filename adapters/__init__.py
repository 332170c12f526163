"""Agency adapters: parse each agency's format, validate, map to canonical events.

Pure (no Kafka, no database). ``adapters.ingest`` signs and publishes what they map;
``adapters.registry`` remembers what was sent; ``adapters.watch`` watches a folder.
"""

from ehx.adapters.base import AgencyAdapter, MappedRecord
from ehx.adapters.framing import RawRecord
from ehx.adapters.health import HealthAdapter
from ehx.adapters.housing import HousingAdapter
from ehx.adapters.police import PoliceAdapter
from ehx.adapters.schools import SchoolsAdapter
from ehx.schemas import Agency as _Agency

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
    "MappedRecord",
    "PoliceAdapter",
    "RawRecord",
    "SchoolsAdapter",
]
