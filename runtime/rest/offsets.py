"""``/connectors/{name}/offsets``: read, alter and reset a connector's consumer-group
offsets (see ``offramp.offsets_admin``). Changes need the connector STOPPED.

offramp extensions to Kafka Connect's shapes, for replaying from a point in time:

- per partition, ``"offset": {"kafka_timestamp_ms": 1700000000000}``;
- connector-wide, ``PATCH /connectors/{name}/offsets?timestamp=1700000000000`` (or an
  ISO-8601 time such as ``2024-05-01T00:00:00Z``) with no body: every partition of the
  connector's topics.

When a timestamp was used, the answer also lists the offsets it resolved to.

A share-group connector (``group.type=share``) has no offsets: each record is
acknowledged on its own. All three answer 400 for one, saying so.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from offramp.errors import ConfigError
from offramp.offsets_admin import OffsetChange, OffsetsAdmin, PartitionOffset, group_id
from offramp.rest.deps import ReadyWorkerDep, WorkerDep
from offramp.rest.errors import ApiError
from offramp.rest.models import MAX_INT64, AlterOffsetsRequest, ErrorBody, MessageBody, OffsetsBody
from offramp.rest.responses import JSONBody
from offramp.worker import ConnectorRuntime

__all__ = ["parse_timestamp", "router"]

router = APIRouter(tags=["offsets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Not STOPPED, or invalid offsets"},
    404: {"model": ErrorBody},
}

ALTERED = (
    "The Connect framework-managed offsets for this connector have been altered "
    "successfully. However, if this connector manages offsets externally, they will need "
    "to be manually altered in the system that the connector uses."
)
RESET = (
    "The Connect framework-managed offsets for this connector have been reset "
    "successfully. However, if this connector manages offsets externally, they will need "
    "to be manually reset in the system that the connector uses."
)


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch, from digits or an ISO-8601 time (UTC if no zone)."""
    text = text.strip()
    if re.fullmatch(r"\d{1,19}", text):
        value = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ApiError(
                400,
                f"timestamp {text!r} is neither milliseconds since the epoch nor an ISO-8601 time",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            value = int(moment.timestamp() * 1000)
        except (OverflowError, ValueError, OSError):
            value = -1
    if not 0 <= value <= MAX_INT64:
        raise ApiError(400, f"timestamp {text!r} is out of range")
    return value


def _entries(offsets: list[PartitionOffset]) -> list[dict[str, Any]]:
    return [
        {
            "partition": {"kafka_topic": o.topic, "kafka_partition": o.partition},
            "offset": {"kafka_offset": o.offset},
        }
        for o in offsets
    ]


def _changes(body: AlterOffsetsRequest) -> list[OffsetChange]:
    seen: set[tuple[str, int]] = set()
    changes = []
    for entry in body.offsets:
        tp = (entry.partition.kafka_topic, entry.partition.kafka_partition)
        if tp in seen:
            raise ApiError(400, f"partition {tp[0]}-{tp[1]} is listed more than once")
        seen.add(tp)
        offset = entry.offset
        changes.append(
            OffsetChange(
                tp[0],
                tp[1],
                offset.kafka_offset if offset else None,
                offset.kafka_timestamp_ms if offset else None,
            )
        )
    return changes


def _invalid(exc: ConfigError) -> ApiError:
    return ApiError(
        400, "Invalid offsets: " + "; ".join(f"{k}: {r}" if k else r for k, r in exc.errors)
    )


def _no_share_group(name: str, runtime: ConnectorRuntime) -> None:
    if runtime.config.settings.group_type == "share":
        raise ApiError(
            400,
            f"connector {name} consumes through a share group (group.type=share), which "
            "has no offsets to read, alter or reset: each record is acknowledged on its own",
        )


@router.get("/connectors/{name}/offsets", responses={200: {"model": OffsetsBody}, **_ERRORS})
def get_offsets(name: str, worker: WorkerDep) -> Response:
    _no_share_group(name, worker.get(name))
    offsets = OffsetsAdmin(worker.admin()).read(group_id(name))
    return JSONBody({"offsets": _entries(offsets)})


@router.patch("/connectors/{name}/offsets", responses={200: {"model": MessageBody}, **_ERRORS})
def alter_offsets(
    name: str,
    worker: ReadyWorkerDep,
    body: Annotated[AlterOffsetsRequest | None, Body()] = None,
    timestamp: Annotated[
        str | None,
        Query(description="offramp: every partition from this time (ms or ISO-8601)"),
    ] = None,
) -> Response:
    listed = body.offsets if body is not None else []
    if timestamp is not None and listed:
        raise ApiError(400, "give either offsets in the body or ?timestamp=, not both")
    if timestamp is None and not listed:
        raise ApiError(400, "no offsets given: list them in the body, or use ?timestamp=")
    since = parse_timestamp(timestamp) if timestamp is not None else None
    _no_share_group(name, worker.get(name))
    admin = OffsetsAdmin(worker.admin())

    def change(runtime: ConnectorRuntime) -> list[PartitionOffset]:
        if since is not None:
            s = runtime.config.settings
            parts = admin.partitions(s.topics, s.topics_regex)
            if not parts:
                raise ApiError(400, f"connector {name}'s topics have no partitions yet")
            changes = [OffsetChange(t, p, timestamp_ms=since) for t, p in parts]
        else:
            assert body is not None
            changes = _changes(body)
        try:
            resolved = admin.resolve(changes)
            admin.alter(group_id(name), resolved)
        except ConfigError as exc:
            raise _invalid(exc) from None
        return resolved

    resolved = worker.while_stopped(name, change)
    answer: dict[str, Any] = {"message": ALTERED}
    by_time = any(e.offset and e.offset.kafka_timestamp_ms is not None for e in listed)
    if since is not None or by_time:
        answer["offsets"] = _entries(resolved)
    return JSONBody(answer)


@router.delete("/connectors/{name}/offsets", responses={200: {"model": MessageBody}, **_ERRORS})
def reset_offsets(name: str, worker: ReadyWorkerDep) -> Response:
    _no_share_group(name, worker.get(name))
    admin = OffsetsAdmin(worker.admin())
    worker.while_stopped(name, lambda _: admin.reset(group_id(name)))
    return JSONBody({"message": RESET})
