"""``ReplaceField$Key`` / ``ReplaceField$Value``: keep, drop and rename top-level fields.

Keys ``include`` (keep only these), ``exclude`` (drop these; wins over ``include``),
``renames`` (``old:new,...``, applied after filtering). The deprecated ``whitelist`` and
``blacklist`` are read when ``include`` / ``exclude`` aren't set.
"""

from __future__ import annotations

from typing import Any

from offramp.records import SinkRecord
from offramp.transforms.base import KEY, VALUE, OperandTransformation, require_map
from offramp.transforms.config import ConfigReader
from offramp.transforms.schema import SchemaMemo, struct_fields, with_fields

__all__ = ["ReplaceField", "ReplaceFieldKey", "ReplaceFieldValue"]


class ReplaceField(OperandTransformation):
    """Filters and renames the fields of a JSON object."""

    def configure(self, config: ConfigReader) -> None:
        # Read both spellings so neither is reported as an unknown key.
        include, whitelist = config.string_list("include"), config.string_list("whitelist")
        exclude, blacklist = config.string_list("exclude"), config.string_list("blacklist")
        self.include = frozenset(include or whitelist)
        self.exclude = frozenset(exclude or blacklist)
        self.renames: dict[str, str] = {}
        for mapping in config.string_list("renames"):
            old, colon, new = mapping.partition(":")
            if not colon or not old.strip() or not new.strip() or ":" in new:
                config.error("renames", f"{mapping!r} is not of the form old:new")
                continue
            self.renames[old.strip()] = new.strip()
        self._schema = SchemaMemo(self._updated_schema)

    def _kept(self, name: str) -> bool:
        return name not in self.exclude and (not self.include or name in self.include)

    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        renames = self.renames
        updated = {
            renames.get(name, name): value
            for name, value in require_map(data, "ReplaceField").items()
            if self._kept(name)
        }
        return updated, None if schema is None else self._schema(schema)

    def _updated_schema(self, schema: Any) -> Any:
        fields = struct_fields(schema)
        if fields is None:
            return None
        return with_fields(
            schema,
            [
                {**entry, "field": self.renames.get(entry["field"], entry["field"])}
                for entry in fields
                if self._kept(entry["field"])
            ],
        )


class ReplaceFieldKey(ReplaceField):
    operand = KEY


class ReplaceFieldValue(ReplaceField):
    operand = VALUE
