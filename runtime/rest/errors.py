"""Exceptions → Kafka Connect's ``{"error_code", "message"}`` with the right status.

========================  ======  ====================================================
exception                 status  message
========================  ======  ====================================================
``ApiError``              its own what the router said
``ConnectorNotFoundError`` 404    "Connector x not found"
``ConnectorExistsError``  409     "Connector x already exists"
``IllegalStateError``     400     why not now
``ConfigError``           400     every (key, reason), one per line
request validation        400     malformed JSON or which field is wrong (404 for paths)
unknown path / method     404/405 "HTTP 404 Not Found" (with ``Allow`` on 405)
``KafkaException``        500     the Kafka client's error
anything else             500     its message (and a traceback in the log)
========================  ======  ====================================================
"""

from __future__ import annotations

import http
import logging
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from offramp.errors import (
    ConfigError,
    ConnectorExistsError,
    ConnectorNotFoundError,
    IllegalStateError,
)
from offramp.rest.responses import error_response

__all__ = ["ApiError", "config_error_message", "install_error_handlers"]

log = logging.getLogger("offramp.rest")


class ApiError(Exception):
    """Raised by routers for a specific status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def config_error_message(exc: ConfigError) -> str:
    """Kafka Connect's wording, every error on its own line with its key."""
    lines = [f"{key}: {reason}" if key else reason for key, reason in exc.errors]
    return (
        f"Connector configuration is invalid and contains the following {len(lines)} "
        "error(s):\n" + "\n".join(lines) + "\nYou can also find the above list of errors at "
        "the endpoint `/connector-plugins/{connectorType}/config/validate`"
    )


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path") else []
    return ".".join(parts) or (str(loc[0]) if loc else "request")


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = list(exc.errors())
    if any(e.get("loc", ("",))[0] == "path" for e in errors):
        return 404, "HTTP 404 Not Found: " + "; ".join(
            f"{_where(tuple(e['loc']))}: {e['msg']}" for e in errors
        )
    for e in errors:
        if e.get("type") == "json_invalid":
            detail = (e.get("ctx") or {}).get("error", "")
            return 400, f"Malformed JSON in the request body: {detail}".rstrip(": ")
    return 400, "Invalid request: " + "; ".join(
        f"{_where(tuple(e['loc']))}: {e['msg']}" for e in errors
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, str(exc))


async def _exists(request: Request, exc: Exception) -> Response:
    return error_response(409, str(exc))


async def _illegal(request: Request, exc: Exception) -> Response:
    return error_response(400, str(exc))


async def _config(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConfigError)
    return error_response(400, config_error_message(exc))


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    status, message = _validation_message(exc)
    return error_response(status, message)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    phrase = http.HTTPStatus(exc.status_code).phrase
    message = f"HTTP {exc.status_code} {phrase}"
    if exc.detail and exc.detail != phrase:
        message += f": {exc.detail}"
    return error_response(exc.status_code, message, headers=exc.headers)


async def _kafka(request: Request, exc: Exception) -> Response:
    log.error("%s %s: Kafka request failed: %s", request.method, request.url.path, exc)
    return error_response(500, f"Kafka request failed: {exc}")


async def _unexpected(request: Request, exc: Exception) -> Response:
    return error_response(500, f"{type(exc).__name__}: {exc}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ConnectorNotFoundError, _not_found)
    app.add_exception_handler(ConnectorExistsError, _exists)
    app.add_exception_handler(IllegalStateError, _illegal)
    app.add_exception_handler(ConfigError, _config)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(KafkaException, _kafka)
    app.add_exception_handler(Exception, _unexpected)
