"""What routers get from the application: the worker, as a FastAPI dependency.

``ReadyWorkerDep`` is for changes: until the worker is ready (Kafka reached, its own
connectors started) they are refused with 503, so a request can't race start-up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from offramp.rest.errors import ApiError
from offramp.worker import Worker

__all__ = ["ReadyWorkerDep", "WorkerDep", "get_ready_worker", "get_worker"]


async def get_worker(request: Request) -> Worker:
    worker: Worker = request.app.state.worker
    return worker


async def get_ready_worker(request: Request) -> Worker:
    worker = await get_worker(request)
    if not worker.ready:
        waiting = worker.last_error or "starting connectors"
        raise ApiError(503, f"Worker is still starting up ({waiting}); try again shortly")
    return worker


WorkerDep = Annotated[Worker, Depends(get_worker)]
ReadyWorkerDep = Annotated[Worker, Depends(get_ready_worker)]
