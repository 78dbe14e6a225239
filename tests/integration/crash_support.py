"""The kill -9 delivery check, shared by the plaintext test and the SASL_SSL one."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, start_standalone_worker

TOTAL = 20_000


def _start_worker(
    tmp: Path, bootstrap: str, topic: str, name: str, worker_extra: dict[str, Any]
) -> subprocess.Popen[bytes]:
    return start_standalone_worker(
        tmp,
        bootstrap,
        name,
        {
            "connector.class": "file",
            "file": str(tmp / "out.jsonl"),
            "topics": topic,
            "tasks.max": "2",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "200",
            "batch.max.age.ms": "50",
        },
        env={"OFFRAMP_LOG_LEVEL": "INFO"},  # for its "ready" line
        worker_extra=worker_extra,
    )


def _starts_finished(tmp: Path) -> int:
    """How many times the worker (restarted into one log) said it was ready."""
    log = tmp / "worker.log"
    return log.read_text(errors="replace").count(" ready with ") if log.exists() else 0


def _lines(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["n"] for line in path.read_text().splitlines() if line]


def kill_twice_then_deliver_everything(
    plain_bootstrap: str,
    topic: str,
    name: str,
    tmp_path: Path,
    worker_bootstrap: str | None = None,
    worker_extra: dict[str, Any] | None = None,
) -> None:
    """Stream ``TOTAL`` records into ``topic`` (4 partitions) over ``plain_bootstrap``
    while a standalone worker (on ``worker_bootstrap`` with ``worker_extra``) writes them
    to a file and is SIGKILLed twice: after a restart every record is in the file, and
    duplicates stay within what was uncommitted at each kill."""
    out = tmp_path / "out.jsonl"
    extra = worker_extra or {}
    bootstrap = worker_bootstrap or plain_bootstrap

    def producer() -> None:
        for start in range(0, TOTAL, 1000):
            produce(
                plain_bootstrap,
                topic,
                [json.dumps({"n": n}).encode() for n in range(start, start + 1000)],
                keys=[str(n).encode() for n in range(start, start + 1000)],
            )
            time.sleep(0.15)

    feeder = threading.Thread(target=producer)
    feeder.start()
    rng = random.Random(7)
    allowance = 0
    proc = _start_worker(tmp_path, bootstrap, topic, name, extra)
    try:
        for _ in range(2):
            written_before = len(_lines(out))
            wait_for(lambda w=written_before: len(_lines(out)) > w + 500, timeout=60)
            time.sleep(rng.uniform(0.0, 1.0))
            done = sum(max(0, o) for o in committed(plain_bootstrap, f"connect-{name}", topic, 4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            allowance += len(_lines(out)) - done
            proc = _start_worker(tmp_path, bootstrap, topic, name, extra)
        feeder.join()
        wait_for(lambda: len(set(_lines(out))) == TOTAL, timeout=120)
        # Started thrice: a SIGTERM before the last start has set up its handlers would
        # end it with -15 (a fast stream can be all written before it is up).
        wait_for(lambda: _starts_finished(tmp_path) == 3, timeout=60)
    finally:
        feeder.join()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "SIGTERM ends the worker cleanly with status 0"
    seen = Counter(_lines(out))
    assert set(seen) == set(range(TOTAL))
    duplicates = sum(c - 1 for c in seen.values())
    assert duplicates <= allowance
    print(f"duplicates after 2 kills: {duplicates} (uncommitted at the kills: {allowance})")
