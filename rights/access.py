"""Subject access: everything held about a person, as a data protection officer answers
a request (UK GDPR Art. 15).

The package holds each record about them as its agency sent it (redacted for third
parties and staff, ``redaction``), what each recipient was given of it, when and on what
basis, the consent records about them and their family, and the audit trail of who
received or viewed information about them. Items a practitioner marked "withhold:
serious harm", and practitioners' concerns of significant harm, are not released: they
are listed for the DPO's decision with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine

from ehx.audit import queries
from ehx.audit.ledger import AuditLedger
from ehx.consent import ConsentRecord, HarmAssertion
from ehx.consent.decide import Outcome
from ehx.consent.policy import SubjectAccess
from ehx.consent.store import ConsentStore
from ehx.linker.store import LinkStore
from ehx.rights.markers import Markers
from ehx.rights.redaction import STAFF, release
from ehx.schemas import CanonicalEvent, ExchangeError
from ehx.timeline.reading import basis_words


class UnknownPerson(ExchangeError):
    """No record about this id is held."""


@dataclass
class Package:
    """What the DPO reviews and releases; ``released`` is what the requester receives."""

    person_id: str
    ids: list[str]
    name: str | None
    assembled_at: datetime
    assembled_by: str
    respond_by: datetime
    records: list[dict[str, Any]] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    #: Not released: each with why, for the DPO to decide (``--release-withheld``).
    for_decision: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        return [r["event_id"] for r in self.records]

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "ids": self.ids,
            "name": self.name,
            "assembled_at": self.assembled_at.isoformat(),
            "assembled_by": self.assembled_by,
            "respond_by": self.respond_by.date().isoformat(),
            "records": self.records,
            "disclosures": self.disclosures,
            "consents": self.consents,
            "audit": self.audit,
            "for_decision": self.for_decision,
        }

    def released(self) -> dict[str, Any]:
        """The part the requester receives: the DPO's working list left out."""
        return {k: v for k, v in self.as_dict().items() if k != "for_decision"}


def assemble(
    engine: Engine,
    person_id: str,
    by: str,
    rules: SubjectAccess,
    at: datetime,
    release_anyway: frozenset[str] = frozenset(),
) -> Package:
    """Everything held about ``person_id`` (and the ids merged into them). Raises
    ``UnknownPerson`` when nothing is held. ``release_anyway``: withheld items the DPO has
    decided to release after all."""
    links, consent = LinkStore(engine), ConsentStore(engine)
    ids = sorted(set(links.members([links.root(person_id)])))
    families = {f for i in ids for f in consent.families_of(i)}
    events = [
        e for e in consent.family_events(families) if any(s.person_id in ids for s in e.subjects)
    ]
    if not events:
        raise UnknownPerson(
            f"nothing is held about {person_id}: check the id (ehx find NAME --by YOU gives "
            "a person's id)"
        )
    markers = Markers(engine)
    event_ids = [str(e.event_id) for e in events]
    withheld = {k: v for k, v in markers.withheld(event_ids).items() if k not in release_anyway}
    disputed = markers.disputed(event_ids)
    package = Package(
        person_id=person_id,
        ids=ids,
        name=_name(events, ids),
        assembled_at=at,
        assembled_by=by,
        respond_by=at + timedelta(days=rules.respond_within_days),
    )
    for event in events:
        key = str(event.event_id)
        if key in withheld:
            mark = withheld[key]
            package.for_decision.append(
                {
                    "event_id": key,
                    "agency": event.source.agency.value,
                    "record_ref": event.source.record_ref,
                    "why": f"withhold: serious harm, marked by {mark['marked_by']} "
                    f"({mark['marked_for']}): {mark['reason']}",
                }
            )
            continue
        shown = release(event, ids, rules)
        package.records.append(
            {
                "event_id": key,
                "agency": event.source.agency.value,
                "organisation": event.source.organisation,
                "record_ref": event.source.record_ref,
                "version": event.source.record_version,
                "occurred_at": event.occurred_at.isoformat(),
                "event_type": event.event_type.value,
                "disputed": disputed[key]["note"] if key in disputed else None,
                "redactions": shown.redactions,
                "record": shown.record,
            }
        )
    package.disclosures = _disclosures(consent, package.event_ids, ids)
    package.consents, concerns = _consents(consent, [*ids, *sorted(families)], ids)
    package.for_decision += concerns
    ledger = AuditLedger(engine)
    entries = {row["seq"]: row for i in ids for row in queries.who_saw(ledger, i)}
    package.audit = [_seen(row, rules) for _, row in sorted(entries.items())]
    return package


def _name(events: list[CanonicalEvent], ids: list[str]) -> str | None:
    """Their name as the latest record about them spells it."""
    for event in sorted(events, key=lambda e: e.occurred_at, reverse=True):
        for s in event.subjects:
            if s.person_id in ids:
                return f"{s.demographics.given_name} {s.demographics.family_name}"
    return None


def _disclosures(store: ConsentStore, event_ids: list[str], ids: list[str]) -> list[dict[str, Any]]:
    """Each recipient given information about them, when, and on what basis."""
    found = []
    for d in store.decisions_of(event_ids).values():
        about = set(d.shared) | set(d.notified)
        if d.outcome is Outcome.DENY or not about.intersection(ids):
            continue
        found.append(
            {
                "event_id": str(d.event_id),
                "recipient": d.recipient.value,
                "organisation": d.organisation,
                "to": str(d.addressee),
                "to_words": d.addressee.label,
                "outcome": d.outcome.value,
                "basis": basis_words(
                    d.outcome.value, d.rule, d.lawful_basis, d.consent_ids, d.signs
                ),
                "decided_at": d.decided_at.isoformat(),
            }
        )
    return sorted(found, key=lambda r: (r["decided_at"], r["recipient"]))


def _consents(
    store: ConsentStore, subjects: list[str], ids: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The consent records about them or their family, and, for the DPO's decision, the
    concerns of significant harm practitioners raised about them."""
    consents: dict[str, dict[str, Any]] = {}
    concerns: list[dict[str, Any]] = []
    for subject in subjects:
        for r in store.records_about(subject):
            if isinstance(r, ConsentRecord):
                consents[str(r.consent_id)] = {
                    "consent_id": str(r.consent_id),
                    "state": r.state.value,
                    "about": r.subject_id,
                    "given_by_them": r.given_by in ids,
                    "recipients": [x.value for x in r.recipients],
                    "purpose": r.purpose.value,
                    "valid_from": r.valid_from.isoformat(),
                    "valid_until": r.valid_until.isoformat() if r.valid_until else None,
                }
            elif isinstance(r, HarmAssertion) and r.person_id in ids:
                concerns.append(
                    {
                        "event_id": str(r.assertion_id),
                        "agency": r.asserted_by_agency.value,
                        "record_ref": "concern of significant harm",
                        "why": "a practitioner's concern of significant harm: release only if "
                        "telling would not put the child or anyone else at risk of serious "
                        "harm (DPA 2018 Sch. 3 para 7)",
                    }
                )
    return sorted(consents.values(), key=lambda c: c["valid_from"]), concerns


def _seen(row: dict[str, Any], rules: SubjectAccess) -> dict[str, Any]:
    """One audit entry as the requester is told it: who (by organisation and role; a
    member of staff by name only where the policy releases staff), when, why."""
    return {
        "at": row["at"],
        "seen": row["seen"],
        "organisation": row["agency"],
        "role": row["role"].replace("_", " "),
        "who": row["actor"] if rules.staff == "release" else STAFF,
        "purpose": row["purpose"],
    }


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("ehx.rights", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def as_html(package: Package) -> str:
    """The release as a document to read (or print to PDF): the requester's copy."""
    return _templates().get_template("subject_access.html").render(p=package)
