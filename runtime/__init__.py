"""offramp's public plug-in API: everything a connector author imports comes from here.

from offramp import SinkConnector, BatchWriter, ConfigModel, SinkRecord, RetriableError
"""

from offramp.bisection import settle_in_halves
from offramp.errors import (
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
from offramp.plugin import (
    BatchWriter,
    CommaList,
    ConfigModel,
    RecordFailure,
    SinkConnector,
    TaskContext,
    dotted,
)
from offramp.records import Headers, RawMessage, SinkRecord, TopicPartition
from offramp.retry import parse_retry_after

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
