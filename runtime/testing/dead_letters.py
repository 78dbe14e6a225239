"""Dead letters as a test reads them: original bytes, context headers decoded."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer

from offramp.records import Headers

__all__ = ["DeadLetter", "decode_headers", "read_dead_letters"]


@dataclass
class DeadLetter:
    """One dead letter: the failed record's key and value as consumed, and its headers
    (its own and Kafka Connect's ``__connect.errors.*``) decoded as UTF-8."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp: int
    topic: str = ""

    @property
    def offset(self) -> int:
        """The failed record's offset (``__connect.errors.offset``), -1 without headers."""
        return int(self.headers.get("__connect.errors.offset", -1))

    @property
    def exception(self) -> str:
        """The exception's class name (``__connect.errors.exception.class.name``)."""
        return self.headers.get("__connect.errors.exception.class.name", "")


def decode_headers(headers: Iterable[tuple[str, Any]] | None) -> dict[str, str]:
    """Headers as text; the last value wins when a key repeats."""
    out: dict[str, str] = {}
    for key, value in headers or ():
        if isinstance(value, bytes):
            out[key] = value.decode("utf-8", "replace")
        else:
            out[key] = "" if value is None else str(value)
    return out


def read_dead_letters(
    bootstrap: str, topic: str, expected: int, timeout: float = 30.0
) -> list[DeadLetter]:
    """Read ``topic`` from the start of a real broker until ``expected`` records (or
    ``timeout``)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-reader-{time.time()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[DeadLetter] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for m in consumer.consume(100, 0.5):
                if m.error():
                    continue
                raw_headers: Headers = list(m.headers() or [])  # type: ignore[arg-type]
                out.append(
                    DeadLetter(
                        m.key(),
                        m.value(),
                        decode_headers(raw_headers),
                        m.timestamp()[1],
                        m.topic() or "",
                    )
                )
    finally:
        consumer.close()
    return out
