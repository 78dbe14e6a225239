"""The delivery suite's core cases over SASL_SSL (SCRAM-SHA-512): dead letters with
their context, replay through the REST offsets endpoints, and kill -9 mid-stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker
from offramp.rest.server import RestServer
from offramp.testing import read_dead_letters, recordings
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.crash_support import kill_twice_then_deliver_everything
from tests.integration.runtime_support import committed, dead_letters_to, sink_config
from tests.integration.security.support import PASSWORD, SCRAM, jaas, sasl_ssl


def _secure_worker(broker: KafkaBroker, workers: Callable[..., Worker]) -> Worker:
    return workers(
        broker.sasl_ssl_bootstrap,
        **sasl_ssl(broker, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
    )


def test_bad_and_refused_records_are_dead_lettered_with_context_over_sasl_ssl(
    secure_kafka: KafkaBroker, unique: str, workers: Callable[..., Worker]
) -> None:
    """Invalid JSON (VALUE_CONVERTER) and a record the sink refuses (TASK_PUT) reach the
    dead-letter topic with Kafka Connect's headers and the original bytes; the rest is
    written and every offset committed."""
    topic, dlq, name = f"dlq-src-{unique}", f"dlq-{unique}", f"dlq-{unique}"
    producer = Producer({"bootstrap.servers": secure_kafka.bootstrap})
    values = [orjson.dumps({"n": i}) for i in range(50)]
    values[10], values[20] = b"{not json", orjson.dumps({"n": 20, "poison": True})
    for i, value in enumerate(values):
        producer.produce(topic, value, key=f"k{i}".encode())
    assert producer.flush(30) == 0
    worker = _secure_worker(secure_kafka, workers)
    worker.create(
        name,
        sink_config(
            topic,
            "scripted",
            **dead_letters_to(dlq),
            **{"script.fail.values": "poison", "recording.name": name},
        ),
    )
    wait_for(lambda: len(recordings(name)) == 48)
    letters = read_dead_letters(secure_kafka.bootstrap, dlq, expected=2)
    by_stage = {d.headers["__connect.errors.stage"]: d for d in letters}
    assert set(by_stage) == {"VALUE_CONVERTER", "TASK_PUT"}
    assert by_stage["VALUE_CONVERTER"].value == b"{not json"
    assert by_stage["TASK_PUT"].key == b"k20"
    assert by_stage["TASK_PUT"].headers["__connect.errors.connector.name"] == name
    wait_for(lambda: committed(secure_kafka.bootstrap, f"connect-{name}", topic) == [50])


def test_a_reset_replays_the_topic_over_sasl_ssl(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """Drain, stop, DELETE …/offsets (the worker's admin on SASL_SSL), resume: every
    record is written a second time and the offsets are committed again."""
    worker = _secure_worker(secure_kafka, workers)
    name = f"replay-{unique}"
    server = RestServer(worker).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            body = {"name": name, "config": sink_config(topic)}
            assert client.post("/connectors", json=body).status_code == 201
            wait_for(lambda: len(recordings(name)) == 200)
            assert client.put(f"/connectors/{name}/stop").status_code == 204
            assert client.delete(f"/connectors/{name}/offsets").status_code == 200
            assert client.put(f"/connectors/{name}/resume").status_code == 202
            wait_for(lambda: len(recordings(name)) == 400)
    finally:
        server.stop()
    values = sorted(r.value["n"] for r in recordings(name))
    assert values == sorted(list(range(200)) * 2)
    wait_for(lambda: sum(committed(secure_kafka.bootstrap, f"connect-{name}", topic, 2)) == 200)


def test_kill_9_mid_stream_over_sasl_ssl_delivers_everything(
    secure_kafka: KafkaBroker, unique: str, tmp_path: Path
) -> None:
    """The kill -9 case with the worker on SASL_SSL: two SIGKILLs while 20,000 records
    stream in, every record in the file after a restart, duplicates within what was
    uncommitted at the kills."""
    topic, name = f"crash-{unique}", f"crash-{unique}"
    admin = AdminClient({"bootstrap.servers": secure_kafka.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(30)
    kill_twice_then_deliver_everything(
        secure_kafka.bootstrap,
        topic,
        name,
        tmp_path,
        worker_bootstrap=secure_kafka.sasl_ssl_bootstrap,
        worker_extra=sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
    )
