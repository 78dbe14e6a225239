"""Avro, Protobuf and JSON Schema converters in Confluent's wire format.

A value is a magic byte 0, the schema's 4-byte id (big-endian), for Protobuf the list
of message indexes (zigzag varints), then the encoded record; confluent-kafka's
``SchemaId`` reads that header. The writer's schema comes from the registry by id,
through confluent-kafka's ``SchemaRegistryClient`` (which caches it: one request per
schema id per converter), and is decoded by confluent-kafka's ``AvroDeserializer`` or
``JSONDeserializer``. Its ``ProtobufDeserializer`` needs the compiled message class,
which a sink doesn't have, so Protobuf builds the class from the registry's descriptor
with confluent-kafka's own helpers instead, with the files it imports (the schema's
``references``, each a registered subject and version) added to the pool first.

Each record's Kafka Connect schema (``offramp.schemas.connect``) rides with its value,
as ``JsonConverter``'s envelope schema does. A registry that can't be reached or
answers 5xx raises ``RetriableError`` for the whole batch (the task retries it, nothing
is dead-lettered); bytes that don't decode (no magic byte, an id the registry doesn't
know, a record the schema can't read) fail that record with the reason.
"""

from __future__ import annotations

import functools
import io
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.common._httpx_compat import httpx
from confluent_kafka.schema_registry.common.protobuf import _init_pool, _is_builtin, _str_to_proto
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from offramp.converters import ConvertedBatch, Converter
from offramp.errors import ConfigError, ConversionError, FatalError, RetriableError
from offramp.records import Headers
from offramp.schemas import connect
from offramp.schemas.avro_values import Fix, value_fixer
from offramp.schemas.client import client_config

__all__ = ["AvroConverter", "JsonSchemaConverter", "ProtobufConverter", "RegistryConverter"]


class RegistryConverter(Converter):
    """What the three formats share: the header, the registry, the error classes."""

    schema_type = "AVRO"

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        super().__init__(config, is_key)
        conf = client_config(config)
        self.registry = _without_user_info(conf["url"])  # messages name it, never a password
        try:
            self.client = SchemaRegistryClient(conf)
        except ValueError as exc:
            raise ConfigError([("schema.registry.url", str(exc))]) from None
        self._connect_schemas: dict[int, dict[str, Any]] = {}

    def convert(self, data: bytes | None, headers: Headers | None) -> Any:
        return self.decode(data)[0]

    @property
    def gives_schemas(self) -> bool | None:
        return True

    def close(self) -> None:
        """Closes the registry client's connections."""
        self.client.close()

    def convert_batch(
        self, datas: Sequence[bytes | None], headers: Sequence[Any] | None
    ) -> ConvertedBatch:
        out = ConvertedBatch([], [])
        assert out.schemas is not None
        for i, data in enumerate(datas):
            try:
                value, schema = self.decode(data)
            except (RetriableError, FatalError):
                raise  # the whole batch waits for the registry, or the task fails
            except Exception as exc:
                value, schema = None, None
                part = "key" if self.is_key else "value"
                err = ConversionError(f"{type(self).__name__} could not convert the {part}: {exc}")
                err.__cause__ = exc
                out.errors[i] = err
            out.values.append(value)
            out.schemas.append(schema)
        return out

    def decode(self, data: bytes | None) -> tuple[Any, dict[str, Any] | None]:
        """The value and its Connect schema (None, None for a tombstone)."""
        if data is None:
            return None, None
        header = SchemaId(self.schema_type)
        payload = io.BytesIO(data)
        if len(data) < 5 or data[0] != 0:
            raise ConversionError(
                f"unknown magic byte {data[:1].hex() or 'none'}: not in Confluent's wire format "
                "(magic byte 0 and a 4-byte schema id)"
            )
        header.from_bytes(payload)
        schema_id = int(header.id or 0)
        self._fetch(schema_id)
        return self.read(data, schema_id, header, payload)

    def _fetch(self, schema_id: int) -> Any:
        """The writer's schema (cached by the client); a registry that doesn't answer
        is transient, an id it doesn't know is the record's fault."""
        return self.ask_registry(
            f"schema id {schema_id}",
            lambda: self.client.get_schema(schema_id, fmt=self.fetch_format),
        )

    def ask_registry(self, what: str, call: Callable[[], Any]) -> Any:
        """``call``'s answer. A 404 (``what`` isn't there) fails the record with
        ``ConversionError``; credentials refused (401, 403) or a certificate not trusted
        fail the task with ``FatalError``, as the brokers' do: waiting can't mend a
        config (a failed task restarts with backoff, and a new config restarts it).
        Anything else (5xx, no answer) is a ``RetriableError``."""
        where = f"the schema registry at {self.registry}"
        try:
            return call()
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            if status == 404:
                raise ConversionError(
                    f"{what} is not in the registry ({exc.error_code}: {exc.error_message})"
                ) from None
            if status in (401, 403):
                raise FatalError(
                    f"{where} refused the credentials ({status} {exc.error_message}) asking "
                    f"for {what}: check basic.auth.credentials.source and basic.auth.user.info"
                ) from exc
            raise RetriableError(
                f"{where} answered {status} for {what}: {exc.error_message}"
            ) from exc
        except (httpx.TransportError, ssl.SSLError) as exc:  # the client's httpx (or httpx2)
            if _untrusted(exc):
                raise FatalError(
                    f"{where} presented a certificate that isn't trusted ({exc}): check "
                    "schema.registry.ssl.truststore.location"
                ) from exc
            raise RetriableError(f"{where} can't be reached: {exc}") from exc

    fetch_format: str | None = None

    def connect_schema(
        self, schema_id: int, translate: Callable[[Any], dict[str, Any]]
    ) -> dict[str, Any]:
        """The writer's schema (JSON text) as a Connect schema, once per id."""
        schema = self._connect_schemas.get(schema_id)
        if schema is None:
            schema = translate(orjson.loads(self._fetch(schema_id).schema_str))
            self._connect_schemas[schema_id] = schema
        return schema

    def read(
        self, data: bytes, schema_id: int, header: SchemaId, payload: io.BytesIO
    ) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError


class AvroConverter(RegistryConverter):
    """``io.confluent.connect.avro.AvroConverter``: Avro records (dicts), the logical
    types Kafka Connect knows as Python values (Decimal, date, time, datetime), the
    others as their underlying type (``avro_values``)."""

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        super().__init__(config, is_key)
        self._deserializer = AvroDeserializer(self.client)
        self._fixes: dict[int, Fix | None] = {}  # per schema id (see avro_values)
        # Kafka Connect's AvroData key (default true): Avro docs kept as parameters.
        meta = str(config.get("connect.meta.data", "true")).strip().lower()
        if meta not in ("true", "false"):
            raise ConfigError([("connect.meta.data", f"must be true or false, got {meta!r}")])
        self._translate = functools.partial(connect.from_avro, docs=meta == "true")

    def read(
        self, data: bytes, schema_id: int, header: SchemaId, payload: io.BytesIO
    ) -> tuple[Any, dict[str, Any]]:
        value = self._deserializer(data, None)
        if schema_id not in self._fixes:
            self._fixes[schema_id] = value_fixer(orjson.loads(self._fetch(schema_id).schema_str))
        fix = self._fixes[schema_id]
        if fix is not None:
            value = fix(value)
        return value, self.connect_schema(schema_id, self._translate)


class JsonSchemaConverter(RegistryConverter):
    """``io.confluent.connect.json.JsonSchemaConverter``: JSON documents validated
    against their registered JSON Schema."""

    schema_type = "JSON"

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        super().__init__(config, is_key)
        # The writer's schema by id is all a sink reads with: the topic strategy (with
        # no latest-version lookup) asks the registry for nothing else.
        self._deserializer = JSONDeserializer(
            None,
            schema_registry_client=self.client,
            conf={"subject.name.strategy": topic_subject_name_strategy},
        )
        part = MessageField.KEY if is_key else MessageField.VALUE
        self._context = SerializationContext("", part)

    def read(
        self, data: bytes, schema_id: int, header: SchemaId, payload: io.BytesIO
    ) -> tuple[Any, dict[str, Any]]:
        value = self._deserializer(data, self._context)
        return value, self.connect_schema(schema_id, connect.from_json_schema)


class ProtobufConverter(RegistryConverter):
    """``io.confluent.connect.protobuf.ProtobufConverter``: the message the header's
    indexes name, as a dict by field name (enums by name, unset messages None)."""

    schema_type = "PROTOBUF"
    fetch_format = "serialized"  # the registry answers a base64 FileDescriptorProto

    def __init__(self, config: Mapping[str, Any], is_key: bool) -> None:
        super().__init__(config, is_key)
        # Per (schema id, message indexes): the message class and its Connect schema.
        self._classes: dict[tuple[int, tuple[int, ...]], tuple[type[Message], dict[str, Any]]] = {}

    def read(
        self, data: bytes, schema_id: int, header: SchemaId, payload: io.BytesIO
    ) -> tuple[Any, dict[str, Any]]:
        indexes = tuple(header.message_indexes or [0])
        found = self._classes.get((schema_id, indexes))
        if found is None:
            found = self._message_class(schema_id, indexes)
            self._classes[(schema_id, indexes)] = found
        cls, schema = found
        message = cls()
        message.ParseFromString(payload.read())
        return _message_dict(message), schema

    def _message_class(
        self, schema_id: int, indexes: tuple[int, ...]
    ) -> tuple[type[Message], dict[str, Any]]:
        writer = self._fetch(schema_id)
        pool = DescriptorPool()
        _init_pool(pool)
        self._add_references(pool, writer.references or [], set())
        proto = _str_to_proto("default", writer.schema_str)
        pool.Add(proto)
        file = pool.FindFileByName(proto.name)
        messages: Any = file.message_types_by_name.values()
        descriptor: Descriptor | None = None
        for index in indexes:
            ordered = list(messages)
            if index >= len(ordered):
                raise ConversionError(f"message index {list(indexes)} is not in schema {schema_id}")
            descriptor = ordered[index]
            messages = descriptor.nested_types
        assert descriptor is not None
        return GetMessageClass(descriptor), connect.from_protobuf(descriptor)

    def _add_references(self, pool: DescriptorPool, references: Any, added: set[str]) -> None:
        """The files a schema imports, each from the subject and version its reference
        names, added to ``pool`` before the files that import them (depth first); the
        well-known types (``google/protobuf/…``, ``confluent/…``) are in the pool already,
        as ProtobufSerializer doesn't register them."""
        for ref in references:
            if ref.name is None or _is_builtin(ref.name) or ref.name in added:
                continue
            added.add(ref.name)
            what = f"reference {ref.name!r} (subject {ref.subject!r} version {ref.version})"
            fetch = functools.partial(
                self.client.get_version, ref.subject, ref.version, True, "serialized"
            )
            registered = self.ask_registry(what, fetch)
            schema = registered.schema
            self._add_references(pool, schema.references or [], added)
            pool.Add(_str_to_proto(ref.name, schema.schema_str))


def _without_user_info(urls: str) -> str:
    """The registry URLs (comma-separated) with any ``user:password@`` taken out."""
    out = []
    for url in urls.split(","):
        split = urlsplit(url.strip())
        out.append(split._replace(netloc=split.netloc.rpartition("@")[2]).geturl())
    return ",".join(out)


def _untrusted(exc: BaseException) -> bool:
    """Whether a transport failure is a certificate that failed verification."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _field_value(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return value.ToJsonString()
        return _message_dict(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        number = field.enum_type.values_by_number.get(value)
        return number.name if number is not None else value
    return value


def _message_dict(message: Any) -> dict[str, Any]:  # protobuf descriptors, loosely typed
    """Every field by name: proto3 scalars with their value or default, an unset
    message field (or optional scalar) None; 64-bit integers stay integers."""
    out: dict[str, Any] = {}
    fields: Any = message.DESCRIPTOR.fields
    for field in fields:
        value = getattr(message, field.name)
        if connect.repeated(field):
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                out[field.name] = {k: _field_value(value_field, v) for k, v in value.items()}
            else:
                out[field.name] = [_field_value(field, v) for v in value]
        elif field.has_presence and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _field_value(field, value)
    return out
