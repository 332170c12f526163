"""What the ledger records of the consent service: each decision once, and each delivery
exactly as the view that went out, though the ledger works them out from ``ehx.decisions``."""

from __future__ import annotations

from ehx.consent.auditing import consent_acts, decision_acts, outbox_records
from ehx.schemas.audit import Action, stable_id
from ehx.schemas.views import Retraction, ShareView
from tests.consent.fakes import khans_consented_then_withdrawn
from tests.records import NOW


def test_each_delivery_the_ledger_works_out_is_the_view_that_went_out() -> None:
    outboxes = khans_consented_then_withdrawn()
    views = [m for out in outboxes for m in out.messages if isinstance(m, ShareView)]
    assert {v.basis.outcome for v in views} >= {"allow", "notify", "indicator"}
    derived = {
        r.audit_id: r
        for out in outboxes
        for d in out.decisions
        for r in decision_acts(d)
        if r.action == Action.DELIVERED
    }
    assert len(derived) == len(views)
    for view in views:
        record = derived[stable_id("delivered", view.decision_id, view.revision)]
        assert record.agency == view.recipient
        assert record.family_id == view.family_id
        assert record.subject_ids == tuple(sorted({s.person_id for s in view.subjects}))
        assert record.event_ids == (str(view.event_id),)
        assert record.purpose == view.basis.outcome
        basis = view.basis
        assert record.bases == tuple(
            b for b in (*basis.consent_ids, basis.rule, basis.lawful_basis) if b
        )
        assert record.at == view.shared_at


def test_every_decision_is_recorded_once_and_consent_itself_records_only_what_they_omit() -> None:
    for out in khans_consented_then_withdrawn():
        recorded = [r for d in out.decisions for r in decision_acts(d)]
        decided = [r for r in recorded if r.action.startswith("decision.")]
        assert len(decided) == len(out.decisions)
        assert len({r.audit_id for r in recorded}) == len(recorded)
        own = consent_acts(out, NOW)
        # Retractions and keys destroyed: what no decision on ehx.decisions says.
        retractions = [m for m in out.messages if isinstance(m, Retraction)]
        assert [r.action for r in own] == [Action.RETRACTED] * len(retractions) + [
            Action.KEY_DESTROYED
        ] * len(out.shredded)
        # Between them, everything the ledger holds of the outbox, each act once.
        assert {r.audit_id for r in outbox_records(out, NOW)} == {
            r.audit_id for r in [*recorded, *own]
        }
    withdrawn = khans_consented_then_withdrawn()[-1]
    assert withdrawn.shredded and any(isinstance(m, Retraction) for m in withdrawn.messages)


def test_the_ledger_names_the_trace_a_decision_travelled_with() -> None:
    [out, *_] = khans_consented_then_withdrawn()
    decision = out.decisions[0]
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    traces = {str(decision.event_id): traceparent}
    traced = [r for r in outbox_records(out, NOW, traces) if str(decision.event_id) in r.event_ids]
    assert traced and {r.trace_id for r in traced} == {"0af7651916cd43dd8448eb211c80319c"}
