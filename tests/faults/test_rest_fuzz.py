"""Fault 8: the REST API under generated input (schemathesis from ``/openapi.json``).

A real ``offramp standalone`` process with bearer-token auth and one running connector.
Every operation of the schema gets generated requests, valid and invalid (schemathesis'
positive and negative modes, hypothesis underneath), half of them aimed at the real
connector so lifecycle, config and offsets calls reach the worker and Kafka. Then every
operation is called without credentials and with a wrong token.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from devstack.kafka import KafkaBroker
from tests.integration.rest.standalone_process import StandaloneWorker

CASES = int(os.environ.get("FAULT_FUZZ_CASES", "1200"))
TOKEN = "fuzz-token-0123456789"
OPEN_PATHS = {"/health", "/health/live"}  # liveness and readiness stay open for probes

pytestmark = [pytest.mark.fault, pytest.mark.timeout(1800)]


@dataclass
class Tally:
    """What the fuzz run saw: cases per operation, statuses, and every broken promise."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    broken: list[str] = field(default_factory=list)

    def check(self, label: str, case: schemathesis.Case, response: requests.Response) -> None:
        self.cases[label] += 1
        self.statuses[response.status_code] += 1
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        if response.status_code >= 500:
            self.broken.append(f"{where}: server error {response.text[:300]}")
        elif response.status_code >= 400 and not _connect_shaped(response):
            self.broken.append(f"{where}: not Kafka Connect-shaped: {response.text[:300]}")


def _connect_shaped(response: requests.Response) -> bool:
    """Kafka Connect's error body: ``{"error_code": <int>, "message": <str>}``."""
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and isinstance(body.get("error_code"), int)
        and isinstance(body.get("message"), str)
        and bool(body["message"])
    )


@pytest.fixture
def fuzzed_worker(
    kafka: KafkaBroker, make_topic: Callable[..., str], tmp_path: Path
) -> Iterator[StandaloneWorker]:
    connector = tmp_path / "fuzzed.json"
    connector.write_text(
        json.dumps(
            {
                "name": "fuzzed",
                "config": {
                    "connector.class": "file",
                    "topics": make_topic("fuzz"),
                    "file": str(tmp_path / "out.jsonl"),
                },
            }
        )
    )
    worker = StandaloneWorker(
        tmp_path,
        {"bootstrap.servers": kafka.bootstrap, "rest.port": 0, "rest.auth.tokens": TOKEN},
        [connector],
    )
    try:
        worker.start().wait_healthy()
        yield worker
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]


def _operations(url: str) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(
        f"{url}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz_operation(
    operation: schemathesis.APIOperation,
    url: str,
    session: requests.Session,
    tally: Tally,
    chooser: random.Random,
    examples: int,
) -> None:
    """``examples`` generated requests to one operation, each checked into ``tally``."""
    label = f"{operation.method.upper()} {operation.path}"
    modes = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=modes.flatmap(lambda mode: operation.as_strategy(generation_mode=mode)))
    def fuzz(case: schemathesis.Case) -> None:
        # Half the calls aim at the real connector so they reach the worker and Kafka;
        # never a delete of it, or the rest of the run would be 404s.
        aimed = "name" in case.path_parameters and case.method.upper() != "DELETE"
        if aimed and chooser.random() < 0.5:
            case.path_parameters["name"] = "fuzzed"
        response = case.call(base_url=url, session=session, timeout=30)
        tally.check(label, case, response)

    fuzz()


def test_generated_requests_get_no_server_error_and_connect_shaped_errors(
    fuzzed_worker: StandaloneWorker,
) -> None:
    """At least FAULT_FUZZ_CASES (1 200) generated requests over every operation: none
    answers 5xx, every 4xx body is ``{"error_code", "message"}``, the worker stays up."""
    url = fuzzed_worker.url
    operations = _operations(url)
    # Twice the even share: operations without inputs (GET /health) have one case only.
    per_operation = -(-2 * CASES // len(operations))
    tally = Tally()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    chooser = random.Random(20261203)

    for operation in operations:
        _fuzz_operation(operation, url, session, tally, chooser, per_operation)

    total = sum(tally.cases.values())
    print(
        f"fuzz: {total} cases over {len(operations)} operations; statuses "
        f"{dict(sorted(tally.statuses.items()))}; broken {len(tally.broken)}"
    )
    assert not tally.broken, "\n".join(tally.broken[:20])
    assert total >= CASES
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/health").status_code == 200


def _example_path(path: str) -> str:
    return path.replace("{name}", "fuzzed").replace("{task}", "0").replace("{id}", "0")


def test_without_credentials_every_path_but_health_answers_401(
    fuzzed_worker: StandaloneWorker,
) -> None:
    """Every operation of /openapi.json, without a token and with a wrong one, answers
    401 with a Kafka Connect-shaped body; only /health and /health/live stay open."""
    url = fuzzed_worker.url
    operations = _operations(url)
    refused: list[str] = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for operation in operations:
            path = _example_path(operation.path)
            for headers in ({}, {"Authorization": "Bearer not-the-token"}):
                answer = client.request(operation.method.upper(), path, headers=headers)
                if operation.path in OPEN_PATHS:
                    if answer.status_code == 401:
                        refused.append(f"{operation.method} {path} refused an open path")
                    continue
                body: Any = answer.json() if answer.content else None
                shaped = isinstance(body, dict) and body.get("error_code") == 401
                if answer.status_code != 401 or not shaped:
                    refused.append(
                        f"{operation.method} {path} {headers or 'anonymous'}: "
                        f"{answer.status_code} {answer.text[:200]}"
                    )
    print(f"auth: {len(operations)} operations asked twice without good credentials")
    assert not refused, "\n".join(refused)
