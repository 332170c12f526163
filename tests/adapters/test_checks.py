"""Identifier checks: NHS numbers (modulus 11) and UPNs (DfE check letter)."""

from datetime import UTC, date, datetime

import pytest

from ehx.adapters.checks import date_problem, instant_problem, nhs_number_problem, upn_problem

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize("value", ["4010232137", "9434765919", "943 476 5919"])
def test_valid_nhs_numbers_pass(value: str) -> None:
    assert nhs_number_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4010232138", "modulus-11"),  # last digit changed
        ("401023213", "ten digits"),
        ("40102321370", "ten digits"),
        ("40102321a7", "ten digits"),
        ("٤٠١٠٢٣٢١٣٧", "ten digits"),  # Arabic-Indic digits are not NHS numbers
    ],
)
def test_invalid_nhs_numbers_are_refused_with_the_reason(value: str, reason: str) -> None:
    problem = nhs_number_problem(value)
    assert problem is not None and reason in problem


def test_an_nhs_number_whose_check_digit_would_be_ten_is_invalid() -> None:
    # 6 x 2 = 12, remainder 1, check digit 10: no tenth digit can make this valid.
    for last in "0123456789":
        candidate = "000000006" + last
        assert nhs_number_problem(candidate) is not None


@pytest.mark.parametrize("value", ["Z330200019001", "N330200019002"])
def test_valid_upns_pass(value: str) -> None:
    assert upn_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("A330200019001", "check letter"),
        ("Z33020001900", "13 characters"),
        ("Z3302000190I1", "digits"),
        ("Z33020001900I", "character 13"),
    ],
)
def test_invalid_upns_are_refused(value: str, reason: str) -> None:
    problem = upn_problem(value)
    assert problem is not None and reason in problem


def test_future_and_ancient_dates_are_refused() -> None:
    assert instant_problem(datetime(2026, 11, 24, tzinfo=UTC), NOW) == "dated in the future"
    assert instant_problem(datetime(1899, 12, 31, tzinfo=UTC), NOW) == "dated before 1900"
    assert instant_problem(datetime(2026, 11, 23, 11, tzinfo=UTC), NOW) is None
    assert date_problem(date(2027, 1, 1), NOW) == "dated in the future"
    assert date_problem(date(1899, 1, 1), NOW) == "dated before 1900"
