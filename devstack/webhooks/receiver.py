"""An HTTP endpoint stand-in: takes records one per request or in batches, drops repeats.

- A JSON object body is one item; a JSON array or an NDJSON body (``application/
  x-ndjson``) is a batch of items.
- Repeats are dropped: a single item by its ``Idempotency-Key`` header (``dedupe_header``),
  a batch's items by a field of each (``id_field``), as a receiver that must see each
  event once would. ``items`` holds what was kept, ``duplicates`` counts what was dropped.
- ``refuse_when`` = {field: regex}: a matching single item is answered 400 with a JSON
  error; in a batch, matching items are refused and named in the answer
  (``{"rejected": [{"index": i, "id": …, "reason": …}]}``, status ``reject_status``,
  207 by default) while the rest are kept.
- ``token`` (a bearer token) or ``basic`` (user, password): anything else is a 401.
- ``fail_next`` (base) for 503 storms and 429s with ``Retry-After``; ``latency``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import orjson

from devstack.webhooks.base import Answer, Exchange, LoopbackServer

__all__ = ["HttpReceiver"]


class HttpReceiver(LoopbackServer):
    def __init__(
        self,
        *,
        path: str = "/events",
        dedupe_header: str = "Idempotency-Key",
        id_field: str | None = None,
        refuse_when: Mapping[str, str] | None = None,
        reject_status: int = 207,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
        **server: Any,
    ) -> None:
        super().__init__(**server)
        self.path = path
        self.dedupe_header = dedupe_header.lower()
        self.id_field = id_field
        self.refuse_when = {k: re.compile(v) for k, v in (refuse_when or {}).items()}
        self.reject_status = reject_status
        self.token = token
        self.basic = basic
        self.items: dict[str, Any] = {}  # id → item, first arrival kept
        self.duplicates = 0
        self.refused: list[Any] = []

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def _authorized(self, exchange: Exchange) -> bool:
        given = exchange.header("authorization") or ""
        if self.token is not None:
            return given == f"Bearer {self.token}"
        if self.basic is not None:
            expected = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return given == f"Basic {expected}"
        return True

    def _refuses(self, item: Any) -> str | None:
        if not isinstance(item, dict):
            return None
        for name, pattern in self.refuse_when.items():
            value = item.get(name)
            if value is not None and pattern.search(str(value)):
                return f"{name}={value} is refused"
        return None

    def _keep(self, ident: str, item: Any) -> None:
        if ident in self.items:
            self.duplicates += 1
        else:
            self.items[ident] = item

    def handle(self, exchange: Exchange) -> Answer:
        if exchange.method == "OPTIONS":
            return Answer(204)
        if not exchange.path.startswith(self.path):
            return Answer(404, b'{"error":"no such endpoint"}')
        if not self._authorized(exchange):
            return Answer(401, b'{"error":"invalid credentials"}')
        ndjson = (exchange.header("content-type") or "").startswith("application/x-ndjson")
        try:
            if ndjson:
                parsed: Any = [orjson.loads(line) for line in exchange.body.splitlines() if line]
            else:
                parsed = orjson.loads(exchange.body)
        except orjson.JSONDecodeError:
            return Answer(400, b'{"error":"body is not JSON"}')
        if ndjson or isinstance(parsed, list):
            return self._batch(parsed)
        reason = self._refuses(parsed)
        if reason is not None:
            self.refused.append(parsed)
            return Answer(400, orjson.dumps({"error": "invalid_event", "message": reason}))
        ident = exchange.header(self.dedupe_header) or f"#{len(self.exchanges)}"
        self._keep(ident, parsed)
        return Answer(200, b'{"ok":true}')

    def _batch(self, items: list[Any]) -> Answer:
        rejected = []
        for index, item in enumerate(items):
            reason = self._refuses(item)
            ident = str(item.get(self.id_field)) if self.id_field and isinstance(item, dict) else ""
            if reason is not None:
                self.refused.append(item)
                rejected.append({"index": index, "id": ident, "reason": reason})
                continue
            self._keep(ident or f"#{len(self.exchanges)}.{index}", item)
        if rejected:
            return Answer(self.reject_status, orjson.dumps({"rejected": rejected}))
        return Answer(200, orjson.dumps({"accepted": len(items)}))

    def kept(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.items)
