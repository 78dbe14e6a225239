"""Replay on demand: offsets by position, by timestamp (offramp extension), and reset."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
from confluent_kafka import Producer

from devstack.kafka import KafkaBroker
from offramp.testing import recordings
from tests.conftest import wait_for
from tests.integration.runtime_support import committed, sink_config

T0 = 1_700_000_000_000  # every record i is stamped T0 + i seconds


def _produce_stamped(bootstrap: str, topic: str, count: int, partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        producer.produce(
            topic, orjson.dumps({"n": i}), partition=partition, timestamp=T0 + i * 1000
        )
    assert producer.flush(30) == 0


def _start_and_drain(client: httpx.Client, name: str, topic: str, expected: int) -> None:
    body = {"name": name, "config": sink_config(topic)}
    assert client.post("/connectors", json=body).status_code == 201
    wait_for(lambda: len(recordings(name)) == expected)
    assert client.put(f"/connectors/{name}/stop").status_code == 204


def _values(name: str) -> list[int]:
    return [r.value["n"] for r in recordings(name)]


def test_connector_wide_timestamp_replays_from_that_time(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """PATCH /offsets?timestamp=… moves every partition to the first record at or after
    that time (ms or ISO-8601), answers the resolved offsets, and the resumed connector
    replays from there."""
    topic, name = make_topic("ts", partitions=2), f"ts-{unique}"
    _produce_stamped(kafka.bootstrap, topic, 6, partition=0)
    _produce_stamped(kafka.bootstrap, topic, 2, partition=1)
    _start_and_drain(client, name, topic, 8)
    answer = client.patch(f"/connectors/{name}/offsets", params={"timestamp": str(T0 + 3000)})
    assert answer.status_code == 200, answer.text
    resolved = {
        e["partition"]["kafka_partition"]: e["offset"]["kafka_offset"]
        for e in answer.json()["offsets"]
    }
    assert resolved == {0: 3, 1: 2}, "partition 1 has nothing that late: its end"
    iso = client.patch(f"/connectors/{name}/offsets", params={"timestamp": "2023-11-14T22:13:24Z"})
    assert iso.status_code == 200, iso.text  # T0 + 4 s, as ISO-8601
    assert iso.json()["offsets"][0]["offset"] == {"kafka_offset": 4}
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    wait_for(lambda: len(recordings(name)) == 10)
    assert sorted(_values(name)[8:]) == [4, 5]


def test_per_partition_timestamp_and_null_reset_to_the_start(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """``{"kafka_timestamp_ms": …}`` and ``offset: null`` set partitions independently."""
    topic, name = make_topic("pp", partitions=2), f"pp-{unique}"
    _produce_stamped(kafka.bootstrap, topic, 4, partition=0)
    _produce_stamped(kafka.bootstrap, topic, 3, partition=1)
    _start_and_drain(client, name, topic, 7)
    body = {
        "offsets": [
            {
                "partition": {"kafka_topic": topic, "kafka_partition": 0},
                "offset": {"kafka_timestamp_ms": T0 + 2000},
            },
            {"partition": {"kafka_topic": topic, "kafka_partition": 1}, "offset": None},
        ]
    }
    answer = client.patch(f"/connectors/{name}/offsets", json=body)
    assert answer.status_code == 200, answer.text
    assert committed(kafka.bootstrap, f"connect-{name}", topic, 2) == [2, 0]


def test_bad_offset_requests_are_refused_and_change_nothing(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """Unknown partitions, offsets past the end, both kinds at once, or nothing at all:
    400 naming the problem, the committed offsets untouched."""
    topic, name = make_topic("bad"), f"bad-{unique}"
    _produce_stamped(kafka.bootstrap, topic, 3)
    _start_and_drain(client, name, topic, 3)
    wait_for(lambda: committed(kafka.bootstrap, f"connect-{name}", topic) == [3])

    def patch(body: object, **params: str) -> httpx.Response:
        return client.patch(f"/connectors/{name}/offsets", json=body, params=params)

    def entry(partition: int, offset: object) -> dict[str, object]:
        return {"partition": {"kafka_topic": topic, "kafka_partition": partition}, "offset": offset}

    cases = [
        (patch({"offsets": [entry(5, {"kafka_offset": 0})]}), "has no partition 5"),
        (patch({"offsets": [entry(0, {"kafka_offset": 99})]}), "past the end"),
        (
            patch({"offsets": [entry(0, {"kafka_offset": 1, "kafka_timestamp_ms": 1})]}),
            "exactly one",
        ),
        (patch({"offsets": [entry(0, {"kafka_offset": -1})]}), "greater than or equal"),
        (patch({"offsets": []}), "no offsets given"),
        (patch({"offsets": [entry(0, None)]}, timestamp="1"), "not both"),
        (patch(None, timestamp="yesterday"), "ISO-8601"),
        (patch({"offsets": [entry(0, None), entry(0, None)]}), "more than once"),
    ]
    for response, expected in cases:
        assert response.status_code == 400, response.text
        assert expected in response.json()["message"], response.text
    assert committed(kafka.bootstrap, f"connect-{name}", topic) == [3]


def test_delete_offsets_resets_the_group_and_the_connector_starts_over(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """DELETE /offsets (STOPPED only) removes the group's offsets; resumed, the connector
    reads everything again."""
    topic, name = make_topic("del"), f"del-{unique}"
    _produce_stamped(kafka.bootstrap, topic, 3)
    body = {"name": name, "config": sink_config(topic)}
    assert client.post("/connectors", json=body).status_code == 201
    wait_for(lambda: len(recordings(name)) == 3)
    assert client.delete(f"/connectors/{name}/offsets").status_code == 400
    client.put(f"/connectors/{name}/stop")
    answer = client.delete(f"/connectors/{name}/offsets")
    assert answer.status_code == 200 and "reset successfully" in answer.json()["message"]
    assert client.get(f"/connectors/{name}/offsets").json() == {"offsets": []}
    client.put(f"/connectors/{name}/resume")
    wait_for(lambda: _values(name) == [0, 1, 2, 0, 1, 2])
