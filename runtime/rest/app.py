"""``create_app(worker)``: the FastAPI application serving one worker."""

from __future__ import annotations

from fastapi import FastAPI

import offramp
from offramp.rest import admin, connectors, health, lifecycle, offsets, plugins
from offramp.rest.auth import AuthMiddleware, AuthPolicy
from offramp.rest.errors import install_error_handlers
from offramp.rest.health import KafkaProbe
from offramp.rest.responses import JSONBody
from offramp.worker import Worker

__all__ = ["create_app"]

DESCRIPTION = """\
Kafka Connect's REST API for offramp's sink connectors: the same paths, JSON shapes and
status codes, plus authentication, Prometheus metrics and replay from a timestamp.
Errors are `{"error_code", "message"}`. See docs/rest.md.
"""


def create_app(worker: Worker, policy: AuthPolicy | None = None) -> FastAPI:
    """The API for ``worker``; ``policy`` defaults to the worker config's (which raises
    ``ConfigError`` if it would be unsafe, see ``offramp.rest.auth``)."""
    app = FastAPI(
        title="offramp",
        version=offramp.__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        default_response_class=JSONBody,
    )
    app.state.worker = worker
    app.state.kafka_probe = KafkaProbe(worker)
    install_error_handlers(app)
    for module in (admin, health, connectors, lifecycle, offsets, plugins):
        app.include_router(module.router)
    app.add_middleware(AuthMiddleware, policy=policy or AuthPolicy.from_config(worker.config))
    return app
