"""The scaffold end to end: generate, install, its tests pass, a worker runs it."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from devstack.kafka import KafkaBroker
from offramp.scaffold import new_connector
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import committed, make_worker, sink_config

pytestmark = pytest.mark.timeout(300)

NAME = "scaffolded-sink"
DIST = "offramp-scaffolded-sink"
LOCK = "/tmp/offramp-bootstrap.lock"  # the venv is shared: pip runs under its lock


def pip(*args: str) -> None:
    subprocess.run(
        ["flock", LOCK, sys.executable, "-m", "pip", "-q", *args],
        check=True,
        timeout=240,
    )


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """The generated package, pip-installed into the venv, uninstalled afterwards."""
    root = new_connector(NAME, tmp_path)
    try:
        pip("install", "--no-deps", str(root))
        importlib.invalidate_caches()  # the new entry point and package are visible now
        yield root
    finally:
        pip("uninstall", "-y", DIST)
        importlib.invalidate_caches()


def test_generate_install_test_and_run_in_a_worker(
    installed: Path, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """The installed package's own tests pass, and a worker runs its connector by alias
    over the real broker: every record written, offsets committed."""
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=installed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout

    topic = make_topic("scaffold")
    produce(kafka.bootstrap, topic, [orjson.dumps({"n": i}) for i in range(50)])
    out = installed / "out.jsonl"
    worker = make_worker(kafka.bootstrap)
    try:
        name = f"scaffold-{unique}"
        worker.create(name, sink_config(topic, NAME, **{"scaffolded.sink.path": str(out)}))

        def lines() -> list[dict[str, int]]:
            text = out.read_text() if out.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        wait_for(lambda: len(lines()) >= 50)
        assert [row["n"] for row in lines()] == list(range(50))
        wait_for(lambda: committed(kafka.bootstrap, f"connect-{name}", topic) == [50])
        plugin = worker.get(name).config.plugin
        assert plugin.alias == NAME
        assert plugin.class_name == "offramp_scaffolded_sink.connector:ScaffoldedSinkSinkConnector"
    finally:
        worker.shutdown()
