"""The ``sql`` connector's config: Confluent/Debezium JDBC sink keys, checked up front.

Column mapping (``fields.mapping``) is a comma-separated list of ``path:column``
entries; ``path`` is a dotted path into the record value (``data.billing.cost_usd``)
and ``:column`` may be left out to use the path's last part (``data.tenant`` →
``tenant``). With a mapping, exactly the mapped columns are written; without one, the
value's top-level fields are.

A config written for Confluent's JDBC sink works as it is where the keys mean the same:
``connection.url`` may be a ``jdbc:`` URL (``offramp.connectors.sql.jdbc``), and the
keys whose Confluent default is the only behaviour here (``dialect.name`` matching the
URL, ``table.types=TABLE``, ``db.timezone=UTC``, ``quote.sql.identifiers=always``) are
accepted; the others are refused by name with what to use instead (``refused_keys``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from offramp import CommaList, ConfigModel
from offramp.connectors.sql.jdbc import from_jdbc

__all__ = ["KAFKA_PK_COLUMNS", "FieldMapping", "SqlSinkConfig", "parse_mapping"]

KAFKA_PK_COLUMNS = ("__connect_topic", "__connect_partition", "__connect_offset")
TOPIC_PLACEHOLDER = "${topic}"


@dataclass(frozen=True)
class FieldMapping:
    """One ``fields.mapping`` entry: where in the value, and which column it fills."""

    path: tuple[str, ...]
    column: str


def parse_mapping(entries: list[str]) -> list[FieldMapping]:
    """``["data.billing.cost_usd:cost_usd", "data.tenant"]`` → mappings; ValueError
    naming the bad entry otherwise."""
    mappings: list[FieldMapping] = []
    seen: set[str] = set()
    for entry in entries:
        source, sep, column = entry.partition(":")
        path = tuple(part.strip() for part in source.split("."))
        if not all(path):
            raise ValueError(f"fields.mapping entry {entry!r}: empty part in path {source!r}")
        column = column.strip() if sep else path[-1]
        if not column:
            raise ValueError(f"fields.mapping entry {entry!r}: empty column name after ':'")
        if column in seen:
            raise ValueError(f"fields.mapping maps two paths to column {column!r}")
        seen.add(column)
        mappings.append(FieldMapping(path, column))
    return mappings


_RETRIES = (
    "offramp retries a transient database error itself, on a fresh connection, for "
    "errors.retry.timeout ms (default -1: until the database is back) with a backoff "
    "doubling from 300 ms up to errors.retry.delay.max.ms; remove {key} (or set those)"
)
_DIALECTS = {
    "PostgreSqlDatabaseDialect": "postgresql",
    "MySqlDatabaseDialect": "mysql",
    "SqliteDatabaseDialect": "sqlite",
}


class SqlSinkConfig(ConfigModel):
    refused_keys: ClassVar[dict[str, str]] = {
        "max.retries": _RETRIES.format(key="max.retries"),
        "retry.backoff.ms": _RETRIES.format(key="retry.backoff.ms"),
        "connection.attempts": _RETRIES.format(key="connection.attempts"),
        "connection.backoff.ms": _RETRIES.format(key="connection.backoff.ms"),
        "mssql.use.merge.holdlock": "SQL Server is not supported; offramp writes to "
        "PostgreSQL, MySQL/MariaDB and SQLite",
        "trim.sensitive.log": "offramp never logs record values and masks "
        "connection.password everywhere; remove trim.sensitive.log",
        "connection.*": "JDBC driver properties don't reach the Python drivers; give the "
        "driver's options in connection.url's query string",
    }
    """Confluent JDBC sink keys that have no same-meaning setting here, and why."""

    connection_url: str = Field(
        description="SQLAlchemy URL of the database: postgresql+psycopg://host:5432/db, "
        "sqlite:///path/to/file.db, mysql+pymysql://host/db; or a JDBC URL "
        "(jdbc:postgresql://host:5432/db?user=u&password=p, jdbc:mysql://host/db, "
        "jdbc:sqlite:file.db), translated"
    )
    connection_user: str | None = Field(None, description="User name; replaces the URL's")
    connection_password: SecretStr | None = Field(
        None, description="Password; replaces the URL's (masked in responses and logs)"
    )
    table_name_format: str = Field(
        TOPIC_PLACEHOLDER,
        description="Table for a record; ${topic} is replaced by the record's topic",
    )
    insert_mode: Literal["insert", "upsert", "update"] = Field(
        "insert",
        description="insert: plain INSERT; upsert: insert or replace by key; "
        "update: UPDATE rows that exist by key",
    )
    pk_mode: Literal["none", "kafka", "record_key", "record_value"] = Field(
        "none",
        description="Where the primary key comes from: nothing, the Kafka coordinates, "
        "the record key, or fields of the value",
    )
    pk_fields: CommaList = Field(
        default_factory=list,
        description="Key columns: kafka → 3 names for topic, partition, offset "
        "(default __connect_topic,__connect_partition,__connect_offset); record_key → the "
        "column for a primitive key, or the key's fields (default: all) for a JSON object "
        "key; record_value → the value columns that form the key (required)",
    )
    fields_whitelist: CommaList = Field(
        default_factory=list,
        description="Only these value columns are written (after fields.mapping); "
        "empty: all. Key columns are always written",
    )
    fields_mapping: CommaList = Field(
        default_factory=list,
        description="path:column entries choosing value fields, nested ones by dotted "
        "path (data.billing.cost_usd:cost_usd); empty: the value's top-level fields",
    )
    auto_create: bool = Field(False, description="CREATE TABLE when the table is missing")
    auto_evolve: bool = Field(
        False, description="ALTER TABLE … ADD COLUMN (nullable) for fields with no column"
    )
    delete_enabled: bool = Field(
        False,
        description="A tombstone (null value) deletes the row by key; needs pk.mode=record_key",
    )
    batch_size: int = Field(
        3000, ge=1, description="Rows per executemany call within the batch's transaction"
    )
    exactly_once: bool | None = Field(
        None,
        description="Store each partition's next offset in the offsets table in the same "
        "transaction as the rows and resume from it; default: true for insert and upsert "
        "with a pk.mode other than none",
    )
    offsets_table_name: str = Field(
        "offramp_offsets", min_length=1, description="Table holding the exactly-once offsets"
    )
    bulk_method: Literal["auto", "copy", "executemany"] = Field(
        "auto",
        description="auto: COPY on PostgreSQL with psycopg, executemany elsewhere; copy: "
        "always COPY (PostgreSQL with psycopg only); executemany: pipelined statements",
    )

    dialect_name: str = Field(
        "",
        description="Accepted for Confluent configs: empty, or the dialect of "
        "connection.url (PostgreSqlDatabaseDialect, MySqlDatabaseDialect, "
        "SqliteDatabaseDialect); offramp picks it from the URL",
    )
    table_types: CommaList = Field(
        default_factory=lambda: ["TABLE"],
        description="Accepted for Confluent configs: only TABLE (rows go into tables)",
    )
    db_timezone: str = Field(
        "UTC",
        description="Accepted for Confluent configs: only UTC (timestamps are written in UTC)",
    )
    quote_sql_identifiers: str = Field(
        "always",
        description="Accepted for Confluent configs: only always (names are always quoted)",
    )

    @field_validator("connection_url", mode="before")
    @classmethod
    def _jdbc(cls, value: Any) -> Any:
        return from_jdbc(value) if isinstance(value, str) else value

    @field_validator("dialect_name")
    @classmethod
    def _dialect(cls, value: str, info: ValidationInfo) -> str:
        name = value.strip()
        if not name:
            return name
        if name not in _DIALECTS:
            raise ValueError(
                f"dialect.name {name!r} is not supported; offramp writes to "
                f"{', '.join(_DIALECTS)} databases (and picks the dialect from connection.url)"
            )
        url = info.data.get("connection_url")
        backend = _backend(url) if isinstance(url, str) else None
        if backend is not None and backend != _DIALECTS[name]:
            raise ValueError(f"dialect.name {name} doesn't match the {backend} connection.url")
        return name

    @field_validator("table_types")
    @classmethod
    def _tables_only(cls, value: list[str]) -> list[str]:
        if [v.upper() for v in value] != ["TABLE"]:
            raise ValueError(
                f"table.types {','.join(value)!r}: only TABLE is supported (no writes into views)"
            )
        return value

    @field_validator("quote_sql_identifiers")
    @classmethod
    def _quoted(cls, value: str) -> str:
        if value.strip().lower() != "always":
            raise ValueError(
                f"quote.sql.identifiers {value!r}: only always is supported (table and "
                "column names are always quoted, so calls-eu is a valid table)"
            )
        return value

    @field_validator("db_timezone")
    @classmethod
    def _utc(cls, value: str) -> str:
        if value.strip() not in ("UTC", "Etc/UTC", "Z", "GMT"):
            raise ValueError(
                f"db.timezone {value!r}: only UTC is supported (offramp writes Connect "
                "timestamps in UTC; timestamptz columns show them in any zone)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SqlSinkConfig:
        url = self.url  # raises with the key named if malformed
        if "${" in self.table_name_format.replace(TOPIC_PLACEHOLDER, ""):
            raise ValueError(
                f"table.name.format {self.table_name_format!r}: only ${{topic}} is replaced"
            )
        if self.insert_mode in ("upsert", "update") and self.pk_mode == "none":
            raise ValueError(f"insert.mode={self.insert_mode} needs a pk.mode other than none")
        if self.delete_enabled and self.pk_mode != "record_key":
            raise ValueError("delete.enabled=true needs pk.mode=record_key")
        if self.pk_mode == "record_value" and not self.pk_fields:
            raise ValueError("pk.mode=record_value needs pk.fields naming the key columns")
        if self.pk_mode == "kafka" and self.pk_fields and len(self.pk_fields) != 3:
            raise ValueError(
                "pk.mode=kafka takes 3 pk.fields (topic, partition and offset columns), "
                f"got {len(self.pk_fields)}"
            )
        if self.pk_mode == "none" and self.pk_fields:
            raise ValueError("pk.fields is set but pk.mode=none ignores it")
        mappings = parse_mapping(self.fields_mapping)
        if self.pk_mode == "record_value" and mappings:
            mapped = {m.column for m in mappings}
            missing = [f for f in self.pk_fields if f not in mapped]
            if missing:
                raise ValueError(f"pk.fields {', '.join(missing)} not produced by fields.mapping")
        if self.bulk_method == "copy" and url.get_backend_name() != "postgresql":
            raise ValueError("bulk.method=copy needs a PostgreSQL connection.url")
        if self.bulk_method == "copy" and url.get_driver_name() != "psycopg":
            raise ValueError("bulk.method=copy needs the psycopg driver (postgresql+psycopg://)")
        return self

    @property
    def url(self) -> URL:
        """``connection.url`` with ``connection.user``/``connection.password`` applied."""
        try:
            url = make_url(self.connection_url)
        except ArgumentError as exc:
            raise ValueError(f"connection.url is not a valid SQLAlchemy URL: {exc}") from None
        if self.connection_user is not None:
            url = url.set(username=self.connection_user)
        if self.connection_password is not None:
            url = url.set(password=self.connection_password.get_secret_value())
        return url

    @property
    def mappings(self) -> list[FieldMapping]:
        return parse_mapping(self.fields_mapping)

    @property
    def exactly_once_enabled(self) -> bool:
        if self.exactly_once is not None:
            return self.exactly_once
        return self.insert_mode in ("insert", "upsert") and self.pk_mode != "none"

    @property
    def key_columns(self) -> tuple[str, ...]:
        """Key column names known from the config alone (record_key with an object key
        and no pk.fields takes the key's own field names, known per batch)."""
        if self.pk_mode == "kafka":
            return tuple(self.pk_fields) or KAFKA_PK_COLUMNS
        if self.pk_mode in ("record_key", "record_value"):
            return tuple(self.pk_fields)
        return ()

    def table_name(self, topic: str) -> str:
        return self.table_name_format.replace(TOPIC_PLACEHOLDER, topic)


def _backend(url: str) -> str | None:
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        return None
