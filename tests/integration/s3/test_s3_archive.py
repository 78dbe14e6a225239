"""The ``s3`` sink through a real broker into moto's S3 server: names, paths, contents."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from devstack.generator import produce_calls
from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from offramp.testing import read_dead_letters
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, dead_letters_to
from tests.integration.s3.support import archive, body, keys, records, s3_sink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024


def test_default_partitioner_names_contents_and_commits(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """Each full file of flush.size records becomes ``partition=<p>/<topic>+<p>+<offset>``
    holding those records as JSON lines, in offset order, the same in every codec; the
    open remainder is not committed."""
    topic = make_topic("calls", partitions=2)
    for p in (0, 1):
        produce(
            kafka.bootstrap,
            topic,
            [orjson.dumps({"p": p, "n": n}) for n in range(250)],
            partition=p,
        )
    for codec in ("none", "gzip", "zstd"):
        worker.create(
            f"archive-{codec}-{unique}",
            s3_sink(
                s3_server,
                bucket,
                topic,
                **{"flush.size": "100", "topics.dir": codec, "s3.compression.type": codec},
            ),
        )
    wait_for(lambda: len(keys(s3_client, bucket)) == 12)
    suffix = {"none": ".json", "gzip": ".json.gz", "zstd": ".json.zst"}
    for codec in ("none", "gzip", "zstd"):
        stored = archive(s3_client, bucket, f"{codec}/")
        expected = {
            f"{codec}/{topic}/partition={p}/{topic}+{p}+{start:010d}{suffix[codec]}": [
                {"p": p, "n": n} for n in range(start, start + 100)
            ]
            for p in (0, 1)
            for start in (0, 100)
        }
        assert stored == expected
        group = f"connect-archive-{codec}-{unique}"
        wait_for(lambda g=group: committed(kafka.bootstrap, g, topic, 2) == [200, 200])
    raw = body(s3_client, bucket, f"none/{topic}/partition=0/{topic}+0+0000000000.json")
    assert raw.endswith(b"\n") and raw.count(b"\n") == 100


def test_field_partitioner_paths_follow_nested_cloudevent_fields(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """``partition.field.name=data.tenant`` puts each CloudEvent under
    ``data.tenant=<tenant>/``, one file per tenant per rotation, named by the offset of
    that tenant's first event in it."""
    topic = make_topic("calls", partitions=1)
    events = produce_calls(kafka.bootstrap, topic, 230)
    worker.create(
        f"by-tenant-{unique}",
        s3_sink(
            s3_server,
            bucket,
            topic,
            **{
                "value.converter": "cloudevents",
                "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
                "partition.field.name": "data.tenant",
                "flush.size": "50",
            },
        ),
    )
    expected: dict[str, list[str]] = {}
    for start in range(0, 200, 50):  # 200..229 stay in the open file
        first: dict[str, int] = {}
        for offset in range(start, start + 50):
            tenant = str(events[offset].data["tenant"])
            first.setdefault(tenant, offset)
            key = f"topics/{topic}/data.tenant={tenant}/{topic}+0+{first[tenant]:010d}.json"
            expected.setdefault(key, []).append(str(events[offset].data["call_id"]))
    wait_for(lambda: len(keys(s3_client, bucket)) == len(expected))
    stored = archive(s3_client, bucket)
    assert {k: [e["data"]["call_id"] for e in v] for k, v in stored.items()} == expected
    for key, values in stored.items():
        found = re.search(r"data\.tenant=(\w+)/", key)
        assert found and {v["data"]["tenant"] for v in values} == {found.group(1)}
        assert all(v["type"].startswith("com.example.call.") for v in values)


def test_hourly_time_partitioner_by_nested_event_time(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """Events land under ``year=2026/month=11/day=20/hour=HH/`` by ``data.ended_at``; an
    hour's files close when the next hour's first event arrives (record time), so hour 08
    is archived whole and the still-open hour 09 is not."""
    topic = make_topic("calls", partitions=2)
    events = produce_calls(kafka.bootstrap, topic, 1500)  # 08:00 to 09:15, 3 s apart
    worker.create(
        f"hourly-{unique}",
        s3_sink(
            s3_server,
            bucket,
            topic,
            **{
                "value.converter": "cloudevents",
                "partitioner.class": "time",
                "path.format": "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
                "partition.duration.ms": "3600000",
                "timezone": "UTC",
                "timestamp.extractor": "RecordField",
                "timestamp.field": "data.ended_at",
                "rotate.interval.ms": "3600000",
                "flush.size": "100000",
                "s3.compression.type": "gzip",
            },
        ),
    )
    hour_8 = {str(e.data["call_id"]) for e in events if str(e.data["ended_at"])[11:13] == "08"}
    prefix = f"topics/{topic}/year=2026/month=11/day=20/hour=08/"

    def archived() -> list[str]:
        return [v["data"]["call_id"] for vs in archive(s3_client, bucket).values() for v in vs]

    wait_for(lambda: len(archived()) >= len(hour_8))
    stored = archive(s3_client, bucket)
    assert set(stored) == {
        f"{prefix}{topic}+0+0000000000.json.gz",
        f"{prefix}{topic}+1+0000000000.json.gz",
    }
    assert sorted(archived()) == sorted(hour_8)
    for values in stored.values():
        times = [datetime.fromisoformat(v["data"]["ended_at"]) for v in values]
        assert times == sorted(times) and all(t.hour == 8 for t in times)


def test_large_files_use_multipart_upload(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """A 12 MB file, spilled to disk past 1 MiB, is uploaded as three 5 MiB-sized parts
    (moto enforces S3's 5 MiB minimum) and reads back byte for byte; nothing is left
    behind as an unfinished upload."""
    topic = make_topic("big", partitions=1)
    values: list[bytes | None] = [
        orjson.dumps({"n": n, "blob": os.urandom(30_000).hex()}) for n in range(200)
    ]
    produce(kafka.bootstrap, topic, values)
    worker.create(
        f"multipart-{unique}",
        s3_sink(
            s3_server,
            bucket,
            topic,
            **{
                "flush.size": "200",
                "s3.part.size": str(5 * MIB),
                "s3.spill.threshold.bytes": str(MIB),
            },
        ),
    )
    key = f"topics/{topic}/partition=0/{topic}+0+0000000000.json"
    wait_for(lambda: keys(s3_client, bucket) == [key])
    head = s3_client.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-3")
    assert body(s3_client, bucket, key) == b"".join((v or b"") + b"\n" for v in values)
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_records_that_cannot_be_placed_go_to_the_dlq(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """A value without the partition field, one whose field is an object, and a
    tombstone are dead-lettered (stage TASK_PUT, reason header); the rest is archived."""
    topic, dlq = make_topic("mixed", partitions=1), f"s3-dlq-{unique}"
    values: list[bytes | None] = [orjson.dumps({"n": n, "tenant": "acme"}) for n in range(10)]
    values[3] = orjson.dumps({"n": 3})
    values[5] = orjson.dumps({"n": 5, "tenant": {"name": "acme"}})
    values[7] = None
    produce(kafka.bootstrap, topic, values, keys=[f"k{n}".encode() for n in range(10)])
    config: dict[str, Any] = {
        "partitioner.class": "field",
        "partition.field.name": "tenant",
        "flush.size": "7",
        **dead_letters_to(dlq),
    }
    worker.create(f"mixed-{unique}", s3_sink(s3_server, bucket, topic, **config))
    key = f"topics/{topic}/tenant=acme/{topic}+0+0000000000.json"
    wait_for(lambda: keys(s3_client, bucket) == [key])
    assert [v["n"] for v in records(s3_client, bucket, key)] == [0, 1, 2, 4, 6, 8, 9]
    letters = read_dead_letters(kafka.bootstrap, dlq, expected=3)
    assert sorted(d.key or b"" for d in letters) == [b"k3", b"k5", b"k7"]
    for letter in letters:
        assert letter.headers["__connect.errors.stage"] == "TASK_PUT"
    reasons = {d.key: d.headers["__offramp.errors.reason"] for d in letters}
    assert reasons == {b"k3": "s3.partitioner", b"k5": "s3.partitioner", b"k7": "s3.format"}
    messages = {d.key: d.headers["__connect.errors.exception.message"] for d in letters}
    assert "no field 'tenant'" in messages[b"k3"]
    assert "must be a string, number or boolean" in messages[b"k5"]


def test_json_values_are_archived_as_consumed_and_bad_json_is_dead_lettered(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """With schemaless JSON values the objects hold each document's own text (spacing
    kept; a multi-line one compacted), invalid JSON is dead-lettered by the converter
    and a JSON null by the format, as when every value is decoded."""
    topic, dlq = make_topic("texts", partitions=1), f"s3-text-dlq-{unique}"
    values: list[bytes | None] = [b'{"n": 0,  "note": "spaced"}'] * 6
    values[1] = b'{\n  "n": 1\n}'
    values[2] = b"{oops"
    values[3] = b"null"
    values[4] = b'[1, "two"]'
    produce(kafka.bootstrap, topic, values, keys=[f"k{n}".encode() for n in range(6)])
    config: dict[str, Any] = {
        "flush.size": "4",
        **dead_letters_to(dlq),
    }
    worker.create(f"texts-{unique}", s3_sink(s3_server, bucket, topic, **config))
    key = f"topics/{topic}/partition=0/{topic}+0+0000000000.json"
    wait_for(lambda: keys(s3_client, bucket) == [key])
    assert body(s3_client, bucket, key) == (
        b'{"n": 0,  "note": "spaced"}\n{"n":1}\n[1, "two"]\n{"n": 0,  "note": "spaced"}\n'
    )
    letters = {d.key: d for d in read_dead_letters(kafka.bootstrap, dlq, expected=2)}
    assert set(letters) == {b"k2", b"k3"}
    assert letters[b"k2"].headers["__connect.errors.stage"] == "VALUE_CONVERTER"
    assert letters[b"k2"].value == b"{oops"
    assert letters[b"k3"].headers["__connect.errors.stage"] == "TASK_PUT"
    assert letters[b"k3"].headers["__offramp.errors.reason"] == "s3.format"
