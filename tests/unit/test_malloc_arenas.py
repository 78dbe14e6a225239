"""The worker caps glibc's malloc arenas, unless the operator's MALLOC_ARENA_MAX decides."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from offramp.malloc_arenas import limit_malloc_arenas


def test_arenas_are_capped_on_glibc_in_a_fresh_process() -> None:
    """In a process of its own (the cap is process-wide): set on this glibc machine."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    code = "from offramp.malloc_arenas import limit_malloc_arenas as f; print(f())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert os.confstr("CS_GNU_LIBC_VERSION"), "this machine is expected to run glibc"
    assert out.stdout.strip() == "True"


def test_an_operators_malloc_arena_max_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """MALLOC_ARENA_MAX in the environment: glibc already read it; nothing is changed."""
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
