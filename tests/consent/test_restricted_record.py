"""A restricted person's address never leaves the agency that holds it: every recipient,
every basis, and for what recipients already held when the restriction arrived."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ehx.consent.keys import KeyDestroyed, open_box
from ehx.consent.memory import MemoryKeyVault
from ehx.consent.restriction import ADDRESS_FIELDS
from ehx.consent.views import seal_context
from ehx.schemas import CanonicalEvent, Restriction
from ehx.schemas.views import Retraction, ShareView
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.reading import open_entry
from tests.consent.fakes import AMINA, INCIDENT, KHANS, family_consent, memory_engine, variant
from tests.records import NOW

#: Every basis a view can have, each reaching a different recipient: consent (health,
#: housing, police), the significant-harm override (MASH), the statutory notification
#: (schools) and indicators (early help, no consent given to it).
CONSENTED = (Recipient.HEALTH, Recipient.HOUSING, Recipient.POLICE)
HIGH_RISK = variant(INCIDENT, dash_risk="high")
AMINAS_ED = next(
    e
    for e in KHANS
    if e.source.agency.value == "health" and AMINA in {s.person_id for s in e.subjects}
)


def restricted(event: CanonicalEvent) -> CanonicalEvent:
    """The trust's record of Amina, with the PDS restriction it carries."""
    return variant(
        event,
        {
            i: {"restriction": Restriction.RESTRICTED}
            for i, s in enumerate(event.subjects)
            if s.person_id == AMINA
        },
    )


def khans(high_risk: CanonicalEvent = HIGH_RISK) -> list[CanonicalEvent]:
    return [high_risk if e.event_id == INCIDENT.event_id else e for e in KHANS]


def views(messages: list[ShareView | Retraction]) -> list[ShareView]:
    return [m for m in messages if isinstance(m, ShareView)]


def opened(view: ShareView, vault: MemoryKeyVault) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    people = [
        open_box(
            vault,
            s.demographics,
            seal_context(view.event_id, view.recipient, f"person:{s.person_id}"),
        )
        for s in view.subjects
        if s.demographics is not None
    ]
    shown: dict[str, Any] = {}  # the fields it shows: facts and free text, opened
    for part, box in (("facts", view.facts), ("details", view.details)):
        if box is not None:
            shown |= open_box(vault, box, seal_context(view.event_id, view.recipient, part))
    return people, shown


def decided(events: list[CanonicalEvent]) -> tuple[list[ShareView], MemoryKeyVault]:
    engine, ledger, vault = memory_engine()
    engine.registry.apply(family_consent(CONSENTED))
    out = engine.on_events(events, NOW)
    ledger.save(out)
    return views(out.messages), vault


#: Every event Amina is in, under any id a variant gave it.
WITH_HER = {
    (e.source.record_ref, e.event_type) for e in KHANS if AMINA in {s.person_id for s in e.subjects}
}


def about_amina(shared: list[ShareView]) -> list[ShareView]:
    """Views of events she is in, whether or not the view names her (a school is told
    of the children present at an incident in which she was the victim)."""
    return [v for v in shared if (v.record_ref, v.event_type) in WITH_HER]


def test_without_a_restriction_her_address_reaches_those_entitled() -> None:
    """The control: the same family, nobody restricted, and the address does flow."""
    shared, vault = decided(khans())
    addresses = [p.get("address") for v in about_amina(shared) for p in opened(v, vault)[0]]
    assert any(addresses) and not any(v.address_withheld for v in shared)


def test_no_recipient_on_any_basis_gets_a_restricted_persons_address() -> None:
    events = [restricted(e) if e.event_id == AMINAS_ED.event_id else e for e in khans()]
    shared, vault = decided(events)
    bases = {(v.recipient, v.basis.outcome) for v in about_amina(shared)}
    assert {("mash", "override"), ("schools", "notify"), ("early_help", "indicator")} <= bases
    assert ("health:RQ3", "allow") in bases  # her trust: the police incident, under consent
    for view in about_amina(shared):
        people, details = opened(view, vault)
        assert view.address_withheld, (view.recipient, view.event_type)
        assert not ADDRESS_FIELDS & set(details), view.event_type
        for person in people:  # hers, and her children's, which is hers
            assert person["address"] is None and person["postcode"] is None
            assert person["address_withheld"] == "restricted record"
    # Events without her in them are not touched.
    others = [v for v in shared if v not in about_amina(shared)]
    assert others and not any(v.address_withheld for v in others)


def test_every_view_of_her_says_the_address_is_withheld() -> None:
    events = [restricted(e) if e.event_id == AMINAS_ED.event_id else e for e in khans()]
    shared, vault = decided(events)
    mash = next(v for v in shared if v.recipient == "mash" and v.basis.outcome == "override")
    entry = open_entry(mash, vault)
    assert "Address withheld: restricted record" in entry.what
    assert entry.as_dict()["address_withheld"] == "restricted record"
    assert all(p.address_withheld for p in entry.people)


def test_a_restriction_arriving_later_shreds_what_was_held_and_resends_it_without() -> None:
    engine, ledger, vault = memory_engine()
    engine.registry.apply(family_consent(CONSENTED))
    first = engine.on_events(khans(), NOW)
    ledger.save(first)
    before = about_amina(views(first.messages))
    assert any(p.get("address") for v in before for p in opened(v, vault)[0])

    later = restricted(variant(AMINAS_ED))  # the trust's next record marks her R
    out = engine.on_events([later], NOW + timedelta(days=1))
    ledger.save(out)
    assert out.restricted == {AMINA: Restriction.RESTRICTED}
    assert {s.person_id for s in out.shredded} == {AMINA}
    # What recipients held of her can no longer be read...
    held = next(v for v in before if v.recipient == "mash")
    with_her = next(s for s in held.subjects if s.person_id == AMINA)
    assert with_her.demographics is not None
    try:
        open_box(
            vault,
            with_her.demographics,
            seal_context(held.event_id, "mash", f"person:{AMINA}"),
        )
        raise AssertionError("her old key still opens what the MASH held")
    except KeyDestroyed:
        pass
    # ...and every earlier view of her comes again, in a new revision, without it.
    resent = {(v.event_id, v.recipient): v for v in about_amina(views(out.messages))}
    for view in before:
        again = resent.get((view.event_id, view.recipient))
        if again is None and view.recipient == "schools":
            # Notified before the schools' records arrived in the batch: the local
            # authority's then; decided again, each child's school's from the roll.
            [again, *_] = [
                v for (e, r), v in resent.items() if e == view.event_id and r.startswith("school:")
            ]
        assert again is not None, (view.event_id, view.recipient)
        assert again.address_withheld
        assert again.revision > view.revision or again.recipient != view.recipient
        assert all(p["address"] is None for p in opened(again, vault)[0])
    # Known from now on: the next event shreds nothing more and is withheld at once.
    next_one = engine.on_events([variant(HIGH_RISK)], NOW + timedelta(days=2))
    assert not next_one.shredded and not next_one.restricted
    assert all(v.address_withheld for v in about_amina(views(next_one.messages)))
