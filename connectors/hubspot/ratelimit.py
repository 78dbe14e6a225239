"""A client-side limiter that keeps every call within HubSpot's budgets.

HubSpot counts calls per app in a rolling 10-second window and per account per day
(the day ends at midnight in the account's time zone). The limiter admits a call only
when both budgets have room:

- the 10-second window counts each call from when it *ended*: the server saw it at
  some moment between start and end, so counting from the end means no 10 s stretch of
  the server's clock can ever hold more calls than the budget, whatever the latency.
  Calls in flight count too.
- the daily count resets at midnight in ``timezone``; when it is spent, ``acquire``
  raises ``ThrottledError`` with the seconds until the reset instead of waiting.
- a 429 for the window means the real budget is smaller than configured (another worker
  uses the same app, or the account's tier is lower): the limiter holds every call until
  the window has room and lowers its own limit to what the window held when HubSpot
  refused, then gives back one call per minute without refusals (additive increase).

Waiting for a window slot blocks the calling task thread (a slot frees within 10 s), in
short sleeps, and never longer than ``max_wait``. Writers that share a token share one
limiter (``shared_limiter``), because HubSpot's budget is the app's, not the task's.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from offramp import RetriableError, ThrottledError

__all__ = ["RateLimiter", "release_limiter", "seconds_until_midnight", "shared_limiter"]

WINDOW_SECONDS = 10.0
_SLICE = 0.05  # longest single sleep while waiting for a slot
RECOVERY_SECONDS = 60.0  # a lowered limit gains one call per this long without a 429


def seconds_until_midnight(now: datetime, timezone: str) -> float:
    """Seconds from ``now`` (aware) to the next midnight in ``timezone``."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    # Subtract in UTC: aware datetimes sharing a zone subtract as wall clocks, DST ignored.
    return max(0.0, (midnight.astimezone(UTC) - local.astimezone(UTC)).total_seconds())


class RateLimiter:
    """Admits calls within ``per_window`` per rolling window and ``daily`` per day."""

    def __init__(
        self,
        per_window: int,
        daily: int,
        timezone: str = "UTC",
        window: float = WINDOW_SECONDS,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.per_window = per_window
        self.daily = daily
        self.timezone = timezone
        self.window = window
        self.max_wait = max_wait
        self._clock = clock
        self._wall = wall or (lambda: datetime.now(ZoneInfo(timezone)))
        self._cond = threading.Condition()
        self._ended: deque[float] = deque()  # end times of calls still inside the window
        self._in_flight = 0
        self._hold_until = 0.0
        self._learned: tuple[int, float] | None = None  # (lowered limit, when) after a 429
        self._day: date | None = None
        self._used_today = 0
        self.waited = 0.0  # seconds callers spent waiting for a slot (for metrics, benches)

    # ----- the budget -----------------------------------------------------------------

    @contextmanager
    def call(self) -> Iterator[None]:
        """``with limiter.call(): send()`` — admitted, counted, and released at the end."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        """Wait for room in the window; raise ``ThrottledError`` if today's budget is spent."""
        began = self._clock()
        with self._cond:
            while True:
                self._roll_day()
                if self._used_today >= self.daily:
                    raise self.daily_exhausted(
                        f"today's HubSpot API calls are used up ({self.daily} a day by "
                        "hubspot.rate.limit.daily, counting what HubSpot reports as used)"
                    )
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._in_flight += 1
                    self._used_today += 1
                    self.waited += now - began
                    return
                if now - began + wait > self.max_wait:
                    raise RetriableError(
                        f"no HubSpot call slot within {self.max_wait:.0f}s "
                        f"({self._in_flight} calls in flight)",
                        retry_after=wait,
                    )
                self._cond.wait(min(_SLICE, wait))

    def release(self) -> None:
        """A call ended (answered, refused or timed out): its slot counts from now."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._ended.append(self._clock())
            self._cond.notify_all()

    def _wait_needed(self, now: float) -> float:
        while self._ended and now - self._ended[0] >= self.window:
            self._ended.popleft()
        if now < self._hold_until:
            return self._hold_until - now
        if len(self._ended) + self._in_flight < self.effective_limit(now):
            return 0.0
        if not self._ended:
            return _SLICE  # every slot is in flight: one frees when a call ends
        return self._ended[0] + self.window - now

    def window_remaining(self) -> float:
        """Seconds until the oldest call in the window leaves it (a 429's fair wait)."""
        with self._cond:
            now = self._clock()
            while self._ended and now - self._ended[0] >= self.window:
                self._ended.popleft()
            return self._ended[0] + self.window - now if self._ended else self.window

    def effective_limit(self, now: float | None = None) -> int:
        """The configured limit, or less while recovering from a window 429."""
        if self._learned is None:
            return self.per_window
        lowered, since = self._learned
        now = self._clock() if now is None else now
        recovered = lowered + int((now - since) / RECOVERY_SECONDS)
        if recovered >= self.per_window:
            self._learned = None
            return self.per_window
        return recovered

    # ----- what HubSpot tells us ------------------------------------------------------

    def hold(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a per-second 429, a ``Retry-After``)."""
        with self._cond:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def refused_for_window(self, seconds: float) -> None:
        """HubSpot refused a call for the window (the call already ended): admit nothing
        for ``seconds``, and no more calls per window than the window held then."""
        with self._cond:
            now = self._clock()
            self._hold_until = max(self._hold_until, now + seconds)
            while self._ended and now - self._ended[0] >= self.window:
                self._ended.popleft()
            held = max(1, len(self._ended) - 1 + self._in_flight)  # not counting this call
            if held < self.effective_limit(now):
                self._learned = (held, now)

    def exhaust_daily(self) -> None:
        """HubSpot said the daily limit is reached: admit nothing until midnight."""
        with self._cond:
            self._roll_day()
            self._used_today = max(self._used_today, self.daily)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Sync the daily count with ``X-HubSpot-RateLimit-Daily-Remaining`` if sent, so a
        restarted worker knows what was used today before it started."""
        remaining = _count(headers.get("X-HubSpot-RateLimit-Daily-Remaining"))
        if remaining is None:
            return
        limit = _count(headers.get("X-HubSpot-RateLimit-Daily"))
        # What HubSpot saw used today, and never more than HubSpot has left.
        used_by_hubspot = 0 if limit is None else limit - remaining
        with self._cond:
            self._roll_day()
            self._used_today = max(self._used_today, used_by_hubspot, self.daily - remaining)

    def seconds_until_reset(self) -> float:
        return seconds_until_midnight(self._wall(), self.timezone)

    def daily_exhausted(self, why: str) -> ThrottledError:
        """The error that pauses a task until the daily budget resets."""
        wait = self.seconds_until_reset()
        resets = (self._wall() + timedelta(seconds=wait)).strftime("%Y-%m-%d %H:%M %Z")
        return ThrottledError(
            f"{why}; HubSpot's daily limit resets at midnight {self.timezone} ({resets})",
            retry_after=wait,
        )

    @property
    def used_today(self) -> int:
        with self._cond:
            self._roll_day()
            return self._used_today

    def _roll_day(self) -> None:
        today = self._wall().date()
        if today != self._day:
            self._day, self._used_today = today, 0

    def tighten(self, per_window: int, daily: int) -> None:
        """Another writer shares this budget with lower limits: keep the lowest."""
        with self._cond:
            self.per_window = min(self.per_window, per_window)
            self.daily = min(self.daily, daily)


# ----- one limiter per app (token and endpoint) in this process --------------------------

_shared: dict[tuple[str, str], tuple[RateLimiter, int]] = {}
_shared_lock = threading.Lock()


def _key(base_url: str, token: str) -> tuple[str, str]:
    return base_url, hashlib.sha256(token.encode()).hexdigest()


def shared_limiter(
    base_url: str, token: str, per_window: int, daily: int, timezone: str
) -> RateLimiter:
    """The limiter every writer with this token and endpoint uses; pair with
    ``release_limiter`` when the writer stops."""
    key = _key(base_url, token)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            limiter = RateLimiter(per_window, daily, timezone)
            _shared[key] = (limiter, 1)
            return limiter
        limiter, users = found
        limiter.tighten(per_window, daily)
        _shared[key] = (limiter, users + 1)
        return limiter


def release_limiter(base_url: str, token: str) -> None:
    key = _key(base_url, token)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            return
        limiter, users = found
        if users <= 1:
            del _shared[key]
        else:
            _shared[key] = (limiter, users - 1)


def _count(header: str | None) -> int | None:
    return int(header) if header is not None and header.strip().isdigit() else None
