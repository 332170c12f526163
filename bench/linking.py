"""Linking throughput and memory per million people, on synthetic cities of two sizes;
and linking quality on the harsh sample at several sizes.

For each size, a city is generated and its records mapped to canonical events first (not
timed); then the identity and family indexes link every mention, timed, and the
process's resident memory is read before and after. Memory per million people is the
growth divided by the people linked, scaled; two sizes show whether it grows linearly.
The baseline, same run: mapping alone (the adapters, no linking), records per second.

The harsh sample (``bench.corruptions``, seed 1): for each size a model is learnt from
the sample's own records (no labels), then every record is linked in a fresh index,
timed, and scored against its labels; at the smallest size the hand-set model is scored
too, the baseline the learnt one must beat.
"""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.city import generate_city
from bench.corruptions import harsh_sample
from ehx.adapters import ADAPTERS
from ehx.adapters.framing import RawRecord
from ehx.linker.evaluate import evaluate_sample
from ehx.linker.families import FamilyIndex, Member
from ehx.linker.index import IdentityIndex
from ehx.linker.mentions import mentions_of
from ehx.linker.training import train
from ehx.schemas import Agency, CanonicalEvent

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SIZES = (20_000, 60_000)
#: People in the harsh samples (about 2.1 records each); a million takes about 20 minutes.
HARSH_SIZES = (20_000, 200_000)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _events(people: int) -> tuple[list[CanonicalEvent], float]:
    city = generate_city(people, 2026)
    started = time.perf_counter()
    events: list[CanonicalEvent] = []
    for number, source in enumerate(city.records):
        raw = RawRecord(source.agency, f"{source.agency}:{number}", b"", parsed=source.data)
        events += ADAPTERS[Agency(source.agency)].map(raw, NOW).events
    return events, len(city.records) / (time.perf_counter() - started)


def _once(people: int) -> dict[str, Any]:
    events, mapping_rate = _events(people)
    gc.collect()
    before = _rss_mb()
    identities, families = IdentityIndex(), FamilyIndex()
    started = time.perf_counter()
    mentions = 0
    for event in events:
        found = mentions_of(event)
        mentions += len(found)
        resolved = [identities.resolve(m.record) for m in found]
        for resolution in resolved:
            identities.join(resolution)
        families.observe(
            Member(r.person_id, m.role, m.household, m.related)
            for m, r in zip(found, resolved, strict=True)
        )
    seconds = time.perf_counter() - started
    gc.collect()
    grown = _rss_mb() - before
    return {
        "people": people,
        "events": len(events),
        "mentions": mentions,
        "linking_events_per_second": len(events) / seconds,
        "mapping_records_per_second": mapping_rate,
        "memory_mb": round(grown, 1),
        "memory_mb_per_million_people": round(grown / people * 1_000_000),
    }


def _harsh(people: int, baseline: bool) -> dict[str, Any]:
    sample = harsh_sample(people, seed=1)
    started = time.perf_counter()
    learnt = train([item.record for item in sample])
    training = time.perf_counter() - started
    scored = evaluate_sample(sample, model=learnt.model)
    return {
        "people": people,
        "records": len(sample),
        "training_seconds": round(training, 1),
        "linking_records_per_second": len(sample) / scored.linking_seconds,
        "learnt": scored.as_dict() | learnt.model.policy.as_dict(),
        "hand_set": evaluate_sample(sample).as_dict() if baseline else None,
    }


def run(harsh_people: tuple[int, ...] = HARSH_SIZES) -> dict[str, Any]:
    return {
        "sizes": [_once(people) for people in SIZES],
        "harsh": [_harsh(p, baseline=n == 0) for n, p in enumerate(sorted(harsh_people))],
    }
