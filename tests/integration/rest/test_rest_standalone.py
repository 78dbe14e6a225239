"""Standalone mode: the CLI serves the REST API, and REST changes survive a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devstack.kafka import KafkaBroker
from tests.conftest import produce, wait_for
from tests.integration.rest.standalone_process import StandaloneWorker


def _file_sink(topic: str, out: Path, **extra: str) -> dict[str, Any]:
    return {
        "connector.class": "file",
        "topics": topic,
        "file": str(out),
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.age.ms": "50",
        **extra,
    }


def _lines(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["n"] for line in path.read_text().splitlines() if line]


def _numbers(start: int, stop: int) -> list[bytes | None]:
    return [json.dumps({"n": n}).encode() for n in range(start, stop)]


def test_rest_changes_persist_across_a_restart(
    kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, tmp_path: Path
) -> None:
    """Connectors created, changed, paused and deleted over REST come back as they were
    after SIGTERM (exit 0) and a restart; the REST version of a file's connector wins,
    and one deleted over REST stays deleted though its file still names it."""
    topic = make_topic("persist")
    files = {}
    for name in ("from-file", "doomed"):
        path = tmp_path / f"{name}.json"
        out = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"name": name, "config": _file_sink(topic, out)}))
        files[name] = path
    worker = StandaloneWorker(
        tmp_path,
        {
            "bootstrap.servers": kafka.bootstrap,
            "rest.port": 0,
            "config.storage.dir": str(tmp_path / "store"),
            "offset.flush.interval.ms": 200,
            "consumer.session.timeout.ms": 6000,
        },
        list(files.values()),
    )
    made = tmp_path / "rest-made.jsonl"
    try:
        worker.start().wait_healthy()
        with httpx.Client(base_url=worker.url, timeout=30.0) as client:
            assert sorted(client.get("/connectors").json()) == ["doomed", "from-file"]
            body = {"name": "rest-made", "config": _file_sink(topic, made)}
            assert client.post("/connectors", json=body).status_code == 201
            produce(kafka.bootstrap, topic, _numbers(0, 5))
            wait_for(lambda: _lines(made) == [0, 1, 2, 3, 4])
            patch = {"batch.max.records": "2"}
            assert client.patch("/connectors/rest-made/config", json=patch).status_code == 200
            assert client.put("/connectors/from-file/pause").status_code == 202
            assert client.delete("/connectors/doomed").status_code == 204
            wait_for(lambda: worker_committed(client, "rest-made") == 5)
        assert worker.stop() == 0, "SIGTERM stops the worker cleanly"

        worker.start().wait_healthy()
        with httpx.Client(base_url=worker.url, timeout=30.0) as client:
            assert sorted(client.get("/connectors").json()) == ["from-file", "rest-made"]
            status = client.get("/connectors/from-file/status").json()
            assert status["connector"]["state"] == "PAUSED"
            config = client.get("/connectors/rest-made/config").json()
            assert config["batch.max.records"] == "2" and config["file"] == str(made)
            produce(kafka.bootstrap, topic, _numbers(5, 7))
            wait_for(lambda: _lines(made) == list(range(7)))
    finally:
        assert worker.stop() == 0
    assert "was deleted over REST; not started" in worker.log()


def worker_committed(client: httpx.Client, name: str) -> int:
    offsets = client.get(f"/connectors/{name}/offsets").json()["offsets"]
    return sum(o["offset"]["kafka_offset"] for o in offsets)
