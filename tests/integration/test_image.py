"""The container image's promises, checked by running exactly what its Dockerfile
runs (ENTRYPOINT + CMD, as USER, with its ENV) outside a container: no container engine
or base image can be had here. The image's directories (/etc/offramp, /var/lib/offramp)
are mapped into a temporary root, and the REST port onto a free one, as `docker run -v
… -p …` would; every other value is the Dockerfile's, with the variables an operator
sets (`-e`) on top."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devstack.kafka import KafkaBroker, free_port
from tests.conftest import produce, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
IMAGE_DIRS = ("/etc/offramp", "/var/lib/offramp")
TOKEN = "image-test-token"


@dataclass
class Image:
    """The final stage of the Dockerfile, parsed."""

    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = "/"
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def parse_dockerfile(path: Path) -> Image:
    instructions = _instructions(path.read_text())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    image = Image()
    for word, rest in instructions[last_from + 1 :]:
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                image.env[key] = value
        elif word == "ARG":
            key, _, value = rest.partition("=")
            image.args[key] = value
        elif word in ("ENTRYPOINT", "CMD"):
            setattr(image, word.lower(), json.loads(rest))
        elif word == "HEALTHCHECK":
            image.healthcheck = json.loads(rest[rest.index("CMD") + 3 :])
        elif word == "USER":
            image.user = rest
        elif word == "WORKDIR":
            image.workdir = rest
        elif word == "COPY" and "--from" not in rest:
            *sources, destination = rest.split()
            image.copies.append((sources, destination))
        elif word == "RUN":
            image.runs.append(rest)
    return image


IMAGE = parse_dockerfile(ROOT / "Dockerfile")


class Container:
    """The image's command run here: its directories under ``root``, its port free."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        for run in IMAGE.runs:  # the directories the image makes
            for made in re.findall(r"mkdir -p ([^&;]+)", run):
                for directory in made.split():
                    self.path(directory).mkdir(parents=True, exist_ok=True)
        for sources, destination in IMAGE.copies:
            for source in sources:
                target = self.path(destination)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)
        self.proc: subprocess.Popen[str] | None = None

    def path(self, image_path: str) -> Path:
        return Path(self.map(image_path))

    def map(self, value: str) -> str:
        for directory in IMAGE_DIRS:
            value = value.replace(directory, str(self.root) + directory)
        return value.replace(":8083", f":{self.port}")

    def environment(self, **operator_env: str) -> dict[str, str]:
        env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(self.root)}
        env.update({key: self.map(value) for key, value in IMAGE.env.items()})
        env["OFFRAMP_WORKER_REST_PORT"] = str(self.port)  # -p PORT:8083
        env.update(operator_env)
        return env

    def run(self, **operator_env: str) -> subprocess.Popen[str]:
        argv = [self.map(arg) for arg in IMAGE.entrypoint + IMAGE.cmd]
        self.env = self.environment(**operator_env)
        self.proc = subprocess.Popen(
            argv,
            env=self.env,
            cwd=self.path(IMAGE.workdir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self.proc

    def healthcheck(self) -> int:
        return subprocess.run(
            IMAGE.healthcheck, env=self.env, capture_output=True, timeout=30
        ).returncode

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["offramp", *argv], env=self.env, capture_output=True, text=True, timeout=60
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> tuple[int, str]:
        proc, self.proc = self.proc, None
        if proc is None:
            return 0, ""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        return proc.returncode, out


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    box = Container(tmp_path / "root")
    yield box
    box.stop()


def _wait_live(box: Container, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert box.proc is not None
        if box.proc.poll() is not None:
            raise AssertionError(f"the worker exited: {box.stop()[1]}")
        try:
            if httpx.get(box.url("/health/live"), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no liveness answer: {box.stop()[1]}")


def test_image_is_non_root_has_no_demo_configs_and_a_liveness_healthcheck() -> None:
    """USER is a created, unprivileged account; the image copies no connector configs;
    the HEALTHCHECK asks liveness, not readiness."""
    assert IMAGE.user and IMAGE.user not in ("root", "0")
    assert any("useradd" in run and IMAGE.user in run for run in IMAGE.runs)
    uid = re.search(r"--uid (\d+)", " ".join(IMAGE.runs))
    assert uid and int(uid.group(1)) >= 1000
    copied = [source for sources, _ in IMAGE.copies for source in sources]
    assert copied == ["configs/container/worker.properties"]
    assert IMAGE.healthcheck == ["offramp", "health", "--live"]
    assert IMAGE.env["OFFRAMP_WORKER_REST_HOST"] == "0.0.0.0"
    assert "EXTRAS" in IMAGE.args


def test_image_refuses_to_start_without_credentials(container: Container) -> None:
    """On all interfaces with no token or user configured, the worker exits before it
    binds its port, naming the key to set."""
    proc = container.run()
    code, out = proc.wait(timeout=60), proc.stdout.read() if proc.stdout else ""
    assert code != 0
    assert "rest.auth" in out and "0.0.0.0" in out, out
    assert "Traceback" not in out
    with pytest.raises(httpx.ConnectError):
        httpx.get(container.url("/health/live"), timeout=2)


def test_image_stays_live_while_kafka_is_away(container: Container, tmp_path: Path) -> None:
    """With the token from a mounted secret file and no Kafka reachable, the HEALTHCHECK
    passes (an orchestrator must not restart it) while readiness says why it isn't
    ready, and every other path wants the token."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text(TOKEN + "\n")  # as `kubectl create secret` files often are
    container.run(
        OFFRAMP_WORKER_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
        OFFRAMP_WORKER_REST_AUTH_TOKENS=f"${{directory:{secrets}:token}}",
    )
    _wait_live(container)
    assert container.healthcheck() == 0
    readiness = container.cli("health")
    assert readiness.returncode == 1 and "starting" in readiness.stdout, readiness
    assert httpx.get(container.url("/connectors"), timeout=5).status_code == 401
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(container.url("/connectors"), headers=authorized, timeout=5).status_code == 200
    code, out = container.stop()
    assert code == 0, out


def test_image_runs_the_mounted_connectors_and_keeps_rest_made_ones(
    container: Container,
    kafka: KafkaBroker,
    tmp_path: Path,
    make_topic: Callable[..., str],
    unique: str,
) -> None:
    """A connector config in the mounted directory runs and writes what Kafka holds; one
    made over REST (with the CLI, token from the environment) is kept in the image's
    state volume and runs again after a restart."""
    topic = make_topic("image")
    out_file = tmp_path / "out.jsonl"
    mounted = {
        "name": f"mounted-{unique}",
        "config": {
            "connector.class": "file",
            "topics": topic,
            "file": str(out_file),
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            "batch.max.age.ms": "50",
        },
    }
    (container.path("/etc/offramp/connectors") / "mounted.json").write_text(json.dumps(mounted))
    env = {
        "OFFRAMP_WORKER_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "OFFRAMP_WORKER_REST_AUTH_TOKENS": TOKEN,
        "OFFRAMP_TOKEN": TOKEN,
    }
    container.run(**env)
    _wait_live(container)
    wait_for(lambda: container.cli("health").returncode == 0, timeout=60)
    produce(kafka.bootstrap, topic, [json.dumps({"n": i}).encode() for i in range(20)])
    wait_for(lambda: out_file.exists() and len(out_file.read_text().splitlines()) == 20)

    made = tmp_path / "made.json"
    made.write_text(
        json.dumps(
            {"name": f"made-{unique}", "config": {**mounted["config"], "file": str(tmp_path / "m")}}
        )
    )
    applied = container.cli("apply", "-f", str(made))
    assert applied.returncode == 0, applied.stderr
    status = container.cli("status")
    print(status.stdout)  # the table, for the record
    assert f"mounted-{unique}" in status.stdout and f"made-{unique}" in status.stdout
    assert any(container.path("/var/lib/offramp/connectors").iterdir())
    code, out = container.stop()
    assert code == 0, out

    container.run(**env)
    _wait_live(container)
    wait_for(lambda: f"made-{unique}" in container.cli("list").stdout, timeout=60)
