"""The ``slack`` writer: one message per record, paced per webhook.

Records go one at a time, in order, each after the pacer allows; what was posted is
remembered across retries of a batch (a 429 mid-batch doesn't repost the messages
before it). At one message a second a batch of hundreds would keep ``write`` busy for
minutes while the consumer is not polled, so a write spends at most
``write_budget_s`` posting, then raises ``ThrottledError``: the runtime keeps polling
with the partitions paused and calls ``write`` again, which goes on where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from offramp import (
    BatchWriter,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkRecord,
    TaskContext,
    ThrottledError,
    TopicPartition,
    parse_retry_after,
)
from offramp.connectors.http.progress import Progress
from offramp.connectors.http.template import MissingField, Template
from offramp.connectors.slack.answers import CODE_HEADER, STATUS_HEADER, fatal_reason
from offramp.connectors.slack.config import SlackSinkConfig
from offramp.connectors.slack.pacing import pacer_for

__all__ = ["SlackRefused", "SlackWriter", "truncate"]


class SlackRefused(Exception):
    """Slack refused one message: the dead letter's error."""


def truncate(text: str, limit: int, marker: str) -> str:
    """``text`` cut to ``limit`` characters, ending with ``marker`` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def _render(node: Any, record: SinkRecord) -> Any:
    if isinstance(node, str):
        return Template.parse(node).render(record)
    if isinstance(node, list):
        return [_render(n, record) for n in node]
    if isinstance(node, dict):
        return {k: _render(v, record) for k, v in node.items()}
    return node


class SlackWriter(BatchWriter):
    """Posts ``{"text": …, "blocks": …}`` per record to ``slack.webhook.url``."""

    write_budget_s = 10.0  # seconds of posting per write before handing back to the task

    def __init__(
        self,
        config: SlackSinkConfig,
        context: TaskContext,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.url = config.slack_webhook_url.get_secret_value()
        self.text = Template.parse(config.slack_text)
        self.blocks = orjson.loads(config.slack_blocks) if config.slack_blocks else None
        self.pacer = pacer_for(self.url, config.slack_messages_per_second)
        self.client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=config.slack_timeout_ms / 1000.0,
            transport=transport,
        )
        self.progress = Progress()

    def payload(self, record: SinkRecord) -> bytes:
        """The message for ``record``; raises ``MissingField``."""
        text = self.text.render(record)
        message: dict[str, Any] = {
            "text": truncate(
                text, self.config.slack_text_max_chars, self.config.slack_truncation_marker
            )
        }
        if self.blocks is not None:
            message["blocks"] = _render(self.blocks, record)
        return orjson.dumps(message)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        started = time.monotonic()
        for n, record in enumerate(records):
            if record in self.progress:
                continue
            if time.monotonic() - started >= self.write_budget_s:
                raise ThrottledError(
                    f"posting at Slack's pace ({self.config.slack_messages_per_second:g}/s): "
                    f"{len(records) - n} messages of this batch still to post",
                    retry_after=self.pacer.delay(),
                )
            try:
                body = self.payload(record)
            except MissingField as exc:
                self.progress.refused(RecordFailure(record, exc, {CODE_HEADER: "template"}))
                continue
            failure = self._post(record, body)
            if failure is None:
                self.progress.written(record)
            else:
                self.progress.refused(failure)
        return self.progress.finish(records) or None

    def _post(self, record: SinkRecord, body: bytes) -> RecordFailure | None:
        self.pacer.wait()
        try:
            response = self.client.post(
                self.url, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:
            raise RetriableError(f"posting to the Slack webhook failed: {exc!r}") from exc
        status, code = response.status_code, response.text.strip()[:200]
        if status == 200:
            return None
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is not None:
                self.pacer.hold(wait)
            raise RetriableError(f"Slack answered HTTP {status} {code}", retry_after=wait)
        reason = fatal_reason(status, code)
        if reason is not None:
            raise FatalError(
                f"Slack answered HTTP {status} {code}: {reason}; fix slack.webhook.url (or the "
                "webhook in Slack) and restart the connector",
                key="slack.webhook.url",
            )
        error = SlackRefused(f"Slack refused the message: HTTP {status} {code}")
        return RecordFailure(record, error, {STATUS_HEADER: str(status), CODE_HEADER: code})

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        self.progress.drop(partitions)

    def stop(self) -> None:
        self.client.close()
