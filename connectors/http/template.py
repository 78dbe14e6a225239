"""Templates over a record's fields: ``Call {data.call_id} for {data.tenant}``.

A ``{path}`` names a field of the record's value by dotted path (``data.call_id``), or
one of the record's Kafka coordinates: ``{kafka.topic}``, ``{kafka.partition}``,
``{kafka.offset}``, ``{kafka.key}``, ``{kafka.timestamp}``. ``{{`` and ``}}`` are
literal braces. Templates are parsed once, at config time, so a bad one fails
validation naming its key; a field a record lacks fails that record (a dead letter),
never the task.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from offramp import SinkRecord

__all__ = ["MissingField", "Template", "field_value", "render_text"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PATH = re.compile(r"[A-Za-z0-9_\-$@]+(\.[A-Za-z0-9_\-$@]+)*")


class MissingField(Exception):
    """A template or field path named a field this record does not have."""


def _kafka(record: SinkRecord, name: str) -> Any:
    if name == "topic":
        return record.kafka_topic
    if name == "partition":
        return record.kafka_partition
    if name == "offset":
        return record.kafka_offset
    if name == "timestamp":
        return record.timestamp
    if name == "key":
        return record.key
    raise MissingField(f"kafka.{name} is not a record coordinate")


def field_value(record: SinkRecord, path: str) -> Any:
    """The value at a dotted ``path`` of the record's value (or ``kafka.*``)."""
    if path.startswith("kafka.") and path.count(".") == 1:
        return _kafka(record, path[len("kafka.") :])
    node: Any = record.value
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise MissingField(f"the record has no field {path}")
    return node


def render_text(value: Any) -> str:
    """A field's value as template text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None:
        return ""
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Template:
    """A parsed template: literal pieces and field paths, rendered per record."""

    text: str
    pieces: tuple[str | tuple[str], ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        pieces: list[str | tuple[str]] = []
        at = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > at:
                pieces.append(text[at : match.start()])
            token = match.group(0)
            if token in ("{{", "}}"):
                pieces.append(token[0])
            elif token in ("{", "}"):
                raise ValueError(
                    f"unbalanced {token!r} at character {match.start()} (write {token * 2} "
                    "for a literal brace)"
                )
            else:
                path = (match.group(1) or "").strip()
                if not _PATH.fullmatch(path):
                    raise ValueError(f"{{{path}}} is not a field path (write {{data.call_id}})")
                pieces.append((path,))
            at = match.end()
        if at < len(text):
            pieces.append(text[at:])
        return cls(text, tuple(pieces))

    @property
    def fields(self) -> list[str]:
        return [p[0] for p in self.pieces if isinstance(p, tuple)]

    @property
    def constant(self) -> bool:
        return not self.fields

    @cached_property
    def literal(self) -> str | None:
        """The whole text when no piece is a field (braces unescaped), else None."""
        return "".join(p for p in self.pieces if isinstance(p, str)) if self.constant else None

    def render(self, record: SinkRecord, escape: Callable[[str], str] | None = None) -> str:
        """The text for ``record``; ``escape`` is applied to each field's text (URLs
        percent-encode it). Raises ``MissingField``."""
        literal = self.literal  # most URLs name no field: no work per record
        if literal is not None:
            return literal
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
            else:
                text = render_text(field_value(record, piece[0]))
                out.append(escape(text) if escape else text)
        return "".join(out)
