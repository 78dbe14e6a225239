"""Standalone mode: one worker process, its connectors, until told to stop."""

from __future__ import annotations

import logging
import threading
from typing import Any

from runtime.config import WorkerConfig
from runtime.registry import PluginRegistry
from runtime.worker import Worker

__all__ = ["run_standalone"]

log = logging.getLogger("offramp.standalone")


def run_standalone(
    config: WorkerConfig,
    registry: PluginRegistry,
    connectors: list[tuple[str, dict[str, Any]]],
    stop: threading.Event,
) -> int:
    worker = Worker(config, registry)
    worker.start()
    for name, raw in connectors:
        worker.create(name, raw)
        log.info("connector %s started", name)
    log.info("worker %s ready with %d connector(s)", worker.worker_id, len(connectors))
    while not stop.wait(0.5):
        pass
    worker.shutdown()
    log.info("worker stopped")
    return 0
