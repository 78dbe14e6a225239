"""settle_in_halves: a refused call is split in halves until its bad items stand alone."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from offramp import settle_in_halves

# The calls for items 0..7 with 1 and 6 bad: each half and all its splits, in order.
EIGHT_WITH_1_AND_6_BAD = [
    [0, 1, 2, 3, 4, 5, 6, 7],
    [0, 1, 2, 3],
    [0, 1],
    [0],
    [1],
    [2, 3],
    [4, 5, 6, 7],
    [4, 5],
    [6, 7],
    [6],
    [7],
]


class Refused(Exception):
    """The destination refused a call as a whole, naming no item."""


class Destination:
    """Refuses any call holding a bad item; records every call and every settled item."""

    def __init__(self, bad: set[int] | None = None, down_from: int | None = None) -> None:
        self.bad = bad or set()
        self.down_from = down_from  # a call starting at this item fails as an outage
        self.sends: list[list[int]] = []
        self.written: list[int] = []
        self.failed: list[tuple[int, Exception]] = []
        self.splits: list[list[int]] = []

    def send(self, part: Sequence[int]) -> None:
        self.sends.append(list(part))
        if self.down_from is not None and part[0] == self.down_from:
            raise ConnectionError("destination down")
        if self.bad & set(part):
            raise Refused(f"{len(part)} items refused")
        self.written.extend(part)

    def fail(self, item: int, exc: Exception) -> None:
        self.failed.append((item, exc))

    def split(self, part: Sequence[int], exc: Exception) -> None:
        self.splits.append(list(part))

    def settle(self, items: Sequence[int]) -> None:
        settle_in_halves(
            items,
            self.send,
            self.fail,
            lambda exc: isinstance(exc, Refused),
            on_split=self.split,
        )


@pytest.mark.parametrize(("n", "calls"), [(16, 9), (1024, 21)])
def test_one_bad_item_is_found_in_one_plus_two_log2_n_calls(n: int, calls: int) -> None:
    """One bad item among n costs the first call plus two per halving: 1 + 2·log2(n)."""
    destination = Destination(bad={n // 3})
    destination.settle(list(range(n)))
    assert len(destination.sends) == calls
    assert [item for item, _ in destination.failed] == [n // 3]
    assert sorted(destination.written) == [i for i in range(n) if i != n // 3]


def test_several_bad_items_each_fail_alone_and_every_good_one_is_written_once() -> None:
    """Every bad item fails with its own refusal; each good item is written exactly once."""
    destination = Destination(bad={2, 3, 11})
    destination.settle(list(range(16)))
    assert [item for item, _ in destination.failed] == [2, 3, 11]
    assert all(isinstance(exc, Refused) for _, exc in destination.failed)
    assert destination.failed[0][1].args == ("1 items refused",)
    assert destination.written == [i for i in range(16) if i not in {2, 3, 11}]


def test_no_bad_item_means_one_call_with_everything() -> None:
    """A call nobody refuses is sent once, whole, and nothing fails or splits."""
    destination = Destination()
    destination.settle(list(range(10)))
    assert destination.sends == [list(range(10))]
    assert destination.failed == [] and destination.splits == []


def test_an_outage_mid_way_propagates_unchanged_and_stops_sending() -> None:
    """A non-refusal raised by a later half propagates as is; parts after it aren't sent."""
    destination = Destination(bad={1}, down_from=4)
    with pytest.raises(ConnectionError) as raised:
        destination.settle(list(range(8)))
    assert raised.value.args == ("destination down",)
    assert raised.value.__context__ is None  # not chained to the refusal that split
    assert destination.sends == EIGHT_WITH_1_AND_6_BAD[:7]  # up to the outage
    assert [item for item, _ in destination.failed] == [1]
    assert destination.written == [0, 2, 3]


def test_an_interrupt_is_never_taken_for_a_refusal() -> None:
    """BaseExceptions that aren't Exceptions (Ctrl-C) propagate without asking `refused`."""
    asked: list[BaseException] = []

    def send(part: Sequence[int]) -> None:
        raise KeyboardInterrupt

    def refused(exc: Exception) -> bool:
        asked.append(exc)
        return True

    with pytest.raises(KeyboardInterrupt):
        settle_in_halves([1, 2], send, lambda item, exc: None, refused)
    assert asked == []


def test_no_items_sends_nothing() -> None:
    """An empty input makes no call at all."""
    destination = Destination(bad={0})
    destination.settle([])
    assert destination.sends == [] and destination.failed == []


def test_halves_go_out_first_half_first_depth_first() -> None:
    """Sends follow the items' order: a half and all its splits before the next half."""
    destination = Destination(bad={1, 6})
    destination.settle(list(range(8)))
    assert destination.sends == EIGHT_WITH_1_AND_6_BAD
    assert destination.written == [0, 2, 3, 4, 5, 7]


def test_on_split_is_told_of_each_refused_call_of_several_items() -> None:
    """on_split sees every refused part that gets split, never a refused single item."""
    destination = Destination(bad={1, 6})
    destination.settle(list(range(8)))
    assert destination.splits == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [0, 1, 2, 3],
        [0, 1],
        [4, 5, 6, 7],
        [6, 7],
    ]


def test_a_refused_single_item_fails_without_a_split() -> None:
    """One item refused on the first call is failed at once."""
    destination = Destination(bad={7})
    destination.settle([7])
    assert destination.sends == [[7]] and destination.splits == []
    assert [item for item, _ in destination.failed] == [7]


def test_trimming_the_callers_list_meanwhile_shifts_no_half() -> None:
    """Halves come from the items as given: a caller trimming its list in place (a
    rebalance during a retry) or a send changing its part skips nothing."""
    items = list(range(8))
    destination = Destination(bad={0})
    sends: list[list[int]] = []

    def send(part: Sequence[int]) -> None:
        sends.append(list(part))
        if len(sends) == 1:
            del items[:3]  # the caller drops records of a revoked partition
        if isinstance(part, list):
            part.clear()  # send's own copy: harmless
        destination.send(sends[-1])

    settle_in_halves(items, send, destination.fail, lambda exc: isinstance(exc, Refused))
    assert sends[1] == [0, 1, 2, 3] and [4, 5, 6, 7] in sends
    assert sorted(destination.written) == list(range(1, 8))


def test_a_range_is_split_as_ranges() -> None:
    """Bisecting over indices (a range) sends ranges: no list of indices is built."""
    parts: list[Sequence[int]] = []

    def send(part: Sequence[int]) -> None:
        parts.append(part)
        if 2 in part:
            raise Refused()

    failed: list[int] = []
    settle_in_halves(range(4), send, lambda n, exc: failed.append(n), lambda exc: True)
    assert all(isinstance(part, range) for part in parts)
    assert failed == [2]
