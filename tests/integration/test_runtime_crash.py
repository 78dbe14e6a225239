"""A worker killed with SIGKILL mid-stream loses nothing once it is restarted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devstack.kafka import KafkaBroker
from tests.integration.crash_support import kill_twice_then_deliver_everything


def test_kill_9_mid_stream_then_restart_delivers_everything(
    kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, tmp_path: Path
) -> None:
    """Two SIGKILLs while 20,000 records stream in: after a restart every record is in
    the file, and duplicates stay within what was uncommitted at each kill."""
    topic, name = make_topic("crash", partitions=4), f"crash-{unique}"
    kill_twice_then_deliver_everything(kafka.bootstrap, topic, name, tmp_path)
