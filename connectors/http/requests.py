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
    # The message's own coordinates, as ``SinkRecord.kafka_*`` give them, read without
    # the three properties: this runs once per record.
    message = record.message
    offset = message.offset()
    return f"{message.topic() or ''}-{message.partition() or 0}-{-1 if offset is None else offset}"


@dataclass(slots=True)
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
        # URL and headers name no field (one endpoint): rendered here, once, not per record.
        url = self.url.literal
        fixed = [(n, t.literal) for n, t in self.headers]
        self._fixed: tuple[str, tuple[tuple[str, str], ...]] | None = None
        if url is not None and all(text is not None for _, text in fixed):
            self._fixed = (url, tuple((n, text or "") for n, text in fixed))
        # Every item goes in lane 0, so one endpoint's items are one group.
        self._one_lane = not config.http_ordered_by_key or config.http_max_in_flight == 1

    def items(self, records: Sequence[SinkRecord]) -> tuple[list[Item], list[RecordFailure]]:
        items: list[Item] = []
        failures: list[RecordFailure] = []
        fixed = self._fixed if self.body is None and self._whole_value else None
        ndjson = self.config.http_batch_format == "ndjson"
        for record in records:
            # The usual webhook: one endpoint, the value's consumed JSON as the body. Only
            # the id is made per record; anything else takes the general path below.
            text = record.value_json if fixed is not None else None
            if fixed is not None and text is not None and not (ndjson and b"\n" in text):
                items.append(Item(record, fixed[0], fixed[1], text, item_id(record)))
                continue
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
        if self._fixed is not None and self._one_lane:
            groups: list[Sequence[Item]] = [items]  # one endpoint, one lane: one group
        else:
            keyed: dict[tuple[str, tuple[tuple[str, str], ...], int], list[Item]] = {}
            for i in items:
                keyed.setdefault((i.url, i.headers, self.lane(i.record)), []).append(i)
            groups = list(keyed.values())
        return [self._batch(chunk) for group in groups for chunk in self._chunks(group)]

    def _chunks(self, items: Sequence[Item]) -> list[Sequence[Item]]:
        """Consecutive runs of at most ``http.batch.max.records`` items whose bodies, each
        with its separator, fit ``http.batch.max.bytes`` (an item alone always goes)."""
        limit_n, limit_b = self.config.http_batch_max_records, self.config.http_batch_max_bytes
        out: list[Sequence[Item]] = []
        start, end = 0, len(items)
        while start < end:
            run = items[start : start + limit_n]
            if sum([len(i.body) for i in run]) + len(run) > limit_b:
                # The byte limit closes this one sooner: walk it item by item.
                size, n = 0, 0
                for i in run:
                    if n and size + len(i.body) + 1 > limit_b:
                        break
                    size += len(i.body) + 1
                    n += 1
                run = run[:n]
            out.append(run)
            start += len(run)
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

    def _batch(self, items: Sequence[Item]) -> Request:
        bodies = [i.body for i in items]
        if self.config.http_batch_format == "json":
            body = b"[" + b",".join(bodies) + b"]"
        else:
            body = b"\n".join(bodies) + b"\n"
        # Boundaries change on redelivery, so this key only catches a repeat of the
        # very same request; per-item ids (http.item.id.field) catch the rest.
        key = hashlib.sha256("\n".join([i.id for i in items]).encode()).hexdigest()[:32]
        return Request(items[0].url, self._headers(items[0], key), body, list(items))


def _encode(value: object) -> bytes:
    """JSON for a value; bytes (a byte-array converter's) are sent as they are."""
    if isinstance(value, bytes):
        return value
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise ValueError(f"the value cannot be sent as JSON: {exc}") from None
