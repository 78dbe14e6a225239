"""topics.regex consumes the topics whose whole name matches, on both group protocols:
never a dead-letter topic or another topic that only shares its prefix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.kafka import KafkaBroker
from offramp.testing import read_dead_letters, recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, dead_letters_to, make_worker


@pytest.fixture(params=["classic", "consumer"])
def worker(request: pytest.FixtureRequest, kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap, protocol=request.param)
    yield w
    w.shutdown()


@pytest.fixture
def calls_topics(kafka: KafkaBroker, unique: str) -> Iterator[tuple[str, list[str]]]:
    """``calls-<unique>`` and topics that share a prefix or a suffix with it, the
    dead-letter topic among them (make_topic can't name topics exactly)."""
    exact = f"calls-{unique}"
    others = [f"{exact}-dlq", f"{exact}-archive", f"{exact}0", f"old-{exact}"]
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    futures = admin.create_topics([NewTopic(t, 2, 1) for t in [exact, *others]])
    for future in futures.values():
        future.result(30)
    yield exact, others
    for future in admin.delete_topics([exact, *others]).values():
        with contextlib.suppress(Exception):
            future.result(30)


def _assigned_topics(bootstrap: str, group: str) -> set[str]:
    """The topics the broker has assigned to the group's members (either protocol)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (described,) = admin.describe_consumer_groups([group]).values()
    return {
        tp.topic
        for member in described.result(10).members
        for tp in member.assignment.topic_partitions
    }


def test_a_regex_consumes_only_the_topic_it_names_whole(
    worker: Worker, kafka: KafkaBroker, calls_topics: tuple[str, list[str]], unique: str
) -> None:
    """topics.regex calls-<u> with calls-<u>-dlq (its own dead-letter topic),
    calls-<u>-archive, calls-<u>0 and old-calls-<u> on the broker: only calls-<u> is
    assigned and read, and a dead letter is written once, never read back."""
    exact, others = calls_topics
    dlq = others[0]
    for topic in others:
        produce(kafka.bootstrap, topic, [orjson.dumps({"from": topic})] * 5)
    values = [orjson.dumps({"from": exact, "n": i}) for i in range(200)]
    values[50] = orjson.dumps({"from": exact, "n": 50, "poison": True})
    produce(kafka.bootstrap, exact, values, keys=[str(i).encode() for i in range(200)])

    name, group = f"regex-{unique}", f"connect-regex-{unique}"
    worker.create(
        name,
        {
            "connector.class": "scripted",
            "topics.regex": exact,
            "script.fail.values": "poison",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.age.ms": "100",
            **dead_letters_to(dlq),
        },
    )
    wait_for(lambda: len(recordings(name)) >= 199, timeout=20)
    wait_for(lambda: sum(committed(kafka.bootstrap, group, exact, 2)) == 200, timeout=10)
    assert _assigned_topics(kafka.bootstrap, group) == {exact}
    assert {r.topic for r in recordings(name)} == {exact}
    assert sorted(r.value["n"] for r in recordings(name)) == [n for n in range(200) if n != 50]
    # The 5 records produced to the DLQ before, and the one dead letter: had the
    # connector read its DLQ, the dead letter would come back and be dead-lettered again.
    assert len(read_dead_letters(kafka.bootstrap, dlq, 7, timeout=3)) == 6
    for topic in others:
        assert committed(kafka.bootstrap, group, topic, 2) == [-1001, -1001], topic
