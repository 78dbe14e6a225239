"""The ``s3`` sink meeting objects another writer (a zombie task, a run with another
``flush.size``) already stored at its keys, in moto's S3 server: conditional uploads
never replace them, and every record ends up in exactly one object."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
import pytest

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed
from tests.integration.s3.support import archive, keys, s3_sink, version_hashes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RECORDS = 35


def _lines(values: list[dict[str, int]]) -> bytes:
    return b"".join(orjson.dumps(value) + b"\n" for value in values)


@pytest.mark.parametrize(
    ("zombie_end", "starts"),
    [(15, [0, 15, 25]), (5, [0, 5, 15, 25])],
    ids=["longer", "shorter"],
)
def test_object_already_at_the_key_is_kept_and_followed(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
    zombie_end: int,
    starts: list[int],
) -> None:
    """An object at the first key holding offsets 0..zombie_end-1 (more or fewer than
    flush.size=10) stays the only version there, the task goes on from its end, and
    each of the 35 records is stored exactly once."""
    topic = make_topic("calls", partitions=1)
    values = [{"n": n} for n in range(RECORDS)]
    produce(kafka.bootstrap, topic, [orjson.dumps(value) for value in values], partition=0)
    prefix = f"topics/{topic}/partition=0/{topic}+0+"
    zombie_key = f"{prefix}0000000000.json"
    s3_client.put_object(
        Bucket=bucket,
        Key=zombie_key,
        Body=_lines(values[:zombie_end]),
        Metadata={"offramp-end-offset": str(zombie_end)},
    )
    zombie_hash = version_hashes(s3_client, bucket)[zombie_key]
    worker.create(f"taken-{unique}", s3_sink(s3_server, bucket, topic, **{"flush.size": "10"}))
    expected_keys = [f"{prefix}{start:010d}.json" for start in starts]
    wait_for(lambda: keys(s3_client, bucket) == expected_keys)
    wait_for(lambda: committed(kafka.bootstrap, f"connect-taken-{unique}", topic, 1) == [35])
    stored = archive(s3_client, bucket)
    print({key.rsplit("+", 1)[1]: len(found) for key, found in stored.items()})
    assert [value for key in expected_keys for value in stored[key]] == values
    hashes = version_hashes(s3_client, bucket)
    assert hashes[zombie_key] == zombie_hash  # never written over
    assert all(len(versions) == 1 for versions in hashes.values()), hashes
    head = s3_client.head_object(Bucket=bucket, Key=expected_keys[-1])
    assert head["Metadata"] == {"offramp-end-offset": "35"}
