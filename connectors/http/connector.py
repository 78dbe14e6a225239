"""The ``http`` connector: its config model, its writer, and a reachability check."""

from __future__ import annotations

import httpx

from offramp import BatchWriter, FatalError, SinkConnector, TaskContext
from offramp.connectors.http.answers import safe_url
from offramp.connectors.http.client import build_client
from offramp.connectors.http.config import HttpSinkConfig
from offramp.connectors.http.template import Template
from offramp.connectors.http.writer import HttpWriter, PipelinedHttpWriter

__all__ = ["HttpSinkConnector"]

USER_AGENT = "offramp-http-sink/0.1"


class HttpSinkConnector(SinkConnector[HttpSinkConfig]):
    """Sends records to an HTTP endpoint (webhooks, internal services), per record or batched."""

    config_model = HttpSinkConfig
    description = "Sends records to an HTTP endpoint, one request per record or in batches"

    #: Tests may give an ``httpx`` transport here; None is the real network.
    transport: httpx.BaseTransport | None = None

    def check(self, config: HttpSinkConfig) -> str:
        """Sends ``OPTIONS`` to the URL (when it uses no record field): any answer but
        401/403 means the endpoint is reachable and takes the credentials."""
        url = Template.parse(config.http_url)
        if not url.constant:
            return f"{safe_url(config.http_url)} depends on record fields; not checked"
        with build_client(config, f"{USER_AGENT} (check)", self.transport) as client:
            try:
                response = client.options(config.http_url)
            except httpx.TransportError as exc:
                raise FatalError(
                    f"cannot reach {safe_url(config.http_url)}: {exc!r}", key="http.url"
                ) from exc
        status = response.status_code
        if status in (401, 403):
            raise FatalError(
                f"{safe_url(config.http_url)} refused the credentials (HTTP {status})",
                key="http.auth.type",
            )
        return f"{safe_url(config.http_url)} answered HTTP {status}"

    def create_writer(self, config: HttpSinkConfig, context: TaskContext) -> BatchWriter:
        agent = f"{USER_AGENT} ({context.connector_name} task {context.task_id})"
        writer = HttpWriter if config.http_http2 else PipelinedHttpWriter
        return writer(config, context, agent, self.transport)
