"""Finding the bad items of a refused call by splitting it in halves.

A destination often refuses a whole call (a batch insert, an HTTP batch endpoint, an
embedding request) because of one bad item, without saying which. Sending each half
again, and halving again where a half is refused, isolates one bad item among ``n`` in
about ``2·log2(n)`` extra calls, while every good item still goes out in large calls; a
call per item would cost ``n``. So the runtime and every connector use this one helper
rather than each writing its own.

The halves are kept as index ranges on an explicit stack, not by recursion: no depth
limit, and the sends happen outside any ``except`` block, so an exception from a later
half is not chained to the refusal that caused the split. The items are copied once on
entry (a list stays a list) and every part is sliced from that copy: a caller that trims
its own list meanwhile (a rebalance) can't shift a half onto the wrong items, and a
``send`` that changes the part it is given changes nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["settle_in_halves"]

T = TypeVar("T")


def settle_in_halves(
    items: Sequence[T],
    send: Callable[[Sequence[T]], None],
    fail: Callable[[T, Exception], None],
    refused: Callable[[Exception], bool],
    *,
    on_split: Callable[[Sequence[T], Exception], None] | None = None,
) -> None:
    """Send ``items``, splitting refused calls in halves until the refused items stand alone.

    ``send(part)`` settles every item of ``part`` or raises. When ``refused(exc)`` is
    true, a part of several items is split in halves, ``on_split(part, exc)`` is told
    (to log it), and each half is sent again, the first half (and all its splits) first;
    a refused single item is ``fail``ed with the exception. Any other exception
    propagates unchanged, and the parts not yet sent are not sent. Nothing is sent for
    no items.
    """
    # Tuples and ranges can't change under us; anything else is copied (see above).
    whole: Sequence[T] = items if isinstance(items, tuple | range) else list(items)
    stack = [(0, len(whole))] if whole else []
    while stack:
        start, end = stack.pop()
        part = whole[start:end]
        try:
            send(part)
        except Exception as exc:
            if not refused(exc):
                raise
            if end - start == 1:
                fail(whole[start], exc)
                continue
            if on_split is not None:
                on_split(part, exc)
            middle = (start + end) // 2
            stack.append((middle, end))  # popped after the first half is settled
            stack.append((start, middle))
