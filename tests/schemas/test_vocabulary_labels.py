"""Every recipient and event type has its plain words: a new one cannot reach a page as an id."""

from __future__ import annotations

from ehx.schemas.vocabulary import EventType, Recipient


def test_every_recipient_and_event_type_is_named_in_plain_words() -> None:
    # A member added without its words fails here (KeyError), not on a screener's page.
    recipients = [r.label for r in Recipient]
    event_types = [t.label for t in EventType]
    assert len(set(recipients)) == len(Recipient) and len(set(event_types)) == len(EventType)
    assert Recipient.MASH.label == "the MASH"
    assert EventType.HEALTH_NOT_BROUGHT.label == "Not brought to an appointment"
    assert not [label for label in event_types if "." in label or "_" in label]
