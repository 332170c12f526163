"""The database drops out just as the linker stores a batch it has published.

The linker waits for the database and stores the same batch (``database/retry.py``)
rather than failing it: a replayed batch would be linked and published again, perhaps
grouped in another order across the raw topics' partitions, so what the linker stores
would differ from what consent had already decided on. Runs on the session's real broker
and on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from ehx.broker.topics import Topic
from ehx.database import linker_mentions, retry
from ehx.linker.index import JournalEntry
from ehx.linker.store import LinkedMention, LinkStore
from ehx.schemas import KeyStore
from ehx.schemas.links import ReviewDecision
from tests.conftest import eventually
from tests.flows import ingest_khans
from tests.helpers import read_json

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def test_a_database_blip_as_the_linker_stores_neither_republishes_nor_reorders(
    pipeline: tuple[str, Engine, KeyStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap, engine, keys = pipeline
    failures = [3]  # the first batch of mentions finds the database gone three times
    save = LinkStore.save

    def flaky(
        self: LinkStore,
        mentions: Sequence[LinkedMention],
        journal: Sequence[JournalEntry],
        decision: ReviewDecision | None = None,
    ) -> None:
        if mentions and failures[0]:
            failures[0] -= 1
            raise OperationalError("INSERT", {}, ConnectionError("server closed the connection"))
        save(self, mentions, journal, decision)

    monkeypatch.setattr(LinkStore, "save", flaky)
    monkeypatch.setattr(retry, "FIRST_WAIT", 0.05)

    ours = await ingest_khans(bootstrap, engine, keys)
    store = LinkStore(engine)
    await eventually(lambda: store.linked(ours) == ours)
    assert failures == [0]

    linked = await read_json(
        bootstrap, Topic.LINKED.value, lambda body: body.get("event_id") in ours
    )
    sent = [body["event_id"] for _, body in linked]
    assert sorted(sent) == sorted(ours)  # each once: the batch was not published again
    by_family: dict[bytes, list[str]] = defaultdict(list)
    for key, body in linked:
        by_family[key].append(body["event_id"])
    with engine.connect() as connection:
        stored = list(
            dict.fromkeys(
                connection.execute(
                    select(linker_mentions.c.event_id).order_by(linker_mentions.c.seq)
                ).scalars()
            )
        )
    for events in by_family.values():  # stored in the order published, family by family
        assert events == [e for e in stored if e in set(events)]
