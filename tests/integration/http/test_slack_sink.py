"""The slack sink through the real task loop and broker to a Slack webhook stand-in:
paced under Slack's rate, every alert a Filter selects arrives, and a webhook Slack no
longer serves stops the task saying why."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from devstack.kafka import KafkaBroker
from devstack.webhooks import SlackWebhookStub
from offramp import BatchWriter, TaskContext
from offramp.connectors.slack import SlackSinkConnector
from offramp.connectors.slack.config import SlackSinkConfig
from offramp.connectors.slack.writer import SlackWriter
from offramp.testing import run_connector
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.http.support import StandIns
from tests.integration.hubspot.conftest import committed_offsets
from tests.integration.runtime_support import sink_config


def slack_config(topic: str, stub: SlackWebhookStub, **extra: Any) -> dict[str, Any]:
    return sink_config(
        topic,
        "slack",
        **{
            "slack.webhook.url": stub.webhook_url,
            "slack.text": "Call {data.call_id} for {data.tenant} failed after {data.duration_s}s",
            "errors.retry.timeout": "-1",
            **extra,
        },
    )


def calls(numbers: range, status: str) -> list[bytes]:
    return [
        json.dumps(
            {"data": {"call_id": f"c{n}", "tenant": "acme", "duration_s": n, "status": status}}
        ).encode()
        for n in numbers
    ]


def test_failed_calls_alert_within_slacks_rate_and_all_arrive(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """A Filter keeps the calls whose data.status is failed (FieldValueMatches); the
    stand-in (2 msg/s, burst 2) never refuses one (no 429), and gets every failed call's
    alert, in order."""
    stub = stand_ins[1](per_second=2.0, burst=2)
    topic, name = make_topic("alerts"), f"alerts-{unique}"
    produce(
        kafka.bootstrap,
        topic,
        calls(range(0, 20), "completed"),
        headers=[("ce-type", b"call.completed")],
    )
    produce(
        kafka.bootstrap,
        topic,
        calls(range(20, 28), "failed"),
        headers=[("ce-type", b"call.failed")],
    )
    config = slack_config(
        topic,
        stub,
        **{
            "slack.messages.per.second": "2",
            "transforms": "alerts",
            "transforms.alerts.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.alerts.predicate": "failed",
            "transforms.alerts.negate": "true",
            "predicates": "failed",
            "predicates.failed.type": "FieldValueMatches",
            "predicates.failed.field": "data.status",
            "predicates.failed.pattern": "failed",
        },
    )
    worker.create(name, config)
    wait_for(lambda: sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic)) == 28)
    assert stub.texts() == [f"Call c{n} for acme failed after {n}s" for n in range(20, 28)]
    # The stand-in's bucket (2/s, burst 2) refused nothing: the sink kept to Slack's rate.
    # A 1 s window can hold posts at 0, 0.5 and ~1.0 s: 3, never a burst beyond.
    assert stub.limited == 0 and stub.max_in_window(1.0) <= 3


def test_a_429_is_waited_out_and_a_disabled_webhook_stops_the_task(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """Slack's 429 (Retry-After: 1) is retried with nothing lost or repeated; once the
    webhook answers 404 no_service the task fails naming slack.webhook.url, never the URL."""
    stub = stand_ins[1](per_second=10.0, burst=10)
    stub.fail_next(1, 429, b"rate_limited", retry_after=1, content_type="text/plain")
    topic, name = make_topic("slack"), f"slack-{unique}"
    produce(kafka.bootstrap, topic, calls(range(3), "failed"))
    worker.create(name, slack_config(topic, stub, **{"slack.messages.per.second": "10"}))
    wait_for(lambda: len(stub.texts()) == 3)
    assert [t.split()[1] for t in stub.texts()] == ["c0", "c1", "c2"]

    stub.disabled = True
    produce(kafka.bootstrap, topic, calls(range(3, 4), "failed"))
    task = worker.get(name).tasks[0]
    wait_for(lambda: task.status.trace is not None)
    trace = task.status.trace or ""
    assert "404 no_service" in trace and "fix slack.webhook.url" in trace
    assert stub.webhook_url not in trace


class _ShortBudgetWriter(SlackWriter):
    write_budget_s = 0.3


class _ShortBudgetSlack(SlackSinkConnector):
    def create_writer(self, config: SlackSinkConfig, context: TaskContext) -> BatchWriter:
        return _ShortBudgetWriter(config, context, "test")


def test_a_long_batch_hands_back_to_the_task_and_goes_on_where_it_stopped(
    stand_ins: StandIns,
) -> None:
    """At 10 msg/s with a 0.3 s budget per write, 12 messages take several writes (the
    task status says it is pacing); each message is posted once, in order."""
    stub = stand_ins[1](per_second=10.0, burst=2)
    result = run_connector(
        {
            "connector.class": "slack",
            "topics": "calls",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.records": "100",
            "slack.webhook.url": stub.webhook_url,
            "slack.text": "call {n}",
            "slack.messages.per.second": "10",
        },
        [{"n": n} for n in range(12)],
        connector=_ShortBudgetSlack,
        timeout=30,
    )
    assert stub.texts() == [f"call {n}" for n in range(12)] and stub.limited == 0
    assert any("posting at Slack's pace" in (s.message or "") for s in result.statuses)
