"""The commit: what the ledger allows, made durable at Kafka, and the answer read back.

In this order, so a committed offset never covers a record that is not somewhere:
dead letters produced so far are acknowledged first (a refusal raises, and nothing past
those records is committed); the ledger offers each partition's handled prefix; the
sink's ``pre_commit`` may lower it (S3 keeps open files); the consumer commits
synchronously; and only the partitions Kafka accepted are recorded as committed —
librdkafka raises only when every partition failed, the others report errors on the
returned list, and those are offered again at the next commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from offramp.errors import RetriableError
from offramp.records import TopicPartition
from offramp.task.fencing import fenced_error

if TYPE_CHECKING:
    from offramp.task.contracts import RunView

__all__ = ["commit_durable"]

log = logging.getLogger("offramp.task")


def commit_durable(run: RunView, only: set[TopicPartition] | None = None) -> None:
    """Commit what is durable, for every partition or ``only`` these. Call it with no
    write in flight (``pre_commit`` never runs beside a write)."""
    if run.consumer is None:
        return
    ledger = run.ledger
    if ledger.awaiting_dead_letters:
        assert run.dlq is not None
        run.dlq.flush()  # raises if any was refused: then nothing past it commits
        ledger.dead_letters_acknowledged()
    offered = ledger.committable(only)
    if not offered:
        return
    try:
        safe = run.writer.pre_commit(offered)
    except RetriableError as exc:
        # The sink can't confirm anything durable yet (an archive's upload is failing):
        # nothing commits this time, the reason shows in the status, the next commit
        # asks again.
        run.task.show_waiting(f"waiting for the sink to make records durable: {exc}")
        run.durability_waiting = True
        return
    if run.durability_waiting:
        run.durability_waiting = False
        run.task.show_waiting(None)
    changed: dict[TopicPartition, int] = {}
    for tp, offset in safe.items():
        last = ledger.last_committed(tp)
        offset = min(offset, offered.get(tp, -1))  # a sink may lower an offset, not raise it
        if offset >= 0 and (last is None or offset > last):
            changed[tp] = offset
    if changed:
        _commit(run, changed)


def _commit(run: RunView, offsets: Mapping[TopicPartition, int]) -> None:
    assert run.consumer is not None
    began = time.perf_counter()
    asked = [KafkaTopicPartition(t, p, o) for (t, p), o in offsets.items()]
    try:
        results = run.consumer.commit(offsets=asked, asynchronous=False) or asked
    except KafkaException as exc:
        run.metrics.observe_commit(time.perf_counter() - began, ok=False)
        if fenced_error(exc) is not None:
            raise  # the consumer is dead: retrying later would fail the same way
        log.warning("task %s: offset commit failed (retried later): %s", run.name, exc)
        return
    done: dict[TopicPartition, int] = {}
    refused = []
    for r in results:
        tp = TopicPartition(r.topic, r.partition)
        if getattr(r, "error", None) is not None:
            refused.append(f"{r.topic}-{r.partition}: {r.error}")
        elif tp in offsets:
            done[tp] = offsets[tp]
    run.metrics.observe_commit(time.perf_counter() - began, ok=not refused)
    if refused:
        log.warning("task %s: offset commit refused (retried later): %s", run.name, refused)
    run.ledger.committed(done)
    run.metrics.committed_offsets.update(done)
