"""Retention and erasure reach every copy, and the proof says so.

The whole pipeline on a broker of its own (every test's Khans are one family, and the
session broker's topics are shared by every test): the agencies' example records are
ingested and flow through every service; then the DPO sweeps or erases with the
commands, and the proof reads every table, every topic and every recipient's store.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from ehx.alerts.store import AlertStore, ScreeningDecision
from ehx.cli import app
from ehx.consent.keys import DataKeyStore
from ehx.consent.store import ConsentStore
from ehx.database import (
    audit_ledger,
    consent_events,
    data_keys,
    linker_mentions,
    received_events,
    timeline_entries,
)
from ehx.linker.store import LinkStore
from ehx.rights.removal import Removals
from ehx.schemas import Agency
from ehx.timeline.reading import open_entry
from ehx.timeline.store import parse_message
from tests.conftest import eventually
from tests.exchange import Exchange, consented, has_key_for, ingested, person_named
from tests.people import registered

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
RUN = CliRunner()


async def invoke(*args: str) -> Result:
    """An ``ehx`` command, as the DPO runs it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(RUN.invoke, app, list(args))


def said(result: Result) -> str:
    """What the command said, in one line (a refusal's box and wrapping taken out)."""
    return " ".join(result.output.replace("│", " ").split())


def ledger_actions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(audit_ledger.c.action)).scalars())


def decide_every_alert(engine: Engine) -> None:
    """The screening team decides what is open, as a manager would: the law no longer
    stands in an erasure's way on that account."""
    alerts = AlertStore(engine)
    for alert in alerts.queue():
        alerts.decide(
            alert["alert_id"],
            ScreeningDecision.UNIVERSAL_PLUS,
            "manager-1",
            datetime.now(UTC),
            "Seen with the school; universal services hold it.",
        )


async def test_an_erasure_reaches_every_copy_and_leaves_her_childrens_records_whole(
    exchange: Exchange,
) -> None:
    await ingested(exchange, {})
    engine = exchange.engine
    amina = person_named(engine, "Amina")
    family = next(iter(ConsentStore(engine).families_of(amina)))
    # Her consent for the family's information to reach the early help hub: what it is
    # given about her is sealed under her keys, and the children's under theirs.
    await consented(exchange, amina)
    with engine.connect() as connection:
        her_mention = dict(
            connection.execute(
                select(linker_mentions).where(linker_mentions.c.given_name == "Amina")
            )
            .mappings()
            .first()
            or {}
        )
    registered(engine, "dpo-erase", "dpo")
    reason = "Her request of 1 December; no case open; the DPO's decision is on file."

    # Only a DPO, and only about someone on file.
    registered(engine, "auditor-erase", "auditor")
    by_auditor = await invoke("rights", "erase", amina, "--by", "auditor-erase", "--reason", reason)
    assert by_auditor.exit_code == 2 and "data protection officer's" in said(by_auditor)
    nobody = await invoke("rights", "erase", "p99999999", "--by", "dpo-erase", "--reason", reason)
    assert nobody.exit_code == 2 and "nothing is held about p99999999" in said(nobody)

    # While the MASH is screening the family, the law does not allow it.
    refused = await invoke("rights", "erase", amina, "--by", "dpo-erase", "--reason", reason)
    assert refused.exit_code == 3, refused.output
    assert "MASH is screening a concern about their family" in said(refused)
    assert "Amina" in str(ConsentStore(engine).family_events([family]))  # nothing removed

    decide_every_alert(engine)
    erased = await invoke(
        "rights", "erase", amina, "--by", "dpo-erase", "--reason", reason, "--json"
    )
    assert erased.exit_code == 0, erased.output
    report = json.loads(erased.output)
    assert report["events_removed"] >= 1 and report["events_redacted"] >= 1
    assert report["keys"] >= 1 and not has_key_for(engine, amina, "early_help")
    proof = report["proof"]
    assert proof["ok"] and proof["readable"] == [] and proof["messages"] > 0
    # What is left is only on the topics that carry records for a week on their way: the
    # embedded broker cannot cut them at what every service has read (Apache Kafka does,
    # tests/integration/test_kafka_cluster.py), so their retention will.
    assert "embedded broker cannot delete records" in report["transit"]["refused"]
    assert proof["until_retention"]
    assert {f["place"].split()[1] for f in proof["until_retention"]} <= {
        *(f"ehx.raw.{a.value}" for a in Agency),
        "ehx.linked",
    }

    # Seen directly, not only by the proof: her names are nowhere the stores keep.
    with engine.connect() as connection:
        assert not connection.execute(
            select(linker_mentions).where(linker_mentions.c.given_name == "Amina")
        ).first()
        bodies = list(connection.execute(select(consent_events.c.body)).scalars())
    assert bodies and not any("Amina" in body for body in bodies)
    # Her children's records stay whole: the hub still reads them, names and all.
    vault = DataKeyStore(engine)
    named: set[str] = set()
    with engine.connect() as connection:
        views = connection.execute(
            select(timeline_entries.c.view).where(timeline_entries.c.recipient == "early_help")
        ).scalars()
        for view in views:
            entry = open_entry(parse_message(orjson.dumps(view)), vault)  # type: ignore[arg-type]
            assert entry.readable
            named |= {p.name.split()[0] for p in entry.people if p.name}
    assert {"Yusuf", "Maryam"} <= named and "Amina" not in named

    # The ledger says so, by ids, and still verifies.
    await eventually(lambda: "rights.erased" in ledger_actions(engine))
    assert ledger_actions(engine).count("rights.erased") == 1
    verified = await invoke("audit", "verify", "--json")
    assert verified.exit_code == 0, verified.output

    # The proof can fail: a copy of her linker record put back is found, and named.
    with engine.begin() as connection:
        connection.execute(linker_mentions.insert().values(**her_mention))
    again = await invoke("rights", "proof", "erasure-" + amina, "--by", "dpo-erase", "--json")
    assert again.exit_code == 1
    assert [f["place"] for f in json.loads(again.output)["readable"]] == ["table linker_mentions"]

    # Erasing again (a repeat request) finishes without removing anything twice.
    with engine.begin() as connection:
        connection.execute(linker_mentions.delete().where(linker_mentions.c.given_name == "Amina"))
    repeated = await invoke(
        "rights", "erase", amina, "--by", "dpo-erase", "--reason", reason, "--json"
    )
    assert repeated.exit_code == 0, repeated.output
    assert json.loads(repeated.output)["keys"] == 0


async def test_a_sweep_removes_what_expired_everywhere_and_resumes_when_interrupted(
    exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The police incidents two years old: the schools' Encompass notices (kept one year)
    # have expired, the MASH's and partners' (six) have not. The housing records nine
    # years old: expired for everyone. Health and school records are this year's.
    await ingested(exchange, {"police.jsonl": 2, "housing.jsonl": 9})
    engine = exchange.engine
    await consented(exchange, person_named(engine, "Amina"))  # the hub: six years
    registered(engine, "dpo-sweep", "dpo")
    with engine.connect() as connection:
        by_agency: dict[str, set[str]] = {}
        for agency, event in connection.execute(
            select(received_events.c.agency, received_events.c.event_id)
        ):
            by_agency.setdefault(agency, set()).add(event)
        before = set(
            connection.execute(select(timeline_entries.c.recipient, timeline_entries.c.event_id))
        )
    police, housing = by_agency["police"], by_agency["housing"]
    school_notices = {(r, e) for r, e in before if e in police and r.startswith("school")}
    assert school_notices  # the old incident's Encompass notices

    # Interrupted after the timelines were swept, before the stores and the keys.
    real = Removals.remove_events
    calls = {"n": 0}

    def crash_once(self: Removals, event_ids: list[str]) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the machine went down")
        return real(self, event_ids)

    monkeypatch.setattr(Removals, "remove_events", crash_once)
    crashed = await invoke("rights", "sweep", "--by", "dpo-sweep", "--json")
    assert crashed.exit_code != 0
    swept = await invoke("rights", "sweep", "--by", "dpo-sweep", "--json")
    assert swept.exit_code == 0, swept.output
    report = json.loads(swept.output)
    assert report["resumed"] and report["proof"]["ok"] and not report["proof"]["readable"]

    with engine.connect() as connection:
        after = set(
            connection.execute(select(timeline_entries.c.recipient, timeline_entries.c.event_id))
        )
        kept = set(connection.execute(select(received_events.c.event_id)).scalars())
        periods = {
            p: k is not None
            for p, k in connection.execute(select(data_keys.c.period, data_keys.c.key))
        }
    # Expired: the schools' notices of the old incidents, everything about the old
    # tenancy records; kept: the rest, as it was.
    assert after == {(r, e) for r, e in before if (r, e) not in school_notices and e not in housing}
    assert kept == by_agency["police"] | by_agency["health"] | by_agency["schools"]
    year = datetime.now(UTC).year
    assert periods[f"encompass/{year - 2}"] is False  # the schools': destroyed
    assert periods[f"early_help/{year - 9}"] is False  # the hub's tenancy records: destroyed
    assert periods[f"early_help/{year - 2}"] and periods[f"early_help/{year}"]  # kept

    # Each period's removal once on the ledger, crash or not; the ledger verifies.
    await eventually(lambda: "rights.swept" in ledger_actions(engine))
    await eventually(lambda: ledger_actions(engine).count("rights.swept") >= report["recorded"])
    assert ledger_actions(engine).count("rights.swept") == report["recorded"] >= 3
    verified = await invoke("audit", "verify", "--json")
    assert verified.exit_code == 0, verified.output

    # Swept again: nothing more has expired, nothing is removed twice.
    quiet = await invoke("rights", "sweep", "--by", "dpo-sweep", "--json")
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.output)["entries"] == 0 and json.loads(quiet.output)["keys"] == 0


async def test_the_dpo_corrects_a_wrong_link_and_the_split_reaches_the_linker(
    exchange: Exchange,
) -> None:
    """Rectification: a link the person disputes is split by the DPO, as by the MASH."""
    await ingested(exchange, {})
    engine = exchange.engine
    links = LinkStore(engine)
    amina = person_named(engine, "Amina")
    merged = sorted(set(links.members([amina])) - {amina})[0]  # one of her records' own ids
    registered(engine, "dpo-split", "dpo")
    registered(engine, "auditor-split", "auditor")
    reason = "She says the 2019 record is not hers; the police agree."
    refused = await invoke("links", "split", merged, "--by", "auditor-split", "--reason", reason)
    assert refused.exit_code == 2 and "data protection officer's" in said(refused)
    split = await invoke("links", "split", merged, "--by", "dpo-split", "--reason", reason)
    assert split.exit_code == 0, split.output
    await eventually(lambda: LinkStore(engine).root(merged) == merged, timeout=60)
