"""``upper``: upper-cases one string field of the value, optionally marking it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from offramp import ConfigModel, SinkRecord
from offramp.transforms import Predicate, Transformation


class UpperCaseConfig(ConfigModel):
    field: str = Field(min_length=1, description="The value field to upper-case")
    suffix: str = Field("", description="Appended after upper-casing")


class UpperCaseField(Transformation):
    """The value's ``field`` in upper case (records without it pass unchanged)."""

    config_model = UpperCaseConfig
    settings: UpperCaseConfig

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        value = record.value
        name = self.settings.field
        if not isinstance(value, dict) or not isinstance(value.get(name), str):
            return record
        new: dict[str, Any] = {**value, name: value[name].upper() + self.settings.suffix}
        return record.replace(value=new)


class HasFieldConfig(ConfigModel):
    field: str = Field(min_length=1)


class HasField(Predicate):
    """True when the value is an object with ``field``."""

    config_model = HasFieldConfig
    settings: HasFieldConfig
    version = "0.3.0-predicate"

    def test(self, record: SinkRecord) -> bool:
        return isinstance(record.value, dict) and self.settings.field in record.value
