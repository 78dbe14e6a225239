"""The status topic: each worker publishes its tasks' statuses; every worker reads all.

A record is keyed ``[connector, worker_id]``; its value is that worker's tasks of that
connector and when it said so. Each worker publishes every second (and a tombstone for
a connector it no longer runs, or for all of them when it stops), so ``GET …/status`` on
any worker lists every task on every worker. A worker that stopped saying anything (it
died, or is frozen) has its tasks shown UNASSIGNED after ``STALE_SECONDS`` and dropped
after ``GONE_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from offramp.config import WorkerConfig
from offramp.kafka_logs import client_logger
from offramp.kafka_refusals import RefusalWatch

__all__ = ["GONE_SECONDS", "INTERVAL_SECONDS", "STALE_SECONDS", "StatusLog"]

log = logging.getLogger("offramp.distributed")

INTERVAL_SECONDS = 1.0
STALE_SECONDS = 5.0
GONE_SECONDS = 60.0

Snapshot = Callable[[], Mapping[str, list[dict[str, Any]]]]


class StatusLog:
    """Publishes ``snapshot()`` (connector → this worker's task statuses) and keeps the
    latest record of every worker."""

    def __init__(self, config: WorkerConfig, topic: str, snapshot: Snapshot) -> None:
        self.topic = topic
        self.worker_id = config.worker_id
        self._snapshot = snapshot
        # A refusal of the credentials is logged once (the worker's admin, which uses
        # the same ones, has already failed the start if they were wrong from the first).
        refusals = RefusalWatch(f"the clients of status topic {topic}", log)
        common = {"logger": client_logger(), "error_cb": refusals}
        self._producer = Producer({**config.client_config("producer"), **common, "linger.ms": 5})
        self._consumer = Consumer(
            {
                **config.client_config("consumer"),
                **common,
                "group.id": f"offramp-{config.group_id}-status-reader",
                "enable.auto.commit": False,
            }
        )
        self._latest: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._published: set[str] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._publish_loop, name="status-publish", daemon=True),
            threading.Thread(target=self._read_loop, name="status-read", daemon=True),
        ]

    def start(self) -> None:
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        for thread in self._threads:
            thread.start()

    def peers(self, connector: str) -> list[dict[str, Any]]:
        """Task statuses of ``connector`` on every other worker."""
        now = time.time()
        out: list[dict[str, Any]] = []
        with self._lock:
            latest = [(k, v) for k, v in self._latest.items() if k[0] == connector]
        for (_, worker_id), value in latest:
            if worker_id == self.worker_id:
                continue
            age = now - float(value.get("at", 0))
            if age > GONE_SECONDS:
                continue
            for task in value.get("tasks", []):
                if age > STALE_SECONDS:
                    task = {"id": task["id"], "state": "UNASSIGNED", "worker_id": worker_id}
                out.append(dict(task))
        return out

    # ----- publishing -----------------------------------------------------------------

    def publish(self) -> None:
        snapshot = self._snapshot()
        now = time.time()
        for name, tasks in snapshot.items():
            value = {"worker_id": self.worker_id, "at": now, "tasks": tasks}
            self._produce(name, orjson.dumps(value))
        for gone in self._published - set(snapshot):
            self._produce(gone, None)
        self._published = set(snapshot)
        self._producer.poll(0)

    def _produce(self, connector: str, value: bytes | None) -> None:
        key = orjson.dumps([connector, self.worker_id])
        try:
            self._producer.produce(self.topic, key=key, value=value)
        except BufferError:
            log.warning("status topic %s: local queue full, this round skipped", self.topic)

    def _publish_loop(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            try:
                self.publish()
            except Exception:
                log.exception("publishing task statuses failed")

    # ----- reading --------------------------------------------------------------------

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("status topic %s: %s", self.topic, error)
                continue
            try:
                connector, worker_id = orjson.loads(message.key() or b"null")
                value = message.value()
                with self._lock:
                    if value is None:
                        self._latest.pop((connector, worker_id), None)
                    else:
                        self._latest[(connector, worker_id)] = orjson.loads(value)
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                log.warning("status topic %s: unreadable record (%s)", self.topic, exc)
        self._consumer.close()

    def stop(self) -> None:
        """Tombstones for this worker's entries, so others stop listing its tasks."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(10)
        for name in self._published:
            self._produce(name, None)
        self._producer.flush(10)
