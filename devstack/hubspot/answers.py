"""How the stand-in answers: an ``Answer`` raised with HubSpot's status, body and
headers ends the handling of a request wherever it is (routes, limits, auth)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["Answer", "error", "now_iso"]


class Answer(Exception):
    """Ends request handling with this status, body and headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def error(status: int, message: str, category: str, **extra: Any) -> Answer:
    """HubSpot's error body: status, message, a fresh correlation id, category."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return Answer(status, body)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
