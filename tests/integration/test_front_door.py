"""The MASH front door across every service, on a broker of its own.

The findings a MASH screener and a school's DSL saw, replayed through adapters, linker,
consent, timeline and alerts as they run: a police record that arrives before the
school roll (its Operation Encompass notices must not stay with the local authority),
a consent to share with schools (it must not take the notification away), and a
DASH-high incident with the children present (the MASH must be given the family, not
one incident, and nobody else's view may widen).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ehx.alerts.store import AlertStore
from ehx.consent.store import ConsentStore
from ehx.schemas import Agency, Recipient
from ehx.timeline.store import TimelineQuery, TimelineStore
from tests.conftest import eventually
from tests.exchange import Exchange, all_delivered, consented, person_named, sent
from tests.flows import FILES, MARYAMS_SCHOOL, YUSUFS_SCHOOL
from tests.helpers import EXAMPLES

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def examples(agency: Agency) -> dict[str, bytes]:
    return {name: (EXAMPLES / name).read_bytes() for name in FILES[agency]}


def second_incident() -> bytes:
    """Two days after the first: the same household, DASH high, both children present."""
    first = json.loads((EXAMPLES / "police.jsonl").read_text().splitlines()[0])
    when = datetime.fromisoformat(first["occurred_at"]) + timedelta(days=2)
    later = {
        **first,
        "incident_ref": "WMP-2026-0430001",
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "reported_at": (when + timedelta(minutes=20)).isoformat().replace("+00:00", "Z"),
        "dash_risk": "high",
        "summary": "Second call in two days. Adult female strangled; children in the room.",
    }
    return (json.dumps(later) + "\n").encode()


async def test_the_front_door_across_the_services(exchange: Exchange) -> None:
    engine = exchange.engine
    alerts = AlertStore(engine)

    # 3. The police record arrives before any school roll: both children's notices go to
    # the local authority, then to each school's key adult once the roll names it.
    await sent(exchange, {a: examples(a) for a in FILES if a is not Agency.SCHOOLS})
    await eventually(lambda: len(alerts.notifications(datetime.now(UTC))) == 2, timeout=90)
    assert {n["school_urn"] for n in alerts.notifications(datetime.now(UTC))} == {None}
    await sent(exchange, {Agency.SCHOOLS: examples(Agency.SCHOOLS)})
    await eventually(lambda: all_delivered(engine, 10), timeout=90)
    await eventually(
        lambda: (
            {n["school_urn"] for n in alerts.notifications(datetime.now(UTC))}
            == {YUSUFS_SCHOOL, MARYAMS_SCHOOL}
        ),
        timeout=60,
    )
    amina = person_named(engine, "Amina")
    family = next(iter(ConsentStore(engine).families_of(amina)))
    timeline = TimelineStore(engine)
    assert not timeline.entries(TimelineQuery("mash", family_id=family))  # no override yet

    # 2. The mother consents to share with the children's schools: the next incident's
    # notifications are still made, one for each child, at each school.
    await consented(exchange, amina, (Recipient.SCHOOLS,))
    schools_before = {
        urn: {v.event_id for v in timeline.entries(TimelineQuery(f"school:{urn}"))}
        for urn in (YUSUFS_SCHOOL, MARYAMS_SCHOOL)
    }

    # 1. A DASH-high incident with the children present: the MASH is given the family's
    # records from every agency, each as an override under the incident's rule.
    await sent(exchange, {Agency.POLICE: {"wmp-second.jsonl": second_incident()}})
    await eventually(lambda: all_delivered(engine, 11), timeout=90)

    def mash_agencies() -> set[str]:
        return {v.source_agency for v in timeline.entries(TimelineQuery("mash", family_id=family))}

    await eventually(
        lambda: mash_agencies() == {"police", "health", "schools", "housing"}, timeout=60
    )
    given = timeline.entries(TimelineQuery("mash", family_id=family))
    assert len(given) == 11, [v.record_ref for v in given]  # every event about the family
    assert {v.basis.outcome for v in given} == {"override"}
    assert {v.basis.rule for v in given} == {"domestic_abuse_high_risk_children_present"}
    await eventually(
        lambda: any(
            a["family_id"] == family and a["kind"] == "significant_harm" for a in alerts.queue()
        )
    )
    # One case a family: the Think Family alert is gathered into it, not left "new".
    assert [a["kind"] for a in alerts.queue() if a["family_id"] == family] == ["significant_harm"]

    # Nobody else's view widens: each school holds what it held and the new incident,
    # on the consent's or the notification's terms, never the MASH's override.
    [second] = [v.event_id for v in given if v.record_ref == "WMP-2026-0430001"]
    for urn, before in schools_before.items():
        held = timeline.entries(TimelineQuery(f"school:{urn}"))
        assert {v.event_id for v in held} - {second} == before, urn
        assert "override" not in {v.basis.outcome for v in held}, urn

    # Whatever the consent said, each child's school is told about the second incident.
    await eventually(
        lambda: (
            sorted(
                n["school_urn"]
                for n in alerts.notifications(datetime.now(UTC))
                if n["event_id"] == str(second)
            )
            == sorted([YUSUFS_SCHOOL, MARYAMS_SCHOOL])
        ),
        timeout=60,
    )


def signs() -> dict[Agency, dict[str, bytes]]:
    """Yusuf (12) in ten days, as three agencies send it, none alarming alone: missing
    overnight, cuts shown to his form tutor, and an overdose."""
    lines = (EXAMPLES / "police.jsonl").read_text().splitlines()
    incident, yusuf = json.loads(lines[1]), json.loads(lines[0])["persons"][2]
    missing = {
        **incident,
        "incident_ref": "WMP-2026-0440001",
        "occurred_at": "2026-11-10T23:30:00Z",
        "reported_at": "2026-11-10T23:45:00Z",
        "type": "missing_person",
        "summary": "Reported missing overnight by his mother; found at 03:00 near the canal.",
        "persons": [{**yusuf, "role": "missing_person"}],
    }
    roll = (EXAMPLES / "schools.csv").read_text().splitlines()
    header, upn = roll[0], next(r for r in roll if r.startswith("SPK-ATT")).split(",")[2]
    concern = (
        f"{header}\nSPK-CON-2026-1113-0002,1,{upn},Yusuf,Khan,2014-06-02,103512,"
        "Sparkhill Park Academy,safeguarding_concern,2026-11-13,,,,,self_harm,medium,"
        '"Showed cuts on his forearm to his form tutor.","14 Stratford Road, Sparkhill, '
        'Birmingham",B11 4AA\n'
    )
    bundle = json.loads((EXAMPLES / "health-amina-ed.json").read_text())
    bundle["id"] = "uhb-ed-yusuf-1"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource.pop("identifier", None)
            resource["name"] = [{"given": ["Yusuf"], "family": "Khan"}]
            resource["birthDate"] = "2014-06-02"
        elif resource["resourceType"] == "Encounter":
            resource["period"] = {"start": "2026-11-19T20:05:00Z", "end": "2026-11-20T02:00:00Z"}
            resource["reasonCode"] = [{"text": "Paracetamol overdose, 16 tablets"}]
    return {
        Agency.POLICE: {"wmp-missing.jsonl": (json.dumps(missing) + "\n").encode()},
        Agency.SCHOOLS: {"spk-concern.csv": concern.encode()},
        Agency.HEALTH: {"uhb-yusuf.json": json.dumps(bundle).encode()},
    }


async def test_signs_from_three_agencies_add_up_to_an_alert_that_lists_them(
    exchange: Exchange,
) -> None:
    """The seventh finding: each record alone raised nothing; together, within the
    policy's window, they are a child exploitation concern for the MASH to screen."""
    engine = exchange.engine
    alerts = AlertStore(engine)

    def concern() -> list[dict[str, object]]:
        return [a for a in alerts.queue() if a["kind"] == "significant_harm"]

    for count, (agency, files) in enumerate(signs().items(), 1):  # days apart, in turn
        assert not concern(), f"fired after {count - 1} of the three records"
        await sent(exchange, {agency: files})
        await eventually(lambda: all_delivered(engine, count), timeout=90)  # noqa: B023
    await eventually(lambda: bool(concern()), timeout=60)
    [alert] = concern()
    reasons = " ".join(str(r) for r in alert["reasons"])  # type: ignore[attr-defined]
    assert "child_exploitation_concern" in reasons, reasons
    for sign in ("a missing episode", "self-harm seen or disclosed at school", "an overdose"):
        assert sign in reasons, reasons
