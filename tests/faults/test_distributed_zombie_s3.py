"""Distributed mode with a zombie: a worker frozen (SIGSTOP) past the session timeout,
then resumed, while an s3 connector archives records into moto's S3 server."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
import pytest
from confluent_kafka import Producer

from devstack.kafka import KafkaBroker, produce_waiting
from devstack.s3 import S3Server
from tests.conftest import produce, wait_for
from tests.faults.support import end_offsets, metric_total, parse_metrics
from tests.integration.distributed.cluster import cluster, until
from tests.integration.rest.standalone_process import StandaloneWorker
from tests.integration.runtime_support import committed
from tests.integration.s3.support import archive, s3_sink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]

PARTITIONS = 6
FLUSH = 100  # records per object
BURST = 600  # records per burst of the steady flow
BACKLOG = 30_000  # records produced just before a freeze: the workers' uploads queue up
FREEZES = 6  # at most: stop as soon as the zombie has been refused once
REFUSED = "offramp_sink_write_refused_total"
# The uploader's INFO line for a 412 whose object has our end offset (kept, not written).
KEPT = "was stored already with offsets"
PAD = "x" * 100


class Stream:
    """Records ``{"n": n}`` keyed ``str(n)``, ``n`` counting up: each ``n`` once in the
    topic, so a record stored twice or never shows in the archive's counts."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.next = 0

    def burst(self, count: int = BURST) -> None:
        # A producer per burst: none is left polling a broker the session stops.
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True})
        for n in range(self.next, self.next + count):
            value = orjson.dumps({"n": n, "pad": PAD})
            produce_waiting(producer, self.topic, value, key=str(n).encode())
        assert producer.flush(60) == 0
        self.next += count

    def flow(self, seconds: float, done: Callable[[], bool] = lambda: False) -> float | None:
        """Bursts for ``seconds``, each taken in by the workers while the next is built;
        the seconds until ``done()`` first held between bursts, if it did."""
        began = time.monotonic()
        held: float | None = None
        while time.monotonic() - began < seconds:
            self.burst()
            if held is None and done():
                held = time.monotonic() - began
            time.sleep(0.2)
        return held


def _refused(worker: StandaloneWorker, connector: str) -> int:
    """The worker's refused writes, summed over its tasks of ``connector``."""
    text = httpx.get(f"{worker.url}/metrics", timeout=30.0).text
    return metric_total(parse_metrics(text), REFUSED, connector)


def _committed_past(bootstrap: str, connector: str, topic: str, ends: list[int]) -> bool:
    """The connector's group has committed every partition up to ``ends`` (all before
    them is stored: a commit never passes a file not yet uploaded)."""
    done = committed(bootstrap, f"connect-{connector}", topic, PARTITIONS)
    return all(c >= e for c, e in zip(done, ends, strict=True))


def _versions(client: S3Client, bucket: str) -> tuple[Counter[str], int]:
    """Versions written per key, and the delete markers (the bucket is versioned)."""
    versions: Counter[str] = Counter()
    markers = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions.update(version["Key"] for version in page.get("Versions", []))
        markers += len(page.get("DeleteMarkers", []))
    return versions, markers


def test_a_frozen_worker_resumed_past_the_session_timeout_replaces_no_object(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    report: Callable[[str], None],
    unique: str,
    tmp_path: Path,
) -> None:
    """SIGSTOP one of three workers (session timeout 6 s) right after a backlog of 30,000
    records, keep records flowing for 10 s and until the others have stored past where
    it stopped, then SIGCONT it: the zombie tries to upload what it held and is refused
    (412, counted by its
    ``offramp_sink_write_refused_total`` and logged), every key of the versioned bucket
    has exactly one version, and every record is in exactly one object, none lost (up
    to 6 freezes until the zombie is caught holding an upload)."""
    topic = make_topic("zombie-s3", partitions=PARTITIONS)
    bucket = f"zombie-{unique}"
    s3_server.create_bucket(bucket, versioned=True)
    stream = Stream(kafka.bootstrap, topic)
    name = "archive"
    config = s3_sink(
        s3_server,
        bucket,
        topic,
        **{"flush.size": str(FLUSH), "s3.compression.type": "gzip", "batch.max.records": "1000"},
    )

    with (
        cluster(tmp_path, kafka.bootstrap, unique, 3) as workers,
        httpx.Client(base_url=workers[0].url, timeout=30.0) as a,
    ):
        assert a.post("/connectors", json={"name": name, "config": config}).status_code == 201

        def running_on() -> set[str]:
            tasks = a.get(f"/connectors/{name}/status").json()["tasks"]
            return {t["worker_id"] for t in tasks if t["state"] == "RUNNING"}

        wait_for(lambda: len(running_on()) == 3, timeout=60)
        zombie, others = workers[2], workers[:2]
        assert zombie.proc is not None
        stream.flow(3.0)
        freezes, refusals, kept_logged, after_resume, owner_refusals = 0, 0, 0, 0, 0
        taken_over: list[float] = []
        while freezes < FREEZES and not after_resume:
            freezes += 1
            before_others = sum(_refused(w, name) for w in others)
            # A backlog: the zombie freezes with segments sealed and uploads waiting
            # their turn, at a different point of its work each time.
            stream.burst(BACKLOG)
            time.sleep(0.1 * (freezes - 1))
            frozen_at = end_offsets(kafka.bootstrap, topic, PARTITIONS)
            before, log_before = _refused(zombie, name), len(zombie.log())
            zombie.proc.send_signal(signal.SIGSTOP)
            try:
                log_frozen = len(zombie.log())  # a stopped process logs nothing more
                stored_past_the_freeze = partial(
                    _committed_past, kafka.bootstrap, name, topic, frozen_at
                )
                # Past the 6 s session timeout: the others take over, and store what the
                # zombie held.
                held = stream.flow(10.0, stored_past_the_freeze)
                if held is None:
                    held = 10.0 + until(stored_past_the_freeze, timeout=120, interval=0.5)
                taken_over.append(held)
            finally:
                zombie.proc.send_signal(signal.SIGCONT)
            stream.flow(3.0)
            wait_for(lambda: len(running_on()) == 3, timeout=60)
            refusals = _refused(zombie, name) - before
            kept_logged = zombie.log()[log_before:].count(KEPT)
            after_resume = zombie.log()[log_frozen:].count(KEPT)
            owned = sum(_refused(w, name) for w in others) - before_others
            for line in zombie.log()[log_frozen:].splitlines()[:12]:
                print("  zombie:", line[:160])
            owner_refusals += owned
            print(
                f"freeze {freezes}: zombie refused {refusals}x ({after_resume} after it "
                f"was resumed), new owners {owned}x"
            )

        # A full object's worth more per partition closes every file holding earlier
        # records; the commits reaching them mean everything before is stored.
        total = stream.next
        produced = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        for p in range(PARTITIONS):
            tail = [orjson.dumps({"n": total + p * FLUSH + i}) for i in range(FLUSH)]
            produce(kafka.bootstrap, topic, list(tail), partition=p)
        caught_up = until(
            partial(_committed_past, kafka.bootstrap, name, topic, produced),
            timeout=120,
            interval=0.5,
        )

    versions, markers = _versions(s3_client, bucket)
    stored = archive(s3_client, bucket)
    counts = Counter(value["n"] for values in stored.values() for value in values)
    lost = total - len(set(range(total)) & set(counts))
    twice = sum(1 for seen in counts.values() if seen > 1)
    report(
        f"freezes {freezes}, zombie refused {refusals}x ({after_resume} after it was "
        f"resumed, {kept_logged} logged as kept), "
        f"new owners refused {owner_refusals}x; taken over in "
        f"{[round(s, 2) for s in taken_over]} s; {total} records in {len(stored)} objects, "
        f"{lost} lost, {twice} stored twice, {max(versions.values())} version(s) per key at "
        f"most; caught up in {caught_up:.2f} s after the tail"
    )
    assert markers == 0 and max(versions.values()) == 1, "an object was written over"
    assert lost == 0, "records are missing from the archive"
    assert twice == 0, "a record is in two objects"
    assert after_resume, f"the zombie never tried to write after a resume in {freezes} freezes"
    assert refusals == kept_logged, "every refusal counted is one the zombie's log shows"
