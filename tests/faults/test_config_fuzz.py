"""Fault 9: config fuzz. One key of a valid worker or connector config is changed at a
time to a generated value (text, numbers, booleans, lists, maps, references to missing
variables); hypothesis drives it.

In process, thousands of mutations go through the worker's own loaders
(``load_worker_config``, ``validate_connector``): each is accepted or refused with a
``ConfigError`` that names the mutated key — any other exception is a traceback a user
would see. Then a sample of the refused mutations is run as real ``offramp standalone``
processes: each exits 1 before binding its REST port or joining a consumer group, prints
the key, and prints no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from devstack.kafka import KafkaBroker
from offramp.config import (
    ConnectorSettings,
    WorkerConfig,
    load_worker_config,
    validate_connector,
)
from offramp.errors import ConfigError
from offramp.registry import PluginRegistry

CASES = int(os.environ.get("FAULT_CONFIG_CASES", "3000"))
PROCESSES = int(os.environ.get("FAULT_CONFIG_PROCESSES", "24"))

pytestmark = [pytest.mark.fault, pytest.mark.timeout(1800)]

# Values a user (or a bad template) might put anywhere.
VALUES = st.one_of(
    st.text(max_size=24),
    st.integers(-(2**63), 2**63).map(str),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "0",
            "1.5",
            "1e309",
            "NaN",
            "maybe",
            "a,,b",
            "\x00",
            "${env:OFFRAMP_FUZZ_NO_SUCH_VARIABLE}",
            "${nope:x}",
            "${file:/no/such/file:key}",
            "9" * 40,
        ]
    ),
)


def _keys(model: type[Any]) -> list[str]:
    fields = model.model_fields
    return sorted(
        f.alias or name.replace("_", ".")
        for name, f in fields.items()
        if not (f.exclude or name in {"families", "rest_port_picked"})
    )


WORKER_BASE: dict[str, Any] = {"bootstrap.servers": "127.0.0.1:1", "rest.port": 0}
WORKER_KEYS = [
    *_keys(WorkerConfig),
    "consumer.max.poll.records",
    "consumer.fetch.min.bytes",
    "producer.acks",
    "producer.linger.ms",
    "admin.request.timeout.ms",
    "config.providers.env.class",
]


def _connectors(tmp: Path) -> dict[str, dict[str, Any]]:
    """A valid config of each built-in the fuzz covers (no service is contacted)."""
    common = {"topics": "fuzz-in", "value.converter": "json"}
    return {
        "file": {**common, "connector.class": "file", "file": str(tmp / "out.jsonl")},
        "sql": {
            **common,
            "connector.class": "sql",
            "connection.url": f"sqlite:///{tmp / 'fuzz.db'}",
            "insert.mode": "upsert",
            "pk.mode": "record_value",
            "pk.fields": "id",
        },
        "http": {**common, "connector.class": "http", "http.url": "http://127.0.0.1:1/hook"},
        "slack": {
            **common,
            "connector.class": "slack",
            "slack.webhook.url": "https://hooks.slack.com/services/T0/B0/x",
            "slack.text": "call {id}",
        },
    }


@dataclass(frozen=True)
class Mutation:
    kind: str  # "worker" or a connector alias
    key: str
    value: Any


def _names_key(errors: list[tuple[str, str]], key: str) -> bool:
    return any(key == k or k.startswith(key + ".") or key in reason for k, reason in errors)


def _check(
    mutation: Mutation,
    apply: Callable[[], object],
    refused: list[Mutation],
    broken: list[str],
) -> None:
    try:
        apply()
    except ConfigError as exc:
        if _names_key(exc.errors, mutation.key):
            refused.append(mutation)
        else:
            broken.append(f"{mutation}: error does not name the key: {exc.errors}")
    except Exception as exc:  # what a user would see as a traceback
        broken.append(f"{mutation}: {type(exc).__name__}: {exc}")


def test_one_mutated_key_is_refused_by_name_or_accepted(tmp_path: Path) -> None:
    """FAULT_CONFIG_CASES (3 000) single-key mutations of worker and connector configs:
    every one is accepted or refused with a ConfigError naming the key; none raises
    anything else."""
    registry = PluginRegistry()
    worker = load_worker_config(WORKER_BASE, environ={})
    connectors = _connectors(tmp_path)
    for name, raw in connectors.items():  # the bases themselves are valid
        validate_connector(f"base-{name}", raw, worker, registry)
    refused: list[Mutation] = []
    broken: list[str] = []
    seen = [0]

    connector_keys = {
        kind: sorted({*_keys(ConnectorSettings), *_own_keys(raw, registry)})
        for kind, raw in connectors.items()
    }
    kinds = ["worker", *connectors]

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        seen[0] += 1
        kind = data.draw(st.sampled_from(kinds))
        keys = WORKER_KEYS if kind == "worker" else connector_keys[kind]
        key = data.draw(st.sampled_from(keys))
        value = data.draw(VALUES)
        mutation = Mutation(kind, key, value)
        if kind == "worker":
            raw = {**WORKER_BASE, key: value}
            _check(mutation, lambda: load_worker_config(raw, environ={}), refused, broken)
        else:
            config = {**connectors[kind], key: value}
            _check(
                mutation,
                lambda: validate_connector("fuzzed", config, worker, registry),
                refused,
                broken,
            )

    fuzz()
    print(
        f"config fuzz: {seen[0]} mutations, {len(refused)} refused by name, "
        f"{seen[0] - len(refused) - len(broken)} accepted, {len(broken)} broken"
    )
    assert not broken, "\n".join(broken[:25])
    assert seen[0] >= CASES


def _own_keys(raw: Mapping[str, Any], registry: PluginRegistry) -> list[str]:
    connector = registry.get(str(raw["connector.class"])).connector
    return _keys(connector.config_model)


def _groups(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups(request_timeout=10).result()
    return {g.group_id for g in listed.valid}


def _run_refused(
    tmp: Path, bootstrap: str, worker: dict[str, Any], connector: dict[str, Any], name: str
) -> subprocess.CompletedProcess[str]:
    (tmp / "worker.json").write_text(json.dumps(worker, default=str))
    (tmp / "connector.json").write_text(json.dumps({"name": name, "config": connector}))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "offramp.cli",
            "standalone",
            str(tmp / "worker.json"),
            str(tmp / "connector.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OFFRAMP_", "CONNECT_"))},
    )


def test_a_refused_config_stops_the_process_before_it_binds_or_joins(
    kafka: KafkaBroker, tmp_path: Path, unique: str
) -> None:
    """FAULT_CONFIG_PROCESSES (24) refused mutations run as `offramp standalone`: each
    exits 1, names the key on stderr, prints no traceback, never says it listens, and no
    consumer group of its connector appears on the broker."""
    registry = PluginRegistry()
    worker = load_worker_config(WORKER_BASE, environ={})
    connectors = _connectors(tmp_path)
    chosen: list[Mutation] = []

    @settings(
        max_examples=PROCESSES * 20,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def pick(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["worker", *connectors]))
        keys = (
            WORKER_KEYS
            if kind == "worker"
            else sorted(
                {*_keys(ConnectorSettings), *_own_keys(connectors[kind], registry)} - {"name"}
            )
        )
        mutation = Mutation(kind, data.draw(st.sampled_from(keys)), data.draw(VALUES))
        try:
            if kind == "worker":
                load_worker_config({**WORKER_BASE, mutation.key: mutation.value}, environ={})
            else:
                config = {**connectors[kind], mutation.key: mutation.value}
                validate_connector("fuzzed", config, worker, registry)
        except ConfigError:
            if len(chosen) < PROCESSES:
                chosen.append(mutation)

    pick()
    assert len(chosen) >= PROCESSES // 2, f"only {len(chosen)} refused mutations found"
    wrong: list[str] = []
    for n, mutation in enumerate(chosen):
        name = f"fuzz-{unique}-{n}"
        base_worker = {**WORKER_BASE, "bootstrap.servers": kafka.bootstrap}
        connector = {**connectors["file"], "topics": f"fuzz-{unique}"}
        if mutation.kind == "worker":
            base_worker[mutation.key] = mutation.value
        else:
            connector = {**connectors[mutation.kind], mutation.key: mutation.value}
        run = _run_refused(tmp_path, kafka.bootstrap, base_worker, connector, name)
        output = run.stdout + run.stderr
        problems = []
        if run.returncode != 1:
            problems.append(f"exit {run.returncode}")
        if "Traceback" in output:
            problems.append("a traceback")
        if "REST API listening" in output:
            problems.append("it bound its REST port")
        if mutation.key not in run.stderr:
            problems.append("stderr does not name the key")
        if problems:
            wrong.append(f"{mutation}: {', '.join(problems)}\n{output[-800:]}")
    groups = _groups(kafka.bootstrap)
    joined = sorted(g for g in groups if f"fuzz-{unique}-" in g)
    print(f"config fuzz: {len(chosen)} refused configs run as processes; groups joined {joined}")
    assert not wrong, "\n".join(wrong[:10])
    assert not joined
