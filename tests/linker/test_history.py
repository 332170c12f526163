"""A family's history: a new partner, a separation and a child moving to relatives all show,
with dates, under the family's one id."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from ehx.intake.store import IntakeStore, ReceivedEvent
from ehx.linker.history import Appearance, history
from ehx.linker.people import composition, family_history
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, Restriction
from tests.records import events


def day(month: int, d: int = 1) -> datetime:
    return datetime(2026, month, d, 9, tzinfo=UTC)


def test_a_new_partner_a_separation_and_a_child_at_relatives_each_show_with_dates() -> None:
    seen = [
        Appearance("e1", "mum", "victim", "B1:12", day(1)),
        Appearance("e1", "kid", "child_present", "B1:12", day(1)),
        Appearance("e2", "partner", "suspect", "B1:12", day(3)),  # a new partner moves in
        Appearance("e2", "mum", "victim", "B1:12", day(3)),
        Appearance("e3", "partner", "lead_tenant", "B9:4", day(6)),  # he has left
        Appearance("e4", "kid", "pupil", "B7:30", day(8)),  # the child, at his gran's
        Appearance("e4", "gran", "related_person", "B7:30", day(8)),
    ]
    found = history(reversed(seen))  # the order they come in does not matter
    members = {m["person_id"]: m for m in found["members"]}
    assert list(members) == ["kid", "mum", "partner", "gran"]
    assert members["partner"]["first_seen"] == day(3)
    assert [(h["household"], h["since"], h["until"]) for h in members["partner"]["households"]] == [
        ("B1:12", day(3), day(3)),
        ("B9:4", day(6), day(6)),
    ]
    assert [h["household"] for h in members["kid"]["households"]] == ["B1:12", "B7:30"]
    changes = [(c["at"], c["person_id"], c["change"]) for c in found["changes"]]
    assert changes == [
        (day(1), "kid", "joined"),
        (day(1), "mum", "joined"),
        (day(3), "partner", "joined"),
        (day(6), "partner", "moved"),
        (day(8), "gran", "joined"),
        (day(8), "kid", "moved"),
    ]
    assert found["changes"][3]["left"] == "B1:12" and found["changes"][3]["household"] == "B9:4"


def khans_linked(engine: Engine, restrict: str | None = None) -> tuple[LinkStore, str]:
    """The Khans' police and housing records linked, each with intake's record of it;
    ``restrict``: a given name the police marked restricted. Returns the store and family."""
    store = LinkStore(engine)
    linker = Linker.open(store)
    intake = IntakeStore(engine)
    family = ""
    for agency, name in ((Agency.POLICE, "police.jsonl"), (Agency.HOUSING, "housing.jsonl")):
        for event in events(agency, name):
            if restrict and agency is Agency.POLICE:
                event = event.model_copy(
                    update={
                        "subjects": tuple(
                            s.model_copy(update={"restriction": Restriction.RESTRICTED})
                            if s.demographics.given_name == restrict
                            else s
                            for s in event.subjects
                        )
                    }
                )
            linked, made = linker.link(event)
            store.save(made, linker.identities.take_journal())
            family = linked.subjects[0].family_id or ""
            intake.add(
                [
                    ReceivedEvent(
                        event_id=str(event.event_id),
                        agency=agency.value,
                        record_ref=event.source.record_ref,
                        record_version=event.source.record_version,
                        event_type=event.event_type.value,
                        occurred_at=event.occurred_at,
                        received_at=event.occurred_at,
                        topic=f"ehx.raw.{agency.value}",
                        partition=0,
                        offset=0,
                        sha256="0" * 64,
                    )
                ]
            )
    return store, family


def test_the_khans_history_is_read_from_the_linkers_store_with_each_events_date(
    engine: Engine,
) -> None:
    store, family = khans_linked(engine)
    found = family_history(store, family)
    assert found is not None and found["family_id"] == family
    assert len(found["members"]) == 4  # Amina, Imran, Yusuf, Maryam
    assert all(m["households"] for m in found["members"])
    assert all(m["first_seen"] <= m["last_seen"] for m in found["members"])
    assert "addresses_withheld" not in found
    assert family_history(store, "f99999999") is None


def test_a_restricted_persons_link_pages_show_no_postcode_or_household(engine: Engine) -> None:
    """Link reviewers see names and dates of birth to judge a match; where the family
    lives stays out once anyone in it is restricted (PDS R or V)."""
    store, family = khans_linked(engine, restrict="Amina")
    found = family_history(store, family)
    assert found is not None and found["addresses_withheld"] == "restricted record"
    assert not any(m["households"] for m in found["members"])
    amina = next(m["person_id"] for m in found["members"] if "victim" in m["roles"])
    person = composition(store, amina)
    assert person is not None
    records = [r for m in person["members"] for r in m["records"]]
    assert records and all(r["postcode"] is None for r in records)
    assert {r["address_withheld"] for r in records} == {"restricted record"}
