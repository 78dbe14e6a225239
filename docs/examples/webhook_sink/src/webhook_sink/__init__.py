"""An offramp sink connector that POSTs each batch of records to a webhook.

::

    {"connector.class": "webhook", "topics": "calls",
     "webhook.url": "https://example.com/hooks/calls",
     "webhook.token": "${env:WEBHOOK_TOKEN}",
     "webhook.header.X-Source": "offramp"}
"""

from webhook_sink.config import WebhookSinkConfig
from webhook_sink.connector import WebhookSinkConnector
from webhook_sink.writer import WebhookWriter

__all__ = ["WebhookSinkConfig", "WebhookSinkConnector", "WebhookWriter"]
