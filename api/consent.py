"""Consent over HTTP: record, withdraw and show consent; assert significant harm; preview.

The same records as ``ehx consent``, onto the same ``ehx.consent`` topic. A token's
holder is the recording agency: a consent cannot be recorded in another agency's name.
Writes answer 202: the record is on the topic, and the consent service applies it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ehx.api.answers import REFUSALS, invalid
from ehx.api.auditing import Reader, acting, record_read
from ehx.api.permissions import Holder, OrganisationCode, gate, reading_as
from ehx.api.state import ApiState
from ehx.consent import (
    ConsentRecord,
    ConsentState,
    Giver,
    HarmAssertion,
    Purpose,
    SubjectKind,
    load_policy,
)
from ehx.consent.preview import preview
from ehx.consent.recording import (
    CONSENT_KEEPERS,
    OnFile,
    on_file,
    recording_refusal,
    withdrawal_refusal,
)
from ehx.consent.registry import ConsentTopicRecord
from ehx.consent.service import consent_message
from ehx.consent.store import ConsentStore
from ehx.schemas import Category
from ehx.schemas.audit import Action
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Recipient

router = APIRouter(
    prefix="/v1", tags=["consent"], responses={**REFUSALS}, dependencies=[Depends(gate)]
)


class ConsentRequest(BaseModel):
    """A consent (or refusal) as a practitioner's system records it."""

    model_config = ConfigDict(extra="forbid")

    state: ConsentState = Field(ConsentState.GRANTED, description="granted or refused")
    subject_kind: SubjectKind
    subject_id: str = Field(
        min_length=1, max_length=64, description="The person or family id the exchange gave them."
    )
    given_by: str | None = Field(None, max_length=64, description="Person id of who gave it.")
    giver: Giver
    recorded_by: str = Field(min_length=1, max_length=64, description="The practitioner's id.")
    recipients: list[Recipient] = Field(
        min_length=1,
        description="Kinds: schools is the child's school (whichever it is when an event is "
        "decided), health any trust treating them, housing their landlord.",
    )
    organisations: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Named organisations (school:103291): a kind named here reaches only these.",
    )
    categories: list[Category] = Field(min_length=1)
    purpose: Purpose
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    evidence: str = Field("", max_length=500, description="Where it is written down.")
    competence: str = Field(
        "",
        max_length=200,
        description="A young person's own consent: where their competence was assessed.",
    )


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    withdrawn_by: str = Field(min_length=1, max_length=64, description="The practitioner's id.")


class AssertionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(min_length=1, max_length=64)
    family_id: str = Field(min_length=1, max_length=64)
    asserted_by: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=10, max_length=2_000)


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


async def _publish(request: Request, record: ConsentTopicRecord) -> None:
    await _state(request).publisher.publish([consent_message(record)])


def _refuse(exc: ValidationError) -> HTTPException:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return invalid(where, first["msg"].removeprefix("Value error, "))


@router.post("/consents", status_code=status.HTTP_202_ACCEPTED, summary="Record consent")
async def record_consent(
    request: Request, body: ConsentRequest, holder: Holder, organisation: OrganisationCode
) -> dict[str, Any]:
    """Record a grant or a refusal; the consent service re-decides what it touches."""
    if body.state not in (ConsentState.GRANTED, ConsentState.REFUSED):
        raise invalid(
            "state",
            "record granted or refused here; withdraw with POST /v1/consents/{id}/withdraw",
        )
    now = datetime.now(UTC)
    try:
        record = ConsentRecord(
            **body.model_dump(exclude={"valid_from"}),
            valid_from=body.valid_from or now,
            recorded_by_agency=holder,
            recorded_by_organisation=organisation,
            recorded_at=now,
        )
    except ValidationError as exc:
        raise _refuse(exc) from exc
    on_file = _on_file(ConsentStore(_state(request).engine), record)
    policy = load_policy()
    why = recording_refusal(record, holder, on_file, organisation, now, policy.young_person_min_age)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)
    acting(request, holder.value, body.recorded_by)
    await _publish(request, record)
    return {"consent_id": str(record.consent_id), "state": record.state.value}


def _on_file(store: ConsentStore, record: ConsentRecord) -> OnFile:
    """What the consent service holds about the subject: its people, their ages and
    parents, and who sent the records."""
    if record.subject_kind is SubjectKind.FAMILY:
        families = {record.subject_id}
    else:
        families = store.families_of(record.subject_id)
    return on_file(store.family_events(families))


@router.post(
    "/consents/{consent_id}/withdraw", status_code=status.HTTP_202_ACCEPTED, summary="Withdraw"
)
async def withdraw_consent(
    request: Request,
    consent_id: str,
    body: WithdrawRequest,
    holder: Holder,
    organisation: OrganisationCode,
) -> dict[str, Any]:
    """Withdraw consent: flows stop; what recipients hold under it becomes unreadable."""
    found = ConsentStore(_state(request).engine).record(consent_id)
    if not isinstance(found, ConsentRecord):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no consent {consent_id} on record")
    if found.state is not ConsentState.GRANTED:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"consent {consent_id} is {found.state.value}, not granted"
        )
    why = withdrawal_refusal(found, holder, organisation)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)
    acting(request, holder.value, body.withdrawn_by)
    # The ledger names the practitioner and the agency whose token withdrew it.
    await _publish(request, found.withdraw(body.withdrawn_by, datetime.now(UTC), holder))
    return {"consent_id": consent_id, "state": ConsentState.WITHDRAWN.value}


@router.get("/subjects/{subject_id}/consents", summary="Consent about a person or family")
async def show_consents(
    request: Request,
    subject_id: str,
    holder: Holder,
    organisation: OrganisationCode,
    reader: Reader = "",
) -> list[dict[str, Any]]:
    """The MASH and the early help hub see every consent about the subject; any other
    agency the consents it recorded itself. The read is on the ledger first."""
    now = datetime.now(UTC)
    records = [
        r
        for r in ConsentStore(_state(request).engine).records_about(subject_id)
        if isinstance(r, ConsentRecord)
        and (
            holder in CONSENT_KEEPERS
            or (
                r.recorded_by_agency is holder
                and r.recorded_by_organisation in (None, organisation)
            )
        )
    ]
    await record_read(
        request,
        Action.CONSENTS_READ,
        holder,
        reader,
        "consent records about a person or family",
        subject_ids=(subject_id,),
    )
    return [r.model_dump(mode="json") | {"in_force": r.in_force(now)} for r in records]


@router.post(
    "/harm-assertions", status_code=status.HTTP_202_ACCEPTED, summary="Assert significant harm"
)
async def assert_harm(
    request: Request, body: AssertionRequest, holder: Holder, organisation: OrganisationCode
) -> dict[str, Any]:
    """A practitioner asserts significant harm: the family's events go to the MASH, and
    their organisation, the referrer, is told what the MASH decides."""
    acting(request, holder.value, body.asserted_by)
    try:
        record = HarmAssertion(
            **body.model_dump(),
            asserted_by_agency=holder,
            asserted_by_organisation=organisation if holder in SERVING_KINDS else None,
            asserted_at=datetime.now(UTC),
        )
    except ValidationError as exc:  # a 422 with the field, never a 500 quoting the values
        raise _refuse(exc) from exc
    await _publish(request, record)
    return {"assertion_id": str(record.assertion_id)}


@router.get("/families/{family_id}/preview", summary="Preview a recipient's view")
async def preview_family(
    request: Request,
    family_id: str,
    holder: Holder,
    organisation: OrganisationCode,
    recipient: Annotated[
        str,
        Query(
            alias="as",
            max_length=48,
            description="One organisation (school:103291), a kind (schools), mash, ...",
        ),
    ],
    reader: Reader = "",
) -> list[dict[str, Any]]:
    """What ``as`` would see of the family now: outcomes, people and field names, no values.

    An agency previews its own view (a school, trust or landlord its own organisation's);
    the MASH and the early help hub, who record consent with families, any recipient's
    (what a school would see under this consent). The read is on the ledger first: even
    without values, which agencies know the family, and when, is personal."""
    try:
        who = Addressee.parse(recipient)
    except ValueError as exc:
        raise invalid("as", str(exc)) from None
    if holder not in CONSENT_KEEPERS:
        own = Addressee.parse(reading_as(holder, organisation))
        if who.recipient is not holder or who.code not in (None, own.code):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"you may preview your own view (as={own}); "
                "the MASH and the early help hub may preview any recipient's",
            )
        who = own
    await record_read(
        request,
        Action.PREVIEW_READ,
        holder,
        reader,
        f"preview of {who.label}'s view",
        family_id=family_id,
    )
    store = ConsentStore(_state(request).engine)
    lines = preview(store, load_policy(), family_id, who, datetime.now(UTC))
    return [line.as_dict() for line in lines]
