"""The stand-in as a server: ``HubSpotStub`` owns the lock, the HTTP thread, the call
log and the next-call failures (``fail_next``), and hands each request to the rate
limits and the portal's routes; tests inspect and change it between calls."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar, overload
from urllib.parse import parse_qs, urlsplit

import orjson

from devstack.hubspot.answers import Answer, error
from devstack.hubspot.limits import CallRecord, RateLimits, max_in_window
from devstack.hubspot.routes import Portal
from devstack.hubspot.store import ALL_SCOPES, resolve_type

__all__ = ["HubSpotStub"]

T = TypeVar("T")


class _Kept(Generic[T]):
    """A setting of the stub that lives on one of its parts (``limits`` or ``portal``);
    tests read and set it on the stub (``stub.retry_after = 3``)."""

    def __init__(self, part: str) -> None:
        self._part = part
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Kept[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> T | _Kept[T]:
        if obj is None:
            return self
        value: T = getattr(getattr(obj, self._part), self._name)
        return value

    def __set__(self, obj: object, value: T) -> None:
        setattr(getattr(obj, self._part), self._name, value)


@dataclass
class _Injected:
    status: int
    body: dict[str, Any] | None
    retry_after: float | None


class HubSpotStub:
    """The stand-in server; ``start()`` it (or use it as a context manager)."""

    per_10s = _Kept[int | None]("limits")
    per_second = _Kept[int | None]("limits")
    daily = _Kept[int | None]("limits")
    window_seconds = _Kept[float]("limits")
    retry_after = _Kept[float | None]("limits")
    tokens = _Kept[dict[str, frozenset[str]]]("portal")
    fail_when = _Kept[dict[str, re.Pattern[str]]]("portal")
    reject_when = _Kept[dict[str, re.Pattern[str]]]("portal")
    portal_id = _Kept[int]("portal")
    time_zone = _Kept[str]("portal")

    def __init__(
        self,
        tokens: Mapping[str, Iterable[str]] | None = None,
        *,
        per_10s: int | None = None,
        per_second: int | None = None,
        daily: int | None = None,
        window_seconds: float = 10.0,
        retry_after: float | None = None,
        fail_when: Mapping[str, str] | None = None,
        reject_when: Mapping[str, str] | None = None,
        latency: float = 0.0,
        portal_id: int = 90210,
        time_zone: str = "UTC",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.limits = RateLimits(per_10s, per_second, daily, window_seconds, retry_after)
        self.portal = Portal(
            {t: frozenset(s) for t, s in (tokens or {"test-token": ALL_SCOPES}).items()},
            fail_when={p: re.compile(rx) for p, rx in (fail_when or {}).items()},
            reject_when={p: re.compile(rx) for p, rx in (reject_when or {}).items()},
            portal_id=portal_id,
            time_zone=time_zone,
        )
        self.latency = latency
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._calls: list[CallRecord] = []
        self._injected: deque[_Injected] = deque()
        self._outage: _Injected | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ------------------------------------------------------------------

    def start(self) -> HubSpotStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="hubspot-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> HubSpotStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ----- what tests inspect ---------------------------------------------------------

    def objects(self, object_type: str = "contacts") -> list[dict[str, Any]]:
        """Every object of a type: ``{"id": …, "properties": {…}}``."""
        otype = resolve_type(object_type)
        with self._lock:
            return [
                {"id": o.id, "properties": dict(o.properties)}
                for o in self.portal.store.objects[otype.name].values()
            ]

    def count(self, object_type: str = "contacts") -> int:
        otype = resolve_type(object_type)
        with self._lock:
            return len(self.portal.store.objects[otype.name])

    def get(self, object_type: str, id_property: str, value: str) -> dict[str, str] | None:
        """The properties of the object whose ``id_property`` is ``value``, or None."""
        otype = resolve_type(object_type)
        with self._lock:
            obj = self.portal.store.find(otype, id_property, value)
            return None if obj is None else dict(obj.properties)

    def associated(self, from_type: str, from_id: str, to_type: str) -> set[str]:
        """Ids of ``to_type`` objects associated with one ``from_type`` object."""
        key = (resolve_type(from_type).name, from_id, resolve_type(to_type).name)
        with self._lock:
            return set(self.portal.store.associations.get(key, set()))

    @property
    def calls(self) -> list[CallRecord]:
        with self._lock:
            return list(self._calls)

    def accepted(self) -> list[CallRecord]:
        return [c for c in self.calls if not c.refused]

    def refused(self) -> list[CallRecord]:
        return [c for c in self.calls if c.refused]

    def max_accepted_in_window(self, window: float | None = None) -> int:
        """The most calls this stand-in accepted in any rolling window (default: its own)."""
        span = self.window_seconds if window is None else window
        return max_in_window(self.accepted(), span)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = {name: len(objs) for name, objs in self.portal.store.objects.items()}
            refused = sum(1 for c in self._calls if c.refused)
            return {
                "objects": counts,
                "calls": len(self._calls),
                "refused": refused,
                "daily_used": self.limits.daily_used,
            }

    # ----- what tests change ----------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` ``/crm/`` calls with ``status`` (after rate limits)."""
        with self._lock:
            self._injected.extend(_Injected(status, body, retry_after) for _ in range(times))

    def begin_outage(self, status: int = 503, retry_after: float | None = None) -> None:
        """Answer every ``/crm/`` call with ``status`` until ``end_outage()``: HubSpot
        having a bad minute (its 502/503/504 come with its usual error body)."""
        with self._lock:
            self._outage = _Injected(status, None, retry_after)

    def end_outage(self) -> None:
        with self._lock:
            self._outage = None

    def set_limits(
        self,
        per_10s: int | None = None,
        daily: int | None = None,
        per_second: int | None = None,
    ) -> None:
        with self._lock:
            self.per_10s, self.daily, self.per_second = per_10s, daily, per_second

    def reset_daily(self) -> None:
        """Midnight came: the daily budget is whole again."""
        with self._lock:
            self.limits.daily_used = 0

    # ----- request handling (under the lock unless said otherwise) ----------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request: status, JSON body and extra headers."""
        if self.latency:
            time.sleep(self.latency)  # outside the lock: calls overlap like on a real server
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            try:
                if path == "/_stub/stats":
                    raise Answer(200, self.stats())
                self._serve(method, path, query, headers, body)
                raise AssertionError("unreachable: _serve always answers")
            except Answer as answer:
                return answer.status, orjson.dumps(answer.body), answer.headers

    def _serve(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> None:
        now = time.monotonic()
        is_crm = path.startswith("/crm/")
        # Token introspection names the token in the request itself, as HubSpot's does.
        scopes = frozenset() if path.startswith("/oauth/") else self.portal.authenticate(headers)
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR") from None
        inputs = len(data.get("inputs", ())) if isinstance(data, dict) else 0
        if not is_crm:
            self.portal.serve_account(method, path, data)
        try:
            self.limits.take(now)
            injected = self._injected.popleft() if self._injected else self._outage
            if injected is not None:
                extra = (
                    {}
                    if injected.retry_after is None
                    else {"Retry-After": f"{injected.retry_after:g}"}
                )
                raise Answer(
                    injected.status,
                    injected.body
                    or {
                        "status": "error",
                        "message": f"injected failure {injected.status}",
                        "correlationId": str(uuid.uuid4()),
                        "category": "INJECTED",
                    },
                    extra,
                )
            self.portal.serve_crm(method, path, query, data, scopes)
        except Answer as answer:
            policy = answer.body.get("policyName") if answer.status == 429 else None
            self._calls.append(CallRecord(now, method, path, answer.status, inputs, policy))
            if policy is None:
                answer.headers.update(self.limits.headers())
            raise


class _Handler(BaseHTTPRequestHandler):
    owner: HubSpotStub
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    timeout = 120  # idle keep-alive connections end eventually

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.owner.handle(self.command, self.path, headers, body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test): fine

    do_GET = _respond
    do_POST = _respond
    do_PUT = _respond
    do_PATCH = _respond
    do_DELETE = _respond

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests make thousands of calls; the call log is in HubSpotStub.calls
