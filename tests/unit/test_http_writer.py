"""The http writer's fast paths: the same requests as the general path, prepared ahead,
HTTP/2's lost streams retried; through an httpx MockTransport, without a network."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from offramp import RawMessage, RetriableError, SinkRecord, TaskContext
from offramp.connectors.http import HttpSinkConnector, HttpWriter, PipelinedHttpWriter
from offramp.connectors.http.config import HttpSinkConfig
from offramp.connectors.http.requests import Request, RequestBuilder
from offramp.records import JsonTextRecord

Handler = Callable[[httpx.Request], httpx.Response]


def config(**keys: str) -> HttpSinkConfig:
    return HttpSinkConfig.model_validate({"http.url": "http://hooks.test/calls", **keys})


def compact(count: int) -> list[bytes]:
    # orjson's own output: the general path, re-encoding the decoded value, gets the same.
    return [orjson.dumps({"n": n, "pad": "x" * (n % 7)}) for n in range(count)]


def as_text(topic: str, values: list[bytes]) -> list[SinkRecord]:
    return [
        JsonTextRecord(RawMessage(topic, n % 3, n, value=v), None) for n, v in enumerate(values)
    ]


def as_decoded(topic: str, values: list[bytes]) -> list[SinkRecord]:
    return [
        SinkRecord(RawMessage(topic, n % 3, n, value=v), None, orjson.loads(v))
        for n, v in enumerate(values)
    ]


def shape(requests: list[Request]) -> list[tuple[str, dict[str, str], list[str], bytes]]:
    return [(r.url, r.headers, [i.id for i in r.items], r.body) for r in requests]


@pytest.mark.parametrize(
    "keys",
    [
        {"http.batch.format": "json", "http.batch.max.records": "7"},
        {"http.batch.format": "json", "http.batch.max.bytes": "300"},
        {
            "http.batch.format": "ndjson",
            "http.batch.max.records": "5",
            "http.batch.max.bytes": "90",
        },
        {"http.header.X-Team": "billing"},
    ],
)
def test_consumed_json_text_makes_the_same_requests_as_decoded_values(keys: dict[str, str]) -> None:
    """One endpoint, whole values: the fast path (consumed text) gives the general
    path's (decoded values) requests byte for byte: URLs, headers, keys, ids, limits."""
    topic = "calls-fast-path"
    builder = RequestBuilder(config(**keys))
    fast, fast_failures = builder.items(as_text(topic, compact(40)))
    general, general_failures = builder.items(as_decoded(topic, compact(40)))
    assert not fast_failures and not general_failures
    assert [i.id for i in fast] == [f"{topic}-{n % 3}-{n}" for n in range(40)]
    assert shape(builder.requests(fast)) == shape(builder.requests(general))


def test_ndjson_folds_a_multi_line_consumed_value_onto_one_line() -> None:
    """A consumed value spanning lines still makes one NDJSON line per item."""
    builder = RequestBuilder(config(**{"http.batch.format": "ndjson"}))
    values = [b'{\n  "n": 1\n}', b'{"n":2}']
    items, _ = builder.items(as_text("calls-ndjson", values))
    (request,) = builder.requests(items)
    assert request.body == b'{   "n": 1 }\n{"n":2}\n'


def test_byte_limit_walk_matches_item_by_item_closing() -> None:
    """Chunks close exactly where an item-by-item walk would: at the count, or before
    the item that would pass the byte limit; an item over the limit goes alone."""
    builder = RequestBuilder(
        config(
            **{
                "http.batch.format": "json",
                "http.batch.max.records": "4",
                "http.batch.max.bytes": "40",
            }
        )
    )
    sizes = [5, 5, 5, 5, 5, 30, 3, 60, 2, 2, 2, 2, 2, 9, 9, 9]
    values = [orjson.dumps("a" * (s - 2)) for s in sizes]
    items, _ = builder.items(as_text("calls-walk", values))
    expected: list[list[int]] = []
    chunk: list[int] = []
    size = 0
    for n, s in enumerate(sizes):
        if chunk and (len(chunk) >= 4 or size + s + 1 > 40):
            expected.append(chunk)
            chunk, size = [], 0
        chunk.append(n)
        size += s + 1
    expected.append(chunk)
    got = [[int(i.id.rsplit("-", 1)[1]) for i in r.items] for r in builder.requests(items)]
    assert got == expected


def writer(handler: Handler, **keys: str) -> HttpWriter:
    context = TaskContext("http-unit", 0, {})
    return HttpWriter(config(**keys), context, "test-agent", httpx.MockTransport(handler))


def test_a_prepared_batch_is_sent_as_prepared_and_only_for_its_own_list() -> None:
    """prepare() builds the requests write() then sends; another list builds its own."""
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={"ok": True})

    w = writer(handler, **{"http.batch.format": "json"})
    first = as_text("calls-prepared", [b'{"n":1}', b'{"n":2}'])
    other = as_text("calls-prepared", [b'{"n":3}'])
    w.prepare(first)
    assert w.write(other) is None and bodies == [b'[{"n":3}]']
    assert w.write(first) is None and bodies[-1] == b'[{"n":1},{"n":2}]'
    w.prepare(first)
    assert w.write(list(first)) is None and len(bodies) == 3  # a copy: built again
    w.stop()


def test_a_lost_http2_stream_is_a_retry_and_any_other_keyerror_is_a_bug() -> None:
    """httpcore's KeyError on a stream id over HTTP/2 is retried like a dropped
    connection; over HTTP/1.1 the same error is not swallowed."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise KeyError(5)

    records = as_text("calls-h2", [b'{"n":1}'])
    h2 = writer(handler, **{"http.http2": "true"})
    with pytest.raises(RetriableError, match="HTTP/2 connection ended"):
        h2.write(records)
    h1 = writer(handler)
    with pytest.raises(KeyError):
        h1.write(records)
    h2.stop()
    h1.stop()


def test_http11_writers_are_pipelined_and_http2_writers_are_not() -> None:
    """The connector pipelines HTTP/1.1 writes and keeps HTTP/2 writes on the task thread."""
    connector = HttpSinkConnector()
    context = TaskContext("http-unit", 0, {})
    h1 = connector.create_writer(config(), context)
    h2 = connector.create_writer(config(**{"http.http2": "true"}), context)
    assert isinstance(h1, PipelinedHttpWriter) and h1.pipelined
    assert not isinstance(h2, PipelinedHttpWriter) and not h2.pipelined
    h1.stop()
    h2.stop()
