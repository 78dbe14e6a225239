"""What an endpoint's answer means for the records of one request.

- 2xx: written; for a batch, the items a JSON answer names at ``http.rejected.path``
  (by index or by item id) are dead-lettered and only those.
- 408, 425, 429, 5xx, timeouts, no connection: ``RetriableError`` with the answer's
  ``Retry-After``: the runtime pauses the partitions and retries; nothing is lost.
- 401, 403: ``FatalError``: the task stops, naming ``http.auth.type``.
- 413 for a batch of several items: ``BatchError``: the runtime splits the batch.
- other 4xx (and 3xx): the request's records (or the items the answer names) are
  dead-lettered with the status, the URL and a bounded excerpt of the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

__all__ = [
    "BODY_HEADER",
    "STATUS_HEADER",
    "URL_HEADER",
    "excerpt",
    "is_transient",
    "parse_path",
    "rejected_names",
    "safe_url",
]

STATUS_HEADER = "__offramp.errors.http.status"
BODY_HEADER = "__offramp.errors.http.body"
URL_HEADER = "__offramp.errors.http.url"


def is_transient(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


def excerpt(body: bytes, limit: int) -> str:
    """At most ``limit`` bytes of an answer's body as text, marked when cut."""
    if len(body) <= limit:
        return body.decode("utf-8", "replace")
    return body[:limit].decode("utf-8", "ignore") + f"… ({len(body)} bytes)"


def safe_url(url: str) -> str:
    """The URL without credentials or query (either may hold a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_path(path: str) -> tuple[str, ...]:
    """``errors[*].index`` → ("errors", "*", "index"); ``$.`` in front is allowed."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    steps: list[str] = []
    for part in text.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            inner = part.strip("[]")
            if inner != "*" and not inner.isdigit():
                raise ValueError(f"{path!r}: write [*] or [n] for list steps")
            steps.append(inner)
        else:
            steps.append(part)
    if not steps:
        raise ValueError(f"{path!r} names nothing (write errors[*].index)")
    return tuple(steps)


def _walk(node: Any, steps: tuple[str, ...]) -> Iterator[Any]:
    if not steps:
        yield node
        return
    step, rest = steps[0], steps[1:]
    if isinstance(node, list):
        if step == "*":
            for item in node:
                yield from _walk(item, rest)
        elif step.isdigit() and int(step) < len(node):
            yield from _walk(node[int(step)], rest)
    elif isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest)


def rejected_names(body: bytes, steps: tuple[str, ...]) -> list[int | str]:
    """What the answer names at the path: item indexes (ints) or item ids (text)."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return []
    names: list[int | str] = []
    for found in _walk(parsed, steps):
        if isinstance(found, bool):
            continue
        if isinstance(found, int | str):
            names.append(found)
    return names
