"""``POST /v1/agencies/{agency}/records``: the HTTP way in, through the same ingest pipeline."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ehx.adapters import ADAPTERS, RawRecord
from ehx.adapters.framing import read_csv, read_json_documents, read_lines
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.adapters.schools import HEADER
from ehx.api.credentials import AUDITOR
from ehx.api.state import ApiState
from ehx.schemas import Agency
from ehx.schemas.vocabulary import Recipient

router = APIRouter(prefix="/v1/agencies", tags=["agency ingest"])
bearer = HTTPBearer(auto_error=False, description="The agency system's token (ehx agencies token)")

#: A body larger than this is refused before it is read.
MAX_BODY_BYTES = 64 * 1024 * 1024

Framer = Callable[[IO[bytes], str], Iterator[RawRecord]]


def _framer(agency: Agency, content_type: str) -> Framer:
    """How to cut a request body into records, by content type."""
    kind = content_type.split(";")[0].strip().lower()
    accepted = ADAPTERS[agency].content_types
    if kind not in accepted:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"{agency.value} records are sent as one of: {', '.join(accepted)}",
        )
    if kind == "text/csv":
        return lambda stream, source: read_csv(stream, source, HEADER)
    if kind.endswith("ndjson"):
        return lambda stream, source: read_lines(stream, source)
    return lambda stream, source: read_json_documents(stream, source)


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


async def token_holder(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Recipient:
    """Who the bearer token belongs to; 401 without a live token."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send your token as a Bearer credential",
            headers={"WWW-Authenticate": "Bearer"},
        )
    holder = _state(request).credentials.holder_for(credentials.credentials)
    if holder is None and _state(request).credentials.role_for(credentials.credentials) == AUDITOR:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "an auditor's token reads the audit ledger and nothing else"
        )
    if holder is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return holder


async def authenticated_agency(
    agency: Agency,
    holder: Annotated[Recipient, Depends(token_holder)],
) -> Agency:
    """The agency in the path, which must be the one the bearer token belongs to."""
    if holder.value != agency.value:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this token belongs to {holder.value} and may submit only as {holder.value}",
        )
    return agency


@router.post(
    "/{agency}/records",
    summary="Submit agency records",
    description=(
        "Send records in the agency's format: police and housing as JSON or NDJSON, "
        "schools as CSV, health as FHIR R4 Bundles (JSON or NDJSON). The response lists "
        "what was accepted and what was refused, with position, field and reason. "
        "200: all accepted; 207: some refused; 422: all refused."
    ),
)
async def submit_records(
    request: Request,
    agency: Annotated[Agency, Depends(authenticated_agency)],
    content_type: Annotated[str, Header()] = "application/json",
    content_length: Annotated[int | None, Header()] = None,
) -> JSONResponse:
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"send at most {MAX_BODY_BYTES} bytes per request"
        )
    framer = _framer(agency, content_type)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"send at most {MAX_BODY_BYTES} bytes per request"
        )
    state = _state(request)
    ingestor = Ingestor(
        ADAPTERS[agency],
        RecordRegistry(state.engine),
        state.keys.signer(agency),
        state.publisher,
        registry_thread=state.registry_thread,
    )
    summary = await ingestor.ingest(io.BytesIO(body), "request", frame=framer)
    code = status.HTTP_200_OK
    if summary.refused:
        code = (
            status.HTTP_422_UNPROCESSABLE_CONTENT
            if summary.records == len(summary.refused)
            else 207
        )
    return JSONResponse(summary.as_dict(), status_code=code)
