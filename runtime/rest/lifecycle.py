"""Lifecycle: pause, resume, stop, restart a connector; restart one task."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from offramp.rest.deps import ReadyWorkerDep
from offramp.rest.models import ConnectorStatus, ErrorBody
from offramp.rest.responses import JSONBody, no_content
from offramp.rest.shapes import connector_status

__all__ = ["router"]

router = APIRouter(tags=["lifecycle"])

_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


@router.put("/connectors/{name}/pause", status_code=202, responses=_ERRORS)
def pause(name: str, worker: ReadyWorkerDep) -> Response:
    """Tasks keep their partitions and stop reading; what was read is still written."""
    worker.pause(name)
    return no_content(202)


@router.put("/connectors/{name}/resume", status_code=202, responses=_ERRORS)
def resume(name: str, worker: ReadyWorkerDep) -> Response:
    """Also starts the tasks of a STOPPED connector."""
    worker.resume(name)
    return no_content(202)


@router.put("/connectors/{name}/stop", status_code=204, responses=_ERRORS)
def stop(name: str, worker: ReadyWorkerDep) -> Response:
    """Tasks flush, commit and release their partitions; the config is kept."""
    worker.stop_connector(name)
    return no_content(204)


@router.post(
    "/connectors/{name}/restart",
    status_code=204,
    responses={202: {"model": ConnectorStatus, "description": "What is restarting"}, **_ERRORS},
)
def restart(
    name: str,
    worker: ReadyWorkerDep,
    include_tasks: Annotated[bool, Query(alias="includeTasks")] = False,
    only_failed: Annotated[bool, Query(alias="onlyFailed")] = False,
) -> Response:
    plan = worker.restart(name, include_tasks=include_tasks, only_failed=only_failed)
    if not include_tasks and not only_failed:
        return no_content(204)
    return JSONBody(connector_status(worker.get(name), worker, plan), 202)


@router.post("/connectors/{name}/tasks/{task_id}/restart", status_code=204, responses=_ERRORS)
def restart_task(name: str, task_id: int, worker: ReadyWorkerDep) -> Response:
    worker.restart_task(name, task_id)
    return no_content(204)
