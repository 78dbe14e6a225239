"""``slack``: posts a message per record to a Slack incoming webhook.

Modules: ``config`` (``slack.*`` keys), ``pacing`` (messages per second per webhook),
``answers`` (what Slack's error codes mean), ``writer``, ``connector``. Templates are
the ``http`` connector's (``offramp.connectors.http.template``).
"""

from offramp.connectors.slack.config import SlackSinkConfig
from offramp.connectors.slack.connector import SlackSinkConnector
from offramp.connectors.slack.writer import SlackWriter

__all__ = ["SlackSinkConfig", "SlackSinkConnector", "SlackWriter"]
