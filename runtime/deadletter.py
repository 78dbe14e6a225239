"""Dead letters: a failed record's original bytes, plus Kafka Connect's context headers.

The produce is asynchronous; ``flush()`` waits for every acknowledgement and raises if
any failed, and the task calls it before committing the offsets those records cover,
so a record is never both skipped and unrecorded.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka.cimpl import NewTopic

from offramp.consumer import ProducerFactory, ProducerLike
from offramp.deadletter_names import dead_letter_topic, is_templated
from offramp.errors import OfframpError
from offramp.kafka_refusals import RefusalWatch, admin_and_metadata
from offramp.records import KafkaMessage

if TYPE_CHECKING:
    from offramp.config import ConnectorConfig, WorkerConfig

__all__ = ["DeadLetterError", "DeadLetterWriter", "ensure_topic", "topic_creator"]

log = logging.getLogger("offramp.deadletter")

STAGES = ("KEY_CONVERTER", "VALUE_CONVERTER", "HEADER_CONVERTER", "TRANSFORMATION", "TASK_PUT")


class DeadLetterError(OfframpError):
    """A dead letter could not be produced: the records it covers must not be committed."""


def ensure_topic(admin_config: Mapping[str, Any], topic: str, replication_factor: int) -> None:
    """Create the dead-letter topic if missing, capping replication at the broker count.
    ``CredentialsRefused`` if the brokers refuse the admin client's credentials."""
    admin, metadata = admin_and_metadata(
        admin_config, f"the admin client for dead-letter topic {topic}", log
    )
    if topic in metadata.topics:
        return
    brokers = max(1, len(metadata.brokers))
    rf = -1 if replication_factor == -1 else min(replication_factor, brokers)
    if 0 < rf < replication_factor:
        log.warning(
            "dead-letter topic %s: replication factor %d capped to the %d broker(s)",
            topic,
            replication_factor,
            brokers,
        )
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=rf)])
    try:
        futures[topic].result(30)
    except Exception as exc:
        kafka_error = exc.args[0] if exc.args else None
        if not (
            isinstance(kafka_error, KafkaError)
            and kafka_error.code() == KafkaError.TOPIC_ALREADY_EXISTS
        ):
            raise


def _qualified(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def topic_creator(worker: WorkerConfig, config: ConnectorConfig) -> Callable[[str], None]:
    """``ensure_topic`` with the admin settings the worker uses for the connector's
    dead-letter topic (``offramp.worker``), for names known only as records fail."""
    from offramp.kafka_logs import client_logger

    admin_config = {
        "logger": client_logger(),
        **worker.client_config("admin"),
        **config.admin_overrides,
    }
    replication = config.settings.errors_deadletterqueue_topic_replication_factor
    return lambda topic: ensure_topic(admin_config, topic, replication)


class DeadLetterWriter:
    """Produces dead letters for one task to ``topic``; with ``${topic}`` in it, to the
    dead-letter topic of each record's source topic, which ``ensure`` creates the first
    time this task sends there (the names are known only as records fail)."""

    def __init__(
        self,
        producer_config: Mapping[str, Any],
        topic: str,
        connector_name: str,
        task_id: int,
        context_headers: bool,
        producer_factory: ProducerFactory | None = None,
        ensure: Callable[[str], None] | None = None,
    ) -> None:
        # Served by flush(): a refused password makes it say why nothing was acknowledged.
        self._refusals = RefusalWatch(f"the dead-letter producer for {topic}", log)
        config: dict[str, Any] = {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "error_cb": self._refusals,
        }
        config.update(producer_config)
        self._config = config
        self._factory: ProducerFactory = producer_factory or Producer
        # Made on the first dead letter: most tasks never send one, and an idle
        # producer per task still costs a worker its threads, buffers and connections
        # (five connectors: five producers that never produced).
        self._client: ProducerLike | None = None
        self.topic = topic
        self._connector = connector_name
        self._task = str(task_id).encode()
        self._context = context_headers
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self.sent = 0
        self._templated = is_templated(topic)
        self._ensure = ensure
        self._ensured: set[str] = set()

    def _topic_for(self, message: KafkaMessage) -> str:
        if not self._templated:
            return self.topic
        topic = dead_letter_topic(self.topic, message.topic() or "")
        if topic not in self._ensured:
            if self._ensure is not None:
                try:
                    self._ensure(topic)
                except Exception as exc:
                    raise DeadLetterError(
                        f"could not create the dead-letter topic {topic}: {exc}"
                    ) from exc
            self._ensured.add(topic)
        return topic

    @property
    def _producer(self) -> ProducerLike:
        if self._client is None:
            self._client = self._factory(self._config)
        return self._client

    def _delivered(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            with self._lock:
                self._failures.append(str(err))

    def send(
        self,
        message: KafkaMessage,
        stage: str,
        error: BaseException,
        class_name: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        headers: list[tuple[str, str | bytes | None]] = list(message.headers() or ())
        if self._context:
            trace = "".join(traceback.format_exception(error)).strip()
            headers += [
                ("__connect.errors.topic", (message.topic() or "").encode()),
                ("__connect.errors.partition", str(message.partition()).encode()),
                ("__connect.errors.offset", str(message.offset()).encode()),
                ("__connect.errors.connector.name", self._connector.encode()),
                ("__connect.errors.task.id", self._task),
                ("__connect.errors.stage", stage.encode()),
                ("__connect.errors.class.name", class_name.encode()),
                ("__connect.errors.exception.class.name", _qualified(error).encode()),
                ("__connect.errors.exception.message", str(error).encode()),
                ("__connect.errors.exception.stacktrace", trace.encode()),
            ]
            headers += [(k, v.encode()) for k, v in (extra_headers or {}).items()]
        kind, timestamp = message.timestamp()
        topic = self._topic_for(message)
        while True:
            try:
                self._producer.produce(
                    topic,
                    key=message.key(),
                    value=message.value(),
                    headers=headers,
                    timestamp=timestamp if kind else 0,
                    on_delivery=self._delivered,
                )
                break
            except BufferError:
                self._producer.poll(0.1)  # the local queue is full: let deliveries drain
        self._producer.poll(0)
        self.sent += 1

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every dead letter to be acknowledged; raise if any was not."""
        if self._client is None:
            return  # nothing was ever sent
        remaining = self._client.flush(timeout)
        with self._lock:
            failures, self._failures = self._failures, []
        if remaining:
            why = self._refusals.reason()
            raise DeadLetterError(
                f"{remaining} dead letter(s) to {self.topic} not acknowledged within "
                f"{timeout:.0f}s" + (f": {why}" if why else "")
            )
        if failures:
            raise DeadLetterError(
                f"producing to dead-letter topic {self.topic} failed: {failures[0]}"
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.flush(10)
