"""Reading a timeline: open what the reader's keys still open, say what happened and why.

A read is recorded on ``ehx.audit`` before anything is shown (see ``audit_record``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from ehx.consent.keys import KeyDestroyed, KeyVault, open_box
from ehx.consent.policy import load_policy
from ehx.consent.restriction import WITHHELD
from ehx.consent.views import seal_context
from ehx.schemas.audit import AuditRecord
from ehx.schemas.spreadsheet import safe_cell
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import EventType

LABELS = {event_type.value: event_type.label for event_type in EventType}
WITHHELD_TEXT = f"Address withheld: {WITHHELD}"


@dataclass(frozen=True)
class Person:
    person_id: str
    role: str
    name: str | None
    date_of_birth: str | None
    #: A restricted record: where this person lives is not shared with anyone.
    address_withheld: bool = False


@dataclass(frozen=True)
class Entry:
    """One timeline entry as its reader sees it."""

    view: ShareView
    people: tuple[Person, ...]
    details: dict[str, Any] = field(default_factory=dict)
    #: False where keys were destroyed (consent withdrawn or expired since it was shared).
    readable: bool = True
    #: What the person it is about says is wrong with it, where they dispute it.
    disputed: str | None = None
    #: The view's fields that are not free text, opened (``ShareView.facts``).
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def what(self) -> str:
        text = describe(self.view, {**self.fields, **self.details})
        return f"{text}. {WITHHELD_TEXT}" if self.view.address_withheld else text

    @property
    def why(self) -> str:
        return basis_text(self.view)

    @property
    def told(self) -> str:
        """What happened, with what its reader must know of it: no longer readable, or
        disputed by the person it is about."""
        said = self.what if self.readable else f"{self.what} [details no longer readable]"
        if self.disputed:
            said += f" [disputed by the person it is about: {self.disputed}]"
        return said

    def as_dict(self) -> dict[str, Any]:
        v = self.view
        return {
            "event_id": str(v.event_id),
            "occurred_at": v.occurred_at.isoformat(),
            "agency": v.source_agency,
            "event_type": v.event_type,
            "categories": list(v.categories),
            "what": self.what,
            "why": self.why,
            "basis": v.basis.model_dump(),
            "people": [p.__dict__ for p in self.people],
            "fields": self.fields,
            "details": self.details,
            "readable": self.readable,
            "contact": v.contact,
            "address_withheld": WITHHELD if v.address_withheld else None,
            "disputed": self.disputed,
        }


def open_entry(view: ShareView, vault: KeyVault) -> Entry:
    readable = True
    people = []
    for subject in view.subjects:
        name = born = None
        if subject.demographics is not None:
            context = seal_context(view.event_id, view.recipient, f"person:{subject.person_id}")
            try:
                demographics = open_box(vault, subject.demographics, context)
                name = f"{demographics['given_name']} {demographics['family_name']}"
                born = demographics.get("date_of_birth")
            except KeyDestroyed:
                readable = False
        people.append(Person(subject.person_id, subject.role, name, born, subject.address_withheld))
    facts, details = _opened(view, vault, "facts"), _opened(view, vault, "details")
    readable = readable and facts is not None and details is not None
    fields = {**view.fields, **(facts or {})}
    return Entry(view, tuple(people), details or {}, readable, fields=fields)


def opened_fields(view: ShareView, vault: KeyVault) -> dict[str, Any]:
    """The view's fields that are not free text, opened (empty if its keys are gone)."""
    return {**view.fields, **(_opened(view, vault, "facts") or {})}


def _opened(view: ShareView, vault: KeyVault, part: str) -> dict[str, Any] | None:
    """A sealed part opened: {} if the view has none, None if its keys were destroyed."""
    box = view.facts if part == "facts" else view.details
    if box is None:
        return {}
    try:
        opened: dict[str, Any] = open_box(
            vault, box, seal_context(view.event_id, view.recipient, part)
        )
    except KeyDestroyed:
        return None
    return opened


def describe(view: ShareView, f: dict[str, Any]) -> str:
    """One line a screener can read: what happened, from the fields this view shows
    (``f``: its facts and details, opened)."""
    label = LABELS.get(view.event_type, view.event_type)
    parts: list[str] = []
    if view.event_type == "police.incident":
        kind = str(f.get("incident_type", "")).replace("_", " ")
        parts.append(f"Police: {kind}" if kind else label)
        if f.get("dash_risk"):
            parts.append(f"DASH risk {f['dash_risk']}")
        if f.get("children_present"):
            parts.append("children present")
        if f.get("weapon_involved"):
            parts.append("weapon involved")
    elif view.event_type == "schools.attendance_summary" and "attendance_rate" in f:
        parts.append(f"{label}: {float(f['attendance_rate']):.0%}")
        if f.get("absence_band") not in (None, "none"):
            parts.append(f"{f['absence_band']} absence")
    elif view.event_type == "housing.event" and f.get("housing_event_type"):
        parts.append(f"Housing: {str(f['housing_event_type']).replace('_', ' ')}")
        if f.get("arrears_gbp"):
            parts.append(f"arrears £{float(f['arrears_gbp']):,.0f}")
    elif view.event_type == "schools.safeguarding_concern" and f.get("concern_category"):
        parts.append(f"{label}: {str(f['concern_category']).replace('_', ' ')}")
        if f.get("concern_level"):
            parts.append(f"level {f['concern_level']}")
    elif view.event_type == "schools.exclusion" and f.get("exclusion_type"):
        parts.append(f"{label}: {f['exclusion_type']}")
    elif view.event_type == "health.flag" and f.get("flag_kind"):
        parts.append(f"Health flag: {str(f['flag_kind']).replace('_', ' ')}")
    elif view.event_type == "health.encounter" and f.get("encounter_class"):
        kinds = {"EMER": "emergency department", "AMB": "outpatient", "HH": "home visit"}
        parts.append(f"Health: {kinds.get(str(f['encounter_class']), 'encounter')}")
    else:
        parts.append(label)
    if view.basis.outcome == "indicator":
        parts.append("indicator only: " + ", ".join(c.replace("_", " ") for c in view.categories))
    text = ", ".join(parts)
    for key in ("summary", "reason", "description"):
        if f.get(key):
            text += f". {f[key]}"
    return text


CHRONOLOGY_COLUMNS = ("date", "agency", "what happened", "people", "why you may see it")


def chronology_csv(entries: Sequence[Entry]) -> str:
    """A family's chronology as its reader may see it, one row an entry, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CHRONOLOGY_COLUMNS)
    for entry in entries:
        people = "; ".join(f"{p.name or p.person_id} ({p.role})" for p in entry.people)
        row = (
            entry.view.occurred_at.date().isoformat(),
            entry.view.source_agency,
            entry.told,
            people,
            entry.why,
        )
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def basis_text(view: ShareView) -> str:
    """Why this reader may see it, in words: the rule as the policy describes it, not
    its id (the API's ``basis`` keeps the id for machines)."""
    b = view.basis
    return basis_words(b.outcome, b.rule, b.lawful_basis, b.consent_ids, b.signs)


def basis_words(
    outcome: str,
    rule: str | None,
    lawful_basis: str | None,
    consent_ids: Sequence[str] = (),
    signs: Sequence[str] = (),
) -> str:
    """A sharing basis in words: consent, an override or a notification with the policy's
    description of its rule and the lawful basis, or indicators only."""
    if outcome == "allow":
        return "consent " + ", ".join(consent_ids)
    said = "; ".join(_rule_words().get(r, r) for r in (rule or "").split(",") if r)
    if outcome == "override":
        seen = f" Signs: {'; '.join(signs)}." if signs else ""
        return f"significant harm override: {said}.{seen} Lawful basis: {lawful_basis}"
    if outcome == "notify":
        return f"statutory notification: {said}. Lawful basis: {lawful_basis}"
    return f"indicators only: {lawful_basis}"


@cache
def _rule_words() -> dict[str, str]:
    """Each rule of the policy in force, as the policy describes it."""
    policy = load_policy()
    words = {rule.id: rule.description for rule in policy.significant_harm}
    words |= {n.id: n.description for n in policy.notifications}
    words[policy.practitioner_assertion.id] = policy.practitioner_assertion.description
    return {rule: text.rstrip(".") for rule, text in words.items()}


def audit_record(
    views: list[ShareView],
    actor: str,
    role: str,
    recipient: str,
    purpose: str,
    at: datetime,
    family_id: str | None = None,
    action: str = "timeline.read",
) -> AuditRecord:
    """The record of a read, made before the read is shown."""
    bases = {b for v in views for b in (*v.basis.consent_ids, v.basis.rule) if b}
    return AuditRecord(
        action=action,
        actor=actor,
        role=role,
        agency=recipient,
        purpose=purpose,
        family_id=family_id,
        subject_ids=tuple(sorted({s.person_id for v in views for s in v.subjects})),
        event_ids=tuple(str(v.event_id) for v in views),
        bases=tuple(sorted(bases)),
        at=at,
    )
