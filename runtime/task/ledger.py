"""The offset ledger: the one place that decides which offsets a task may commit.

The rule, whole: a partition's committable offset is the end of the longest run of
batches, from the start of its current assignment, that are each *handled* — written,
or with every failed record dead-lettered and the dead letters acknowledged. A batch
still being written, retried, or waiting for its dead letters to be acknowledged holds
back every batch after it on the same partition, whatever order they finish in. Commits
only move forward: an offset is offered only when it is past the last one committed in
this assignment.

It is plain data — no Kafka client, no threads, no clock — so the task loop's only
commit path can be property-tested (``tests/unit/task/test_ledger_properties.py``).

Assignments are *books*: revoking or losing a partition closes its book, and a new
assignment opens a fresh one, so a late result for a batch read under an old assignment
finds no range in the new book and changes nothing (it can never rewind the group).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from offramp.records import TopicPartition

__all__ = ["OffsetLedger"]


class _State(enum.Enum):
    OUTSTANDING = "outstanding"  # read into a batch, not written yet
    AWAITING_DEAD_LETTERS = "awaiting"  # written; some records dead-lettered, unacknowledged
    HANDLED = "handled"


@dataclass
class _Range:
    batch: int
    end: int  # the next offset after this batch's records of the partition
    state: _State = _State.OUTSTANDING


@dataclass
class _Book:
    """One partition's current assignment."""

    id: int
    ranges: list[_Range] = field(default_factory=list)  # in read order, contiguous
    tracked_end: int | None = None  # the end of the last range: what has been read
    floor: int | None = None  # the end of the handled prefix: safe to commit
    committed: int | None = None  # what this assignment committed last

    def range_of(self, batch: int) -> _Range | None:
        for r in self.ranges:
            if r.batch == batch:
                return r
        return None

    def settle_prefix(self) -> None:
        while self.ranges and self.ranges[0].state is _State.HANDLED:
            self.floor = self.ranges.pop(0).end


class OffsetLedger:
    """Positions, written batches, acknowledged dead letters and commits, per partition."""

    def __init__(self) -> None:
        self._books: dict[TopicPartition, _Book] = {}
        # Which partitions each batch read, and which wait for dead letters: a batch's
        # result touches those books only, not every partition assigned (thousands,
        # with one topic per tenant).
        self._read_by: dict[int, set[TopicPartition]] = {}
        self._awaiting: set[TopicPartition] = set()
        self._opened = 0
        self.generation = 0
        """Moves on every assign and forget: equal generations mean the same books."""

    # ----- assignment -------------------------------------------------------------------

    def assign(
        self, partitions: Iterable[TopicPartition], starts: Mapping[TopicPartition, int]
    ) -> None:
        """Open a book per partition. A start the sink gave (it holds everything before
        it) is committable at once, so the group's offsets catch up with the sink's."""
        self.generation += 1
        for tp in partitions:
            if tp in self._books:
                continue  # already ours: the consumer kept its position, so the book stays
            self._opened += 1
            book = _Book(self._opened)
            start = starts.get(tp)
            if start is not None and start >= 0:
                book.floor = start
                book.tracked_end = start
            self._books[tp] = book

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Close the books of revoked or lost partitions."""
        self.generation += 1
        for tp in partitions:
            self._books.pop(tp, None)
            self._awaiting.discard(tp)

    @property
    def assigned(self) -> frozenset[TopicPartition]:
        return frozenset(self._books)

    @property
    def assigned_count(self) -> int:
        return len(self._books)

    def is_assigned(self, tp: TopicPartition) -> bool:
        return tp in self._books

    # ----- reading and writing ----------------------------------------------------------

    def track(self, batch: int, positions: Mapping[TopicPartition, int]) -> None:
        """Everything read up to ``positions`` (next offsets, per partition) belongs to
        ``batch`` from now on. Positions of unassigned partitions, or not past what is
        already tracked, are ignored."""
        for tp, end in positions.items():
            book = self._books.get(tp)
            if book is None or (book.tracked_end is not None and end <= book.tracked_end):
                continue
            book.tracked_end = end
            last = book.ranges[-1] if book.ranges else None
            if last is not None and last.batch == batch:
                last.end = end
            else:
                book.ranges.append(_Range(batch, end))
                self._read_by.setdefault(batch, set()).add(tp)

    def books(self) -> dict[TopicPartition, int]:
        """The id of each partition's current assignment. Records read under one
        assignment are worth writing only while ``books()`` still shows the same id."""
        return {tp: book.id for tp, book in self._books.items()}

    def written(self, batch: int, dead_letters: bool) -> None:
        """``batch`` is written; with ``dead_letters``, some of its records went to the
        dead-letter topic and count only once those are acknowledged."""
        state = _State.AWAITING_DEAD_LETTERS if dead_letters else _State.HANDLED
        for tp in self._read_by.pop(batch, ()):
            book = self._books.get(tp)
            r = None if book is None else book.range_of(batch)
            if book is not None and r is not None and r.state is _State.OUTSTANDING:
                r.state = state
                if dead_letters:
                    self._awaiting.add(tp)
                book.settle_prefix()

    @property
    def awaiting_dead_letters(self) -> bool:
        return bool(self._awaiting)

    def dead_letters_acknowledged(self) -> None:
        """Every dead letter produced so far is acknowledged (the producer flushed)."""
        for tp in self._awaiting:
            book = self._books[tp]
            for r in book.ranges:
                if r.state is _State.AWAITING_DEAD_LETTERS:
                    r.state = _State.HANDLED
            book.settle_prefix()
        self._awaiting.clear()

    # ----- committing -------------------------------------------------------------------

    def committable(
        self, only: Iterable[TopicPartition] | None = None
    ) -> dict[TopicPartition, int]:
        """The offsets worth committing now: each partition's floor, where it is past
        what this assignment committed."""
        tps = self._books if only is None else [tp for tp in only if tp in self._books]
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            book = self._books[tp]
            if book.floor is not None and (book.committed is None or book.floor > book.committed):
                out[tp] = book.floor
        return out

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """These commits succeeded (a sink's ``pre_commit`` may have lowered them)."""
        for tp, offset in offsets.items():
            book = self._books.get(tp)
            if book is not None and (book.committed is None or offset > book.committed):
                book.committed = offset

    def last_committed(self, tp: TopicPartition) -> int | None:
        book = self._books.get(tp)
        return None if book is None else book.committed
