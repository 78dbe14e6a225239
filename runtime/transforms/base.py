"""The two plug-in bases, ``Transformation`` and ``Predicate``, and the key/value split.

Kafka Connect ships most transforms twice, ``Foo$Key`` and ``Foo$Value``, differing only
in which half of the record they read and write. Here that half is an ``Operand``
(``KEY`` or ``VALUE``) set on a subclass, and ``OperandTransformation`` does the shared
part: tombstone pass-through, reading, and writing back value and schema together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from offramp.plugin import ConfigModel
from offramp.records import SinkRecord
from offramp.transforms.config import ConfigReader

__all__ = [
    "KEY",
    "VALUE",
    "Configurable",
    "Operand",
    "OperandTransformation",
    "Predicate",
    "Transformation",
    "in_field",
    "require_map",
]


class Configurable:
    """Reads its settings once, at construction, and fails with every problem at once.

    ``config`` holds the plug-in's own keys (``transforms.<alias>.`` already stripped);
    ``key_prefix`` is only used to name the full keys in a ``ConfigError``.

    Settings are declared one of two ways: a ``config_model`` (a ``ConfigModel``, as a
    connector's; the validated instance is ``self.settings``), or read key by key in
    ``configure``. Both may be used together.
    """

    config_model: ClassVar[type[ConfigModel] | None] = None
    """This plug-in's keys as a ``ConfigModel``; validated like a connector's config."""

    settings: ConfigModel
    """The validated ``config_model`` (narrow its type in a subclass)."""

    version: ClassVar[str | None] = None
    """Listed by ``/connector-plugins``; None lists the installed distribution's."""

    def __init__(self, config: Mapping[str, Any], *, key_prefix: str = "") -> None:
        reader = ConfigReader(config, key_prefix)
        if self.config_model is not None:
            settings = reader.model(self.config_model)
            if settings is None:
                reader.finish()  # raises: configure() may rely on the settings
            else:
                self.settings = settings
        self.configure(reader)
        reader.finish()

    def configure(self, config: ConfigReader) -> None:
        """Read every key this plug-in accepts (unread keys are reported as unknown)."""


class Transformation(Configurable, ABC):
    """A Single Message Transform: one record in, one record (or None to drop it) out.

    ``apply`` never mutates the record it gets: it returns ``record.replace(...)``.
    Any exception it raises fails that record only (dead letter or task failure, by
    ``errors.tolerance``), with the transform's alias in the message.
    """

    @abstractmethod
    def apply(self, record: SinkRecord) -> SinkRecord | None:
        """The transformed record, or None to drop it."""


class Predicate(Configurable, ABC):
    """A condition guarding a transform (``transforms.<alias>.predicate``)."""

    @abstractmethod
    def test(self, record: SinkRecord) -> bool:
        """Whether the guarded transform applies to ``record`` (before ``negate``)."""


class Operand(ABC):
    """Which half of a record a ``$Key`` or ``$Value`` transform reads and writes."""

    @abstractmethod
    def data(self, record: SinkRecord) -> Any: ...

    @abstractmethod
    def schema(self, record: SinkRecord) -> Any: ...

    @abstractmethod
    def changes(self, data: Any, schema: Any) -> dict[str, Any]:
        """``SinkRecord.replace`` arguments that set this half and its schema."""

    def put(self, record: SinkRecord, data: Any, schema: Any) -> SinkRecord:
        return record.replace(**self.changes(data, schema))


class _Key(Operand):
    def data(self, record: SinkRecord) -> Any:
        return record.key

    def schema(self, record: SinkRecord) -> Any:
        return record.key_schema

    def changes(self, data: Any, schema: Any) -> dict[str, Any]:
        return {"key": data, "key_schema": schema}


class _Value(Operand):
    def data(self, record: SinkRecord) -> Any:
        return record.value

    def schema(self, record: SinkRecord) -> Any:
        return record.value_schema

    def changes(self, data: Any, schema: Any) -> dict[str, Any]:
        return {"value": data, "value_schema": schema}


KEY: Operand = _Key()
VALUE: Operand = _Value()


class OperandTransformation(Transformation):
    """A transform of the key or the value (``operand``), and of its schema with it.

    A None operand (a tombstone value, a record without key) passes through unchanged,
    so deletes still reach the sink whatever the chain does to ordinary records.
    """

    operand: ClassVar[Operand]

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        operand = self.operand
        data = operand.data(record)
        if data is None:
            return record
        new_data, new_schema = self.transform(data, operand.schema(record), record)
        return operand.put(record, new_data, new_schema)

    @abstractmethod
    def transform(self, data: Any, schema: Any, record: SinkRecord) -> tuple[Any, Any]:
        """The new (data, schema) for a non-None operand; ``schema`` may be None."""


def require_map(data: Any, purpose: str) -> dict[str, Any]:
    """``data`` as a JSON object, or a ``TypeError`` naming what needed one."""
    if not isinstance(data, dict):
        raise TypeError(f"{purpose} needs a JSON object (dict), got {type(data).__name__}")
    return data


def in_field(field: str, exc: TypeError | ValueError) -> TypeError | ValueError:
    """``exc`` restated with the field it happened in, keeping its broad kind."""
    kind = TypeError if isinstance(exc, TypeError) else ValueError
    return kind(f"field {field!r}: {exc}")
