"""offramp's public plug-in API: everything a connector author imports comes from here.

from runtime import SinkConnector, BatchWriter, ConfigModel, SinkRecord, RetriableError
"""

from runtime.bisection import settle_in_halves
from runtime.errors import (
    BatchError,
    ConfigError,
    ConversionError,
    FatalError,
    OfframpError,
    PluginNotFoundError,
    RetriableError,
    SinkError,
    ThrottledError,
    TransformError,
)
from runtime.plugin import (
    BatchWriter,
    CommaList,
    ConfigModel,
    RecordFailure,
    SinkConnector,
    TaskContext,
    dotted,
)
from runtime.records import Headers, RawMessage, SinkRecord, TopicPartition
from runtime.retry import parse_retry_after

__all__ = [
    "BatchError",
    "BatchWriter",
    "CommaList",
    "ConfigError",
    "ConfigModel",
    "ConversionError",
    "FatalError",
    "Headers",
    "OfframpError",
    "PluginNotFoundError",
    "RawMessage",
    "RecordFailure",
    "RetriableError",
    "SinkConnector",
    "SinkError",
    "SinkRecord",
    "TaskContext",
    "ThrottledError",
    "TopicPartition",
    "TransformError",
    "dotted",
    "parse_retry_after",
    "settle_in_halves",
]

__version__ = "0.1.0"
