"""The seed's fan-out on one worker: CPU, memory and produce → written latency per sink.

One ``offramp standalone`` process (its own CPU and memory) runs the five connectors of
``configs/connectors/`` — billing (sql, SQLite upsert, exactly-once), CRM (hubspot, into
the devstack stand-in), embeddings (qdrant embedded, 384-d vectors from the devstack
OpenAI-compatible server; whatever store ``connectors/qdrant`` defaults to for
``qdrant.path``), archive (s3 into moto, gzip JSON) and training (file, JSON lines) —
each with its ``ce-type`` Filter. This process produces 833 binary CloudEvents per second
(50 000 a minute) to a 24-partition topic at a steady rate and, after a warm-up, measures
for ``--seconds``:

- the worker's CPU as a % of the machine's cores (``/proc/<pid>/stat`` utime+stime, plus
  cutime+cstime: the Qdrant Edge optimizer's child processes once they ended);
- its RssAnon (sampled each second: last and peak) and its RSS peak (VmHWM);
- produce → written latency per sink, against the moment ``produce()`` was called here
  (the call id keys a table of produce times):
    file      the output file tailed every 5 ms; a line counts when it is read;
    sql       ``SELECT rowid, call_id ... WHERE rowid > ?`` polled every 20 ms (WAL: the
              reader never blocks the writer); a row counts when a poll returns it;
    hubspot   the stand-in's request handler: each ``batch/upsert`` input counts when
              the request arrives (matched by ``last_call_time``, unique per event;
              inputs the writer merged by email within a batch are not seen);
    qdrant    the store is the worker's (locked), so the connector's
              ``offramp_sink_record_send_total`` from ``GET /metrics`` (polled at
              ``--metrics-hz``) is matched to the produce time of the n-th completed
              event (FIFO at a steady rate; resolution 1/hz);
    s3        the bucket listed every 0.5 s; an object's records count when it appears.
              Set by rotation (per-partition hourly files on record time), so it is
              reported on its own line;
- lag at the end of the window: high watermarks minus committed offsets per group
  ("-" for a share group, which commits none: its ``written`` column says how it kept up)
  (commits every ``offset.flush.interval.ms`` = 5 s, so up to ~5 s of records show).

The polling of ``/metrics`` costs the worker CPU; it is measured at the end (100 requests
back to back) and printed so the figure can be read without it.

    .venv/bin/python bench/bench_fanout.py [--seconds 120] [--warmup 20] [--rate 833]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.embeddings_server import EmbeddingsServer
from devstack.generator import CALL_COMPLETED, call_events
from devstack.hubspot import ALL_SCOPES, HubSpotStub
from devstack.kafka import KafkaBroker, free_port, produce_waiting
from devstack.s3 import ACCESS_KEY, SECRET_KEY, S3Server

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "calls"
PARTITIONS = 24
DIMENSION = 384
TOKEN = "bench-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CONNECTORS = {  # name in configs/connectors → the sink it is, for the table
    "billing-sql": "sql",
    "crm-hubspot": "hubspot",
    "calls-qdrant": "qdrant",
    "calls-archive-s3": "s3",
    "calls-file": "file",
}


# ----- the worker's process ------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """The worker's CPU and its ended children's (Qdrant Edge's optimizer runs in one)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])  # utime, stime
    children = int(fields[13]) + int(fields[14])  # cutime, cstime: children waited for
    return (own + children) / CLK_TCK


def status_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
            out[name] = int(rest.split()[0])
    return out


class MemorySampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.anon_peak = 0
        self.last: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self.last = status_kb(self.pid)
            except OSError:
                return
            self.anon_peak = max(self.anon_peak, self.last["RssAnon"])


# ----- produce times and what each sink has --------------------------------------------


class Seen:
    """Latencies of one sink, measured on this process's monotonic clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.count = 0

    def add(self, produced: float | None, at: float, measuring: bool) -> None:
        if produced is None:
            return
        with self.lock:
            self.count += 1
            if measuring:
                self.latencies.append(at - produced)


class Clock:
    """Produce times by call id and by ``ended_at`` ms, and the measuring window."""

    def __init__(self) -> None:
        self.by_id: dict[str, float] = {}
        self.by_ended_ms: dict[int, float] = {}
        self.completed_times: list[float] = []  # the n-th completed event's produce time
        self.window = (float("inf"), float("inf"))

    def measuring(self, produced: float | None) -> bool:
        return produced is not None and self.window[0] <= produced < self.window[1]


def tail_file(path: Path, clock: Clock, seen: Seen, stop: threading.Event) -> None:
    while not path.exists() and not stop.wait(0.05):
        pass
    with open(path, "rb") as f:
        rest = b""
        while not stop.is_set():
            chunk = f.read()
            if not chunk:
                time.sleep(0.005)
                continue
            now = time.monotonic()
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                produced = clock.by_id.get(orjson.loads(line)["id"])
                seen.add(produced, now, clock.measuring(produced))


def poll_sql(path: Path, clock: Clock, seen: Seen, stop: threading.Event) -> None:
    last = 0
    conn: sqlite3.Connection | None = None
    while not stop.wait(0.02):
        try:
            if conn is None:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            rows = conn.execute(
                "SELECT rowid, call_id FROM billing_calls WHERE rowid > ? ORDER BY rowid", (last,)
            ).fetchall()
        except sqlite3.Error:
            continue  # the table is not there yet
        now = time.monotonic()
        for rowid, call_id in rows:
            last = rowid
            produced = clock.by_id.get(call_id)
            seen.add(produced, now, clock.measuring(produced))


class TimedHubSpot(HubSpotStub):
    """The stand-in, noting when each upsert input arrives."""

    clock: Clock
    seen: Seen

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if raw_path.endswith("/batch/upsert"):
            now = time.monotonic()
            for item in orjson.loads(body).get("inputs", ()):
                ended = item.get("properties", {}).get("last_call_time")
                produced = self.clock.by_ended_ms.get(int(ended)) if ended else None
                self.seen.add(produced, now, self.clock.measuring(produced))
        return super().handle(method, raw_path, headers, body)


_SEND = re.compile(
    r'^offramp_sink_record_send_total\{connector="([^"]+)",task="\d+"\} (\d+)$', re.M
)


def scrape(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    totals: dict[str, int] = {}
    for name, count in _SEND.findall(text):
        totals[name] = totals.get(name, 0) + int(count)
    return totals


def poll_counter(
    url: str, name: str, hz: float, clock: Clock, seen: Seen, stop: threading.Event
) -> None:
    done = 0
    while not stop.wait(1.0 / hz):
        try:
            written = scrape(url).get(name, 0)
        except OSError:
            continue
        now = time.monotonic()
        while done < written and done < len(clock.completed_times):
            produced = clock.completed_times[done]
            seen.add(produced, now, clock.measuring(produced))
            done += 1


def poll_s3(server: S3Server, bucket: str, clock: Clock, seen: Seen, stop: threading.Event) -> None:
    client = server.client()
    known: set[str] = set()
    while not stop.wait(0.5):
        keys = [
            obj["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for obj in page.get("Contents", [])
            if obj["Key"] not in known
        ]
        now = time.monotonic()
        for key in keys:
            known.add(key)
            response = client.get_object(Bucket=bucket, Key=key)
            for line in gzip.decompress(response["Body"].read()).splitlines():
                produced = clock.by_id.get(orjson.loads(line)["id"])
                seen.add(produced, now, clock.measuring(produced))
            response["Body"].close()
    client.close()


# ----- producing -------------------------------------------------------------------------


def produce_steadily(
    bootstrap: str, rate: float, total_seconds: float, clock: Clock, stop: threading.Event
) -> int:
    count = int(rate * total_seconds) + 1
    # Made as they are sent: a 30-minute run's 1.5 million events held up front took
    # this process past 10 GB.
    events = call_events(count, start=None, callers=500)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "compression.type": "zstd",
            "linger.ms": 5,
        }
    )
    began = time.monotonic()
    sent = 0
    while sent < count and not stop.is_set():
        due = min(count, int((time.monotonic() - began) * rate) + 1)
        while sent < due:
            event = next(events)
            now = time.monotonic()
            call_id = event.key.decode()
            clock.by_id[call_id] = now
            clock.by_ended_ms[_ended_ms(event.data["ended_at"])] = now
            if event.ce_type == CALL_COMPLETED:
                clock.completed_times.append(now)
            produce_waiting(producer, TOPIC, event.value, key=event.key, headers=event.headers)
            sent += 1
        producer.poll(0)
        time.sleep(0.005)
    producer.flush(30)
    return sent


def _ended_ms(text: object) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)


# ----- configs ---------------------------------------------------------------------------


def write_configs(work: Path, batch_max_age_ms: int | None) -> Path:
    folder = work / "connectors"
    folder.mkdir()
    for name in CONNECTORS:
        source = ROOT / "configs" / "connectors" / _config_file(name)
        spec = orjson.loads(source.read_bytes())
        cfg = spec["config"]
        if name == "calls-file":
            cfg["file"] = str(work / "training.jsonl")
        elif name == "calls-qdrant":
            cfg["qdrant.path"] = str(work / "qdrant")
        if batch_max_age_ms is not None:
            cfg["batch.max.age.ms"] = str(batch_max_age_ms)
        (folder / f"{name}.json").write_bytes(orjson.dumps(spec, option=orjson.OPT_INDENT_2))
    return folder


def _config_file(name: str) -> str:
    return {
        "billing-sql": "billing-sql.json",
        "crm-hubspot": "crm-hubspot.json",
        "calls-qdrant": "embeddings-qdrant.json",
        "calls-archive-s3": "archive-s3.json",
        "calls-file": "calls-file.json",
    }[name]


def is_share_group(name: str) -> bool:
    """A connector reading through a share group commits no offsets: no lag to show."""
    spec = orjson.loads((ROOT / "configs" / "connectors" / _config_file(name)).read_bytes())
    return str(spec["config"].get("group.type", "")).lower() == "share"


def lag(bootstrap: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        committed = consumer.committed(parts, 10)
        total = 0
        for tp in committed:
            _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, tp.partition), 10)
            total += high - max(tp.offset, 0)
        return total
    finally:
        consumer.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def source_tree(rev: str, work: Path) -> Path:
    """The ``offramp`` package as it was at ``rev`` (runtime/ as offramp, connectors/ as
    offramp.connectors), for a before/after comparison; put first on PYTHONPATH."""
    export = work / "source"
    export.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "runtime", "connectors"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive, check=True)
    package = work / "pythonpath" / "offramp"
    package.parent.mkdir()
    (export / "runtime").rename(package)
    (export / "connectors").rename(package / "connectors")
    return package.parent


# ----- the run ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=20.0, help="producing before it")
    parser.add_argument("--rate", type=float, default=833.0, help="events per second")
    parser.add_argument("--metrics-hz", type=float, default=10.0, help="/metrics polls per s")
    parser.add_argument("--batch-max-age-ms", type=int, default=None, help="on every connector")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--rev", default=None, help="run the worker from this git revision (default: the tree)"
    )
    parser.add_argument(
        "--on-measure", default=None, help="shell command run when measuring starts ({pid})"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="offramp-fanout-"))
    clock = Clock()
    seen = {sink: Seen() for sink in CONNECTORS.values()}
    stop = threading.Event()
    threads: list[threading.Thread] = []
    embeddings = EmbeddingsServer(dimension=DIMENSION).start()
    hubspot = TimedHubSpot({TOKEN: ALL_SCOPES}, per_10s=190, daily=625_000)
    hubspot.clock, hubspot.seen = clock, seen["hubspot"]
    hubspot.start()
    s3 = S3Server().start()
    s3.create_bucket("call-archive")
    proc: subprocess.Popen[bytes] | None = None
    try:
        with KafkaBroker(heap="1g") as broker:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(30)
            del admin
            connectors = write_configs(work, args.batch_max_age_ms)
            rest_port = free_port()
            env = {
                **os.environ,
                "OFFRAMP_WORKER_BOOTSTRAP_SERVERS": broker.bootstrap,
                "OFFRAMP_WORKER_REST_PORT": str(rest_port),
                "OFFRAMP_LOG_LEVEL": "WARNING",
                "DEMO_SQL_URL": f"sqlite:///{work / 'billing.db'}",
                "DEMO_HUBSPOT_URL": hubspot.url,
                "DEMO_HUBSPOT_TOKEN": TOKEN,
                "DEMO_EMBEDDINGS_URL": embeddings.url,
                "DEMO_S3_URL": s3.url,
                "DEMO_S3_ACCESS_KEY_ID": ACCESS_KEY,
                "DEMO_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            }
            if args.rev:
                env["PYTHONPATH"] = str(source_tree(args.rev, work))
            log = open(work / "worker.log", "wb")  # noqa: SIM115 - closed with the run
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "offramp.cli",
                    "standalone",
                    str(ROOT / "configs" / "worker.json"),
                    str(connectors),
                ],
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            metrics_url = f"http://127.0.0.1:{rest_port}/metrics"
            deadline = time.monotonic() + 60
            while True:  # the REST API answers once every connector is created
                if proc.poll() is not None:
                    raise SystemExit(f"the worker exited:\n{(work / 'worker.log').read_text()}")
                try:
                    if len(scrape(metrics_url)) == len(CONNECTORS):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the worker's connectors did not start within 60 s")
                time.sleep(0.5)
            targets: list[tuple[Any, tuple[Any, ...]]] = [
                (tail_file, (work / "training.jsonl", clock, seen["file"], stop)),
                (poll_sql, (work / "billing.db", clock, seen["sql"], stop)),
                (
                    poll_counter,
                    (metrics_url, "calls-qdrant", args.metrics_hz, clock, seen["qdrant"], stop),
                ),
                (poll_s3, (s3, "call-archive", clock, seen["s3"], stop)),
            ]
            for target, targs in targets:
                thread = threading.Thread(target=target, args=targs, daemon=True)
                thread.start()
                threads.append(thread)
            sampler = MemorySampler(proc.pid)
            sampler.start()

            total = args.warmup + args.seconds
            start = time.monotonic()
            clock.window = (start + args.warmup, start + total)
            producer = threading.Thread(
                target=produce_steadily,
                args=(broker.bootstrap, args.rate, total, clock, stop),
                daemon=True,
            )
            producer.start()
            time.sleep(args.warmup)
            sampler.anon_peak = 0  # the peak of the measuring window
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            if args.on_measure:
                subprocess.Popen(args.on_measure.format(pid=proc.pid), shell=True)
            time.sleep(args.seconds)
            cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
            memory = status_kb(proc.pid)
            lags = {
                name: "-" if is_share_group(name) else str(lag(broker.bootstrap, f"connect-{name}"))
                for name in CONNECTORS
            }
            written = scrape(metrics_url)
            producer.join(30)
            time.sleep(2)  # the latest records reach the pollers
            stop.set()
            for thread in threads:
                thread.join(10)
            sampler.stop.set()
            # What this bench's own /metrics polling costs the worker.
            c0, w0 = cpu_seconds(proc.pid), time.monotonic()
            for _ in range(100):
                scrape(metrics_url)
            per_poll = (cpu_seconds(proc.pid) - c0) / 100
            idle_poll = time.monotonic() - w0
            stop_worker(proc)  # before the broker goes
    finally:
        stop.set()
        if proc is not None:
            stop_worker(proc)
        embeddings.stop()
        hubspot.stop()
        s3.stop()

    cores = os.cpu_count() or 1
    cpu = (cpu1 - cpu0) / (t1 - t0) / cores * 100
    poll_share = per_poll * args.metrics_hz / cores * 100
    print(
        f"worker: {'git ' + args.rev if args.rev else 'the working tree'}; "
        f"fan-out: {args.rate:.0f} events/s, {PARTITIONS} partitions, 5 connectors, "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up, {cores} cores"
    )
    print(
        f"worker CPU {cpu:.1f} % of {cores} cores (of which /metrics polling at "
        f"{args.metrics_hz:g} Hz ~{poll_share:.1f} %; {per_poll * 1000:.1f} ms CPU a poll, "
        f"100 polls in {idle_poll:.1f} s)"
    )
    print(
        f"worker memory: RssAnon {memory['RssAnon'] / 1024:.0f} MB at the end, peak "
        f"{sampler.anon_peak / 1024:.0f} MB; RSS peak (VmHWM) {memory['VmHWM'] / 1024:.0f} MB; "
        f"RssFile {memory['RssFile'] / 1024:.0f} MB; threads {memory['Threads']}"
    )
    print(
        f"{'sink':<8} {'connector':<17} {'p50 ms':>8} {'p99 ms':>8} {'seen':>8} "
        f"{'written':>8} {'lag@end':>8}  method"
    )
    methods = {
        "sql": "SQLite rows polled by rowid, 20 ms",
        "hubspot": "stand-in request arrival",
        "qdrant": f"send-total counter, {args.metrics_hz:g} Hz",
        "file": "file tailed, 5 ms",
        "s3": "bucket listed, 0.5 s (set by rotation)",
    }
    for name, sink in sorted(CONNECTORS.items(), key=lambda kv: kv[1] == "s3"):
        lats = seen[sink].latencies
        p50, p99 = (
            (f"{pct(lats, 0.5) * 1000:.0f}", f"{pct(lats, 0.99) * 1000:.0f}")
            if lats
            else (f">{args.seconds:.0f}s", "behind")  # nothing produced in the window arrived
        )
        print(
            f"{sink:<8} {name:<17} {p50:>8} {p99:>8} "
            f"{len(lats):>8} {written.get(name, 0):>8} {lags[name]:>8}  {methods[sink]}"
        )
    if args.keep:
        print(f"work directory: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
