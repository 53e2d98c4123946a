"""A throwaway PostgreSQL server for tests: Debian's `postgresql` package, a data folder in /tmp, trust auth.

`postgres_url` is a session-scoped fixture: it starts one server on 127.0.0.1 (unix socket in the same temp
folder), creates the database ``trace`` and yields ``postgresql+psycopg://postgres@127.0.0.1:<port>/trace``.
The server is stopped and its folder deleted at the end of the session. Tests that want an empty database of
their own call :func:`create_database` with that URL.

initdb refuses to run as root, so as root the server runs as the ``postgres`` system user. When PostgreSQL
cannot be started, a test that needs it fails under CI (``CI=true``) and is skipped elsewhere, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

DATABASE = "trace"
START_ATTEMPTS = 3  # the free port can be taken between choosing it and the server binding it
TIMEOUT_S = 60
# A test server needs no durability: these make initdb and every commit several times faster.
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server could not be found or started."""


def pg_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, or None."""
    found = [
        p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file() and (p / "pg_ctl").is_file()
    ]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if found else None


@dataclass
class PostgresServer:
    bin_dir: Path
    folder: Path
    port: int
    as_postgres_user: bool

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / tool), *args]
        if self.as_postgres_user:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=self.folder)

    def check(self, tool: str, *args: str) -> None:
        proc = self.run(tool, *args)
        if proc.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise PostgresUnavailable(f"{tool} failed ({proc.returncode}): {proc.stderr.strip()} {tail}".strip())

    def init(self) -> None:
        self.check(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} {FAST_OPTIONS}"
        self.check(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(TIMEOUT_S),
            "start",
        )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> None:
        self.check("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)


def _temp_folder(as_postgres_user: bool) -> Path:
    """A private folder the server's user owns; /tmp, because pytest's own temp folders are root-only."""
    folder = Path(tempfile.mkdtemp(prefix="trace-pg-"))
    if as_postgres_user:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a server with the database ``trace``; stop it and delete its folder afterwards."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("no server binaries under /usr/lib/postgresql: apt-get install postgresql")
    as_postgres_user = os.geteuid() == 0
    if as_postgres_user:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no `postgres` system user") from exc
    folder = _temp_folder(as_postgres_user)
    server = PostgresServer(bin_dir, folder, 0, as_postgres_user)
    try:
        server.init()
        for attempt in range(START_ATTEMPTS):
            server.port = free_port()
            try:
                server.start()
                break
            except PostgresUnavailable:
                if attempt == START_ATTEMPTS - 1:
                    raise
        server.create_database(DATABASE)
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def unavailable(reason: str) -> None:
    """Fail under CI, where PostgreSQL is installed by `make sysdeps`; skip elsewhere."""
    message = f"PostgreSQL unavailable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        import psycopg  # noqa: F401  - the driver, from the dev extras
    except ImportError:
        unavailable("the driver is missing: pip install 'psycopg[binary]==3.3.9'")
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+psycopg://postgres@127.0.0.1:<port>/trace`` on a server that lives for the session."""
    return postgres_server.url()


def create_database(server: PostgresServer, prefix: str = "t") -> str:
    """A new empty database on ``server``; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.url(name)
