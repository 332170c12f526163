"""Recipients' views: only what policy allows, sealed; withdrawal shreds; other bases remain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ehx.consent import ConsentState
from ehx.consent.keys import KeyDestroyed, open_box, seal
from ehx.consent.memory import MemoryKeyVault
from ehx.consent.views import seal_context
from ehx.schemas.views import Retraction, ShareView
from ehx.schemas.vocabulary import Recipient, holds_for
from tests.consent.fakes import INCIDENT, KHANS, family_consent, memory_engine
from tests.records import NOW

YUSUFS, MARYAMS = "school:103512", "school:103377"


def views(messages: list[ShareView | Retraction], recipient: str) -> list[ShareView]:
    """The views to ``recipient``: for ``schools``, to the kind or any one school."""
    kind = Recipient(recipient.split(":")[0]) if ":" not in recipient else None
    return [
        m
        for m in messages
        if isinstance(m, ShareView)
        and (m.recipient == recipient or (kind is not None and holds_for(m.recipient, kind)))
    ]


def test_the_school_hears_that_it_happened_with_its_pupils_present_and_nothing_more() -> None:
    engine, _, vault = memory_engine()
    out = engine.on_events(KHANS, NOW)
    [school] = views(out.messages, YUSUFS)
    assert school.basis.outcome == "notify" and school.event_id == INCIDENT.event_id
    # Yusuf only: not the suspect, not the victim, not his sister at another school.
    assert [(s.role, s.person_id) for s in school.subjects] == [("child_present", "p00000003")]
    assert school.details is None  # no narrative
    assert school.contact and "Operation Encompass" in school.contact
    wire = school.model_dump_json()
    assert "summary" not in wire and "Imran" not in wire and "Stratford" not in wire
    # Even what is not free text is sealed: on the wire, the kind of incident is not.
    assert not school.fields and "incident_type" not in wire and school.facts is not None
    facts = open_box(vault, school.facts, seal_context(school.event_id, YUSUFS, "facts"))
    assert set(facts) == {"incident_type", "reported_at", "children_present", "force"}
    # The children's names are there for the key adult, sealed under the school's keys.
    child = school.subjects[0]
    assert child.demographics is not None
    opened = open_box(
        vault,
        child.demographics,
        seal_context(school.event_id, YUSUFS, f"person:{child.person_id}"),
    )
    assert opened["family_name"] == "Khan"


def test_each_school_is_told_of_its_own_pupil_under_its_own_keys() -> None:
    engine, _, vault = memory_engine()
    out = engine.on_events(KHANS, NOW)
    [yusufs] = views(out.messages, YUSUFS)
    [maryams] = views(out.messages, MARYAMS)
    assert [s.person_id for s in yusufs.subjects] == ["p00000003"]
    assert [s.person_id for s in maryams.subjects] == ["p00000004"]
    assert maryams.school_roll == {"p00000004": "103377"}
    only_yusufs_school = MemoryKeyVault()
    for key_id, key in vault.keys.items():
        if key_id.startswith(f"{YUSUFS}:"):
            only_yusufs_school.keys[key_id] = key
    box = maryams.subjects[0].demographics
    assert box is not None
    with pytest.raises(KeyDestroyed):  # Yusuf's school holds no key to Maryam's name
        open_box(
            only_yusufs_school, box, seal_context(maryams.event_id, MARYAMS, "person:p00000004")
        )


def test_a_notification_made_before_the_roll_is_known_goes_to_the_school_once_it_is() -> None:
    """The police incident comes first in the batch, when no school's record of the
    children is on file: the local authority's, then each child's school's."""
    engine, _, _ = memory_engine()
    out = engine.on_events(KHANS, NOW)
    [first] = [v for v in views(out.messages, "schools") if v.recipient == "schools"]
    assert first.basis.outcome == "notify" and first.school_roll == {}
    [taken_back] = [
        m for m in out.messages if isinstance(m, Retraction) and m.decision_id == first.decision_id
    ]
    assert taken_back.revision == first.revision + 1
    assert {
        v.recipient for v in views(out.messages, "schools") if v.event_id == first.event_id
    } == {
        "schools",
        YUSUFS,
        MARYAMS,
    }


def test_indicators_carry_no_names_and_no_content() -> None:
    engine, _, _ = memory_engine()
    out = engine.on_events(KHANS, NOW)
    indicators = views(out.messages, "early_help")
    assert indicators and all(v.basis.outcome == "indicator" for v in indicators)
    for view in indicators:
        assert not view.fields and view.facts is None and view.details is None
        assert all(s.demographics is None for s in view.subjects)
        assert view.categories


def test_a_sealed_box_opens_only_for_its_own_event_and_recipient() -> None:
    engine, _, vault = memory_engine()
    out = engine.on_events(KHANS, NOW)
    [school] = views(out.messages, YUSUFS)
    box = school.subjects[0].demographics
    assert box is not None
    with pytest.raises(KeyDestroyed):  # moved to another event: the bound context differs
        open_box(
            vault,
            box,
            seal_context(KHANS[-1].event_id, YUSUFS, f"person:{school.subjects[0].person_id}"),
        )


def test_a_box_for_several_people_opens_with_any_one_key_and_no_nonce_is_used_twice() -> None:
    """A nonce used twice under one AES-GCM key gives away the plaintexts; sealing draws
    the content key and every nonce in one read, so the slices must never overlap."""
    import base64

    from ehx.consent.memory import MemoryKeyVault

    vault = MemoryKeyVault()
    people = ["p1", "p2", "p3"]
    boxes = [
        seal(vault, "mash", people, f"e{n}|mash|details", {"n": n}, "mash/2026") for n in range(50)
    ]
    nonces = [base64.b64decode(b.nonce) for b in boxes] + [
        base64.b64decode(w)[:12] for b in boxes for w in b.wrapped_keys
    ]
    assert len(set(nonces)) == len(nonces) == 50 * 4
    for person in people:
        only = MemoryKeyVault()
        key_id, key = vault.current("mash", person, "mash/2026")
        only.keys[key_id] = key
        assert open_box(only, boxes[7], "e7|mash|details") == {"n": 7}


def test_withdrawal_shreds_what_was_shared_and_keeps_what_another_basis_allows() -> None:
    engine, ledger, vault = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    consent = family_consent((Recipient.EARLY_HELP, Recipient.SCHOOLS))
    granted = engine.on_record(consent, NOW)
    ledger.save(granted)
    shared = views(granted.messages, "early_help")
    assert shared and all(v.basis.outcome == "allow" for v in shared)
    assert all(str(consent.consent_id) in v.basis.consent_ids for v in shared)
    incident_view = next(v for v in shared if v.event_id == INCIDENT.event_id)
    subject = incident_view.subjects[0]
    assert subject.demographics is not None
    context = seal_context(incident_view.event_id, "early_help", f"person:{subject.person_id}")
    assert open_box(vault, subject.demographics, context)["family_name"] == "Khan"

    later = NOW + timedelta(hours=1)
    withdrawn = engine.on_record(consent.withdraw("ew-0042", later), later)
    ledger.save(withdrawn)
    with pytest.raises(KeyDestroyed):
        open_box(vault, subject.demographics, context)
    assert withdrawn.shredded and all("withdrawn" in s.because for s in withdrawn.shredded)
    # The early help hub falls back to indicators; the school keeps Operation Encompass,
    # sealed again under new keys; everything else it got under the consent is retracted.
    again = views(withdrawn.messages, "early_help")
    assert again and all(v.basis.outcome == "indicator" for v in again)
    # Each child's own school, under that school's new keys, and about its pupil only.
    encompass = views(withdrawn.messages, "schools")
    assert {v.recipient for v in encompass} == {"school:103512", "school:103377"}
    for view in encompass:
        assert view.basis.outcome == "notify"
        [child] = view.subjects
        assert child.demographics is not None
        assert open_box(
            vault,
            child.demographics,
            seal_context(view.event_id, view.recipient, f"person:{child.person_id}"),
        )
    retracted = {
        (m.recipient, m.event_id)
        for m in withdrawn.messages
        if isinstance(m, Retraction) and holds_for(m.recipient, Recipient.SCHOOLS)
    }
    kept = {(v.recipient, v.event_id) for v in encompass}
    under_consent = {(v.recipient, v.event_id) for v in views(granted.messages, "schools")}
    assert retracted and retracted == under_consent - kept


def test_expiry_is_recorded_and_shreds_like_a_withdrawal() -> None:
    engine, ledger, _ = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    consent = family_consent((Recipient.HEALTH,)).model_copy(
        update={"valid_until": NOW + timedelta(days=30)}
    )
    ledger.save(engine.on_record(consent, NOW))
    assert engine.expired(NOW) == []
    later = NOW + timedelta(days=31)
    [expired] = engine.expired(later)
    assert expired.state is ConsentState.EXPIRED and expired.consent_id == consent.consent_id
    out = engine.on_record(expired, later)
    assert out.shredded and {m.kind for m in out.messages} == {"retraction"}
