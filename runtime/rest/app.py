"""``create_app(worker)``: the FastAPI application serving one worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

import offramp
from offramp.rest import admin, connectors, health, lifecycle, offsets, plugins
from offramp.rest.auth import AuthMiddleware, AuthPolicy
from offramp.rest.errors import install_error_handlers
from offramp.rest.health import KafkaProbe
from offramp.rest.responses import JSONBody
from offramp.rest.ui import ConnectorHistory, SessionStore
from offramp.rest.ui import router as ui_router
from offramp.worker import Worker

__all__ = ["create_app"]

log = logging.getLogger("offramp.rest")

DESCRIPTION = """\
Kafka Connect's REST API for offramp's sink connectors: the same paths, JSON shapes and
status codes, plus authentication, Prometheus metrics and replay from a timestamp.
Errors are `{"error_code", "message"}`. See docs/rest.md.
"""


@contextlib.asynccontextmanager
async def _sampling(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves, the status page's history is sampled (see its module)."""
    history: ConnectorHistory = app.state.ui_history
    worker: Worker = app.state.worker

    async def sample_forever() -> None:
        while True:
            try:
                history.sample(worker)
            except Exception:  # the page's history must not take the API down with it
                log.exception("status page: sampling the connectors failed")
            await asyncio.sleep(history.interval_seconds)

    sampler = asyncio.create_task(sample_forever())
    try:
        yield
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler


def create_app(worker: Worker, policy: AuthPolicy | None = None) -> FastAPI:
    """The API for ``worker``; ``policy`` defaults to the worker config's (which raises
    ``ConfigError`` if it would be unsafe, see ``offramp.rest.auth``)."""
    policy = policy or AuthPolicy.from_config(worker.config)
    app = FastAPI(
        title="offramp",
        version=offramp.__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        default_response_class=JSONBody,
        lifespan=_sampling,
    )
    app.state.worker = worker
    app.state.auth_policy = policy
    app.state.ui_sessions = SessionStore()
    app.state.ui_history = ConnectorHistory()
    app.state.kafka_probe = KafkaProbe(worker)
    install_error_handlers(app)
    for module in (admin, health, connectors, lifecycle, offsets, plugins):
        app.include_router(module.router)
    app.include_router(ui_router)
    app.add_middleware(AuthMiddleware, policy=policy)
    return app
