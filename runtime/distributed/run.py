"""``offramp distributed``: one worker of a cluster, until told to stop.

Start-up order: the REST listener first (``/health`` answers 503 meanwhile), then
Kafka, the config and status topics (created on first start), the config topic read
to its end (every connector it holds started), then ready. On stop: the listener
closes first, then the tasks flush and commit, then this worker's status entries are
tombstoned so the others stop listing its tasks at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from offramp.config import WorkerConfig
from offramp.distributed.config_log import ConfigLog
from offramp.distributed.status_log import StatusLog
from offramp.distributed.topics import ensure_compacted_topic
from offramp.distributed.worker import DistributedWorker
from offramp.errors import ConfigError, OfframpError
from offramp.kafka_logs import client_logger
from offramp.registry import PluginRegistry

__all__ = ["check_distributed", "run_distributed"]

log = logging.getLogger("offramp.distributed")


def check_distributed(config: WorkerConfig) -> None:
    """The keys distributed mode can't do without (``ConfigError`` naming each)."""
    missing = [
        (key, "distributed mode needs it")
        for key, value in (
            ("group.id", config.group_id),
            ("config.storage.topic", config.config_storage_topic),
            ("status.storage.topic", config.status_storage_topic),
        )
        if not value
    ]
    if missing:
        raise ConfigError(missing)


def _snapshot(worker: DistributedWorker) -> dict[str, list[dict[str, Any]]]:
    from offramp.rest.shapes import task_status  # the JSON shape GET …/status shows

    out: dict[str, list[dict[str, Any]]] = {}
    for name in worker.names():
        try:
            runtime = worker.get(name)
        except OfframpError:
            continue
        out[name] = [task_status(t, worker.worker_id) for t in list(runtime.tasks)]
    return out


def run_distributed(config: WorkerConfig, registry: PluginRegistry, stop: threading.Event) -> int:
    from offramp.rest.server import RestServer  # the web stack loads only when serving

    check_distributed(config)
    assert config.config_storage_topic and config.status_storage_topic  # checked above
    worker = DistributedWorker(config, registry)
    try:
        rest = RestServer(worker).start()
    except (OfframpError, RuntimeError, OSError) as exc:
        log.error("cannot start the REST API: %s", exc)
        return 1
    status = 0
    configs: ConfigLog | None = None
    statuses: StatusLog | None = None
    try:
        if not worker.wait_for_kafka(stop):
            return 0
        admin = {"logger": client_logger(), **config.client_config("admin")}
        for topic in (config.config_storage_topic, config.status_storage_topic):
            ensure_compacted_topic(admin, topic)
        # Built now: the REST port is bound, so worker_id names this worker.
        configs = ConfigLog(
            worker.config, config.config_storage_topic, worker.apply, worker.on_request
        )
        statuses = StatusLog(worker.config, config.status_storage_topic, lambda: _snapshot(worker))
        worker.attach(configs, statuses)
        configs.start()
        statuses.start()
        worker.mark_ready()
        log.info(
            "worker %s of cluster %s ready with %d connector(s), advertised as %s",
            worker.worker_id,
            config.group_id,
            len(worker.names()),
            worker.config.advertised_url,
        )
        while not stop.wait(0.5):
            pass
    except (OfframpError, RuntimeError) as exc:
        log.error("worker start-up failed: %s", exc)
        status = 1
    finally:
        rest.stop()
        if configs is not None:
            configs.stop()  # no more changes applied while the tasks stop
        worker.shutdown()
        if statuses is not None:
            statuses.stop()
        log.info("worker stopped")
    return status
