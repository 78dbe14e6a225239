"""The http sink through a worker process that is killed with kill -9 mid-stream, while
the receiver answers a 503 storm, 429s with ``Retry-After`` and a 400 for 1 % of the
records: every record it did not refuse arrives at least once and, after it drops
repeated ids, exactly once (in batches too, whose boundaries change on redelivery);
every refused one is in the dead-letter topic with the answer's status and body.

Two modes, each on both group protocols: one request per record (16 in flight, HTTP/1.1,
repeats dropped by ``Idempotency-Key``) and JSON batches (HTTP/2 by prior knowledge, an
id per item, refused items named in a 207).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from devstack.kafka import KafkaBroker
from devstack.webhooks import HttpReceiver
from offramp.testing import DeadLetter, read_dead_letters
from tests.faults.support import (
    Claims,
    KeyedFeeder,
    WorkerProcess,
    end_offsets,
    env_number,
    wait_until,
)
from tests.integration.http.support import http_config
from tests.integration.runtime_support import dead_letters_to
from tests.integration.sql.support import group_offsets

RECORDS = int(env_number("FAULT_HTTP_RECORDS", 20_000))
RATE = env_number("FAULT_HTTP_RATE", 500)
PARTITIONS = 4
DRAIN_TIMEOUT = 180.0

pytestmark = [
    pytest.mark.fault,
    pytest.mark.timeout(int(RECORDS / RATE + DRAIN_TIMEOUT + 240)),
]

MODES: dict[str, dict[str, str]] = {
    "per-record": {"http.max.in.flight": "16"},
    "batched-h2": {
        "http.http2": "true",
        "http.batch.format": "json",
        "http.batch.max.records": "200",
        "http.item.id.field": "event_id",
        "http.rejected.path": "rejected[*].index",
        "http.max.in.flight": "4",
    },
}
# The refusal each mode meets: a 400 per record; in a batch, a 207 naming the item.
REFUSAL = {"per-record": ("400", "is refused"), "batched-h2": ("207", '"rejected"')}


def value_of(n: int) -> dict[str, Any]:
    """Every 100th record (n % 100 == 7) is one the receiver refuses: 1 %."""
    return {"n": n, "kind": "bad" if n % 100 == 7 else "call"}


def regrouped(receiver: HttpReceiver) -> int:
    """Items that arrived again in a batch other than the one that first brought them
    (other first item, last item or size): redelivery after a kill regroups records."""
    with receiver.lock:
        bodies = [e.body for e in receiver.exchanges if 200 <= e.status < 300]
    first_batch: dict[str, tuple[str, str, int]] = {}
    moved: set[str] = set()
    for body in bodies:
        items = orjson.loads(body)
        if not isinstance(items, list) or not items:
            continue
        ids = [str(item.get("event_id")) for item in items]
        shape = (ids[0], ids[-1], len(ids))
        for ident in ids:
            seen = first_batch.setdefault(ident, shape)
            if seen != shape:
                moved.add(ident)
    return len(moved)


def answered(receiver: HttpReceiver) -> int:
    """Requests answered 2xx so far."""
    return sum(1 for status in receiver.statuses() if 200 <= status < 300)


def flowing(receiver: HttpReceiver, requests: int, timeout: float = 120.0) -> None:
    """Until ``requests`` more requests are answered 2xx: the worker is delivering, so
    a kill now leaves records sent but not yet committed (a kill just after a restart,
    before the group gave the new worker its partitions, would test nothing)."""
    start = answered(receiver)
    if wait_until(lambda: answered(receiver) >= start + requests, timeout, 0.05) is None:
        raise AssertionError(f"no {requests} requests answered 2xx within {timeout:.0f}s")


def drained(
    bootstrap: str, group: str, topic: str, ends: list[int], receiver: HttpReceiver, want: set[int]
) -> Callable[[], bool]:
    def check() -> bool:
        kept = {item["n"] for item in receiver.kept().values()}
        return want <= kept and group_offsets(bootstrap, group, topic, PARTITIONS) == ends

    return check


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_http_sink_loses_nothing_through_kill_9_storms_429s_and_refusals(
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    tmp_path: Path,
    protocol: str,
    mode: str,
    report: Callable[[str], None],
) -> None:
    """FAULT_HTTP_RECORDS (20 000) records produced at FAULT_HTTP_RATE, 1 % refused;
    a 503 storm, 429s with Retry-After 1 and three kill -9s (one inside a second 503
    storm), each followed by a restart: every accepted record kept once after repeats
    are dropped, none missing; every refused one dead-lettered with the status and the
    body excerpt, no accepted one; the group commits the end of every partition."""
    topic = make_topic("hcrash", partitions=PARTITIONS)
    name, dlq = f"hcrash-{unique}", f"hcrash-dlq-{unique}"
    id_field = "event_id" if mode == "batched-h2" else None
    receiver = HttpReceiver(refuse_when={"kind": "^bad$"}, id_field=id_field).start()
    try:
        _run(kafka, topic, name, dlq, tmp_path, protocol, mode, receiver, report)
    finally:
        receiver.stop()


def _run(
    kafka: KafkaBroker,
    topic: str,
    name: str,
    dlq: str,
    tmp_path: Path,
    protocol: str,
    mode: str,
    receiver: HttpReceiver,
    report: Callable[[str], None],
) -> None:
    config = {
        **http_config(topic, receiver.url, **MODES[mode], **dead_letters_to(dlq)),
        "tasks.max": "2",
        "errors.retry.delay.max.ms": "1000",
    }
    worker = WorkerProcess(
        tmp_path, "hcrash", kafka.bootstrap, protocol, {name: config}, log_level="WARNING"
    )
    feeder = KeyedFeeder(kafka.bootstrap, [topic], RATE, value_of)
    kills = 0
    began = time.monotonic()

    batch = 3 if mode == "batched-h2" else 40  # requests that make "delivering"

    def restart() -> None:
        nonlocal kills
        flowing(receiver, batch)
        time.sleep(0.25)  # somewhere inside a commit interval (0.5 s)
        worker.kill()
        kills += 1
        worker.start().wait_running([name])

    def at(fraction: float) -> None:
        """Wait until that share of the records is produced."""
        while feeder.produced < RECORDS * fraction:
            failure = feeder.failure()
            if failure is not None:
                raise failure
            time.sleep(0.05)

    try:
        worker.start().wait_running([name])
        feeder.start()
        at(0.15)
        receiver.fail_next(60, 503, b'{"error":"upstream unavailable"}')
        at(0.3)
        restart()  # mid-stream
        at(0.45)
        receiver.fail_next(20, 429, b'{"error":"slow down"}', retry_after=1)
        at(0.6)
        flowing(receiver, batch)
        receiver.fail_next(80, 503, b'{"error":"upstream unavailable"}')
        time.sleep(1.0)
        worker.kill()  # inside the storm: what the retry settled is not committed
        kills += 1
        worker.start().wait_running([name])
        at(0.8)
        restart()
        at(1.0)
        feeder.stop()
        ends = end_offsets(kafka.bootstrap, topic, PARTITIONS)
        acked = set(feeder.acked[topic])
        refused = {n for n in acked if value_of(n)["kind"] == "bad"}
        check = drained(kafka.bootstrap, f"connect-{name}", topic, ends, receiver, acked - refused)
        drain = wait_until(check, DRAIN_TIMEOUT)
        exit_status = worker.stop()
        dlq_end = end_offsets(kafka.bootstrap, dlq, 1)[0]
        letters = read_dead_letters(kafka.bootstrap, dlq, expected=dlq_end, timeout=30)
    finally:
        with contextlib.suppress(BaseException):
            feeder.stop()
        worker.stop()
    elapsed = time.monotonic() - began

    kept = Counter(item["n"] for item in receiver.kept().values())
    missing = len((acked - refused) - kept.keys())
    doubled = sum(1 for c in kept.values() if c > 1)
    lettered = Counter(orjson.loads(d.value or b"")["n"] for d in letters)
    status, body_has = REFUSAL[mode]
    statuses = Counter(receiver.statuses())
    moved = regrouped(receiver) if mode == "batched-h2" else 0

    def context_ok(letter: DeadLetter) -> bool:
        return letter.headers.get("__offramp.errors.http.status") == status and body_has in (
            letter.headers.get("__offramp.errors.http.body") or ""
        )

    claims = Claims()
    claims.check(f"at least {RECORDS} records", len(acked) >= RECORDS)
    claims.check("3 kills", kills == 3)
    claims.check("no accepted record missing", missing == 0)
    claims.check("each kept once after repeats dropped", doubled == 0)
    claims.check("no refused record kept", not (refused & kept.keys()))
    claims.check("every refused record dead-lettered", lettered.keys() == refused)
    claims.check("each dead letter has status and body", all(map(context_ok, letters)))
    claims.check(f"drained within {DRAIN_TIMEOUT:.0f}s", drain is not None)
    claims.check("the storms and 429s were met", statuses[503] == 140 and statuses[429] == 20)
    claims.check("SIGTERM stops the worker with 0", exit_status == 0)
    claims.check("the kills made the worker send records again", receiver.duplicates > 0)
    if mode == "batched-h2":
        claims.check("every request over HTTP/2", receiver.protocols() == {"HTTP/2"})
        claims.check("redelivered records came in other batches", moved > 0)
    report(
        f"protocol={protocol} mode={mode} records={len(acked)} refused={len(refused)} "
        f"kills={kills} requests={sum(statuses.values())} 503={statuses[503]} "
        f"429={statuses[429]} {status}={statuses[int(status)]} kept={len(kept)} "
        f"repeats_dropped={receiver.duplicates} regrouped={moved} missing={missing} "
        f"dead_letters={len(letters)} (distinct {len(lettered)}) "
        f"drain={f'{drain:.1f}s' if drain is not None else 'TIMEOUT'} elapsed={elapsed:.0f}s "
        f"{claims.verdict}"
    )
    claims.verify()
