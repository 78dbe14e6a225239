"""librdkafka's own log lines, through Python logging at levels that fit.

Without a ``logger`` setting librdkafka prints to stderr (``%3|…|FAIL|…``) whatever
the worker's log level, and a broker that is down repeats its connection failure many
times a second at error level. Every client the worker makes passes ``client_logger()``
instead, so the lines go to the ``offramp.kafka`` logger. Connection-state lines — a
broker unreachable or disconnected, an idempotent producer waiting for its id, an
offset reset on a partition that is not there yet — become DEBUG: they say again, more
often and less clearly, what the worker already reports once with its cause (``waiting
for Kafka``, ``/health``, the task's status). Everything else keeps librdkafka's level,
except on a producer whose fencing is routine (``fencing_expected_logger``).
"""

from __future__ import annotations

import logging

__all__ = ["ClientLogger", "client_logger", "fencing_expected_logger"]

log = logging.getLogger("offramp.kafka")

# librdkafka facility names whose lines are connection weather, not news.
TRANSIENT_FACILITIES = frozenset({"FAIL", "GETPID", "OFFSET", "REQTMOUT", "BROKERFAIL"})

# How librdkafka words a transactional producer fenced by a newer one with its id: the
# broker's refusal (ADDPARTS, ERROR) and the client's fatal error (TXNERR, FATAL: CRITICAL).
FENCED_WORDS = ("fenced by a newer instance", "operation with an old epoch")


class ClientLogger:
    """What confluent-kafka calls for each line: ``log(level, "%s [%s] %s", facility,
    client name, message)``."""

    def log(self, level: int, fmt: str, facility: str, client: str, message: str) -> None:
        if facility in TRANSIENT_FACILITIES:
            level = min(level, logging.DEBUG)
        if log.isEnabledFor(level):
            log.log(level, fmt, facility, client, message)


class FencingExpectedLogger(ClientLogger):
    """Fencing lines at INFO, every other line as ``ClientLogger`` has it."""

    def log(self, level: int, fmt: str, facility: str, client: str, message: str) -> None:
        if any(words in message for words in FENCED_WORDS):
            level = min(level, logging.INFO)
        super().log(level, fmt, facility, client, message)


_LOGGER = ClientLogger()
_FENCING_EXPECTED = FencingExpectedLogger()


def client_logger() -> ClientLogger:
    """The ``logger`` setting for a librdkafka client (served on its poll calls)."""
    return _LOGGER


def fencing_expected_logger() -> ClientLogger:
    """The ``logger`` setting for a transactional producer that is fenced as a matter of
    course: the distributed config topic's writer shares one transactional id with every
    worker, so each write through another worker fences it, and it starts over with a
    new producer (``offramp.distributed.config_log``, which logs that at INFO).
    librdkafka reports each fencing in three lines at ERROR and CRITICAL ("Fatal
    error"), which read like a broken worker; they are INFO here."""
    return _FENCING_EXPECTED
