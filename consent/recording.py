"""Who may record and withdraw consent (pure).

Consent is recorded by a practitioner of an agency working with the family (one that has
sent the exchange a record about it), or by the MASH or the early help hub, who record
consent with families as their work. It names who gave it, a person of that family, and
where it is written down. It is withdrawn by the agency that recorded it or by the MASH.
"""

from __future__ import annotations

from dataclasses import dataclass

from ehx.consent.records import ConsentRecord, ConsentState
from ehx.schemas.vocabulary import Recipient

#: Who record consent with any family, and see every consent about a subject.
CONSENT_KEEPERS = frozenset({Recipient.MASH, Recipient.EARLY_HELP})


@dataclass(frozen=True)
class OnFile:
    """What the exchange holds about a consent's subject: the people in the events about
    it, and the agencies that sent those events."""

    people: frozenset[str]
    agencies: frozenset[str]


def recording_refusal(record: ConsentRecord, caller: Recipient, on_file: OnFile) -> str | None:
    """Why ``caller`` may not record ``record``, in words that say who may; or None."""
    kind = record.subject_kind.value
    if not on_file.people:
        return f"subject_id: the exchange holds no records about {kind} {record.subject_id}"
    if caller not in CONSENT_KEEPERS and caller.value not in on_file.agencies:
        return (
            f"{caller.label} has sent no record about this {kind}: consent is recorded by an "
            "agency working with the family, the early help hub or the MASH"
        )
    if record.state is ConsentState.GRANTED and not record.evidence.strip():
        return "evidence: say where the consent is written down (a signed form, a case note)"
    if record.given_by is None:
        return "given_by: name who gave it (their person id in the exchange)"
    if record.given_by not in on_file.people:
        return f"given_by: {record.given_by} is not in the records about this {kind}"
    return None


def withdrawal_refusal(record: ConsentRecord, caller: Recipient) -> str | None:
    """Why ``caller`` may not withdraw ``record``, saying who may; or None."""
    if caller in (record.recorded_by_agency, Recipient.MASH):
        return None
    return (
        f"consent is withdrawn by the agency that recorded it "
        f"({record.recorded_by_agency.label}) or the MASH"
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
