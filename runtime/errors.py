"""Every exception offramp raises or understands, drawn once here.

::

    OfframpError
    ├── ConfigError              a config is invalid; ``errors`` lists (key, reason)
    │   └── PluginNotFoundError  no registered plug-in has that name
    ├── ConnectorNotFoundError   no connector by that name (REST 404)
    ├── ConnectorExistsError     a connector by that name exists (REST 409)
    ├── IllegalStateError        not allowed in the connector's state (REST 400)
    ├── CredentialsRefused       the brokers refused a Kafka client's password or
    │                            certificate: retrying them can't help
    ├── ConversionError          a record's bytes don't convert (stage *_CONVERTER)
    ├── TransformError           a transform or predicate failed on a record
    └── SinkError                raised by a sink's ``BatchWriter.write``
        ├── RetriableError       transient: retry the same batch later
        │   └── ThrottledError   a budget is spent: pause until ``retry_after``
        │                        without using up the retry timeout
        ├── BatchError           the batch was refused and no record was named:
        │                        the runtime bisects it to find the bad ones
        └── FatalError           the task cannot go on (bad credentials, missing
                                 bucket): it fails with this message

Per-record failures are not raised: ``write`` returns them as ``RecordFailure``s so the
rest of the batch counts as written. Any other exception from ``write`` fails the task
with its trace (as ``FatalError`` does): it is never bisected nor dead-lettered, so an
outage the writer didn't classify can't empty a stream into the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BatchError",
    "ConfigError",
    "ConnectorExistsError",
    "ConnectorNotFoundError",
    "ConversionError",
    "CredentialsRefused",
    "FatalError",
    "IllegalStateError",
    "OfframpError",
    "PluginNotFoundError",
    "RetriableError",
    "SinkError",
    "ThrottledError",
    "TransformError",
]


class OfframpError(Exception):
    """Base of everything offramp raises."""


class ConfigError(OfframpError):
    """A worker or connector config is invalid. ``errors`` holds every (key, reason)."""

    def __init__(self, errors: Iterable[tuple[str, str]] | str) -> None:
        self.errors: list[tuple[str, str]] = (
            [("", errors)] if isinstance(errors, str) else list(errors)
        )
        super().__init__(
            "; ".join(f"{key}: {reason}" if key else reason for key, reason in self.errors)
        )


class PluginNotFoundError(ConfigError):
    """No registered plug-in answers to this name."""


class ConnectorNotFoundError(OfframpError):
    """No connector has this name."""


class ConnectorExistsError(OfframpError):
    """A connector with this name already exists."""


class IllegalStateError(OfframpError):
    """The operation is not allowed in the connector's current state."""


class CredentialsRefused(OfframpError):
    """The brokers refused a Kafka client's credentials (``offramp.kafka_refusals``)."""


class ConversionError(OfframpError):
    """A key, value or header could not be converted from its bytes."""


class TransformError(OfframpError):
    """A transformation or predicate failed on a record."""


class SinkError(OfframpError):
    """Base of the errors a sink raises from ``write``."""


class RetriableError(SinkError):
    """A transient failure: the same batch may succeed later.

    ``retry_after`` (seconds) is the target's own hint (a 429's Retry-After, Qdrant's
    ``retry_after_s``); when given it replaces the runtime's backoff for that attempt.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThrottledError(RetriableError):
    """A budget is spent (e.g. a daily API quota): wait ``retry_after`` seconds.

    The task pauses its partitions and keeps polling; the wait does not count against
    ``errors.retry.timeout`` and ``reason`` is shown in the task's status meanwhile.
    """

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason, retry_after)
        self.reason = reason


class BatchError(SinkError):
    """The target refused the batch without saying which record was bad."""


class FatalError(SinkError):
    """The task cannot continue (auth, missing resources, bad settings).

    ``key`` names the config key at fault when there is one (``webhook.url``): a
    ``check()`` that raises this during validation reports it under that key.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
