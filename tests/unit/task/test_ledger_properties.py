"""The offset ledger, the task loop's only commit path, under generated interleavings.

A simulated driver uses ``OffsetLedger`` the way the task loop does, against its own
independent model of the world: a few partitions with a log each, a consumer group with
a committed offset per partition, the task's assignment (with an exactly-once sink's
own start offsets), batches read in chunks and written in any order — some never, some
twice, some late after their partition was revoked and assigned again — dead letters
and their acknowledgement, and commits that a sink's ``pre_commit`` may lower and the
group may refuse for some partitions. After every step:

1. nothing the ledger offers, and nothing the group ever commits, passes a record that
   is neither written nor dead-lettered with the dead letter acknowledged;
2. the group's committed offset never goes backwards (nor does an offer lie behind it);
3. ``committable()`` never offers an offset at or below what the assignment committed;

and the ledger does not stall: once every batch holding a partition's positions is
handled, the partition's read position is offered (and, at the end, committed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import hypothesis.strategies as st
from hypothesis import given, note, settings

from offramp.records import TopicPartition
from offramp.task.ledger import OffsetLedger

Ex = TypeVar("Ex")

X = TopicPartition("t", 0)
Y = TopicPartition("t", 1)
Z = TopicPartition("t", 2)
PARTITIONS = (X, Y, Z)
LOG_END = 40  # every partition's log holds offsets 0..39
MAX_CHUNK = 5  # records of one partition in one read


class Draw(Protocol):
    def __call__(self, strategy: st.SearchStrategy[Ex], label: Any = None) -> Ex: ...


@dataclass
class SimBatch:
    """A batch as the model sees it: which records, read under which assignment."""

    id: int
    records: list[tuple[TopicPartition, int, int]] = field(default_factory=list)  # tp, off, epoch
    touched: set[tuple[TopicPartition, int]] = field(default_factory=set)  # positions given
    dead_at_ingest: set[tuple[TopicPartition, int]] = field(default_factory=set)
    sealed: bool = False
    written: bool = False
    failures: int = 0
    dead_letters_pending: bool = False  # written with dead letters not yet acknowledged


class Driver:
    """Drives an ``OffsetLedger`` like the task loop and checks it against a model."""

    def __init__(self) -> None:
        self.ledger = OffsetLedger()
        # The world.
        self.group: dict[TopicPartition, int] = {}  # committed offsets (absent: none yet)
        self.handled: dict[TopicPartition, set[int]] = {tp: set() for tp in PARTITIONS}
        self.unacked: set[tuple[TopicPartition, int]] = set()  # dead letters in flight
        # The task.
        self.epoch: dict[TopicPartition, int] = dict.fromkeys(PARTITIONS, 0)
        self.assigned: set[TopicPartition] = set()
        self.position: dict[TopicPartition, int] = {}  # next fetch offset
        self.sink_start: set[TopicPartition] = set()  # assigned with the sink's own start
        self.assignment_committed: dict[TopicPartition, int] = {}
        self.batches: dict[int, SimBatch] = {}
        self.open: SimBatch | None = None
        self.next_id = 1
        # The ledger's own names for assignments, as seen when each one began.
        self.book_ids: dict[tuple[TopicPartition, int], int] = {}
        self.seen = (self.ledger.generation, self.ledger.books())

    # ----- the world's facts ------------------------------------------------------------

    def live(self, tp: TopicPartition, epoch: int) -> bool:
        return tp in self.assigned and self.epoch[tp] == epoch

    def first_unhandled(self, tp: TopicPartition) -> int:
        done = self.handled[tp]
        offset = 0
        while offset in done:
            offset += 1
        return offset

    def assert_safe(self, tp: TopicPartition, offset: int, what: str) -> None:
        gap = self.first_unhandled(tp)
        assert offset <= gap, (
            f"{what} {tp.partition}@{offset} passes record {gap}, neither written "
            f"nor dead-lettered with acknowledgement"
        )

    def group_commit(self, tp: TopicPartition, offset: int) -> None:
        self.assert_safe(tp, offset, "group commit")
        before = self.group.get(tp)
        assert before is None or offset >= before, (
            f"group offset of {tp.partition} goes backwards: {before} -> {offset}"
        )
        self.group[tp] = offset

    # ----- operations -------------------------------------------------------------------

    def assign(self, draw: Draw, tps: list[TopicPartition] | None = None) -> None:
        if tps is None:
            free = [tp for tp in PARTITIONS if tp not in self.assigned]
            if not free:
                return
            tps = draw(st.lists(st.sampled_from(free), min_size=1, unique=True))
        starts: dict[TopicPartition, int] = {}
        for tp in tps:
            committed = self.group.get(tp, 0)
            if draw(st.booleans()):
                starts[tp] = draw(st.integers(committed, LOG_END))
        note(f"assign {[tp.partition for tp in tps]} sink starts {_show(starts)}")
        for tp in tps:
            committed = self.group.get(tp, 0)
            self.epoch[tp] += 1
            self.assigned.add(tp)
            self.assignment_committed.pop(tp, None)
            if tp in starts:
                self.sink_start.add(tp)
                self.handled[tp].update(range(committed, starts[tp]))  # the sink holds them
            else:
                self.sink_start.discard(tp)
            self.position[tp] = starts.get(tp, committed)
        self.ledger.assign(tps, starts)
        books = self.ledger.books()
        for tp in tps:
            assert books[tp] not in {
                book for (other, _), book in self.book_ids.items() if other == tp
            }, f"a new assignment of {tp.partition} reuses an old book id"
            self.book_ids[(tp, self.epoch[tp])] = books[tp]

    def revoke(self, draw: Draw) -> None:
        if not self.assigned:
            return
        tps = draw(st.lists(st.sampled_from(sorted(self.assigned)), min_size=1, unique=True))
        offers = self.ledger.committable(only=tps)
        note(f"revoke {[tp.partition for tp in tps]}: commit first {_show(offers)}")
        assert set(offers) <= set(tps), f"committable(only=...) offered {_show(offers)}"
        self.commit_offers(draw, offers)
        self.ledger.forget(tps)
        self.unassign(tps)

    def lost(self, draw: Draw) -> None:
        if not self.assigned:
            return
        tps = draw(st.lists(st.sampled_from(sorted(self.assigned)), min_size=1, unique=True))
        note(f"lost {[tp.partition for tp in tps]}")
        self.ledger.forget(tps)
        self.unassign(tps)

    def bounce(self, draw: Draw) -> None:
        """Partitions revoked (or lost) and assigned straight back, as a cooperative
        rebalance often does."""
        if not self.assigned:
            return
        before = set(self.assigned)
        if draw(st.booleans()):
            self.revoke(draw)
        else:
            self.lost(draw)
        self.assign(draw, sorted(before - self.assigned))

    def unassign(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.assigned.discard(tp)
            self.position.pop(tp, None)
            self.assignment_committed.pop(tp, None)

    def read(self, draw: Draw) -> None:
        if not self.assigned:
            return
        if self.open is None:
            self.open = SimBatch(self.next_id)
            self.batches[self.next_id] = self.open
            self.next_id += 1
        batch = self.open
        read: list[TopicPartition] = []
        new: list[tuple[TopicPartition, int]] = []
        for tp in sorted(self.assigned):
            start = self.position[tp]
            n = draw(st.integers(0, min(MAX_CHUNK, LOG_END - start)))
            for offset in range(start, start + n):
                batch.records.append((tp, offset, self.epoch[tp]))
                new.append((tp, offset))
            if n:
                read.append(tp)
                self.position[tp] = start + n
        # Ingest asks the consumer for every assigned partition's position; a partition
        # not fetched yet may have none, so sometimes only the partitions read are given.
        given_for = sorted(self.assigned) if draw(st.booleans()) else read
        positions = {tp: self.position[tp] for tp in given_for}
        for tp in given_for:
            batch.touched.add((tp, self.epoch[tp]))
        # A converter or transform may dead-letter records at once, before any write.
        if new and draw(st.integers(0, 9)) == 0:
            dead = draw(st.sets(st.sampled_from(new), min_size=1))
            batch.dead_at_ingest |= dead
            self.unacked |= dead
        note(f"read into batch {batch.id}: track {_show(positions)}")
        self.ledger.track(batch.id, positions)

    def seal(self, draw: Draw) -> None:
        if self.open is not None:
            note(f"seal batch {self.open.id}")
            self.open.sealed = True
            self.open = None

    def unwritten(self) -> list[SimBatch]:
        return [b for b in self.batches.values() if b.sealed and not b.written]

    def write_done(self, draw: Draw | None, candidates: list[SimBatch] | None = None) -> None:
        """A write succeeded; with ``draw``, some of its records may be dead-lettered."""
        candidates = self.unwritten() if candidates is None else candidates
        if not candidates:
            return
        batch = candidates[0] if draw is None else draw(st.sampled_from(candidates))
        # The loop writes only the records of partitions still assigned as they were read.
        live = [
            (tp, off)
            for tp, off, epoch in batch.records
            if self.live(tp, epoch) and (tp, off) not in batch.dead_at_ingest
        ]
        dead: set[tuple[TopicPartition, int]] = set()
        if draw is not None and live and draw(st.integers(0, 3)) == 0:
            dead = draw(st.sets(st.sampled_from(live), min_size=1))
        dead_letters = bool(dead or batch.dead_at_ingest)
        for tp, off in live:
            if (tp, off) in dead:
                self.unacked.add((tp, off))
            else:
                self.handled[tp].add(off)
        batch.written = True
        batch.dead_letters_pending = dead_letters
        note(f"written batch {batch.id} dead_letters={dead_letters}")
        self.ledger.written(batch.id, dead_letters=dead_letters)

    def write_failed(self, draw: Draw) -> None:
        candidates = self.unwritten()
        if candidates:
            batch = draw(st.sampled_from(candidates))
            batch.failures += 1  # stays outstanding; maybe redone later, maybe never
            note(f"write of batch {batch.id} failed")

    def late_result(self, draw: Draw) -> None:
        """A result for a batch read (in part) under an assignment that has since ended
        with the partition assigned again, or a result applied a second time."""
        stale = [
            b
            for b in self.unwritten()
            if any(tp in self.assigned and not self.live(tp, epoch) for tp, epoch in b.touched)
        ]
        if len(stale) > 0 and draw(st.booleans()):
            self.write_done(draw, stale)  # counts only for partitions still read under it
            return
        done = [b for b in self.batches.values() if b.written]
        if done:
            batch = draw(st.sampled_from(done))
            dead_letters = draw(st.booleans())
            note(f"written again: batch {batch.id} dead_letters={dead_letters}")
            self.ledger.written(batch.id, dead_letters=dead_letters)

    def acknowledge(self, draw: Draw | None = None) -> None:
        note("dead letters acknowledged")
        for tp, off in self.unacked:
            self.handled[tp].add(off)
        self.unacked.clear()
        for batch in self.batches.values():
            batch.dead_letters_pending = False
        self.ledger.dead_letters_acknowledged()

    def commit(self, draw: Draw) -> None:
        offers = self.ledger.committable()
        note(f"commit: offered {_show(offers)}")
        self.commit_offers(draw, offers)

    def commit_offers(self, draw: Draw | None, offers: dict[TopicPartition, int]) -> None:
        """The sink's pre_commit may lower each offer (not below what is committed) or
        leave a partition out; the group then refuses some partitions. Without ``draw``,
        everything offered is committed."""
        succeeded: dict[TopicPartition, int] = {}
        for tp, offered in sorted(offers.items()):
            self.check_offer(tp, offered)
            offset = offered
            if draw is not None:
                low = min(offered, self.group.get(tp, 0))
                how = draw(st.sampled_from(["as offered", "as offered", "lowered", "left out"]))
                if how == "left out":
                    continue
                if how == "lowered":
                    offset = draw(st.integers(low, offered))
                if draw(st.integers(0, 3)) == 0:
                    note(f"  commit of {tp.partition}@{offset} failed")
                    continue
            self.group_commit(tp, offset)
            succeeded[tp] = offset
        note(f"  committed {_show(succeeded)}")
        for tp, offset in succeeded.items():
            if tp in self.assigned:
                self.assignment_committed[tp] = max(offset, self.assignment_committed.get(tp, 0))
        self.ledger.committed(succeeded)

    def other_owner(self, draw: Draw) -> None:
        """While a partition is not ours, another worker handles and commits some of it."""
        free = [tp for tp in PARTITIONS if tp not in self.assigned]
        if not free:
            return
        tp = draw(st.sampled_from(free))
        committed = self.group.get(tp, 0)
        offset = draw(st.integers(committed, LOG_END))
        note(f"another owner commits {tp.partition}@{offset}")
        self.handled[tp].update(range(committed, offset))
        self.group_commit(tp, offset)

    # ----- checks -----------------------------------------------------------------------

    def check_offer(self, tp: TopicPartition, offered: int) -> None:
        assert tp in self.assigned, f"offered {tp.partition}, which is not assigned"
        self.assert_safe(tp, offered, "offer")
        last = self.assignment_committed.get(tp)
        assert last is None or offered > last, (
            f"offered {tp.partition}@{offered}, not past {last} committed in this assignment"
        )
        group = self.group.get(tp)
        assert group is None or offered >= group, (
            f"offered {tp.partition}@{offered}, behind the group's {group}"
        )

    def settled(self, tp: TopicPartition) -> bool:
        """Every batch holding positions of ``tp`` in this assignment is handled."""
        epoch = self.epoch[tp]
        holding = [b for b in self.batches.values() if (tp, epoch) in b.touched]
        if not holding and tp not in self.sink_start:
            return False  # nothing read and no start: nothing to offer yet
        return all(b.written and not b.dead_letters_pending for b in holding)

    def check(self) -> None:
        assert self.ledger.assigned == frozenset(self.assigned), "assignment differs"
        generation, books = self.ledger.generation, self.ledger.books()
        assert books == {tp: self.book_ids[(tp, self.epoch[tp])] for tp in self.assigned}
        if generation == self.seen[0]:
            assert books == self.seen[1], "books changed, generation did not"
        self.seen = (generation, books)
        offers = self.ledger.committable()
        for tp, offered in offers.items():
            self.check_offer(tp, offered)
        for tp in self.assigned:
            assert self.ledger.last_committed(tp) == self.assignment_committed.get(tp)
            if self.settled(tp):
                expected = self.position[tp]
                last = self.assignment_committed.get(tp)
                if last is None or expected > last:
                    assert offers.get(tp) == expected, (
                        f"stall: {tp.partition} is handled up to {expected}, "
                        f"offered {offers.get(tp)}"
                    )
                else:
                    assert tp not in offers

    def drain(self) -> None:
        """Everything outstanding is written, dead letters acknowledged, and one commit
        that nothing refuses brings the group to every read position."""
        if self.open is not None:
            self.open.sealed = True
            self.open = None
        for batch in self.unwritten():
            self.write_done(None, [batch])
        self.acknowledge()
        self.check()
        self.commit_offers(None, self.ledger.committable())
        self.check()
        for tp in self.assigned:
            if self.settled(tp):
                assert self.group.get(tp) == self.position[tp], (
                    f"after draining, {tp.partition} committed {self.group.get(tp)}, "
                    f"read up to {self.position[tp]}"
                )


def _show(offsets: dict[TopicPartition, int]) -> str:
    return "{" + ", ".join(f"{tp.partition}@{o}" for tp, o in sorted(offsets.items())) + "}"


OPERATIONS = {
    "assign": (Driver.assign, 2),
    "revoke": (Driver.revoke, 1),
    "lost": (Driver.lost, 1),
    "revoked or lost and assigned again": (Driver.bounce, 2),
    "read": (Driver.read, 5),
    "seal": (Driver.seal, 3),
    "write done": (Driver.write_done, 3),
    "write failed": (Driver.write_failed, 1),
    "late result": (Driver.late_result, 2),
    "dead letters acknowledged": (Driver.acknowledge, 1),
    "commit": (Driver.commit, 3),
    "another owner": (Driver.other_owner, 1),
}
WEIGHTED = [name for name, (_, weight) in OPERATIONS.items() for _ in range(weight)]


@settings(max_examples=1000, deadline=None, database=None)
@given(data=st.data())
def test_commits_never_pass_unhandled_records_nor_go_backwards(data: st.DataObject) -> None:
    """Over generated interleavings of every operation, invariants 1-3 hold after each
    step, and nothing handled stays uncommitted once everything is written."""
    driver = Driver()
    ops = data.draw(st.lists(st.sampled_from(WEIGHTED), min_size=20, max_size=80), label="ops")
    for name in ops:
        OPERATIONS[name][0](driver, data.draw)
        driver.check()
    driver.drain()


# ----- examples ---------------------------------------------------------------------------


def test_out_of_order_completion_holds_back() -> None:
    """A later batch written first is not committable until the earlier one is written."""
    ledger = OffsetLedger()
    ledger.assign([X], {})
    ledger.track(1, {X: 5})
    ledger.track(2, {X: 9})
    ledger.written(2, dead_letters=False)
    assert ledger.committable() == {}
    ledger.written(1, dead_letters=False)
    assert ledger.committable() == {X: 9}


def test_dead_letters_hold_back_until_acknowledged() -> None:
    """A batch with dead letters is committable only once they are acknowledged."""
    ledger = OffsetLedger()
    ledger.assign([X, Y], {})
    ledger.track(1, {X: 5, Y: 3})
    ledger.written(1, dead_letters=True)
    assert ledger.awaiting_dead_letters
    assert ledger.committable() == {}
    ledger.dead_letters_acknowledged()
    assert not ledger.awaiting_dead_letters
    assert ledger.committable() == {X: 5, Y: 3}


def test_late_result_after_reassign_changes_nothing() -> None:
    """A result for a batch read before a revoke does not count in the next assignment."""
    ledger = OffsetLedger()
    ledger.assign([X], {})
    ledger.track(1, {X: 8})
    ledger.forget([X])
    ledger.assign([X], {})
    ledger.track(2, {X: 3})
    ledger.written(1, dead_letters=False)
    assert ledger.committable() == {}
    ledger.written(2, dead_letters=False)
    assert ledger.committable() == {X: 3}


def test_sink_start_is_committable_at_once() -> None:
    """The sink's own start offset is offered before anything is read, and only once."""
    ledger = OffsetLedger()
    ledger.assign([X, Y], {X: 7})
    assert ledger.committable() == {X: 7}
    ledger.committed({X: 7})
    assert ledger.committable() == {}


def test_commit_failure_for_one_partition_leaves_it_offered_next_time() -> None:
    """A partition whose commit failed is offered again; the committed one is not."""
    ledger = OffsetLedger()
    ledger.assign([X, Y], {})
    ledger.track(1, {X: 5, Y: 4})
    ledger.written(1, dead_letters=False)
    assert ledger.committable() == {X: 5, Y: 4}
    ledger.committed({X: 5})  # Y's commit failed
    assert ledger.committable() == {Y: 4}


def test_lowered_commit_leaves_the_rest_offered() -> None:
    """After pre_commit lowered a commit, the offset handled past it is offered again."""
    ledger = OffsetLedger()
    ledger.assign([X], {})
    ledger.track(1, {X: 6})
    ledger.written(1, dead_letters=False)
    ledger.committed({X: 2})
    assert ledger.committable() == {X: 6}


def test_a_result_applied_twice_changes_nothing() -> None:
    """Applying a write result again (now with dead letters) neither holds back nor rewinds."""
    ledger = OffsetLedger()
    ledger.assign([X], {})
    ledger.track(1, {X: 4})
    ledger.written(1, dead_letters=False)
    ledger.committed(ledger.committable())
    ledger.track(2, {X: 6})
    ledger.written(1, dead_letters=True)
    ledger.written(2, dead_letters=False)
    assert ledger.committable() == {X: 6}
    assert not ledger.awaiting_dead_letters
