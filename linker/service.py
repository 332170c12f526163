"""The linker service: ``ehx.raw.*`` in, ``ehx.linked`` out, keyed by family id.

Each event's signature is checked first (a forged event is quarantined, never linked).
Then every subject is resolved to a person and the people to families; the event goes to
``ehx.linked`` with person id, family id and match confidence on each subject, keyed by
family id so that one family's events stay in order on one partition.

Acknowledgement: ``NACK_ON_ERROR``. Linked events and quarantine entries are published
and acknowledged, then the decisions are committed to the database, then the offset is
committed. A crash in between replays the batch: events already in the database are
skipped, the others are linked again and republished under the same event ids.

A reviewer's decision (``ehx.links``, group ``linker-reviews``) merges two people or
splits a wrong merge. Every event already sent whose subjects now say another person or
family goes out again as a ``Relink`` on ``ehx.linked``; the consent service retracts what
recipients got under the old identity and decides the event afresh. Relinks are
published before the decision is stored, so a crash in between recomputes the same ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from ehx.broker import telemetry
from ehx.broker.auditing import audit_message
from ehx.broker.commit import BatchCommit, Store
from ehx.broker.consuming import (
    BATCH,
    Verification,
    VerifiedBatch,
    batch_records,
    batch_subscriber,
    parsed,
    quarantined,
    refusal,
    service_router,
)
from ehx.broker.publishing import MessagePublisher, OutboundMessage
from ehx.broker.topics import RAW_TOPICS, Topic
from ehx.linker.families import FamilyIndex, Member, regroup
from ehx.linker.index import Band, IdentityIndex, Op, Resolution
from ehx.linker.mentions import mentions_of
from ehx.linker.relinks import current_links, relinks
from ehx.linker.store import LinkedMention, LinkReview, LinkStore
from ehx.schemas import CanonicalEvent, SignatureVerifier, family_key
from ehx.schemas.audit import Action, AuditRecord, stable_id
from ehx.schemas.errors import LinkDecisionRefused
from ehx.schemas.links import JOINED, Relink, ReviewDecision
from ehx.schemas.quarantine import QuarantineRecord

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
    #: What this batch linked, not yet stored; and the relinks that joining two people
    #: through a record caused, not yet published.
    unstored: list[LinkedMention] = field(default_factory=list)
    relinks: list[tuple[str, Relink]] = field(default_factory=list)
    #: Linking a batch and applying a decision take turns: each stores its own journal.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: A batch or decision failed after changing the indexes: they hold links the store
    #: does not, so they are read from the store again before the next one.
    stale: bool = False

    @classmethod
    def open(cls, store: LinkStore) -> Linker:
        identities, families = store.load()
        return cls(store, identities, families)

    def apply(self, decision: ReviewDecision) -> list[tuple[str, Relink]]:
        """A reviewer's decision, and the relinks of events already sent that it causes.

        The same person: merged (reversible). Not the same person: kept apart, and if
        they are one person now, ``person_id`` (or else ``candidate_id``) is split off.
        Families are then grouped again, so a wrong merge of two families is undone too.
        Applying a decision already applied changes nothing and relinks nothing.
        ``LinkDecisionRefused`` if it names a person the linker has never seen.
        """
        identities = self.identities
        unknown = [
            p for p in (decision.person_id, decision.candidate_id) if not identities.knows(p)
        ]
        if unknown:
            raise LinkDecisionRefused(
                decision.review_id, f"no person {' or '.join(unknown)} on the linker's file"
            )
        mentions = self.store.mentions()
        before = current_links(mentions, identities.person, self.families.family_of)
        cause = decision.review_id
        if decision.same_person:
            keep, other = sorted((decision.person_id, decision.candidate_id))
            identities.merge(keep, other, cause)
        elif identities.person(decision.person_id) == identities.person(decision.candidate_id):
            if not identities.split(decision.person_id, cause):
                identities.split(decision.candidate_id, cause)
        else:
            identities.keep_apart(decision.person_id, decision.candidate_id, cause)
        if not any(e.op in (Op.MERGE, Op.SPLIT) for e in identities.journal):
            return []
        self.families = regroup(mentions, identities.person, self.families._next)
        after = current_links(mentions, identities.person, self.families.family_of)
        return relinks(mentions, before, after, cause, decision.decided_at, identities.thresholds)

    def reload(self) -> None:
        """Forget what was linked but not stored: the indexes as the store has them
        (numbering on from the ids reserved, so none already published is reused)."""
        self.identities, self.families = self.store.load()
        self.pending_reviews = []
        self.unstored, self.relinks = [], []
        self.stale = False

    def reserve(self) -> None:
        """Put the highest person and family numbers handed out on file: call before
        publishing anything that names them."""
        self.store.reserve(self.identities._next, self.families._next)

    def _join(self, event: CanonicalEvent, joining: list[Resolution]) -> list[tuple[str, Relink]]:
        """People this event's records showed to be one (identifiers of both on one
        record, or a record matching both surely) are merged, and every event already
        linked about them (stored, or earlier in this batch) is relinked, as after a
        reviewer's merge. Rare: the mentions are read only when it happens."""
        stored = self.store.mentions()
        on_file = {(m.event_id, m.subject_index) for m in stored}
        mentions = [
            *stored,
            *(m for m in self.unstored if (m.event_id, m.subject_index) not in on_file),
        ]
        identities = self.identities
        before = current_links(mentions, identities.person, self.families.family_of)
        for resolution in joining:
            identities.join(resolution)
        self.families = regroup(mentions, identities.person, self.families._next)
        after = current_links(mentions, identities.person, self.families.family_of)
        cause = f"{JOINED} {event.event_id}"
        return relinks(mentions, before, after, cause, event.recorded_at, identities.thresholds)

    def take_relinks(self) -> list[tuple[str, Relink]]:
        taken, self.relinks = self.relinks, []
        return taken

    def take_reviews(self) -> list[LinkReview]:
        taken, self.pending_reviews = self.pending_reviews, []
        return taken

    def link_new(
        self, events: list[CanonicalEvent]
    ) -> tuple[list[CanonicalEvent], list[LinkedMention]]:
        """Link each event not linked before, once: skip what the store has (a replay
        after a crash) and a repeat within the batch (a producer's retry after a broker
        failed can write a raw record twice, side by side)."""
        done = self.store.linked([str(e.event_id) for e in events])
        self.unstored = []
        linked: list[CanonicalEvent] = []
        decisions: list[LinkedMention] = []
        for event in events:
            event_id = str(event.event_id)
            if event_id in done:
                continue
            done.add(event_id)
            one, made = self.link(event)
            linked.append(one)
            decisions += made
        return linked, decisions

    def link(self, event: CanonicalEvent) -> tuple[CanonicalEvent, list[LinkedMention]]:
        """Resolve every subject; return the linked event and the decisions to store."""
        mentions = mentions_of(event)
        resolutions = [self.identities.resolve(m.record) for m in mentions]
        self.families.observe(
            Member(r.person_id, m.role, m.household, m.related)
            for m, r in zip(mentions, resolutions, strict=True)
        )
        joining = [r for r in resolutions if r.joined]
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
                    resolution.own,
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
                    mention.restricted,
                )
            )
        self.unstored += decisions
        if joining:
            self.relinks += self._join(event, joining)
        return event.model_copy(update={"subjects": tuple(subjects)}), decisions


@contextlib.asynccontextmanager
async def _failing_marks_stale(linker: Linker) -> AsyncIterator[None]:
    """A failure from here on leaves the indexes ahead of the store: mark them stale."""
    try:
        yield
    except BaseException:
        linker.stale = True
        raise


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


def linked_message(linked: CanonicalEvent, accepted_at: str | None) -> OutboundMessage:
    """A linked event for ``ehx.linked``, keyed by its family, its journey in the headers."""
    headers = [("ehx-event-id", str(linked.event_id).encode())]
    if linked.trace is not None:
        headers.append((telemetry.TRACEPARENT, linked.trace.traceparent.encode()))
    if accepted_at:
        headers.append((telemetry.ACCEPTED_AT, accepted_at.encode()))
    return OutboundMessage(
        Topic.LINKED.value, family_key(linked).encode(), linked.to_bytes(), tuple(headers)
    )


def relink_message(key: str, relink: Relink) -> OutboundMessage:
    """A relink for ``ehx.linked``, under the key its event first went out with."""
    return OutboundMessage(
        Topic.LINKED.value,
        key.encode(),
        relink.model_dump_json().encode(),
        (("ehx-event-id", str(relink.event_id).encode()), ("ehx-kind", b"relink")),
    )


def register_linker(
    broker: KafkaBroker,
    publisher: MessagePublisher,
    linker: Linker,
    verifier: SignatureVerifier,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the linker's subscribers to ``broker``; they publish through ``publisher``."""
    batches = BatchCommit(publisher)
    router = service_router(GROUP, Verification(verifier, raw=True))
    reviews_router = service_router(REVIEWS)

    def link_batch(
        events: list[CanonicalEvent], accepted: dict[str, str]
    ) -> tuple[list[OutboundMessage], list[LinkedMention]]:
        if linker.stale:
            linker.reload()
        linked, decisions = linker.link_new(events)
        return [linked_message(e, accepted.get(str(e.event_id))) for e in linked], decisions

    @batch_subscriber(
        router,
        *RAW_TOPICS,
        group_id=GROUP,
        session_timeout_ms=session_timeout_ms,
    )
    async def on_raw(message: KafkaMessage, batch: VerifiedBatch = Context(BATCH)) -> None:
        accepted = {
            str(event.event_id): telemetry.header(record.headers, telemetry.ACCEPTED_AT) or ""
            for event, record in batch.items
        }
        events = [event for event, _ in batch.items]
        async with linker.lock, _failing_marks_stale(linker):
            linked, decisions = await asyncio.to_thread(link_batch, events, accepted)
            if decisions:
                await asyncio.to_thread(linker.reserve)
            # Reviews first: a crash before the mentions are stored replays the batch and
            # queues the same pairs again, which the queue keeps once.
            reviews = linker.take_reviews()
            joined = [relink_message(key, relink) for key, relink in linker.take_relinks()]
            journal = linker.identities.take_journal()
            # Relinks after the events: one a record joined is read before its relink.
            await batches.commit(
                batch.refused + linked + joined,
                Store(lambda: linker.store.save_reviews(reviews), "linker reviews"),
                Store(
                    lambda: linker.store.save(decisions, journal),
                    "linker mentions",
                    done=lambda: bool(linker.store.linked([m.event_id for m in decisions[:1]])),
                ),
            )

    @batch_subscriber(
        reviews_router,
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
                await publisher.publish(quarantined(decision))
                continue
            async with linker.lock, _failing_marks_stale(linker):
                if linker.stale:
                    await asyncio.to_thread(linker.reload)
                try:
                    moved = await asyncio.to_thread(linker.apply, decision)
                except LinkDecisionRefused as exc:
                    # Never redelivered forever: refused, with why, and the next one read.
                    await publisher.publish(quarantined(refusal(record, REVIEWS, exc.reason, now)))
                    continue
                if moved:
                    await asyncio.to_thread(linker.reserve)  # regrouping may number families
                journal = linker.identities.take_journal()
                await batches.commit(
                    [relink_message(key, relink) for key, relink in moved],
                    Store(
                        partial(linker.store.save, (), journal, decision),
                        "link decision",
                        retry=False,
                    ),
                )
                # After the decision is on file: the ledger says it was applied.
                await publisher.publish([audit_message(reviewed_record(decision))])
            if moved:
                log.info("review %s: %d event(s) relinked", decision.review_id, len(moved))

    broker.include_router(router)
    broker.include_router(reviews_router)
