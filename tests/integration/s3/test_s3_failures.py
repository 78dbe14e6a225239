"""What the ``s3`` sink does when the store is missing, refuses it, or goes away."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import orjson
import pytest

from devstack.kafka import KafkaBroker
from devstack.s3 import REGION, S3Server
from offramp import FatalError
from offramp.connectors.s3 import S3SinkConfig, S3SinkConnector
from offramp.task import TaskState
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed
from tests.integration.s3.support import keys, s3_sink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _config(server: S3Server, bucket: str, **extra: Any) -> S3SinkConfig:
    return S3SinkConfig.model_validate({**server.config(bucket), "flush.size": "1", **extra})


def test_check_finds_a_writable_bucket_and_leaves_nothing_behind(
    s3_server: S3Server, s3_client: S3Client, bucket: str
) -> None:
    """``check()`` reports the bucket as writable after putting and deleting a probe."""
    found = S3SinkConnector().check(_config(s3_server, bucket))
    assert found == f"s3://{bucket} at {s3_server.url} (us-east-1) exists and is writable"
    assert keys(s3_client, bucket) == []


def test_check_refuses_a_missing_bucket(s3_server: S3Server, unique: str) -> None:
    """A bucket that doesn't exist is a ``FatalError`` saying so, with its name."""
    with pytest.raises(FatalError, match=rf"s3://missing-{unique}.*bucket does not exist"):
        S3SinkConnector().check(_config(s3_server, f"missing-{unique}"))


@pytest.fixture
def iam_user(s3_server: S3Server, unique: str) -> Iterator[tuple[str, str]]:
    """An IAM user that may list buckets but not write objects; moto's IAM checks are
    on while the test runs."""
    iam = boto3.session.Session(
        aws_access_key_id="setup", aws_secret_access_key="setup", region_name=REGION
    ).client("iam", endpoint_url=s3_server.url)
    try:
        user = f"reader-{unique}"
        iam.create_user(UserName=user)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName=user, PolicyName="list-only", PolicyDocument=orjson.dumps(policy).decode()
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
    finally:
        iam.close()
    s3_server.set_auth(True)
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        s3_server.set_auth(False)


def test_check_refuses_unknown_keys_and_denied_writes(
    s3_server: S3Server, bucket: str, iam_user: tuple[str, str]
) -> None:
    """With IAM checks on, an unknown access key and a user without s3:PutObject are
    each a ``FatalError`` that names the cause."""
    unknown = {"aws.access.key.id": f"AKIA{uuid.uuid4().hex[:16].upper()}"}
    with pytest.raises(FatalError, match="access key id is unknown"):
        S3SinkConnector().check(_config(s3_server, bucket, **unknown))
    access_key, secret_key = iam_user
    reader = {"aws.access.key.id": access_key, "aws.secret.access.key": secret_key}
    with pytest.raises(FatalError, match="access denied: the credentials lack s3:PutObject"):
        S3SinkConnector().check(_config(s3_server, bucket, **reader))


def test_missing_bucket_fails_the_task_with_a_clear_message(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    unique: str,
) -> None:
    """Writing to a bucket that doesn't exist puts the task in FAILED, its trace saying
    which bucket is missing; nothing is committed."""
    topic, name = make_topic("lost"), f"lost-{unique}"
    produce(kafka.bootstrap, topic, [b'{"n": 1}'])
    config = s3_sink(
        s3_server, f"missing-{unique}", topic, **{"flush.size": "1", "task.restart.enable": "false"}
    )
    worker.create(name, config)
    task = worker.get(name).tasks[0]
    wait_for(lambda: task.status.state == TaskState.FAILED)
    trace = task.status.trace or ""
    assert f"s3://missing-{unique}/topics/{topic}/partition=0/" in trace
    assert "the bucket does not exist: create it or fix s3.bucket.name" in trace
    assert committed(kafka.bootstrap, f"connect-{name}", topic) == [-1001]


def test_an_outage_is_retried_until_the_store_is_back(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    s3_server: S3Server,
    s3_client: S3Client,
    bucket: str,
    unique: str,
) -> None:
    """With the S3 server down, uploads fail as transient: the task keeps RUNNING and
    says it is retrying; once the server is back the files are stored and committed."""
    topic, name = make_topic("outage"), f"outage-{unique}"
    config = s3_sink(
        s3_server,
        bucket,
        topic,
        **{
            "flush.size": "5",
            "errors.retry.timeout": "-1",
            "errors.retry.delay.max.ms": "500",
            "s3.part.retries": "0",
            "s3.request.timeout.ms": "2000",
        },
    )
    worker.create(name, config)
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": n}) for n in range(5)])
    wait_for(lambda: len(keys(s3_client, bucket)) == 1)
    task = worker.get(name).tasks[0]
    s3_server.stop()
    try:
        # Uploads run behind the writes: the second file's write is the one that learns
        # the first could not be stored, and the runtime retries it with backoff.
        produce(kafka.bootstrap, topic, [orjson.dumps({"n": n}) for n in range(5, 10)])
        time.sleep(0.5)
        produce(kafka.bootstrap, topic, [orjson.dumps({"n": n}) for n in range(10, 15)])
        wait_for(lambda: "cannot reach the store" in (task.status.message or ""))
        assert task.status.state == TaskState.RUNNING
    finally:
        s3_server.start()
    wait_for(lambda: len(keys(s3_client, bucket)) == 3)
    assert keys(s3_client, bucket)[1].endswith(f"{topic}+0+0000000005.json")
    wait_for(lambda: committed(kafka.bootstrap, f"connect-{name}", topic) == [15])
    assert task.status.state == TaskState.RUNNING
