"""The strategy's case studies and the Khan examples, through adapters, linker, consent,
timeline and the alert desk (no broker: the services' own code, in order)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine

from ehx.adapters import ADAPTERS
from ehx.alerts import LevelOfNeed
from ehx.alerts.desk import AlertDesk
from ehx.alerts.store import AlertStore
from ehx.consent import ConsentRecord, ConsentRegistry, Giver, Purpose, load_policy
from ehx.consent.engine import ConsentEngine
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.database import migrate
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, CanonicalEvent, Category
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.store import TimelineQuery, TimelineStore
from tests.consent.fakes import KHAN_FILES
from tests.helpers import EXAMPLES
from tests.records import NOW

COREY = Path(__file__).parent.parent / "fixtures" / "corey"
COREY_FILES = (
    (Agency.POLICE, COREY / "police.jsonl"),
    (Agency.HEALTH, COREY / "health.ndjson"),
    (Agency.SCHOOLS, COREY / "schools.csv"),
    (Agency.HOUSING, COREY / "housing.jsonl"),
)


class Exchange:
    """The pipeline's stages in one process, over one database."""

    def __init__(self, engine: Engine) -> None:
        scratch = create_engine("sqlite://")
        migrate(scratch)
        self.linker = Linker.open(LinkStore(scratch))
        self.ledger = MemoryLedger()
        self.policy = load_policy()
        self.consent = ConsentEngine(self.policy, MemoryKeyVault(), ConsentRegistry(), self.ledger)
        self.timeline = TimelineStore(engine)
        self.alerts = AlertStore(engine)
        self.desk = AlertDesk(self.alerts, self.timeline, self.policy)

    def send(self, files: tuple[tuple[Agency, Path], ...]) -> list[CanonicalEvent]:
        linked = []
        for agency, path in files:
            adapter = ADAPTERS[agency]
            for frame in adapter.frame(io.BytesIO(path.read_bytes()), path.name):
                assert not frame.problem, frame.problem
                for event in adapter.map(frame, NOW).events:
                    linked.append(self.linker.link(event)[0])
        self._deliver(self.consent.on_events(linked, NOW))
        return linked

    def record(self, consent: ConsentRecord) -> None:
        self._deliver(self.consent.on_record(consent, NOW))

    def _deliver(self, out: object) -> None:
        from ehx.consent.engine import Outbox

        assert isinstance(out, Outbox)
        self.ledger.save(out)
        self.timeline.apply(out.messages)
        self.desk.after(out.messages, NOW)


def family_consent(family: str, parent: str) -> ConsentRecord:
    return ConsentRecord.model_validate(
        {
            "state": "granted",
            "subject_kind": "family",
            "subject_id": family,
            "given_by": parent,
            "giver": Giver.PARENT,
            "recorded_by": "ew-7",
            "recorded_by_agency": Recipient.EARLY_HELP,
            "recipients": [Recipient.EARLY_HELP, Recipient.SCHOOLS],
            "categories": list(Category),
            "purpose": Purpose.EARLY_HELP_ASSESSMENT,
            "valid_from": (NOW - timedelta(minutes=1)).isoformat(),
            "recorded_at": NOW.isoformat(),
        }
    )


def test_corey_is_one_family_across_agencies_and_an_early_help_alert_at_additional_needs(
    sqlite_engine: Engine,
) -> None:
    exchange = Exchange(sqlite_engine)
    events = exchange.send(COREY_FILES)
    family = {s.family_id for e in events for s in e.subjects if s.role.value != "reporting_person"}
    assert len(family) == 1
    family_id = family.pop() or ""

    [alert] = exchange.alerts.queue()
    assert alert["kind"] == "think_family" and alert["family_id"] == family_id
    assert alert["level"] == LevelOfNeed.ADDITIONAL_NEEDS.value
    assert set(alert["problems"]) == {
        "crime_antisocial_behaviour",
        "health_problems",
        "poor_school_attendance",
        "domestic_violence_abuse",
        "worklessness_financial_exclusion",
    }
    assert any("5 Think Family problem(s)" in r for r in alert["reasons"])
    assert any("4 agency(ies)" in r for r in alert["reasons"])
    # The hub holds indicators only: the alert asks for the family's consent.
    assert alert["indicators_only"] and any(
        "Seek the family's consent" in r for r in alert["reasons"]
    )
    # A child carrying a knife is early help, not an override: the MASH got nothing.
    assert exchange.timeline.entries(TimelineQuery(Recipient.MASH.value, family_id=family_id)) == []

    # The mother consents: the alert fills in, and the hub's timeline spans the agencies.
    mother = next(
        s.person_id
        for e in events
        for s in e.subjects
        if s.role.value == "partner" and s.demographics.given_name == "Kelly"
    )
    exchange.record(family_consent(family_id, mother or ""))
    [alert] = exchange.alerts.queue()
    assert not alert["indicators_only"] and alert["level"] == "additional_needs"
    timeline = exchange.timeline.entries(
        TimelineQuery(Recipient.EARLY_HELP.value, family_id=family_id)
    )
    assert {v.source_agency for v in timeline} == {"police", "health", "schools", "housing"}
    assert {v.basis.outcome for v in timeline} == {"allow"}
    assert [v.occurred_at for v in timeline] == sorted(v.occurred_at for v in timeline)


def test_the_khans_give_encompass_notices_to_both_schools_and_a_think_family_alert(
    sqlite_engine: Engine,
) -> None:
    exchange = Exchange(sqlite_engine)
    # The schools' records (the rolls) first, then the rest.
    files = sorted(
        ((a, EXAMPLES / n) for a, n in KHAN_FILES), key=lambda f: f[0] is not Agency.SCHOOLS
    )
    exchange.send(tuple(files))
    notices = exchange.alerts.notifications(NOW)
    assert len(notices) == 2
    assert {n["school_urn"] for n in notices} == {"103512", "103377"}
    assert all(n["addressed_to"].endswith("key adult") for n in notices)
    assert all(n["due_at"].hour == 8 and n["due_at"].minute == 30 for n in notices)
    kinds = [a["kind"] for a in exchange.alerts.queue()]
    assert kinds == ["think_family"]


def test_the_alert_desk_keeps_validated_only_the_views_of_families_that_come_back(
    sqlite_engine: Engine,
) -> None:
    # Most families are seen once; each view kept is walked by the collector until it is
    # frozen (docs/performance.md). A returning family's earlier views are kept.
    exchange = Exchange(sqlite_engine)
    first = exchange.send(COREY_FILES[:3])  # police, health, schools
    assert exchange.alerts.queue()  # the desk saw the batch ...
    assert not exchange.desk._views  # ... and kept none of it
    family_id = next(s.family_id for e in first for s in e.subjects if s.family_id)
    earlier = {
        (Recipient.EARLY_HELP.value, str(v.event_id), v.revision)
        for v in exchange.timeline.entries(
            TimelineQuery(Recipient.EARLY_HELP.value, family_id=family_id)
        )
    }
    exchange.send(COREY_FILES[3:])  # housing: the family comes back
    assert earlier and set(exchange.desk._views) == earlier
