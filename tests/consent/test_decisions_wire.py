"""What goes on ``ehx.decisions``: each event's decisions together in one message, which
the audit ledger reads back whole (and a single decision, as earlier versions sent)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ehx.broker.topics import Topic
from ehx.consent.decide import read_decisions
from ehx.consent.service import outbox_messages
from tests.consent.fakes import khans_consented_then_withdrawn


def test_each_event_s_decisions_travel_in_one_message_and_read_back_as_decided() -> None:
    for out in khans_consented_then_withdrawn():
        sent = [m for m in outbox_messages(out) if m.topic == Topic.DECISIONS.value]
        events = {str(d.event_id) for d in out.decisions}
        assert len(sent) == len(events)
        read = [d for m in sent for d in read_decisions(m.value)]
        # Every decision once, as made: the order within an event, and every field.
        assert sorted(read, key=lambda d: (d.decision_id, d.revision)) == sorted(
            out.decisions, key=lambda d: (d.decision_id, d.revision)
        )
        for message in sent:
            decisions = read_decisions(message.value)
            assert {str(d.event_id) for d in decisions} == {
                dict(message.headers)["ehx-event-id"].decode()
            }
            assert {d.family_id.encode() for d in decisions} == {message.key}


def test_a_single_decision_as_earlier_versions_sent_it_is_still_read() -> None:
    [first, *_] = khans_consented_then_withdrawn()
    decision = first.decisions[0]
    assert read_decisions(decision.model_dump_json().encode()) == (decision,)


@pytest.mark.parametrize("value", [b'{"decisions": []}', b'{"decisions": [{}]}', b"\x00 not json"])
def test_what_is_not_an_event_s_decisions_is_refused(value: bytes) -> None:
    with pytest.raises(ValidationError):
        read_decisions(value)
