"""The per-worker limiter of failed key attempts per source address."""

from __future__ import annotations

from appliance.apikeys.limiter import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_held_off_after_the_limit_until_its_window_ends() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 60.0, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 60.0
    assert limiter.retry_after("10.0.0.2") == 0
    clock.now += 59
    assert limiter.retry_after("10.0.0.1") == 1.0
    clock.now += 1
    assert limiter.retry_after("10.0.0.1") == 0
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 0


def test_the_map_of_addresses_stays_bounded() -> None:
    limiter = FailureLimiter(1, 60.0, max_addresses=2, clock=Clock())
    for address in ("a", "b", "c"):
        limiter.failed(address)
    assert limiter.retry_after("a") == 0
    assert limiter.retry_after("b") > 0
    assert limiter.retry_after("c") > 0
