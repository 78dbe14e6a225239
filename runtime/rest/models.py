"""Request and response bodies, as pydantic models: they validate what comes in and
make ``/openapi.json``. Responses are built as plain dicts (see ``shapes``); the
response models here document them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AlterOffsetsRequest",
    "ConfigInfo",
    "ConfigKeyInfo",
    "ConfigValue",
    "ConfigValueInfo",
    "ConnectorInfo",
    "ConnectorStateBody",
    "ConnectorStatus",
    "CreateConnectorRequest",
    "ErrorBody",
    "HealthBody",
    "LoggerLevel",
    "MessageBody",
    "OffsetRef",
    "OffsetsBody",
    "PartitionOffsetBody",
    "PartitionRef",
    "PluginInfoBody",
    "ServerInfo",
    "SetLoggerLevel",
    "TaskConfigBody",
    "TaskId",
    "TaskStatusBody",
    "ValidationResult",
]

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1

ConfigValue = str | int | float | bool
"""Kafka Connect configs are string maps; numbers and booleans are accepted and stored
as strings."""


class ErrorBody(BaseModel):
    error_code: int
    message: str


class MessageBody(BaseModel):
    message: str


class ServerInfo(BaseModel):
    version: str
    commit: str
    kafka_cluster_id: str | None


class HealthBody(BaseModel):
    status: Literal["healthy", "starting", "unhealthy"]
    message: str


class CreateConnectorRequest(BaseModel):
    name: str | None = Field(None, description="Connector name (or config's 'name')")
    config: dict[str, ConfigValue] = Field(default_factory=dict)
    initial_state: Literal["RUNNING", "PAUSED", "STOPPED"] | None = None


class TaskId(BaseModel):
    connector: str
    task: int


class ConnectorInfo(BaseModel):
    name: str
    config: dict[str, str]
    tasks: list[TaskId]
    type: Literal["sink"]


class ConnectorStateBody(BaseModel):
    state: str
    worker_id: str
    trace: str | None = None


class TaskStatusBody(BaseModel):
    id: int
    state: str
    worker_id: str
    trace: str | None = None
    message: str | None = Field(None, description="offramp: why a running task waits")


class ConnectorStatus(BaseModel):
    name: str
    connector: ConnectorStateBody
    tasks: list[TaskStatusBody]
    type: Literal["sink"]


class TaskConfigBody(BaseModel):
    id: TaskId
    config: dict[str, str]


class PartitionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kafka_topic: str = Field(min_length=1, max_length=249)
    kafka_partition: int = Field(ge=0, le=MAX_INT32)


class OffsetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kafka_offset: int | None = Field(None, ge=0, le=MAX_INT64)
    kafka_timestamp_ms: int | None = Field(
        None, ge=0, le=MAX_INT64, description="offramp extension: first record at or after"
    )

    @model_validator(mode="after")
    def _one(self) -> OffsetRef:
        if (self.kafka_offset is None) == (self.kafka_timestamp_ms is None):
            raise ValueError("give exactly one of kafka_offset and kafka_timestamp_ms")
        return self


class PartitionOffsetBody(BaseModel):
    partition: PartitionRef
    offset: OffsetRef | None = Field(description="null: start of the partition")


class OffsetsBody(BaseModel):
    offsets: list[PartitionOffsetBody]


class AlterOffsetsRequest(BaseModel):
    offsets: list[PartitionOffsetBody] = Field(default_factory=list)


class PluginInfoBody(BaseModel):
    class_: str = Field(alias="class")
    type: str
    version: str


class ConfigKeyInfo(BaseModel):
    name: str
    type: str
    required: bool
    default_value: str | None
    importance: str
    documentation: str
    group: str
    width: str
    display_name: str
    dependents: list[str]
    order: int


class ConfigValueInfo(BaseModel):
    name: str
    value: str | None
    recommended_values: list[str]
    errors: list[str]
    visible: bool


class ConfigInfo(BaseModel):
    definition: ConfigKeyInfo
    value: ConfigValueInfo


class ValidationResult(BaseModel):
    name: str
    error_count: int
    groups: list[str]
    configs: list[ConfigInfo]
    check: str | None = Field(
        None,
        description="offramp: with ?check=true, what the plug-in's check() found (null "
        "when the config has errors or the check failed: its error is under its key)",
    )


class LoggerLevel(BaseModel):
    level: str
    last_modified: int | None


class SetLoggerLevel(BaseModel):
    level: str = Field(description="OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE or ALL")
