"""``GET /`` (server info) and ``/admin/loggers``: read and change log levels live.

Levels use Kafka Connect's (log4j) names and map onto Python's: TRACE and ALL → DEBUG,
WARN → WARNING, FATAL → CRITICAL, OFF → above CRITICAL. Setting a logger also sets its
descendants that have a level of their own, as Kafka Connect does; the answer lists
every logger changed. ``scope`` is accepted for compatibility (one worker: always
``worker``).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

import offramp
from offramp.rest.deps import WorkerDep
from offramp.rest.errors import ApiError
from offramp.rest.models import ErrorBody, LoggerLevel, ServerInfo, SetLoggerLevel
from offramp.rest.responses import JSONBody

__all__ = ["router"]

router = APIRouter(tags=["admin"])

ROOT = "root"
OFF = logging.CRITICAL + 10
_TO_PYTHON = {
    "OFF": OFF,
    "FATAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": logging.DEBUG,
    "ALL": logging.DEBUG,
}
_FROM_PYTHON = {
    OFF: "OFF",
    logging.CRITICAL: "FATAL",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
}

_modified_lock = threading.Lock()
_modified: dict[str, int] = {}


@lru_cache(maxsize=1)
def _commit() -> str:
    """The git commit of a source checkout (read from .git, no subprocess); else unknown."""
    git = Path(offramp.__file__).resolve().parents[1] / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.exists():
                return ref_file.read_text().strip()
            for line in (git / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
            return "unknown"
        return head
    except OSError:
        return "unknown"


@router.get("/", responses={200: {"model": ServerInfo}})
def server_info(worker: WorkerDep) -> Response:
    return JSONBody(
        {
            "version": offramp.__version__,
            "commit": _commit(),
            "kafka_cluster_id": worker.kafka_cluster_id,
        }
    )


def _level_name(level: int) -> str:
    return _FROM_PYTHON.get(level) or logging.getLevelName(level)


def _describe(name: str, logger: logging.Logger) -> dict[str, Any]:
    with _modified_lock:
        modified = _modified.get(name)
    return {"level": _level_name(logger.getEffectiveLevel()), "last_modified": modified}


def _existing(name: str) -> logging.Logger | None:
    if name == ROOT:
        return logging.getLogger()
    found = logging.Logger.manager.loggerDict.get(name)
    return found if isinstance(found, logging.Logger) else None


@router.get("/admin/loggers", responses={200: {"model": dict[str, LoggerLevel]}})
def list_loggers() -> Response:
    """Loggers with a level of their own (and root)."""
    out = {ROOT: _describe(ROOT, logging.getLogger())}
    for name, logger in sorted(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            out[name] = _describe(name, logger)
    return JSONBody(out)


@router.get(
    "/admin/loggers/{logger}",
    responses={200: {"model": LoggerLevel}, 404: {"model": ErrorBody}},
)
def get_logger(logger: str) -> Response:
    found = _existing(logger)
    if found is None:
        raise ApiError(404, f"Logger {logger} not found")
    return JSONBody(_describe(logger, found))


@router.put(
    "/admin/loggers/{logger}",
    responses={200: {"model": list[str]}, 400: {"model": ErrorBody}},
)
def set_logger(
    logger: str,
    body: Annotated[SetLoggerLevel, Body()],
    scope: Annotated[str | None, Query(description="worker or cluster")] = None,
) -> Response:
    level = _TO_PYTHON.get(body.level.strip().upper())
    if level is None:
        raise ApiError(400, f"Invalid log level {body.level!r}; use one of {', '.join(_TO_PYTHON)}")
    if scope is not None and scope.lower() not in ("worker", "cluster"):
        raise ApiError(400, f"Invalid scope {scope!r}; use worker or cluster")
    target = logging.getLogger() if logger == ROOT else logging.getLogger(logger)
    changed = [logger]
    prefix = "" if logger == ROOT else logger + "."
    for name, other in list(logging.Logger.manager.loggerDict.items()):
        if (
            isinstance(other, logging.Logger)
            and name.startswith(prefix)
            and other.level != logging.NOTSET
            and other is not target
        ):
            other.setLevel(level)
            changed.append(name)
    target.setLevel(level)
    now = int(time.time() * 1000)
    with _modified_lock:
        _modified.update(dict.fromkeys(changed, now))
    return JSONBody(sorted(changed))
