"""In-memory ports for the consent engine: for unit tests and the benchmark, never the service.

The service uses ``ConsentStore`` and ``DataKeyStore`` (the database); these answer the
same questions from dicts, and ``tests/consent/test_store.py`` holds both to one contract.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ehx.consent.decide import Decision, family_of
from ehx.consent.engine import Outbox
from ehx.schemas import CanonicalEvent
from ehx.schemas.vocabulary import covers


class MemoryLedger:
    """A ``ConsentLedger`` in memory: what the SQL store keeps, kept in dicts."""

    def __init__(self) -> None:
        self.events_by_id: dict[str, CanonicalEvent] = {}
        self.decisions: dict[str, Decision] = {}
        self._decisions_of: dict[str, set[str]] = defaultdict(set)
        self._by_family: dict[str, dict[str, CanonicalEvent]] = defaultdict(dict)
        self._families_of: dict[str, set[str]] = defaultdict(set)
        self.restricted_people: set[str] = set()

    def decided(self, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if e in self.events_by_id}

    def events(self, event_ids: Sequence[str]) -> dict[str, CanonicalEvent]:
        return {e: self.events_by_id[e] for e in event_ids if e in self.events_by_id}

    def family_events(self, family_ids: Iterable[str]) -> list[CanonicalEvent]:
        found = {i: e for f in set(family_ids) for i, e in self._by_family.get(f, {}).items()}
        return sorted(found.values(), key=lambda e: (e.occurred_at, str(e.event_id)))

    def families_on_file(self, family_ids: Iterable[str]) -> set[str]:
        return {f for f in family_ids if self._by_family.get(f)}

    def families_of(self, person_id: str) -> set[str]:
        return set(self._families_of.get(person_id, set()))

    def latest(self, decision_ids: Sequence[str]) -> dict[str, Decision]:
        return {d: self.decisions[d] for d in decision_ids if d in self.decisions}

    def decisions_of(self, event_ids: Sequence[str]) -> dict[str, Decision]:
        return {i: self.decisions[i] for e in event_ids for i in self._decisions_of.get(e, ())}

    def restricted(self, person_ids: Iterable[str]) -> set[str]:
        return set(person_ids) & self.restricted_people

    def save(self, outbox: Outbox) -> None:
        self.restricted_people |= set(outbox.restricted)
        for event in outbox.relinked:
            event_id = str(event.event_id)
            for on_file in self._by_family.values():
                on_file.pop(event_id, None)
        for event in [*outbox.held, *outbox.relinked]:
            event_id = str(event.event_id)
            self.events_by_id[event_id] = event
            families = {s.family_id for s in event.subjects if s.family_id} or {family_of(event)}
            for family in families:
                self._by_family[family][event_id] = event
                for subject in event.subjects:
                    if subject.person_id:
                        self._families_of[subject.person_id].add(family)
        for decision in outbox.decisions:
            before = self.decisions.get(decision.decision_id)
            if before is None or decision.revision > before.revision:
                self.decisions[decision.decision_id] = decision
                self._decisions_of[str(decision.event_id)].add(decision.decision_id)


class MemoryKeyVault:
    """A vault in a dict, for unit tests of the pure parts."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}
        self._versions: dict[tuple[str, str, str], int] = {}

    def current(self, recipient: str, person_id: str, period: str) -> tuple[str, bytes]:
        version = self._versions.setdefault((recipient, person_id, period), 1)
        key_id = f"{recipient}:{person_id}:{period}:v{version}"
        key = self.keys.get(key_id)
        if key is None:
            if key_id in self.keys:  # destroyed: a new version
                self._versions[(recipient, person_id, period)] = version + 1
                return self.current(recipient, person_id, period)
            key = self.keys[key_id] = AESGCM.generate_key(bit_length=256)
        return key_id, key

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    def flush(self) -> None:
        """Nothing to write: the dict is the store."""

    def prefetch(self, person_ids: Iterable[str]) -> None:
        """Nothing to load: the dict is the store."""

    def destroy(self, recipient: str, person_id: str, because: str) -> list[str]:
        gone = []
        for key_id, key in self.keys.items():
            holder, person, _period, _version = key_id.rsplit(":", 3)
            if key is not None and person == person_id and covers(recipient, holder):
                gone.append(key_id)
        for key_id in gone:
            self.keys[key_id] = None
        return gone
