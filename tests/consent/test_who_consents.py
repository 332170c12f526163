"""Consent only from someone who can give it (issue 31, sixth finding): a 7-year-old was
recorded consenting for herself, and a mother "as parent" for an adult man, the suspect
in her own incident; both were accepted and acted on."""

from __future__ import annotations

from datetime import timedelta

from ehx.consent import ConsentRecord, Giver, Purpose
from ehx.consent.recording import on_file, recording_refusal
from ehx.consent.records import ConsentState, SubjectKind
from ehx.schemas import Category
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import AMINA, FAMILY, KHANS
from tests.records import NOW

ON_FILE = on_file(KHANS)


def person(given: str) -> str:
    return next(
        s.person_id or ""
        for e in KHANS
        for s in e.subjects
        if s.demographics.given_name == given and s.person_id
    )


def consent(subject: str, giver: Giver, given_by: str | None, **more: object) -> ConsentRecord:
    return ConsentRecord(
        state=ConsentState.GRANTED,
        subject_kind=SubjectKind.FAMILY if subject == FAMILY else SubjectKind.PERSON,
        subject_id=subject,
        given_by=given_by,
        giver=giver,
        recorded_by="ew-1",
        recorded_by_agency=Recipient.EARLY_HELP,
        recipients=(Recipient.SCHOOLS,),
        categories=(Category.DOMESTIC_ABUSE,),
        purpose=Purpose.EARLY_HELP_ASSESSMENT,
        valid_from=NOW - timedelta(days=1),
        evidence="signed form 17",
        recorded_at=NOW,
        **more,
    )


def refusal(record: ConsentRecord) -> str | None:
    return recording_refusal(record, Recipient.EARLY_HELP, ON_FILE, None, NOW)


def test_a_young_person_consents_for_themselves_only_from_the_policys_age() -> None:
    maryam = person("Maryam")  # born 2019: seven
    why = refusal(consent(maryam, Giver.YOUNG_PERSON, maryam, competence="assessed"))
    assert why is not None and "from 12" in why and "7" in why
    assert "a parent or carer consents for them" in why


def test_a_young_person_old_enough_needs_their_competence_recorded() -> None:
    yusuf = person("Yusuf")  # born June 2014: twelve
    why = refusal(consent(yusuf, Giver.YOUNG_PERSON, yusuf))
    assert why is not None and why.startswith("competence:")
    assert refusal(consent(yusuf, Giver.YOUNG_PERSON, yusuf, competence="EH-2211 p.3")) is None


def test_a_parent_consents_for_their_children_and_themselves_never_another_adult() -> None:
    imran = person("Imran")  # the suspect in her incident: an adult
    why = refusal(consent(imran, Giver.PARENT, AMINA))
    assert why is not None and "not on record as" in why and "parental responsibility" in why
    # Her daughter (the health record names her mother), the family, and herself: yes.
    assert refusal(consent(person("Maryam"), Giver.PARENT, AMINA)) is None
    assert refusal(consent(FAMILY, Giver.PARENT, AMINA)) is None
    assert refusal(consent(AMINA, Giver.ADULT, AMINA)) is None
    # A child is not a parent of the family.
    assert refusal(consent(FAMILY, Giver.PARENT, person("Yusuf"))) is not None
