"""Records → requests: each record's URL, headers and body, then batches of them.

Records whose URL and headers render the same share batches (a tenant's endpoint per
tenant); a batch closes at ``http.batch.max.records`` items or ``http.batch.max.bytes``
of body. With ``http.ordered.by.key`` and several requests in flight, requests are put
in lanes by record key: a lane's requests are sent one after another, so one key's
records arrive in order; without it each request goes as soon as a slot is free.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson

from offramp import RecordFailure, SinkRecord
from offramp.connectors.http.config import HttpSinkConfig
from offramp.connectors.http.template import MissingField, Template, field_value

__all__ = ["Item", "Request", "RequestBuilder", "item_id"]


def item_id(record: SinkRecord) -> str:
    """A record's stable id: the same on every redelivery, whatever the batch."""
    return f"{record.kafka_topic}-{record.kafka_partition}-{record.kafka_offset}"


@dataclass
class Item:
    record: SinkRecord
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    id: str


@dataclass
class Request:
    """One HTTP request and the records it carries."""

    url: str
    headers: dict[str, str]
    body: bytes
    items: list[Item] = field(default_factory=list)

    @property
    def records(self) -> list[SinkRecord]:
        return [i.record for i in self.items]


class RequestBuilder:
    """Renders items and groups them into requests, as the config says."""

    def __init__(self, config: HttpSinkConfig) -> None:
        self.config = config
        self.url = Template.parse(config.http_url)
        self.headers = [(n, Template.parse(t)) for n, t in config.http_header.items()]
        self.body = Template.parse(config.http_body_template) if config.http_body_template else None
        self.content_type = config.content_type
        # The body is the record's value unchanged: its consumed JSON text can be sent.
        self._whole_value = not (config.http_body_field or config.http_item_id_field)

    def items(self, records: Sequence[SinkRecord]) -> tuple[list[Item], list[RecordFailure]]:
        items: list[Item] = []
        failures: list[RecordFailure] = []
        for record in records:
            try:
                items.append(self._item(record))
            except (MissingField, TypeError, ValueError) as exc:
                failures.append(
                    RecordFailure(record, exc, {"__offramp.errors.http.stage": "mapping"})
                )
        return items, failures

    def _item(self, record: SinkRecord) -> Item:
        url = self.url.render(record, lambda t: quote(t, safe=""))
        headers = tuple((n, t.render(record)) for n, t in self.headers)
        ident = item_id(record)
        if self.body is not None:
            text = self.body.render(record)
            body = orjson.dumps(text) if self.config.http_batch_format == "json" else text.encode()
        elif self._whole_value and (consumed := record.value_json) is not None:
            body = consumed  # the value's JSON as consumed: neither decoded nor encoded again
        else:
            value = (
                field_value(record, self.config.http_body_field)
                if self.config.http_body_field
                else record.value
            )
            if isinstance(value, dict) and self.config.http_item_id_field:
                value = {**value, self.config.http_item_id_field: ident}
            body = _encode(value)
        if self.config.http_batch_format == "ndjson" and b"\n" in body:
            body = body.replace(b"\n", b" ")  # one line per item, whatever a template made
        return Item(record, url, headers, body, ident)

    def requests(self, items: Sequence[Item]) -> list[Request]:
        if not self.config.batched:
            return [self._single(i) for i in items]
        groups: dict[tuple[str, tuple[tuple[str, str], ...], int], list[Item]] = {}
        for i in items:
            groups.setdefault((i.url, i.headers, self.lane(i.record)), []).append(i)
        out: list[Request] = []
        limit_n, limit_b = self.config.http_batch_max_records, self.config.http_batch_max_bytes
        for chunk_items in groups.values():
            chunk: list[Item] = []
            size = 0
            for i in chunk_items:
                if chunk and (len(chunk) >= limit_n or size + len(i.body) + 1 > limit_b):
                    out.append(self._batch(chunk))
                    chunk, size = [], 0
                chunk.append(i)
                size += len(i.body) + 1
            if chunk:
                out.append(self._batch(chunk))
        return out

    def lane(self, record: SinkRecord) -> int:
        """The lane a record's requests go in (0 when order is not asked for)."""
        if not self.config.http_ordered_by_key or self.config.http_max_in_flight == 1:
            return 0
        return zlib.crc32(record.raw_key or b"") % self.config.http_max_in_flight

    def _headers(self, item: Item, key: str) -> dict[str, str]:
        headers = {"Content-Type": self.content_type, **dict(item.headers)}
        if self.config.http_idempotency_header:
            headers[self.config.http_idempotency_header] = key
        return headers

    def _single(self, item: Item) -> Request:
        return Request(item.url, self._headers(item, item.id), item.body, [item])

    def _batch(self, items: list[Item]) -> Request:
        if self.config.http_batch_format == "json":
            body = b"[" + b",".join(i.body for i in items) + b"]"
        else:
            body = b"\n".join(i.body for i in items) + b"\n"
        # Boundaries change on redelivery, so this key only catches a repeat of the
        # very same request; per-item ids (http.item.id.field) catch the rest.
        key = hashlib.sha256("\n".join(i.id for i in items).encode()).hexdigest()[:32]
        return Request(items[0].url, self._headers(items[0], key), body, list(items))


def _encode(value: object) -> bytes:
    """JSON for a value; bytes (a byte-array converter's) are sent as they are."""
    if isinstance(value, bytes):
        return value
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise ValueError(f"the value cannot be sent as JSON: {exc}") from None
