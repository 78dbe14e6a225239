"""Dotted paths into a record's value: ``data.transcript`` reads ``value["data"]["transcript"]``.

Used for every key that names a field (ids, vectors, texts, collection names, payload
selection). A path that runs into a missing key or a non-object gives ``MISSING``, so the
caller can say which field was absent rather than raise a bare ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MISSING", "FieldPath", "describe"]


class _Missing:
    """The value of a path that leads nowhere (distinct from a JSON ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class FieldPath:
    """A parsed dotted path; ``get`` walks it without copying anything."""

    __slots__ = ("parts", "text")

    def __init__(self, text: str) -> None:
        parts = tuple(text.split("."))
        if not text or any(not part for part in parts):
            raise ValueError(f"{text!r} is not a field path (use dots between names: a.b.c)")
        self.text = text
        self.parts = parts

    def get(self, value: Any) -> Any:
        for part in self.parts:
            if not isinstance(value, Mapping) or part not in value:
                return MISSING
            value = value[part]
        return value

    def __repr__(self) -> str:
        return f"FieldPath({self.text!r})"


def describe(value: Any) -> str:
    """A short name for a value's type, for error messages (``a list``, ``a string``)."""
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        bytes: "bytes",
        type(None): "null",
    }
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"
