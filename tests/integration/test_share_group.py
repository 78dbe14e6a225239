"""Share-group connectors (group.type=share) on the real broker: more tasks than
partitions, every record acknowledged, poison records dead-lettered, outages ridden
out without spending deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import orjson
import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from devstack.kafka import KafkaBroker
from offramp.testing import read_dead_letters, recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import dead_letters_to, make_worker, sink_config


@pytest.fixture
def worker(kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap)
    yield w
    w.shutdown()


def _set_group(bootstrap: str, group: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(k.replace("_", "."), v, incremental_operation=AlterConfigOpType.SET)
            for k, v in configs.items()
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(30)


def test_six_tasks_on_two_partitions_all_receive_records_and_none_is_lost(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """A share connector with tasks.max=6 on a 2-partition topic: every task writes
    records, every record is written at least once, and each task's acknowledgements
    are all ACCEPTs."""
    topic = make_topic("share", partitions=2)
    name = f"share-{unique}"
    config = sink_config(
        topic, "scripted", **{"tasks.max": "6", "group.type": "share", "recording.name": name}
    )
    config["consumer.override.max.poll.records"] = "20"
    worker.create(name, config)
    tasks = worker.get(name).tasks
    # A stream, not one burst one member takes whole. A share fetch acquires whole
    # record batches and members join at their own pace, so the stream goes on until
    # every task has had some (at least 6 000 records, at most 60 s of it).
    total, began = 0, time.monotonic()
    while total < 6000 or (
        not all(t.metrics.records_written for t in tasks) and time.monotonic() - began < 60
    ):
        produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(total, total + 250)])
        total += 250
        time.sleep(0.1)
    wait_for(lambda: len({r.value["n"] for r in recordings(name)}) == total, timeout=60)
    written = [t.metrics.records_written for t in tasks]
    assert all(n > 0 for n in written), written
    assert sum(t.metrics.share_rejected + t.metrics.share_released for t in tasks) == 0
    assert [t.status.state for t in tasks] == ["RUNNING"] * 6


def test_a_poison_record_is_dead_lettered_and_accepted_while_the_rest_flows(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """A record the sink refuses by name is delivered share.record.attempts (3) times,
    then dead-lettered and accepted; every other record is written."""
    topic, dlq = make_topic("share-poison", partitions=2), make_topic("share-dlq")
    name = f"share-poison-{unique}"
    config = sink_config(
        topic,
        "scripted",
        **{
            "tasks.max": "2",
            "group.type": "share",
            "recording.name": name,
            "script.fail.values": "poison",
            **dead_letters_to(dlq),
        },
    )
    worker.create(name, config)
    values = [orjson.dumps({"n": i}) for i in range(200)]
    values[77] = orjson.dumps({"n": 77, "tag": "poison"})
    produce(kafka.bootstrap, topic, values)
    wait_for(lambda: len({r.value["n"] for r in recordings(name)}) == 199)
    letters = read_dead_letters(kafka.bootstrap, dlq, 1, timeout=60)
    assert [orjson.loads(d.value)["n"] for d in letters] == [77]
    tasks = worker.get(name).tasks
    assert sum(t.metrics.share_released for t in tasks) == 2  # delivered 3 times in all
    wait_for(lambda: sum(t.metrics.share_accepted for t in worker.get(name).tasks) == 200)


def test_an_outage_longer_than_limit_times_lock_loses_and_archives_nothing(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """With the group's lock at 1 s and the broker's delivery limit 5, the destination
    down for 8 s (longer than limit x lock): the task releases before each lock runs
    out and stops acquiring; once it answers every record is written and accepted —
    none archived, none rejected."""
    topic = make_topic("share-outage", partitions=2)
    name = f"share-outage-{unique}"
    _set_group(kafka.bootstrap, f"connect-{name}", share_record_lock_duration_ms="1000")
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(300)])
    config = sink_config(
        topic,
        "scripted",
        **{
            "tasks.max": "2",
            "group.type": "share",
            "recording.name": name,
            "script.transient.seconds": "8",
            "errors.retry.delay.max.ms": "100",
        },
    )
    worker.create(name, config)
    wait_for(lambda: len({r.value["n"] for r in recordings(name)}) == 300, timeout=60)
    wait_for(lambda: sum(t.metrics.share_accepted for t in worker.get(name).tasks) == 300)
    tasks = worker.get(name).tasks
    assert sum(t.metrics.share_rejected + t.metrics.commit_failures for t in tasks) == 0
    assert sum(t.metrics.share_released for t in tasks) >= 1  # it did release, in time
