"""A real single-node Apache Kafka broker (KRaft, combined broker+controller) without Docker.

The broker's jars are resolved from Maven Central with Maven (``kafka-pom.xml`` next to
this file) into a cache outside the repo, so the first run downloads them and every
later run reuses them. The broker runs as a child JVM on loopback; ``stop()`` ends it
and, for brokers owned by a test session, the kernel kills it if Python dies first
(``PR_SET_PDEATHSIG``), so no JVM outlives its owner.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from devstack.certs import TlsFiles, make_certs
from devstack.scratch import die_with_parent

KAFKA_VERSION = "4.3.1"
_POM = Path(__file__).with_name("kafka-pom.xml")
_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
"""


def cache_dir() -> Path:
    """Where downloaded jars and devstack state live: outside the repo, shared by runs."""
    root = os.environ.get("OFFRAMP_CACHE") or os.path.join(Path.home(), ".cache", "offramp")
    return Path(root)


def jars_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_dir() / f"kafka-{version}" / "libs"


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Resolve the broker's runtime jars with Maven once; later calls reuse the cache."""
    target = jars_dir(version)
    marker = target / ".complete"
    if marker.exists():
        return target
    cache_dir().mkdir(parents=True, exist_ok=True)
    # Several processes (test sessions, the demo) may start at once on a fresh machine.
    with open(cache_dir() / f"kafka-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return target
        return _download_jars(version, target)


def _download_jars(version: str, target: Path) -> Path:
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is required to fetch Kafka's jars; install it first")
    staging = Path(tempfile.mkdtemp(prefix="kafka-jars-", dir=cache_dir()))
    began = time.monotonic()
    print(
        f"fetching Apache Kafka {version}'s jars from Maven Central into {target} (once)...",
        file=sys.stderr,
        flush=True,
    )
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(_POM),
        "package",
        f"-Dkafka.version={version}",
        f"-Djars.dir={staging}",
        f"-Dmaven.repo.local={cache_dir() / 'm2'}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(
            f"Maven could not resolve Kafka {version}:\n{result.stdout}{result.stderr}"
        )
    jars = list(staging.glob("*.jar"))
    size = sum(jar.stat().st_size for jar in jars)
    print(
        f"fetched {len(jars)} jars, {size / 1e6:.0f} MB, in {time.monotonic() - began:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    (staging / ".complete").write_text(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def produce_waiting(producer: Producer, topic: str, value: Any, **fields: Any) -> None:
    """``producer.produce``, serving delivery reports while its local queue is full
    instead of failing with ``BufferError`` (producing faster than the broker acks)."""
    while True:
        try:
            producer.produce(topic, value, **fields)
            return
        except BufferError:
            producer.poll(0.05)


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java:
        raise RuntimeError("Java 17+ is required to run Kafka; install a JDK first")
    return java


SCRAM_MECHANISM = "SCRAM-SHA-512"


@dataclass
class KafkaBroker:
    """One broker process. ``bootstrap`` is ``127.0.0.1:<port>`` once started.

    With ``users`` (``{name: password}``) it also serves ``sasl_ssl_bootstrap``, a
    SASL_SSL listener taking SCRAM-SHA-512 (the users are created with the broker's own
    ``kafka-storage format --add-scram``) and PLAIN, and ``ssl_bootstrap``, an SSL
    listener that requires a client certificate (mutual TLS); ``tls`` names the
    certificates, made afresh for this broker. The plaintext listener stays, for the
    broker's own replication and for test set-up.
    """

    port: int = 0
    data_dir: Path | None = None
    heap: str = "512m"
    tied_to_parent: bool = True
    log_level: str = "WARN"
    version: str = KAFKA_VERSION
    # A member of a multi-node cluster (devstack.kafka_cluster) sets these; a lone broker
    # leaves them to start(): node 1, its own quorum, a fresh cluster id, replication 1.
    node_id: int = 1
    controller_port: int = 0
    voters: str = ""
    cluster_id: str = ""
    replication: int = 1
    users: dict[str, str] = field(default_factory=dict)
    sasl_ssl_port: int = 0
    ssl_port: int = 0
    tls: TlsFiles | None = field(default=None, init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    startup_seconds: float = field(default=0.0, init=False)
    _owns_dir: bool = field(default=False, init=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ssl_port}"

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        began = time.monotonic()
        self.launch()
        self.wait_ready(timeout)
        self.startup_seconds = time.monotonic() - began
        return self

    def launch(self) -> None:
        """Start the JVM without waiting for it. Call it from a thread that outlives the
        broker: the kernel's parent-death signal follows the thread that forked, not
        the process (a pool thread that ends would take the broker with it)."""
        jars = ensure_jars(self.version)
        if not self.port:
            self.port = free_port()
        if not self.controller_port:
            # Kept across restarts: the other voters of a cluster know it by this port.
            self.controller_port = free_port()
        controller_port = self.controller_port
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="offramp-kafka-"))
            self._owns_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.users:
            self.sasl_ssl_port = self.sasl_ssl_port or free_port()
            self.ssl_port = self.ssl_port or free_port()
            # Kept across restarts: clients made before one still trust the same CA.
            self.tls = self.tls or make_certs(self.data_dir / "tls")
        props = self.data_dir / "server.properties"
        props.write_text(self._properties(controller_port))
        (self.data_dir / "log4j2.properties").write_text(
            _LOG4J2.format(log=self.data_dir / "broker.log", level=self.log_level)
        )
        base = self._java_command(jars)
        if not (self.data_dir / "logs" / "meta.properties").exists():
            cluster_id = self.cluster_id or new_cluster_id()
            fmt = subprocess.run(
                [
                    *base,
                    "kafka.tools.StorageTool",
                    "format",
                    # One argument: a base64url id may begin with "-", which argparse
                    # would take for an option after a separate "-t".
                    f"--cluster-id={cluster_id}",
                    "-c",
                    str(props),
                    "--feature",
                    "share.version=1",
                    *(
                        arg
                        for name, password in self.users.items()
                        for arg in (
                            "--add-scram",
                            f"{SCRAM_MECHANISM}=[name={name},password={password}]",
                        )
                    ),
                ],
                capture_output=True,
                text=True,
            )
            if fmt.returncode != 0:
                raise RuntimeError(f"formatting KRaft storage failed:\n{fmt.stdout}{fmt.stderr}")
        with open(self.data_dir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                [*base, "kafka.Kafka", str(props)],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(signal.SIGKILL) if self.tied_to_parent else None,
                start_new_session=not self.tied_to_parent,
            )

    def wait_ready(self, timeout: float) -> None:
        """Until the broker answers metadata; a broker that doesn't is stopped."""
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _java_command(self, jars: Path) -> list[str]:
        assert self.data_dir is not None
        return [
            _java(),
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{jars}/*",
        ]

    def _properties(self, controller_port: int) -> str:
        assert self.data_dir is not None
        replicas, min_isr = str(self.replication), str(min(2, self.replication))
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters or f"1@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "1",
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            # Lets a share group set a record lock as short as 1 s (default floor 15 s):
            # tests ride out an outage longer than delivery limit x lock in seconds.
            "group.share.min.record.lock.duration.ms": "1000",
            "group.initial.rebalance.delay.ms": "0",
            "group.consumer.heartbeat.interval.ms": "1000",
            "group.consumer.min.heartbeat.interval.ms": "500",
            "group.consumer.session.timeout.ms": "10000",
            "group.consumer.min.session.timeout.ms": "6000",
            "auto.create.topics.enable": "true",
            "log.flush.interval.messages": "1000000",
            "log.segment.bytes": str(256 * 1024 * 1024),
        }
        if self.users:
            settings.update(self._secure_properties(controller_port))
        return "".join(f"{k}={v}\n" for k, v in settings.items())

    def _secure_properties(self, controller_port: int) -> dict[str, str]:
        """The SASL_SSL and SSL listeners, their certificates and the PLAIN users."""
        assert self.tls is not None
        plain_users = " ".join(f'user_{n}="{p}"' for n, p in self.users.items())
        listeners = (
            f"PLAINTEXT://127.0.0.1:{self.port},SASL_SSL://127.0.0.1:{self.sasl_ssl_port},"
            f"SSL://127.0.0.1:{self.ssl_port}"
        )
        return {
            "listeners": f"{listeners},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": listeners,
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT"
            ),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.tls.broker_keystore),
            "ssl.keystore.password": self.tls.password,
            "ssl.key.password": self.tls.password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca),
            "listener.name.ssl.ssl.client.auth": "required",
            "sasl.enabled.mechanisms": f"{SCRAM_MECHANISM},PLAIN",
            f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.sasl_ssl.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
            ),
        }

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Kafka exited with {self.process.returncode}; see {self.log_path}"
                )
            with contextlib.suppress(Exception):
                md = admin.list_topics(timeout=1)
                if md.brokers:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"Kafka was not ready within {timeout:.0f}s; see {self.log_path}")

    @property
    def log_path(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "stdout.log"

    def kill(self) -> None:
        """SIGKILL the broker (no controlled shutdown); its data stays for ``start()``."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._owns_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
