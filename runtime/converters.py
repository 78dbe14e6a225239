"""Converters turn a message's key or value bytes into the Python value a sink sees.

Kafka Connect's names work (``org.apache.kafka.connect.json.JsonConverter``) as do short
ones (``json``, ``string``, ``bytearray``, ``cloudevents``); third-party converters come
from the entry-point group ``offramp.converters`` (a ``Converter`` subclass, named by
the entry point's name or its ``module:Class``). Each converter works on a
whole batch at once: the common case is one list comprehension over the batch, and
only when it raises do we go record by record to find which ones failed.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import orjson
import simdjson

from offramp.errors import ConfigError, ConversionError, PluginNotFoundError, RetriableError
from offramp.extensions import ExtensionGroup
from offramp.plugin import ConfigModel
from offramp.plugin_config import read_config
from offramp.records import Headers

__all__ = [
    "CONVERTER_PLUGINS",
    "KEPT_AS_TEXT",
    "ByteArrayConverter",
    "CloudEventsConverter",
    "ConvertedBatch",
    "Converter",
    "JsonConverter",
    "StringConverter",
    "converter_names",
    "create_converter",
]


KEPT_AS_TEXT: Final = object()
"""In ``JsonConverter.check_batch``'s values: the document is valid and stays as text."""


@dataclass
class ConvertedBatch:
    """Values in input order (None where conversion failed), schemas if the format has
    them, and the index → error of every failed input."""

    values: list[Any]
    schemas: list[Any] | None = None
    errors: dict[int, ConversionError] = field(default_factory=dict)


class Converter(ABC):
    """Converts the key (``is_key``) or value bytes of a batch of messages.

    ``config`` is the converter's own keys (``value.converter.`` stripped). A converter
    declaring a ``config_model`` gets them validated as a connector's config is (a bad
    or unknown key is a ``ConfigError`` naming ``value.converter.<key>``), as
    ``self.settings``; the built-ins read ``config`` themselves and ignore keys they
    don't know, as Kafka Connect's do.
    """

    config_model: ClassVar[type[ConfigModel] | None] = None
    settings: ConfigModel
    version: ClassVar[str | None] = None
    """Listed by ``/connector-plugins``; None lists the installed distribution's."""

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        self.config = config
        self.is_key = is_key
        if self.config_model is not None:
            self.settings = read_config(self.config_model, config)

    @abstractmethod
    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        """Convert one message; raise on bad input."""

    def convert_batch(
        self, datas: Sequence[bytes | None], headers: Sequence[Any] | None
    ) -> ConvertedBatch:
        hdrs: Sequence[Any] = headers or [None] * len(datas)
        try:
            return ConvertedBatch([self.convert(d, h) for d, h in zip(datas, hdrs, strict=True)])
        except Exception:
            return self._one_by_one(datas, hdrs)

    def _one_by_one(self, datas: Sequence[bytes | None], headers: Sequence[Any]) -> ConvertedBatch:
        out = ConvertedBatch([])
        for i, (data, hdrs) in enumerate(zip(datas, headers, strict=True)):
            try:
                out.values.append(self.convert(data, hdrs))
            except RetriableError:
                raise  # transient (a registry down): the whole batch is retried
            except Exception as exc:
                out.values.append(None)
                out.errors[i] = _conversion_error(exc, self)
        return out

    @property
    def needs_headers(self) -> bool:
        return False

    @property
    def gives_schemas(self) -> bool | None:
        """Whether values come with their Kafka Connect schema (``SinkRecord.value_schema``):
        True, False, or None when not known (a third-party converter may say). A sink
        that needs schemas refuses a converter that says False at validation."""
        return None

    def close(self) -> None:  # noqa: B027 - most converters hold nothing to release
        """Release what the converter holds (a registry client's connections): called
        once its connector's config is replaced, deleted or the worker stops."""


def _conversion_error(exc: Exception, converter: Converter) -> ConversionError:
    if isinstance(exc, ConversionError):
        return exc
    part = "key" if converter.is_key else "value"
    err = ConversionError(f"{type(converter).__name__} could not convert the {part}: {exc}")
    err.__cause__ = exc
    return err


def _flag(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ConfigError([(key, f"must be true or false, got {value!r}")])
    return text == "true"


class ByteArrayConverter(Converter):
    """The bytes as they are."""

    @property
    def gives_schemas(self) -> bool | None:
        return False

    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        return data

    def convert_batch(
        self, datas: Sequence[bytes | None], headers: Sequence[Any] | None
    ) -> ConvertedBatch:
        return ConvertedBatch(list(datas))


class StringConverter(Converter):
    """UTF-8 text (``converter.encoding`` may name another codec)."""

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        super().__init__(config, is_key)
        self.encoding = str(config.get("converter.encoding", config.get("encoding", "utf-8")))

    @property
    def gives_schemas(self) -> bool | None:
        return False

    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        return None if data is None else data.decode(self.encoding)


class JsonConverter(Converter):
    """JSON, schemaless or in Kafka Connect's ``{"schema", "payload"}`` envelope.

    With ``schemas.enable`` (Kafka Connect's default: true) the envelope is required and
    the schema is kept on the record for sinks that create tables from it.
    """

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        super().__init__(config, is_key)
        self.schemas_enable = _flag(config, "schemas.enable", True)

    @property
    def gives_schemas(self) -> bool | None:
        return self.schemas_enable

    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        if data is None:
            return None
        return orjson.loads(data)

    def convert_batch(
        self, datas: Sequence[bytes | None], headers: Sequence[Any] | None
    ) -> ConvertedBatch:
        loads = orjson.loads
        try:
            parsed = [None if d is None else loads(d) for d in datas]
        except orjson.JSONDecodeError:
            batch = self._one_by_one(datas, [None] * len(datas))
            parsed = batch.values
            if not self.schemas_enable:
                return batch
            errors = batch.errors
        else:
            if not self.schemas_enable:
                return ConvertedBatch(parsed)
            errors = {}
        return self._unwrap(parsed, errors)

    def check_batch(self, datas: Sequence[bytes | None]) -> ConvertedBatch:
        """Schemaless JSON checked without being decoded: a valid document's value is
        ``KEPT_AS_TEXT``, a tombstone's or JSON ``null``'s is None, invalid JSON has the
        error ``convert_batch`` gives it. simdjson checks a document several times
        faster than building its Python objects; where it refuses one, orjson (which
        ``convert_batch`` uses) has the last word, so both accept the same documents."""
        parse = simdjson.Parser().parse
        try:
            # Each parsed document is dropped at once: the parser may then reuse it.
            nulls = [d is None or parse(d) is None for d in datas]
        except Exception:
            return self._check_one_by_one(datas, parse)
        if True not in nulls:
            return ConvertedBatch([KEPT_AS_TEXT] * len(nulls))
        return ConvertedBatch([None if null else KEPT_AS_TEXT for null in nulls])

    def _check_one_by_one(
        self, datas: Sequence[bytes | None], parse: Callable[[bytes], Any]
    ) -> ConvertedBatch:
        out = ConvertedBatch([])
        for i, data in enumerate(datas):
            try:
                out.values.append(None if data is None or parse(data) is None else KEPT_AS_TEXT)
                continue
            except Exception:
                pass
            try:
                # simdjson refuses a few documents orjson takes (integers past 64 bits).
                out.values.append(orjson.loads(data or b""))
            except Exception as exc:
                out.values.append(None)
                out.errors[i] = _conversion_error(exc, self)
        return out

    def _unwrap(self, parsed: list[Any], errors: dict[int, ConversionError]) -> ConvertedBatch:
        values: list[Any] = []
        schemas: list[Any] = []
        for i, doc in enumerate(parsed):
            if doc is None or i in errors:
                values.append(None)
                schemas.append(None)
            elif isinstance(doc, dict) and doc.keys() == {"schema", "payload"}:
                values.append(doc["payload"])
                schemas.append(doc["schema"])
            else:
                values.append(None)
                schemas.append(None)
                errors[i] = ConversionError(
                    'JsonConverter with schemas.enable requires "schema" and "payload" '
                    "fields and may not contain additional fields; if you are trying to "
                    "deserialize plain JSON data, set schemas.enable=false"
                )
        return ConvertedBatch(values, schemas, errors)


_CE_ATTRIBUTES = (
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
)


class CloudEventsConverter(Converter):
    """CloudEvents 1.0 in structured mode (a JSON event) or binary mode (``ce-*`` headers).

    Either way the value becomes one dict: the event's attributes (``type``, ``source``,
    ``id``, ``time``, extensions…) and ``data`` (parsed JSON when the content type is
    JSON or absent, else text, else bytes), so transforms and sinks address
    ``data.billing.cost_usd`` the same way for both modes.
    """

    @property
    def needs_headers(self) -> bool:
        return True

    @property
    def gives_schemas(self) -> bool | None:
        return False

    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        event: dict[str, Any] = {}
        content_type: bytes | None = None
        for key, value in headers or ():
            attr = _HEADER_ATTRIBUTE.get(key)
            if attr is None:
                attr = _attribute_of(key)
                if len(_HEADER_ATTRIBUTE) < _CACHE_LIMIT:
                    _HEADER_ATTRIBUTE[key] = attr
            if attr == "":
                continue
            if attr == _CONTENT_TYPE:
                content_type = value
            else:
                event[attr] = None if value is None else value.decode("utf-8", "replace")
        if "specversion" in event:
            ctype = event.get("datacontenttype")
            event["data"] = _decode_data(
                data, ctype.encode() if ctype is not None else content_type or b""
            )
            return event
        if data is None:
            return None
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or "specversion" not in doc:
            raise ConversionError(
                "not a CloudEvent: no ce-specversion header and the value is not a "
                "structured-mode event with a specversion attribute"
            )
        if "data_base64" in doc:
            doc["data"] = base64.b64decode(doc.pop("data_base64"))
        return doc


# Per header name, decided once: the CloudEvents attribute it carries ("" if none).
# Producers use a handful of names; the limit only guards against odd ones.
_CACHE_LIMIT = 1024
_HEADER_ATTRIBUTE: dict[str, str] = {}
_CONTENT_TYPE = "\0content-type"


def _attribute_of(header: str) -> str:
    lower = header.lower()
    if lower == "content-type":
        return _CONTENT_TYPE
    if lower.startswith(("ce-", "ce_")):
        return lower[3:]
    return ""


# Per content type, decided once: how to read the data.
_DATA_KIND: dict[bytes, str] = {}


def _data_kind(content_type: bytes) -> str:
    ctype = content_type.decode("latin-1").split(";")[0].strip().lower()
    if not ctype or ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    return "text" if ctype.startswith("text/") else "bytes"


def _decode_data(data: bytes | None, content_type: bytes) -> Any:
    if data is None:
        return None
    kind = _DATA_KIND.get(content_type)
    if kind is None:
        kind = _data_kind(content_type)
        if len(_DATA_KIND) < _CACHE_LIMIT:
            _DATA_KIND[content_type] = kind
    if kind == "json":
        return orjson.loads(data)
    if kind == "text":
        return data.decode("utf-8")
    return data


_BUILT_IN: dict[str, type[Converter]] = {
    "org.apache.kafka.connect.json.JsonConverter": JsonConverter,
    "json": JsonConverter,
    "org.apache.kafka.connect.storage.StringConverter": StringConverter,
    "string": StringConverter,
    "org.apache.kafka.connect.converters.ByteArrayConverter": ByteArrayConverter,
    "bytearray": ByteArrayConverter,
    "dev.offramp.converters.CloudEventsConverter": CloudEventsConverter,
    "cloudevents": CloudEventsConverter,
}

CONVERTER_PLUGINS: ExtensionGroup[Converter] = ExtensionGroup(
    "converter", "offramp.converters", Converter, _BUILT_IN
)
"""The built-ins, then the entry points of ``offramp.converters``."""


def converter_names() -> list[str]:
    """Listed class names of the converters (for ``/connector-plugins``): Kafka Connect's
    names for the built-ins, ``module:Class`` for entry points."""
    return [ext.class_name for ext in CONVERTER_PLUGINS.extensions()]


def create_converter(name: str, config: Mapping[str, Any], is_key: bool) -> Converter:
    """The converter registered as ``name`` (Kafka Connect name, short alias, entry point
    alias or ``module:Class``); its sub-config is ``config``. Errors are a
    ``ConfigError``: an unknown name under ``key.converter``/``value.converter``, a bad
    setting under its own key (the caller adds the prefix)."""
    try:
        cls = CONVERTER_PLUGINS.get(name).cls
    except PluginNotFoundError as exc:
        key = "key.converter" if is_key else "value.converter"
        raise ConfigError([(key, reason) for _, reason in exc.errors]) from None
    return cls(config, is_key)
