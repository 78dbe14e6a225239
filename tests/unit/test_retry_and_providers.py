"""Retry timing follows Kafka Connect; config providers resolve env and file references."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.errors import ConfigError, RetriableError, ThrottledError
from offramp.providers import resolve
from offramp.retry import RetryPolicy


def test_backoff_starts_at_300ms_doubles_and_caps_with_jitter() -> None:
    """300, 600, 1200 ms… then the cap, jittered below it."""
    policy = RetryPolicy(timeout_ms=-1, max_delay_ms=2000)
    assert [policy.delay(n) for n in (1, 2, 3)] == pytest.approx([0.3, 0.6, 1.2])
    assert all(1.6 <= policy.delay(6) <= 2.0 for _ in range(20))


def _run(policy: RetryPolicy, errors: list[Exception]) -> tuple[int, list[float]]:
    slept: list[float] = []
    calls = 0
    for attempt in policy.retrying(sleep=slept.append):
        with attempt:
            calls += 1
            if errors:
                raise errors.pop(0)
    return calls, slept


def test_retry_after_hint_replaces_the_backoff() -> None:
    """A target's retry_after wins over the computed delay."""
    calls, slept = _run(RetryPolicy(-1, 60000), [RetriableError("busy", retry_after=7.5)])
    assert calls == 2 and slept == [7.5]


def test_zero_timeout_does_not_retry_but_throttling_always_waits() -> None:
    """errors.retry.timeout=0 gives up at once; a ThrottledError still waits its turn."""
    with pytest.raises(RetriableError):
        _run(RetryPolicy(0, 60000), [RetriableError("down")])
    calls, slept = _run(RetryPolicy(0, 60000), [ThrottledError("daily quota", 30.0)])
    assert calls == 2 and slept == [30.0]


def test_env_and_file_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """${env:X} and ${file:path:key} (properties and JSON) resolve; misses name the key."""
    monkeypatch.setenv("OFFRAMP_T_TOKEN", "s3cret")
    props = tmp_path / "creds.properties"
    props.write_text("# comment\nuser=alice\npassword = hunter2\n")
    js = tmp_path / "creds.json"
    js.write_text('{"key": "abc"}')
    out = resolve(
        {
            "a": "Bearer ${env:OFFRAMP_T_TOKEN}",
            "b": f"${{file:{props}:password}}",
            "c": f"${{file:{js}:key}}",
            "d": 5,
        }
    )
    assert out == {"a": "Bearer s3cret", "b": "hunter2", "c": "abc", "d": 5}
    with pytest.raises(ConfigError) as err:
        resolve({"x": f"${{file:{props}:nothing}}", "y": "${env:OFFRAMP_T_MISSING}"})
    assert [k for k, _ in err.value.errors] == ["x", "y"]
