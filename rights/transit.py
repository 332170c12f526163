"""Which services read the topics that carry records on their way, for cutting them.

After a sweep or an erasure, what those topics still hold of the removed records is
deleted up to where every service that reads them has read (``broker.transit``).
"""

from __future__ import annotations

from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import RAW_TOPICS, Topic
from ehx.broker.transit import Truncation, delete_what_was_read
from ehx.consent.service import GROUP as CONSENT
from ehx.intake.service import GROUP as INTAKE
from ehx.linker.service import GROUP as LINKER

#: Each transit topic and the consumer groups that must have read a record before it goes.
READERS: dict[str, tuple[str, ...]] = {
    **{topic: (INTAKE, LINKER) for topic in RAW_TOPICS},
    Topic.LINKED.value: (CONSENT,),
}


async def cut_transit(bootstrap: str, settings: BrokerSettings) -> Truncation:
    return await delete_what_was_read(bootstrap, settings, READERS)
