"""The http sink through the real task loop, a real broker and a real HTTP receiver:
transient answers retried with nothing lost, refusals dead-lettered with their context,
refused credentials stopping the task, batch items refused alone, and TLS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devstack.kafka import KafkaBroker
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.http.support import (
    BATCHES,
    StandIns,
    check_delivery,
    events,
    http_config,
)
from tests.integration.http.tls_support import make_pki
from tests.integration.hubspot.conftest import committed_offsets
from tests.integration.runtime_support import dead_letters_to


def test_503_storm_and_429s_lose_nothing_and_400s_are_dead_lettered(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """Per record, 8 in flight over 2 partitions: a 503 storm and 429s are retried until
    every accepted record arrives exactly once after the receiver drops repeated
    Idempotency-Keys; each refused record is in the DLQ once with status and body."""
    receiver = stand_ins[0](refuse_when={"kind": "^bad$"})
    receiver.fail_next(24, 503, b"upstream unavailable")
    receiver.fail_next(10, 429, b'{"error":"slow down"}', retry_after=0.2)
    count = 600
    topic, dlq, name = make_topic("hooks", partitions=2), f"hooks-dlq-{unique}", f"h-{unique}"
    produce(kafka.bootstrap, topic, events(count), keys=[str(n).encode() for n in range(count)])
    worker.create(
        name,
        http_config(topic, receiver.url, **{"http.max.in.flight": "8"}, **dead_letters_to(dlq)),
    )
    wait_for(lambda: sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, 2)) == count)
    assert receiver.statuses().count(503) == 24 and receiver.statuses().count(429) == 10
    letters = check_delivery(kafka.bootstrap, receiver, dlq, count, "400", "is refused")
    assert {d.headers["__offramp.errors.http.url"] for d in letters} == {receiver.url}
    assert worker.get(name).tasks[0].status.state == "RUNNING"


def test_retry_after_is_waited_out_before_the_next_request(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """A 429 with Retry-After: 2 pauses the partition: the receiver's next request comes
    no sooner than 2 s later (its own clock), and every record then arrives."""
    receiver = stand_ins[0]()
    receiver.fail_next(1, 429, b"", retry_after=2)
    topic, name = make_topic("later"), f"later-{unique}"
    produce(kafka.bootstrap, topic, events(20))
    worker.create(name, http_config(topic, receiver.url))
    wait_for(lambda: len(receiver.kept()) == 20)
    first, second = receiver.exchanges[0], receiver.exchanges[1]
    assert first.status == 429 and second.at - first.at >= 2.0


def test_refused_credentials_stop_the_task_with_a_clear_status(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """401 puts the task in FAILED blaming http.auth.*, never showing the token; nothing
    is committed; the right token (basic auth) gets everything through."""
    receiver = stand_ins[0](token="right-token")
    topic = make_topic("auth")
    produce(kafka.bootstrap, topic, events(5))
    wrong = f"wrong-{unique}"
    secret = f"not-the-token-{unique}"
    worker.create(
        wrong,
        http_config(topic, receiver.url, **{"http.auth.type": "bearer", "http.auth.token": secret}),
    )
    task = worker.get(wrong).tasks[0]
    wait_for(lambda: task.status.trace is not None)
    assert task.status.state in ("FAILED", "RESTARTING")
    assert "answered HTTP 401" in (task.status.trace or "")
    assert "check http.auth.type" in (task.status.trace or "")
    assert secret not in (task.status.trace or "")
    assert committed_offsets(kafka.bootstrap, f"connect-{wrong}", topic) in ([], [-1001])
    assert receiver.kept() == {}

    basic = stand_ins[0](basic=("svc", "pw"))
    right = f"right-{unique}"
    worker.create(
        right,
        http_config(
            topic,
            basic.url,
            **{
                "http.auth.type": "basic",
                "http.auth.username": "svc",
                "http.auth.password": "pw",
                "errors.tolerance": "all",
            },
        ),
    )
    wait_for(lambda: len(basic.kept()) == 5)


def test_a_batch_answer_naming_items_dead_letters_only_those(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """JSON-array batches with an id per item: the receiver's 207 names refused items at
    rejected[*].index, only those reach the DLQ; 503s change batch boundaries on
    redelivery, yet after dropping repeated item ids every other record is kept once."""
    receiver = stand_ins[0](refuse_when={"kind": "^bad$"}, id_field="event_id")
    receiver.fail_next(6, 503)
    count = 2000
    topic, dlq, name = make_topic("batches", partitions=2), f"b-dlq-{unique}", f"b-{unique}"
    produce(kafka.bootstrap, topic, events(count))
    worker.create(
        name,
        http_config(
            topic,
            receiver.url,
            **BATCHES,
            **dead_letters_to(dlq),
        ),
    )
    wait_for(lambda: sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, 2)) == count)
    check_delivery(kafka.bootstrap, receiver, dlq, count, "207", '"rejected"')


def test_tls_with_a_ca_bundle_and_a_client_certificate(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
    tmp_path: Path,
) -> None:
    """An HTTPS receiver whose certificate is signed by a CA made for the test, and which
    requires a client certificate: with http.tls.ca.file and the client cert, all arrive,
    over HTTP/1.1 although the server offers h2 (http.http2 is off by default)."""
    pki = make_pki(tmp_path)
    receiver = stand_ins[0](tls=pki.server_context())
    assert receiver.url.startswith("https://127.0.0.1:")
    topic, name = make_topic("tls"), f"tls-{unique}"
    produce(kafka.bootstrap, topic, events(30))
    worker.create(
        name,
        http_config(
            topic,
            receiver.url,
            **{
                "http.tls.ca.file": str(pki.ca),
                "http.tls.cert.file": str(pki.client_cert),
                "http.tls.key.file": str(pki.client_key),
                "http.batch.format": "ndjson",
                "errors.tolerance": "all",
            },
        ),
    )
    wait_for(lambda: len(receiver.kept()) == 30)
    assert {e.header("content-type") for e in receiver.exchanges} == {"application/x-ndjson"}
    assert receiver.protocols() == {"HTTP/1.1"}


def test_a_whole_json_value_is_sent_as_consumed(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """With the whole value as body, batches carry each value's JSON text byte for byte
    as it was consumed (spacing, key order, number spelling): not decoded and encoded
    again."""
    receiver = stand_ins[0]()
    topic, name = make_topic("verbatim"), f"verbatim-{unique}"
    values = [b'{"b": 1,  "a": 2.50}', b'{ "z": [1, 2] , "id": 7 }']
    produce(kafka.bootstrap, topic, list(values))
    worker.create(name, http_config(topic, receiver.url, **{"http.batch.format": "ndjson"}))
    wait_for(lambda: len(receiver.kept()) == 2)
    assert b"".join(e.body for e in receiver.exchanges).splitlines() == values
