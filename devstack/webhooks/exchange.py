"""A request as a stand-in saw it and the answer it gave, whichever HTTP version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Exchange"]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


@dataclass
class Exchange:
    """One request as received and the status it was answered with."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    protocol: str = "HTTP/1.1"  # or "HTTP/2" (h2serve), as the request arrived
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())
