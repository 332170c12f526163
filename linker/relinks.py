"""Relinks: which events already sent say the wrong person or family after a merge or split.

Pure: given every stored mention and each mention's (person, family) before and after a
reviewer's decision, the events whose subjects changed, as ``Relink`` messages that carry
every subject's link (so applying one twice changes nothing), each with the key its event
first went out under (so it lands on the same partition, after the event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import groupby
from uuid import UUID

from ehx.linker.index import Band, confidence
from ehx.linker.model import LinkPolicy
from ehx.linker.store import LinkedMention
from ehx.schemas.links import Relink, SubjectLink
from ehx.schemas.vocabulary import OUTSIDE_ROLES

#: (event id, subject index) to (person id, family id).
Links = dict[tuple[str, int], tuple[str, str]]


def current_links(
    mentions: Sequence[LinkedMention],
    person_of: Callable[[str], str],
    family_of: Callable[[str], str],
) -> Links:
    """Where every mention points now."""
    links: Links = {}
    for mention in mentions:
        person = person_of(mention.person_id)
        links[(mention.event_id, mention.subject_index)] = (person, family_of(person))
    return links


def first_key(mentions: Sequence[LinkedMention]) -> str:
    """The key an event first went out under (as the linker's ``family_key`` chose it)."""
    for mention in mentions:
        if mention.role not in OUTSIDE_ROLES:
            return mention.family_id
    return mentions[0].family_id


def stated_confidence(mention: LinkedMention, policy: LinkPolicy) -> float:
    """The match confidence the linker gave this mention when it linked it."""
    if mention.weight is None or mention.band == Band.DETERMINISTIC:
        return 1.0
    sure = confidence(mention.weight, policy)
    return round(sure if mention.band == Band.LINKED else 1.0 - sure, 4)


def relinks(
    mentions: Sequence[LinkedMention],
    before: Links,
    after: Links,
    cause: str,
    at: datetime,
    policy: LinkPolicy | None = None,
) -> list[tuple[str, Relink]]:
    """One relink per event with a subject whose person or family changed, with its key.

    A subject the reviewer's decision moved is stated with confidence 1.0: a person
    decided it. The others keep the confidence they were linked with.
    """
    policy = policy or LinkPolicy()
    out: list[tuple[str, Relink]] = []
    ordered = sorted(mentions, key=lambda m: m.event_id)
    for event_id, group in groupby(ordered, key=lambda m: m.event_id):
        subjects = sorted(group, key=lambda m: m.subject_index)
        keys = [(event_id, m.subject_index) for m in subjects]
        if all(before.get(k) == after.get(k) for k in keys):
            continue
        links = []
        for mention, key in zip(subjects, keys, strict=True):
            person, family = after[key]
            moved = before.get(key) != after[key]
            links.append(
                SubjectLink(
                    index=mention.subject_index,
                    person_id=person,
                    family_id=family,
                    match_confidence=1.0 if moved else stated_confidence(mention, policy),
                )
            )
        relink = Relink(event_id=UUID(event_id), subjects=tuple(links), cause=cause, decided_at=at)
        out.append((first_key(subjects), relink))
    return out
