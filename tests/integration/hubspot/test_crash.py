"""A worker writing to HubSpot, killed with SIGKILL mid-stream, loses nothing once
restarted: upserts by email make redelivered records harmless."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from devstack.hubspot import HubSpotStub
from devstack.kafka import KafkaBroker
from tests.conftest import produce, wait_for
from tests.integration.hubspot.conftest import committed_offsets
from tests.integration.runtime_support import start_standalone_worker

TOTAL, EMAILS, PARTITIONS = 10_000, 2_000, 4


def _start_worker(
    tmp: Path, bootstrap: str, topic: str, name: str, stub: HubSpotStub
) -> subprocess.Popen[bytes]:
    return start_standalone_worker(
        tmp,
        bootstrap,
        name,
        {
            "connector.class": "hubspot",
            "topics": topic,
            "tasks.max": "2",
            "key.converter": "string",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "500",
            "batch.max.age.ms": "50",
            "hubspot.base.url": stub.url,
            "hubspot.access.token": "${env:CRASH_HUBSPOT_TOKEN}",
            "hubspot.property.email": "email | lower",
            "hubspot.property.last_seq": "seq",
            "hubspot.rate.limit.per.10s": "1000",
            "errors.retry.timeout": "-1",
        },
        env={"CRASH_HUBSPOT_TOKEN": "test-token"},
    )


def test_kill_9_mid_stream_then_restart_loses_nothing(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    stubs: Callable[..., HubSpotStub],
) -> None:
    """Two SIGKILLs while 10,000 records for 2,000 emails stream in: after a restart every
    email is one contact holding its last record's values, and every offset is committed."""
    stub = stubs()
    topic, name = make_topic("crm-crash", partitions=PARTITIONS), f"crm-crash-{unique}"
    last: dict[str, int] = {}
    batches = []
    for start in range(0, TOTAL, 1000):
        values, keys = [], []
        for seq in range(start, start + 1000):
            email = f"caller{(seq * 7919) % EMAILS}@example.com"
            values.append(orjson.dumps({"email": email, "seq": seq}))
            keys.append(email.encode())
            last[email] = seq
        batches.append((values, keys))

    def producer() -> None:
        for values, keys in batches:
            produce(kafka.bootstrap, topic, values, keys=keys)
            time.sleep(0.3)

    feeder = threading.Thread(target=producer)
    feeder.start()
    proc = _start_worker(tmp_path, kafka.bootstrap, topic, name, stub)
    try:
        for _ in range(2):
            calls_before = len(stub.calls)
            wait_for(lambda c=calls_before: len(stub.calls) > c + 5, timeout=60)  # type: ignore[misc]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start_worker(tmp_path, kafka.bootstrap, topic, name, stub)
        feeder.join()
        wait_for(
            lambda: (
                sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, PARTITIONS))
                == TOTAL
            ),
            timeout=90,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "SIGTERM ends the worker cleanly with status 0"
        feeder.join()
    contacts = {c["properties"]["email"]: int(c["properties"]["last_seq"]) for c in stub.objects()}
    assert contacts == last
