"""A reviewer's decision over HTTP reaches the linker service through ``ehx.links``.

Two police records the linker cannot be sure about go through the real pipeline; the
pair waits in the queue with its evidence; the MASH decides over the API; the linker
service applies it, records it, and the decision is on the audit ledger. A wrong
automatic link, split over the API, moves the event in the recipients' timelines.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.api import AgencyCredentials
from ehx.audit.ledger import AuditLedger
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, KeyStore
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.store import TimelineQuery, TimelineStore
from tests.conftest import eventually
from tests.people import registered
from tests.records import MOHAMMED, MUHAMMAD, police_line
from tests.serving import auth, serve

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def test_a_pair_decided_over_http_is_applied_by_the_linker_and_audited(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        ingestor = Ingestor(
            ADAPTERS[Agency.POLICE], RecordRegistry(engine), keys.signer(Agency.POLICE), publisher
        )
        both = police_line(*MOHAMMED) + police_line(*MUHAMMAD)
        summary = await ingestor.ingest(io.BytesIO(both), "two.jsonl")
    assert summary.accepted == 2
    store = LinkStore(engine)
    await eventually(lambda: bool(store.reviews()))
    [pair] = store.reviews()

    token = AgencyCredentials(engine).issue(Recipient.MASH, "MASH")
    school = AgencyCredentials(engine).issue(Recipient.SCHOOLS, "school")
    registered(engine, "sw-7", "mash")

    def decide() -> tuple[int, int, int, str]:
        with serve(bootstrap, engine, keys) as base, httpx.Client(base_url=base) as http:
            listed = http.get("/v1/links/review", headers=auth(token))
            refused = http.post(
                f"/v1/links/review/{pair['review_id']}",
                json={"same_person": True, "by": "dsl-1", "reason": "not mine to say"},
                headers=auth(school),
            )
            sent = http.post(
                f"/v1/links/review/{pair['review_id']}",
                json={"same_person": True, "by": "sw-7", "reason": "same GP and school"},
                headers=auth(token),
            )
            decided_at = sent.json()["decided_at"] if sent.status_code == 200 else ""
            return listed.status_code, refused.status_code, sent.status_code, decided_at

    with ThreadPoolExecutor(1) as pool:  # the services share this test's event loop
        *codes, sent_at = await asyncio.get_running_loop().run_in_executor(pool, decide)
    assert codes == [200, 403, 200]
    await eventually(lambda: not store.reviews())  # applied and recorded by the linker
    [decided] = store.reviews(open_only=False)
    assert (decided["same_person"], decided["decided_by"]) == (True, "sw-7")
    ledger = AuditLedger(engine)

    def ours() -> list[Any]:
        # ehx.links is the session's: another test's decision on a pair with the same ids
        # (each database counts people from 1) is replayed here too. Ours is the one sent.
        at = datetime.fromisoformat(sent_at)
        return [e for e in ledger.find(actions=["link.reviewed"]) if e.record.at == at]

    await eventually(lambda: bool(ours()))
    [audited] = ours()
    assert audited.record.actor == "sw-7"
    assert set(audited.record.subject_ids) == {pair["person_id"], pair["candidate_id"]}
    assert "Hussain" not in audited.record.model_dump_json()  # ids, never names


async def test_a_wrong_link_split_over_http_moves_the_event_in_every_timeline(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    """Two men of one name, birthday and postcode: linked as one, then split by the MASH.

    The early help hub held the second man's incident in the first man's family; after
    the split it holds it in his own family, under his own person id, and the first
    family's timeline no longer shows it.
    """
    bootstrap, engine, keys = pipeline
    first = ("WMP-S1", "WMP-P-S1", "Tariq", "1988-07-09", "B10 0AB")
    second = ("WMP-S2", "WMP-P-S2", "Tariq", "1988-07-09", "B10 0AB")
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        ingestor = Ingestor(
            ADAPTERS[Agency.POLICE], RecordRegistry(engine), keys.signer(Agency.POLICE), publisher
        )
        # Another house on the same street: not one household.
        elsewhere = police_line(*second).replace(b"1 High Street", b"40 High Street")
        summary = await ingestor.ingest(io.BytesIO(police_line(*first) + elsewhere), "two.jsonl")
    assert summary.accepted == 2
    timeline = TimelineStore(engine)

    def hub(family_id: str | None = None, person_id: str | None = None) -> list[ShareView]:
        # This test's records only: the session's broker may still carry a late view from
        # an earlier test, and each test's linker numbers its families from one again.
        query = TimelineQuery("early_help", family_id=family_id, person_id=person_id)
        return [v for v in timeline.entries(query) if v.record_ref in ("WMP-S1", "WMP-S2")]

    await eventually(lambda: len(hub()) == 2)
    family = hub()[0].family_id
    assert [v.family_id for v in hub()] == [family, family]  # one man, as the linker saw it
    person = hub()[0].subjects[0].person_id
    token = AgencyCredentials(engine).issue(Recipient.MASH, "MASH")
    registered(engine, "sw-7", "mash")

    def split() -> tuple[dict[str, Any], int]:
        with serve(bootstrap, engine, keys) as base, httpx.Client(base_url=base) as http:
            found = http.get(f"/v1/links/people/{person}", headers=auth(token)).json()
            wrong = found["members"][1]["id"]
            sent = http.post(
                "/v1/links/split",
                json={"person_id": wrong, "by": "sw-7", "reason": "different fathers on PNC"},
                headers=auth(token),
            )
            return found, sent.status_code

    with ThreadPoolExecutor(1) as pool:
        found, code = await asyncio.get_running_loop().run_in_executor(pool, split)
    assert code == 200
    assert [len(m["records"]) for m in found["members"]] == [1, 1]
    wrong = found["members"][1]["id"]

    await eventually(lambda: len(hub(family_id=family)) == 1)
    [moved] = hub(person_id=wrong)
    assert moved.family_id != family and moved.revision == 3  # shown, retracted, shown
    assert [s.person_id for s in moved.subjects] == [wrong]
    assert hub(family_id=family)[0].subjects[0].person_id == person
    ledger = AuditLedger(engine)
    await eventually(lambda: bool(ledger.find(actions=["share.retracted"])))
