"""A throwaway MariaDB server for tests, without Docker.

The binaries are Debian's ``mariadb-server`` package (``scripts/install-packages``, run by
``scripts/test``, installs it as root; ``OFFRAMP_MARIADB_BIN`` names any other
directory holding ``mariadbd`` and ``mariadb-install-db``). The server is a direct
child with its data, socket and log in a temporary directory, listening on a free
loopback port; it dies with its owner (``PR_SET_PDEATHSIG``) so none outlives a test
session. Clients get a password-protected user ``user`` (TCP needs the password: bad
credentials can be tested) and a database ``database``.

Settings favour speed over crash safety of the *database host* (no binary log, the
redo log flushed once a second): tests kill workers, never the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from devstack.kafka import free_port
from devstack.scratch import (
    ScratchServer,
    die_with_parent,
    make_scratch_dir,
    serve_until_signalled,
)

__all__ = ["MariaDBServer", "mariadb_bin_dir"]

_DIR_PREFIX = "offramp-mariadb-"
_SEARCH = (Path("/usr/sbin"), Path("/usr/bin"))
_FAST_SETTINGS = (
    "--skip-log-bin",
    "--innodb-flush-log-at-trx-commit=2",
    "--innodb-doublewrite=0",
    "--innodb-buffer-pool-size=128M",
    "--skip-performance-schema",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_bin",
    "--max-connections=200",
)


def mariadb_bin_dir() -> Path:
    """Where ``mariadbd`` is: ``OFFRAMP_MARIADB_BIN``, or Debian's package."""
    override = os.environ.get("OFFRAMP_MARIADB_BIN")
    candidates = [Path(override)] if override else list(_SEARCH)
    for directory in candidates:
        if (directory / "mariadbd").exists():
            return directory
    raise RuntimeError(
        "no MariaDB server binary (mariadbd): run scripts/install-packages as root (Debian's "
        "mariadb-server package), or set OFFRAMP_MARIADB_BIN"
    )


def _install_db(bin_dir: Path) -> Path:
    for directory in (bin_dir, *_SEARCH):
        if (directory / "mariadb-install-db").exists():
            return directory / "mariadb-install-db"
    raise RuntimeError("mariadb-install-db is missing: install Debian's mariadb-server")


@dataclass
class MariaDBServer(ScratchServer):
    """One MariaDB server in a scratch directory."""

    driver: ClassVar[str] = "mysql+pymysql"
    log_name: ClassVar[str] = "mariadb.log"
    shutdown_signal: ClassVar[signal.Signals] = signal.SIGTERM  # a normal shutdown

    @property
    def socket_path(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "mariadb.sock"

    def _as_user(self) -> list[str]:
        # mariadbd refuses to run as root unless told to; elsewhere it runs as whoever
        # started it.
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self, timeout: float = 60.0) -> MariaDBServer:
        began = time.monotonic()
        bin_dir = mariadb_bin_dir()
        mariadbd = bin_dir / "mariadbd"
        if not self.port:
            self.port = free_port()
        self.base_dir = make_scratch_dir(_DIR_PREFIX)
        try:
            self._install(bin_dir)
            self._launch(mariadbd)
            self._wait_ready(timeout)
            self._create_user_and_database()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _install(self, bin_dir: Path) -> None:
        assert self.base_dir is not None
        result = subprocess.run(
            [
                str(_install_db(bin_dir)),
                "--no-defaults",
                f"--datadir={self.base_dir / 'data'}",
                "--auth-root-authentication-method=normal",  # root: socket, no password
                "--skip-test-db",
                *self._as_user(),
            ],
            capture_output=True,
            text=True,
            cwd=self.base_dir,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{result.stdout}{result.stderr}")
        banner = subprocess.run(
            [str(bin_dir / "mariadbd"), "--version"], capture_output=True, text=True, check=True
        ).stdout  # "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu …"
        self.version = banner.split(" Ver ", 1)[-1].split()[0]

    def _launch(self, mariadbd: Path) -> None:
        assert self.base_dir is not None
        self.process = subprocess.Popen(
            [
                str(mariadbd),
                "--no-defaults",
                f"--datadir={self.base_dir / 'data'}",
                f"--port={self.port}",
                f"--bind-address={self.host}",
                f"--socket={self.socket_path}",
                f"--pid-file={self.base_dir / 'mariadb.pid'}",
                f"--log-error={self.log_path}",
                *_FAST_SETTINGS,
                *self._as_user(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.base_dir,
            preexec_fn=die_with_parent(signal.SIGKILL),  # the data is throwaway
        )

    def _wait_ready(self, timeout: float) -> None:
        # Watch the log rather than try connecting: a refused PyMySQL connection leaves
        # its socket for the garbage collector (a ResourceWarning under pytest -W error).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"MariaDB exited with {self.process.returncode}:\n{self.log_text()}"
                )
            if "ready for connections" in self.log_text() and self.socket_path.exists():
                return
            time.sleep(0.05)
        raise TimeoutError(f"MariaDB was not ready within {timeout:.0f}s:\n{self.log_text()}")

    def _root_execute(self, *statements: str) -> None:
        import pymysql

        conn = pymysql.connect(
            unix_socket=str(self.socket_path), user="root", connect_timeout=2, autocommit=True
        )
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()

    def _create_user_and_database(self) -> None:
        self._root_execute(
            f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'",
            f"GRANT ALL ON *.* TO '{self.user}'@'%'",
        )
        self.create_database(self.database)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (if missing); returns its SQLAlchemy URL."""
        self._root_execute(f"CREATE DATABASE IF NOT EXISTS `{name.replace('`', '``')}`")
        return self.url(name)


def main() -> int:
    """``python -m devstack.mariadb``: run a server until Ctrl-C, printing its URL."""
    with MariaDBServer() as server:
        serve_until_signalled(
            f"MariaDB {server.version} ready in {server.startup_seconds:.1f}s", server.url()
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
