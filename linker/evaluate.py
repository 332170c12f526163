"""Linking measured on a labelled sample: what a council checks before it trusts it.

A sample is a CSV file of person records, each labelled with the true person (its
``cluster``), as a council's own staff label a few thousand of their records. Linked in
a fresh index with the current model, in file order, it gives pairwise precision,
recall and F1 before anyone reviews anything, the review queue's size and purity (the
share of its pairs that are truly one person), and pair completeness (the share of true
pairs that share a blocking key: the most recall can be).

Pairs are counted from cluster sizes, never pair by pair, so a million records cost
what linking them costs.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from ehx.linker.blocking import blocking_keys
from ehx.linker.compare import PersonRecord
from ehx.linker.index import Band, IdentityIndex
from ehx.linker.model import DEFAULT, LinkModel, LinkPolicy

#: The sample's columns, in this order, with a header row.
COLUMNS = ("record_id", "given_name", "family_name", "date_of_birth", "postcode", "cluster")


@dataclass(frozen=True)
class LabelledRecord:
    """One record of a sample: its id, what it says, and which true person it is."""

    record_id: str
    record: PersonRecord
    cluster: str


@dataclass(frozen=True)
class SampleProblem:
    """Why a line of a sample cannot be used (line 1 is the header)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def read_sample(text: str) -> tuple[list[LabelledRecord], list[SampleProblem]]:
    """The records of a labelled sample, or every line that is wrong and why.

    An empty field is a missing value (``record_id`` and ``cluster`` may not be
    missing); ``date_of_birth`` is an ISO 8601 date; a postcode is kept as written,
    whatever its country's shape.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], [SampleProblem(1, f"the file is empty: expected the header {','.join(COLUMNS)}")]
    if tuple(h.strip().lstrip("\ufeff") for h in header) != COLUMNS:
        return [], [
            SampleProblem(1, f"the header must be {','.join(COLUMNS)}, not {','.join(header)}")
        ]
    found: list[LabelledRecord] = []
    problems: list[SampleProblem] = []
    first_seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            problems.append(SampleProblem(line, f"{len(row)} fields, expected {len(COLUMNS)}"))
            continue
        record_id, given, family, born, postcode, cluster = (cell.strip() for cell in row)
        reason: str | None
        try:
            birth = date.fromisoformat(born) if born else None
        except ValueError:
            birth, reason = None, f"date_of_birth {born!r} is not an ISO 8601 date (YYYY-MM-DD)"
        else:
            reason = _wrong(record_id, cluster, first_seen.get(record_id))
        if reason:
            problems.append(SampleProblem(line, reason))
            continue
        first_seen[record_id] = line
        found.append(
            LabelledRecord(record_id, PersonRecord(given, family, birth, postcode), cluster)
        )
    return found, problems


def _wrong(record_id: str, cluster: str, seen_on: int | None) -> str | None:
    if not record_id:
        return "record_id is empty"
    if seen_on is not None:
        return f"record_id {record_id!r} is already on line {seen_on}"
    if not cluster:
        return "cluster is empty: each record must name its true person"
    return None


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int

    @property
    def f1(self) -> float:
        both = self.precision + self.recall
        return 2 * self.precision * self.recall / both if both else 0.0


def pair_scores(truth: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Pairwise precision and recall of a clustering against the truth."""

    def pairs(counts: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter(zip(truth, predicted, strict=True)))
    true_pairs, predicted_pairs = pairs(Counter(truth)), pairs(Counter(predicted))
    return Scores(
        both / predicted_pairs if predicted_pairs else 1.0,
        both / true_pairs if true_pairs else 1.0,
        true_pairs,
        predicted_pairs,
    )


def pair_completeness(people: dict[str, list[PersonRecord]]) -> float:
    """Of every pair of one true person's records, the share that blocking brings
    together: a pair that never meets is never compared, so this bounds recall.

    Keys are worked out one person at a time: kept for a whole sample (a record searches
    dozens), they took more memory at a million people than the index itself."""
    met = total = 0
    for records in people.values():
        mentions = [blocking_keys(record) for record in records]
        for i, first in enumerate(mentions):
            for second in mentions[i + 1 :]:
                total += 1
                met += first.meet(second)
    return met / total if total else 1.0


@dataclass(frozen=True)
class SampleEvaluation:
    records: int
    clusters: int
    scores: Scores
    #: Pairs the linker sent for a person to decide.
    review_items: int
    #: Of those, the share that are truly one person (None with none to review).
    review_purity: float | None
    pair_completeness: float
    bands: dict[str, int] = field(default_factory=dict)
    #: Seconds spent linking the sample (not scoring it): what a linking rate divides.
    linking_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "clusters": self.clusters,
            "precision": round(self.scores.precision, 4),
            "recall": round(self.scores.recall, 4),
            "f1": round(self.scores.f1, 4),
            "true_pairs": self.scores.true_pairs,
            "predicted_pairs": self.scores.predicted_pairs,
            "review_items": self.review_items,
            "review_purity": None if self.review_purity is None else round(self.review_purity, 4),
            "pair_completeness": round(self.pair_completeness, 4),
            "bands": self.bands,
        }


def evaluate_sample(
    sample: Iterable[LabelledRecord],
    policy: LinkPolicy | None = None,
    model: LinkModel = DEFAULT,
) -> SampleEvaluation:
    """Link the sample in a fresh index, in order, and score it against its labels."""
    index = IdentityIndex(policy, model)
    cluster_of: dict[str, str] = {}  # each record's own person id -> its true person
    rows: list[tuple[str, str]] = []
    records: dict[str, list[PersonRecord]] = {}
    bands: Counter[str] = Counter()
    started = time.perf_counter()
    for item in sample:
        resolution = index.resolve(item.record)
        index.join(resolution)
        index.take_journal()  # as the linker service does, which stores it
        bands[resolution.band.value] += 1
        cluster_of[resolution.own] = item.cluster
        rows.append((item.cluster, resolution.person_id))
        records.setdefault(item.cluster, []).append(item.record)
    linking_seconds = time.perf_counter() - started
    truth = [t for t, _ in rows]
    scores = pair_scores(truth, [index.person(p) for _, p in rows])
    right = [cluster_of.get(r.person_id) == cluster_of.get(r.candidate_id) for r in index.review]
    return SampleEvaluation(
        records=len(rows),
        clusters=len(set(truth)),
        scores=scores,
        review_items=len(index.review),
        review_purity=sum(right) / len(right) if right else None,
        pair_completeness=pair_completeness(records),
        bands={band.value: bands[band.value] for band in Band},
        linking_seconds=linking_seconds,
    )
