"""The sink against a Qdrant REST stand-in: what each server answer means for the task.

qdrant-client talks real HTTP to a small server in this module that answers the few
routes the sink uses, and fails on cue (503, 429 with Retry-After, 401, 404, a 400 for
points carrying ``poison``). There is no Qdrant server binary to install from the
registries this project uses, so the server's side of the protocol is played here; the
client, its exceptions and the sink's handling of them are the real ones.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from qdrant_client import QdrantClient, models

from offramp import FatalError, RawMessage, RetriableError, SinkRecord, TaskContext
from offramp.connectors.qdrant import QdrantSinkConfig, QdrantSinkConnector, QdrantWriter
from offramp.connectors.qdrant.clients import open_client
from offramp.connectors.qdrant.outcomes import Verdict, classify


def _collection_info() -> Any:
    """What a server says about a 2-dim collection (local mode builds the same model)."""
    local = QdrantClient(":memory:")
    try:
        local.create_collection(
            "calls", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE)
        )
        return local.get_collection("calls").model_dump(mode="json", exclude_none=True)
    finally:
        local.close()


INFO = _collection_info()
OK = {"status": "ok", "time": 0.0}


class FakeQdrant(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.upserted: list[dict[str, Any]] = []
        self.deleted: list[Any] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeQdrant
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        return orjson.loads(self.rfile.read(length)) if length else None

    def _route(self, method: str) -> None:
        body = self._body()
        path = self.path.split("?")[0]
        with self.server.lock:
            fault = self.server.faults.pop(0) if self.server.faults else None
        if fault is not None:
            status, headers = fault
            self._send(status, {"status": {"error": f"injected {status}"}, "time": 0}, headers)
            return
        if method == "GET" and path == "/":
            self._send(200, {"title": "qdrant - stand-in", "version": "1.15.0"})
        elif method == "GET" and path == "/collections":
            self._send(200, {"result": {"collections": [{"name": "calls"}]}, **OK})
        elif method == "GET" and (m := re.fullmatch(r"/collections/([^/]+)/exists", path)):
            self._send(200, {"result": {"exists": m.group(1) == "calls"}, **OK})
        elif method == "GET" and path == "/collections/calls":
            self._send(200, {"result": INFO, **OK})
        elif method == "PUT" and path == "/collections/calls/points":
            points = body["points"]
            if any((p.get("payload") or {}).get("poison") for p in points):
                error = {"status": {"error": "Wrong input: this point is poison"}, "time": 0}
                self._send(400, error)
                return
            with self.server.lock:
                self.server.upserted.extend(points)
            self._send(200, {"result": {"operation_id": 1, "status": "completed"}, **OK})
        elif method == "POST" and path == "/collections/calls/points/delete":
            with self.server.lock:
                self.server.deleted.extend(body["points"])
            self._send(200, {"result": {"operation_id": 2, "status": "completed"}, **OK})
        else:
            self._send(404, {"status": {"error": f"Not found: {path}"}, "time": 0})

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")


@pytest.fixture
def fake() -> Iterator[FakeQdrant]:
    server = FakeQdrant()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def _config(url: str, **keys: str) -> QdrantSinkConfig:
    return QdrantSinkConfig.model_validate({"qdrant.url": url, "collection.name": "calls", **keys})


def _record(offset: int, key: str | None, value: Any) -> SinkRecord:
    raw = orjson.dumps(value) if value is not None else None
    return SinkRecord(RawMessage("t", 0, offset, key.encode() if key else None, raw), key, value)


@pytest.fixture
def writer(fake: FakeQdrant) -> Iterator[QdrantWriter]:
    w = QdrantWriter(_config(fake.url, **{"qdrant.batch.size": "8"}), TaskContext("r", 0, {}))
    yield w
    w.stop()


def test_upserts_and_deletes_reach_the_server_over_http(
    fake: FakeQdrant, writer: QdrantWriter
) -> None:
    """Points go as PUT …/points in requests of qdrant.batch.size; a tombstone as a delete."""
    records = [_record(i, str(i), {"vector": [1.0, float(i)], "i": i}) for i in range(20)]
    records.append(_record(20, "3", None))
    assert writer.write(records) == []
    assert sorted(p["id"] for p in fake.upserted) == list(range(20))
    assert fake.upserted[0]["payload"] == {"i": 0}
    assert fake.deleted == [3]


def test_a_poison_point_refused_by_the_server_is_isolated_with_its_message(
    fake: FakeQdrant, writer: QdrantWriter
) -> None:
    """Qdrant refuses a whole request for one bad point: splitting finds it, the rest lands."""
    records = [_record(i, str(i), {"vector": [1.0, 0.5], "poison": i == 5}) for i in range(8)]
    failures = writer.write(records) or []
    assert [f.record.kafka_offset for f in failures] == [5]
    assert str(failures[0].error) == "Wrong input: this point is poison"
    assert failures[0].context["__offramp.errors.reason"] == "refused_by_qdrant"
    assert sorted(p["id"] for p in fake.upserted) == [0, 1, 2, 3, 4, 6, 7]


def test_a_refused_last_record_does_not_hide_the_ids_earlier_good_one(
    fake: FakeQdrant, writer: QdrantWriter
) -> None:
    """Within a batch the last record per id is sent; if Qdrant refuses it, the id's
    previous record is written instead, so only the bad record is lost to the DLQ."""
    records = [
        _record(0, "1", {"vector": [1.0, 0.0], "v": "good"}),
        _record(1, "2", {"vector": [1.0, 0.0], "v": "other"}),
        _record(2, "1", {"vector": [1.0, 0.0], "v": "bad", "poison": True}),
    ]
    failures = writer.write(records) or []
    assert [f.record.kafka_offset for f in failures] == [2]
    assert {p["id"]: p["payload"]["v"] for p in fake.upserted} == {1: "good", 2: "other"}


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after", "says"),
    [
        (503, {}, RetriableError, None, "503"),
        (500, {}, RetriableError, None, "500"),
        (429, {"retry-after": "3"}, RetriableError, 3.0, "rate limited"),
        (429, {}, RetriableError, None, "429"),
        (401, {}, FatalError, None, "check qdrant.api.key"),
        (403, {}, FatalError, None, "check qdrant.api.key"),
    ],
)
def test_server_failures_become_the_runtimes_errors(
    fake: FakeQdrant,
    writer: QdrantWriter,
    status: int,
    headers: dict[str, str],
    error: type[Exception],
    retry_after: float | None,
    says: str,
) -> None:
    """5xx and 429 are transient (Retry-After honoured), 401/403 fatal; the retry succeeds."""
    records = [_record(0, "1", {"vector": [1.0, 0.0]})]
    writer.write(records)  # the collection is looked up once, before the fault
    fake.faults.append((status, headers))
    with pytest.raises(error, match=says) as info:
        writer.write(records)
    if isinstance(info.value, RetriableError):
        assert info.value.retry_after == retry_after
    assert writer.write(records) == []


def test_a_collection_that_disappears_is_looked_up_again(
    fake: FakeQdrant, writer: QdrantWriter
) -> None:
    """A 404 on upsert is retried after forgetting the collection; the lookup then decides."""
    records = [_record(0, "1", {"vector": [1.0, 0.0]})]
    writer.write(records)
    fake.faults.append((404, {}))
    with pytest.raises(RetriableError, match="disappeared"):
        writer.write(records)
    assert writer.write(records) == []


def test_an_unreachable_server_is_transient(writer: QdrantWriter) -> None:
    """Connection refused is a RetriableError, not a failed task."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = QdrantWriter(_config(f"http://127.0.0.1:{port}"), TaskContext("r", 0, {}))
    try:
        with pytest.raises(RetriableError, match="looking up collection 'calls'"):
            w.write([_record(0, "1", {"vector": [1.0, 0.0]})])
    finally:
        w.stop()


def test_check_reports_version_collections_and_the_collections_vectors(fake: FakeQdrant) -> None:
    """``check()`` names the server version and the target collection's vectors."""
    found = QdrantSinkConnector().check(_config(fake.url))
    assert f"reached Qdrant at {fake.url} (version 1.15.0)" in found
    assert "collection 'calls' has 0 points (unnamed: 2-dim)" in found
    with pytest.raises(FatalError, match="'absent' does not exist"):
        QdrantSinkConnector().check(_config(fake.url, **{"collection.name": "absent"}))
    fake.faults.append((401, {}))
    with pytest.raises(FatalError, match="401"):
        QdrantSinkConnector().check(_config(fake.url))


def test_classify_reads_qdrant_client_exceptions(fake: FakeQdrant) -> None:
    """Real exceptions from qdrant-client map to verdicts (local ValueErrors too)."""
    handle = open_client(_config(fake.url), "classify")
    try:
        fake.faults.append((400, {}))
        with pytest.raises(Exception) as info:
            handle.client.get_collections()
        assert classify(info.value).verdict is Verdict.REFUSED
        assert classify(info.value).message == "injected 400"
    finally:
        handle.release()
    assert classify(ValueError("Collection x not found")).verdict is Verdict.MISSING
    assert classify(ValueError("Collection x already exists")).verdict is Verdict.EXISTS
    assert classify(ValueError("Wrong input: bad")).verdict is Verdict.REFUSED
    assert classify(RuntimeError("closed")).verdict is Verdict.FATAL
