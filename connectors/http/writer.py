"""The ``http`` batch writer: records → requests (``requests``) → answers (``answers``).

Over HTTP/1.1 the writer is ``pipelined`` (``PipelinedHttpWriter``): a batch's requests
go out on the task's write thread while the task reads and converts the next batch, and
``prepare`` builds that batch's requests meanwhile, so reading and request building
overlap the endpoint's answer instead of adding to it (one batch in flight at most,
batches in order, so per-key order holds). Not over HTTP/2: a pipelined task shortens
the interpreter's thread switch interval (``offramp.gil_handoff``), and with threads
switching that often httpcore's HTTP/2 connection, shared by the requests in flight,
often loses track of its streams when the server ends the connection (a ``KeyError``
on a stream id, encode/httpx#3072) instead of raising a transport error. ``_one``
takes that error as a dropped connection (retried), since another pipelined connector
in the process shortens the interval all the same; not pipelining HTTP/2 keeps it rare.

A ``write`` sends its requests, up to ``http.max.in.flight`` at a time (lanes keep one
key's requests in order when asked), then settles the batch:

- any 401/403 → ``FatalError`` (the task stops with the reason);
- any transient answer → ``RetriableError`` with the longest ``Retry-After``: the
  runtime pauses the partitions and calls ``write`` again with the same records. What
  an earlier attempt settled (written or refused) is remembered by coordinates and not
  sent again, so a 503 storm doesn't resend what already arrived;
- otherwise the refused records are returned as ``RecordFailure``s.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from offramp import (
    BatchError,
    BatchWriter,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkRecord,
    TaskContext,
    TopicPartition,
    parse_retry_after,
)
from offramp.connectors.http.answers import (
    BODY_HEADER,
    STATUS_HEADER,
    URL_HEADER,
    excerpt,
    is_transient,
    parse_path,
    rejected_names,
    safe_url,
)
from offramp.connectors.http.client import build_client
from offramp.connectors.http.config import HttpSinkConfig
from offramp.connectors.http.progress import Progress
from offramp.connectors.http.requests import Request, RequestBuilder

__all__ = ["HttpRefused", "HttpWriter", "PipelinedHttpWriter"]


class HttpRefused(Exception):
    """The endpoint refused a record: the dead letter's error."""


@dataclass
class _Prepared:
    """What ``prepare`` built for one batch, found again by the list's identity."""

    records: Sequence[SinkRecord]
    failures: list[RecordFailure]
    requests: list[Request]


@dataclass
class _Outcome:
    """What happened to the requests of one lane."""

    failures: list[RecordFailure] = field(default_factory=list)
    settled: list[SinkRecord] = field(default_factory=list)
    transient: RetriableError | None = None
    fatal: FatalError | None = None
    split: BatchError | None = None


def _in_record_order(
    records: Sequence[SinkRecord], failures: list[RecordFailure]
) -> list[RecordFailure] | None:
    if not failures:
        return None
    position = {id(r): n for n, r in enumerate(records)}
    return sorted(failures, key=lambda f: position.get(id(f.record), len(records)))


class HttpWriter(BatchWriter):
    """Sends records to ``http.url``; at least once, with ids a receiver can dedupe on."""

    # With schemaless JSON values the runtime keeps the text it consumed and decodes a
    # value only when something reads it (a URL or header template, http.body.field).
    stores_json_text = True

    def __init__(
        self,
        config: HttpSinkConfig,
        context: TaskContext,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.log = context.logger
        self.builder = RequestBuilder(config)
        self.client = build_client(config, user_agent, transport)
        self.rejected = parse_path(config.http_rejected_path) if config.http_rejected_path else ()
        slots = config.http_max_in_flight
        self.pool = (
            ThreadPoolExecutor(slots, f"http-{context.connector_name}") if slots > 1 else None
        )
        self.progress = Progress()
        # The next batch's requests, built on the task thread while the write thread
        # waits for the previous batch's answers. One slot, replaced (never mutated), so
        # the two threads need no lock: a write takes it only for the very same list.
        self._prepared: _Prepared | None = None

    def prepare(self, records: Sequence[SinkRecord]) -> None:
        """Items and requests for the next batch, ahead of its ``write``."""
        items, failures = self.builder.items(records)
        self._prepared = _Prepared(records, failures, self.builder.requests(items))

    def _take_prepared(self, records: Sequence[SinkRecord]) -> _Prepared | None:
        """What ``prepare`` built for exactly this list, once (a retry builds again)."""
        prepared = self._prepared
        if prepared is None or prepared.records is not records:
            return None
        self._prepared = None
        return prepared

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        fresh = not self.progress  # no earlier attempt of this batch left anything
        prepared = self._take_prepared(records)
        if fresh and prepared is not None:
            failures, requests = prepared.failures, prepared.requests
        else:
            todo = records if fresh else [r for r in records if r not in self.progress]
            items, failures = self.builder.items(todo)
            requests = self.builder.requests(items)
        outcomes = self._send(requests)
        if fresh and not any(o.fatal or o.transient or o.split for o in outcomes):
            # Settled in one attempt (the usual case): nothing to remember per record.
            return _in_record_order(records, failures + [f for o in outcomes for f in o.failures])
        for failure in failures:
            self.progress.refused(failure)
        for outcome in outcomes:
            for record in outcome.settled:
                self.progress.written(record)
            for failure in outcome.failures:
                self.progress.refused(failure)
        fatal = next((o.fatal for o in outcomes if o.fatal), None)
        if fatal is not None:
            raise fatal
        transient = [o.transient for o in outcomes if o.transient]
        if transient:
            waits = [t.retry_after for t in transient if t.retry_after is not None]
            raise RetriableError(
                f"{transient[0]} ({len(transient)} of {len(requests)} requests not accepted)",
                retry_after=max(waits) if waits else None,
            )
        split = next((o.split for o in outcomes if o.split), None)
        if split is not None:
            raise split  # the halves come back through write, which settles them
        return self.progress.finish(records) or None

    def _send(self, requests: list[Request]) -> list[_Outcome]:
        if self.pool is None:
            return [self._lane(requests, threading.Event())]
        stop = threading.Event()  # after a transient answer, requests not yet sent wait
        if self.config.http_ordered_by_key:
            lanes: dict[int, list[Request]] = {}
            for request in requests:
                lanes.setdefault(self.builder.lane(request.items[0].record), []).append(request)
            groups = list(lanes.values())
        else:
            groups = [[r] for r in requests]
        return list(self.pool.map(lambda g: self._lane(g, stop), groups))

    def _lane(self, requests: list[Request], stop: threading.Event) -> _Outcome:
        outcome = _Outcome()
        for request in requests:
            if stop.is_set():
                break
            self._one(request, outcome)
            if outcome.transient or outcome.fatal or outcome.split:
                stop.set()
                break
        return outcome

    def _one(self, request: Request, outcome: _Outcome) -> None:
        url = request.url
        try:
            response = self.client.request(
                self.config.http_method, url, content=request.body, headers=request.headers
            )
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections
            outcome.transient = RetriableError(
                f"{self.config.http_method} {safe_url(url)} failed: {exc!r}"
            )
            return
        except (KeyError, RuntimeError) as exc:
            if not self.config.http_http2:
                raise
            # httpcore's HTTP/2 connection, shared by the requests in flight, can lose a
            # stream's bookkeeping when the server ends the connection while another
            # thread reads from it (encode/httpx#3072): the connection is gone and this
            # request's fate unknown, as with a dropped connection, so it is sent again.
            outcome.transient = RetriableError(
                f"{self.config.http_method} {safe_url(url)} failed: HTTP/2 connection "
                f"ended ({type(exc).__name__}: {exc})"
            )
            return
        status, body = response.status_code, response.content
        where = f"{self.config.http_method} {safe_url(url)}"
        if 200 <= status < 300:
            self._refused_items(request, status, body, outcome, accepted=True)
            return
        if is_transient(status):
            outcome.transient = RetriableError(
                f"{where}: HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
            return
        if status in (401, 403):
            outcome.fatal = FatalError(
                f"{where} answered HTTP {status} ({excerpt(body, 200)}): the endpoint refuses "
                f"the credentials; check http.auth.type and its keys and restart the connector",
                key="http.auth.type",
            )
            return
        if status == 413 and len(request.items) > 1:
            outcome.split = BatchError(f"{where}: HTTP 413 for {len(request.items)} items")
            return
        if not self._refused_items(request, status, body, outcome, accepted=False):
            headers = self._context(status, body, url)
            error = HttpRefused(f"{where} refused the record: HTTP {status}")
            outcome.failures += [RecordFailure(i.record, error, headers) for i in request.items]

    def _refused_items(
        self, request: Request, status: int, body: bytes, outcome: _Outcome, *, accepted: bool
    ) -> bool:
        """Dead-letters only the items the answer names; False when it names none."""
        names = rejected_names(body, self.rejected) if self.rejected and self.config.batched else []
        if not names:  # the usual answer: nothing named, so no per-item look-ups
            if accepted:
                outcome.settled += [i.record for i in request.items]
            return accepted
        by_id = {i.id: n for n, i in enumerate(request.items)}
        named: set[int] = set()
        for name in names:
            if isinstance(name, int) and 0 <= name < len(request.items):
                named.add(name)
            elif isinstance(name, str) and name in by_id:
                named.add(by_id[name])
        if not named and not accepted:
            return False
        headers = self._context(status, body, request.url)
        where = f"{self.config.http_method} {safe_url(request.url)}"
        for n, item in enumerate(request.items):
            if n in named:
                error = HttpRefused(f"{where} refused item {n} ({item.id}): HTTP {status}")
                outcome.failures.append(RecordFailure(item.record, error, headers))
            else:
                outcome.settled.append(item.record)
        return True

    def _context(self, status: int, body: bytes, url: str) -> dict[str, str]:
        return {
            STATUS_HEADER: str(status),
            BODY_HEADER: excerpt(body, self.config.http_error_body_max_bytes),
            URL_HEADER: safe_url(url),
        }

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        self.progress.drop(partitions)

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.client.close()


class PipelinedHttpWriter(HttpWriter):
    """The writer over HTTP/1.1: a write mostly waits for the endpoint's answer, so the
    task reads the next batch meanwhile (see the module's docstring for HTTP/2)."""

    pipelined = True
