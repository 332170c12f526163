"""The retention sweep and an erasure in the stores, on SQLite and PostgreSQL.

(test_removal.py runs them through the commands and the whole pipeline, topics and all.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from ehx.consent import load_policy
from ehx.database import consent_events, timeline_entries
from ehx.rights.access import UnknownPerson
from ehx.rights.erase_person import ErasureRefused, erase
from ehx.rights.proof import Proof, check_tables, removed_of
from ehx.rights.removal import Who
from ehx.rights.sweep import sweep
from ehx.schemas.audit import AuditRecord
from tests.consent.fakes import AMINA, KHANS
from tests.flows import khans_on_file
from tests.rights.test_removal import decide_every_alert

DPO = Who("dpo-1", "data_protection_officer", "auditor")


class Ledger:
    """What the commands would put on ``ehx.audit``."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def __call__(self, *records: AuditRecord) -> None:
        self.records += records


def rows(engine: Engine) -> tuple[set[str], set[tuple[str, str]]]:
    with engine.connect() as connection:
        events = set(connection.execute(select(consent_events.c.event_id)).scalars())
        entries = {
            (r, e)
            for r, e in connection.execute(
                select(timeline_entries.c.recipient, timeline_entries.c.event_id)
            )
        }
    return events, entries


def test_the_sweep_removes_the_old_tenancy_records_and_nothing_else(engine: Engine) -> None:
    now = datetime.now(UTC)
    old = {e.event_id for e in KHANS if e.source.agency.value == "housing"}
    khans = [
        e.model_copy(update={"occurred_at": e.occurred_at - timedelta(days=365 * 9)})
        if e.event_id in old
        else e
        for e in KHANS
    ]
    khans_on_file(engine, khans=khans)
    events, entries = rows(engine)
    ledger = Ledger()
    report = sweep(engine, load_policy().retention, DPO, now, ledger)
    after_events, after_entries = rows(engine)
    assert after_events == events - {str(e) for e in old}
    assert after_entries == {(r, e) for r, e in entries if e not in {str(i) for i in old}}
    assert report.events == len(old) and report.entries == len(entries - after_entries) > 0
    assert len(ledger.records) == report.recorded and {r.action for r in ledger.records} == {
        "rights.swept"
    }
    removed = removed_of(engine, report.removal_id)
    assert removed is not None
    proof = Proof(report.removal_id)
    check_tables(engine, removed, proof)
    assert proof.rows > 0 and proof.findings == []


def test_an_erasure_is_refused_while_screened_then_leaves_nothing_of_her(engine: Engine) -> None:
    now = datetime.now(UTC)
    khans_on_file(engine, khans=KHANS)
    rules = load_policy().erasure
    with pytest.raises(ErasureRefused, match="MASH is screening"):
        erase(engine, AMINA, DPO, "Her request.", rules, now, Ledger())
    with pytest.raises(UnknownPerson):
        erase(engine, "p99999999", DPO, "Her request.", rules, now, Ledger())
    decide_every_alert(engine)
    ledger = Ledger()
    report = erase(engine, AMINA, DPO, "Her request of 1 December.", rules, now, ledger)
    assert report.events_removed >= 1 and report.events_redacted >= 1
    [erased] = ledger.records
    assert erased.action == "rights.erased" and AMINA in erased.subject_ids
    with engine.connect() as connection:
        bodies = list(connection.execute(select(consent_events.c.body)).scalars())
    assert bodies and not any("Amina" in b for b in bodies)
    assert any("Yusuf" in b for b in bodies)  # her son's records stay
    removed = removed_of(engine, report.removal_id)
    assert removed is not None and removed.prints
    proof = Proof(report.removal_id)
    check_tables(engine, removed, proof)
    assert proof.findings == []
