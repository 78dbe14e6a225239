"""The demo's archive section: ``call.completed`` events into hourly, gzip-compressed
JSON-lines objects in an S3 bucket (``configs/connectors/archive-s3.json``), served by
moto's S3 server on loopback.

Files rotate on record time — an hour's file closes when the first event of the next
hour arrives in its Kafka partition — so what is archived never depends on when the
worker happened to run. The demo's events span 08:00 to 10:30; the 10:00 files are
still open when it ends (they would close with the first 11:00 event), which is exactly
what exactly-once redelivery needs. ``ready`` therefore waits for every event before
the last hour.
"""

from __future__ import annotations

import gzip
from collections import Counter
from typing import TYPE_CHECKING

import orjson

from devstack.demo_base import DemoContext
from devstack.s3 import ACCESS_KEY, SECRET_KEY, S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "call-archive"  # the config's s3.bucket.name


def _hour(event_time: object) -> str:
    return str(event_time)[:13]  # "2026-11-20T08"


class S3Section:
    title = "S3 archive, hourly gzip JSON lines (configs/connectors/archive-s3.json)"

    def __init__(self) -> None:
        self.server: S3Server | None = None

    def setup(self, ctx: DemoContext) -> None:
        self.server = S3Server().start()
        self.server.create_bucket(BUCKET)
        ctx.env["DEMO_S3_URL"] = self.server.url
        ctx.env["DEMO_S3_ACCESS_KEY_ID"] = ACCESS_KEY
        ctx.env["DEMO_S3_SECRET_ACCESS_KEY"] = SECRET_KEY

    def _objects(self) -> dict[str, list[dict[str, object]]]:
        assert self.server is not None
        client: S3Client = self.server.client()
        try:
            found: dict[str, list[dict[str, object]]] = {}
            listing = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for page in listing:
                for obj in page.get("Contents", []):
                    response = client.get_object(Bucket=BUCKET, Key=obj["Key"])
                    data = gzip.decompress(response["Body"].read())
                    response["Body"].close()
                    found[obj["Key"]] = [orjson.loads(line) for line in data.splitlines()]
            return found
        finally:
            client.close()

    def _expected(self, ctx: DemoContext) -> int:
        """Completed events before the last hour: every file holding them has closed."""
        last = max(_hour(e.data["ended_at"]) for e in ctx.events)
        return sum(1 for e in ctx.completed if _hour(e.data["ended_at"]) < last)

    def ready(self, ctx: DemoContext) -> bool:
        if not ctx.events:
            return False
        archived = sum(len(values) for values in self._objects().values())
        return archived >= self._expected(ctx)

    def report(self, ctx: DemoContext) -> str:
        objects = self._objects()
        archived = sum(len(values) for values in objects.values())
        hours = Counter(_hour(v["time"]) for values in objects.values() for v in values)
        lines = [
            f"{len(objects)} objects in s3://{BUCKET} holding {archived} of "
            f"{len(ctx.completed)} call.completed events "
            f"({', '.join(f'{h[-2:]}:00 {n}' for h, n in sorted(hours.items()))}):"
        ]
        assert self.server is not None
        client = self.server.client()
        try:
            for key in sorted(objects):
                size = client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
                lines.append(f"  {key}  {len(objects[key])} events, {size / 1024:.1f} KiB")
        finally:
            client.close()
        open_events = len(ctx.completed) - archived
        lines.append(
            f"the last hour's {open_events} events wait in open files until the next "
            "hour's first event closes them (rotation follows record time, so a "
            "redelivered hour rewrites the same objects byte for byte)"
        )
        return "\n".join(lines)

    def teardown(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
