"""``DistributedWorker``: the standalone worker whose changes go through the config topic.

REST calls the same methods as in standalone mode. Here each change is decided against
the config topic and appended to it (``ConfigLog.write``); the worker then changes its
own connectors only when it reads the record back, exactly as every other worker does,
so all of them apply the same changes in the same order. The standalone ``Worker``'s
methods do the local work (called on the base class, bypassing these overrides).

Each worker runs ``tasks.max`` task threads of every connector; the connector's consumer
group spreads its partitions over every worker's threads.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from offramp.config import ConnectorConfig, WorkerConfig
from offramp.distributed.config_log import ConfigLog, Entry, is_request_key
from offramp.distributed.status_log import StatusLog
from offramp.errors import (
    ConfigError,
    ConnectorExistsError,
    ConnectorNotFoundError,
    IllegalStateError,
)
from offramp.registry import PluginRegistry
from offramp.worker import TARGET_STATES, ConnectorRuntime, ConnectorState, RestartPlan, Worker

__all__ = ["DistributedWorker"]

log = logging.getLogger("offramp.distributed")


class DistributedWorker(Worker):
    """A worker of a cluster: ``attach`` the config and status logs before serving."""

    def __init__(self, config: WorkerConfig, registry: PluginRegistry | None = None) -> None:
        super().__init__(config, registry, store=None)
        self._configs: ConfigLog | None = None
        self._statuses: StatusLog | None = None
        self._plans: dict[str, RestartPlan] = {}  # this worker's part of its own requests

    def attach(self, configs: ConfigLog, statuses: StatusLog) -> None:
        self._configs = configs
        self._statuses = statuses

    @property
    def configs(self) -> ConfigLog:
        if self._configs is None:
            raise RuntimeError("the worker has not joined its cluster yet")
        return self._configs

    # ----- the seam REST calls --------------------------------------------------------

    def validate(self, name: str, raw: Mapping[str, Any]) -> ConnectorConfig:
        if is_request_key(name):
            raise ConfigError(
                [("name", f"{name!r}: names starting with 'restart:' are the config topic's own")]
            )
        return super().validate(name, raw)

    def peer_task_statuses(self, name: str) -> list[dict[str, Any]]:
        return [] if self._statuses is None else self._statuses.peers(name)

    def create(
        self,
        name: str,
        raw: Mapping[str, Any],
        initial_state: str = "RUNNING",
        persist: bool = True,
    ) -> ConnectorRuntime:
        if initial_state not in {s.value for s in TARGET_STATES}:
            raise IllegalStateError("initial_state must be RUNNING, PAUSED or STOPPED")
        config = self.validate(name, raw)

        def decide(current: Entry | None) -> Entry:
            if current is not None:
                raise ConnectorExistsError(f"Connector {name} already exists")
            return Entry(dict(config.raw), initial_state)

        self.configs.write(name, decide)
        return self.get(name)

    def put(self, name: str, raw: Mapping[str, Any]) -> tuple[ConnectorRuntime, bool]:
        config = self.validate(name, raw)
        created = False

        def decide(current: Entry | None) -> Entry:
            nonlocal created
            created = current is None
            state = ConnectorState.RUNNING.value if current is None else current.state
            return Entry(dict(config.raw), state)

        self.configs.write(name, decide)
        return self.get(name), created

    def patch(self, name: str, changes: Mapping[str, Any]) -> ConnectorRuntime:
        """Merged onto the config as the log holds it when written, so two PATCHes of
        different keys through two workers both survive (the loser merges again)."""

        def decide(current: Entry | None) -> Entry:
            if current is None:
                raise ConnectorNotFoundError(f"Connector {name} not found")
            merged = {k: v for k, v in {**current.config, **changes}.items() if v is not None}
            return Entry(dict(self.validate(name, merged).raw), current.state)

        self.configs.write(name, decide)
        return self.get(name)

    def delete(self, name: str) -> None:
        def decide(current: Entry | None) -> None:
            if current is None:
                raise ConnectorNotFoundError(f"Connector {name} not found")

        self.configs.write(name, decide)

    def pause(self, name: str) -> None:
        # Kafka Connect keeps a stopped connector stopped on pause.
        self._set_state(name, ConnectorState.PAUSED, keep_stopped=True)

    def resume(self, name: str) -> None:
        self._set_state(name, ConnectorState.RUNNING)

    def stop_connector(self, name: str) -> None:
        self._set_state(name, ConnectorState.STOPPED)

    def _set_state(self, name: str, state: ConnectorState, keep_stopped: bool = False) -> None:
        def decide(current: Entry | None) -> Entry:
            if current is None:
                raise ConnectorNotFoundError(f"Connector {name} not found")
            if keep_stopped and current.state == ConnectorState.STOPPED.value:
                return current
            return Entry(current.config, state.value)

        self.configs.write(name, decide)

    def restart(
        self, name: str, include_tasks: bool = False, only_failed: bool = False
    ) -> RestartPlan:
        """Through the config topic, so every worker restarts its own share (Kafka
        Connect forwards it to the task's owner); the answer is this worker's part."""
        if name not in self.configs.entries():
            raise ConnectorNotFoundError(f"Connector {name} not found")
        request = uuid.uuid4().hex
        body = {"id": request, "include_tasks": include_tasks, "only_failed": only_failed}
        self.configs.request("restart", name, body)
        return self._plans.pop(request, RestartPlan(False, ()))

    # ----- what the config topic's reader calls ---------------------------------------

    def on_request(self, kind: str, name: str, request: dict[str, Any]) -> None:
        """A request every worker acts on, read from the config topic."""
        if kind != "restart":
            return
        log.info("connector %s: restart requested through the config topic (%s)", name, request)
        try:
            plan = Worker.restart(
                self, name, bool(request.get("include_tasks")), bool(request.get("only_failed"))
            )
        except ConnectorNotFoundError:
            return  # deleted meanwhile, or not runnable on this worker
        self._plans[str(request.get("id"))] = plan
        log.info(
            "connector %s: restarted here: connector %s, tasks %s",
            name,
            plan.connector,
            list(plan.tasks),
        )

    def apply(self, name: str, entry: Entry | None) -> None:
        """Make this worker's connector ``name`` what the config topic now says."""
        if entry is None:
            with contextlib.suppress(ConnectorNotFoundError):
                Worker.delete(self, name)
            return
        try:
            runtime = self.get(name)
        except ConnectorNotFoundError:
            try:
                Worker.create(self, name, entry.config, entry.state, persist=False)
            except ConfigError as exc:
                # Another worker accepted it: this one lacks something (a plug-in?).
                log.error("connector %s cannot run on this worker: %s", name, exc)
            return
        Worker.put(self, name, entry.config)  # an identical config changes nothing
        if runtime.target.value == entry.state:
            return
        if entry.state == ConnectorState.RUNNING.value:
            Worker.resume(self, name)
        elif entry.state == ConnectorState.PAUSED.value:
            Worker.pause(self, name)
        else:
            Worker.stop_connector(self, name)
