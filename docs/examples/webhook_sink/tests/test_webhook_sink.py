"""The webhook sink without Kafka: its config, what each answer of the receiver does,
its check, and a run through the runtime's delivery code (``offramp.testing``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from webhook_sink import WebhookSinkConfig, WebhookSinkConnector, WebhookWriter

from offramp import (
    BatchError,
    FatalError,
    RawMessage,
    RetriableError,
    SinkRecord,
    TaskContext,
)
from offramp.testing import run_connector, write_all

URL = "http://hooks.test/calls"
Handler = Callable[[httpx.Request], httpx.Response]


def config(**extra: Any) -> WebhookSinkConfig:
    """A config built the way the runtime builds it: from dotted keys, values as text."""
    return WebhookSinkConfig.model_validate({"webhook.url": URL, **extra})


def records(*values: Any) -> list[SinkRecord]:
    return [
        SinkRecord(RawMessage("calls", 0, offset, value=json.dumps(v).encode()), None, v)
        for offset, v in enumerate(values)
    ]


def writer(handler: Handler, **extra: Any) -> WebhookWriter:
    context = TaskContext("hooks", 0, {})
    return WebhookWriter(config(**extra), context, "test-agent", httpx.MockTransport(handler))


def sent(request: httpx.Request) -> list[Any]:
    body: list[Any] = json.loads(request.content)
    return body


# ----- config ------------------------------------------------------------------------


def test_header_keys_are_gathered_into_one_family() -> None:
    """webhook.header.<name> keys become the headers dict; values are coerced from text."""
    c = config(
        **{
            "webhook.header.X-Source": "offramp",
            "webhook.header.X-Tenant": "acme",
            "webhook.timeout.ms": "2500",
        }
    )
    assert c.webhook_header == {"X-Source": "offramp", "X-Tenant": "acme"}
    assert c.webhook_timeout_ms == 2500


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"webhook.url": "ftp://hooks.test"}, "webhook.url"),
        ({"webhook.timeout.ms": "0"}, "webhook.timeout.ms"),
        ({"webhook.header.Content-Type": "text/plain"}, "webhook.header"),
        ({"webhook.hedaer.X": "1"}, "webhook.hedaer.X"),
    ],
)
def test_bad_values_are_refused_under_their_key(extra: dict[str, str], key: str) -> None:
    """Each bad value is named by its key (unknown keys too)."""
    with pytest.raises(ValidationError) as raised:
        config(**extra)
    assert [".".join(map(str, e["loc"])) for e in raised.value.errors()] == [key]


# ----- the writer --------------------------------------------------------------------


def test_a_batch_is_one_json_array_with_the_configured_headers() -> None:
    """2xx: all written; the body is the values in order, with token and headers."""
    seen: list[httpx.Request] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    w = writer(ok, **{"webhook.token": "s3cret", "webhook.header.X-Source": "offramp"})
    failures, committable = write_all(w, records({"id": 1}, {"id": 2}))
    assert failures == [] and list(committable.values()) == [2]
    (request,) = seen
    assert sent(request) == [{"id": 1}, {"id": 2}]
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["x-source"] == "offramp"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "test-agent"


def test_a_big_batch_takes_several_requests() -> None:
    """webhook.max.items bounds each request."""
    sizes: list[int] = []

    def ok(request: httpx.Request) -> httpx.Response:
        sizes.append(len(sent(request)))
        return httpx.Response(204)

    assert write_all(writer(ok, **{"webhook.max.items": "2"}), records(*range(5)))[0] == []
    assert sizes == [2, 2, 1]


def test_per_item_errors_of_a_400_fail_those_records_only() -> None:
    """400 naming indexes: exactly those records are RecordFailures, with the message."""

    def refuse_odd(request: httpx.Request) -> httpx.Response:
        errors = [
            {"index": i, "message": f"id {v['id']} is odd"}
            for i, v in enumerate(sent(request))
            if v["id"] % 2
        ]
        return httpx.Response(400, json={"errors": errors})

    failures, _ = write_all(writer(refuse_odd), records(*({"id": i} for i in range(4))))
    assert [(f.record.value, str(f.error)) for f in failures] == [
        ({"id": 1}, "id 1 is odd"),
        ({"id": 3}, "id 3 is odd"),
    ]
    assert failures[0].context == {"webhook.status": "400"}


@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "7"}), 7.0),
        (httpx.Response(503), None),
        (httpx.Response(500, text="oops"), None),
    ],
)
def test_429_and_5xx_are_retried_with_the_servers_delay(
    response: httpx.Response, retry_after: float | None
) -> None:
    """RetriableError, carrying Retry-After when the receiver sends one."""
    with pytest.raises(RetriableError) as raised:
        writer(lambda _: response).write(records({"id": 1}))
    assert raised.value.retry_after == retry_after


def test_a_lost_connection_is_retried() -> None:
    """A transport error (refused, timed out) is transient, never an unclassified crash."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetriableError):
        writer(down).write(records({"id": 1}))


@pytest.mark.parametrize(
    ("status", "body", "error", "key"),
    [
        (400, {"detail": "bad"}, BatchError, None),
        (413, None, BatchError, None),
        (401, None, FatalError, "webhook.token"),
        (404, None, FatalError, "webhook.url"),
    ],
)
def test_other_answers_bisect_or_fail_the_task(
    status: int, body: Any, error: type[Exception], key: str | None
) -> None:
    """A refusal naming no record is a BatchError (the runtime bisects); auth and a
    wrong URL are FatalErrors naming their key."""
    with pytest.raises(error) as raised:
        writer(lambda _: httpx.Response(status, json=body)).write(records({"id": 1}))
    if key is not None:
        assert isinstance(raised.value, FatalError) and raised.value.key == key


def test_a_value_that_is_not_json_fails_alone() -> None:
    """Bytes (a byte-array converter) can't be a JSON item: that record fails, the rest go."""
    seen: list[list[Any]] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(sent(request))
        return httpx.Response(200)

    batch = [*records({"id": 1}), SinkRecord(RawMessage("calls", 0, 1), None, b"\x00")]
    failures, _ = write_all(writer(ok), batch)
    assert [f.record.kafka_offset for f in failures] == [1] and seen == [[{"id": 1}]]


# ----- check -------------------------------------------------------------------------


def connector_with(handler: Handler) -> WebhookSinkConnector:
    connector = WebhookSinkConnector()
    connector.transport = httpx.MockTransport(handler)
    return connector


def test_check_posts_an_empty_batch() -> None:
    """check() reports what the webhook answered to []."""
    seen: list[bytes] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(202)

    assert connector_with(ok).check(config()) == f"{URL} accepted an empty batch (HTTP 202)"
    assert seen == [b"[]"]


def test_check_names_the_key_at_fault() -> None:
    """A refused token is a FatalError on webhook.token; an unreachable URL on webhook.url."""
    with pytest.raises(FatalError) as raised:
        connector_with(lambda _: httpx.Response(403)).check(config())
    assert raised.value.key == "webhook.token"

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(FatalError) as raised:
        connector_with(down).check(config())
    assert raised.value.key == "webhook.url"


# ----- through the runtime (no Kafka) --------------------------------------------------


def test_refused_records_are_dead_lettered_and_the_rest_written() -> None:
    """Converters, delivery and dead letters of the real task loop, over scripted topics:
    the receiver's 503 is retried, its per-item refusals end in the dead-letter topic."""
    answers: list[int] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        if not answers:
            answers.append(503)
            return httpx.Response(503, headers={"Retry-After": "0"})
        errors = [{"index": i} for i, v in enumerate(sent(request)) if v["id"] in (2, 5)]
        answers.append(400 if errors else 200)
        return httpx.Response(400 if errors else 200, json={"errors": errors})

    class Mocked(WebhookSinkConnector):
        transport = httpx.MockTransport(receiver)

    result = run_connector(
        {
            "connector.class": "Mocked",
            "topics": "calls",
            "webhook.url": URL,
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "calls-dlq",
        },
        [{"id": i} for i in range(8)],
        connector=Mocked,
    )
    assert sorted(json.loads(d.value or b"")["id"] for d in result.dead_letters) == [2, 5]
    assert answers[0] == 503
