"""One run of a share-group task (``group.type=share``, KIP-932).

Each poll's records are acquired under a lock (``share.record.lock.duration.ms``) and
every one is acknowledged before the next poll (``AckLedger``):

- written (the sink's ``write`` returned), filtered by a transform, or dead-lettered
  with the dead letter acknowledged: ACCEPT;
- failing on its own (named by the sink, or alone after bisection): RELEASE, so it is
  delivered again, until its broker delivery count reaches ``share.record.attempts``;
  then it is dead-lettered and ACCEPTed, or REJECTed when there is no dead-letter
  topic (and, under ``errors.tolerance=none``, the task fails after the REJECT);
- a transient failure (``RetriableError``) is retried in place while the lock lasts;
  before it expires the records are RELEASEd and the consumer leaves the group, so no
  delivery is spent while the destination is down. The task retries the released
  records' copy until the destination answers, then joins again; those records are
  delivered once more and written again (at-least-once).

A share consumer has no pause: a paused task leaves the group and joins it on resume.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import Message

from offramp.converters import JsonConverter
from offramp.deadletter import DeadLetterWriter, topic_creator
from offramp.errors import FatalError, RetriableError
from offramp.kafka_logs import client_logger
from offramp.kafka_refusals import RefusalWatch
from offramp.kafka_security import is_security_key
from offramp.plugin import BatchWriter, TaskContext
from offramp.records import SinkRecord, TopicPartition
from offramp.task.acks import AckLedger, record_key
from offramp.task.delivery import Delivery
from offramp.task.failures import FailureReporter
from offramp.task.ingest import Batch, Ingest
from offramp.task.ledger import OffsetLedger
from offramp.task.settings import FETCH_BATCHING
from offramp.task.status import TaskState
from offramp.task.waits import StopRequested

if TYPE_CHECKING:
    from offramp.consumer import ShareConsumerLike
    from offramp.task.contracts import TaskControl

__all__ = ["LOCK_SHARE", "ShareRun", "share_consumer_config"]

log = logging.getLogger("offramp.task")

LOCK_SHARE = 0.7  # of the lock: retries in place end here, leaving time to release
POLL_WAIT = 0.5  # seconds a poll waits for records (a stop is seen this often)


def share_consumer_config(task: TaskControl) -> dict[str, Any]:
    """The share consumer's settings: ours, the worker's connection settings and the
    security keys of its ``consumer.*``, then the connector's ``consumer.override.*``.
    Other ``consumer.*`` keys of the worker are a consumer group's and mean nothing to
    a share consumer."""
    cfg, worker = task.config, task.worker
    conf: dict[str, Any] = {
        **worker.connection_config(),
        "group.id": f"connect-{cfg.name}",
        "client.id": f"connector-share-consumer-{cfg.name}-{task.task_id}",
        "share.acknowledgement.mode": "explicit",
        **FETCH_BATCHING,
    }
    conf.update((k, v) for k, v in worker.family("consumer.").items() if is_security_key(k))
    conf.update(cfg.consumer_overrides)
    conf["share.acknowledgement.mode"] = "explicit"  # the ledger depends on it
    return conf


class _HeldFailures(FailureReporter):
    """Keeps the sink's per-record failures for the ledger to judge (release, or
    dead-letter at the attempt limit) instead of reporting them at once."""

    def __init__(self, real: FailureReporter) -> None:
        self.breaker = None
        self.dead_letters = real.dead_letters
        self.held: list[tuple[Message, str, BaseException, str, Mapping[str, str] | None]] = []

    def failed(
        self,
        message: Any,
        stage: str,
        error: BaseException,
        class_name: str,
        context: Mapping[str, str] | None = None,
    ) -> None:
        self.held.append((message, stage, error, class_name, context))


class _SleepWaits:
    """Backoffs of a share task: it only sleeps (a share consumer must not poll with
    records unacknowledged) and ends early on a stop."""

    def __init__(self, task: TaskControl) -> None:
        self._task = task

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._task.exit_requested():
                raise StopRequested()
            time.sleep(min(0.05, left))

    def retrying(self, message: str) -> None:
        self._task.show_waiting(message)

    def recovered(self) -> None:
        self._task.show_waiting(None)


class ShareRun:
    """Everything one run of a share-group task holds; built and dropped by ``TaskRunner``."""

    def __init__(self, task: TaskControl) -> None:
        self.task = task
        cfg, self.settings = task.config, task.config.settings
        self.name: str = task.name
        self.metrics = task.metrics
        self.progressed = False  # something was written: the restart count starts over
        self.consumer: ShareConsumerLike | None = None
        self.acks: AckLedger | None = None
        self.dlq: DeadLetterWriter | None = None
        self.lock_seconds = 30.0
        self.refusals = RefusalWatch(f"task {self.name}'s share consumer", log)
        context = TaskContext(
            cfg.name,
            task.task_id,
            cfg.raw,
            logging.getLogger(f"offramp.connector.{cfg.name}"),
            on_write_refused=self.metrics.count_write_refused,
        )
        connector = cfg.plugin.connector()
        if connector.check_at_start:
            log.info("task %s: %s", self.name, connector.check(cfg.plugin_config))
        self.writer: BatchWriter = connector.create_writer(cfg.plugin_config, context)

    def execute(self) -> None:
        """Run until asked to stop or restart; raise what fails the task."""
        cfg, s, task = self.task.config, self.settings, self.task
        try:
            admin_conf = {
                "logger": client_logger(),
                **task.worker.client_config("admin"),
                **cfg.admin_overrides,
            }
            self.lock_seconds = task.prepare_share_group(admin_conf, f"connect-{cfg.name}") / 1000
            if s.errors_deadletterqueue_topic_name:
                producer_conf = {
                    "logger": client_logger(),
                    **task.worker.client_config("producer"),
                    **cfg.producer_overrides,
                }
                self.dlq = DeadLetterWriter(
                    producer_conf,
                    s.errors_deadletterqueue_topic_name,
                    cfg.name,
                    task.task_id,
                    s.errors_deadletterqueue_context_headers_enable,
                    task.producer_factory,
                    topic_creator(task.worker, cfg),
                )
            self.reporter = FailureReporter(cfg.name, task.task_id, s, self.dlq, self.metrics)
            self.held = _HeldFailures(self.reporter)
            self.delivery = Delivery(
                self.writer, task.retry, self.held, self.metrics, cfg.plugin.class_name, self.name
            )
            valuec = cfg.value_converter
            json_text = (
                self.writer.stores_json_text
                and type(valuec) is JsonConverter
                and not valuec.schemas_enable
            )
            # An empty offset ledger: a share task owns no partitions, so ingest tracks
            # no positions; the acknowledgement ledger does the bookkeeping instead.
            self.ingest = Ingest(
                cfg, json_text, self.reporter, self.metrics, OffsetLedger(), None, self.name
            )
            self.waits = _SleepWaits(task)
            with contextlib.suppress(StopRequested):  # stopped mid-retry: released at close
                self._loop()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._leave()
        finally:
            try:
                self.writer.close([])
                self.writer.stop()
            except Exception as exc:
                log.warning("task %s: closing the writer failed: %s", self.name, exc)
            if self.dlq is not None:
                self.dlq.close()

    # ----- the group ------------------------------------------------------------------

    def _join(self) -> tuple[ShareConsumerLike, AckLedger]:
        if self.consumer is None or self.acks is None:
            conf = share_consumer_config(self.task)
            conf.setdefault("logger", client_logger())
            conf["error_cb"] = self.refusals
            self.consumer = self.task.share_consumer_factory(conf)
            self.consumer.subscribe(list(self.settings.topics))
            self.acks = AckLedger(self.consumer, self.metrics, self.name)
        return self.consumer, self.acks

    def _leave(self) -> None:
        """Release what is unacknowledged, commit, and leave the group."""
        consumer, acks, self.consumer, self.acks = self.consumer, self.acks, None, None
        if consumer is None or acks is None:
            return
        try:
            if acks.release_rest():
                acks.commit()
        except Exception as exc:  # their locks expire instead
            log.warning("task %s: releasing records failed: %s", self.name, exc)
        finally:
            try:
                consumer.close()
            except Exception as exc:
                log.warning("task %s: closing the share consumer failed: %s", self.name, exc)

    # ----- the loop -------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.task.exit_requested():
            if self.task.pause_requested():
                self._paused()
                continue
            consumer, acks = self._join()
            messages = list(consumer.poll(POLL_WAIT))
            # A refused password fails the task with the client's reason (as a consumer
            # group task's does); librdkafka would retry it forever, reading nothing.
            self.refusals.check()
            if not messages:
                continue
            release_by = time.monotonic() + self.lock_seconds * LOCK_SHARE
            acks.acquired(messages)
            batch = Batch(0)
            self.ingest.add(messages, batch)
            self._handle(batch, acks, release_by)

    def _paused(self) -> None:
        self._leave()  # no pause on a share consumer: not acquiring is leaving the group
        self.task.set_status(TaskState.PAUSED)
        while self.task.pause_requested() and not self.task.exit_requested():
            time.sleep(0.1)
        if not self.task.exit_requested():
            self.task.set_status(TaskState.RUNNING)

    def _handle(self, batch: Batch, acks: AckLedger, release_by: float) -> None:
        """Write one poll's records and acknowledge every one of them."""
        records, written = batch.records, 0
        unwritten: list[SinkRecord] = []
        outage: RetriableError | None = None
        self.held.held.clear()
        try:
            step = self.settings.batch_max_records
            for start in range(0, len(records), step):
                chunk = records[start : start + step]
                self.delivery.deliver(chunk, self.waits, None, release_by)
                written = start + len(chunk)
        except RetriableError as exc:  # still down as the lock runs out
            unwritten, records, outage = records[written:], records[:written], exc
        self._check_durable(records)
        if records:
            self.progressed = True
        fatal = self._judge_failures(acks)  # released or rejected; dead letters stay
        kept = {record_key(r.message) for r in unwritten}  # type: ignore[arg-type]
        if self.dlq is not None and self.dlq.sent:
            self.dlq.flush()  # dead letters acknowledged before their records are
        # The rest of the poll: written, filtered, or dead-lettered on the way in.
        acks.accept([m for m in acks.pending() if record_key(m) not in kept])
        acks.release_rest()  # the unwritten ones: back to the group, lock and all
        acks.commit()
        if outage is not None:
            self._ride_out(unwritten, outage)
        if fatal is not None:
            raise fatal

    def _judge_failures(self, acks: AckLedger) -> FatalError | None:
        """Release a record failing on its own, or at its last attempt dead-letter it
        (ACCEPTed with the rest) or REJECT it."""
        limit = self.settings.share_record_attempts
        fatal: FatalError | None = None
        for message, stage, error, class_name, context in self.held.held:
            if (message.delivery_count() or 1) < limit:
                acks.release([message])
                continue
            try:
                self.reporter.failed(message, stage, error, class_name, context)
            except FatalError as exc:  # errors.tolerance=none: never delivered again
                acks.reject([message])
                fatal = fatal or exc
                continue
            if self.dlq is None:
                acks.reject([message])
        self.held.held.clear()
        return fatal

    def _check_durable(self, records: list[SinkRecord]) -> None:
        if not records:
            return
        offered: dict[TopicPartition, int] = {}
        for r in records:
            tp = r.topic_partition
            offered[tp] = max(offered.get(tp, 0), r.offset + 1)
        safe = self.writer.pre_commit(offered)
        short = sorted(
            f"{tp.topic}-{tp.partition}" for tp, o in offered.items() if safe.get(tp, 0) < o
        )
        if short:
            raise FatalError(
                f"group.type=share needs a sink whose write is durable when it returns; "
                f"{type(self.writer).__name__} keeps records of {', '.join(short)} buffered"
            )

    def _ride_out(self, records: list[SinkRecord], exc: RetriableError) -> None:
        """The destination was still down as the lock ran out and the records are
        released: leave the group and retry a copy of them until it answers, so no
        delivery is spent meanwhile; then the loop joins again."""
        log.warning(
            "task %s: destination down as the records' lock ran out (%s); released %d "
            "records and left the share group until it answers",
            self.name,
            exc,
            len(records),
        )
        self._leave()
        self.task.show_waiting(f"destination down, not acquiring records: {exc}")
        while True:
            try:
                self.delivery.deliver(records, self.waits)  # a copy: delivered again later
                break
            except RetriableError:
                continue  # errors.retry.timeout passed: keep waiting, nothing is held
        self.held.held.clear()  # the copy's own failures are judged on redelivery
        self.task.show_waiting(None)
