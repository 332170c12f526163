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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from adapters.publisher import OutboundMessage
from broker import telemetry
from broker.auditing import publish_audits
from broker.consuming import (
    batch_records,
    batch_subscriber,
    parsed,
    quarantine,
    verified_event,
)
from broker.topics import RAW_TOPICS, Topic
from linker.families import OUTSIDE_ROLES, FamilyIndex, Member
from linker.index import Band, IdentityIndex
from linker.mentions import mentions_of
from linker.store import LinkedMention, LinkReview, LinkStore
from schemas import CanonicalEvent, SignatureVerifier
from schemas.audit import Action, AuditRecord, stable_id
from schemas.links import ReviewDecision
from schemas.quarantine import QuarantineRecord

GROUP = "linker"
REVIEWS = "linker-reviews"
log = logging.getLogger(__name__)


@dataclass
class Linker:
    """The linker's state: the indexes, rebuilt from its store on start."""

    store: LinkStore
    identities: IdentityIndex
    families: FamilyIndex
    #: Uncertain pairs met since the service last took them (for the review queue).
    pending_reviews: list[LinkReview] = field(default_factory=list)

    @classmethod
    def open(cls, store: LinkStore) -> Linker:
        identities, families = store.load()
        linker = cls(store, identities, families)
        for decision in store.decisions():
            linker.apply(decision)
        return linker

    def apply(self, decision: ReviewDecision) -> None:
        """A reviewer's decision: the same person (merge, reversible), or not (kept apart).

        Later records link to the merged person. Events linked before keep their person
        ids downstream: re-linking them, and retracting what recipients got under a wrong
        merge, is not built yet.
        """
        if decision.same_person:
            keep, other = sorted((decision.person_id, decision.candidate_id))
            self.identities.merge(keep, other)
        else:
            self.identities.keep_apart(decision.person_id, decision.candidate_id)

    def take_reviews(self) -> list[LinkReview]:
        taken, self.pending_reviews = self.pending_reviews, []
        return taken

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
            if resolution.band is Band.REVIEW and resolution.candidate_id and resolution.evidence:
                self.pending_reviews.append(
                    LinkReview(
                        resolution.person_id,
                        resolution.candidate_id,
                        event_id,
                        resolution.evidence.weight,
                        resolution.evidence.as_dict(),
                    )
                )
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


def reviewed_record(decision: ReviewDecision) -> AuditRecord:
    """The reviewer's decision on the ledger: who, which pair, which way (never the names)."""
    return AuditRecord(
        audit_id=stable_id("link-review", decision.review_id, decision.decided_at),
        action=Action.LINK_REVIEWED,
        actor=decision.decided_by,
        role="link_reviewer",
        agency="mash",
        purpose=decision.reason[:200],
        subject_ids=(decision.person_id, decision.candidate_id),
        bases=(decision.review_id, "same person" if decision.same_person else "different people"),
        at=decision.decided_at,
    )


def review_message(decision: ReviewDecision) -> OutboundMessage:
    """A reviewer's decision as it goes on ``ehx.links`` (for the CLI, the API, the console)."""
    return OutboundMessage(
        Topic.LINKS.value, decision.review_id.encode(), decision.model_dump_json().encode(), ()
    )


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
            # Reviews first: a crash before the mentions are stored replays the batch and
            # queues the same pairs again, which the queue keeps once.
            await asyncio.to_thread(linker.store.save_reviews, linker.take_reviews())
            await asyncio.to_thread(linker.store.save, decisions)

    @batch_subscriber(
        broker,
        Topic.LINKS.value,
        group_id=REVIEWS,
        session_timeout_ms=session_timeout_ms,
        max_records=50,
    )
    async def on_review(message: KafkaMessage) -> None:
        now = datetime.now(UTC)
        for record in batch_records(message.raw_message):
            decision = parsed(
                record, ReviewDecision.model_validate_json, REVIEWS, "a review decision", now
            )
            if isinstance(decision, QuarantineRecord):
                await quarantine(broker, decision)
                continue
            linker.apply(decision)
            await asyncio.to_thread(linker.store.record_decision, decision)
            await asyncio.gather(*publish_audits(broker, [reviewed_record(decision)]))
