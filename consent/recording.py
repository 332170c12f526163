"""Who may record and withdraw consent (pure).

Consent is recorded by a practitioner of an organisation working with the family (one
that has sent the exchange a record about it: a school, not every school), or by the MASH
or the early help hub, who record consent with families as their work. It names who gave
it, a person of that family, and where it is written down. It is withdrawn by the
organisation that recorded it, the MASH, or the data protection officer.
"""

from __future__ import annotations

from dataclasses import dataclass

from ehx.consent.records import ConsentRecord, ConsentState
from ehx.schemas.vocabulary import Recipient

#: Who record consent with any family, and see every consent about a subject.
CONSENT_KEEPERS = frozenset({Recipient.MASH, Recipient.EARLY_HELP})
#: Recipients that are many organisations: each records and withdraws as one of them.
SERVING = frozenset({Recipient.SCHOOLS, Recipient.HEALTH, Recipient.HOUSING})
DPO = "data_protection_officer"


@dataclass(frozen=True)
class OnFile:
    """What the exchange holds about a consent's subject: the people in the events about
    it, and the agencies that sent those events."""

    people: frozenset[str]
    agencies: frozenset[str]
    #: ``kind:code`` of each organisation that sent one (``schools:103512``).
    organisations: frozenset[str] = frozenset()


def recording_refusal(
    record: ConsentRecord, caller: Recipient, on_file: OnFile, organisation: str | None = None
) -> str | None:
    """Why ``caller`` (of ``organisation``) may not record ``record``, in words that say
    who may; or None."""
    kind = record.subject_kind.value
    if not on_file.people:
        return f"subject_id: the exchange holds no records about {kind} {record.subject_id}"
    working_with = (
        f"{caller.value}:{organisation}" in on_file.organisations
        if caller in SERVING
        else caller.value in on_file.agencies
    )
    if caller not in CONSENT_KEEPERS and not working_with:
        sender = f"{caller.value} {organisation}" if organisation else caller.label
        return (
            f"{sender} has sent no record about this {kind}: consent is recorded by an "
            "organisation working with the family, the early help hub or the MASH"
        )
    if record.state is ConsentState.GRANTED and not record.evidence.strip():
        return "evidence: say where the consent is written down (a signed form, a case note)"
    if record.given_by is None:
        return "given_by: name who gave it (their person id in the exchange)"
    if record.given_by not in on_file.people:
        return f"given_by: {record.given_by} is not in the records about this {kind}"
    return None


def withdrawal_refusal(
    record: ConsentRecord, caller: Recipient | None, organisation: str | None = None
) -> str | None:
    """Why ``caller`` (of ``organisation``; None for the data protection officer) may not
    withdraw ``record``, saying who may; or None."""
    if caller is None or caller is Recipient.MASH:
        return None
    recorder = record.recorded_by_organisation
    if caller is record.recorded_by_agency and recorder in (None, organisation):
        return None
    who = (
        f"{record.recorded_by_agency.value} {recorder}"
        if recorder
        else (record.recorded_by_agency.label)
    )
    return (
        f"consent is withdrawn by the organisation that recorded it ({who}), the MASH or "
        "the data protection officer"
    )


def review_refusal(reviewer: str, role: str | None, asserters: set[str]) -> str | None:
    """Why ``reviewer`` (in ``role``, None if no such active account) may not countersign
    or reverse an override that ``asserters`` asserted; or None."""
    if role != "mash_manager":
        return (
            f"{reviewer} is not a MASH manager's active account: an override is "
            "countersigned or reversed by a MASH manager (ehx people add NAME --role manager)"
        )
    if reviewer in asserters:
        return f"{reviewer} asserted this harm: another MASH manager countersigns or reverses it"
    return None
