"""A custom SMT, predicate and converter from a separate package, used end to end.

tests/plugin_packages/offramp_extras is a package of its own (its own pyproject, entry
points in ``offramp.transforms``, ``offramp.predicates`` and ``offramp.converters``).
It is pip-installed into the environment once per session; a worker on the real broker
then runs a config naming its converter and SMT by alias, and ``/connector-plugins``
lists them with their type.
"""

from __future__ import annotations

import fcntl
import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.kafka import KafkaBroker
from offramp.config import validate_connector
from offramp.errors import ConfigError
from offramp.rest.server import RestServer
from offramp.testing import recordings
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import make_worker, sink_config

PACKAGE = Path(__file__).parents[1] / "plugin_packages" / "offramp_extras"
LOCK = "/tmp/offramp-bootstrap.lock"  # the shared environment's install lock


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="session")
def extras_installed(tmp_path_factory: pytest.TempPathFactory) -> None:
    """offramp-extras installed into this environment (idempotent: a reinstall of the
    same version changes nothing), built from a copy so the source tree stays clean."""
    source = tmp_path_factory.mktemp("extras") / "offramp_extras"
    shutil.copytree(PACKAGE, source)
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = _pip("install", "--no-deps", "--no-build-isolation", str(source))
            if done.returncode != 0:  # e.g. no setuptools in the environment
                done = _pip("install", "--no-deps", str(source))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert done.returncode == 0, done.stderr
    importlib.invalidate_caches()  # the new distribution's entry points are seen


@pytest.fixture
def worker(extras_installed: None, kafka: KafkaBroker) -> Iterator[Worker]:
    w = make_worker(kafka.bootstrap)
    yield w
    w.shutdown()


def extras_config(topic: str, **extra: str) -> dict[str, str]:
    config = sink_config(
        topic,
        **{
            "value.converter": "keyvalue",
            "value.converter.separator": "&",
            "transforms": "shout",
            "transforms.shout.type": "upper",
            "transforms.shout.field": "name",
            "transforms.shout.suffix": "!",
            "transforms.shout.predicate": "named",
            "predicates": "named",
            "predicates.named.type": "offramp_extras.smts:HasField",
            "predicates.named.field": "name",
            **extra,
        },
    )
    del config["value.converter.schemas.enable"]  # JsonConverter's; keyvalue refuses it
    return config


def test_custom_converter_and_smt_from_a_package_run_end_to_end(
    worker: Worker, kafka: KafkaBroker, make_topic: Callable[..., str], unique: str
) -> None:
    """Records go through the package's converter and SMT (by alias) to the sink."""
    topic = make_topic("extras")
    produce(kafka.bootstrap, topic, [b"name=ada&n=1", b"n=2", b"name=grace&n=3"])
    name = f"extras-{unique}"
    worker.create(name, extras_config(topic))
    wait_for(lambda: len(recordings(name)) == 3)
    assert [r.value for r in recordings(name)] == [
        {"name": "ADA!", "n": "1"},
        {"n": "2"},
        {"name": "GRACE!", "n": "3"},
    ]


def test_custom_plugins_are_validated_like_connector_configs(worker: Worker, unique: str) -> None:
    """A bad or unknown key of a plug-in's model is an error naming its full key."""
    config = extras_config(
        "t",
        **{
            "value.converter.separator": "",
            "value.converter.sep": ";",
            "transforms.shout.feild": "x",
            "predicates.named.field": "",
        },
    )
    del config["transforms.shout.field"]
    with pytest.raises(ConfigError) as caught:
        validate_connector(f"bad-{unique}", config, worker.config, worker.registry)
    errors = dict(caught.value.errors)
    assert "at least 1 character" in errors["value.converter.separator"]
    assert errors["value.converter.sep"] == "unknown configuration key"
    assert errors["transforms.shout.field"] == "missing required configuration"
    assert "did you mean 'transforms.shout.field'" in errors["transforms.shout.feild"]
    assert "at least 1 character" in errors["predicates.named.field"]


def test_a_package_module_not_registered_does_not_resolve(worker: Worker, unique: str) -> None:
    """Only entry points resolve: the package's other names, or any module, do not."""
    config = extras_config(
        "t",
        **{
            "transforms.shout.type": "offramp_extras.keyvalue:KeyValueConverter",
            "value.converter": "os:system",
        },
    )
    with pytest.raises(ConfigError) as caught:
        validate_connector(f"bad-{unique}", config, worker.config, worker.registry)
    errors = dict(caught.value.errors)
    assert "unknown transformation" in errors["transforms.shout.type"]
    assert "unknown converter 'os:system'" in errors["value.converter"]


def test_custom_plugins_are_listed_with_their_type(worker: Worker) -> None:
    """GET /connector-plugins?connectorsOnly=false lists them as Kafka Connect would,
    with the class's version or else the distribution's."""
    server = RestServer(worker).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            listed = client.get("/connector-plugins", params={"connectorsOnly": "false"})
            only = client.get("/connector-plugins").json()
    finally:
        server.stop()
    entries = listed.json()
    assert {
        "class": "offramp_extras.smts:UpperCaseField",
        "type": "transformation",
        "version": "0.3.0",
    } in entries
    assert {
        "class": "offramp_extras.smts:HasField",
        "type": "predicate",
        "version": "0.3.0-predicate",
    } in entries
    assert {
        "class": "offramp_extras.keyvalue:KeyValueConverter",
        "type": "converter",
        "version": "0.3.0",
    } in entries
    assert {
        "class": "org.apache.kafka.connect.json.JsonConverter",
        "type": "converter",
        "version": "0.1.0",
    } in entries
    order = [e["type"] for e in entries]
    assert order == sorted(order, key=["sink", "converter", "transformation", "predicate"].index)
    assert {e["type"] for e in only} == {"sink"}
