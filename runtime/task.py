"""One task: a thread running a consume loop that feeds one ``BatchWriter``.

The loop, per turn: take up to a batch's worth of messages from ``consume()``, convert
and transform them as a batch, and hand the batch to the writer when it is full by
count or bytes or old enough. Around the write sit the pieces that make it safe:

- offsets: a batch's next offsets per partition come from ``consumer.position()`` when
  its messages were taken, so records dropped by transforms or dead-lettered count as
  handled; they are committed, on a cadence of their own, only after the batch is
  written and its dead letters acknowledged (and only up to what ``pre_commit`` says
  is durable). Batches are written in order, so commits are contiguous.
- retries: a transient failure pauses every assigned partition and the wait keeps
  polling, so the task stays in its group however long the outage lasts.
- bad records: conversion, transform and per-record write failures go to the dead
  letter topic (``errors.tolerance=all``) or fail the task (``none``); a batch refused
  without naming a record is bisected to find the bad ones.
- restarts: a failed task restarts itself with exponential backoff, up to a cap.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from typing import Any, cast

import orjson
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition
from tenacity import RetryCallState

from runtime.config import ConnectorConfig, WorkerConfig
from runtime.consumer import ConsumerFactory, ConsumerLike, ProducerFactory
from runtime.converters import KEPT_AS_TEXT, ByteArrayConverter, JsonConverter
from runtime.deadletter import DeadLetterWriter
from runtime.errors import FatalError, RetriableError, ThrottledError
from runtime.gc_tuning import freeze_long_lived, release_long_lived
from runtime.gil_handoff import shorten_switch_interval
from runtime.metrics import TaskMetrics
from runtime.plugin import BatchWriter, RecordFailure, TaskContext
from runtime.records import JsonTextRecord, PassthroughRecord, SinkRecord, TopicPartition
from runtime.retry import RetryPolicy

__all__ = ["TaskRunner", "TaskState", "TaskStatus", "consumer_config"]

log = logging.getLogger("offramp.task")

CHUNK = 500  # messages per consume() call; a batch is one or more chunks

# Unbound C methods: map() over them is the cheapest per-message call there is.
_message_error = Message.error
_message_key = Message.key
_message_value = Message.value
_message_headers = Message.headers


class TaskState(enum.StrEnum):
    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FAILED = "FAILED"
    RESTARTING = "RESTARTING"


@dataclass(frozen=True)
class TaskStatus:
    state: TaskState
    worker_id: str
    trace: str | None = None
    message: str | None = None  # why a running task is waiting (throttled, retrying)


class _Stop(Exception):
    """Unwinds the loop when the task is asked to stop or restart mid-wait."""


def consumer_config(config: ConnectorConfig, worker: WorkerConfig, task_id: int) -> dict[str, Any]:
    """The consumer's settings: ours, then the worker's ``consumer.*``, then the
    connector's ``consumer.override.*``."""
    conf: dict[str, Any] = {
        "bootstrap.servers": worker.bootstrap_servers,
        "group.id": f"connect-{config.name}",
        "client.id": f"connector-consumer-{config.name}-{task_id}",
        "group.protocol": worker.group_protocol,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "statistics.interval.ms": min(worker.offset_flush_interval_ms, 30000),
        # A task holds a batch of messages while it writes them; with librdkafka's 1 s
        # default, refilling the fetch queue afterwards stalled the consumer for a whole
        # second (measured: 0.2 of a raw loop's throughput instead of 0.7+).
        "fetch.queue.backoff.ms": 50,
    }
    if worker.group_protocol == "classic":
        conf["partition.assignment.strategy"] = "cooperative-sticky"
    conf.update(worker.family("consumer."))
    conf.update(config.consumer_overrides)
    return conf


def _record(
    message: Message, key: Any, value: Any, key_schema: Any = None, value_schema: Any = None
) -> SinkRecord:
    """A converted message's record; a value ``JsonConverter.check_batch`` kept as text
    is decoded only when read."""
    if value is KEPT_AS_TEXT:
        return JsonTextRecord(message, key)
    return SinkRecord(message, key, value, key_schema, value_schema)


def _is_incremental(conf: dict[str, Any]) -> bool:
    if conf.get("group.protocol") == "consumer":
        return True
    return "cooperative" in str(conf.get("partition.assignment.strategy", ""))


class TaskRunner:
    """Runs task ``task_id`` of a connector in its own thread."""

    def __init__(
        self,
        config: ConnectorConfig,
        task_id: int,
        worker: WorkerConfig,
        on_state: Callable[[TaskRunner], None] | None = None,
        consumer_factory: ConsumerFactory | None = None,
        producer_factory: ProducerFactory | None = None,
    ) -> None:
        self.config = config
        self._consumer_factory = consumer_factory or cast(ConsumerFactory, Consumer)
        self._producer_factory = producer_factory
        self.settings = config.settings
        self.task_id = task_id
        self.worker = worker
        self.metrics = TaskMetrics()
        self._on_state = on_state
        self._status = TaskStatus(TaskState.UNASSIGNED, worker.worker_id)
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry = RetryPolicy(
            self.settings.errors_retry_timeout, self.settings.errors_retry_delay_max_ms
        )
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._consumer: ConsumerLike | None = None
        self._writer: BatchWriter | None = None
        self._dlq: DeadLetterWriter | None = None
        self._assigned: set[TopicPartition] = set()
        self._batch: list[SinkRecord] = []
        self._batch_positions: dict[TopicPartition, int] = {}
        self._batch_bytes = 0
        self._batch_started = 0.0
        self._inflight: list[SinkRecord] | None = None
        self._inflight_positions: dict[TopicPartition, int] = {}
        self._carry: list[Message] = []
        self._done: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._consumer_paused = False
        self._retrying = False
        self._in_callback = False
        self._abandoning = False
        self._deadline: float | None = None
        self._progressed = False
        self._pipeline: ThreadPoolExecutor | None = None
        self._json_text = False  # values checked, kept as text (see _ingest)
        self._pending_write: Future[dict[TopicPartition, int]] | None = None
        self._abort_write = threading.Event()

    # ----- control, from any thread -------------------------------------------------

    @property
    def status(self) -> TaskStatus:
        return self._status

    @property
    def name(self) -> str:
        return f"{self.config.name}-{self.task_id}"

    def start(self, paused: bool = False) -> None:
        if paused:
            self._paused.set()
        self._thread = threading.Thread(target=self._main, name=f"task-{self.name}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def restart(self) -> None:
        """Stop the current run (if any) and start again at once, with a fresh count."""
        self._restart.set()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _set_status(
        self, state: TaskState, trace: str | None = None, message: str | None = None
    ) -> None:
        self._status = TaskStatus(state, self.worker.worker_id, trace, message)
        if self._on_state is not None:
            self._on_state(self)

    def _running_state(self) -> TaskState:
        return TaskState.PAUSED if self._paused.is_set() else TaskState.RUNNING

    # ----- supervision: run, fail, back off, restart --------------------------------

    def _main(self) -> None:
        attempts = 0
        s = self.settings
        while not self._stop.is_set():
            self._restart.clear()
            self._set_status(self._running_state())
            try:
                self._run()
                if self._restart.is_set() and not self._stop.is_set():
                    attempts = 0
                    self._set_status(TaskState.RESTARTING)
                    continue
                return
            except Exception as exc:
                trace = "".join(traceback.format_exception(exc))
                log.error("task %s failed: %s", self.name, exc)
                self._set_status(TaskState.FAILED, trace)
                if self._progressed:
                    attempts = 0  # it wrote something since the last failure
                can_retry = s.task_restart_enable and (
                    s.task_restart_max_attempts < 0 or attempts < s.task_restart_max_attempts
                )
                if not can_retry:
                    # FAILED for good, until an operator restarts it or stops it.
                    while not (self._stop.is_set() or self._restart.is_set()):
                        self._stop.wait(0.2)
                    attempts = 0
                else:
                    delay = (
                        min(
                            s.task_restart_backoff_initial_ms * 2**attempts,
                            s.task_restart_backoff_max_ms,
                        )
                        / 1000.0
                    )
                    attempts += 1
                    deadline = time.monotonic() + delay
                    while time.monotonic() < deadline and not (
                        self._stop.is_set() or self._restart.is_set()
                    ):
                        self._stop.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                if self._stop.is_set():
                    return
                self.metrics.restarts += 1
                self._set_status(TaskState.RESTARTING, trace)

    def _run(self) -> None:
        self._reset_run_state()
        cfg, s = self.config, self.settings
        context = TaskContext(
            cfg.name, self.task_id, cfg.raw, logging.getLogger(f"offramp.connector.{cfg.name}")
        )
        connector = cfg.plugin.connector()
        self._writer = connector.create_writer(cfg.plugin_config, context)
        if self._writer.pipelined:
            self._pipeline = ThreadPoolExecutor(1, thread_name_prefix=f"write-{self.name}")
            shorten_switch_interval()  # the write thread gets the GIL back sooner
        valuec = cfg.value_converter
        self._json_text = (
            self._writer.stores_json_text
            and type(valuec) is JsonConverter
            and not valuec.schemas_enable
        )
        clean = False
        try:  # from here on, whatever was built is released by _shutdown
            conf = consumer_config(cfg, self.worker, self.task_id)
            self._incremental = _is_incremental(conf)
            conf["stats_cb"] = self._on_stats
            if s.errors_deadletterqueue_topic_name:
                producer_conf = {
                    "bootstrap.servers": self.worker.bootstrap_servers,
                    **self.worker.family("producer."),
                }
                self._dlq = DeadLetterWriter(
                    producer_conf,
                    s.errors_deadletterqueue_topic_name,
                    cfg.name,
                    self.task_id,
                    s.errors_deadletterqueue_context_headers_enable,
                    self._producer_factory,
                )
            self._consumer = self._consumer_factory(conf)
            freeze_long_lived()  # the writer and clients just built live as long as the task
            self._consumer.subscribe(
                s.subscription,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._loop()
            clean = True
        finally:
            self._shutdown(clean)

    def _shutdown(self, clean: bool) -> None:
        consumer, writer = self._consumer, self._writer
        try:
            if clean and consumer is not None:
                self._deadline = time.monotonic() + (
                    self.worker.task_shutdown_graceful_timeout_ms / 1000.0
                )
                try:
                    self._flush_batch()
                    self._commit()
                except Exception as exc:  # stopping anyway: what isn't committed is redelivered
                    log.warning("task %s: final flush failed: %s", self.name, exc)
                self._deadline = None
        finally:
            self._abandoning = True  # close() may call on_revoke: nothing left to flush
            if self._pipeline is not None:
                self._abort_write.set()  # a write still retrying gives up; redelivered later
                self._pipeline.shutdown(wait=True)
            if writer is not None:
                try:
                    writer.close(sorted(self._assigned))
                    writer.stop()
                except Exception as exc:
                    log.warning("task %s: closing the writer failed: %s", self.name, exc)
            if consumer is not None:
                try:
                    consumer.close()
                except Exception as exc:
                    log.warning("task %s: closing the consumer failed: %s", self.name, exc)
            if self._dlq is not None:
                self._dlq.close()
            release_long_lived()  # the next task start collects what this one froze

    # ----- the loop -----------------------------------------------------------------

    def _should_exit(self) -> bool:
        return self._stop.is_set() or self._restart.is_set()

    def _loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        s = self.settings
        max_age = s.batch_max_age_ms / 1000.0
        commit_every = self.worker.offset_flush_interval_ms / 1000.0
        next_commit = time.monotonic() + commit_every
        while not self._should_exit():
            self._apply_pause(consumer)
            if self._carry:
                messages, self._carry = self._carry, []
            else:
                if self._batch:
                    timeout = max(0.0, self._batch_started + max_age - time.monotonic())
                else:
                    timeout = 0.5
                want = min(CHUNK, s.batch_max_records - len(self._batch))
                messages = consumer.consume(max(1, want), timeout)
            if messages:
                self._ingest(messages)
            now = time.monotonic()
            if self._batch_positions and (
                not self._batch
                or len(self._batch) >= s.batch_max_records
                or self._batch_bytes >= s.batch_max_bytes
                or now - self._batch_started >= max_age
            ):
                self._flush_batch()
            if now >= next_commit:
                self._commit()
                next_commit = now + commit_every

    def _apply_pause(self, consumer: ConsumerLike) -> None:
        want_paused = self._paused.is_set()
        if want_paused and not self._consumer_paused:
            self._flush_batch()  # what was read before the pause is still written
            self._commit()
            self._pause_all(consumer)
            self._set_status(TaskState.PAUSED)
        elif not want_paused and self._consumer_paused and not self._retrying:
            self._resume_all(consumer)
            self._set_status(TaskState.RUNNING)

    def _pause_all(self, consumer: ConsumerLike) -> None:
        if self._assigned:
            consumer.pause([KafkaTopicPartition(t, p) for t, p in self._assigned])
        self._consumer_paused = True

    def _resume_all(self, consumer: ConsumerLike) -> None:
        if self._assigned:
            consumer.resume([KafkaTopicPartition(t, p) for t, p in self._assigned])
        self._consumer_paused = False

    # ----- converting and transforming a chunk ---------------------------------------

    def _ingest(self, messages: list[Message]) -> None:
        if any(map(_message_error, messages)):
            messages = self._drop_errors(messages)
            if not messages:
                return
        cfg = self.config
        keyc, valuec = cfg.key_converter, cfg.value_converter
        assert keyc is not None and valuec is not None
        self.metrics.records_read += len(messages)
        raw_values = list(map(_message_value, messages))
        records: list[SinkRecord]
        if type(keyc) is ByteArrayConverter and type(valuec) is ByteArrayConverter:
            records = list(map(PassthroughRecord, messages))
        else:
            needs_headers = keyc.needs_headers or valuec.needs_headers
            headers = list(map(_message_headers, messages)) if needs_headers else None
            keys = keyc.convert_batch(list(map(_message_key, messages)), headers)
            if self._json_text:
                assert isinstance(valuec, JsonConverter)
                values = valuec.check_batch(raw_values)
            else:
                values = valuec.convert_batch(raw_values, headers)
            if keys.errors or values.errors or keys.schemas or values.schemas:
                records = self._records_with_errors(messages, keys, values)
            elif not self._json_text:
                records = list(map(SinkRecord, messages, keys.values, values.values))
            elif values.values.count(KEPT_AS_TEXT) == len(messages):
                records = list(map(JsonTextRecord, messages, keys.values))
            else:
                records = list(map(_record, messages, keys.values, values.values))
        chain = cfg.transforms
        if chain:
            before = len(records)
            records, failures = chain.apply_batch(records)
            for record, exc in failures:
                self._record_failed(record.message, "TRANSFORMATION", exc, self._class_name(exc))
            self.metrics.records_filtered += before - len(records) - len(failures)
        if records:
            if not self._batch:
                self._batch_started = time.monotonic()
            self._batch.extend(records)
            self._batch_bytes += sum(map(len, filter(None, raw_values)))
        self._snapshot_positions()

    def _drop_errors(self, messages: list[Message]) -> list[Message]:
        good = []
        for m in messages:
            err = m.error()
            if err is None:
                good.append(m)
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal():
                raise KafkaException(err)
            else:
                log.warning("task %s: consumer error: %s", self.name, err)
        return good

    def _records_with_errors(
        self, messages: list[Message], keys: Any, values: Any
    ) -> list[SinkRecord]:
        records = []
        cfg = self.config
        for i, message in enumerate(messages):
            if i in keys.errors:
                self._record_failed(
                    message, "KEY_CONVERTER", keys.errors[i], type(cfg.key_converter).__name__
                )
            elif i in values.errors:
                self._record_failed(
                    message, "VALUE_CONVERTER", values.errors[i], type(cfg.value_converter).__name__
                )
            else:
                records.append(
                    _record(
                        message,
                        keys.values[i],
                        values.values[i],
                        keys.schemas[i] if keys.schemas is not None else None,
                        values.schemas[i] if values.schemas is not None else None,
                    )
                )
        return records

    def _snapshot_positions(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        if not self._assigned:
            return
        for tp in consumer.position([KafkaTopicPartition(t, p) for t, p in self._assigned]):
            if tp.offset != OFFSET_INVALID and tp.offset >= 0:
                self._batch_positions[TopicPartition(tp.topic, tp.partition)] = tp.offset

    def _class_name(self, exc: BaseException) -> str:
        return type(exc).__module__ + "." + type(exc).__qualname__

    # ----- writing a batch ----------------------------------------------------------

    def _flush_batch(self) -> None:
        """Write the pending batch; its positions count as done once it is handled."""
        if not self._batch_positions and not self._batch:
            return
        if self._batch and self._pipeline is not None and not self._in_callback:
            self._prepare_ahead(self._batch)  # while the batch in flight is still written
        self._finish_pending_write()  # at most one batch in flight, and batches in order
        if self._pipeline is not None and not self._in_callback and not self._stop.is_set():
            batch, positions = self._batch, self._batch_positions
            self._batch, self._batch_positions, self._batch_bytes = [], {}, 0
            self._pending_write = self._pipeline.submit(self._write_stage, batch, positions)
            return
        batch, positions = self._batch, self._batch_positions
        self._batch, self._batch_positions, self._batch_bytes = [], {}, 0
        self._inflight, self._inflight_positions = batch, positions
        try:
            if batch:
                self._deliver(batch)
        except BaseException:
            if self._in_callback and self._inflight is not None:
                # Revocation gave up on the write: keep the rest for the partitions we keep.
                self._batch = self._inflight + self._batch
                self._batch_positions = {**self._inflight_positions, **self._batch_positions}
            raise
        finally:
            self._inflight = None
        self._done.update(self._inflight_positions)

    def _prepare_ahead(self, batch: list[SinkRecord]) -> None:
        writer = self._writer
        assert writer is not None
        try:
            writer.prepare(batch)
        except Exception as exc:  # only a head start lost: the write redoes it and reports
            log.debug("task %s: preparing a batch failed, the write does it: %s", self.name, exc)

    def _write_stage(
        self, batch: list[SinkRecord], positions: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """A pipelined writer's batch, on the write thread; its positions are done after."""
        if batch:
            self._deliver(batch)
        return positions

    def _finish_pending_write(self) -> None:
        """Wait for the batch on the write thread (if any): its positions become done, its
        errors are raised here. The consumer keeps polling meanwhile, and pauses if the
        wait gets long (a retrying sink), so the group keeps this task."""
        pending = self._pending_write
        if pending is None:
            return
        consumer = self._consumer
        if self._in_callback or consumer is None:
            # No polling inside a rebalance callback: wait a bounded time, then make the
            # write give up (the task then restarts from its committed offsets).
            deadline = self._deadline or (
                time.monotonic() + self.settings.task_revocation_flush_timeout_ms / 1000.0
            )
            while not pending.done():
                if time.monotonic() >= deadline:
                    self._abort_write.set()
                time.sleep(0.01)
        else:
            # A write normally ends within a second: just wait, so the consumer neither
            # competes with it for the GIL nor reads ahead. Longer (a sink retrying): pause
            # every partition and keep polling, so the group keeps this task.
            began, paused_here = time.monotonic(), False
            while not pending.done():
                if self._should_exit():
                    self._abort_write.set()
                if time.monotonic() - began < 1.0:
                    futures_wait([pending], timeout=0.05)
                    continue
                if not paused_here and not self._consumer_paused:
                    self._pause_all(consumer)
                    paused_here = True
                self._carry.extend(consumer.consume(100, 0.05))
            if paused_here and not self._paused.is_set():
                self._resume_all(consumer)
        self._pending_write = None
        self._done.update(pending.result())

    def _deliver(self, records: list[SinkRecord]) -> None:
        try:
            failures = self._write_with_retries(records)
        except (FatalError, RetriableError, _Stop):
            raise
        except Exception as exc:  # BatchError, or anything unforeseen: find the bad records
            self._bisect(records, exc)
            return
        for failure in failures:
            self._record_failed(
                failure.record.message,
                "TASK_PUT",
                failure.error,
                self.config.plugin.class_name,
                failure.context,
            )
        self.metrics.records_written += len(records) - len(failures)
        self._progressed = True

    def _bisect(self, records: list[SinkRecord], exc: BaseException) -> None:
        if len(records) == 1:
            self._record_failed(records[0].message, "TASK_PUT", exc, self.config.plugin.class_name)
            return
        mid = len(records) // 2
        log.info("task %s: batch of %d refused (%s); bisecting", self.name, len(records), exc)
        self._deliver(records[:mid])
        self._deliver(records[mid:])

    def _write_with_retries(self, records: list[SinkRecord]) -> Sequence[RecordFailure]:
        writer = self._writer
        assert writer is not None
        result: Sequence[RecordFailure] | None = None
        try:
            for attempt in self._retry.retrying(
                self._wait_while_paused, self._before_retry, self._deadline
            ):
                with attempt:
                    began = time.perf_counter()
                    result = writer.write(records)
                    self.metrics.observe_write(len(records), time.perf_counter() - began)
        finally:
            if self._retrying:
                self._retrying = False
                if self._consumer is not None and not self._paused.is_set():
                    self._resume_all(self._consumer)
                self._set_status(self._running_state())
        return result or ()

    def _before_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.metrics.retries += 1
        if isinstance(exc, ThrottledError):
            resume_at = time.strftime(
                "%H:%M:%S", time.localtime(time.time() + (exc.retry_after or 0.0))
            )
            message = f"throttled until {resume_at}: {exc.reason}"
        else:
            message = f"retrying after attempt {state.attempt_number} failed: {exc}"
        log.warning("task %s: %s", self.name, message)
        on_write_thread = threading.current_thread() is not self._thread
        if (
            not self._retrying
            and self._consumer is not None
            and not self._in_callback
            and not on_write_thread  # the consumer thread pauses when the wait grows long
        ):
            self._retrying = True
            self._pause_all(self._consumer)
        self._set_status(self._running_state(), message=message)

    def _wait_while_paused(self, seconds: float) -> None:
        """Wait out a backoff while polling, so the group keeps us; partitions are paused,
        and anything still delivered is kept for after the retry."""
        deadline = time.monotonic() + seconds
        consumer = self._consumer
        on_write_thread = threading.current_thread() is not self._thread
        while (left := deadline - time.monotonic()) > 0:
            if self._should_exit() or self._abort_write.is_set():
                raise _Stop()
            if self._in_callback or consumer is None or on_write_thread:
                time.sleep(min(0.1, left))
            else:
                self._carry.extend(consumer.consume(100, min(0.2, left)))

    def _record_failed(
        self, message: Any, stage: str, error: BaseException, class_name: str, context: Any = None
    ) -> None:
        s = self.settings
        self.metrics.records_failed += 1
        if s.errors_log_enable:
            where = (
                f" (topic {message.topic()}, partition {message.partition()}, offset "
                f"{message.offset()})"
                if s.errors_log_include_messages
                else ""
            )
            log.error(
                "connector %s task %d: %s failed%s: %s",
                self.config.name,
                self.task_id,
                stage,
                where,
                error,
            )
        if s.errors_tolerance == "none":
            raise FatalError(
                f"{stage} failed for {message.topic()}-{message.partition()}@{message.offset()} "
                f"and errors.tolerance=none: {error}"
            ) from error
        if self._dlq is not None:
            self._dlq.send(message, stage, error, class_name, context)
            self.metrics.records_dead_lettered += 1
        else:
            self.metrics.records_skipped += 1

    # ----- offsets --------------------------------------------------------------------

    def _commit(self, only: set[TopicPartition] | None = None) -> None:
        consumer, writer = self._consumer, self._writer
        if consumer is None or writer is None:
            return
        self._finish_pending_write()  # pre_commit never runs beside a write
        done = {
            tp: off
            for tp, off in self._done.items()
            if (only is None or tp in only) and tp in self._assigned
        }
        if not done:
            return
        if self._dlq is not None:
            self._dlq.flush()  # dead letters first: their offsets are about to be committed
        safe = writer.pre_commit(done)
        changed = [
            KafkaTopicPartition(tp.topic, tp.partition, off)
            for tp, off in safe.items()
            if off >= 0 and self._committed.get(tp) != off
        ]
        if not changed:
            return
        began = time.perf_counter()
        try:
            consumer.commit(offsets=changed, asynchronous=False)
        except KafkaException as exc:
            self.metrics.observe_commit(time.perf_counter() - began, ok=False)
            log.warning("task %s: offset commit failed (will retry): %s", self.name, exc)
            return
        self.metrics.observe_commit(time.perf_counter() - began, ok=True)
        for tp in changed:
            key = TopicPartition(tp.topic, tp.partition)
            self._committed[key] = tp.offset
            self.metrics.committed_offsets[key] = tp.offset

    # ----- rebalance callbacks (run inside consume()) -----------------------------------

    def _on_assign(self, consumer: ConsumerLike, partitions: list[KafkaTopicPartition]) -> None:
        assert self._writer is not None
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        self._in_callback = True
        try:
            self._finish_pending_write()  # open() never runs beside a write
        finally:
            self._in_callback = False
        starts = self._writer.open(tps) or {}
        for p in partitions:
            start = starts.get(TopicPartition(p.topic, p.partition))
            if start is not None:
                p.offset = start
                # The sink holds everything before it: commit that even if no new
                # record arrives, so the group's offsets catch up with the sink's.
                self._done[TopicPartition(p.topic, p.partition)] = start
        if self._incremental:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        self._assigned.update(tps)
        self.metrics.partitions_assigned += len(tps)
        if self._consumer_paused and partitions:
            consumer.pause(partitions)
        log.info("task %s: assigned %s", self.name, ", ".join(f"{t}-{p}" for t, p in tps))

    def _on_revoke(self, consumer: ConsumerLike, partitions: list[KafkaTopicPartition]) -> None:
        revoked = {TopicPartition(p.topic, p.partition) for p in partitions}
        self.metrics.partitions_revoked += len(revoked)
        if self._abandoning or not revoked:
            self._forget(revoked)
            return
        self._in_callback = True
        try:
            if self._inflight is not None:
                # Revoked in the middle of a retry: the new owner re-reads those records.
                self._drop_partitions(revoked)
            else:
                self._deadline = time.monotonic() + (
                    self.settings.task_revocation_flush_timeout_ms / 1000.0
                )
                try:
                    self._flush_batch()
                except _Stop:
                    raise
                except Exception as exc:
                    log.warning(
                        "task %s: flush on revocation failed, records will be redelivered: %s",
                        self.name,
                        exc,
                    )
                    self._drop_partitions(revoked)
                finally:
                    self._deadline = None
            self._commit(only=revoked)
        finally:
            self._in_callback = False
            self._forget(revoked)
        if not self._incremental:
            consumer.unassign()
        else:
            consumer.incremental_unassign(partitions)

    def _on_lost(self, consumer: ConsumerLike, partitions: list[KafkaTopicPartition]) -> None:
        lost = {TopicPartition(p.topic, p.partition) for p in partitions}
        log.warning("task %s: partitions lost: %s", self.name, sorted(lost))
        self._in_callback = True
        try:
            self._finish_pending_write()  # close() never runs beside a write
        finally:
            self._in_callback = False
        self._drop_partitions(lost)
        self._forget(lost)
        if self._incremental:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()

    def _drop_partitions(self, tps: set[TopicPartition]) -> None:
        def keep(records: list[SinkRecord]) -> list[SinkRecord]:
            return [r for r in records if r.topic_partition not in tps]

        if self._inflight is not None:
            self._inflight[:] = keep(self._inflight)
            for tp in tps:
                self._inflight_positions.pop(tp, None)
        self._batch = keep(self._batch)
        for tp in tps:
            self._batch_positions.pop(tp, None)
        self._carry = [
            m for m in self._carry if TopicPartition(m.topic() or "", m.partition() or 0) not in tps
        ]

    def _forget(self, tps: set[TopicPartition]) -> None:
        if self._writer is not None and tps and not self._abandoning:
            self._writer.close(sorted(tps))
        for tp in tps:
            self._assigned.discard(tp)
            self._done.pop(tp, None)
            self._committed.pop(tp, None)
            self.metrics.consumer_lag.pop(tp, None)

    def _on_stats(self, stats_json: str) -> None:
        stats = orjson.loads(stats_json)
        lag = self.metrics.consumer_lag
        for topic, tstats in stats.get("topics", {}).items():
            for pid, pstats in tstats.get("partitions", {}).items():
                tp = TopicPartition(topic, int(pid))
                if tp in self._assigned and pstats.get("consumer_lag", -1) >= 0:
                    lag[tp] = int(pstats["consumer_lag"])
