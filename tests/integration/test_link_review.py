"""A reviewer's decision over HTTP reaches the linker service through ``ehx.links``.

Two police records the linker cannot be sure about go through the real pipeline; the
pair waits in the queue with its evidence; the MASH decides over the API; the linker
service applies it, records it, and the decision is on the audit ledger.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine

from adapters import ADAPTERS, Ingestor, KafkaPublisher, RecordRegistry
from api import AgencyCredentials
from audit.ledger import AuditLedger
from broker.settings import BrokerSettings
from broker.topics import Recipient
from linker import LinkStore
from schemas import Agency, KeyStore
from tests.api.test_ingest_api import auth, serve
from tests.integration.test_pipeline import pipeline, wait_for
from tests.linker.test_review import MOHAMMED, MUHAMMAD, police_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
__all__ = ["pipeline"]


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
    await wait_for(lambda: bool(store.reviews()))
    [pair] = store.reviews()

    token = AgencyCredentials(engine).issue(Recipient.MASH, "MASH")
    school = AgencyCredentials(engine).issue(Recipient.SCHOOLS, "school")

    def decide() -> tuple[int, int, int]:
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
            return listed.status_code, refused.status_code, sent.status_code

    with ThreadPoolExecutor(1) as pool:  # the services share this test's event loop
        codes = await asyncio.get_running_loop().run_in_executor(pool, decide)
    assert codes == (200, 403, 200)
    await wait_for(lambda: not store.reviews())  # applied and recorded by the linker
    [decided] = store.reviews(open_only=False)
    assert (decided["same_person"], decided["decided_by"]) == (True, "sw-7")
    ledger = AuditLedger(engine)
    await wait_for(lambda: bool(ledger.find(actions=["link.reviewed"])))
    [audited] = ledger.find(actions=["link.reviewed"])
    assert audited.record.actor == "sw-7"
    assert set(audited.record.subject_ids) == {pair["person_id"], pair["candidate_id"]}
    assert "Hussain" not in audited.record.model_dump_json()  # ids, never names
