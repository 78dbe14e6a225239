"""Standalone mode: one worker process, its REST API and its connectors, until told to stop.

Start-up order: the REST listener first (``/health`` answers 503 while the rest
starts), then Kafka (waited for, however long, while ``/health`` names the problem),
then the connectors, then ready. On stop: the listener closes first, so no change
arrives while the tasks flush and commit.
"""

from __future__ import annotations

import logging
import threading

from offramp.config import WorkerConfig
from offramp.config_store import ConfigStore, PlannedConnector
from offramp.errors import OfframpError
from offramp.registry import PluginRegistry
from offramp.worker import Worker

__all__ = ["run_standalone"]

log = logging.getLogger("offramp.standalone")


def run_standalone(
    config: WorkerConfig,
    registry: PluginRegistry,
    connectors: list[PlannedConnector],
    stop: threading.Event,
    store: ConfigStore | None = None,
) -> int:
    from offramp.rest.server import RestServer  # the web stack loads only when serving

    worker = Worker(config, registry, store)
    try:
        rest = RestServer(worker).start()
    except (OfframpError, RuntimeError, OSError) as exc:
        log.error("cannot start the REST API: %s", exc)
        return 1
    status = 0
    try:
        if not worker.wait_for_kafka(stop):
            return 0  # stopped before Kafka answered
        for planned in connectors:
            worker.create(planned.name, planned.config, planned.state, persist=False)
            log.info("connector %s: %s (from %s)", planned.name, planned.state, planned.source)
        worker.mark_ready()
        log.info(
            "worker %s ready with %d connector(s), advertised as %s",
            worker.worker_id,
            len(connectors),
            worker.config.advertised_url,
        )
        while not stop.wait(0.5):
            pass
    except OfframpError as exc:
        log.error("worker start-up failed: %s", exc)
        status = 1
    finally:
        rest.stop()
        worker.shutdown()
        log.info("worker stopped")
    return status
