"""``/connectors``: list, create, read, reconfigure and delete connectors, their status,
tasks and topics.

Handlers are plain ``def``s: FastAPI runs them in its thread pool, so the Worker's
blocking calls (stopping tasks waits for them to flush) never block the event loop.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from offramp.errors import ConnectorNotFoundError
from offramp.masking import restore_hidden
from offramp.rest.deps import ReadyWorkerDep, WorkerDep
from offramp.rest.errors import ApiError
from offramp.rest.models import (
    ConfigValue,
    ConnectorInfo,
    ConnectorStatus,
    CreateConnectorRequest,
    ErrorBody,
    TaskConfigBody,
    TaskStatusBody,
)
from offramp.rest.responses import JSONBody, no_content
from offramp.rest.shapes import (
    as_config_string,
    connector_info,
    connector_status,
    expanded,
    flat_config,
    task_configs,
    task_status,
)

__all__ = ["check_name", "router"]

router = APIRouter(tags=["connectors"])

MAX_NAME_LENGTH = 240  # the consumer group is "connect-<name>"; group ids stay < 256

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request or config"},
    404: {"model": ErrorBody, "description": "No such connector"},
}


def check_name(name: str, trim: bool = True) -> str:
    """Kafka Connect trims names given in a body; a name that can't be a path segment
    or a group id is refused here, with the reason."""
    if trim:
        name = name.strip()
    elif name != name.strip():
        raise ApiError(400, f"Connector name {name!r} must not start or end with spaces")
    if not name:
        raise ApiError(400, "Connector name is required and must not be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, f"Connector name is longer than {MAX_NAME_LENGTH} characters")
    if "/" in name:
        raise ApiError(400, f"Connector name {name!r} must not contain '/'")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ApiError(400, f"Connector name {name!r} must not contain control characters")
    return name


def _strings(config: dict[str, Any]) -> dict[str, str]:
    return {key: as_config_string(value) for key, value in config.items()}


@router.get("/connectors", responses={200: {"description": "Names, or expanded info/status"}})
def list_connectors(
    worker: WorkerDep,
    expand: Annotated[list[str] | None, Query(description="status and/or info")] = None,
) -> Response:
    names = worker.names()
    wanted = {e: True for e in expand or [] if e in ("status", "info")}
    if not wanted:
        return JSONBody(names)
    return JSONBody(expanded(worker, names, wanted))


@router.post(
    "/connectors",
    status_code=201,
    responses={201: {"model": ConnectorInfo}, 409: {"model": ErrorBody}, **_ERRORS},
)
def create_connector(body: CreateConnectorRequest, worker: ReadyWorkerDep) -> Response:
    config = _strings(body.config)
    given = body.name if body.name is not None else config.get("name")
    if given is None:
        raise ApiError(400, "Connector name is required: give 'name' (or 'name' in config)")
    name = check_name(given)
    runtime = worker.create(name, config, body.initial_state or "RUNNING")
    return JSONBody(
        connector_info(runtime), 201, headers={"Location": f"/connectors/{quote(name, safe='')}"}
    )


@router.get("/connectors/{name}", responses={200: {"model": ConnectorInfo}, **_ERRORS})
def get_connector(name: str, worker: WorkerDep) -> Response:
    return JSONBody(connector_info(worker.get(name)))


@router.delete("/connectors/{name}", status_code=204, responses=_ERRORS)
def delete_connector(name: str, worker: ReadyWorkerDep) -> Response:
    worker.delete(name)
    return no_content()


@router.get("/connectors/{name}/config", responses={200: {"model": dict[str, str]}, **_ERRORS})
def get_config(name: str, worker: WorkerDep) -> Response:
    return JSONBody(flat_config(worker.get(name)))


@router.put(
    "/connectors/{name}/config",
    responses={
        200: {"model": ConnectorInfo, "description": "Updated"},
        201: {"model": ConnectorInfo, "description": "Created"},
        **_ERRORS,
    },
)
def put_config(
    name: str, worker: ReadyWorkerDep, config: Annotated[dict[str, ConfigValue], Body()]
) -> Response:
    raw = _strings(config)
    if "name" in raw and raw["name"] != name:
        raise ApiError(
            400,
            f"Connector name configuration ({raw['name']}) doesn't match connector name "
            f"in the URL ({name})",
        )
    check_name(name, trim=False)
    try:
        current = worker.get(name).config
    except ConnectorNotFoundError:
        pass  # created below
    else:
        raw = restore_hidden(raw, current.raw, current.plugin.connector.config_model)
    runtime, created = worker.put(name, raw)
    return JSONBody(connector_info(runtime), 201 if created else 200)


@router.patch("/connectors/{name}/config", responses={200: {"model": ConnectorInfo}, **_ERRORS})
def patch_config(
    name: str,
    worker: ReadyWorkerDep,
    changes: Annotated[dict[str, ConfigValue | None], Body(description="null removes a key")],
) -> Response:
    current = worker.get(name).config
    patch: dict[str, Any] = {
        k: (None if v is None else as_config_string(v)) for k, v in changes.items()
    }
    kept = restore_hidden(
        {k: v for k, v in patch.items() if v is not None},
        current.raw,
        current.plugin.connector.config_model,
    )
    patch.update(kept)
    return JSONBody(connector_info(worker.patch(name, patch)))


@router.get("/connectors/{name}/status", responses={200: {"model": ConnectorStatus}, **_ERRORS})
def get_status(name: str, worker: WorkerDep) -> Response:
    return JSONBody(connector_status(worker.get(name), worker))


@router.get("/connectors/{name}/tasks", responses={200: {"model": list[TaskConfigBody]}, **_ERRORS})
def get_tasks(name: str, worker: WorkerDep) -> Response:
    return JSONBody(task_configs(worker.get(name)))


@router.get(
    "/connectors/{name}/tasks/{task_id}/status",
    responses={200: {"model": TaskStatusBody}, **_ERRORS},
)
def get_task_status(name: str, task_id: int, worker: WorkerDep) -> Response:
    return JSONBody(task_status(worker.task(name, task_id), worker.worker_id))


@router.get(
    "/connectors/{name}/topics", responses={200: {"description": "Topics in use"}, **_ERRORS}
)
def get_topics(name: str, worker: WorkerDep) -> Response:
    return JSONBody({name: {"topics": worker.topics(name)}})


@router.put("/connectors/{name}/topics/reset", status_code=202, responses=_ERRORS)
def reset_topics(name: str, worker: ReadyWorkerDep) -> Response:
    worker.reset_topics(name)
    return no_content(202)
