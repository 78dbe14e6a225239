"""The Confluent S3 sink quickstart's ``.properties`` config runs on offramp's s3
connector through the real broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from devstack.kafka import KafkaBroker
from devstack.s3 import S3Server
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.properties_support import CONFIGS, read_properties

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_confluent_s3_quickstart_properties_write_confluent_object_names(
    worker: Worker,
    kafka: KafkaBroker,
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """configs/kafka-connect/s3-sink.properties (Confluent's class names for the
    connector, storage, format, partitioner and schema generator; flush.size=3) runs with
    the topic and bucket changed and the S3 server's address and keys added: 7 records
    give two objects of 3 under Confluent's names, the 7th waits for more."""
    config = read_properties(CONFIGS / "s3-sink.properties")
    assert config["connector.class"] == "io.confluent.connect.s3.S3SinkConnector"
    topic, name = make_topic("s3_topic"), f"s3-{unique}"
    config.update(name=name, topics=topic)
    config.update({k: v for k, v in s3_server.config(bucket).items() if k not in ("s3.region",)})
    produce(kafka.bootstrap, topic, [orjson.dumps({"f1": f"value{i}"}) for i in range(7)])
    worker.create(name, config)

    def keys() -> list[str]:
        listed = s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    prefix = f"topics/{topic}/partition=0/{topic}+0+"
    try:
        wait_for(lambda: len(keys()) == 2)
        assert keys() == [f"{prefix}0000000000.json", f"{prefix}0000000003.json"]
        body = s3_client.get_object(Bucket=bucket, Key=f"{prefix}0000000003.json")["Body"]
        lines = body.read().decode().splitlines()
        assert [orjson.loads(line) for line in lines] == [{"f1": f"value{i}"} for i in (3, 4, 5)]
    finally:
        worker.delete(name)
