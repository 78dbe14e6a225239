"""An Avro record with every logical type, for the tests of how each one maps: the
four Kafka Connect's AvroData knows (``decimal`` on bytes and on a fixed, ``date``,
``time-millis``, ``timestamp-millis``) and those it keeps as their underlying type
(``timestamp-micros``, ``time-micros``, ``local-timestamp-millis``, ``uuid``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

__all__ = ["LOGICAL", "logical_row"]

LOGICAL: dict[str, Any] = {
    "type": "record",
    "name": "Reading",
    "namespace": "lab",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "clock_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "clock_us", "type": {"type": "long", "logicalType": "time-micros"}},
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
        },
        {
            "name": "weight",
            "type": {
                "type": "fixed",
                "name": "Weight",
                "size": 8,
                "logicalType": "decimal",
                "precision": 12,
                "scale": 3,
            },
        },
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "wall", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {
            "name": "seen",
            "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}],
            "default": None,
        },
    ],
}

AT = datetime(2026, 12, 3, 10, 11, 12, 345678, tzinfo=UTC)
AT_MICROS = 1_796_292_672_345_678  # AT since the epoch, in microseconds


def logical_row(n: int) -> dict[str, Any]:
    """Record ``n``: the same instants, ``n`` in the numbers; ``seen`` null when odd."""
    return {
        "id": n,
        "at_ms": AT,
        "at_us": AT,
        "day": date(2026, 12, 3),
        "clock_ms": time(1, 2, 3, 456000),
        "clock_us": time(1, 2, 3, 456789),
        "price": Decimal(1234 + n).scaleb(-2),
        "weight": Decimal(5678 + n).scaleb(-3),
        "hash": bytes([n, 1, 2, 3]),
        "ref": uuid.UUID(int=n),
        "wall": AT.replace(tzinfo=None),
        "seen": None if n % 2 else AT,
    }
