"""Config key definitions come from pydantic models, in Kafka Connect's shape."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from offramp.config import ConnectorSettings
from offramp.plugin import CommaList, ConfigModel
from offramp.rest.definitions import common_group, describe


class Model(ConfigModel):
    target_url: str = Field(description="Where to write")
    target_token: SecretStr = Field(SecretStr("x"), description="Credential")
    flush_timeout_ms: int = 500
    ratio: float = 0.5
    enabled: bool = True
    fields: CommaList = Field(default_factory=lambda: ["a", "b"])
    mode: Literal["insert", "upsert"] = "insert"
    level: int = Field(1, json_schema_extra={"importance": "LOW", "group": "Tuning"})


def test_types_defaults_and_documentation_map_to_kafka_connect() -> None:
    """Each field's key, type, requiredness, default and description."""
    by_name = {d["name"]: d for d in describe(Model, lambda _: "model")}
    url = by_name["target.url"]
    assert (url["type"], url["required"], url["default_value"]) == ("STRING", True, None)
    assert url["documentation"] == "Where to write" and url["importance"] == "HIGH"
    assert by_name["target.token"]["type"] == "PASSWORD"
    assert by_name["target.token"]["default_value"] == "[hidden]"
    assert by_name["flush.timeout.ms"]["type"] == "LONG"
    assert by_name["ratio"]["type"] == "DOUBLE"
    assert (by_name["enabled"]["type"], by_name["enabled"]["default_value"]) == ("BOOLEAN", "true")
    assert (by_name["fields"]["type"], by_name["fields"]["default_value"]) == ("LIST", "a,b")
    assert by_name["mode"]["_recommended"] == ["insert", "upsert"]
    assert (by_name["level"]["importance"], by_name["level"]["group"]) == ("LOW", "Tuning")
    assert [d["order"] for d in by_name.values()] == list(range(1, 9))


def test_common_settings_fall_into_kafka_connect_groups() -> None:
    """errors.* is Error Handling, topics Common, offramp's batch.* and task.* their own."""
    groups = {d["name"]: d["group"] for d in describe(ConnectorSettings, common_group)}
    assert groups["topics"] == "Common" and groups["errors.tolerance"] == "Error Handling"
    assert groups["batch.max.records"] == "Batching"
    assert groups["task.restart.enable"] == "Task Restarts"
    assert groups["transforms"] == "Transforms"
