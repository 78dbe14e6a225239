"""A HubSpot CRM API stand-in over real HTTP on loopback, for tests, benchmarks and the demo.

It speaks the slice of HubSpot's API the ``hubspot`` sink uses, with HubSpot's JSON
shapes and semantics:

- ``POST /crm/v3/objects/{type}/batch/upsert``: dedupe by ``idProperty`` (emails compare
  case-insensitively), ``results[].new``, at most 100 inputs, duplicate ids refused;
  ``batch/create`` and ``batch/read`` (by id or ``idProperty``); ``GET`` one object or a
  page of them. Object types: ``contacts`` (unique ``email``), ``companies`` (unique
  ``domain``, as a custom unique property would be in a real portal), ``deals`` and one
  custom object ``p_calls`` / ``2-90001`` (unique ``call_id``).
- ``POST /crm/v4/associations/{from}/{to}/batch/associate/default`` and ``GET
  /crm/v4/objects/{from}/{id}/associations/{to}``.
- ``GET /account-info/v3/details``, ``GET /oauth/v1/access-tokens/{token}`` and ``POST
  /oauth/v2/private-apps/get/access-token-info`` (what a connector's ``check`` calls).
- Bearer tokens with scopes: 401 for an unknown token, 403 ``MISSING_SCOPES`` for a call
  the token's scopes don't cover.
- Rate limits per rolling window (``TEN_SECONDLY_ROLLING``), per second (``SECONDLY``)
  and per day (``DAILY``), refused with HubSpot's 429 body and, if configured, a
  ``Retry-After`` header; ``X-HubSpot-RateLimit-*`` headers on answered calls.
- Injection: inputs whose property matches a pattern fail alone in a 207
  (``fail_when``) or make the whole batch a 400 (``reject_when``); ``fail_next`` answers
  the next calls with any status (401, 403, 500…); ``latency`` delays every answer.

Every ``/crm/`` call is logged with its arrival time and outcome (``calls``), so tests
can prove that no call went past a budget. Only ``/crm/`` calls count against the rate
limits, and a call refused with 429 does not use up budget.

``python -m devstack.hubspot_stub --port 8090 --token demo-token`` runs it standalone.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

__all__ = ["ALL_SCOPES", "CallRecord", "HubSpotStub", "ObjectType"]

MAX_INPUTS = 100


@dataclass(frozen=True)
class ObjectType:
    name: str
    type_id: str
    unique_properties: tuple[str, ...]
    scope: str  # crm.objects.<scope>.read / .write
    aliases: tuple[str, ...] = ()


OBJECT_TYPES = (
    ObjectType("contacts", "0-1", ("email",), "contacts", ("contact",)),
    ObjectType("companies", "0-2", ("domain",), "companies", ("company",)),
    ObjectType("deals", "0-3", (), "deals", ("deal",)),
    ObjectType("p_calls", "2-90001", ("call_id",), "custom", ("calls_log",)),
)

ALL_SCOPES = frozenset(
    f"crm.objects.{t.scope}.{mode}" for t in OBJECT_TYPES for mode in ("read", "write")
)


@dataclass(frozen=True)
class CallRecord:
    """One ``/crm/`` call as the stand-in saw it."""

    at: float  # time.monotonic() when it arrived
    method: str
    path: str
    status: int
    inputs: int
    policy: str | None = None  # the rate-limit policy that refused it (429 only)

    @property
    def refused(self) -> bool:
        return self.policy is not None


@dataclass
class _Object:
    id: str
    properties: dict[str, str]
    created: str
    updated: str


@dataclass
class _Injected:
    status: int
    body: dict[str, Any] | None
    retry_after: float | None


class _Answer(Exception):
    """Ends request handling with this status, body and headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str, category: str, **extra: Any) -> _Answer:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return _Answer(status, body)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


class _Store:
    """Objects by type, with an index per unique property. Callers hold the stub's lock."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, _Object]] = {t.name: {} for t in OBJECT_TYPES}
        self.index: dict[tuple[str, str], dict[str, str]] = {}
        self.associations: dict[tuple[str, str, str], set[str]] = {}
        self._next_id = 1000

    @staticmethod
    def normalize(prop: str, value: str) -> str:
        return value.strip().lower() if prop == "email" else value

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def find(self, otype: ObjectType, prop: str, value: str) -> _Object | None:
        if prop == "hs_object_id":
            return self.objects[otype.name].get(value)
        hs_id = self.index.get((otype.name, prop), {}).get(self.normalize(prop, value))
        return None if hs_id is None else self.objects[otype.name][hs_id]

    def save(self, otype: ObjectType, obj: _Object) -> None:
        self.objects[otype.name][obj.id] = obj
        for prop in otype.unique_properties:
            if prop in obj.properties:
                key = self.normalize(prop, obj.properties[prop])
                self.index.setdefault((otype.name, prop), {})[key] = obj.id


class HubSpotStub:
    """The stand-in server; ``start()`` it (or use it as a context manager)."""

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
        self.tokens = {t: frozenset(s) for t, s in (tokens or {"test-token": ALL_SCOPES}).items()}
        self.per_10s, self.per_second, self.daily = per_10s, per_second, daily
        self.window_seconds = window_seconds
        self.retry_after = retry_after
        self.fail_when = {p: re.compile(rx) for p, rx in (fail_when or {}).items()}
        self.reject_when = {p: re.compile(rx) for p, rx in (reject_when or {}).items()}
        self.latency = latency
        self.portal_id, self.time_zone = portal_id, time_zone
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._store = _Store()
        self._calls: list[CallRecord] = []
        self._window: deque[float] = deque()
        self._second: deque[float] = deque()
        self._daily_used = 0
        self._injected: deque[_Injected] = deque()
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
        otype = _resolve_type(object_type)
        with self._lock:
            return [
                {"id": o.id, "properties": dict(o.properties)}
                for o in self._store.objects[otype.name].values()
            ]

    def count(self, object_type: str = "contacts") -> int:
        otype = _resolve_type(object_type)
        with self._lock:
            return len(self._store.objects[otype.name])

    def get(self, object_type: str, id_property: str, value: str) -> dict[str, str] | None:
        """The properties of the object whose ``id_property`` is ``value``, or None."""
        otype = _resolve_type(object_type)
        with self._lock:
            obj = self._store.find(otype, id_property, value)
            return None if obj is None else dict(obj.properties)

    def associated(self, from_type: str, from_id: str, to_type: str) -> set[str]:
        """Ids of ``to_type`` objects associated with one ``from_type`` object."""
        key = (_resolve_type(from_type).name, from_id, _resolve_type(to_type).name)
        with self._lock:
            return set(self._store.associations.get(key, set()))

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
        times = sorted(c.at for c in self.accepted())
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= span:
                start += 1
            best = max(best, end - start + 1)
        return best

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
            self._daily_used = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = {name: len(objs) for name, objs in self._store.objects.items()}
            refused = sum(1 for c in self._calls if c.refused)
            return {
                "objects": counts,
                "calls": len(self._calls),
                "refused": refused,
                "daily_used": self._daily_used,
            }

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
                    raise _Answer(200, self.stats())
                self._serve(method, path, query, headers, body)
                raise AssertionError("unreachable: _serve always answers")
            except _Answer as answer:
                return answer.status, orjson.dumps(answer.body), answer.headers

    def _serve(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> None:
        now = time.monotonic()
        is_crm = path.startswith("/crm/")
        # Token introspection names the token in the request itself, as HubSpot's does.
        scopes = frozenset() if path.startswith("/oauth/") else self._authenticate(headers)
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise _error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR") from None
        inputs = len(data.get("inputs", ())) if isinstance(data, dict) else 0
        if not is_crm:
            self._serve_account(method, path, data, scopes)
        try:
            self._rate_limit(now)
            self._daily_used += 1
            self._window.append(now)
            self._second.append(now)
            if self._injected:
                injected = self._injected.popleft()
                extra = {} if injected.retry_after is None else {"Retry-After": _secs(injected)}
                raise _Answer(
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
            self._serve_crm(method, path, query, data, scopes)
        except _Answer as answer:
            policy = answer.body.get("policyName") if answer.status == 429 else None
            self._calls.append(CallRecord(now, method, path, answer.status, inputs, policy))
            if policy is None:
                answer.headers.update(self._limit_headers(now))
            raise

    def _authenticate(self, headers: Mapping[str, str]) -> frozenset[str]:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        scopes = self.tokens.get(token)
        if scopes is None:
            raise _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        return scopes

    def _rate_limit(self, now: float) -> None:
        while self._window and now - self._window[0] >= self.window_seconds:
            self._window.popleft()
        while self._second and now - self._second[0] >= 1.0:
            self._second.popleft()
        if self.daily is not None and self._daily_used >= self.daily:
            raise self._too_many("DAILY", "You have reached your daily limit.")
        if self.per_second is not None and len(self._second) >= self.per_second:
            raise self._too_many("SECONDLY", "You have reached your secondly limit.")
        if self.per_10s is not None and len(self._window) >= self.per_10s:
            raise self._too_many(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )

    def _too_many(self, policy: str, message: str) -> _Answer:
        body = {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "groupName": "crm-objects",
        }
        headers = {}
        if self.retry_after is not None and policy != "DAILY":
            headers["Retry-After"] = f"{self.retry_after:g}"
        return _Answer(429, body, headers)

    def _limit_headers(self, now: float) -> dict[str, str]:
        headers = {}
        if self.per_10s is not None:
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
                int(self.window_seconds * 1000)
            )
            headers["X-HubSpot-RateLimit-Max"] = str(self.per_10s)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.per_10s - len(self._window)))
        if self.daily is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily - self._daily_used)
            )
        return headers

    # ----- /account-info and /oauth ------------------------------------------------------

    def _serve_account(self, method: str, path: str, data: Any, scopes: frozenset[str]) -> None:
        if method == "GET" and path == "/account-info/v3/details":
            raise _Answer(
                200,
                {
                    "portalId": self.portal_id,
                    "accountType": "STANDARD",
                    "timeZone": self.time_zone,
                    "companyCurrency": "USD",
                    "additionalCurrencies": [],
                    "utcOffset": "+00:00",
                    "utcOffsetMilliseconds": 0,
                    "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1",
                },
            )
        token_path = re.fullmatch(r"/oauth/v1/access-tokens/(.+)", path)
        if method == "GET" and token_path:
            token = unquote(token_path.group(1))
            if token not in self.tokens:
                raise _error(404, "The access token was not found", "OBJECT_NOT_FOUND")
            raise _Answer(
                200,
                {
                    "token": token,
                    "user": "dev@example.com",
                    "hub_domain": "dev-portal.example.com",
                    "scopes": sorted(self.tokens[token]),
                    "hub_id": self.portal_id,
                    "app_id": 4242,
                    "expires_in": 1800,
                    "user_id": 7,
                    "token_type": "access",
                },
            )
        if method == "POST" and path == "/oauth/v2/private-apps/get/access-token-info":
            token = data.get("tokenKey", "") if isinstance(data, dict) else ""
            if token not in self.tokens:
                raise _error(404, "The access token was not found", "OBJECT_NOT_FOUND")
            raise _Answer(
                200,
                {
                    "userId": 7,
                    "hubId": self.portal_id,
                    "appId": 4242,
                    "scopes": sorted(self.tokens[token]),
                },
            )
        raise _error(404, f"No route for {method} {path}", "OBJECT_NOT_FOUND")

    # ----- /crm -------------------------------------------------------------------------

    def _serve_crm(
        self, method: str, path: str, query: dict[str, str], data: Any, scopes: frozenset[str]
    ) -> None:
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/batch/(upsert|create|read)", path)
        if m and method == "POST":
            otype = _type_or_400(m.group(1))
            action = m.group(2)
            _require_scope(scopes, otype, "read" if action == "read" else "write")
            inputs = _inputs(data)
            if action == "upsert":
                self._upsert(otype, inputs)
            if action == "create":
                self._create(otype, inputs)
            self._read(otype, inputs, data)
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/([^/]+)", path)
        if m and method == "GET":
            otype = _type_or_400(m.group(1))
            _require_scope(scopes, otype, "read")
            prop = query.get("idProperty", "hs_object_id")
            obj = self._store.find(otype, prop, unquote(m.group(2)))
            if obj is None:
                raise _error(404, "Object not found", "OBJECT_NOT_FOUND")
            raise _Answer(200, _public(obj))
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)", path)
        if m and method == "GET":
            otype = _type_or_400(m.group(1))
            _require_scope(scopes, otype, "read")
            self._page(otype, query)
        m = re.fullmatch(r"/crm/v4/associations/([^/]+)/([^/]+)/batch/associate/default", path)
        if m and method == "POST":
            from_type, to_type = _type_or_400(m.group(1)), _type_or_400(m.group(2))
            _require_scope(scopes, from_type, "write")
            self._associate(from_type, to_type, _inputs(data))
        m = re.fullmatch(r"/crm/v4/objects/([^/]+)/([^/]+)/associations/([^/]+)", path)
        if m and method == "GET":
            from_type, to_type = _type_or_400(m.group(1)), _type_or_400(m.group(3))
            _require_scope(scopes, from_type, "read")
            ids = self._store.associations.get((from_type.name, m.group(2), to_type.name), set())
            raise _Answer(
                200,
                {
                    "results": [
                        {
                            "toObjectId": int(i),
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}
                            ],
                        }
                        for i in sorted(ids)
                    ]
                },
            )
        raise _error(404, f"No route for {method} {path}", "OBJECT_NOT_FOUND")

    def _upsert(self, otype: ObjectType, inputs: list[dict[str, Any]]) -> None:
        id_props = {str(i.get("idProperty") or "") for i in inputs}
        for prop in id_props:
            if prop not in otype.unique_properties:
                raise _error(
                    400,
                    f"Property '{prop}' is not a unique property of {otype.name}; idProperty "
                    "must name a property whose values are unique",
                    "VALIDATION_ERROR",
                )
        seen: dict[str, str] = {}
        duplicates = []
        for i in inputs:
            key = _Store.normalize(str(i["idProperty"]), str(i.get("id", "")))
            if key in seen:
                duplicates.append(str(i.get("id")))
            seen[key] = str(i.get("id"))
        if duplicates:
            raise _error(
                400,
                f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
                "VALIDATION_ERROR",
            )
        self._reject_invalid(inputs)
        results, errors = [], []
        stamp = _now_iso()
        for i in inputs:
            props = {k: _as_text(v) for k, v in (i.get("properties") or {}).items()}
            prop, value = str(i["idProperty"]), str(i.get("id", ""))
            failed = self._injected_failure(i, props, value)
            if failed is not None:
                errors.append(failed)
                continue
            obj = self._store.find(otype, prop, value)
            new = obj is None
            if obj is None:
                hs_id = self._store.new_id()
                obj = _Object(hs_id, {"hs_object_id": hs_id, "createdate": stamp}, stamp, stamp)
                props.setdefault(prop, value.strip().lower() if prop == "email" else value)
            obj.properties.update(props)
            obj.properties[prop] = obj.properties.get(prop) or value
            obj.properties["lastmodifieddate"] = stamp
            obj.updated = stamp
            self._store.save(otype, obj)
            results.append({**_public(obj), "new": new, **_trace(i)})
        self._batch_answer(results, errors, stamp)

    def _create(self, otype: ObjectType, inputs: list[dict[str, Any]]) -> None:
        self._reject_invalid(inputs)
        results, errors = [], []
        stamp = _now_iso()
        for i in inputs:
            props = {k: _as_text(v) for k, v in (i.get("properties") or {}).items()}
            failed = self._injected_failure(i, props, "")
            if failed is not None:
                errors.append(failed)
                continue
            clash = next(
                (
                    existing
                    for p in otype.unique_properties
                    if p in props and (existing := self._store.find(otype, p, props[p]))
                ),
                None,
            )
            if clash is not None:
                errors.append(
                    {
                        "status": "error",
                        "category": "CONFLICT",
                        "message": f"Object already exists. Existing ID: {clash.id}",
                        "context": _context(i, ""),
                    }
                )
                continue
            hs_id = self._store.new_id()
            obj = _Object(hs_id, {"hs_object_id": hs_id, "createdate": stamp}, stamp, stamp)
            obj.properties.update(props)
            obj.properties["lastmodifieddate"] = stamp
            self._store.save(otype, obj)
            results.append({**_public(obj), **_trace(i)})
        self._batch_answer(results, errors, stamp, created=True)

    def _read(self, otype: ObjectType, inputs: list[dict[str, Any]], data: Any) -> None:
        prop = str(data.get("idProperty") or "hs_object_id")
        wanted = data.get("properties") or None
        results, missing = [], []
        for i in inputs:
            obj = self._store.find(otype, prop, str(i.get("id", "")))
            if obj is None:
                missing.append(str(i.get("id", "")))
                continue
            public = _public(obj)
            if wanted:
                public["properties"] = {
                    k: v for k, v in obj.properties.items() if k in wanted or k == "hs_object_id"
                }
            results.append(public)
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {otype.name} objects, they may be deleted "
                    "or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            )
        self._batch_answer(results, errors, _now_iso())

    def _page(self, otype: ObjectType, query: dict[str, str]) -> None:
        limit = min(100, int(query.get("limit", "10")))
        after = int(query.get("after", "0"))
        everything = sorted(self._store.objects[otype.name].values(), key=lambda o: int(o.id))
        page = [o for o in everything if int(o.id) > after][:limit]
        body: dict[str, Any] = {"results": [_public(o) for o in page]}
        if page and int(page[-1].id) < int(everything[-1].id):
            body["paging"] = {"next": {"after": page[-1].id}}
        raise _Answer(200, body)

    def _associate(
        self, from_type: ObjectType, to_type: ObjectType, inputs: list[dict[str, Any]]
    ) -> None:
        results, errors = [], []
        for i in inputs:
            from_id = str((i.get("from") or {}).get("id", ""))
            to_id = str((i.get("to") or {}).get("id", ""))
            if from_id not in self._store.objects[from_type.name]:
                missing, kind = from_id, from_type
            elif to_id not in self._store.objects[to_type.name]:
                missing, kind = to_id, to_type
            else:
                self._store.associations.setdefault(
                    (from_type.name, from_id, to_type.name), set()
                ).add(to_id)
                self._store.associations.setdefault(
                    (to_type.name, to_id, from_type.name), set()
                ).add(from_id)
                results.append(
                    {
                        "from": {"id": from_id},
                        "to": {"id": to_id},
                        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "typeId": 1},
                    }
                )
                continue
            errors.append(
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"No {kind.name} object with id {missing}",
                    "context": {"fromObjectId": [from_id], "toObjectId": [to_id]},
                }
            )
        self._batch_answer(results, errors, _now_iso())

    def _reject_invalid(self, inputs: list[dict[str, Any]]) -> None:
        """A whole-batch 400 like HubSpot's "Property values were not valid"."""
        for i in inputs:
            for prop, pattern in self.reject_when.items():
                value = _as_text((i.get("properties") or {}).get(prop, ""))
                if pattern.search(value):
                    detail = orjson.dumps(
                        [
                            {
                                "isValid": False,
                                "message": f"{value!r} is not a valid value for {prop}",
                                "error": "INVALID_OPTION",
                                "name": prop,
                            }
                        ]
                    ).decode()
                    raise _error(
                        400, f"Property values were not valid: {detail}", "VALIDATION_ERROR"
                    )

    def _injected_failure(
        self, given: dict[str, Any], props: dict[str, str], id_value: str
    ) -> dict[str, Any] | None:
        for prop, pattern in self.fail_when.items():
            value = props.get(prop, id_value if prop == given.get("idProperty") else "")
            if pattern.search(value):
                return {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"Property values were not valid: {prop}={value!r} is rejected",
                    "context": _context(given, id_value),
                }
        return None

    def _batch_answer(
        self,
        results: list[dict[str, Any]],
        errors: list[dict[str, Any]],
        started: str,
        created: bool = False,
    ) -> None:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now_iso(),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = [{**e, "links": {}, "errors": []} for e in errors]
            raise _Answer(207, body)
        raise _Answer(201 if created else 200, body)


def _secs(injected: _Injected) -> str:
    return f"{injected.retry_after:g}"


def _trace(given: dict[str, Any]) -> dict[str, str]:
    trace = given.get("objectWriteTraceId")
    return {"objectWriteTraceId": str(trace)} if trace is not None else {}


def _context(given: dict[str, Any], id_value: str) -> dict[str, list[str]]:
    trace = given.get("objectWriteTraceId")
    if trace is not None:
        return {"objectWriteTraceId": [str(trace)]}
    return {"ids": [id_value]}


def _public(obj: _Object) -> dict[str, Any]:
    return {
        "id": obj.id,
        "properties": dict(obj.properties),
        "createdAt": obj.created,
        "updatedAt": obj.updated,
        "archived": False,
    }


def _resolve_type(name: str) -> ObjectType:
    for t in OBJECT_TYPES:
        if name in (t.name, t.type_id, *t.aliases):
            return t
    raise KeyError(f"the stand-in has no object type {name!r}")


def _type_or_400(name: str) -> ObjectType:
    try:
        return _resolve_type(unquote(name))
    except KeyError:
        raise _error(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR") from None


def _require_scope(scopes: frozenset[str], otype: ObjectType, mode: str) -> None:
    needed = f"crm.objects.{otype.scope}.{mode}"
    if needed not in scopes:
        raise _error(
            403,
            "This app hasn't been granted all required scopes to make this call. Read more "
            "about required scopes here: https://developers.hubspot.com/scopes.",
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [needed]},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )


def _inputs(data: Any) -> list[dict[str, Any]]:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise _error(
            400, "Invalid input JSON: 'inputs' must be a list of objects", "VALIDATION_ERROR"
        )
    if len(inputs) > MAX_INPUTS:
        raise _error(
            400,
            f"Batch input length must be less than or equal to {MAX_INPUTS}; got {len(inputs)}",
            "VALIDATION_ERROR",
        )
    return inputs


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.hubspot_stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", action="append", help="accepted bearer token (repeatable)")
    parser.add_argument("--per-10s", type=int, default=None, help="calls per rolling 10 s")
    parser.add_argument("--daily", type=int, default=None, help="calls per day")
    parser.add_argument("--retry-after", type=float, default=None, help="Retry-After on 429s")
    parser.add_argument(
        "--fail-when",
        action="append",
        default=[],
        metavar="PROPERTY=REGEX",
        help="inputs whose property matches fail alone in a 207 (repeatable)",
    )
    args = parser.parse_args(argv)
    fail_when = dict(item.split("=", 1) for item in args.fail_when)
    stub = HubSpotStub(
        dict.fromkeys(args.token or ["demo-token"], ALL_SCOPES),
        per_10s=args.per_10s,
        daily=args.daily,
        retry_after=args.retry_after,
        fail_when=fail_when,
        host=args.host,
        port=args.port,
    ).start()
    print(f"HubSpot stand-in on {stub.url} (tokens: {', '.join(stub.tokens)})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly, like on Ctrl-C
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
