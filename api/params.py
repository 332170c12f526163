"""Query parameters several routes share, validated as strictly as the docs describe them.

pydantic reads ``-3047580956`` as a date (seconds since 1970): a schema fuzzer sent it
and got an answer for 1873. A date here is ISO 8601 and nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator

_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def _iso_only(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("a date or date and time in ISO 8601, such as 2026-11-02T09:00:00Z")
    return value


IsoInstant = Annotated[datetime, BeforeValidator(_iso_only)]
Since = Annotated[
    IsoInstant | None, Query(alias="from", description="From this instant (ISO 8601).")
]
Until = Annotated[
    IsoInstant | None, Query(alias="to", description="Up to this instant (ISO 8601).")
]
