"""What each HubSpot answer means for offramp: retry, pause, fail, bisect or dead-letter.

| HubSpot answers                         | offramp does                                        |
|-----------------------------------------|-----------------------------------------------------|
| 207 with ``errors[]``                   | each error's inputs → ``RecordFailure`` (DLQ)       |
| 400 for the whole call                  | ``CallRefused``: the writer bisects to the bad input |
| 400 unknown object type / id property   | ``FatalError`` naming the key to fix                |
| 401                                     | ``FatalError``: the token is invalid or expired     |
| 403                                     | ``FatalError`` naming the missing scopes            |
| 404                                     | ``FatalError``: wrong base URL or object type       |
| 429 ``TEN_SECONDLY_ROLLING``/``SECONDLY`` | ``RetriableError(retry_after)``: wait the window out |
| 429 ``DAILY``                           | ``ThrottledError``: pause until midnight            |
| 408, 423, 5xx, timeouts, lost connections | ``RetriableError``                                |
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from offramp import FatalError, RetriableError, SinkError, parse_retry_after
from offramp.connectors.hubspot.config import required_write_scope
from offramp.connectors.hubspot.ratelimit import RateLimiter

__all__ = [
    "CATEGORY_HEADER",
    "CORRELATION_HEADER",
    "MESSAGE_HEADER",
    "CallRefused",
    "HubSpotProblem",
    "HubSpotRejection",
    "attribute_errors",
    "call_refused",
    "classify",
    "parse_json",
    "refused_problem",
    "retry_after_seconds",
]

CATEGORY_HEADER = "__offramp.errors.hubspot.category"
MESSAGE_HEADER = "__offramp.errors.hubspot.message"
CORRELATION_HEADER = "__offramp.errors.hubspot.correlation.id"

_MAX_MESSAGE = 2000  # HubSpot messages can embed whole property lists


@dataclass(frozen=True)
class HubSpotProblem:
    """One error as HubSpot reported it (a whole answer's, or one of a 207's)."""

    status: int
    category: str
    message: str
    correlation_id: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, status: int, body: Any) -> HubSpotProblem:
        if not isinstance(body, dict):
            text = body if isinstance(body, str) else ""
            return cls(status, f"HTTP_{status}", text[:_MAX_MESSAGE] or f"HTTP {status}")
        context = body.get("context")
        return cls(
            status,
            str(body.get("category") or body.get("errorType") or f"HTTP_{status}"),
            str(body.get("message") or f"HTTP {status}")[:_MAX_MESSAGE],
            str(body.get("correlationId") or ""),
            context if isinstance(context, dict) else {},
        )

    def headers(self, stage: str) -> dict[str, str]:
        """Dead-letter context headers for a record this problem failed."""
        out = {
            CATEGORY_HEADER: self.category,
            MESSAGE_HEADER: self.message,
            "__offramp.errors.hubspot.stage": stage,
        }
        if self.correlation_id:
            out[CORRELATION_HEADER] = self.correlation_id
        return out

    def __str__(self) -> str:
        where = f" (correlationId {self.correlation_id})" if self.correlation_id else ""
        return f"{self.status} {self.category}: {self.message}{where}"


class HubSpotRejection(Exception):
    """HubSpot (or the mapping before it) refused one record; the dead letter's error."""


class CallRefused(Exception):
    """HubSpot refused a call's inputs as a whole, naming none: bisect to find them."""

    def __init__(self, problem: HubSpotProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def call_refused(exc: BaseException) -> bool:
    """``settle_in_halves``'s test: only a call refused as a whole is split."""
    return isinstance(exc, CallRefused)


def refused_problem(exc: BaseException) -> HubSpotProblem:
    """HubSpot's problem with an input ``settle_in_halves`` found refused alone."""
    assert isinstance(exc, CallRefused)  # call_refused let nothing else through
    return exc.problem


def parse_json(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else body


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date), or None."""
    return parse_retry_after((headers or {}).get("Retry-After"))


def _missing_scopes(problem: HubSpotProblem, body: Any, object_type: str) -> str:
    scopes: list[str] = []
    details = body.get("errors") if isinstance(body, dict) else None
    for detail in details if isinstance(details, list) else ():
        context = detail.get("context") if isinstance(detail, dict) else None
        if isinstance(context, dict):
            for key in ("requiredGranularScopes", "requiredScopes"):
                scopes.extend(str(s) for s in context.get(key) or ())
    return ", ".join(dict.fromkeys(scopes)) or required_write_scope(object_type)


def classify(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None,
    *,
    limiter: RateLimiter,
    object_type: str,
    base_url: str,
) -> SinkError | CallRefused:
    """The exception a non-2xx answer turns into (the caller raises it)."""
    problem = HubSpotProblem.from_json(status, body)
    if status == 401:
        return FatalError(
            f"HubSpot refused hubspot.access.token ({problem}): the token is invalid, "
            "expired or revoked; issue a new private app token (or refresh the OAuth "
            "token) and restart the connector"
        )
    if status == 403:
        return FatalError(
            f"hubspot.access.token lacks the scopes this call needs "
            f"({_missing_scopes(problem, body, object_type)}); grant them to the private "
            f"or OAuth app and restart the connector. HubSpot said: {problem}"
        )
    if status == 429:
        policy = str(body.get("policyName") or "") if isinstance(body, dict) else ""
        if policy == "DAILY":
            limiter.exhaust_daily()
            return limiter.daily_exhausted(f"HubSpot answered 429 DAILY: {problem.message}")
        wait = retry_after_seconds(headers)
        if wait is None:
            wait = 1.0 if policy == "SECONDLY" else limiter.window_remaining()
        if policy == "SECONDLY":
            limiter.hold(wait)
        else:
            limiter.refused_for_window(wait)
        return RetriableError(
            f"HubSpot rate limit {policy or 'unknown policy'} reached: {problem.message}",
            retry_after=wait,
        )
    if status == 400 and "infer object type" in problem.message:
        return FatalError(
            f"hubspot.object.type {object_type!r} is not an object type this portal has: {problem}"
        )
    if status == 400 and "unique property" in problem.message:
        return FatalError(f"hubspot.id.property must name a unique property: {problem}")
    if status == 404:
        return FatalError(
            f"HubSpot answered 404 at {base_url} for object type {object_type!r}: check "
            f"hubspot.base.url and hubspot.object.type ({problem})"
        )
    if status in (408, 423, 425) or status >= 500 or status == 0:
        return RetriableError(
            f"HubSpot is unavailable ({problem})", retry_after=retry_after_seconds(headers)
        )
    return CallRefused(problem)


def attribute_errors(
    body: Mapping[str, Any],
    traces: Mapping[str, int],
    ids: Mapping[str, int],
    count: int,
    id_keys: Collection[str] | None = None,
) -> dict[int, HubSpotProblem]:
    """The inputs a 207's ``errors[]`` name, by index: through ``objectWriteTraceId``
    (``traces``) or an id value in the error's context (``ids``, keys lower-case; only
    context entries named in ``id_keys`` when given). Raises ``CallRefused`` when an
    error names no input and the call had more than one (``count``): bisecting will
    find it."""
    failed: dict[int, HubSpotProblem] = {}
    errors = body.get("errors")
    for error in errors if isinstance(errors, list) else ():
        problem = HubSpotProblem.from_json(207, error)
        named = _named_inputs(error, traces, ids, id_keys)
        if not named:
            if count != 1:
                raise CallRefused(problem)
            named = {0}
        for index in named:
            failed.setdefault(index, problem)
    return failed


def _named_inputs(
    error: Any,
    traces: Mapping[str, int],
    ids: Mapping[str, int],
    id_keys: Collection[str] | None,
) -> set[int]:
    contexts = []
    if isinstance(error, dict):
        contexts.append(error.get("context"))
        details = error.get("errors")
        for detail in details if isinstance(details, list) else ():
            if isinstance(detail, dict):
                contexts.append(detail.get("context"))
    named: set[int] = set()
    for context in contexts:
        if not isinstance(context, dict):
            continue
        for key, values in context.items():
            for value in values if isinstance(values, list) else [values]:
                text = str(value)
                if key == "objectWriteTraceId":
                    if text in traces:
                        named.add(traces[text])
                elif (id_keys is None or key in id_keys) and text.strip().lower() in ids:
                    named.add(ids[text.strip().lower()])
    return named
