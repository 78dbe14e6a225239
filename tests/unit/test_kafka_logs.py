"""librdkafka's log lines through ``offramp.kafka_logs``: the levels they get."""

from __future__ import annotations

import logging

import pytest

from offramp.kafka_logs import client_logger, fencing_expected_logger

FMT = "%s [%s] %s"
# As librdkafka 2.x words a transactional producer's fencing (seen in distributed workers).
ADDPARTS = (
    'TxnCoordinator/1: Failed to add partition "offramp-configs" [0] to transaction: '
    "Broker: Producer attempted an operation with an old epoch"
)
FATAL = (
    "Fatal error: Local: This instance has been fenced by a newer instance: Failed to add "
    "partitions to transaction: Local: This instance has been fenced by a newer instance"
)


def levels(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    return [(r.getMessage().split(" ")[0], r.levelno) for r in caplog.records]


def test_fencing_lines_are_info_on_a_producer_whose_fencing_is_routine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The config writer's logger turns librdkafka's ERROR/CRITICAL fencing lines into
    INFO and keeps every other line's level."""
    caplog.set_level(logging.DEBUG, logger="offramp.kafka")
    logger = fencing_expected_logger()
    logger.log(logging.ERROR, FMT, "ADDPARTS", "rdkafka#producer-8", ADDPARTS)
    logger.log(logging.CRITICAL, FMT, "FATAL", "rdkafka#producer-8", FATAL)
    logger.log(logging.ERROR, FMT, "TXNERR", "rdkafka#producer-8", "Coordinator unavailable")
    logger.log(logging.ERROR, FMT, "FAIL", "rdkafka#producer-8", "Connection refused")
    assert levels(caplog) == [
        ("ADDPARTS", logging.INFO),
        ("FATAL", logging.INFO),
        ("TXNERR", logging.ERROR),
        ("FAIL", logging.DEBUG),
    ]


def test_fencing_lines_keep_their_level_on_other_clients(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Elsewhere a fenced producer is news: the ordinary logger keeps librdkafka's level."""
    caplog.set_level(logging.DEBUG, logger="offramp.kafka")
    client_logger().log(logging.CRITICAL, FMT, "FATAL", "rdkafka#producer-3", FATAL)
    assert levels(caplog) == [("FATAL", logging.CRITICAL)]
