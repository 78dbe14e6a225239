"""``MaskField$Key`` / ``MaskField$Value``: blank out sensitive fields.

Without ``replacement`` a field becomes its type's empty value (``""``, ``0``, ``0.0``,
``false``, ``[]``, ``{}``, ``b""``). With ``replacement`` a string field gets that text
and a number field that number (a replacement that isn't a number fails the record);
booleans, arrays and objects can't take a custom replacement. None stays None, and a
field the record doesn't have is left absent (Kafka Connect would insert a null), so
the schema never changes.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, in_field, require_map
from offramp.transforms.config import ConfigReader

__all__ = ["MaskField", "MaskFieldKey", "MaskFieldValue", "masked"]


def masked(value: Any, replacement: str | None) -> Any:
    """What ``value`` becomes once masked; raises ``TypeError``/``ValueError`` if it can't."""
    if value is None:
        return None
    if replacement is None:
        return _empty_like(value)
    if isinstance(value, str):
        return replacement
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"cannot mask a {type(value).__name__} with a custom replacement")
    try:
        if isinstance(value, int):
            return int(replacement)
        if isinstance(value, float):
            return float(replacement)
        return Decimal(replacement)
    except (ValueError, InvalidOperation):
        raise ValueError(
            f"replacement {replacement!r} is not a {type(value).__name__} number"
        ) from None


def _empty_like(value: Any) -> Any:
    # bool before int: bool is an int subclass, and False is its empty value.
    for kind, empty in ((bool, False), (str, ""), (int, 0), (float, 0.0), (bytes, b"")):
        if isinstance(value, kind):
            return empty
    if isinstance(value, Decimal):
        return Decimal(0)
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    raise TypeError(f"cannot mask a value of type {type(value).__name__}")


class MaskField(OperandTransformation):
    """Replaces the listed ``fields`` with an empty value or ``replacement``."""

    def configure(self, config: ConfigReader) -> None:
        self.fields = config.string_list("fields", required=True)
        self.replacement = config.string("replacement")
        if self.replacement == "":
            config.error("replacement", "must not be empty (omit it to mask with empty values)")

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        updated = dict(require_map(data, "MaskField"))
        for field in self.fields:
            if field in updated:
                try:
                    updated[field] = masked(updated[field], self.replacement)
                except (TypeError, ValueError) as exc:
                    raise in_field(field, exc) from exc
        return updated, schema


class MaskFieldKey(MaskField):
    operand = KEY


class MaskFieldValue(MaskField):
    operand = VALUE
