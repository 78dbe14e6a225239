"""Pacing per webhook: at most ``slack.messages.per.second`` from this process.

Every task (and every connector) posting to the same webhook URL shares one pacer,
because Slack's limit is the webhook's, not the task's."""

from __future__ import annotations

import threading
import time

__all__ = ["Pacer", "pacer_for"]


class Pacer:
    """Spaces calls at least ``1 / rate`` seconds apart; ``hold`` defers them all."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)

    def delay(self) -> float:
        """Seconds until the next post may go."""
        with self._lock:
            return max(0.0, self._next - time.monotonic())

    def hold(self, seconds: float) -> None:
        """Slack said wait (a 429's Retry-After): nobody posts before then."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


_pacers: dict[str, Pacer] = {}
_lock = threading.Lock()


def pacer_for(url: str, rate: float) -> Pacer:
    with _lock:
        found = _pacers.get(url)
        if found is None:
            found = _pacers[url] = Pacer(rate)
        # Two connectors on one webhook: the slower rate holds for both.
        found.interval = max(found.interval, 1.0 / rate)
        return found
