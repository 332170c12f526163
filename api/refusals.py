"""A refused API request, on the audit ledger: which token (by its holder), what, and why."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from api.state import ApiState
from broker.auditing import audit_message
from schemas.audit import Action, AuditRecord


async def record_refusal(request: Request, code: int, why: str) -> None:
    state: ApiState = request.app.state.ehx
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    # The holder's name, never the token itself.
    holder = state.credentials.role_for(token) if token else None
    entry = AuditRecord(
        action=Action.ACCESS_REFUSED,
        actor=f"token:{holder}" if holder else "anonymous" if not token else "unknown token",
        role="api client",
        agency=holder or "unknown",
        purpose=f"{code} {request.method} {request.url.path}: {why}"[:200],
        at=datetime.now(UTC),
    )
    await state.publisher.publish([audit_message(entry)])
