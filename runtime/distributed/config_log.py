"""The config topic: every worker reads it; every change is appended to it.

A record is keyed by connector name; its value is ``{"config": {...}, "state": ...}``
and a tombstone deletes the connector. Every worker applies the records in log order,
so the log order is the cluster's order of changes.

Writes go through one transactional id shared by the whole cluster. A writer calls
``init_transactions`` (which fences every other writer and settles their open
transactions), reads the topic to its end, decides the new value from what it read
(a create of a name that exists is refused: 409) and commits. If another worker wrote
meanwhile, it has re-initialised the same transactional id, so this writer's commit
fails as fenced: it starts over from a fresh producer and decides again from the log
as it now is. Hence only decisions made on the whole log are ever committed, which is
also what keeps the topic safe to compact. After the commit the writer waits until its
own reader has applied the record, so the worker that took a change reads it back.

Requests that are events, not state — a restart — are records keyed
``restart:<connector>``. Every worker acts on one it reads after it started; one
already in the topic when a worker starts (compaction keeps the last per connector) is
history and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from offramp.config import WorkerConfig
from offramp.kafka_logs import client_logger, fencing_expected_logger
from offramp.kafka_refusals import RefusalWatch

__all__ = ["ConfigLog", "Entry", "is_request_key"]

log = logging.getLogger("offramp.distributed")

_ATTEMPTS = 8


@dataclass(frozen=True)
class Entry:
    """One connector as the config topic holds it."""

    config: dict[str, Any]
    state: str

    def encode(self) -> bytes:
        return orjson.dumps({"config": self.config, "state": self.state})

    @staticmethod
    def decode(value: bytes | None) -> Entry | None:
        if value is None:
            return None
        data = orjson.loads(value)
        return Entry(dict(data["config"]), str(data["state"]))


Decide = Callable[[Entry | None], Entry | None]
Apply = Callable[[str, Entry | None], None]
OnRequest = Callable[[str, str, dict[str, Any]], None]  # (kind, connector, request)

_REQUEST_KINDS = ("restart",)


def is_request_key(name: str) -> bool:
    """Whether ``name`` reads as a request's key (``restart:<connector>``), which no
    connector may be named."""
    kind, colon, rest = name.partition(":")
    return bool(colon and rest) and kind in _REQUEST_KINDS


class ConfigLog:
    """The reader thread (applying every record through ``apply``) and the writer."""

    def __init__(
        self,
        config: WorkerConfig,
        topic: str,
        apply: Apply,
        on_request: OnRequest | None = None,
    ) -> None:
        if not config.group_id:
            raise ValueError("distributed mode needs group.id")
        self.topic = topic
        self._apply = apply
        self._on_request = on_request
        self._live_from: int | None = None  # requests below this offset are history
        self._live_known = threading.Event()
        # One watch for the three clients: they share the worker's credentials.
        self._refusals = RefusalWatch(f"the clients of config topic {topic}", log)
        self._common: dict[str, Any] = {"logger": client_logger(), "error_cb": self._refusals}
        # Kafka Connect's config topic producer: the worker's connection settings only;
        # producer.* (acks, idempotence…) must not loosen what a transaction needs.
        self._producer_settings = {
            **config.connection_config(),
            **self._common,
            "logger": fencing_expected_logger(),  # every other worker's write fences it
            "transactional.id": f"offramp-{config.group_id}-configs",
        }
        settings = {
            **config.client_config("consumer"),
            **self._common,
            # Never joined: the reader assigns itself the partition and commits nothing.
            "group.id": f"offramp-{config.group_id}-config-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
        self._consumer = Consumer(settings)
        # The end offset is asked on a handle of its own: a call on the reader's handle
        # waits behind its poll().
        self._probe = Consumer(settings)
        self._probe_lock = threading.Lock()
        self._partition = TopicPartition(topic, 0)
        self._entries: dict[str, Entry] = {}
        self._applied = 0  # the next offset to apply
        self._progress = threading.Condition()
        self._write_lock = threading.Lock()
        self._producer: Producer | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-log", daemon=True)

    # ----- reading --------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Assign the partition from the beginning and apply it to its end.
        ``CredentialsRefused`` as soon as the brokers refuse the reader's credentials."""
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._thread.start()
        deadline = time.monotonic() + timeout
        try:
            end = self._end_offset()
        except KafkaException as exc:
            raise self._refusals.explain(exc) from exc
        # Requests already in the topic (a restart asked before this worker started) are
        # history; the reader waits for this before judging one.
        self._live_from = end
        self._live_known.set()
        # In short waits: the reader's client reports a refusal while this one waits.
        while not self._wait_applied(end, min(0.5, max(0.0, deadline - time.monotonic()))):
            self._refusals.check()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"could not read {self.topic} to its end in {timeout:.0f}s")

    def entries(self) -> dict[str, Entry]:
        with self._progress:
            return dict(self._entries)

    def catch_up(self, timeout: float = 30.0) -> bool:
        """Wait until everything committed to the topic so far is applied here."""
        return self._wait_applied(self._end_offset(), timeout)

    def _end_offset(self) -> int:
        with self._probe_lock:
            _, end = self._probe.get_watermark_offsets(self._partition, timeout=10, cached=False)
        return int(end)

    def _wait_applied(self, offset: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._applied < offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(left)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.1)
            if message is not None:
                self._handle(message)
            # The position passes the transaction markers, which are no messages.
            (position,) = self._consumer.position([self._partition])
            if position.offset >= 0:
                with self._progress:
                    if position.offset > self._applied:
                        self._applied = position.offset
                        self._progress.notify_all()
        self._consumer.close()

    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("config topic %s: %s", self.topic, error)
            return
        key = message.key()
        if key is None:
            return
        name = key.decode() if isinstance(key, bytes) else str(key)
        if is_request_key(name):
            kind, _, connector = name.partition(":")
            self._request(kind, connector, message)
            return
        try:
            entry = Entry.decode(message.value())
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.error(
                "config topic %s offset %s: unreadable (%s)", self.topic, message.offset(), exc
            )
            entry = None
        with self._progress:
            if entry is None:
                self._entries.pop(name, None)
            else:
                self._entries[name] = entry
        try:
            self._apply(name, entry)
        except Exception:
            log.exception("connector %s: applying the config topic's record failed", name)
        with self._progress:
            self._applied = max(self._applied, int(message.offset() or 0) + 1)
            self._progress.notify_all()

    def _request(self, kind: str, connector: str, message: Message) -> None:
        offset = int(message.offset() or 0)
        self._live_known.wait(30)
        live = self._live_from is not None and offset >= self._live_from
        value = message.value()
        if live and value is not None and self._on_request is not None:
            try:
                self._on_request(kind, connector, orjson.loads(value))
            except Exception:
                log.exception("connector %s: the %s request failed here", connector, kind)
        with self._progress:
            self._applied = max(self._applied, offset + 1)
            self._progress.notify_all()

    # ----- writing --------------------------------------------------------------------

    def request(
        self, kind: str, connector: str, body: dict[str, Any], timeout: float = 30.0
    ) -> None:
        """Append a request for every worker (``restart``) and wait until this worker's
        own reader has acted on it."""
        assert kind in _REQUEST_KINDS
        with self._write_lock:
            for _ in range(_ATTEMPTS):
                producer = self._ready_producer(timeout)
                offset = self._commit_raw(
                    producer, f"{kind}:{connector}", orjson.dumps(body), timeout
                )
                if offset is None:
                    continue
                if not self._wait_applied(offset + 1, timeout):
                    raise RuntimeError(f"the {kind} of {connector} was written but not read back")
                return
        raise RuntimeError(
            f"could not write the {kind} of {connector}: too many concurrent writers"
        )

    def write(self, name: str, decide: Decide, timeout: float = 30.0) -> Entry | None:
        """Append ``decide(current)`` for ``name`` unless it equals the current value;
        ``decide`` may raise (a conflict) and is asked again after losing a race."""
        with self._write_lock:
            for _ in range(_ATTEMPTS):
                producer = self._ready_producer(timeout)
                if not self.catch_up(timeout):
                    raise RuntimeError(f"could not read {self.topic} to its end")
                current = self.entries().get(name)
                wanted = decide(current)
                if wanted == current:
                    return current
                offset = self._commit(producer, name, wanted, timeout)
                if offset is None:
                    continue  # fenced by another worker's write: decide again
                if not self._wait_applied(offset + 1, timeout):
                    raise RuntimeError(f"the change to {name} was written but not read back")
                return wanted
        raise RuntimeError(f"could not write the change to {name}: too many concurrent writers")

    def _ready_producer(self, timeout: float) -> Producer:
        if self._producer is None:
            producer = Producer(self._producer_settings)
            try:
                producer.init_transactions(timeout)
            except KafkaException as exc:
                producer.poll(0)  # serves error_cb: the reason, if the client has one
                raise self._refusals.explain(exc) from exc
            self._producer = producer
        return self._producer

    def _commit(
        self, producer: Producer, name: str, entry: Entry | None, timeout: float
    ) -> int | None:
        """The record's offset, or None if this writer was fenced (or must start over)."""
        return self._commit_raw(producer, name, None if entry is None else entry.encode(), timeout)

    def _commit_raw(
        self, producer: Producer, name: str, value: bytes | None, timeout: float
    ) -> int | None:
        delivered: list[int] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is None:
                delivered.append(int(message.offset() or 0))

        try:
            producer.begin_transaction()
            producer.produce(self.topic, key=name.encode(), value=value, on_delivery=on_delivery)
            producer.commit_transaction(timeout)
            producer.poll(0)
        except KafkaException as exc:
            error = exc.args[0]
            log.info("config write for %s lost a race (%s); deciding again", name, error)
            if isinstance(error, KafkaError) and error.txn_requires_abort():
                try:
                    producer.abort_transaction(timeout)
                    return None
                except KafkaException:
                    pass
            self._producer = None  # fenced or fatal: a new producer initialises again
            return None
        if not delivered:
            raise RuntimeError(f"the change to {name} was committed without a delivery report")
        return delivered[0]

    def stop(self) -> None:
        self._stop.set()
        self._live_known.set()
        if self._thread.is_alive():
            self._thread.join(10)
        with self._probe_lock:
            self._probe.close()
        self._producer = None
