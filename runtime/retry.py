"""Retrying a failing write with Kafka Connect's semantics, on top of tenacity.

``errors.retry.timeout`` bounds the total time spent retrying (0: don't retry, -1:
forever); the backoff starts at 300 ms and doubles up to ``errors.retry.delay.max.ms``,
with jitter once capped. A ``retry_after`` hint from the target replaces the computed
delay, and waits for a ``ThrottledError`` (a spent budget) do not use up the timeout.
The caller supplies ``sleep``, which is how a task keeps polling Kafka while it waits.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from offramp.errors import RetriableError, ThrottledError

__all__ = ["RetryPolicy", "parse_retry_after"]

INITIAL_DELAY = 0.3


class RetryPolicy:
    def __init__(self, timeout_ms: int, max_delay_ms: int) -> None:
        self.timeout = None if timeout_ms < 0 else timeout_ms / 1000.0
        self.max_delay = max_delay_ms / 1000.0

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1-based)."""
        delay = INITIAL_DELAY * float(2 ** min(attempt - 1, 30))
        if delay >= self.max_delay:
            return self.max_delay * random.uniform(0.8, 1.0)
        return delay

    def retrying(
        self,
        sleep: Callable[[float], None],
        before_sleep: Callable[[RetryCallState], None] | None = None,
        deadline: float | None = None,
    ) -> Retrying:
        """A tenacity ``Retrying`` for one write; ``deadline`` (monotonic) ends it early."""
        throttled = [0.0]

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetriableError) and exc.retry_after is not None:
                seconds = max(0.0, exc.retry_after)
            else:
                seconds = self.delay(state.attempt_number)
            if isinstance(exc, ThrottledError):
                throttled[0] += seconds
            elif deadline is not None:
                seconds = min(seconds, max(0.0, deadline - time.monotonic()))
            return seconds

        def stop(state: RetryCallState) -> bool:
            if deadline is not None and time.monotonic() >= deadline:
                return True
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ThrottledError):
                return False
            if self.timeout is None:
                return False
            spent = (state.seconds_since_start or 0.0) - throttled[0]
            return spent >= self.timeout

        return Retrying(
            sleep=sleep,
            stop=stop,
            wait=wait,
            retry=retry_if_exception_type(RetriableError),
            before_sleep=before_sleep,
            reraise=True,
        )


def parse_retry_after(value: str | None) -> float | None:
    """An HTTP ``Retry-After`` value (seconds, or an HTTP date) as seconds to wait from
    now; None when absent or unreadable. For sinks turning a 429/503 into
    ``RetriableError(..., retry_after=...)``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
