"""A share-group connector over REST: pause, resume, stop, delete work as for any
connector; the offsets endpoints answer 400 (a share group has no offsets)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import orjson

from devstack.kafka import KafkaBroker
from offramp.testing import recordings
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import sink_config


def _state(client: httpx.Client, name: str) -> tuple[str, list[str]]:
    body = client.get(f"/connectors/{name}/status").json()
    return body["connector"]["state"], [t["state"] for t in body["tasks"]]


def test_share_connector_lifecycle_and_offsets_refused(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """A share connector with 3 tasks on a 1-partition topic writes what is produced;
    paused it writes nothing new, resumed it catches up; stopped, the offsets
    endpoints answer 400 naming group.type=share; resumed again and deleted, it is gone."""
    topic, name = make_topic("share-rest"), f"share-rest-{unique}"
    config = sink_config(topic, **{"tasks.max": "3", "group.type": "share"})
    assert client.post("/connectors", json={"name": name, "config": config}).status_code == 201
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(50)])
    wait_for(lambda: len(recordings(name)) >= 50)
    assert client.put(f"/connectors/{name}/pause").status_code == 202
    wait_for(lambda: _state(client, name) == ("PAUSED", ["PAUSED"] * 3))
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(50, 60)])
    time.sleep(1.5)  # time to acquire, were it still in the group
    assert len({r.value["n"] for r in recordings(name)}) == 50
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    wait_for(lambda: len({r.value["n"] for r in recordings(name)}) == 60)
    assert client.put(f"/connectors/{name}/stop").status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        answer = client.request(
            method,
            f"/connectors/{name}/offsets",
            params={"timestamp": "0"} if method == "PATCH" else None,
        )
        assert answer.status_code == 400, (method, answer.text)
        assert "group.type=share" in answer.json()["message"]
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": 60})])
    wait_for(lambda: len({r.value["n"] for r in recordings(name)}) == 61)
    assert client.delete(f"/connectors/{name}").status_code == 204
    assert client.get(f"/connectors/{name}").status_code == 404
