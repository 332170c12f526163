"""What a subject access release shows of one record: hers, not her family's or staff's."""

from __future__ import annotations

from ehx.consent.policy import SubjectAccess
from ehx.rights.redaction import STAFF, THIRD_PARTY, release
from tests.consent.fakes import AMINA, INCIDENT, variant

REDACT = SubjectAccess()


def test_her_own_details_stay_and_everyone_elses_go_even_where_they_share_her_surname() -> None:
    said = "Imran Khan shouted at Yusuf; Amina Khan called 999."
    shown = release(variant(INCIDENT, summary=said), [AMINA], REDACT).record
    [hers] = [s for s in shown["subjects"] if s.get("person_id") == AMINA]
    assert hers["demographics"]["given_name"] == "Amina"
    others = [s for s in shown["subjects"] if "person_id" not in s]
    assert [s["role"] for s in others] == ["suspect", "child_present", "child_present"]
    assert all(s["person"] == THIRD_PARTY for s in others)
    # The free text: his and the boy's given names go; Khan, her own name too, stays.
    assert shown["payload"]["summary"] == (
        f"{THIRD_PARTY} Khan shouted at {THIRD_PARTY}; Amina Khan called 999."
    )
    assert shown["payload"]["officer_collar_number"] == STAFF


def test_the_policy_may_release_third_parties_and_staff() -> None:
    open_policy = SubjectAccess(third_parties="release", staff="release")
    shown = release(INCIDENT, [AMINA], open_policy)
    assert shown.redactions == 0
    assert (
        shown.record["payload"]["officer_collar_number"]
        == (INCIDENT.payload.model_dump()["officer_collar_number"])
    )
    assert {s["demographics"]["given_name"] for s in shown.record["subjects"]} == {
        "Amina",
        "Imran",
        "Yusuf",
        "Maryam",
    }
