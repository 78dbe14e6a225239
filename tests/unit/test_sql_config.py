"""The sql connector's config: keys, defaults, and every inconsistency named."""

from __future__ import annotations

from typing import Any

import pytest

from offramp.config import load_worker_config, validate_connector
from offramp.connectors.sql.config import (
    KAFKA_PK_COLUMNS,
    FieldMapping,
    SqlSinkConfig,
    parse_mapping,
)
from offramp.errors import ConfigError
from offramp.registry import PluginRegistry


def _config(**keys: Any) -> SqlSinkConfig:
    return SqlSinkConfig.model_validate({"connection.url": "sqlite:///x.db", **keys})


def _validate(**keys: Any) -> ConfigError:
    raw = {"connector.class": "sql", "topics": "calls", "connection.url": "sqlite:///x.db"}
    raw.update(keys)
    with pytest.raises(ConfigError) as caught:
        validate_connector("billing", raw, load_worker_config({}, environ={}), PluginRegistry())
    return caught.value


def test_defaults_follow_the_jdbc_sink() -> None:
    """Defaults: ${topic} tables, plain inserts, no key, no DDL, 3000-row statements."""
    config = _config()
    assert config.table_name("calls") == "calls"
    assert (config.insert_mode, config.pk_mode) == ("insert", "none")
    assert not (config.auto_create or config.auto_evolve or config.delete_enabled)
    assert config.batch_size == 3000
    assert config.offsets_table_name == "offramp_offsets"


def test_exactly_once_defaults_on_for_keyed_insert_and_upsert_only() -> None:
    """exactly.once defaults to true for insert/upsert with a key, false otherwise, and
    an explicit value wins."""
    assert _config(**{"insert.mode": "upsert", "pk.mode": "record_key"}).exactly_once_enabled
    assert _config(**{"pk.mode": "kafka"}).exactly_once_enabled
    assert not _config().exactly_once_enabled
    assert not _config(**{"insert.mode": "update", "pk.mode": "record_key"}).exactly_once_enabled
    assert _config(**{"exactly.once": "true"}).exactly_once_enabled
    keyed = {"insert.mode": "upsert", "pk.mode": "record_key", "exactly.once": "false"}
    assert not _config(**keyed).exactly_once_enabled


def test_fields_mapping_reaches_nested_fields_and_names_columns() -> None:
    """``path:column`` maps a nested path; a bare path takes its last part as column."""
    assert parse_mapping(["data.billing.cost_usd:cost_usd", "data.tenant", " id : call "]) == [
        FieldMapping(("data", "billing", "cost_usd"), "cost_usd"),
        FieldMapping(("data", "tenant"), "tenant"),
        FieldMapping(("id",), "call"),
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["data..x"], "empty part"),
        (["data.x:"], "empty column"),
        (["a.x", "b.x"], "two paths to column 'x'"),
    ],
)
def test_bad_mappings_are_refused_with_the_entry_named(entries: list[str], message: str) -> None:
    """A malformed mapping entry is a ValueError naming what is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_mapping(entries)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"insert.mode": "upsert"}, "insert.mode=upsert needs a pk.mode"),
        ({"delete.enabled": "true", "pk.mode": "kafka"}, "delete.enabled=true needs pk.mode"),
        ({"pk.mode": "record_value"}, "pk.mode=record_value needs pk.fields"),
        ({"pk.mode": "kafka", "pk.fields": "a,b"}, "takes 3 pk.fields"),
        ({"pk.fields": "id"}, "pk.mode=none ignores it"),
        ({"bulk.method": "copy"}, "bulk.method=copy needs a PostgreSQL"),
        ({"connection.url": "not a url"}, "connection.url is not a valid SQLAlchemy URL"),
        ({"table.name.format": "${env}_x"}, "only ${topic} is replaced"),
        ({"insert.mode": "merge"}, "insert.mode"),
        ({"batch.size": "0"}, "batch.size"),
        ({"connection.uri": "x"}, "connection.uri: unknown configuration key"),
        (
            {"pk.mode": "record_value", "pk.fields": "id", "fields.mapping": "data.x"},
            "pk.fields id not produced by fields.mapping",
        ),
    ],
)
def test_inconsistent_configs_fail_validation_naming_the_keys(
    keys: dict[str, str], message: str
) -> None:
    """Every inconsistent or unknown setting is refused before anything starts."""
    assert message in str(_validate(**keys))


def test_credentials_keys_replace_the_urls_and_the_password_stays_masked() -> None:
    """connection.user/password override the URL's; the password never shows in repr."""
    config = _config(
        **{
            "connection.url": "postgresql+psycopg://u:p@db:5432/billing",
            "connection.user": "billing",
            "connection.password": "s3cret",
        }
    )
    assert config.url.username == "billing"
    assert config.url.password == "s3cret"
    assert "s3cret" not in repr(config)


def test_kafka_key_columns_have_connect_names_by_default() -> None:
    """pk.mode=kafka keys on __connect_topic/partition/offset unless renamed."""
    assert _config(**{"pk.mode": "kafka"}).key_columns == KAFKA_PK_COLUMNS
    named = _config(**{"pk.mode": "kafka", "pk.fields": "t,p,o"})
    assert named.key_columns == ("t", "p", "o")


def test_the_registered_plugin_validates_a_billing_config() -> None:
    """The ``sql`` entry point resolves and accepts the billing example's keys."""
    raw = {
        "connector.class": "sql",
        "topics": "calls",
        "connection.url": "sqlite:///var/demo/billing.db",
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "pk.fields": "call_id",
        "fields.mapping": "data.tenant,data.billing.cost_usd:cost_usd",
        "auto.create": "true",
    }
    config = validate_connector(
        "billing", raw, load_worker_config({}, environ={}), PluginRegistry()
    )
    assert config.plugin.alias == "sql"
