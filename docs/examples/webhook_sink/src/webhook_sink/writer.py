"""The webhook sink's writer: each batch is POSTed as one JSON array of record values.

What the receiver answers decides where each record goes:

=====================================  =================================================
2xx                                    written
408, 429, 5xx, timeouts, no connection ``RetriableError`` (with the ``Retry-After``
                                       header's delay when there is one): retried
400 ``{"errors": [{"index": i, …}]}``  the records at those indexes are
                                       ``RecordFailure``\\ s (dead-lettered with
                                       ``errors.tolerance=all``), the others written
400/413/422 naming no item             ``BatchError``: the runtime bisects the batch
401, 403                               ``FatalError`` on ``webhook.token``
404, 405, 410, other statuses          ``FatalError`` on ``webhook.url``
=====================================  =================================================

A record whose value can't be encoded as JSON (bytes from a byte-array converter) is a
``RecordFailure`` of its own and is not sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from offramp import (
    BatchError,
    BatchWriter,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkRecord,
    TaskContext,
    parse_retry_after,
)
from webhook_sink.config import WebhookSinkConfig

__all__ = ["WebhookWriter", "build_client", "item_errors"]


def build_client(
    config: WebhookSinkConfig, user_agent: str, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The HTTP client for these settings (``transport``: an ``httpx.MockTransport`` in
    tests)."""
    headers = {"User-Agent": user_agent, **config.webhook_header}
    if config.webhook_token is not None:
        headers["Authorization"] = f"Bearer {config.webhook_token.get_secret_value()}"
    return httpx.Client(
        headers=headers, timeout=config.webhook_timeout_ms / 1000.0, transport=transport
    )


def item_errors(response: httpx.Response, sent: int) -> dict[int, str] | None:
    """``{index: message}`` from a 400's ``{"errors": [{"index": 3, "message": …}]}``;
    None when the body names no item of the ``sent`` ones."""
    try:
        body = response.json()
    except ValueError:
        return None
    entries = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return None
    out: dict[int, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        index = entry.get("index")
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < sent:
            out[index] = str(entry.get("message") or "refused by the webhook")
    return out or None


class WebhookWriter(BatchWriter):
    """POSTs batches to ``webhook.url``; safe to repeat (the receiver should dedupe on
    ``topic``/``partition``/``offset`` if it must see each record once)."""

    def __init__(
        self,
        config: WebhookSinkConfig,
        context: TaskContext,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.log = context.logger
        self.client = build_client(config, user_agent, transport)

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        failures: list[RecordFailure] = []
        step = self.config.webhook_max_items
        for start in range(0, len(records), step):
            failures += self._post(records[start : start + step])
        return failures or None

    def _post(self, records: Sequence[SinkRecord]) -> list[RecordFailure]:
        failures: list[RecordFailure] = []
        sent: list[SinkRecord] = []
        items: list[str] = []
        for record in records:
            try:
                items.append(json.dumps(record.value, separators=(",", ":")))
            except (TypeError, ValueError) as exc:
                failures.append(RecordFailure(record, exc, {"webhook.reason": "not JSON"}))
                continue
            sent.append(record)
        if not sent:
            return failures
        url = self.config.webhook_url
        try:
            response = self.client.post(
                url,
                content="[" + ",".join(items) + "]",
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections
            raise RetriableError(f"POST {url} failed: {exc!r}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return failures
        if status in (408, 429) or status >= 500:
            raise RetriableError(
                f"POST {url}: HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 400 and (refused := item_errors(response, len(sent))):
            self.log.debug("webhook refused %d of %d records", len(refused), len(sent))
            return failures + [
                RecordFailure(sent[i], ValueError(message), {"webhook.status": str(status)})
                for i, message in sorted(refused.items())
            ]
        if status in (400, 413, 422):
            raise BatchError(f"POST {url}: HTTP {status} naming no record: {_excerpt(response)}")
        if status in (401, 403):
            raise FatalError(
                f"POST {url}: HTTP {status}: is webhook.token right?", key="webhook.token"
            )
        raise FatalError(f"POST {url}: HTTP {status}: {_excerpt(response)}", key="webhook.url")

    def stop(self) -> None:
        self.client.close()


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    return response.text[:limit] or "(no body)"
