"""``RestServer``: uvicorn serving the API from its own thread and event loop.

Tasks are threads and the Worker's methods block, so the API gets a loop of its own in
a thread of its own; handlers run the Worker's calls in the loop's thread pool. The
server binds before it returns from ``start()`` (so ``rest.port: 0`` has its real port,
which becomes the worker's ``worker_id``, and a port in use is reported at once) and
drains open requests on ``stop()``.
"""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from offramp.config import WorkerConfig
from offramp.rest.app import create_app
from offramp.rest.auth import check_listener
from offramp.worker import Worker

__all__ = ["RestServer"]

log = logging.getLogger("offramp.rest")


class RestServer:
    """The REST listener of one worker, on ``rest.host``:``rest.port`` (TLS if configured)."""

    def __init__(self, worker: Worker, config: WorkerConfig | None = None) -> None:
        config = config or worker.config
        policy = check_listener(config)  # refuses an unsafe listener before binding
        self.worker = worker
        self.tls = bool(config.rest_tls_cert_file)
        self._config = uvicorn.Config(
            create_app(worker, policy),
            host=config.rest_host,
            port=config.rest_port,
            loop="asyncio",
            http="h11",
            ws="none",
            lifespan="on",  # the status page samples its history in the background
            log_config=None,
            access_log=True,
            server_header=False,
            ssl_certfile=config.rest_tls_cert_file,
            ssl_keyfile=config.rest_tls_key_file,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self.port: int = config.rest_port

    @property
    def url(self) -> str:
        host = self._config.host
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> RestServer:
        """Bind and serve; ``RuntimeError`` naming the reason if it can't."""
        self._config.load()  # TLS files and the app are checked here, in the caller
        self._thread = threading.Thread(target=self._server.run, name="rest", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the REST API could not listen on {self._config.host}:{self._config.port}"
                    " (see the log above)"
                )
            time.sleep(0.02)
        for server in self._server.servers:
            for sock in server.sockets:
                self.port = int(sock.getsockname()[1])
                break
        self.worker.bind_rest_port(self.port)
        log.info("REST API listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
