"""The plug-in guide's example package (docs/examples/webhook_sink), installed with pip
from its own folder and run in a worker against the real broker and a real HTTP
receiver: listed, validated over REST, and the records the receiver refuses (and only
those) end in the dead-letter topic."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.kafka import KafkaBroker
from offramp.rest.server import RestServer
from offramp.testing import read_dead_letters
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import dead_letters_to, make_worker, sink_config

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_sink"
DISTRIBUTION = "offramp-webhook-sink"
LOCK = "/tmp/offramp-bootstrap.lock"  # the shared .venv: every pip run takes it
REFUSED = {3, 7, 8, 14}


def pip(*args: str) -> None:
    done = subprocess.run(
        ["flock", LOCK, sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    """The example installed into .venv from its folder (its dependencies, offramp and
    httpx, are there already); uninstalled afterwards."""
    pip("install", "-q", "--no-deps", str(EXAMPLE))
    importlib.invalidate_caches()  # entry points and the new package become visible
    try:
        yield
    finally:
        pip("uninstall", "-q", "-y", DISTRIBUTION)
        importlib.invalidate_caches()
        for name in [
            m for m in sys.modules if m == "webhook_sink" or m.startswith("webhook_sink.")
        ]:
            del sys.modules[name]


class Receiver:
    """A webhook on 127.0.0.1: accepts JSON arrays, refusing the items whose ``id`` is
    in ``REFUSED`` with a 400 and per-item errors (the rest of that request is written,
    as the sink's contract says)."""

    def __init__(self) -> None:
        self.accepted: list[int] = []
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                errors = [
                    {"index": i, "message": f"id {item['id']} is refused"}
                    for i, item in enumerate(body)
                    if item["id"] in REFUSED
                ]
                with receiver.lock:
                    receiver.requests += 1
                    receiver.accepted += [item["id"] for item in body if item["id"] not in REFUSED]
                answer = json.dumps({"errors": errors}).encode()
                self.send_response(400 if errors else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def client(installed: None, kafka: KafkaBroker) -> Iterator[httpx.Client]:
    """A worker built after the install (its registry reads the entry points) and its
    REST API, as tests/integration/rest/ start them."""
    worker = make_worker(kafka.bootstrap)
    server = RestServer(worker).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as http:
            yield http
    finally:
        server.stop()
        worker.shutdown()


def errors_by_key(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {
        c["value"]["name"]: c["value"]["errors"] for c in answer["configs"] if c["value"]["errors"]
    }


def test_the_example_is_listed_validated_and_run_over_the_broker(
    client: httpx.Client,
    receiver: Receiver,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """pip-installed from its folder: in GET /connector-plugins with its version; a bad
    value is named by its key; check=true reaches the receiver; run over the real
    broker, exactly the refused records are dead-lettered and the rest delivered."""
    plugins = client.get("/connector-plugins").json()
    assert {"class": "webhook_sink:WebhookSinkConnector", "type": "sink", "version": "0.1.0"} in (
        plugins
    )

    topic = make_topic("hooks", partitions=2)
    dlq = f"hooks-dlq-{unique}"
    config = {
        "name": f"hooks-{unique}",
        **sink_config(topic, "webhook"),
        "webhook.url": receiver.url,
        "webhook.header.X-Source": "offramp-ci",
        **dead_letters_to(dlq),
    }

    bad = client.put(
        "/connector-plugins/webhook/config/validate", json={**config, "webhook.timeout.ms": "0"}
    ).json()
    assert bad["error_count"] == 1
    assert list(errors_by_key(bad)) == ["webhook.timeout.ms"]

    checked = client.put("/connector-plugins/webhook/config/validate?check=true", json=config)
    assert checked.json()["error_count"] == 0
    assert checked.json()["check"] == f"{receiver.url} accepted an empty batch (HTTP 200)"

    unreachable = {**config, "webhook.url": "http://127.0.0.1:9/hooks"}
    answer = client.put(
        "/connector-plugins/webhook/config/validate?check=true", json=unreachable
    ).json()
    assert answer["error_count"] == 1 and list(errors_by_key(answer)) == ["webhook.url"]

    assert (
        client.post("/connectors", json={"name": config["name"], "config": config}).status_code
        == 201
    )
    ids = list(range(20))
    produce(kafka.bootstrap, topic, [json.dumps({"id": i}).encode() for i in ids])

    wanted = sorted(set(ids) - REFUSED)
    wait_for(lambda: sorted(set(receiver.accepted)) == wanted, timeout=60)
    letters = read_dead_letters(kafka.bootstrap, dlq, expected=len(REFUSED), timeout=60)
    assert sorted(json.loads(d.value or b"")["id"] for d in letters) == sorted(REFUSED)
    assert {d.headers["__connect.errors.stage"] for d in letters} == {"TASK_PUT"}
    # Nothing more arrives: each refused record is dead-lettered once.
    assert len(read_dead_letters(kafka.bootstrap, dlq, expected=len(REFUSED) + 1, timeout=3)) == 4

    status = client.get(f"/connectors/{config['name']}/status").json()
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]
    client.delete(f"/connectors/{config['name']}")
