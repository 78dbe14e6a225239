"""The http sink's settings, templates, request building and answer paths, without a network."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from offramp import RawMessage, SinkRecord
from offramp.connectors.http.answers import excerpt, parse_path, rejected_names, safe_url
from offramp.connectors.http.config import HttpSinkConfig
from offramp.connectors.http.requests import RequestBuilder
from offramp.connectors.http.template import MissingField, Template


def config(**keys: str) -> HttpSinkConfig:
    return HttpSinkConfig.model_validate({"http.url": "https://hooks.test/calls", **keys})


def record(value: Any, offset: int = 0, key: bytes | None = None) -> SinkRecord:
    raw = RawMessage("calls", 1, offset, key=key, value=orjson.dumps(value))
    return SinkRecord(raw, key.decode() if key else None, value)


def errors(**keys: str) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        config(**keys)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_defaults_are_one_post_per_record_with_an_idempotency_key() -> None:
    """Without keys: POST, per record, one in flight, Idempotency-Key, JSON."""
    c = config()
    assert (c.http_method, c.http_batch_format, c.http_max_in_flight) == ("POST", "none", 1)
    assert c.http_idempotency_header == "Idempotency-Key" and c.content_type == "application/json"
    assert c.http_http2 is False and config(**{"http.http2": "true"}).http_http2 is True


def test_header_family_and_bad_values_are_named_by_key() -> None:
    """http.header.<name> gathers into one dict; bad URL, header and template are refused."""
    assert config(**{"http.header.X-Tenant": "{data.tenant}"}).http_header == {
        "X-Tenant": "{data.tenant}"
    }
    assert errors(**{"http.url": "ftp://x"})[0][0] == "http.url"
    assert "not an HTTP header name" in errors(**{"http.header.a b": "x"})[0][1]
    assert "unbalanced" in errors(**{"http.body.template": "{data"})[0][1]
    assert "needs http.auth.token" in errors(**{"http.auth.type": "bearer"})[0][1]
    assert "apply to batches" in errors(**{"http.rejected.path": "errors[*].index"})[0][1]
    assert "not a readable file" in errors(**{"http.tls.ca.file": "/nonexistent.pem"})[0][1]


def test_a_url_may_take_its_host_from_a_record_field() -> None:
    """A tenant's endpoint: the host is a placeholder, values percent-encoded."""
    c = config(**{"http.url": "https://{data.host}/t/{data.tenant}"})
    items, failures = RequestBuilder(c).items(
        [record({"data": {"host": "a.test", "tenant": "x/y"}})]
    )
    assert not failures and items[0].url == "https://a.test/t/x%2Fy"


def test_templates_render_fields_coordinates_and_literal_braces() -> None:
    """Paths into the value, kafka.* coordinates, {{ }} literals, JSON for non-strings."""
    t = Template.parse(
        "{{call}} {data.id} at {kafka.topic}/{kafka.partition}/{kafka.offset} {data.tags}"
    )
    text = t.render(record({"data": {"id": "c1", "tags": ["a"]}}, offset=9))
    assert text == '{call} c1 at calls/1/9 ["a"]'
    with pytest.raises(MissingField, match=r"no field data\.missing"):
        Template.parse("{data.missing}").render(record({"data": {}}))


def test_per_record_requests_carry_topic_partition_offset_keys() -> None:
    """One request per record; the Idempotency-Key is stable across redeliveries."""
    b = RequestBuilder(config(**{"http.body.field": "data", "http.header.X-Id": "{data.id}"}))
    items, _ = b.items([record({"data": {"id": 1}}, 5), record({"data": {"id": 2}}, 6)])
    requests = b.requests(items)
    assert [r.headers["Idempotency-Key"] for r in requests] == ["calls-1-5", "calls-1-6"]
    assert [r.headers["X-Id"] for r in requests] == ["1", "2"]
    assert [orjson.loads(r.body) for r in requests] == [{"id": 1}, {"id": 2}]


def test_batches_close_at_the_count_and_byte_limits_and_carry_item_ids() -> None:
    """JSON arrays of at most N items and B bytes; each item gets its id field."""
    b = RequestBuilder(
        config(
            **{
                "http.batch.format": "json",
                "http.batch.max.records": "3",
                "http.item.id.field": "event_id",
            }
        )
    )
    items, _ = b.items([record({"n": n}, n) for n in range(7)])
    requests = b.requests(items)
    assert [len(r.items) for r in requests] == [3, 3, 1]
    assert orjson.loads(requests[0].body)[1] == {"n": 1, "event_id": "calls-1-1"}
    small = RequestBuilder(config(**{"http.batch.format": "ndjson", "http.batch.max.bytes": "20"}))
    items, _ = small.items([record({"n": n}, n) for n in range(4)])
    bodies = [r.body for r in small.requests(items)]
    assert all(len(body) <= 20 for body in bodies) and len(bodies) == 2
    assert bodies[0] == b'{"n":0}\n{"n":1}\n'


def test_batches_split_by_rendered_url_and_lanes_follow_keys() -> None:
    """Records for different URLs never share a batch; ordered lanes group one key."""
    b = RequestBuilder(
        config(
            **{
                "http.url": "https://hooks.test/{tenant}",
                "http.batch.format": "json",
                "http.max.in.flight": "4",
                "http.ordered.by.key": "true",
            }
        )
    )
    values = [({"tenant": t}, k) for t, k in [("a", b"k1"), ("b", b"k1"), ("a", b"k1")]]
    items, _ = b.items([record(v, n, k) for n, (v, k) in enumerate(values)])
    assert sorted(len(r.items) for r in b.requests(items)) == [1, 2]
    assert len({b.lane(i.record) for i in items}) == 1


def test_a_record_without_a_templated_field_fails_alone() -> None:
    """A missing field is that record's RecordFailure, the rest are sent."""
    b = RequestBuilder(config(**{"http.body.template": "call {id}"}))
    items, failures = b.items([record({"id": 1}, 0), record({}, 1)])
    assert [i.body for i in items] == [b"call 1"] and failures[0].record.kafka_offset == 1
    assert b.content_type.startswith("text/plain")


def test_rejected_item_paths_and_body_excerpts() -> None:
    """A JSON path names refused items by index or id; excerpts are bounded; URLs lose secrets."""
    body = orjson.dumps({"errors": [{"index": 2}, {"index": 5}], "rejected": ["calls-1-3"]})
    assert rejected_names(body, parse_path("$.errors[*].index")) == [2, 5]
    assert rejected_names(body, parse_path("rejected[*]")) == ["calls-1-3"]
    assert rejected_names(b"not json", parse_path("errors")) == []
    with pytest.raises(ValueError):
        parse_path("errors[x]")
    assert excerpt(b"x" * 50, 10) == "x" * 10 + "… (50 bytes)"
    assert safe_url("https://u:p@h.test:8443/a?token=s") == "https://h.test:8443/a"
