"""Webhook stand-ins over real HTTP on loopback, for tests, benchmarks and the demo:
``HttpReceiver`` (an endpoint the ``http`` sink posts to: dedupe by ``Idempotency-Key``
or an item id field, refusals per item, 503 storms and 429s with ``Retry-After``, auth,
TLS) and ``SlackWebhookStub`` (Slack's incoming webhook: ``ok``, its error codes and
about one message per second)."""

from devstack.webhooks.base import Answer, Exchange, LoopbackServer
from devstack.webhooks.receiver import HttpReceiver
from devstack.webhooks.slack import SlackWebhookStub

__all__ = ["Answer", "Exchange", "HttpReceiver", "LoopbackServer", "SlackWebhookStub"]
