"""Runtime objects as Kafka Connect's JSON shapes, with secrets masked on the way out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offramp.errors import ConnectorNotFoundError
from offramp.masking import SECRETS, mask_config
from offramp.task import TaskRunner, TaskState
from offramp.worker import ConnectorRuntime, RestartPlan, Worker

__all__ = [
    "as_config_string",
    "connector_info",
    "connector_status",
    "expanded",
    "flat_config",
    "task_configs",
    "task_status",
]


def as_config_string(value: Any) -> str:
    """Kafka Connect configs are string maps: ``true``, ``5``, ``a,b``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(as_config_string(v) for v in value)
    return str(value)


def flat_config(runtime: ConnectorRuntime) -> dict[str, str]:
    """The config as given (references unresolved), secret values masked."""
    model = runtime.config.plugin.connector.config_model
    return {
        key: as_config_string(value)
        for key, value in mask_config(runtime.config.raw, model).items()
        if value is not None
    }


def connector_info(runtime: ConnectorRuntime) -> dict[str, Any]:
    return {
        "name": runtime.name,
        "config": flat_config(runtime),
        "tasks": [{"connector": runtime.name, "task": t.task_id} for t in list(runtime.tasks)],
        "type": "sink",
    }


def _trace(text: str | None) -> str | None:
    return SECRETS.redact(text) if text else text


def task_status(task: TaskRunner, worker_id: str, restarting: bool = False) -> dict[str, Any]:
    status = task.status
    body: dict[str, Any] = {
        "id": task.task_id,
        "state": TaskState.RESTARTING.value if restarting else status.state.value,
        "worker_id": worker_id,
    }
    if status.trace and not restarting:
        body["trace"] = _trace(status.trace)
    if status.message and not restarting:
        body["message"] = _trace(status.message)
    return body


def connector_status(
    runtime: ConnectorRuntime, worker: Worker, plan: RestartPlan | None = None
) -> dict[str, Any]:
    """``plan``: what a restart just restarted, shown as RESTARTING (Kafka Connect's 202)."""
    connector: dict[str, Any] = {
        "state": "RESTARTING" if plan and plan.connector else runtime.state.value,
        "worker_id": worker.worker_id,
    }
    if runtime.trace and not (plan and plan.connector):
        connector["trace"] = _trace(runtime.trace)
    restarting = set(plan.tasks) if plan else set()
    return {
        "name": runtime.name,
        "connector": connector,
        "tasks": [
            task_status(t, worker.worker_id, t.task_id in restarting) for t in list(runtime.tasks)
        ]
        + worker.peer_task_statuses(runtime.name),
        "type": "sink",
    }


def task_configs(runtime: ConnectorRuntime) -> list[dict[str, Any]]:
    config = flat_config(runtime)
    return [
        {"id": {"connector": runtime.name, "task": t.task_id}, "config": dict(config)}
        for t in list(runtime.tasks)
    ]


def expanded(worker: Worker, names: list[str], expand: Mapping[str, bool]) -> dict[str, Any]:
    """``GET /connectors?expand=status&expand=info``."""
    out: dict[str, Any] = {}
    for name in names:
        try:
            runtime = worker.get(name)
        except ConnectorNotFoundError:
            continue  # deleted since the listing
        entry: dict[str, Any] = {}
        if expand.get("info"):
            entry["info"] = connector_info(runtime)
        if expand.get("status"):
            entry["status"] = connector_status(runtime, worker)
        out[name] = entry
    return out
