"""One run of a task: build the writer and clients, loop, and shut down.

Per turn the loop reads a chunk (``consume``), hands it to ingest (into the open batch),
writes the batch when it is due (delivery, or the write thread of a pipelined writer)
and commits on its cadence. Every offset goes through the ``OffsetLedger``; the commit
itself is ``offramp.task.commits``, the only one. Rebalances are in ``offramp.task.rebalance``.

Every ``consume()`` goes through ``poll``: a rebalance callback never lets an
exception out into whatever was polling (a retry backoff, a wait for the write thread);
it keeps the first error, and ``poll`` raises it afterwards, failing the task.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import orjson
from confluent_kafka import KafkaError, KafkaException, Message
from tenacity import RetryCallState

from offramp.converters import JsonConverter
from offramp.deadletter import DeadLetterWriter, topic_creator
from offramp.gc_tuning import freeze_long_lived, release_long_lived
from offramp.gil_handoff import shorten_switch_interval
from offramp.kafka_logs import client_logger
from offramp.kafka_security import refuses_credentials
from offramp.plugin import BatchWriter, TaskContext
from offramp.records import SinkRecord, TopicPartition
from offramp.task.batching import BatchPolicy
from offramp.task.breaker import BreakerTripped
from offramp.task.commits import commit_durable
from offramp.task.delivery import Delivery, retry_message
from offramp.task.failures import FailureReporter
from offramp.task.ingest import Batch, Ingest, OwnedBy
from offramp.task.ledger import OffsetLedger
from offramp.task.pausing import PauseControl
from offramp.task.pipeline import Outcome, WriteCancelled, WritePipeline
from offramp.task.rebalance import Rebalancer
from offramp.task.settings import consumer_config, is_incremental
from offramp.task.status import TaskState
from offramp.task.waits import StopRequested, TaskThreadWaits, WriteThreadWaits

if TYPE_CHECKING:
    from offramp.consumer import ConsumerLike
    from offramp.task.contracts import TaskControl

__all__ = ["TaskRun"]

log = logging.getLogger("offramp.task")

CHUNK = 500  # messages per consume() call; a batch is one or more chunks


class TaskRun:
    """Everything one run of a task holds; built and dropped by ``TaskRunner``."""

    def __init__(self, task: TaskControl) -> None:
        self.task = task
        cfg, self.settings = task.config, task.config.settings
        self.name: str = task.name
        self.metrics = task.metrics
        self.ledger = OffsetLedger()
        self.progressed = False  # something was written: the restart count starts over
        self.open = Batch(1)
        self.redo: Batch | None = None  # a cancelled pipelined batch, written again first
        self.carry: list[Message] = []  # read while waiting; ingested next turn
        self.callback_error: BaseException | None = None
        self.closing = False
        self.durability_waiting = False  # pre_commit said "not yet" (see commits)
        self.pausing = PauseControl(lambda: self.ledger.assigned)
        self.dlq: DeadLetterWriter | None = None
        self.pipeline: WritePipeline | None = None
        self.consumer: ConsumerLike | None = None
        context = TaskContext(
            cfg.name,
            task.task_id,
            cfg.raw,
            logging.getLogger(f"offramp.connector.{cfg.name}"),
            on_write_refused=self.metrics.count_write_refused,
        )
        connector = cfg.plugin.connector()
        if connector.check_at_start:  # a cheap check: its FatalError fails the task here
            log.info("task %s: %s", self.name, connector.check(cfg.plugin_config))
        self.writer: BatchWriter = connector.create_writer(cfg.plugin_config, context)

    # ----- build, run, shut down ----------------------------------------------------

    def execute(self) -> None:
        """Run until asked to stop or restart; raise what fails the task."""
        cfg, s, task = self.task.config, self.settings, self.task
        mode = "abandon"
        try:  # from here on, whatever was built is released by _shutdown
            if self.writer.pipelined:
                self.pipeline = WritePipeline(self.name)
                shorten_switch_interval()  # the write thread gets the GIL back sooner
            conf = consumer_config(cfg, task.worker, task.task_id)
            conf["stats_cb"] = self._on_stats
            conf.setdefault("logger", client_logger())
            conf["error_cb"] = self._on_client_error
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
            self.delivery = Delivery(
                self.writer,
                task.retry,
                self.reporter,
                self.metrics,
                cfg.plugin.class_name,
                self.name,
            )
            self.consumer = self.pausing.consumer = consumer = task.consumer_factory(conf)
            valuec = cfg.value_converter
            json_text = (
                self.writer.stores_json_text
                and type(valuec) is JsonConverter
                and not valuec.schemas_enable
            )
            self.ingest = Ingest(
                cfg, json_text, self.reporter, self.metrics, self.ledger, consumer, self.name
            )
            self.waits = TaskThreadWaits(self)
            freeze_long_lived()  # the writer and clients just built live as long as the task
            rebalancer = Rebalancer(self, is_incremental(conf))
            consumer.subscribe(
                s.subscription,
                on_assign=rebalancer.on_assign,
                on_revoke=rebalancer.on_revoke,
                on_lost=rebalancer.on_lost,
            )
            try:
                self._loop()
                mode = "clean"
            except StopRequested:
                mode = "commit"  # stopped mid-retry: commit what is durable, write no more
            except BreakerTripped:
                mode = "commit"  # what was handled is kept; the rest is read again on resume
                self.metrics.breaker_trips += 1
                raise
        finally:
            self._shutdown(mode)

    def _shutdown(self, mode: str) -> None:
        try:
            if mode != "abandon" and self.consumer is not None:
                graceful = self.task.worker.task_shutdown_graceful_timeout_ms / 1000.0
                if mode == "clean":
                    try:
                        self.flush(deadline=time.monotonic() + graceful, on_task_thread=True)
                    except Exception as exc:  # stopping anyway: it is redelivered
                        log.warning("task %s: final flush failed: %s", self.name, exc)
                try:  # what is already durable is committed, whatever the flush did
                    self.commit()
                except Exception as exc:
                    log.warning("task %s: final commit failed: %s", self.name, exc)
        finally:
            self.closing = True  # close() revokes through the callback: nothing left to do
            if self.pipeline is not None:
                self.pipeline.shutdown()  # a write still retrying gives up; redelivered later
            try:
                self.writer.close(sorted(self.ledger.assigned))
                self.writer.stop()
            except Exception as exc:
                log.warning("task %s: closing the writer failed: %s", self.name, exc)
            if self.consumer is not None:
                try:
                    if self.task.stop_requested():
                        # A static member's close() doesn't leave the group: its
                        # partitions would wait out its session for it to come back.
                        # Stopping for good, it leaves (classic: at once; the consumer
                        # protocol keeps a static member's assignment for the broker's
                        # session timeout whatever the client does). A restart within
                        # the process keeps the membership and takes them back at once.
                        self.consumer.unsubscribe()
                    self.consumer.close()
                except Exception as exc:
                    log.warning("task %s: closing the consumer failed: %s", self.name, exc)
            if self.dlq is not None:
                self.dlq.close()
            release_long_lived()  # the next task start collects what this one froze

    # ----- the loop -----------------------------------------------------------------

    def exit_requested(self) -> bool:
        return self.task.exit_requested()

    def poll(self, count: int, timeout: float) -> list[Message]:
        assert self.consumer is not None
        messages = self.consumer.consume(count, timeout)
        if self.callback_error is not None:
            error, self.callback_error = self.callback_error, None
            raise error
        return messages

    def _loop(self) -> None:
        s = self.settings
        policy = BatchPolicy(s, self.writer.fills_batches, self.metrics)
        pipeline = self.pipeline
        commit_every = self.task.worker.offset_flush_interval_ms / 1000.0
        next_commit = time.monotonic() + commit_every
        while not self.exit_requested():
            self._apply_user_pause()
            batch = self.open
            caught_up = False
            if self.carry:
                messages, self.carry = self.carry, []
            else:
                want = max(1, min(CHUNK, s.batch_max_records - len(batch.records)))
                messages = self.poll(want, 0.0)  # what is fetched already, without waiting
                caught_up = len(messages) < want
                if not messages:
                    wait = policy.wait(batch, caught_up, time.monotonic())
                    if pipeline is not None and batch.records and not pipeline.wait(0):
                        pipeline.wait(wait)  # the batch goes when the write in flight ends
                    elif wait > 0:
                        # One message is enough to wake up: asking for a whole chunk
                        # would wait for the chunk to fill (the latency of the seed).
                        messages = self.poll(1, wait)
            if messages:
                self._ingest(messages)
            now = time.monotonic()
            writing = pipeline is not None and not pipeline.wait(0)
            if self.redo is not None or policy.write_now(self.open, caught_up, writing, now):
                self.flush()
            if now >= next_commit:
                self.commit()
                next_commit = now + commit_every

    def _ingest(self, messages: list[Message]) -> None:
        """Convert ``messages`` into the open batch. A converter that can't reach what it
        needs right now (a schema registry that is down) raises ``RetriableError``: the
        chunk is converted again with the connector's backoff (``errors.retry.*``), the
        partitions paused and the consumer polled meanwhile, as for a failing write, and
        the status says why. Nothing of the chunk is dead-lettered for it."""
        retried = False

        def before_sleep(state: RetryCallState) -> None:
            nonlocal retried
            retried = True
            self.metrics.retries += 1
            self.waits.retrying(f"converting: {retry_message(state)}")

        try:
            for attempt in self.task.retry.retrying(self.waits.sleep, before_sleep):
                with attempt:
                    todo = messages
                    if retried:  # a rebalance meanwhile: revoked partitions' are not ours
                        assigned = self.ledger.assigned
                        todo = [
                            m
                            for m in messages
                            if TopicPartition(m.topic() or "", m.partition() or 0) in assigned
                        ]
                    if todo:
                        self.ingest.add(todo, self.open)
        finally:
            if retried:
                self.waits.recovered()

    # ----- pausing --------------------------------------------------------------------

    def _apply_user_pause(self) -> None:
        wanted = self.task.pause_requested()
        if wanted and not self.pausing.has("user"):
            self.flush()  # what was read before the pause is still written
            self.commit()
            self.pausing.add("user")
            self.task.set_status(TaskState.PAUSED)
        elif not wanted and self.pausing.has("user"):
            self.pausing.discard("user")
            self.task.set_status(TaskState.RUNNING)

    # ----- writing --------------------------------------------------------------------

    def _seal(self) -> Batch:
        batch, self.open = self.open, Batch(self.open.id + 1)
        return batch

    def owned_by(self, batch: Batch) -> OwnedBy:
        return OwnedBy(self.ledger, batch)

    def flush(self, deadline: float | None = None, on_task_thread: bool = False) -> None:
        """Write what is due: a batch to redo first, then the open batch."""
        pipeline = self.pipeline
        if pipeline is not None and self.open.records and self.redo is None:
            self._prepare_ahead(self.open.records)  # while the write in flight goes on
        self.settle_in_flight()  # one batch in flight at most, and batches in order
        for batch in (self.redo, None):
            if batch is None:
                if not (self.open.positions or self.open.records):
                    return
                batch = self._seal()
            else:
                self.redo = None
            if not batch.records:
                self.ledger.written(batch.id, batch.dead_letters and self.dlq is not None)
                continue
            if pipeline is not None and not on_task_thread and not self.exit_requested():
                self.settle_in_flight()
                pipeline.submit(batch, self._deliver_on_write_thread)
                continue
            dead_letters = self.delivery.deliver(
                batch.records, self.waits, self.owned_by(batch), deadline
            )
            self._written(batch, dead_letters)

    def _prepare_ahead(self, records: list[SinkRecord]) -> None:
        try:
            self.writer.prepare(records)
        except Exception as exc:  # only a head start lost: the write redoes it and reports
            log.debug("task %s: preparing a batch failed, the write does it: %s", self.name, exc)

    def _deliver_on_write_thread(self, batch: Batch, cancel: threading.Event) -> bool:
        waits = WriteThreadWaits(self, cancel)
        return self.delivery.deliver(batch.records, waits, self.owned_by(batch))

    def _written(self, batch: Batch, dead_letters: bool) -> None:
        produced = (dead_letters or batch.dead_letters) and self.dlq is not None
        self.ledger.written(batch.id, produced)
        self.progressed = True

    def settle_in_flight(self, bounded: float | None = None) -> None:
        """Wait for the write in flight and apply its outcome. From the loop the
        consumer keeps polling, paused, once the wait passes a second (a retrying sink),
        so the group keeps this task; inside a rebalance callback (``bounded``) there is
        no polling: after ``bounded`` seconds the write is cancelled at its next backoff
        and its batch redone later."""
        pipeline = self.pipeline
        if pipeline is None or not pipeline.busy:
            return
        if bounded is not None:
            if not pipeline.wait(bounded):
                pipeline.cancel()
                pipeline.wait(None)
        elif not pipeline.wait(max(0.0, 1.0 - pipeline.in_flight_for)):
            self.pausing.add("retry")
            try:
                while pipeline.busy and not pipeline.wait(0):
                    if self.exit_requested():
                        pipeline.cancel()
                    self.carry.extend(self.poll(100, 0.05))  # a callback may take it
            finally:
                self.pausing.discard("retry")
        self.apply(pipeline.take())

    def apply(self, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        error = outcome.error
        if isinstance(error, WriteCancelled | StopRequested):
            if not self.exit_requested():
                self.redo = outcome.batch  # written again, for the partitions still ours
            return
        if error is not None:
            raise error  # never swallowed: the task fails, nothing past the batch commits
        self._written(outcome.batch, outcome.dead_letters)

    # ----- offsets ----------------------------------------------------------------------

    def commit(self, only: set[TopicPartition] | None = None, bounded: float | None = None) -> None:
        """The task's only commit (see ``offramp.task.commits``)."""
        self.settle_in_flight(bounded)  # pre_commit never runs beside a write
        commit_durable(self, only)

    def _on_client_error(self, error: KafkaError) -> None:
        """Runs inside ``consume()``. A refused password or certificate fails the task
        with the client's reason (Kafka Connect's consumer throws an
        AuthenticationException); librdkafka itself would retry it forever, the task
        RUNNING and reading nothing. Other client errors heal by reconnecting."""
        if error.fatal() or refuses_credentials(error):
            self.callback_error = KafkaException(error)
        else:
            log.warning("task %s: consumer error: %s", self.name, error)

    def _on_stats(self, stats_json: str) -> None:
        stats = orjson.loads(stats_json)
        lag = self.metrics.consumer_lag
        assigned = self.ledger.assigned
        for topic, tstats in stats.get("topics", {}).items():
            for pid, pstats in tstats.get("partitions", {}).items():
                tp = TopicPartition(topic, int(pid))
                if tp in assigned and pstats.get("consumer_lag", -1) >= 0:
                    lag[tp] = int(pstats["consumer_lag"])
