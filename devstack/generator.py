"""Sample ``call.completed`` CloudEvents, as the voice platform emits them.

Binary-mode CloudEvents: ``ce-*`` headers carry the attributes, the value is the JSON
``data``, the key is the call id. Deterministic for a given seed, so tests and the demo
can predict what each sink should hold. A few ``call.started`` events are mixed in so
the configs' ``ce-type`` filter has something to drop.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

CALL_COMPLETED = "com.example.call.completed.v1"
CALL_STARTED = "com.example.call.started.v1"

_TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"]
_AGENTS = ["ava", "max", "zoe", "sam", "lee", "kim"]
_TOPICS = [
    ("billing", "I was charged twice for my subscription this month and need a refund."),
    ("shipping", "My parcel has not arrived and the tracking page shows no update."),
    ("password", "I cannot log in because the password reset email never arrives."),
    ("upgrade", "I would like to upgrade my plan to include more seats for my team."),
    ("cancel", "Please cancel my account at the end of the current billing period."),
    ("outage", "The service has been down all morning and my team cannot work."),
]


@dataclass(frozen=True)
class Event:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    data: dict[str, object]
    ce_type: str


def call_events(
    count: int, seed: int = 42, callers: int = 500, start: datetime | None = None
) -> Iterator[Event]:
    """``count`` events; about one in ten is a ``call.started`` the sinks should skip."""
    rng = random.Random(seed)
    began = start or datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    for i in range(count):
        call_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ended = began + timedelta(seconds=i * 3)
        topic, sentence = _TOPICS[rng.randrange(len(_TOPICS))]
        duration = rng.randint(20, 1800)
        ce_type = CALL_STARTED if rng.random() < 0.1 else CALL_COMPLETED
        data: dict[str, object] = {
            "call_id": call_id,
            "tenant": _TENANTS[rng.randrange(len(_TENANTS))],
            "agent": _AGENTS[rng.randrange(len(_AGENTS))],
            "caller": {"email": f"caller{rng.randrange(callers)}@example.com"},
            "duration_s": duration,
            # About one call in 350 drops within 25 s: what the Slack alerts are about.
            # Derived, not drawn, so every other field of a seed stays as it was.
            "status": "failed" if duration < 25 else "completed",
            "billing": {"cost_usd": round(duration * 0.0042, 4), "currency": "USD"},
            "ended_at": ended.isoformat().replace("+00:00", "Z"),
            "topic": topic,
            "transcript": f"Customer: {sentence} Agent: I can help with {topic} today.",
        }
        headers = [
            ("ce-specversion", b"1.0"),
            ("ce-type", ce_type.encode()),
            ("ce-source", b"//voice.example.com/calls"),
            ("ce-id", call_id.encode()),
            ("ce-time", data["ended_at"].encode()),  # type: ignore[attr-defined]
            ("content-type", b"application/json"),
        ]
        yield Event(call_id.encode(), orjson.dumps(data), headers, data, ce_type)


def produce_calls(bootstrap: str, topic: str, count: int, seed: int = 42) -> list[Event]:
    """Produce ``count`` events (zstd, idempotent, acks=all); return them."""
    from confluent_kafka import Producer

    from devstack.kafka import produce_waiting
    from offramp.kafka_logs import client_logger

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "compression.type": "zstd",
            "linger.ms": 10,
            "logger": client_logger(),  # librdkafka's lines through logging, not stderr
        }
    )
    events = list(call_events(count, seed))
    for event in events:
        produce_waiting(producer, topic, event.value, key=event.key, headers=event.headers)
    if producer.flush(60):
        raise RuntimeError("not every sample event was acknowledged")
    return events
