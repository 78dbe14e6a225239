"""The hubspot sink's client-side limiter, on a fake clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from offramp import RetriableError, ThrottledError
from offramp.connectors.hubspot.ratelimit import (
    RECOVERY_SECONDS,
    RateLimiter,
    release_limiter,
    seconds_until_midnight,
    shared_limiter,
)


class FakeTime:
    """A monotonic clock and a wall clock that move only when told to."""

    def __init__(self, wall: datetime) -> None:
        self.now = 1000.0
        self.wall_start = wall
        self.start = self.now

    def clock(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.wall_start + timedelta(seconds=self.now - self.start)


def _limiter(
    per_window: int = 3, daily: int = 1000, timezone: str = "UTC"
) -> tuple[RateLimiter, FakeTime]:
    fake = FakeTime(datetime(2026, 11, 20, 23, 59, 0, tzinfo=ZoneInfo(timezone)))
    return RateLimiter(per_window, daily, timezone, clock=fake.clock, wall=fake.wall), fake


def _call(limiter: RateLimiter, fake: FakeTime, duration: float = 0.0) -> None:
    limiter.acquire()
    fake.now += duration
    limiter.release()


def test_a_slot_frees_ten_seconds_after_the_oldest_call_ended() -> None:
    """With 3 per window, the 4th call must wait until the first call's end + 10 s."""
    limiter, fake = _limiter(3)
    for _ in range(3):
        _call(limiter, fake, duration=0.5)  # calls end at +0.5, +1.0, +1.5
    assert limiter._wait_needed(fake.now) == pytest.approx(0.5 + 10 - 1.5)
    fake.now = 1000.5 + 10.0
    assert limiter._wait_needed(fake.now) == 0.0


def test_calls_in_flight_take_slots() -> None:
    """A call still in flight counts against the window like an ended one."""
    limiter, fake = _limiter(2)
    limiter.acquire()
    limiter.acquire()
    assert limiter._wait_needed(fake.now) > 0
    limiter.release()
    assert limiter._wait_needed(fake.now) > 0  # just ended: it counts for 10 more seconds


def test_acquire_blocks_until_another_thread_frees_a_slot() -> None:
    """On the real clock, a waiting acquire returns once the window has room."""
    limiter = RateLimiter(1, 100, window=0.3)
    limiter.acquire()
    threading.Timer(0.05, limiter.release).start()
    limiter.acquire()  # waits for the release, then 0.3 s of window
    limiter.release()
    assert limiter.waited >= 0.3


def test_waiting_longer_than_max_wait_is_a_retriable_error() -> None:
    """A slot further away than max_wait gives the task back to the runtime."""
    limiter = RateLimiter(1, 100, window=30.0, max_wait=0.1)
    _call(limiter, FakeTime(datetime.now(UTC)))
    with pytest.raises(RetriableError, match="no HubSpot call slot"):
        limiter.acquire()


def test_a_spent_daily_budget_throttles_until_midnight_in_the_account_zone() -> None:
    """The daily count is spent: ThrottledError with the seconds until local midnight."""
    limiter, fake = _limiter(100, daily=2, timezone="America/New_York")
    _call(limiter, fake)
    _call(limiter, fake)
    with pytest.raises(ThrottledError) as throttled:
        limiter.acquire()
    assert throttled.value.retry_after == pytest.approx(60.0)
    assert "midnight America/New_York" in throttled.value.reason
    fake.now += 61  # a new day in New York
    limiter.acquire()
    assert limiter.used_today == 1


def test_hubspots_daily_429_and_its_remaining_header_spend_the_budget() -> None:
    """exhaust_daily and X-HubSpot-RateLimit-Daily-Remaining both count what HubSpot saw."""
    limiter, _ = _limiter(100, daily=1000)
    limiter.observe(
        {"X-HubSpot-RateLimit-Daily": "5000", "X-HubSpot-RateLimit-Daily-Remaining": "4700"}
    )
    assert limiter.used_today == 300  # what HubSpot counted today, before a restart
    limiter.observe({"X-HubSpot-RateLimit-Daily-Remaining": "10"})
    assert limiter.used_today == 990  # never more than HubSpot has left
    limiter.exhaust_daily()
    with pytest.raises(ThrottledError):
        limiter.acquire()


def test_a_window_429_lowers_the_limit_then_it_recovers() -> None:
    """After a 429 with 4 calls in the window the limit is 4, regaining one per minute."""
    limiter, fake = _limiter(50)
    for _ in range(5):
        _call(limiter, fake, 0.1)
    limiter.refused_for_window(9.0)
    assert limiter.effective_limit() == 4
    assert limiter._wait_needed(fake.now) == pytest.approx(9.0)
    fake.now += RECOVERY_SECONDS + 0.01
    assert limiter.effective_limit() == 5
    fake.now += RECOVERY_SECONDS * 100
    assert limiter.effective_limit() == 50


def test_midnight_is_computed_in_the_zone_across_dst() -> None:
    """The day before DST ends in Berlin has 25 hours."""
    noon_before = datetime(2026, 10, 24, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert seconds_until_midnight(noon_before, "Europe/Berlin") == 24 * 3600
    change_day = datetime(2026, 10, 25, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert seconds_until_midnight(change_day, "Europe/Berlin") == 25 * 3600
    assert seconds_until_midnight(datetime(2026, 1, 1, 23, 0, tzinfo=UTC), "UTC") == 3600


def test_writers_with_one_token_share_one_budget_at_the_lowest_limits() -> None:
    """Two writers of one app get the same limiter, tightened to the lower limits, and
    it is forgotten when the last one releases it."""
    first = shared_limiter("http://h:1", "tok-share", 190, 625_000, "UTC")
    second = shared_limiter("http://h:1", "tok-share", 100, 250_000, "UTC")
    other = shared_limiter("http://h:1", "another-token", 190, 625_000, "UTC")
    try:
        assert first is second and first is not other
        assert (first.per_window, first.daily) == (100, 250_000)
    finally:
        release_limiter("http://h:1", "tok-share")
        release_limiter("http://h:1", "tok-share")
        release_limiter("http://h:1", "another-token")
    fresh = shared_limiter("http://h:1", "tok-share", 190, 625_000, "UTC")
    release_limiter("http://h:1", "tok-share")
    assert fresh is not first
