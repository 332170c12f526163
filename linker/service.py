"""The linker service: ``ehx.raw.*`` in, ``ehx.linked`` out, keyed by family id.

Each event's signature is checked first (a forged event is quarantined, never linked).
Then every subject is resolved to a person and the people to families; the event goes to
``ehx.linked`` with person id, family id and match confidence on each subject, keyed by
family id so that one family's events stay in order on one partition.

Acknowledgement: ``NACK_ON_ERROR``. Linked events and quarantine entries are published
and acknowledged, then the decisions are committed to the database, then the offset is
committed. A crash in between replays the batch: events already in the database are
skipped, the others are linked again and republished under the same event ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from broker import telemetry
from broker.consuming import batch_records, batch_subscriber, quarantine, verified_event
from broker.topics import RAW_TOPICS, Topic
from linker.families import OUTSIDE_ROLES, FamilyIndex, Member
from linker.index import IdentityIndex
from linker.mentions import mentions_of
from linker.store import LinkedMention, LinkStore
from schemas import CanonicalEvent, SignatureVerifier

GROUP = "linker"
log = logging.getLogger(__name__)


@dataclass
class Linker:
    """The linker's state: the indexes, rebuilt from its store on start."""

    store: LinkStore
    identities: IdentityIndex
    families: FamilyIndex

    @classmethod
    def open(cls, store: LinkStore) -> Linker:
        identities, families = store.load()
        return cls(store, identities, families)

    def link(self, event: CanonicalEvent) -> tuple[CanonicalEvent, list[LinkedMention]]:
        """Resolve every subject; return the linked event and the decisions to store."""
        mentions = mentions_of(event)
        resolutions = [self.identities.resolve(m.record) for m in mentions]
        self.families.observe(
            Member(r.person_id, m.role, m.household, m.related)
            for m, r in zip(mentions, resolutions, strict=True)
        )
        subjects = []
        decisions = []
        event_id = str(event.event_id)
        for index, (subject, mention, resolution) in enumerate(
            zip(event.subjects, mentions, resolutions, strict=True)
        ):
            family_id = self.families.family_of(resolution.person_id)
            subjects.append(
                subject.model_copy(
                    update={
                        "person_id": resolution.person_id,
                        "family_id": family_id,
                        "match_confidence": round(resolution.confidence, 4),
                    }
                )
            )
            record = mention.record
            decisions.append(
                LinkedMention(
                    event_id,
                    index,
                    resolution.person_id,
                    family_id,
                    resolution.band.value,
                    resolution.weight,
                    record.given_name,
                    record.family_name,
                    record.date_of_birth,
                    record.postcode,
                    sorted(record.identifiers),
                    mention.role,
                    mention.household,
                    mention.related,
                )
            )
        return event.model_copy(update={"subjects": tuple(subjects)}), decisions


def family_key(event: CanonicalEvent) -> str:
    """The partition key: the family of the first subject who is family, not a bystander."""
    for subject in event.subjects:
        if subject.role.value not in OUTSIDE_ROLES and subject.family_id:
            return subject.family_id
    return event.subjects[0].family_id or str(event.event_id)


def register_linker(
    broker: KafkaBroker,
    linker: Linker,
    verifier: SignatureVerifier,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the linker subscriber to ``broker``."""

    @batch_subscriber(
        broker,
        *(topic.value for topic in RAW_TOPICS),
        group_id=GROUP,
        session_timeout_ms=session_timeout_ms,
    )
    async def on_raw(message: KafkaMessage) -> None:
        now = datetime.now(UTC)
        events: list[CanonicalEvent] = []
        sends: list[Awaitable[Any]] = []
        records = batch_records(message.raw_message)
        telemetry.record_batch(GROUP, records)
        accepted: dict[str, str] = {}
        for record in records:
            checked = verified_event(record, verifier, GROUP, now, raw=True)
            if isinstance(checked, CanonicalEvent):
                events.append(checked)
                accepted[str(checked.event_id)] = (
                    telemetry.header(record.headers, telemetry.ACCEPTED_AT) or ""
                )
            else:
                sends.append(quarantine(broker, checked))
        spans = telemetry.stage_spans(
            GROUP, [(str(e.event_id), e.trace.traceparent if e.trace else None) for e in events]
        )
        with spans:
            done = await asyncio.to_thread(linker.store.linked, [str(e.event_id) for e in events])
            decisions: list[LinkedMention] = []
            for event in events:
                if str(event.event_id) in done:
                    continue  # a replay after a crash: linked and stored already
                linked, made = linker.link(event)
                decisions += made
                headers = {"ehx-event-id": str(event.event_id)}
                if linked.trace is not None:
                    headers[telemetry.TRACEPARENT] = linked.trace.traceparent
                if accepted.get(str(event.event_id)):
                    headers[telemetry.ACCEPTED_AT] = accepted[str(event.event_id)]
                sends.append(
                    broker.publish(
                        linked.to_bytes(),
                        Topic.LINKED.value,
                        key=family_key(linked).encode(),
                        headers=headers,
                    )
                )
            await asyncio.gather(*sends)
            await asyncio.to_thread(linker.store.save, decisions)
