"""Records flow from Kafka through a worker to a sink, and offsets follow them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import orjson
import pytest

from devstack.kafka import KafkaBroker
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, make_worker, sink_config


@pytest.fixture(params=["classic", "consumer"])
def worker(request: pytest.FixtureRequest, kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap, protocol=request.param)
    yield w
    w.shutdown()


def test_every_record_is_delivered_and_committed(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """All records on 3 partitions reach the sink and the group commits the end offsets."""
    topic = make_topic("flow", partitions=3)
    values = [orjson.dumps({"n": i}) for i in range(3000)]
    produce(kafka.bootstrap, topic, values, keys=[str(i).encode() for i in range(3000)])
    name = f"flow-{unique}"
    worker.create(name, sink_config(topic, **{"tasks.max": "2"}))
    wait_for(lambda: len(recordings(name)) >= 3000)
    assert sorted(r.value["n"] for r in recordings(name)) == list(range(3000))
    wait_for(lambda: sum(committed(kafka.bootstrap, f"connect-{name}", topic, 3)) == 3000)
    status = [t.status.state for t in worker.get(name).tasks]
    assert status == ["RUNNING", "RUNNING"]


def test_two_connectors_on_one_topic_keep_independent_offsets(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """A second connector reads the whole topic from the start in its own group."""
    topic = make_topic("shared")
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(500)])
    first, second = f"first-{unique}", f"second-{unique}"
    worker.create(first, sink_config(topic))
    wait_for(lambda: len(recordings(first)) == 500)
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(500, 700)])
    worker.create(second, sink_config(topic))
    wait_for(lambda: len(recordings(second)) == 700 and len(recordings(first)) == 700)
    worker.stop_connector(first)
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(700, 800)])
    wait_for(lambda: len(recordings(second)) == 800)
    assert committed(kafka.bootstrap, f"connect-{first}", topic) == [700]
    wait_for(lambda: committed(kafka.bootstrap, f"connect-{second}", topic) == [800])


def test_pause_stops_reading_and_resume_continues(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """A paused connector reads nothing new; resumed, it catches up without loss."""
    import time

    topic = make_topic("pause")
    name = f"pause-{unique}"
    worker.create(name, sink_config(topic))
    produce(kafka.bootstrap, topic, [b'{"n": 0}'])
    wait_for(lambda: len(recordings(name)) == 1)
    worker.pause(name)
    wait_for(lambda: all(t.status.state == "PAUSED" for t in worker.get(name).tasks))
    produce(kafka.bootstrap, topic, [b'{"n": 1}', b'{"n": 2}'])
    time.sleep(2)
    assert len(recordings(name)) == 1
    worker.resume(name)
    wait_for(lambda: len(recordings(name)) == 3)


def test_cloudevents_filtered_by_ce_type_reach_the_sink_as_events(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """Binary-mode CloudEvents convert to events; a HeaderValueMatches predicate keeps
    only call.completed, and the others count as filtered (and committed)."""
    from devstack.generator import CALL_COMPLETED, produce_calls

    topic = make_topic("events", partitions=2)
    events = produce_calls(kafka.bootstrap, topic, 400)
    completed = [e for e in events if e.ce_type == CALL_COMPLETED]
    name = f"events-{unique}"
    worker.create(
        name,
        sink_config(
            topic,
            **{
                "value.converter": "cloudevents",
                "transforms": "onlyCompleted",
                "transforms.onlyCompleted.type": "Filter",
                "transforms.onlyCompleted.predicate": "isCompleted",
                "transforms.onlyCompleted.negate": "true",
                "predicates": "isCompleted",
                "predicates.isCompleted.type": "HeaderValueMatches",
                "predicates.isCompleted.header.name": "ce-type",
                "predicates.isCompleted.pattern": "com\\.example\\.call\\.completed\\.v1",
            },
        ),
    )
    wait_for(lambda: len(recordings(name)) == len(completed))
    got = {r.value["id"]: r.value for r in recordings(name)}
    assert set(got) == {e.key.decode() for e in completed}
    sample = got[completed[0].key.decode()]
    assert sample["type"] == CALL_COMPLETED and sample["data"] == completed[0].data
    wait_for(lambda: sum(committed(kafka.bootstrap, f"connect-{name}", topic, 2)) == 400)
    assert worker.get(name).tasks[0].metrics.records_filtered == 400 - len(completed)
