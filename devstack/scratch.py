"""What the devstack's throwaway database servers share: a scratch directory per
server, a server process that dies with its owner, connection settings, shutdown, and
running one from a shell.

A server's scratch directory holds its data, socket and log, plus ``owner.pid``: when
the owner was killed (the kernel then stopped the server too), the next server started
on the machine deletes the directory nobody is left to clean up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Self

__all__ = [
    "ScratchServer",
    "die_with_parent",
    "make_scratch_dir",
    "read_log",
    "serve_until_signalled",
    "stop_process",
]


def die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn`` that has the kernel send ``sig`` to the child when its parent
    dies. Runs after a ``user=`` switch (which would clear it), just before exec."""

    def arm() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # 1 = PR_SET_PDEATHSIG

    return arm


def make_scratch_dir(prefix: str) -> Path:
    """A new scratch directory, owned by this process; stale ones are swept first."""
    for directory in Path(tempfile.gettempdir()).glob(prefix + "*"):
        try:
            owner = int((directory / "owner.pid").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except (OSError, ValueError):
            continue  # being set up right now, or not ours to judge
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    (directory / "owner.pid").write_text(str(os.getpid()))
    return directory


def read_log(path: Path) -> str:
    """A server log's text ("" if there is none yet)."""
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")
    return ""


def stop_process(
    process: subprocess.Popen[bytes] | None, sig: signal.Signals, timeout: float
) -> None:
    """Ask ``process`` to shut down with ``sig``; kill it if it takes over ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class ScratchServer(ABC):
    """A database server living in a scratch directory, on a loopback port, with a
    password-protected user ``user`` (TCP needs the password: bad credentials can be
    tested) and a database ``database``."""

    port: int = 0
    user: str = "offramp"
    # Not a word that appears elsewhere: the worker masks a connector's secrets in every
    # response and log line, and "offramp" would hide the package's own name.
    password: str = "scratch-db-secret"
    database: str = "offramp"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    base_dir: Path | None = field(default=None, init=False)
    version: str = field(default="", init=False)
    startup_seconds: float = field(default=0.0, init=False)

    driver: ClassVar[str]  # SQLAlchemy's dialect+driver for ``url``
    log_name: ClassVar[str]
    shutdown_signal: ClassVar[signal.Signals]

    @abstractmethod
    def start(self, timeout: float = 60.0) -> Self:
        """Set up the scratch directory and start the server; ready when it returns."""

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, database: str | None = None, driver: str | None = None) -> str:
        """An SQLAlchemy URL for ``database`` (default: the server's own)."""
        return (
            f"{driver or self.driver}://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{database or self.database}"
        )

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / self.log_name

    def log_text(self) -> str:
        return read_log(self.log_path)

    def stop(self, timeout: float = 20.0) -> None:
        """Shut the server down and delete its scratch directory."""
        process, self.process = self.process, None
        stop_process(process, self.shutdown_signal, timeout)
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_signalled(banner: str, url: str) -> None:
    """For ``python -m devstack.<server>``: print what runs where, then block until
    SIGINT or SIGTERM (the caller's ``with`` block then stops the server)."""
    print(banner)
    print(f"connection.url={url}", flush=True)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # after the server started
    signal.sigwait(stop_signals)
