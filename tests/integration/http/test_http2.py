"""The http sink with ``http.http2=true`` through a worker and a real broker into the
stand-in speaking HTTP/2 over real sockets (h2 on the server side): every request the
stand-in records came over HTTP/2, retries and dead letters work as over HTTP/1.1, and
an HTTPS server without h2 is still reached (ALPN falls back)."""

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


def test_h2c_per_record_retries_and_dead_letters_all_over_http2(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
) -> None:
    """An http:// URL with http.http2: prior-knowledge h2c, 8 streams in flight; a 503
    storm and 429s with Retry-After are retried until every accepted record is kept once
    (repeats dropped by Idempotency-Key), each 400 is one dead letter with status and
    body, and the stand-in saw nothing but HTTP/2."""
    receiver = stand_ins[0](refuse_when={"kind": "^bad$"})
    receiver.fail_next(16, 503, b"upstream unavailable")
    receiver.fail_next(8, 429, b'{"error":"slow down"}', retry_after=0.2)
    count = 400
    topic, dlq, name = make_topic("h2c", partitions=2), f"h2c-dlq-{unique}", f"h2c-{unique}"
    produce(kafka.bootstrap, topic, events(count), keys=[str(n).encode() for n in range(count)])
    worker.create(
        name,
        http_config(
            topic,
            receiver.url,
            **{"http.http2": "true", "http.max.in.flight": "8"},
            **dead_letters_to(dlq),
        ),
    )
    wait_for(lambda: sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, 2)) == count)
    assert receiver.statuses().count(503) == 16 and receiver.statuses().count(429) == 8
    assert receiver.protocols() == {"HTTP/2"}
    check_delivery(kafka.bootstrap, receiver, dlq, count, "400", "is refused")
    print(f"h2c: {len(receiver.statuses())} requests, {receiver.duplicates} repeats dropped")


def test_https_alpn_batches_with_refused_items_over_http2(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
    tmp_path: Path,
) -> None:
    """An https:// receiver (a test CA, a client certificate) offering h2 by ALPN: JSON
    batches over HTTP/2, 503s changing batch boundaries on redelivery, the 207's named
    items alone dead-lettered, every other record kept once by item id."""
    pki = make_pki(tmp_path)
    receiver = stand_ins[0](
        tls=pki.server_context(), refuse_when={"kind": "^bad$"}, id_field="event_id"
    )
    receiver.fail_next(5, 503)
    count = 1000
    topic, dlq, name = make_topic("h2tls", partitions=2), f"h2tls-dlq-{unique}", f"h2t-{unique}"
    produce(kafka.bootstrap, topic, events(count))
    worker.create(
        name,
        http_config(
            topic,
            receiver.url,
            **{
                "http.http2": "true",
                "http.tls.ca.file": str(pki.ca),
                "http.tls.cert.file": str(pki.client_cert),
                "http.tls.key.file": str(pki.client_key),
                **BATCHES,
            },
            **dead_letters_to(dlq),
        ),
    )
    wait_for(lambda: sum(committed_offsets(kafka.bootstrap, f"connect-{name}", topic, 2)) == count)
    assert receiver.protocols() == {"HTTP/2"}
    assert receiver.statuses().count(503) == 5
    check_delivery(kafka.bootstrap, receiver, dlq, count, "207", '"rejected"')


def test_https_server_without_h2_is_reached_over_http1(
    worker: Worker,
    kafka: KafkaBroker,
    make_topic: Callable[..., str],
    unique: str,
    stand_ins: StandIns,
    tmp_path: Path,
) -> None:
    """http.http2 against an HTTPS server whose ALPN offers only http/1.1: the client
    falls back and every record arrives over HTTP/1.1."""
    pki = make_pki(tmp_path)
    receiver = stand_ins[0](tls=pki.server_context(require_client=False), http2=False)
    topic, name = make_topic("h1only"), f"h1only-{unique}"
    produce(kafka.bootstrap, topic, events(20))
    worker.create(
        name,
        http_config(
            topic,
            receiver.url,
            **{"http.http2": "true", "http.tls.ca.file": str(pki.ca), "errors.tolerance": "all"},
        ),
    )
    wait_for(lambda: len(receiver.kept()) == 20)
    assert receiver.protocols() == {"HTTP/1.1"}
