"""The dead-letter circuit breaker: a connector whose records mostly fail pauses itself.

An upstream deploy that changes the format turns every record into a dead letter, and
``errors.tolerance=all`` would copy the whole topic into the dead-letter topic (or skip
it, without one). The breaker counts, over the last ``errors.breaker.window.records``
records read, how many failed (conversion, transform or write); once the window is
full and the failed share reaches ``errors.breaker.threshold``, the next failure is not
dead-lettered: the task commits what is handled, pauses, and says why in its status.
Resuming the connector reads on from the last commit, with a fresh window.

Counting is per chunk read, not per record, so the hot path pays one call a chunk.
"""

from __future__ import annotations

from collections import deque

from offramp.errors import OfframpError

__all__ = ["BreakerTripped", "DeadLetterBreaker"]


class BreakerTripped(OfframpError):
    """Too many records failed: the task pauses instead of dead-lettering the rest."""


_CAUSES = {
    "KEY_CONVERTER": "the upstream format probably changed",
    "VALUE_CONVERTER": "the upstream format probably changed",
    "HEADER_CONVERTER": "the upstream format probably changed",
    "TRANSFORMATION": "a transform no longer fits the records",
    "TASK_PUT": "the destination refuses them",
}


class DeadLetterBreaker:
    def __init__(self, threshold: float, window: int) -> None:
        self._threshold = threshold
        self._window = window
        self._chunks: deque[list[int]] = deque()  # [records read, of which failed]
        self._seen = 0
        self._failed = 0
        self.trips = 0

    def read(self, records: int) -> None:
        """A chunk of ``records`` was read."""
        self._chunks.append([records, 0])
        self._seen += records
        while self._chunks and self._seen - self._chunks[0][0] >= self._window:
            seen, failed = self._chunks.popleft()
            self._seen -= seen
            self._failed -= failed

    def failed(self, stage: str, error: BaseException) -> None:
        """One record failed at ``stage``; raises ``BreakerTripped`` instead of letting
        it be dead-lettered when the window's failed share is at the threshold."""
        if self._seen >= self._window and self._failed >= self._threshold * self._seen:
            self.trips += 1
            share = 100.0 * self._failed / self._seen
            cause = _CAUSES.get(stage, "something upstream changed")
            raise BreakerTripped(
                f"{share:.0f} % of the last {self._seen:,} records failed ({stage}: "
                f"{error}): {cause}; the task paused instead of dead-lettering the rest "
                "(resume the connector to go on from the last commit)"
            )
        if self._chunks:
            self._chunks[-1][1] += 1
        self._failed += 1
