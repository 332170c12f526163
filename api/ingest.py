"""``POST /v1/agencies/{agency}/records``: the HTTP way in, through the same ingest pipeline."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from typing import IO, Annotated

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse

from ehx.adapters import ADAPTERS, RawRecord
from ehx.adapters.framing import read_csv, read_json_documents, read_lines
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.adapters.schools import HEADER
from ehx.api.answers import BODY_REFUSALS, INGEST_ANSWERS, REFUSALS
from ehx.api.permissions import Holder, OrganisationCode, gate
from ehx.api.state import ApiState
from ehx.schemas import Agency

router = APIRouter(
    prefix="/v1/agencies",
    tags=["agency ingest"],
    responses={**REFUSALS, **BODY_REFUSALS},
    dependencies=[Depends(gate)],
)

#: A body larger than this is refused: before it is read if it says so, else as soon as
#: what has arrived passes it (a chunked body is counted as it streams in).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Records in one request; bulk loads go through ``ehx ingest`` or the watched folder.
MAX_RECORDS = 5_000
#: Seconds to wait for the next part of a body before giving up on the sender.
BODY_IDLE_SECONDS = 10.0
_TOO_LARGE = f"send at most {MAX_BODY_BYTES} bytes per request"

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


async def read_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it is too large, and given up on (408) if the
    sender stops sending: a ``Content-Length`` larger than the body would otherwise hold
    a worker until the client gave up."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _TOO_LARGE)
    parts: list[bytes] = []
    size = 0
    chunks = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_SECONDS):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise HTTPException(
                status.HTTP_408_REQUEST_TIMEOUT,
                f"the body stopped arriving for {BODY_IDLE_SECONDS:.0f} s; send it whole",
            ) from None
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _TOO_LARGE)
        parts.append(chunk)
    return b"".join(parts)


def _one_document(body: bytes) -> bool:
    try:
        return isinstance(orjson.loads(body), dict)
    except orjson.JSONDecodeError:
        return False


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


async def authenticated_agency(agency: Agency, holder: Holder) -> Agency:
    """The agency in the path, which must be the one the bearer token belongs to."""
    if holder.value != agency.value:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this token belongs to {holder.value} and may submit only as {holder.value}",
        )
    return agency


@router.post(
    "/{agency}/records",
    responses=INGEST_ANSWERS,
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
    sender: OrganisationCode,
    content_type: Annotated[str, Header()] = "application/json",
) -> JSONResponse:
    framer = _framer(agency, content_type)
    body = await read_body(request)
    lines = body.count(b"\n") + (not body.endswith(b"\n"))
    # One line more for a CSV's header row; a pretty-printed document is one record.
    if lines > MAX_RECORDS + 1 and not _one_document(body):
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"send at most {MAX_RECORDS} records per request; this body has {lines} lines",
        )
    state = _state(request)
    ingestor = Ingestor(
        ADAPTERS[agency],
        RecordRegistry(state.engine),
        state.keys.signer(agency),
        state.publisher,
        registry_thread=state.registry_thread,
        organisation=sender,  # a record naming another organisation is refused
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
