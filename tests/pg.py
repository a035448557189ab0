"""PostgreSQL for tests: databases on the machine's server, and throwaway servers.

The shared server (127.0.0.1:5432, user postgres, trust) only ever sees databases the
tests create and drop. Tests that stop PostgreSQL use `ThrowawayPostgres`, a private
server made with initdb in a temporary directory on a free port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import psycopg

ADMIN_DSN = os.environ.get("BALLSY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    base = Path("/usr/lib/postgresql")
    for version_dir in sorted(base.glob("*"), reverse=True):
        candidate = version_dir / "bin" / name
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(f"PostgreSQL program {name!r} not found (install postgresql)")


def server_available(dsn: str = ADMIN_DSN) -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def try_start_local_server() -> None:
    """Start the machine's PostgreSQL cluster if it is installed but stopped."""
    clusters = Path("/etc/postgresql")
    if not clusters.exists():
        return
    for version in sorted(p.name for p in clusters.iterdir()):
        with contextlib.suppress(Exception):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
                timeout=30,
            )


def create_database(dsn: str = ADMIN_DSN) -> tuple[str, str]:
    """Create a fresh database; return (name, URL)."""
    name = f"ballsy_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = psycopg.conninfo.conninfo_to_dict(dsn)
    host = base.get("host", "127.0.0.1")
    port = base.get("port", "5432")
    user = base.get("user", "postgres")
    return name, f"postgresql://{user}@{host}:{port}/{name}"


def drop_database(name: str, dsn: str = ADMIN_DSN) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """A private PostgreSQL server in a temporary directory, for fault tests.

    Runs as the `postgres` system user when the tests run as root (initdb refuses
    root). Listens on 127.0.0.1 at a free port and on a Unix socket in `socket_dir`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)

    def init(self, *, host_auth: str = "trust") -> ThrowawayPostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
            os.chmod(self.root, 0o700)
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            f"--auth-host={host_auth}",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=50"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            opts,
            "-l",
            str(self.root / "log.txt"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, background workers)."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.append(int(proc.name))
        return pids

    def pause(self) -> list[int]:
        """Freeze the server (SIGSTOP): connections stay open and nothing answers, as
        with a hung host or a network partition. Returns the frozen pids for `resume`."""
        pids = self.server_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        return pids

    def resume(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    @property
    def admin_dsn(self) -> str:
        """Superuser over the Unix socket (trusted even when TCP needs passwords)."""
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        """Run SQL as the superuser over the Unix socket (trusted)."""
        self._run(
            _pg_bin("psql"),
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )

    def wait_until_up(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server_available(self.admin_dsn) is None:
                return
            time.sleep(0.1)
        raise TimeoutError("throwaway PostgreSQL did not come up")


def schema_objects(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The indexes and constraints of a database's public schema, as PostgreSQL describes
    them, and the indexes an import has deferred (`ballsy_import.deferred_indexes`)."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('ballsy_import.deferred_indexes')").fetchone()
        deferred_table_exists = exists is not None and exists[0] is not None
        return {
            "indexes": conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                "convalidated FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                "ORDER BY 1, 2"
            ).fetchall(),
            "deferred": conn.execute(
                "SELECT index_name FROM ballsy_import.deferred_indexes ORDER BY 1"
            ).fetchall()
            if deferred_table_exists
            else [],
        }


def migrated_schema_objects() -> dict[str, list[tuple[object, ...]]]:
    """`schema_objects` of a database just migrated to Ballsy's head."""
    from ballsy.db import migrate

    name, url = create_database()
    try:
        migrate.upgrade(url)
        return schema_objects(url)
    finally:
        drop_database(name)
