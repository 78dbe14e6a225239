"""Bad configs, wrong methods and malformed requests get a 4xx with a useful message,
in Kafka Connect's error shape, and change nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.runtime_support import sink_config


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == status
    message: str = body["message"]
    return message


def test_an_invalid_config_is_refused_with_every_error_and_nothing_is_created(
    client: httpx.Client, make_topic: Callable[..., str], unique: str
) -> None:
    """POST with several mistakes: 400 listing each with its key; no connector exists."""
    bad = {
        "connector.class": "recordng",
        "tasks.max": "0",
        "errors.tolerance": "some",
        "value.converter": "jsn",
    }
    message = _error(client.post("/connectors", json={"name": f"x-{unique}", "config": bad}), 400)
    assert "contains the following" in message
    for key in ("connector.class", "tasks.max", "errors.tolerance", "topics", "value.converter"):
        assert f"\n{key}: " in message, key
    assert "did you mean 'recording'" in message
    unknown = {**sink_config(make_topic("bad")), "recording.nme": "typo"}
    message = _error(
        client.post("/connectors", json={"name": f"y-{unique}", "config": unknown}), 400
    )
    assert "recording.nme: unknown configuration key" in message
    assert client.get("/connectors").json() == []


def test_updates_that_fail_validation_leave_the_connector_as_it_was(
    client: httpx.Client, worker: Worker, make_topic: Callable[..., str], unique: str
) -> None:
    """An invalid PUT or PATCH is 400; the stored config and the running tasks stay."""
    topic, name = make_topic("keep"), f"keep-{unique}"
    assert (
        client.post("/connectors", json={"name": name, "config": sink_config(topic)}).status_code
        == 201
    )
    wait_for(
        lambda: client.get(f"/connectors/{name}/status").json()["tasks"][0]["state"] == "RUNNING"
    )
    before, tasks = client.get(f"/connectors/{name}/config").json(), list(worker.get(name).tasks)
    _error(client.put(f"/connectors/{name}/config", json={**before, "tasks.max": "zero"}), 400)
    _error(client.patch(f"/connectors/{name}/config", json={"topics": None}), 400)
    _error(client.patch(f"/connectors/{name}/config", json={"name": "other"}), 400)
    assert client.get(f"/connectors/{name}/config").json() == before
    assert worker.get(name).tasks == tasks
    duplicate = client.post("/connectors", json={"name": name, "config": sink_config(topic)})
    assert "already exists" in _error(duplicate, 409)
    mismatch = _error(client.put(f"/connectors/{name}/config", json={**before, "name": "z"}), 400)
    assert "doesn't match connector name in the URL" in mismatch


def test_malformed_requests_wrong_methods_and_unknown_paths(
    client: httpx.Client, unique: str
) -> None:
    """Malformed JSON and wrong shapes are 400, wrong methods 405 with Allow, unknown
    paths and connectors 404; all as {"error_code", "message"}."""
    headers = {"Content-Type": "application/json"}
    assert "Malformed JSON" in _error(
        client.post("/connectors", content=b'{"name": "x", "config": {', headers=headers), 400
    )
    assert "config" in _error(client.post("/connectors", json={"name": "x", "config": [1]}), 400)
    _error(client.post("/connectors", json=["not", "an", "object"]), 400)
    assert "name is required" in _error(client.post("/connectors", json={"config": {}}), 400)
    _error(client.post("/connectors", json={"name": "  ", "config": {}}), 400)
    _error(client.post("/connectors", json={"name": "a/b", "config": {}}), 400)
    state = client.post("/connectors", json={"name": "s", "config": {}, "initial_state": "NAPPING"})
    assert "initial_state" in _error(state, 400)
    wrong = client.delete("/connectors")
    assert "405" in _error(wrong, 405) and "GET" in wrong.headers["allow"]
    _error(client.post(f"/connectors/{unique}/pause"), 405)
    _error(client.get("/no/such/path"), 404)
    for method, path in (
        ("GET", f"/connectors/{unique}"),
        ("GET", f"/connectors/{unique}/status"),
        ("PUT", f"/connectors/{unique}/pause"),
        ("PUT", f"/connectors/{unique}/stop"),
        ("POST", f"/connectors/{unique}/restart"),
        ("DELETE", f"/connectors/{unique}"),
        ("GET", f"/connectors/{unique}/offsets"),
        ("GET", f"/connectors/{unique}/tasks/abc/status"),
    ):
        _error(client.request(method, path), 404)
    _error(client.post(f"/connectors/{unique}/restart", params={"includeTasks": "maybe"}), 400)
    _error(client.patch(f"/connectors/{unique}/config", json={"a": "b"}), 404)
    assert client.get("/connectors").json() == []
