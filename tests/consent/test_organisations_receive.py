"""Each school, trust and landlord receives as itself, from the roll on file.

Two children at two schools, one family: the consent names the child's school (the
kind), or one school by its URN; a pupil moves school; a school previews its own view.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from ehx.consent import ConsentRecord, load_policy
from ehx.consent.preview import preview
from ehx.consent.records import scope
from ehx.consent.store import ConsentStore
from ehx.schemas.views import Retraction, ShareView
from ehx.schemas.vocabulary import Addressee, Recipient
from tests.consent.fakes import KHANS, family_consent, memory_engine, variant
from tests.flows import ANDERTON, MARYAMS_SCHOOL, YUSUFS_SCHOOL, khans_on_file
from tests.records import NOW

YUSUF, MARYAM = "p00000003", "p00000004"
YUSUFS, MARYAMS = f"school:{YUSUFS_SCHOOL}", f"school:{MARYAMS_SCHOOL}"


def shared(messages: list[ShareView | Retraction], to: str, outcome: str) -> list[ShareView]:
    return [
        m
        for m in messages
        if isinstance(m, ShareView) and m.recipient == to and m.basis.outcome == outcome
    ]


def consent_to(*names: str) -> ConsentRecord:
    recipients, organisations = scope(names)
    return family_consent(recipients).model_copy(update={"organisations": organisations})


def test_the_childs_school_hears_about_its_own_pupil_and_not_the_other_schools() -> None:
    engine, ledger, _ = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    out = engine.on_record(consent_to("schools"), NOW)
    for school, pupil in ((YUSUFS, YUSUF), (MARYAMS, MARYAM)):
        views = shared(out.messages, school, "allow")
        assert views, school
        assert {s.person_id for v in views for s in v.subjects} == {pupil}
    assert not [m for m in out.messages if m.recipient == f"school:{ANDERTON}"]


def test_a_consent_naming_one_school_reaches_that_school_only() -> None:
    engine, ledger, _ = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    out = engine.on_record(consent_to(YUSUFS), NOW)
    assert shared(out.messages, YUSUFS, "allow")
    assert not shared(out.messages, MARYAMS, "allow")
    denied = [d for d in out.decisions if d.addressee == Addressee.parse(MARYAMS)]
    assert not denied or all(not d.shares or d.outcome.value == "notify" for d in denied)


def test_a_school_the_pupil_left_is_told_nothing_more_and_the_new_school_is() -> None:
    engine, ledger, _ = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    ledger.save(engine.on_record(consent_to("schools"), NOW))
    yusufs_record = next(e for e in KHANS if e.source.organisation == YUSUFS_SCHOOL)
    moved = variant(yusufs_record).model_copy(
        update={"occurred_at": yusufs_record.occurred_at + timedelta(days=30)}
    )
    payload = moved.payload.model_copy(update={"school_urn": ANDERTON})
    moved = moved.model_copy(
        update={
            "payload": payload,
            "source": moved.source.model_copy(update={"organisation": ANDERTON}),
        }
    )
    out = engine.on_events([moved], NOW + timedelta(days=30))
    ledger.save(out)
    anderton = f"school:{ANDERTON}"
    # The new school gets what the consent lets it see of its new pupil, and only him.
    assert {s.person_id for v in shared(out.messages, anderton, "allow") for s in v.subjects} == {
        YUSUF
    }
    # The old school's views of him are taken back.
    taken = [m for m in out.messages if isinstance(m, Retraction) and m.recipient == YUSUFS]
    assert taken
    # A police incident about him now goes to the new school, never the old one.
    incident = next(e for e in KHANS if e.payload.kind == "police.incident")
    later = variant(incident).model_copy(update={"occurred_at": NOW + timedelta(days=31)})
    after = engine.on_events([later], NOW + timedelta(days=31))
    assert not [m for m in after.messages if m.recipient == YUSUFS]
    assert [m for m in after.messages if m.recipient == anderton]


def test_a_consent_cannot_narrow_a_kind_it_does_not_name() -> None:
    with pytest.raises(ValueError, match="not among the recipients"):
        ConsentRecord.model_validate(
            family_consent((Recipient.HEALTH,)).model_dump() | {"organisations": [YUSUFS]}
        )
    with pytest.raises(ValueError, match="an organisation is"):
        scope(["school:"])


def test_a_school_previews_exactly_what_it_would_be_sent(sqlite_engine: Engine) -> None:
    family = khans_on_file(sqlite_engine)
    store, policy = ConsentStore(sqlite_engine), load_policy()
    yusufs = preview(store, policy, family, Addressee.parse(YUSUFS), NOW)
    assert yusufs and all(line.decision.organisation == YUSUFS_SCHOOL for line in yusufs)
    assert {p.split(" ")[0] for line in yusufs for p in line.people} == {YUSUF}
    # Without consent: the incident's Operation Encompass notice, the rest denied.
    assert [line.decision.outcome.value for line in yusufs if line.decision.shares] == ["notify"]
    # A school none of the Khans attends would see nothing at all.
    assert preview(store, policy, family, Addressee.parse(f"school:{ANDERTON}"), NOW) == []
    # The kind: a line for each school serving the family.
    every = preview(store, policy, family, Addressee(Recipient.SCHOOLS), NOW)
    assert {line.as_dict()["recipient"] for line in every} == {YUSUFS, MARYAMS}
