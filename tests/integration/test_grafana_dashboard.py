"""The Grafana dashboard's queries on a real Prometheus (Debian's package) scraping a
real worker under load: every panel's every query returns data."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.kafka import KafkaBroker
from devstack.prometheus import PrometheusServer
from offramp.rest.server import RestServer
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import make_worker

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "offramp.json"
TOKEN = "dashboard-test-token"
# What Grafana puts in for its variables: every connector, a rate window of a few scrapes.
VARIABLES = {"$connector": ".*", "$__rate_interval": "15s", "${datasource}": "prometheus"}


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            found.append((panel["title"], expr))
    return found


@pytest.fixture
def rest(kafka: KafkaBroker) -> Iterator[RestServer]:
    worker: Worker = make_worker(kafka.bootstrap, **{"rest.auth.tokens": TOKEN})
    server = RestServer(worker).start()
    yield server
    server.stop()
    worker.shutdown()


@pytest.fixture
def prometheus(rest: RestServer, tmp_path: Path) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path, rest.url.removeprefix("http://"), TOKEN).start()
    yield server
    server.stop()


def test_dashboard_is_a_grafana_dashboard_over_offramp_metrics() -> None:
    """The JSON has a connector variable, a Prometheus datasource input, and panels whose
    queries name only series the worker exports."""
    dashboard = json.loads(DASHBOARD.read_text())
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "connector"}
    assert dashboard["panels"] and all(p["targets"] for p in dashboard["panels"])
    exported = (ROOT / "runtime" / "rest" / "prometheus.py").read_text()
    for _, expr in _queries():
        for base in re.findall(r"offramp_\w+", expr):
            base = base.removesuffix("_bucket")
            assert f'"{base}"' in exported, f"{base} is not a metric the worker exports"


def test_every_panel_query_returns_data_from_a_worker_under_load(
    rest: RestServer,
    prometheus: PrometheusServer,
    tmp_path: Path,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """Two connectors under a steady load, one dead-lettering its undecodable records
    and one paused; after a few scrapes every query of every panel has a result."""
    good, mixed = make_topic("dash-good", partitions=2), make_topic("dash-mixed")
    dlq = f"dash-dlq-{unique}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base: dict[str, Any] = {
        "connector.class": "file",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.age.ms": "50",
    }
    configs = {
        f"dash-good-{unique}": {**base, "topics": good, "file": str(tmp_path / "good")},
        f"dash-mixed-{unique}": {
            **base,
            "topics": mixed,
            "file": str(tmp_path / "mixed"),
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.breaker.enable": "false",
        },
        f"dash-paused-{unique}": {**base, "topics": good, "file": str(tmp_path / "paused")},
    }
    with httpx.Client(base_url=rest.url, headers=headers, timeout=30) as api:
        for name, config in configs.items():
            assert api.put(f"/connectors/{name}/config", json=config).status_code == 201
        assert api.put(f"/connectors/dash-paused-{unique}/pause").status_code == 202

    stop = threading.Event()
    bootstrap = rest.worker.config.bootstrap_servers

    def load() -> None:
        n = 0
        while not stop.wait(0.25):
            produce(bootstrap, good, [json.dumps({"n": n + i}).encode() for i in range(20)])
            produce(bootstrap, mixed, [b'{"ok": 1}', b"not json", b'{"ok": 2}'])
            n += 20

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    queries = _queries()
    empty: list[str] = []

    def all_have_data() -> bool:
        empty[:] = [f"{title}: {expr}" for title, expr in queries if not prometheus.query(expr)]
        return not empty

    try:
        wait_for(prometheus.targets_up, timeout=60)
        wait_for(all_have_data, timeout=120)
    except AssertionError:
        raise AssertionError("panels without data:\n" + "\n".join(empty)) from None
    finally:
        stop.set()
        loader.join()
    print(f"{len(queries)} queries of {len(json.loads(DASHBOARD.read_text())['panels'])} panels")
