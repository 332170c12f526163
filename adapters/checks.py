"""Identifier and date checks shared by the adapters: NHS number, UPN, real past instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import StringConstraints

#: Clocks at agencies drift; an instant this far ahead of ours is still "now".
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = date(1900, 1, 1)

#: An organisation's own code in the council's directory (a landlord's, a force's): the
#: shape ``organisations.directory`` checks for codes that are not URNs or ODS codes.
OrganisationCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")
]

# DfE check-letter alphabet: 23 letters, I, O and S left out to avoid confusion.
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def nhs_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid NHS number, or None if it is (modulus-11 check)."""
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return "an NHS number is ten digits"
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return "NHS number fails the modulus-11 check digit"
    return None


def upn_problem(value: str) -> str | None:
    """Why ``value`` is not a valid Unique Pupil Number, or None if it is (DfE check letter)."""
    if len(value) != 13 or not value.isascii():
        return "a UPN is 13 characters"
    letter, body = value[0], value[1:]
    if not body[:11].isdigit():
        return "UPN characters 2 to 12 must be digits"
    last = body[11]
    if last.isdigit():
        last_value = int(last)
    elif last in _UPN_LETTERS:
        last_value = _UPN_LETTERS.index(last)
    else:
        return "UPN character 13 must be a digit or a check-alphabet letter"
    total = sum(int(c) * w for c, w in zip(body[:11], range(2, 13), strict=True)) + last_value * 13
    if _UPN_LETTERS[total % 23] != letter:
        return "UPN fails the DfE check letter"
    return None


def instant_problem(value: datetime, now: datetime) -> str | None:
    """Why an instant cannot be a real recorded time, or None."""
    if value.tzinfo is None:
        return "an instant must carry a time zone"
    if value > now + CLOCK_SKEW:
        return "dated in the future"
    if value.date() < EARLIEST:
        return "dated before 1900"
    return None


def date_problem(value: date, now: datetime) -> str | None:
    """Why a calendar date cannot be real for a record, or None."""
    if value > now.astimezone(UTC).date() + timedelta(days=1):
        return "dated in the future"
    if value < EARLIEST:
        return "dated before 1900"
    return None
