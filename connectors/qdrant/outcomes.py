"""What a Qdrant call's exception means for the sink, whatever the transport.

qdrant-client raises different things for the same situation: ``UnexpectedResponse``
(HTTP), ``grpc.RpcError`` (gRPC), ``ValueError`` (local mode), ``ResourceExhaustedResponse``
(a 429 with ``Retry-After``, either transport), ``ResponseHandlingException`` or httpx
errors (connection trouble). ``classify`` folds them into one ``Outcome``:

- ``RETRY``: transient (unreachable, timeout, 5xx, 429): retry the batch, after
  ``retry_after`` if the server said;
- ``REFUSED``: the request was refused as invalid (400, INVALID_ARGUMENT, a local
  ``Wrong input``): some point in it is bad; ``message`` is Qdrant's own;
- ``MISSING``: the collection doesn't exist (404, NOT_FOUND);
- ``EXISTS``: it already exists (a race between tasks creating it);
- ``FATAL``: credentials refused, or anything else retrying can't fix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc  # type: ignore[import-untyped]
import httpx
import orjson
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

__all__ = ["Outcome", "Verdict", "classify"]


class Verdict(enum.Enum):
    RETRY = "retry"
    REFUSED = "refused"
    MISSING = "missing"
    EXISTS = "exists"
    FATAL = "fatal"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    message: str
    retry_after: float | None = None


def _http_message(exc: UnexpectedResponse) -> str:
    try:
        body = orjson.loads(exc.content)
        error = body["status"]["error"]
        if isinstance(error, str) and error:
            return error
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    text = exc.content[:300].decode("utf-8", "replace").strip()
    return text or exc.reason_phrase or "no message"


def _retry_after(exc: UnexpectedResponse) -> float | None:
    value = exc.headers.get("retry-after") if exc.headers is not None else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _from_http(exc: UnexpectedResponse) -> Outcome:
    status = exc.status_code or 0
    message = f"{status} {_http_message(exc)}"
    if status == 429 or status == 408 or status >= 500:
        return Outcome(Verdict.RETRY, message, _retry_after(exc))
    if status == 404:
        return Outcome(Verdict.MISSING, message)
    if status == 409:
        return Outcome(Verdict.EXISTS, message)
    if status in (400, 422):
        return Outcome(Verdict.REFUSED, _http_message(exc))
    if status in (401, 403):
        return Outcome(Verdict.FATAL, f"{message} (check qdrant.api.key)")
    return Outcome(Verdict.FATAL, message)


_GRPC_RETRY = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
}


def _from_grpc(exc: grpc.RpcError) -> Outcome:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    message = f"{code.name}: {details}"
    if code in _GRPC_RETRY:
        return Outcome(Verdict.RETRY, message)
    if code == grpc.StatusCode.NOT_FOUND:
        return Outcome(Verdict.MISSING, message)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return Outcome(Verdict.EXISTS, message)
    if code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
    ):
        return Outcome(Verdict.REFUSED, str(details))
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return Outcome(Verdict.FATAL, f"{message} (check qdrant.api.key)")
    return Outcome(Verdict.FATAL, message)


def _from_local(exc: ValueError) -> Outcome:
    text = str(exc)
    if text.startswith("Collection") and text.endswith("not found"):
        return Outcome(Verdict.MISSING, text)
    if text.endswith("already exists"):
        return Outcome(Verdict.EXISTS, text)
    return Outcome(Verdict.REFUSED, text)


def classify(exc: BaseException) -> Outcome:
    """What ``exc`` from a qdrant-client call means; see the module docstring."""
    if isinstance(exc, ResourceExhaustedResponse):
        return Outcome(Verdict.RETRY, f"rate limited: {exc}", float(exc.retry_after_s))
    if isinstance(exc, UnexpectedResponse):
        return _from_http(exc)
    if isinstance(exc, ResponseHandlingException):
        return Outcome(Verdict.RETRY, f"no usable answer: {exc.source!r}")
    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError):
        return Outcome(Verdict.RETRY, f"unreachable: {exc!r}")
    if isinstance(exc, grpc.RpcError):
        return _from_grpc(exc)
    if isinstance(exc, ValueError):
        return _from_local(exc)
    return Outcome(Verdict.FATAL, f"{type(exc).__name__}: {exc}")
