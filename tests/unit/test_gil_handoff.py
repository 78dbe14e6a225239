"""A pipelined task's shorter switch interval never lengthens an embedder's choice."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from offramp.gil_handoff import SWITCH_INTERVAL_S, shorten_switch_interval


@pytest.fixture
def switch_interval() -> Iterator[None]:
    """Puts the process's switch interval back as it was."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("switch_interval")
def test_the_default_interval_is_shortened_to_half_a_millisecond() -> None:
    """CPython's 5 ms default becomes 0.5 ms."""
    sys.setswitchinterval(0.005)
    shorten_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)


@pytest.mark.usefixtures("switch_interval")
def test_a_shorter_interval_already_set_is_kept() -> None:
    """An interval set shorter than 0.5 ms stays as it is."""
    sys.setswitchinterval(0.0001)
    shorten_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(0.0001)
