"""The shapes of the API's refusals, declared so the OpenAPI says what the server answers.

A refusal (401, 403, 404, 408, 409, 413, 415) is ``{"detail": "what is wrong, and who
could"}``. A 422 always has FastAPI's validation shape, a list of ``{loc, msg, type}``,
whether the request broke the schema or a rule behind it; never the value that was sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel


class Refusal(BaseModel):
    """Why the request was refused, in words, and where that helps, who could do it."""

    detail: str


def _refused(why: str) -> dict[str, Any]:
    return {"model": Refusal, "description": why}


#: What any route of the API may answer besides its own success.
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: _refused("No token, or a token that is unknown, expired or revoked."),
    403: _refused("This token's holder may not do this; the detail says who may."),
    404: _refused("Nothing of that id is in this holder's view."),
    409: _refused("The request conflicts with what is on record (already decided, merged)."),
}
#: What the ingest route may answer besides: a body too slow, too large or of a type
#: the agency does not send.
BODY_REFUSALS: dict[int | str, dict[str, Any]] = {
    408: _refused("The body stopped arriving."),
    413: _refused("The body is over 64 MiB or holds more than 5,000 records."),
    415: _refused("Not a content type this agency sends."),
}


class Problem(BaseModel):
    """One thing wrong with a request: where, and what (never the value sent)."""

    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """A 422: each problem with the request."""

    detail: list[Problem]


class RecordProblem(BaseModel):
    """A record refused (or a part of one left out), where it was, and why."""

    source: str
    position: str
    field: str | None
    reason: str


class IngestAnswer(BaseModel):
    """What became of each record sent: counts, and every refusal with its reason."""

    agency: str
    records: int
    accepted: int
    events_published: int
    superseded: int
    resumed: int
    duplicates: int
    refused: list[RecordProblem]
    warnings: list[RecordProblem]


#: The ingest route's answers: all accepted, some refused, all refused (or a request
#: that is not one at all, in the validation shape).
INGEST_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestAnswer, "description": "Every record accepted."},
    207: {"model": IngestAnswer, "description": "Some records refused: each is listed."},
    422: {
        "model": IngestAnswer | Invalid,
        "description": "Every record refused (each listed), or the request itself invalid.",
    },
}


def invalid(field: str, why: str) -> HTTPException:
    """A 422 in the validation shape: the field (dotted) and what is wrong with it."""
    loc = ["body", *[part for part in field.split(".") if part]]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": loc, "msg": why, "type": "value_error"}],
    )
