"""HubSpot's rate limits: a rolling window (``TEN_SECONDLY_ROLLING``), a second
(``SECONDLY``) and a day (``DAILY``), refused with its 429 body and counted in its
``X-HubSpot-RateLimit-*`` headers; and the log of calls that tests check budgets on."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from devstack.hubspot.answers import Answer

__all__ = ["CallRecord", "RateLimits", "max_in_window"]


@dataclass(frozen=True)
class CallRecord:
    """One ``/crm/`` call as the stand-in saw it."""

    at: float  # time.monotonic() when it arrived
    method: str
    path: str
    status: int
    inputs: int
    policy: str | None = None  # the rate-limit policy that refused it (429 only)

    @property
    def refused(self) -> bool:
        return self.policy is not None


def max_in_window(calls: Iterable[CallRecord], span: float) -> int:
    """The most of these calls that arrived within any rolling ``span`` seconds."""
    times = sorted(c.at for c in calls)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= span:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class RateLimits:
    """The budgets (None: unlimited) and what has been used. Callers hold the stub's lock."""

    per_10s: int | None = None
    per_second: int | None = None
    daily: int | None = None
    window_seconds: float = 10.0
    retry_after: float | None = None  # the Retry-After of a 429 (never for DAILY)
    daily_used: int = 0
    _window: deque[float] = field(default_factory=deque)
    _second: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> None:
        """Count one call arriving at ``now``, or raise the 429 of the budget it would
        exceed (a refused call uses up nothing)."""
        while self._window and now - self._window[0] >= self.window_seconds:
            self._window.popleft()
        while self._second and now - self._second[0] >= 1.0:
            self._second.popleft()
        if self.daily is not None and self.daily_used >= self.daily:
            raise self._too_many("DAILY", "You have reached your daily limit.")
        if self.per_second is not None and len(self._second) >= self.per_second:
            raise self._too_many("SECONDLY", "You have reached your secondly limit.")
        if self.per_10s is not None and len(self._window) >= self.per_10s:
            raise self._too_many(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )
        self.daily_used += 1
        self._window.append(now)
        self._second.append(now)

    def _too_many(self, policy: str, message: str) -> Answer:
        body = {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "groupName": "crm-objects",
        }
        headers = {}
        if self.retry_after is not None and policy != "DAILY":
            headers["Retry-After"] = f"{self.retry_after:g}"
        return Answer(429, body, headers)

    def headers(self) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers of an answered call."""
        headers = {}
        if self.per_10s is not None:
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
                int(self.window_seconds * 1000)
            )
            headers["X-HubSpot-RateLimit-Max"] = str(self.per_10s)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.per_10s - len(self._window)))
        if self.daily is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily - self.daily_used)
            )
        return headers
