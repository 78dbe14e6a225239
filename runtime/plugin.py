"""The plug-in API: what a connector author writes.

A connector is a ``SinkConnector`` subclass naming a config model (a ``ConfigModel``,
i.e. pydantic, keyed by Kafka Connect-style dotted names) and building one
``BatchWriter`` per task. The runtime does everything else: consuming, converting,
transforming, batching, retrying, dead-lettering, committing, status and metrics.

    class ArchiveConfig(ConfigModel):
        bucket_name: str = Field(description="Where objects go")   # key: bucket.name

    class ArchiveConnector(SinkConnector[ArchiveConfig]):
        config_model = ArchiveConfig

        def create_writer(self, config, context):
            return ArchiveWriter(config)

Register it under the entry-point group ``offramp.connectors`` and it can be named in a
connector config by its short alias or its ``module:Class`` path.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from offramp.commas import split_commas
from offramp.errors import FatalError, OfframpError
from offramp.records import SinkRecord, TopicPartition

if TYPE_CHECKING:
    from offramp.converters import Converter

__all__ = [
    "BatchWriter",
    "CommaList",
    "ConfigModel",
    "RecordFailure",
    "SinkConnector",
    "TaskContext",
    "check_errors",
    "dotted",
]


def dotted(field_name: str) -> str:
    """``flush_size`` → ``flush.size``: Kafka Connect's key for a Python field name."""
    return field_name.replace("_", ".")


def _split_commas(value: Any) -> Any:
    return split_commas(value) if isinstance(value, str) else value


CommaList = Annotated[list[str], BeforeValidator(_split_commas)]
"""A list given as Kafka Connect does, ``"a,b,c"``, or as a JSON list."""


class ConfigModel(BaseModel):
    """Base of connector config models: dotted keys, string values coerced, no unknowns.

    Fields are named in snake_case and read from dotted keys (``s3_bucket_name`` ←
    ``s3.bucket.name``); give ``Field(alias=...)`` where a key doesn't follow the rule.
    Typing a field ``SecretStr`` masks it in every response and log line.
    """

    model_config = ConfigDict(
        alias_generator=dotted,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
    )


ConfigT = TypeVar("ConfigT", bound=ConfigModel)


@dataclass(frozen=True)
class RecordFailure:
    """One record the sink could not write, and why.

    ``context`` adds headers to its dead letter (e.g. the target's error category), next
    to Kafka Connect's ``__connect.errors.*`` headers.
    """

    record: SinkRecord
    error: BaseException
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TaskContext:
    """What the runtime tells a writer about the task it runs in, and where the writer
    reports what no write's outcome says (``write_refused``)."""

    connector_name: str
    task_id: int
    connector_config: Mapping[str, str]
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("offramp.sink"))
    # Set by the runtime (the task's metrics); None outside a worker, e.g. in a test.
    on_write_refused: Callable[[int], None] | None = field(default=None, repr=False)

    def write_refused(self, count: int = 1) -> None:
        """Count ``count`` writes the target refused because another owner of the same
        records got there first (a compare-and-set that found newer offsets, a
        conditional upload answered 412): the fencing of a zombie task at work, shown as
        ``offramp_sink_write_refused_total``. Safe to call from any thread."""
        if self.on_write_refused is not None:
            self.on_write_refused(count)


class BatchWriter(ABC):
    """Writes batches for one task. Called from the task's thread only, except a
    ``pipelined`` writer's ``write`` (see there).

    ``write`` either returns normally (every record written, except those returned as
    ``RecordFailure``), or raises a ``SinkError`` (see ``offramp.errors``) meaning none
    of the batch can be assumed written; any other exception fails the task. Writes
    must be idempotent: after a crash the records since the last commit are delivered
    again, and a retried write may get fewer records (a partition revoked meanwhile).
    """

    pipelined: ClassVar[bool] = False
    """True lets ``write`` run on a thread of its own while the task reads and converts
    the next batch (one batch in flight at most). Worth it when a write mostly waits on
    the target (a database doing the work). Only ``prepare`` runs alongside a
    ``write``; the writer's other methods never run at the same time as each other."""

    fills_batches: ClassVar[bool] = False
    """True keeps filling a batch up to ``batch.max.age.ms`` even when the task has
    caught up, for a writer that pays per call (a rate-limited API). By default a
    caught-up task writes within milliseconds of reading (see ``offramp.task.batching``)."""

    stores_json_text: ClassVar[bool] = False
    """True when ``write`` stores ``record.value_json`` as it is wherever that isn't
    None, instead of encoding ``record.value`` again (an archive of JSON lines). With a
    schemaless JSON value converter the runtime then checks each value is valid JSON
    without decoding it (decoding is most of the JSON path's cost) and decodes only the
    values something reads; bad JSON still fails conversion as usual."""

    def open(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int] | None:
        """Partitions were assigned. Return offsets to start from if the sink stores its
        own (exactly-once sinks); None to use the consumer group's committed offsets."""
        return None

    def prepare(self, records: Sequence[SinkRecord]) -> None:  # noqa: B027
        """A pipelined writer's head start on a batch, on the task's thread.

        Called with the very list the next ``write`` gets, while the previous batch's
        ``write`` may still be running on the write thread: work done here (building
        rows, encoding payloads) overlaps the target's work on that batch instead of
        adding to it. Keep the result for ``write`` (find it by identity: ``records is
        ...``), and touch no client ``write`` uses. ``write`` must work without it: a
        retry, a bisected half or a batch a rebalance trimmed comes unprepared. An
        exception here costs only the head start: the runtime logs it, and ``write``
        does the work again and reports what is wrong."""

    @abstractmethod
    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        """Write ``records`` (in partition order) durably before returning."""

    def pre_commit(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, int]:
        """The runtime is about to commit ``offsets`` (next offset per partition).
        Return what is really durable: a sink that buffers (S3's open files) returns
        less. The default trusts that ``write`` made everything durable. Raising
        ``RetriableError`` means nothing can be confirmed now (an upload is failing):
        nothing commits, the task's status says why, and the next commit asks again."""
        return offsets

    def close(self, partitions: Sequence[TopicPartition]) -> None:  # noqa: B027
        """Partitions were revoked: drop any state kept for them."""

    def stop(self) -> None:  # noqa: B027
        """The task is stopping: release clients and connections."""


def check_errors(
    connector: SinkConnector[Any], config: ConfigModel, given: Iterable[str] = ()
) -> tuple[str, list[tuple[str, str]]]:
    """Run ``connector.check(config)`` for a validation: (what it found, []) or ("",
    [(key, reason)]). The key is the ``FatalError``'s own, else the first config key
    (of the model's and the ``given`` ones) its message names, else ``connector.class``.
    """
    try:
        return connector.check(config), []
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, OfframpError):
            message = f"{type(exc).__name__}: {message}"
        key = exc.key if isinstance(exc, FatalError) else None
        if not key:
            own = {info.alias or name for name, info in type(config).model_fields.items()}
            keys = {k for k in own | set(given) if "." in k}
            named = [(m.start(), k) for k in keys if (m := _named(k).search(message))]
            key = min(named)[1] if named else "connector.class"
        return "", [(key, f"check failed: {message}")]


def _named(key: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(key)}(?![\w.]*\w)")


class SinkConnector(ABC, Generic[ConfigT]):
    """A connector plug-in: a config model, a writer factory and an optional check."""

    config_model: ClassVar[type[ConfigModel]]
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""

    check_at_start: ClassVar[bool] = False
    """True makes every task run ``check`` before it builds its writer (a ``FatalError``
    fails the task with its message). For checks that are cheap and local (a directory
    is writable); a check that calls the target would turn an outage the writer rides
    out with retries into a failed task."""

    def check(self, config: ConfigT) -> str:
        """Test the connection with these settings; return what was found (a version,
        a bucket, a portal). Raise ``FatalError`` with a clear message if unusable
        (``key=`` names the config key at fault). Runs on request (``config/validate
        ?check=true``, ``offramp validate --check``) and, with ``check_at_start``, when
        a task starts."""
        return "no check implemented"

    @classmethod
    def converter_problems(
        cls, config: ConfigT, value_converter: Converter
    ) -> list[tuple[str, str]]:
        """Why the connector's value converter can't feed it with these settings, as
        (key, reason) pairs for validation; none by default. E.g. a format that needs
        schemas refuses a converter whose ``gives_schemas`` is False."""
        return []

    @abstractmethod
    def create_writer(self, config: ConfigT, context: TaskContext) -> BatchWriter:
        """Build the writer for one task."""
