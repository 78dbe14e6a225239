"""Finding the bad inputs of a refused call by splitting it in halves.

HubSpot refuses a whole batch call (a 400 "Property values were not valid") without
saying which input was bad. Splitting the call and retrying each half isolates the bad
inputs in about ``2·log2(n)`` extra calls for one bad input among ``n``, each of them
budgeted by the rate limiter like any other call. Only the refused call is split, never
the rest of the runtime's batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from connectors.hubspot.errors import CallRefused, HubSpotProblem

__all__ = ["chunked", "settle_in_halves"]

T = TypeVar("T")


def settle_in_halves(
    items: Sequence[T],
    send: Callable[[Sequence[T]], None],
    fail: Callable[[T, HubSpotProblem], None],
) -> None:
    """``send`` settles every item it is given (written or failed by name) or raises
    ``CallRefused``; a refused single item is ``fail``ed with HubSpot's problem."""
    if not items:
        return
    try:
        send(items)
    except CallRefused as refused:
        if len(items) == 1:
            fail(items[0], refused.problem)
            return
        middle = len(items) // 2
        settle_in_halves(items[:middle], send, fail)
        settle_in_halves(items[middle:], send, fail)


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
