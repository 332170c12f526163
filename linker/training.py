"""Learning the match model from the agencies' own records, as Splink does.

u (how often non-matches agree at each level) is counted on random pairs of records,
nearly all of which are different people. m (how often true matches do) is learnt by
expectation maximisation on the pairs blocking puts together, holding u fixed: each
pattern of levels is given the probability that its pairs are one person under the
current m, and m is re-estimated from those probabilities until it stops changing. No
labels are needed. The share of records bearing each name gives the term frequencies.

Pure: records in, a ``LinkModel`` out. ``ehx links train`` feeds it the stored mentions
and stores what it learns.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ehx.linker.compare import PersonRecord, levels
from ehx.linker.index import MAX_BLOCK
from ehx.linker.model import DEFAULT, LEVELS, LinkModel, LinkPolicy
from ehx.linker.names import fold, name_key, sound_code

#: A level nobody's pairs showed is not taken as impossible: this is added to each count.
SMOOTHING = 0.5
#: A name borne by fewer records than this is left to the model's floor (rare), and is
#: not stored: a frequency table is no list of who is on file.
MIN_NAME_COUNT = 5

Pattern = tuple[tuple[str, str], ...]

#: The thresholds for a learnt model. Its weights are not the hand-set model's (term
#: frequencies give a rare name more, m and u are the data's own), so neither are its
#: thresholds. Measured with models learnt from the harsh sample itself (seed 1), 16.5
#: bits links at precision 0.997 and recall 0.963 at 20,000 people and 0.991 and 0.958
#: at 200,000 (the rise with the people on file included). 14 bits kept more recall
#: but fell to 0.981 precision at 200,000, where two records agreeing on a given name
#: and a birthday and nothing else are as often strangers as not. The prior puts 16.5
#: bits at the hand-set model's confidence for 22 bits.
LEARNT = LinkPolicy(upper=16.5, lower=10.0, prior_bits=-8.5, reference_people=20_000)


@dataclass(frozen=True)
class Training:
    """The model learnt (its ``source`` says from what), and whether EM settled."""

    model: LinkModel
    converged: bool


#: Splink's way of keeping EM on people, not households: m is learnt in two sessions,
#: each on the pairs one blocking rule makes (the linker's own passes are narrower, for
#: speed), for the fields that rule does not compare
#: (pairs that share a birth date teach the names and the postcode; pairs that share a
#: name teach the birth date). On every blocked pair at once, EM learns "one household"
#: (a family name and a postcode shared) instead of "one person".
SESSIONS = {
    "dob": ("given_name", "family_name", "postcode"),
    "given_family": ("date_of_birth",),
}


def train(
    records: Sequence[PersonRecord],
    *,
    seed: int = 0,
    random_pairs: int = 200_000,
    max_blocked_pairs: int = 500_000,
    max_iterations: int = 50,
) -> Training:
    """A model learnt from ``records`` (at least two), the same for the same seed."""
    if len(records) < 2:
        raise ValueError("training needs two records at least")
    rng = random.Random(seed)  # noqa: S311 (sampling pairs, not secrets)
    u = _estimate_u(records, rng, random_pairs)
    m = {f: dict(DEFAULT.m[f]) for f in LEVELS}
    blocks = _blocks(records)
    blocked, iterations, converged = 0, 0, True
    for blocking, learns in SESSIONS.items():
        patterns = _blocked_patterns(records, blocks[blocking], rng, max_blocked_pairs, learns)
        learnt, ran, settled = _expectation_maximisation(patterns, m, u, learns, max_iterations)
        for f in learns:
            m[f] = learnt[f]
        blocked += sum(patterns.values())
        iterations, converged = iterations + ran, converged and settled
    shares, unlisted = _name_shares(records)
    model = LinkModel(
        m=m,
        u=u,
        frequencies=shares,
        unlisted=unlisted,
        source=(
            f"learnt from {len(records):,} records: u from {random_pairs:,} random pairs, "
            f"m by EM on {blocked:,} blocked pairs ({iterations} iterations)"
        ),
        policy=LEARNT,
    )
    return Training(model, converged)


def _pattern(a: PersonRecord, b: PersonRecord, fields: Iterable[str] = LEVELS) -> Pattern:
    """The pair's level in each of ``fields``, missing fields and the swapped family
    name left out (they weigh nothing in any model)."""
    wanted = set(fields)
    return tuple(
        (f, level)
        for f, level, _ in levels(a, b, DEFAULT)
        if f in wanted and level != "missing" and not (f == "family_name" and level == "swapped")
    )


def _shares(counts: dict[str, Counter[str]]) -> dict[str, dict[str, float]]:
    found = {}
    for f, names in LEVELS.items():
        total = sum(counts[f][level] for level in names) + SMOOTHING * len(names)
        found[f] = {level: (counts[f][level] + SMOOTHING) / total for level in names}
    return found


def _estimate_u(
    records: Sequence[PersonRecord], rng: random.Random, pairs: int
) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter[str]] = {f: Counter() for f in LEVELS}
    for _ in range(pairs):
        a, b = rng.sample(range(len(records)), 2)
        for f, level in _pattern(records[a], records[b]):
            counts[f][level] += 1
    return _shares(counts)


#: Training's blocks: the positions of the records under each key of one session's
#: rule (not ``blocking.Blocks``, the index's people under its keys).
RecordBlocks = dict[tuple[str, ...], list[int]]


def _blocks(records: Sequence[PersonRecord]) -> dict[str, RecordBlocks]:
    """For each session's blocking rule, its blocks: key -> the records' numbers. The
    birth date alone; the given name's normal form with the family name's sound-alike
    code."""
    found: dict[str, RecordBlocks] = {blocking: defaultdict(list) for blocking in SESSIONS}
    for number, record in enumerate(records):
        if record.date_of_birth:
            found["dob"][(record.date_of_birth.isoformat(),)].append(number)
        if record.given_name and record.family_name:
            names = (name_key(record.given_name), sound_code(record.family_name))
            found["given_family"][names].append(number)
    return found


def _blocked_patterns(
    records: Sequence[PersonRecord],
    blocks: RecordBlocks,
    rng: random.Random,
    most: int,
    fields: Sequence[str],
) -> Counter[Pattern]:
    """Each pattern of levels in ``fields`` among the pairs one blocking pass puts
    together (all of them, or those of randomly chosen blocks, about ``most``)."""
    # RecordBlocks in a random order, each block's pairs whole, until ``most`` are taken: a
    # city's blocks hold far more pairs than training needs, and listing them all would
    # not fit in memory at a million people.
    keys = sorted(k for k, members in blocks.items() if 2 <= len(members) <= MAX_BLOCK)
    rng.shuffle(keys)
    chosen: list[tuple[int, int]] = []
    for key in keys:
        members = blocks[key]
        chosen += [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
        if len(chosen) >= most:
            break
    return Counter(_pattern(records[a], records[b], fields) for a, b in chosen)


def _expectation_maximisation(
    patterns: Counter[Pattern],
    m: dict[str, dict[str, float]],
    u: dict[str, dict[str, float]],
    fields: Sequence[str],
    most: int,
) -> tuple[dict[str, dict[str, float]], int, bool]:
    """m for ``fields``, from the patterns of blocked pairs, u held fixed."""
    share = 0.01
    total = sum(patterns.values()) or 1
    for iteration in range(1, most + 1):
        expected: dict[str, Counter[str]] = {f: Counter() for f in LEVELS}
        matches = 0.0
        for pattern, count in patterns.items():
            if_match, if_not = share, 1.0 - share
            for f, level in pattern:
                if_match *= m[f][level]
                if_not *= u[f][level]
            p = count * if_match / (if_match + if_not)
            matches += p
            for f, level in pattern:
                expected[f][level] += p  # type: ignore[assignment]
        learnt = _shares(expected)
        change = max(abs(learnt[f][level] - m[f][level]) for f in fields for level in LEVELS[f])
        m = {f: learnt[f] if f in fields else m[f] for f in LEVELS}
        share = matches / total
        if change < 1e-5:
            return m, iteration, True
    return m, most, False


def _name_shares(
    records: Sequence[PersonRecord],
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Each listed name's share of records, and the share an unlisted one is given (the
    most a name too rare to list can have)."""
    shares, unlisted = {}, {}
    for f in ("given_name", "family_name"):
        counts = Counter(fold(getattr(r, f)) for r in records if fold(getattr(r, f)))
        total = sum(counts.values()) or 1
        shares[f] = {name: n / total for name, n in counts.items() if n >= MIN_NAME_COUNT}
        unlisted[f] = (MIN_NAME_COUNT - 1) / total
    return shares, unlisted
