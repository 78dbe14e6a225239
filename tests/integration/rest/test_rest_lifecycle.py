"""A connector's whole life driven over HTTP against a worker on the real broker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from devstack.kafka import KafkaBroker
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import sink_config


def _values(name: str) -> list[int]:
    return [r.value["n"] for r in recordings(name)]


def _states(client: httpx.Client, name: str) -> tuple[str, list[str]]:
    body = client.get(f"/connectors/{name}/status").json()
    return body["connector"]["state"], [t["state"] for t in body["tasks"]]


def _numbers(start: int, stop: int) -> list[bytes | None]:
    return [orjson.dumps({"n": n}) for n in range(start, stop)]


def test_whole_lifecycle_create_pause_patch_stop_replay_delete(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """create → RUNNING with tasks → records flow → pause (nothing read) → resume → PATCH
    config → stop → offsets to 0 → resume replays from the start → delete → 404."""
    topic, name = make_topic("life"), f"life-{unique}"
    config = sink_config(topic, **{"recording.name": name})
    created = client.post("/connectors", json={"name": name, "config": config})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/connectors/{name}"
    info = created.json()
    assert info["name"] == name and info["type"] == "sink"
    assert info["tasks"] == [{"connector": name, "task": 0}]
    assert info["config"]["topics"] == topic and info["config"]["name"] == name
    wait_for(lambda: _states(client, name) == ("RUNNING", ["RUNNING"]))
    assert client.get("/connectors").json() == [name]

    produce(kafka.bootstrap, topic, _numbers(0, 5))
    wait_for(lambda: _values(name) == [0, 1, 2, 3, 4])

    assert client.put(f"/connectors/{name}/pause").status_code == 202
    wait_for(lambda: _states(client, name) == ("PAUSED", ["PAUSED"]))
    produce(kafka.bootstrap, topic, _numbers(5, 8))
    time.sleep(2)
    assert len(recordings(name)) == 5, "a paused connector reads nothing"
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    wait_for(lambda: _values(name) == list(range(8)))

    patched = client.patch(
        f"/connectors/{name}/config",
        json={"recording.name": f"{name}-v2", "batch.max.age.ms": None},
    )
    assert patched.status_code == 200, patched.text
    now = client.get(f"/connectors/{name}/config").json()
    assert now["recording.name"] == f"{name}-v2" and "batch.max.age.ms" not in now
    wait_for(lambda: _states(client, name) == ("RUNNING", ["RUNNING"]))
    produce(kafka.bootstrap, topic, _numbers(8, 10))
    wait_for(lambda: _values(f"{name}-v2") == [8, 9])

    refused = client.patch(
        f"/connectors/{name}/offsets",
        json={
            "offsets": [
                {
                    "partition": {"kafka_topic": topic, "kafka_partition": 0},
                    "offset": {"kafka_offset": 0},
                }
            ]
        },
    )
    assert refused.status_code == 400 and "STOPPED" in refused.json()["message"]

    assert client.put(f"/connectors/{name}/stop").status_code == 204
    wait_for(lambda: _states(client, name) == ("STOPPED", []))
    assert client.get(f"/connectors/{name}").json()["tasks"] == []
    offsets = client.get(f"/connectors/{name}/offsets").json()
    assert offsets == {
        "offsets": [
            {
                "partition": {"kafka_topic": topic, "kafka_partition": 0},
                "offset": {"kafka_offset": 10},
            }
        ]
    }
    rewound = client.patch(
        f"/connectors/{name}/offsets",
        json={
            "offsets": [
                {
                    "partition": {"kafka_topic": topic, "kafka_partition": 0},
                    "offset": {"kafka_offset": 0},
                }
            ]
        },
    )
    assert rewound.status_code == 200, rewound.text
    assert "altered successfully" in rewound.json()["message"]
    assert client.get(f"/connectors/{name}/offsets").json()["offsets"][0]["offset"] == {
        "kafka_offset": 0
    }

    assert client.put(f"/connectors/{name}/resume").status_code == 202
    wait_for(lambda: _values(f"{name}-v2") == [8, 9, *range(10)])
    assert _states(client, name)[0] == "RUNNING"

    assert client.delete(f"/connectors/{name}").status_code == 204
    gone = client.get(f"/connectors/{name}")
    assert gone.status_code == 404
    assert gone.json() == {"error_code": 404, "message": f"Connector {name} not found"}
    assert client.get("/connectors").json() == []


def test_changes_to_one_connector_leave_the_others_running(
    client: httpx.Client,
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """Reconfiguring, stopping and deleting one connector never restarts another's tasks,
    which keep delivering throughout."""
    topic = make_topic("iso")
    busy, other = f"busy-{unique}", f"other-{unique}"
    for name in (busy, other):
        assert (
            client.post(
                "/connectors", json={"name": name, "config": sink_config(topic)}
            ).status_code
            == 201
        )
    wait_for(lambda: _states(client, other) == ("RUNNING", ["RUNNING"]))
    threads = list(worker.get(other).tasks)
    produce(kafka.bootstrap, topic, _numbers(0, 3))
    wait_for(lambda: len(recordings(other)) == 3)
    assert (
        client.put(
            f"/connectors/{busy}/config", json={**sink_config(topic), "tasks.max": "2"}
        ).status_code
        == 200
    )
    assert client.put(f"/connectors/{busy}/stop").status_code == 204
    produce(kafka.bootstrap, topic, _numbers(3, 6))
    wait_for(lambda: len(recordings(other)) == 6)
    assert client.delete(f"/connectors/{busy}").status_code == 204
    assert worker.get(other).tasks == threads, "the other connector's tasks were not touched"
    assert _states(client, other) == ("RUNNING", ["RUNNING"])


def test_create_in_a_given_state_and_list_expanded(
    client: httpx.Client, make_topic: Callable[..., str], unique: str
) -> None:
    """initial_state PAUSED/STOPPED is honoured; ?expand=status&expand=info answers both
    shapes for every connector."""
    topic = make_topic("init")
    paused, stopped = f"paused-{unique}", f"stopped-{unique}"
    for name, state in ((paused, "PAUSED"), (stopped, "STOPPED")):
        body = {"name": name, "config": sink_config(topic), "initial_state": state}
        assert client.post("/connectors", json=body).status_code == 201
    wait_for(lambda: _states(client, paused) == ("PAUSED", ["PAUSED"]))
    assert _states(client, stopped) == ("STOPPED", [])
    listed = client.get("/connectors", params=[("expand", "status"), ("expand", "info")]).json()
    assert set(listed) == {paused, stopped}
    entry = listed[paused]
    assert entry["info"]["name"] == paused and entry["info"]["type"] == "sink"
    assert entry["status"]["connector"]["state"] == "PAUSED"
    assert entry["status"]["tasks"][0]["worker_id"] == entry["status"]["connector"]["worker_id"]
    only_status = client.get("/connectors", params={"expand": "status"}).json()
    assert set(only_status[stopped]) == {"status"}


def test_put_config_creates_then_updates_and_an_identical_put_changes_nothing(
    client: httpx.Client, worker: Worker, make_topic: Callable[..., str], unique: str
) -> None:
    """PUT /config answers 201 when it creates and 200 when it updates; the same config
    again keeps the running tasks."""
    topic, name = make_topic("put"), f"put-{unique}"
    first = client.put(f"/connectors/{name}/config", json=sink_config(topic))
    assert first.status_code == 201 and first.json()["name"] == name
    second = client.put(f"/connectors/{name}/config", json={**sink_config(topic), "tasks.max": 2})
    assert second.status_code == 200
    assert [t["task"] for t in second.json()["tasks"]] == [0, 1]
    assert client.get(f"/connectors/{name}/config").json()["tasks.max"] == "2"
    tasks = list(worker.get(name).tasks)
    same = client.put(f"/connectors/{name}/config", json={**sink_config(topic), "tasks.max": "2"})
    assert same.status_code == 200
    assert worker.get(name).tasks == tasks
    listed = client.get(f"/connectors/{name}/tasks").json()
    assert [t["id"] for t in listed] == [
        {"connector": name, "task": 0},
        {"connector": name, "task": 1},
    ]
    assert listed[0]["config"]["topics"] == topic


def test_restart_answers_204_or_202_with_what_restarts(
    client: httpx.Client, make_topic: Callable[..., str], unique: str
) -> None:
    """Plain restart is 204; includeTasks gives 202 with RESTARTING tasks; onlyFailed
    with nothing failed restarts nothing; a task restart is 204; unknown task 404."""
    topic, name = make_topic("restart"), f"restart-{unique}"
    client.post("/connectors", json={"name": name, "config": sink_config(topic)})
    wait_for(lambda: _states(client, name) == ("RUNNING", ["RUNNING"]))
    assert client.post(f"/connectors/{name}/restart").status_code == 204
    everything = client.post(f"/connectors/{name}/restart", params={"includeTasks": "true"})
    assert everything.status_code == 202
    body: dict[str, Any] = everything.json()
    assert body["connector"]["state"] == "RESTARTING"
    assert [t["state"] for t in body["tasks"]] == ["RESTARTING"]
    wait_for(lambda: _states(client, name) == ("RUNNING", ["RUNNING"]))
    failed_only = client.post(
        f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"}
    )
    assert failed_only.status_code == 202
    assert failed_only.json()["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in failed_only.json()["tasks"]] == ["RUNNING"]
    assert client.post(f"/connectors/{name}/tasks/0/restart").status_code == 204
    assert client.get(f"/connectors/{name}/tasks/0/status").json()["id"] == 0
    assert client.post(f"/connectors/{name}/tasks/7/restart").status_code == 404
    assert client.get(f"/connectors/{name}/tasks/7/status").status_code == 404


def test_topics_in_use_are_tracked_and_reset(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """GET /topics lists the topics the connector has made progress on, across a stop;
    PUT /topics/reset empties it until new records arrive."""
    first, second = make_topic("ta"), make_topic("tb")
    name = f"topics-{unique}"
    config = sink_config(first)
    config["topics"] = f"{first},{second}"
    client.post("/connectors", json={"name": name, "config": config})
    assert client.get(f"/connectors/{name}/topics").json() == {name: {"topics": []}}
    produce(kafka.bootstrap, first, _numbers(0, 2))
    wait_for(lambda: client.get(f"/connectors/{name}/topics").json()[name]["topics"] == [first])
    client.put(f"/connectors/{name}/stop")
    assert client.get(f"/connectors/{name}/topics").json()[name]["topics"] == [first]
    assert client.put(f"/connectors/{name}/topics/reset").status_code == 202
    assert client.get(f"/connectors/{name}/topics").json()[name]["topics"] == []
    client.put(f"/connectors/{name}/resume")
    produce(kafka.bootstrap, second, _numbers(2, 3))
    wait_for(lambda: client.get(f"/connectors/{name}/topics").json()[name]["topics"] == [second])
