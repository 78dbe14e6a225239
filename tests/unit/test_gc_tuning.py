"""Freezing the long-lived heap never leaks what a stopped task let go."""

from __future__ import annotations

import gc
import weakref

from offramp.gc_tuning import freeze_long_lived, release_long_lived


class _Node:
    """An object in a reference cycle: only the collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_frozen_cycles_are_collected_at_the_freeze_after_a_release() -> None:
    """A cycle frozen while alive survives collections, and is freed by the first
    freeze after ``release_long_lived``."""
    node = _Node()
    ref = weakref.ref(node)
    freeze_long_lived()
    del node
    gc.collect()
    assert ref() is not None  # frozen: out of the collector's sight
    release_long_lived()
    freeze_long_lived()
    assert ref() is None


def test_a_freeze_without_a_release_collects_nothing() -> None:
    """Without a release the freeze is only a freeze: no full collection per task start."""
    node = _Node()
    ref = weakref.ref(node)
    freeze_long_lived()
    del node
    freeze_long_lived()
    assert ref() is not None
    release_long_lived()  # let the next test's freeze clean up after this one
    freeze_long_lived()
    assert ref() is None
