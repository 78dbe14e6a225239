"""The clients beyond a consumer group task's over SASL_SSL: a share group's consumer,
admin and dead-letter producer; the distributed mode's config and status topics (their
admin, readers, probe and transactional producer); each refusing a wrong password with
a reason, in bounded time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from devstack.kafka import KafkaBroker
from offramp.config import load_worker_config
from offramp.distributed.config_log import ConfigLog, Entry
from offramp.distributed.topics import ensure_compacted_topic
from offramp.errors import CredentialsRefused
from offramp.testing import read_dead_letters, recordings
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.distributed.cluster import file_sink, lines, worker_config
from tests.integration.rest.standalone_process import StandaloneWorker
from tests.integration.runtime_support import dead_letters_to, sink_config
from tests.integration.security.support import PASSWORD, SCRAM, jaas, sasl_ssl

POISON = b"not json"


def _poison(broker: KafkaBroker, topic: str) -> None:
    """One record the JSON converter refuses: it must reach the dead-letter topic."""
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, POISON, partition=0)
    assert producer.flush(30) == 0


def test_a_share_connector_reads_and_dead_letters_over_sasl_ssl(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """group.type=share on SASL_SSL: the share group's admin sets it up, its consumer
    acquires all 200 records, the poison one is dead-lettered through the producer."""
    _poison(secure_kafka, topic)
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
    )
    name, dlq = f"share-{unique}", f"{topic}-dlq"
    worker.create(
        name,
        sink_config(
            topic,
            "scripted",
            **{"group.type": "share", "recording.name": name, **dead_letters_to(dlq)},
        ),
    )
    wait_for(lambda: len({r.value["n"] for r in recordings(name)}) == 200)
    (letter,) = read_dead_letters(secure_kafka.bootstrap, dlq, 1)
    assert letter.value == POISON
    assert [t.status.state.value for t in worker.get(name).tasks] == ["RUNNING"]


def test_a_share_connector_with_a_wrong_password_fails_with_the_reason(
    secure_kafka: KafkaBroker, topic: str, unique: str, workers: Callable[..., Worker]
) -> None:
    """A share connector whose consumer override, and one whose admin override, carries
    a wrong password: each task FAILS naming the refusal, instead of staying RUNNING
    and reading nothing (the consumer) or waiting out the request (the admin)."""
    worker = workers(
        secure_kafka.sasl_ssl_bootstrap,
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
    )
    wrong = jaas(SCRAM, "not-the-password")
    began = time.monotonic()
    names = [f"share-badpw-{client}-{unique}" for client in ("consumer", "admin")]
    for name, client in zip(names, ("consumer", "admin"), strict=True):
        config = {"group.type": "share", "recording.name": name}
        config[f"{client}.override.sasl.jaas.config"] = wrong
        worker.create(name, sink_config(topic, "scripted", **config))
    for name in names:
        wait_for(lambda n=name: worker.get(n).tasks and worker.get(n).tasks[0].status.trace)
        print(f"{name} failed {time.monotonic() - began:.1f}s after create")
        trace = worker.get(name).tasks[0].status.trace or ""
        assert (
            "authentication with the brokers failed" in trace and "Authentication failed" in trace
        ), trace
        assert not recordings(name)


def test_a_config_log_whose_reader_is_refused_says_so_at_start(
    secure_kafka: KafkaBroker, unique: str
) -> None:
    """The config topic's reader with a wrong password (consumer.*): start() raises
    CredentialsRefused naming the topic's clients instead of waiting out its timeout."""
    config = load_worker_config(
        {
            "bootstrap.servers": secure_kafka.sasl_ssl_bootstrap,
            "group.id": f"refused-{unique}",
            **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
            "consumer.sasl.jaas.config": jaas(SCRAM, "not-the-password"),
        },
        environ={},
    )
    log = ConfigLog(config, f"configs-{unique}", lambda name, entry: None)
    began = time.monotonic()
    try:
        with pytest.raises(CredentialsRefused, match="config topic"):
            log.start(timeout=120)
    finally:
        log.stop()
    print(f"refused after {time.monotonic() - began:.1f}s")


def test_a_config_log_writes_and_reads_back_over_sasl_ssl(
    secure_kafka: KafkaBroker, unique: str
) -> None:
    """The config topic made by the admin, then its transactional producer, reader and
    probe on SASL_SSL: a write commits and is applied by the reader."""
    config = load_worker_config(
        {
            "bootstrap.servers": secure_kafka.sasl_ssl_bootstrap,
            "group.id": f"configs-{unique}",
            **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, PASSWORD)),
        },
        environ={},
    )
    applied: list[str] = []
    seen = threading.Event()

    def apply(name: str, entry: Entry | None) -> None:
        applied.append(name)
        seen.set()

    ensure_compacted_topic(config.client_config("admin"), f"configs-{unique}")
    log = ConfigLog(config, f"configs-{unique}", apply)
    try:
        log.start()
        log.write("c", lambda current: Entry({"topics": "t"}, "RUNNING"))
        assert seen.wait(30)
        assert log.entries()["c"].state == "RUNNING" and applied == ["c"]
    finally:
        log.stop()


def test_a_distributed_worker_runs_over_sasl_ssl_with_the_login_from_a_file(
    secure_kafka: KafkaBroker, topic: str, unique: str, tmp_path: Path
) -> None:
    """``offramp distributed`` on SASL_SSL, its sasl.jaas.config a ${file:} reference:
    the config and status topics are made and used, a connector created over REST
    writes every record and dead-letters the poison one; the password is in no log
    line, and GET …/config shows the reference."""
    _poison(secure_kafka, topic)
    secrets = tmp_path / "kafka-secrets.properties"
    secrets.write_text(f"jaas={jaas(SCRAM, PASSWORD)}\n")
    reference = f"${{file:{secrets}:jaas}}"
    home = tmp_path / "worker"
    home.mkdir()
    config = {
        **worker_config(secure_kafka.sasl_ssl_bootstrap, unique),
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", reference),
    }
    worker = StandaloneWorker(home, config, [], "distributed")
    out, dlq, name = tmp_path / "out.jsonl", f"{topic}-dlq", f"dist-{unique}"
    try:
        worker.start()
        worker.wait_healthy()
        with httpx.Client(base_url=worker.url, timeout=30.0) as client:
            body = {
                "name": name,
                "config": {
                    **file_sink(topic, out, **dead_letters_to(dlq)),
                    "consumer.override.sasl.jaas.config": reference,
                },
            }
            assert client.post("/connectors", json=body).status_code == 201
            wait_for(lambda: len(lines(out)) == 200)
            assert sorted(lines(out)) == list(range(200))
            (letter,) = read_dead_letters(secure_kafka.bootstrap, dlq, 1)
            assert letter.value == POISON
            shown = client.get(f"/connectors/{name}/config").json()
            assert shown["consumer.override.sasl.jaas.config"] == reference
            status = client.get(f"/connectors/{name}/status").json()
            assert [t["state"] for t in status["tasks"]] == ["RUNNING"]
    finally:
        worker.stop()
    assert PASSWORD not in worker.log()


def test_a_distributed_worker_with_a_wrong_password_exits_with_the_reason(
    secure_kafka: KafkaBroker, unique: str, tmp_path: Path
) -> None:
    """``offramp distributed`` whose password the brokers refuse: exits 1, its log
    saying the credentials were refused (and not the password), rather than waiting."""
    wrong = "not-the-password-of-svc"
    config = {
        **worker_config(secure_kafka.sasl_ssl_bootstrap, unique),
        **sasl_ssl(secure_kafka, "SCRAM-SHA-512", jaas(SCRAM, wrong)),
    }
    worker = StandaloneWorker(tmp_path, config, [], "distributed")
    began = time.monotonic()
    try:
        worker.start()
        assert worker.proc is not None
        status = worker.proc.wait(120)
    finally:
        worker.stop()
    print(f"exited {status} after {time.monotonic() - began:.1f}s")
    log = worker.log()
    assert status == 1, log
    assert ": authentication failed: " in log and "invalid credentials" in log, log
    assert wrong not in log
