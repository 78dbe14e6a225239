"""Kafka Connect's own files run `offramp standalone`: the quickstart's worker
.properties (listeners and a file config provider added) and a FileStreamSink
.properties whose output file comes from a ${file:...} reference, against the real
broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from devstack.kafka import KafkaBroker
from tests.conftest import produce, wait_for
from tests.integration.rest.standalone_process import StandaloneWorker

KAFKA_FILES = Path(__file__).parents[1] / "kafka_files"


def _envelope(text: str) -> bytes:
    """What JsonConverter with schemas.enable=true (the quickstart's setting) reads."""
    return json.dumps({"schema": {"type": "string", "optional": False}, "payload": text}).encode()


def test_kafka_connect_properties_files_run_unchanged(
    kafka: KafkaBroker, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    """Records produced to the topic arrive in the file that the sink's ${file:...}
    reference names; the worker answers on the listener it was given and names itself
    by rest.advertised.host.name."""
    topic = make_topic("connect-test")
    out = tmp_path / "test.sink.txt"
    secrets = tmp_path / "sink-secrets.properties"
    secrets.write_text(f"# where the sink writes\nsink.file = {out}\n")
    quickstart = (KAFKA_FILES / "connect-standalone.properties").read_text()
    worker_file = tmp_path / "connect-standalone.properties"
    worker_file.write_text(
        quickstart.replace(
            "bootstrap.servers=localhost:9092", f"bootstrap.servers={kafka.bootstrap}"
        )
        + "listeners=http://127.0.0.1:0\n"
        + "rest.advertised.host.name=connect-1.test\n"
        + "config.providers=file\n"
        + "config.providers.file.class="
        + "org.apache.kafka.common.config.provider.FileConfigProvider\n"
        + "consumer.session.timeout.ms=6000\n"
    )
    sink_file = tmp_path / "connect-file-sink.properties"
    sink_file.write_text(
        "name=local-file-sink\n"
        "connector.class=FileStreamSink\n"
        "tasks.max=1\n"
        f"file=${{file:{secrets}:sink.file}}\n"
        f"topics={topic}\n"
    )
    produce(kafka.bootstrap, topic, [_envelope(f"line {n}") for n in range(20)])
    worker = StandaloneWorker(tmp_path, {}, [sink_file])
    worker.worker_file = worker_file  # run on the .properties file, not worker.json
    worker.start()
    try:
        assert worker.url.startswith("http://127.0.0.1:")
        worker.wait_healthy()
        expected = [f"line {n}" for n in range(20)]
        wait_for(lambda: out.exists() and out.read_text().splitlines() == expected, 60)
        with httpx.Client(base_url=worker.url, timeout=10.0) as client:
            status = client.get("/connectors/local-file-sink/status").json()
            config = client.get("/connectors/local-file-sink/config").json()
        assert status["connector"]["state"] == "RUNNING"
        assert status["connector"]["worker_id"].startswith("connect-1.test:")
        assert config["file"].startswith("${file:")  # the reference, not the path
        produce(kafka.bootstrap, topic, [_envelope("one more")])
        wait_for(lambda: out.read_text().splitlines()[-1:] == ["one more"], 60)
    finally:
        assert worker.stop() == 0, worker.log()
    log = worker.log()
    assert "offset.storage.file.filename=/tmp/connect.offsets is not used" in log
    assert "libs/connect-file-4.0.0.jar is a Java plug-in (.jar); skipped" in log
