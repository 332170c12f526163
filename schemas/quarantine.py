"""What goes on ``ehx.quarantine``: a refused record or message, its original bytes, and why."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ehx.schemas.envelope import new_event_id

#: Kafka messages are capped (1 MB by default): longer originals are kept cut short,
#: with their full length and hash so the sender can find the record they sent.
MAX_KEPT_BYTES = 512 * 1024


class QuarantineRecord(BaseModel):
    """A refusal, as data an operator can act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quarantine_id: UUID = Field(default_factory=new_event_id)
    #: Which stage refused it: ``adapter.police``, ``intake``, ...
    stage: str
    agency: str | None
    source: str
    position: str
    field: str | None
    reason: str
    refused_at: AwareDatetime
    original_b64: str
    original_length: int
    original_sha256: str
    truncated: bool

    @classmethod
    def of(
        cls,
        *,
        stage: str,
        agency: str | None,
        source: str,
        position: str,
        field: str | None,
        reason: str,
        original: bytes,
        original_length: int | None,
        refused_at: datetime,
    ) -> QuarantineRecord:
        kept = original[:MAX_KEPT_BYTES]
        length = max(original_length or 0, len(original))
        return cls(
            stage=stage,
            agency=agency,
            source=source,
            position=position,
            field=field,
            reason=reason,
            refused_at=refused_at,
            original_b64=base64.b64encode(kept).decode(),
            original_length=length,
            original_sha256=hashlib.sha256(original).hexdigest(),
            truncated=len(kept) < length,
        )

    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)
