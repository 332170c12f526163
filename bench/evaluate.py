"""Measure linking against the synthetic city's truth: pairwise precision and recall.

Every mention of a person in every accepted record is one item. Two items are a true
pair if they are the same person (for families: in the same family); a predicted pair
if the linker put them together. Precision = right pairs / predicted pairs; recall =
right pairs / true pairs. Counted from cluster sizes, never pair by pair.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.city import City, generate_city
from ehx.adapters import ADAPTERS
from ehx.adapters.framing import RawRecord
from ehx.linker.compare import PersonRecord
from ehx.linker.evaluate import Scores, pair_completeness, pair_scores
from ehx.linker.families import FamilyIndex, Member
from ehx.linker.index import Band, IdentityIndex
from ehx.linker.mentions import mentions_of
from ehx.linker.model import DEFAULT, LinkModel, LinkPolicy
from ehx.schemas import Agency, RecordRefused

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Evaluation:
    people: int
    records: int
    mentions: int
    persons: Scores
    families: Scores
    bands: dict[str, int]
    review_items: int
    records_per_second: float
    #: Of the true pairs, the share that share a blocking key: the most recall can be.
    pair_completeness: float

    def as_dict(self) -> dict[str, object]:
        return {
            "people": self.people,
            "records": self.records,
            "mentions": self.mentions,
            "person_linking": self.persons.__dict__,
            "family_grouping": self.families.__dict__,
            "bands": self.bands,
            "review_items": self.review_items,
            "blocking_pair_completeness": round(self.pair_completeness, 4),
            "linking_records_per_second": round(self.records_per_second),
        }


def evaluate(
    city: City | None = None,
    people: int = 20_000,
    seed: int = 2026,
    policy: LinkPolicy | None = None,
    model: LinkModel = DEFAULT,
) -> Evaluation:
    """Link every record of a synthetic city and score the result against its truth."""
    city = city or generate_city(people, seed)
    family_of = {p.person_id: p.family_id for p in city.people}
    identities, families = IdentityIndex(policy, model), FamilyIndex()
    rows: list[tuple[str, str]] = []  # (true person, predicted person) per mention
    records: dict[str, list[PersonRecord]] = {}  # each true person's mentions' records
    bands: Counter[str] = Counter()
    started = time.perf_counter()
    for number, source in enumerate(city.records):
        adapter = ADAPTERS[Agency(source.agency)]
        raw = RawRecord(source.agency, f"{source.agency}:{number}", b"", parsed=source.data)
        try:
            events = adapter.map(raw, NOW).events
        except RecordRefused as refusal:  # the generator makes valid records only
            raise AssertionError(f"synthetic record refused: {refusal}") from refusal
        for event in events:
            members = []
            for mention, truth in zip(mentions_of(event), source.truth, strict=True):
                resolution = identities.resolve(mention.record)
                identities.join(resolution)
                bands[resolution.band.value] += 1
                rows.append((truth, resolution.person_id))
                records.setdefault(truth, []).append(mention.record)
                members.append(
                    Member(resolution.person_id, mention.role, mention.household, mention.related)
                )
            families.observe(members)
    seconds = time.perf_counter() - started
    final = [(truth, identities.person(predicted)) for truth, predicted in rows]
    persons = pair_scores([t for t, _ in final], [p for _, p in final])
    family_scores = pair_scores(
        [family_of[t] for t, _ in final], [families.family_of(p) for _, p in final]
    )
    return Evaluation(
        people=len(city.people),
        records=len(city.records),
        mentions=len(rows),
        persons=persons,
        families=family_scores,
        bands={band.value: bands[band.value] for band in Band},
        review_items=len(identities.review),
        records_per_second=len(city.records) / seconds,
        pair_completeness=pair_completeness(records),
    )
