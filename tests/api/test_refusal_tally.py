"""Refusals are counted per caller and minute: the first is recorded, the rest summed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ehx.api.refusals import RefusalTally

T0 = datetime(2026, 12, 7, 9, 30, 5, tzinfo=UTC)
ANONYMOUS = ("anonymous", "api client", "unknown", 401, "")
HOUSING = ("token:housing", "api client", "housing", 403, "/v1/alerts")


def test_the_first_refusal_of_a_minute_is_recorded_and_the_rest_counted() -> None:
    tally = RefusalTally()
    firsts = [tally.note(ANONYMOUS, T0 + timedelta(seconds=n / 10)) for n in range(500)]
    assert firsts.count(True) == 1 and firsts[0]
    assert tally.note(HOUSING, T0)  # another caller is recorded on its own
    assert tally.due(T0 + timedelta(seconds=30)) == []  # the minute is not over
    later = T0 + timedelta(minutes=1)
    assert sorted(tally.due(later)) == [(ANONYMOUS, T0.replace(second=0), 499)]
    assert tally.note(ANONYMOUS, later)  # a new minute: recorded again


def test_everything_still_counted_goes_out_when_the_server_stops() -> None:
    tally = RefusalTally()
    for n in range(3):
        tally.note(HOUSING, T0 + timedelta(seconds=n))
    assert tally.due() == [(HOUSING, T0.replace(second=0), 2)]
    assert tally.due() == []
