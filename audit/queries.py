"""What auditors ask the ledger: who saw a child, which overrides and their reviews, what an
agency received; and the ledger as FHIR AuditEvent resources or CSV.

Each answer is built from entries' bodies (what the chain covers) and names each entry's
``seq``, so any line of an answer can be checked against ``ehx audit verify``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent

from ehx.audit.ledger import AuditLedger, Found
from ehx.schemas.audit import DELIVERIES, READS, Action, AuditRecord
from ehx.schemas.spreadsheet import safe_cell

OVERRIDES = (Action.DECISION_OVERRIDE.value,)
REVIEWS = (Action.OVERRIDE_REVIEWED.value,)


def _row(found: Found, **extra: Any) -> dict[str, Any]:
    record = found.record
    return {
        "seq": found.seq,
        "at": record.at.isoformat(),
        "action": record.action,
        "actor": record.actor,
        "role": record.role,
        "agency": record.agency,
        "purpose": record.purpose,
        "family_id": record.family_id,
        "subject_ids": list(record.subject_ids),
        "event_ids": list(record.event_ids),
        "bases": list(record.bases),
        "trace_id": record.trace_id,
        **extra,
    }


def auditors_query(
    by: str, what: str, subject: str | None = None, action: str = Action.AUDIT_READ
) -> AuditRecord:
    """An auditor's own look at the ledger (or export of it): audited like any other."""
    return AuditRecord(
        action=action,
        actor=by,
        role="auditor",
        agency="auditor",
        purpose=what,
        subject_ids=(subject,) if subject else (),
        at=datetime.now(UTC),
    )


def who_saw(
    ledger: AuditLedger,
    person_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every look at (``viewed``) and delivery of (``received``) information about a person."""
    actions = sorted(READS | DELIVERIES)
    return [
        _row(f, seen="viewed" if f.record.action in READS else "received")
        for f in ledger.find(actions=actions, subject=person_id, since=since, until=until)
    ]


def overrides(
    ledger: AuditLedger, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Each significant-harm override, with the reviews of it (countersigned or reversed)."""
    found = ledger.find(actions=OVERRIDES, since=since, until=until)
    reviews: dict[str, list[dict[str, Any]]] = {}
    for review in ledger.find(actions=REVIEWS):
        override_id = review.record.bases[0] if review.record.bases else ""
        reviews.setdefault(override_id, []).append(
            {
                "seq": review.seq,
                "at": review.record.at.isoformat(),
                "by": review.record.actor,
                "outcome": review.record.bases[1] if len(review.record.bases) > 1 else "",
            }
        )
    rows = []
    for f in found:
        override_id = f"{f.record.event_ids[0]}:{f.record.agency}" if f.record.event_ids else ""
        rows.append(_row(f, override_id=override_id, reviews=reviews.get(override_id, [])))
    return rows


def received(
    ledger: AuditLedger,
    agency: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """What a recipient was sent (and what was taken back), with the basis of each."""
    actions = [Action.DELIVERED.value, Action.RETRACTED.value]
    return [_row(f) for f in ledger.find(actions=actions, agency=agency, since=since, until=until)]


def entries(
    ledger: AuditLedger,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: str | None = None,
) -> list[Found]:
    return ledger.find(subject=subject, since=since, until=until)


# --- exports -------------------------------------------------------------------------------

CSV_COLUMNS = (
    "seq",
    "at",
    "action",
    "actor",
    "role",
    "agency",
    "purpose",
    "family_id",
    "subject_ids",
    "event_ids",
    "bases",
    "trace_id",
)


#: What a spreadsheet takes for the start of a formula (OWASP's list for CSV injection).
def as_csv(found: Sequence[Found]) -> str:
    """One row per entry; lists joined with spaces (ids never contain one)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in found:
        row = _row(f)
        writer.writerow([safe_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


#: DICOM audit event types (the code system FHIR's AuditEvent.type uses), by our act.
_TYPES = {
    "record": ("110107", "Import"),
    "share": ("110106", "Export"),
    "timeline": ("110110", "Patient Record"),
    "alerts": ("110110", "Patient Record"),
    "audit": ("110101", "Audit Log Used"),
}
_ACTION = {"read": "R", "exported": "R", "delivered": "C", "accepted": "C"}
DCM = "http://dicom.nema.org/resources/ontology/DCM"
EHX = "https://early-help-exchange.org/fhir/CodeSystem/audit-action"


def as_fhir(found: Found) -> dict[str, Any]:
    """One entry as a FHIR R4 AuditEvent (validated by ``fhir.resources``), as JSON data."""
    record = found.record
    family, _, verb = record.action.partition(".")
    code, display = _TYPES.get(family, ("110100", "Application Activity"))
    event = AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": str(record.audit_id),
            "type": {"system": DCM, "code": code, "display": display},
            "subtype": [{"system": EHX, "code": record.action}],
            "action": _ACTION.get(verb, "E"),
            "recorded": record.at.isoformat(),
            "outcome": "4" if record.action != Action.RECORD_REFUSED else "8",
            # FHIR strings may not be empty: an entry with no purpose or actor named
            # (older callers could leave them out) still exports.
            "purposeOfEvent": [{"text": record.purpose or "(none given)"}],
            "agent": [
                {
                    "who": {"identifier": {"value": record.actor or "(not named)"}},
                    "role": [{"text": record.role}],
                    "requestor": not record.actor.startswith("ehx:"),
                    "name": record.agency,
                }
            ],
            "source": {
                "site": "early-help-exchange",
                "observer": {"display": "ehx audit ledger"},
            },
            "entity": [
                *(
                    {
                        "what": {"identifier": {"value": s}},
                        "type": {"code": "1", "display": "Person"},
                    }
                    for s in record.subject_ids
                ),
                *(
                    {
                        "what": {"identifier": {"value": e}},
                        "type": {"code": "2", "display": "System Object"},
                    }
                    for e in record.event_ids
                ),
                *(
                    {"what": {"identifier": {"value": b}}, "description": "basis"}
                    for b in record.bases
                ),
            ],
            "extension": [
                {
                    "url": "https://early-help-exchange.org/fhir/ledger-seq",
                    "valueInteger": found.seq,
                }
            ],
        }
    )
    return event.model_dump(mode="json", exclude_none=True)


def as_fhir_bundle(found: Sequence[Found]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": as_fhir(f)} for f in found],
    }
