"""Sustained records/s into the HubSpot stand-in under a 100 calls / 10 s budget.

The ceiling such a budget allows is 100 inputs x 100 calls per 10 s = 1,000 records/s
(each record a distinct email, so one record is one input). Two paths on the same data,
in the same run, each against a fresh stand-in that enforces 100 calls per rolling 10 s:

- offramp: a ``hubspot`` connector in an in-process worker, configured with
  ``hubspot.rate.limit.per.10s=100``;
- raw: a hand-written loop — confluent-kafka ``consume``, ``orjson``, batches of 100
  through hubspot-api-client's ``batch_api.upsert``, paced by a deque of the last 100
  send times (what one writes without thinking about latency).

A budget allows a burst at the start (100 calls at once), so "sustained" is measured on
the stand-in's clock over the 10 s that follow the first window: inputs accepted in
``[first call + 10 s, first call + 20 s)`` / 10 s. The stand-in's 429 count shows calls
sent past the budget.

    .venv/bin/python bench/bench_hubspot.py [--records 21000]
"""

from __future__ import annotations

import argparse
import time
from collections import deque

import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from hubspot import Client
from urllib3.util.retry import Retry

from devstack.hubspot import HubSpotStub
from devstack.kafka import KafkaBroker, produce_waiting
from offramp.config import load_worker_config
from offramp.worker import Worker

BUDGET = 100  # calls per 10 s, the Free/Starter tier
WINDOW = 10.0
CEILING = 100 * BUDGET / WINDOW  # records/s
TOKEN = "bench-token"


def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for n in range(count):
        email = f"caller{n}@example.com"
        value = orjson.dumps({"email": email, "agent": f"agent{n % 6}", "tenant": "acme", "n": n})
        produce_waiting(producer, topic, value, key=email.encode())
    assert producer.flush(60) == 0


def sustained(stub: HubSpotStub) -> tuple[float, int]:
    """Inputs/s accepted in the 10 s after the first window, and the 429 count."""
    calls = stub.calls
    first = min(c.at for c in calls)
    inside = [c for c in calls if first + WINDOW <= c.at < first + 2 * WINDOW and not c.refused]
    return sum(c.inputs for c in inside) / WINDOW, len(stub.refused())


def run_offramp(bootstrap: str, topic: str, records: int) -> tuple[float, int, float]:
    with HubSpotStub({TOKEN: {"crm.objects.contacts.write"}}, per_10s=BUDGET) as stub:
        worker = Worker(
            load_worker_config(
                {"bootstrap.servers": bootstrap, "rest.port": 0, "offset.flush.interval.ms": 1000},
                environ={},
            )
        )
        worker.start()
        began = time.monotonic()
        try:
            worker.create(
                "bench-crm",
                {
                    "connector.class": "hubspot",
                    "topics": topic,
                    "key.converter": "string",
                    "value.converter": "json",
                    "value.converter.schemas.enable": "false",
                    "batch.max.records": "1000",
                    "hubspot.base.url": stub.url,
                    "hubspot.access.token": TOKEN,
                    "hubspot.rate.limit.per.10s": str(BUDGET),
                    "hubspot.property.email": "email",
                    "hubspot.property.last_agent": "agent",
                    "hubspot.property.tenant": "tenant",
                    "errors.retry.timeout": "-1",
                },
            )
            while stub.count() < records and time.monotonic() - began < 120:
                time.sleep(0.2)
        finally:
            worker.shutdown()
        rate, refused = sustained(stub)
        return rate, refused, time.monotonic() - began


def run_raw(bootstrap: str, topic: str, records: int) -> tuple[float, int, float]:
    with HubSpotStub({TOKEN: {"crm.objects.contacts.write"}}, per_10s=BUDGET) as stub:
        api = Client.create(access_token=TOKEN, host=stub.url, retry=Retry(0)).crm.objects.batch_api
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"raw-{time.time()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        sent: deque[float] = deque()
        began = time.monotonic()
        done = 0
        try:
            pending: list[dict[str, object]] = []
            while done < records and time.monotonic() - began < 120:
                for message in consumer.consume(1000, 0.2):
                    if message.error():
                        continue
                    value = orjson.loads(message.value())
                    pending.append(
                        {
                            "idProperty": "email",
                            "id": value["email"],
                            "properties": {
                                "email": value["email"],
                                "last_agent": value["agent"],
                                "tenant": value["tenant"],
                            },
                        }
                    )
                while len(pending) >= 100 or (pending and done + len(pending) >= records):
                    batch, pending = pending[:100], pending[100:]
                    while len(sent) >= BUDGET:  # pace by the last BUDGET send times
                        wait = sent[0] + WINDOW - time.monotonic()
                        if wait <= 0:
                            sent.popleft()
                        else:
                            time.sleep(min(wait, 0.05))
                    sent.append(time.monotonic())
                    try:
                        api.upsert(
                            "contacts", {"inputs": batch}, _preload_content=False
                        ).drain_conn()
                        done += len(batch)
                    except Exception as exc:  # a 429: the raw loop just tries again later
                        if getattr(exc, "status", None) != 429:
                            raise
                        pending = batch + pending
        finally:
            consumer.close()
            api.api_client.rest_client.pool_manager.clear()
        rate, refused = sustained(stub)
        return rate, refused, time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=21_000)
    args = parser.parse_args()
    with KafkaBroker() as broker:
        topic = "bench-hubspot"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(30)
        produce(broker.bootstrap, topic, args.records)
        offramp, offramp_429, offramp_s = run_offramp(broker.bootstrap, topic, args.records)
        raw, raw_429, raw_s = run_raw(broker.bootstrap, topic, args.records)
    print(f"budget: {BUDGET} calls / {WINDOW:.0f} s → ceiling {CEILING:.0f} records/s")
    print(
        f"offramp: {offramp:7.1f} records/s sustained, {offramp_429} x 429 "
        f"({offramp_s:.0f}s for {args.records} records)"
    )
    print(f"raw    : {raw:7.1f} records/s sustained, {raw_429} x 429 ({raw_s:.0f}s)")
    print(f"offramp / ceiling = {offramp / CEILING:.3f}   offramp / raw = {offramp / raw:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
