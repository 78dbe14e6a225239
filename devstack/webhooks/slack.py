"""A Slack incoming-webhook stand-in with Slack's answers and its rate limit.

``POST /services/T0001/B0001/<secret>`` with ``{"text": …, "blocks": […]}``:

- 200 with the body ``ok``;
- 400 ``invalid_payload`` (not JSON), ``no_text`` (neither text nor blocks),
  ``invalid_blocks`` (blocks not a list of objects);
- 404 ``no_service`` for an unknown webhook path (or once ``disabled``), 403
  ``action_prohibited`` once ``prohibited``, 410 ``channel_is_archived`` once ``archived``;
- about one message per second per webhook, with a short burst (``burst``): beyond it,
  429 ``rate_limited`` with ``Retry-After: 1``;
- text past 40,000 characters is truncated, as Slack does.

``messages`` holds what was posted; ``limited`` counts the 429s.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from devstack.webhooks.base import Answer, Exchange, LoopbackServer

__all__ = ["SlackWebhookStub"]

MAX_TEXT = 40_000


class SlackWebhookStub(LoopbackServer):
    def __init__(
        self,
        *,
        per_second: float = 1.0,
        burst: int = 2,
        secret: str = "XXXXXXXXXXXXXXXXXXXXXXXX",
        **server: Any,
    ) -> None:
        super().__init__(**server)
        self.per_second, self.burst = per_second, burst
        self.path = f"/services/T0001/B0001/{secret}"
        self.messages: list[dict[str, Any]] = []
        self.limited = 0
        self.disabled = self.prohibited = self.archived = False
        self._tokens = float(burst)
        self._filled = time.monotonic()

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.path

    def _take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._filled) * self.per_second)
        self._filled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def handle(self, exchange: Exchange) -> Answer:
        if exchange.method != "POST":
            return _text(405, "invalid_method")
        if exchange.path != self.path or self.disabled:
            return _text(404, "no_service")
        if self.prohibited:
            return _text(403, "action_prohibited")
        if self.archived:
            return _text(410, "channel_is_archived")
        if not self._take(exchange.at):
            self.limited += 1
            return Answer(429, b"rate_limited", (("Retry-After", "1"),), "text/plain")
        try:
            message = orjson.loads(exchange.body)
        except orjson.JSONDecodeError:
            return _text(400, "invalid_payload")
        if not isinstance(message, dict):
            return _text(400, "invalid_payload")
        blocks = message.get("blocks")
        if blocks is not None and not (
            isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks)
        ):
            return _text(400, "invalid_blocks")
        if not message.get("text") and not blocks:
            return _text(400, "no_text")
        if isinstance(message.get("text"), str):
            message["text"] = message["text"][:MAX_TEXT]
        self.messages.append(message)
        return _text(200, "ok")

    def texts(self) -> list[str]:
        with self.lock:
            return [str(m.get("text", "")) for m in self.messages]

    def max_in_window(self, window: float = 1.0) -> int:
        """Most messages accepted within any ``window`` seconds."""
        with self.lock:
            times = [e.at for e in self.exchanges if e.status == 200]
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


def _text(status: int, body: str) -> Answer:
    return Answer(status, body.encode(), (), "text/plain")
