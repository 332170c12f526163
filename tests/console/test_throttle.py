"""Sign-in throttling, by name and by address, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ehx.console.throttle import PRUNE_AT, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_many_names_from_one_address_lock_the_address_not_the_names() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(30):  # one guess at each of thirty names
        throttle.failed([("name", f"sw-{n}"), ("address", "10.0.0.9")])
    assert throttle.locked_until([("name", "sw-99"), ("address", "10.0.0.9")]) is not None
    assert throttle.locked_until([("name", "sw-1"), ("address", "10.0.0.10")]) is None


def test_failures_spread_wider_than_the_window_never_lock() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(10):
        throttle.failed([("name", "sw-slow")])
        clock.now += timedelta(minutes=4)  # four within any fifteen minutes
    assert throttle.locked_until([("name", "sw-slow")]) is None


def test_a_right_password_clears_the_count() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(4):
        throttle.failed([("name", "sw-1")])
    throttle.succeeded("sw-1")
    throttle.failed([("name", "sw-1")])
    assert throttle.locked_until([("name", "sw-1")]) is None


def test_a_spray_of_invented_names_is_forgotten_once_out_of_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(PRUNE_AT + 1):
        throttle.failed([("name", f"nobody-{n}")])
    clock.now += timedelta(minutes=16)
    throttle.failed([("name", "sw-1")])
    assert list(throttle.failures) == [("name", "sw-1")]
