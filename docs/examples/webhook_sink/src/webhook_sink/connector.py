"""``WebhookSinkConnector``: what the ``offramp.connectors`` entry point names."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import httpx

from offramp import BatchWriter, FatalError, SinkConnector, TaskContext
from webhook_sink.config import WebhookSinkConfig
from webhook_sink.writer import WebhookWriter, build_client

__all__ = ["WebhookSinkConnector"]

try:
    VERSION = version("offramp-webhook-sink")
except PackageNotFoundError:  # run from a source tree that isn't installed
    VERSION = "0.0.0"


class WebhookSinkConnector(SinkConnector[WebhookSinkConfig]):
    """POSTs each batch of records to a webhook as one JSON array."""

    config_model = WebhookSinkConfig
    version = VERSION  # GET /connector-plugins shows it
    description = "POSTs each batch of records to a webhook as a JSON array"
    # check() makes a request: at task start a webhook that is down would fail the task
    # instead of being retried by the writer, so it runs on request only.
    check_at_start = False

    #: Tests give an ``httpx.MockTransport`` here; None is the real network.
    transport: httpx.BaseTransport | None = None

    def check(self, config: WebhookSinkConfig) -> str:
        """POSTs an empty batch (``[]``): any 2xx means the URL and the token work."""
        url = config.webhook_url
        with build_client(config, self.user_agent(), self.transport) as client:
            try:
                response = client.post(
                    url, content="[]", headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError as exc:
                raise FatalError(f"cannot reach {url}: {exc!r}", key="webhook.url") from exc
        status = response.status_code
        if status in (401, 403):
            raise FatalError(f"{url} refused the token (HTTP {status})", key="webhook.token")
        if not 200 <= status < 300:
            raise FatalError(f"{url} answered HTTP {status} to an empty batch", key="webhook.url")
        return f"{url} accepted an empty batch (HTTP {status})"

    def create_writer(self, config: WebhookSinkConfig, context: TaskContext) -> BatchWriter:
        agent = self.user_agent(f"{context.connector_name} task {context.task_id}")
        return WebhookWriter(config, context, agent, self.transport)

    def user_agent(self, detail: str = "check") -> str:
        return f"offramp-webhook-sink/{VERSION} ({detail})"
