"""``GET /health`` (Kafka Connect's shape and codes) and ``GET /metrics`` (Prometheus).

Health: 503 ``starting`` until the worker has reached Kafka and started its connectors,
naming what it is waiting for; then 200 ``healthy``, or 500 ``unhealthy`` naming the
failure when Kafka stops answering. The Kafka check runs at most every few seconds
whatever the probe rate. That is readiness: route traffic elsewhere while it fails.

``GET /health/live`` is liveness: 200 whenever the process serves requests, whatever
Kafka does, so an orchestrator restarts a worker that hangs, and not every worker of a
cluster at once when Kafka is away (a restart would not bring Kafka back).
"""

from __future__ import annotations

import threading
import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from offramp.rest.deps import WorkerDep
from offramp.rest.models import HealthBody
from offramp.rest.prometheus import CONTENT_TYPE, render_metrics
from offramp.rest.responses import JSONBody
from offramp.worker import Worker

__all__ = ["KafkaProbe", "router"]

router = APIRouter(tags=["health"])

HEALTHY = "Worker has completed startup and is ready to handle requests."


class KafkaProbe:
    """A cached Kafka reachability check, shared by every health request."""

    def __init__(self, worker: Worker, max_age: float = 5.0, timeout: float = 3.0) -> None:
        self.worker = worker
        self.max_age = max_age
        self.timeout = timeout
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._ok = True

    def reachable(self) -> bool:
        with self._lock:  # one check at a time; the others reuse its answer
            if time.monotonic() - self._checked_at >= self.max_age:
                self._ok = self.worker.check_kafka(timeout=self.timeout)
                self._checked_at = time.monotonic()
            return self._ok


@router.get(
    "/health",
    responses={
        200: {"model": HealthBody},
        500: {"model": HealthBody, "description": "Unhealthy"},
        503: {"model": HealthBody, "description": "Starting"},
    },
)
def health(request: Request, worker: WorkerDep) -> Response:
    if not worker.ready:
        waiting = worker.last_error or "starting connectors"
        return JSONBody(
            {"status": "starting", "message": f"Worker is still starting up: {waiting}"}, 503
        )
    probe: KafkaProbe = request.app.state.kafka_probe
    if not probe.reachable():
        return JSONBody({"status": "unhealthy", "message": worker.last_error or "unknown"}, 500)
    return JSONBody({"status": "healthy", "message": HEALTHY})


@router.get("/health/live", responses={200: {"model": HealthBody}})
async def live() -> Response:
    # async: answered on the event loop itself, not the thread pool that readiness
    # probes (each may wait seconds for Kafka) can fill during an outage.
    return JSONBody({"status": "healthy", "message": "Worker process is serving requests."})


@router.get(
    "/metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(worker: WorkerDep) -> Response:
    return Response(render_metrics(worker), media_type=CONTENT_TYPE)
