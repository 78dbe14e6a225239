"""Point ids: what Qdrant accepts as they are, and a deterministic UUID for everything else.

Qdrant names a point by an unsigned 64-bit integer or a UUID. Kafka keys are usually
strings, so the rules are:

- an unsigned integer (or its canonical decimal string, ``"42"``) stays that integer;
- a UUID (or any spelling ``uuid.UUID`` reads) becomes its canonical hyphenated form;
- any other string, and any other integer, becomes ``uuid5(namespace, text)``.

The mapping is a pure function of the key, so a redelivered record overwrites the same
point: that is what makes the sink idempotent.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final

__all__ = ["DEFAULT_NAMESPACE", "PointId", "PointIdError", "to_point_id"]

PointId = int | str

MAX_UNSIGNED: Final = 2**64 - 1

DEFAULT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://offramp.dev/qdrant/point-id")
"""The UUIDv5 namespace of hashed ids (``point.id.namespace`` overrides it)."""


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class PointIdError(ValueError):
    """A key or field can't name a point (missing, empty, a list...)."""


def _from_text(text: str, namespace: uuid.UUID) -> PointId:
    if not text:
        raise PointIdError("the point id is an empty string")
    if _CANONICAL_UUID.fullmatch(text):
        return text  # already Qdrant's own spelling: skip parsing it

    # Only the canonical spelling is an integer id: "007" and "7" must not collide.
    if text.isascii() and text.isdigit() and (text == "0" or text[0] != "0"):
        number = int(text)
        if number <= MAX_UNSIGNED:
            return number
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(namespace, text))


def to_point_id(raw: Any, namespace: uuid.UUID = DEFAULT_NAMESPACE) -> PointId:
    """The Qdrant point id for a key or field value; ``PointIdError`` if it can't be one."""
    if isinstance(raw, bool):
        raise PointIdError("a boolean can't be a point id")
    if isinstance(raw, int):
        if 0 <= raw <= MAX_UNSIGNED:
            return raw
        return str(uuid.uuid5(namespace, str(raw)))
    if isinstance(raw, str):
        return _from_text(raw, namespace)
    if isinstance(raw, bytes | bytearray):
        try:
            return _from_text(bytes(raw).decode("utf-8"), namespace)
        except UnicodeDecodeError:
            raise PointIdError("the point id is bytes that are not UTF-8") from None
    if isinstance(raw, uuid.UUID):
        return str(raw)
    if raw is None:
        raise PointIdError("the record has no key to name its point")
    kind = type(raw).__name__
    raise PointIdError(f"a {kind} can't be a point id (use a string, an integer or a UUID)")
