"""`python -m devstack kafka start|status|stop` runs a broker that outlives the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devstack.kafka import free_port


def _devstack(args: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "kafka", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OFFRAMP_DEVSTACK_DIR": str(state)},
    )


def test_start_reports_its_startup_time_then_status_and_stop(tmp_path: Path) -> None:
    """start prints the time to ready; status finds the broker; stop ends it for good."""
    port = free_port()
    try:
        started = _devstack(["start", "--port", str(port)], tmp_path)
        assert started.returncode == 0, started.stderr
        assert "ready in" in started.stdout and f"127.0.0.1:{port}" in started.stdout
        status = _devstack(["status"], tmp_path)
        assert status.returncode == 0 and "running" in status.stdout
    finally:
        stopped = _devstack(["stop"], tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _devstack(["status"], tmp_path).returncode == 1
