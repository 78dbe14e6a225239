"""Plug-ins, config definitions and validation, loggers, server info, health, metrics
and the OpenAPI document."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from devstack.kafka import KafkaBroker
from offramp.config import load_worker_config
from offramp.rest.server import RestServer
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import sink_config


def _configs(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["definition"]["name"]: c for c in result["configs"]}


def test_validate_answers_200_with_every_error_under_its_key_and_the_definitions(
    client: httpx.Client, make_topic: Callable[..., str]
) -> None:
    """config/validate runs the create-time validation: errors per key, definitions from
    the common settings and the plug-in's model, secrets masked; a good config has none."""
    bad = {"name": "v", "tasks.max": "0", "errors.tolerance": "some", "recording.nme": "x"}
    answer = client.put("/connector-plugins/recording/config/validate", json=bad)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["name"] == "offramp.testing:RecordingSinkConnector"
    configs = _configs(result)
    assert configs["tasks.max"]["value"]["errors"] and configs["tasks.max"]["value"]["value"] == "0"
    assert configs["errors.tolerance"]["value"]["recommended_values"] == ["none", "all"]
    assert configs["errors.tolerance"]["definition"]["group"] == "Error Handling"
    assert configs["topics"]["value"]["errors"] == [
        "exactly one of topics and topics.regex must be set"
    ]
    assert configs["recording.nme"]["value"]["errors"] == ["unknown configuration key"]
    assert result["error_count"] == 4
    assert {"Common", "Error Handling", "recording"} <= set(result["groups"])
    definition = configs["topics"]["definition"]
    assert definition["type"] == "LIST" and definition["documentation"] == "Topics to consume"
    assert configs["recording.name"]["definition"]["group"] == "recording"
    assert configs["name"]["definition"]["required"] is True

    good = {"name": "v", **sink_config(make_topic("valid"))}
    assert (
        client.put("/connector-plugins/recording/config/validate", json=good).json()["error_count"]
        == 0
    )
    mismatch = client.put(
        "/connector-plugins/recording/config/validate", json={**good, "connector.class": "file"}
    )
    assert mismatch.status_code == 400 and "does not match" in mismatch.json()["message"]
    assert client.put("/connector-plugins/nope/config/validate", json=good).status_code == 404


def test_plugins_are_listed_with_their_config_definitions(client: httpx.Client) -> None:
    """GET /connector-plugins lists sinks (and, with connectorsOnly=false, converters,
    transformations and predicates); /config gives each key's definition."""
    sinks = client.get("/connector-plugins").json()
    assert {
        "class": "offramp.connectors.file:FileSinkConnector",
        "type": "sink",
        "version": "0.1.0",
    } in sinks
    assert {p["type"] for p in sinks} == {"sink"}
    everything = client.get("/connector-plugins", params={"connectorsOnly": "false"}).json()
    assert {"sink", "converter", "transformation", "predicate"} == {p["type"] for p in everything}
    assert any(p["class"] == "org.apache.kafka.connect.transforms.Filter" for p in everything)
    for name in ("file", "offramp.connectors.file:FileSinkConnector", "FileSinkConnector"):
        definitions = client.get(f"/connector-plugins/{name}/config").json()
        by_name = {d["name"]: d for d in definitions}
        assert by_name["file"]["required"] is True and by_name["file"]["type"] == "STRING"
        assert by_name["file.fsync"]["default_value"] == "false"
    missing = client.get("/connector-plugins/nope/config")
    assert missing.status_code == 404 and missing.json()["error_code"] == 404


def test_concurrent_first_requests_load_plug_ins_safely(client: httpx.Client) -> None:
    """Plug-ins load lazily on first use: many simultaneous first requests all succeed."""
    paths = ["/connector-plugins?connectorsOnly=false", "/connector-plugins/stdout/config"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: client.get(paths[i % 2]).status_code, range(16)))
    assert answers == [200] * 16


def test_log_levels_are_read_and_changed_live(client: httpx.Client, unique: str) -> None:
    """PUT /admin/loggers/{name} sets a level (log4j names) and its descendants'; GET
    shows it with last_modified; bad levels are 400, unknown loggers 404."""
    parent, child = f"offramp.test{unique}", f"offramp.test{unique}.child"
    logging.getLogger(child).setLevel(logging.INFO)
    try:
        answer = client.put(f"/admin/loggers/{parent}", json={"level": "WARN"})
        assert answer.status_code == 200 and answer.json() == [parent, child]
        assert logging.getLogger(child).level == logging.WARNING
        got = client.get(f"/admin/loggers/{parent}").json()
        assert got["level"] == "WARN" and isinstance(got["last_modified"], int)
        assert client.get("/admin/loggers").json()[parent]["level"] == "WARN"
        bad = client.put(f"/admin/loggers/{parent}", json={"level": "LOUD"})
        assert bad.status_code == 400 and "LOUD" in bad.json()["message"]
        assert client.get(f"/admin/loggers/none.such.{unique}").status_code == 404
    finally:
        logging.getLogger(parent).setLevel(logging.NOTSET)
        logging.getLogger(child).setLevel(logging.NOTSET)


def test_server_info_health_and_openapi(client: httpx.Client, worker: Worker) -> None:
    """GET / names the version, commit and cluster; /health is healthy; /openapi.json
    documents every endpoint."""
    info = client.get("/").json()
    assert info["version"] == "0.1.0" and info["kafka_cluster_id"] == worker.kafka_cluster_id
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", info["commit"])
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/",
        "/health",
        "/health/live",
        "/metrics",
        "/connectors",
        "/connectors/{name}",
        "/connectors/{name}/config",
        "/connectors/{name}/status",
        "/connectors/{name}/tasks",
        "/connectors/{name}/tasks/{task_id}/status",
        "/connectors/{name}/tasks/{task_id}/restart",
        "/connectors/{name}/restart",
        "/connectors/{name}/pause",
        "/connectors/{name}/resume",
        "/connectors/{name}/stop",
        "/connectors/{name}/topics",
        "/connectors/{name}/topics/reset",
        "/connectors/{name}/offsets",
        "/connector-plugins",
        "/connector-plugins/{plugin}/config",
        "/connector-plugins/{plugin}/config/validate",
        "/admin/loggers",
        "/admin/loggers/{logger}",
    ):
        assert path in paths, path
    assert set(paths["/connectors/{name}/config"]) == {"get", "put", "patch"}
    assert set(paths["/connectors/{name}/offsets"]) == {"get", "patch", "delete"}


def test_metrics_expose_per_connector_and_per_task_series(
    client: httpx.Client, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """After records flow, /metrics has counters, the write-latency histogram, commit
    timings, lag per partition and the task state as a labelled gauge."""
    topic, name = make_topic("metrics"), f"metrics-{unique}"
    config = sink_config(topic, **{"errors.tolerance": "all"})
    client.post("/connectors", json={"name": name, "config": config})
    produce(kafka.bootstrap, topic, [b'{"n": 1}', b'{"n": 2}', b"not json"])
    wait_for(lambda: len(recordings(name)) == 2)

    def text() -> str:
        response = client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return response.text

    labels = f'connector="{name}",task="0"'
    committed = f'offramp_sink_committed_offset{{{labels},topic="{topic}",partition="0"}} 3'
    wait_for(lambda: committed in text())
    body = text()
    assert f"offramp_sink_record_read_total{{{labels}}} 3" in body
    assert f"offramp_sink_record_send_total{{{labels}}} 2" in body
    assert f"offramp_sink_record_skipped_total{{{labels}}} 1" in body
    assert f'offramp_task_state{{{labels},state="RUNNING"}} 1' in body
    assert f'offramp_task_state{{{labels},state="FAILED"}} 0' in body
    for series in (
        "offramp_sink_record_send_total",
        "offramp_sink_record_dead_lettered_total",
        "offramp_sink_record_skipped_total",
        "offramp_sink_retries_total",
        "offramp_sink_put_batch_size",
        "offramp_offset_commit_seconds_count",
        "offramp_offset_commit_failures_total",
        "offramp_task_restarts_total",
        "offramp_sink_consumer_lag",
    ):
        assert f"# TYPE {series.removesuffix('_count')}" in body, series
    assert f'offramp_sink_put_batch_seconds_bucket{{{labels},le="+Inf"}}' in body
    assert f'offramp_connector_state{{connector="{name}",state="RUNNING"}} 1' in body


def test_health_is_503_until_the_worker_is_ready_and_names_the_problem(
    serve: Callable[..., tuple[RestServer, httpx.Client]],
) -> None:
    """A worker that can't reach Kafka answers 503 "starting" saying so, and refuses
    changes with 503 meanwhile; once it was ready, losing Kafka makes it 500
    "unhealthy", naming Kafka."""
    config = load_worker_config({"bootstrap.servers": "127.0.0.1:1", "rest.port": 0}, environ={})
    worker = Worker(config)
    _, client = serve(worker)
    first = client.get("/health")
    assert first.status_code == 503 and first.json()["status"] == "starting"
    assert not worker.check_kafka(timeout=1.0)
    waiting = client.get("/health").json()["message"]
    assert "Kafka at 127.0.0.1:1 unreachable" in waiting
    early = client.post("/connectors", json={"name": "early", "config": {}})
    assert early.status_code == 503 and "starting up" in early.json()["message"]
    assert client.get("/connectors").json() == []
    worker.mark_ready()
    lost = client.get("/health")
    assert lost.status_code == 500 and lost.json()["status"] == "unhealthy"
    assert "Kafka at 127.0.0.1:1 unreachable" in lost.json()["message"]
    worker.shutdown()


def test_liveness_is_200_while_readiness_reports_kafka_unreachable(
    serve: Callable[..., tuple[RestServer, httpx.Client]],
) -> None:
    """/health/live answers 200 whether the worker is starting or has lost
    Kafka, while /health reports 503 then 500 over the same requests."""
    config = load_worker_config({"bootstrap.servers": "127.0.0.1:1", "rest.port": 0}, environ={})
    worker = Worker(config)
    _, client = serve(worker)
    starting = client.get("/health/live")
    assert starting.status_code == 200 and starting.json()["status"] == "healthy"
    assert client.get("/health").status_code == 503
    worker.mark_ready()
    assert client.get("/health").status_code == 500
    lost = client.get("/health/live")
    assert lost.status_code == 200 and lost.json()["status"] == "healthy"
    worker.shutdown()
