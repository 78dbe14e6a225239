"""Rate limits: nothing lost, no call past the budget, a spent day pauses one connector
and only that one."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from devstack.hubspot import HubSpotStub
from devstack.kafka import KafkaBroker
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.hubspot.conftest import committed_offsets, hubspot_config


def _distinct(count: int, prefix: str) -> tuple[list[bytes], list[bytes]]:
    emails = [f"{prefix}{n}@example.com" for n in range(count)]
    values = [orjson.dumps({"email": e, "seq": n, "agent": "ava"}) for n, e in enumerate(emails)]
    return values, [e.encode() for e in emails]


def test_a_rate_limit_storm_loses_nothing_and_sends_no_call_past_the_budget(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stubs: Callable[..., HubSpotStub],
) -> None:
    """Two storms at once. HubSpot allows 5 calls per 10 s while offramp was told 50: one
    429, then offramp paces itself to what HubSpot allowed and everything arrives. HubSpot
    allows 20 while offramp was told 6: no 429 at all and never more than 6 calls in any
    10 s."""
    tight, roomy = stubs(per_10s=5), stubs(per_10s=20)
    over_topic, under_topic = make_topic("storm-over"), make_topic("storm-under")
    produce(kafka.bootstrap, over_topic, *_distinct(1000, "over"))
    produce(kafka.bootstrap, under_topic, *_distinct(1200, "under"))
    over, under = f"over-{unique}", f"under-{unique}"
    worker.create(over, hubspot_config(over_topic, tight, **{"hubspot.rate.limit.per.10s": "50"}))
    worker.create(under, hubspot_config(under_topic, roomy, **{"hubspot.rate.limit.per.10s": "6"}))
    wait_for(
        lambda: (
            committed_offsets(kafka.bootstrap, f"connect-{over}", over_topic) == [1000]
            and committed_offsets(kafka.bootstrap, f"connect-{under}", under_topic) == [1200]
        ),
        timeout=60,
    )
    assert tight.count() == 1000 and roomy.count() == 1200
    # HubSpot's budget lower than offramp's: HubSpot refused once, then never again.
    assert len(tight.refused()) == 1
    assert tight.max_accepted_in_window(10.0) <= 5
    # offramp's budget lower than HubSpot's: offramp kept to its own.
    assert roomy.refused() == []
    assert roomy.max_accepted_in_window(10.0) <= 6
    assert len(roomy.accepted()) == 12


def test_a_daily_429_pauses_the_task_with_the_reason_while_another_connector_runs(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stubs: Callable[..., HubSpotStub],
) -> None:
    """HubSpot's DAILY 429 leaves the task RUNNING but throttled until midnight, with the
    reason in its status, retrying nothing; another connector on the same topic keeps
    writing."""
    spent, other = stubs(), stubs()
    topic = make_topic("daily")
    first_values, first_keys = _distinct(300, "early")
    produce(kafka.bootstrap, topic, first_values, keys=first_keys)
    throttled, steady = f"throttled-{unique}", f"steady-{unique}"
    worker.create(throttled, hubspot_config(topic, spent))
    wait_for(lambda: committed_offsets(kafka.bootstrap, f"connect-{throttled}", topic) == [300])
    spent.set_limits(daily=len(spent.calls))  # the day's calls are used up from now on
    later_values, later_keys = _distinct(200, "late")
    produce(kafka.bootstrap, topic, later_values, keys=later_keys)
    worker.create(steady, hubspot_config(topic, other))
    task = worker.get(throttled).tasks[0]
    wait_for(lambda: task.status.message is not None and "DAILY" in task.status.message)
    status = task.status
    assert status.state == "RUNNING"
    assert status.message is not None and status.message.startswith("throttled until")
    assert "resets at midnight UTC" in status.message
    wait_for(lambda: other.count() == 500)  # the other connector is not held up
    time.sleep(1.0)
    assert len(spent.refused()) == 1  # paused, not retrying
    assert spent.count() == 300
    assert committed_offsets(kafka.bootstrap, f"connect-{throttled}", topic) == [300]
    assert task.metrics.records_failed == 0
