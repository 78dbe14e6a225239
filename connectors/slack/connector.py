"""The ``slack`` connector: a message per record to an incoming webhook."""

from __future__ import annotations

import httpx

from offramp import BatchWriter, SinkConnector, TaskContext
from offramp.connectors.slack.config import SlackSinkConfig
from offramp.connectors.slack.writer import SlackWriter

__all__ = ["SlackSinkConnector"]


class SlackSinkConnector(SinkConnector[SlackSinkConfig]):
    """Posts a message per record to a Slack incoming webhook, within Slack's limits."""

    config_model = SlackSinkConfig
    description = "Posts a message per record to a Slack incoming webhook"

    #: Tests may give an ``httpx`` transport here; None is the real network.
    transport: httpx.BaseTransport | None = None

    def check(self, config: SlackSinkConfig) -> str:
        # An incoming webhook has no read-only call: any test would post a message.
        return "Slack incoming webhooks cannot be checked without posting; not checked"

    def create_writer(self, config: SlackSinkConfig, context: TaskContext) -> BatchWriter:
        agent = f"offramp-slack-sink/0.1 ({context.connector_name} task {context.task_id})"
        return SlackWriter(config, context, agent, self.transport)
