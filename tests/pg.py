"""A real, throwaway PostgreSQL server for tests and benchmarks.

`PostgresServer.start()` runs the Debian `postgresql` package's initdb and pg_ctl (as the
`postgres` system user when we are root: PostgreSQL refuses to run as root) in a fresh
temporary directory, listening only on 127.0.0.1 at a free port, with password (SCRAM)
authentication. `new_database()` creates a database owned by a non-superuser owner role plus
a separate non-owner app role, as docs/deploy.md prescribes, and returns both URLs.
`stop()` shuts the server down and removes the directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql


def _bindir() -> Path:
    found = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed; run scripts/system-deps.sh (Debian package postgresql)."
        )
    return Path(os.path.realpath(found)).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PREFIX = "os1-pg-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_orphans(bindir: Path) -> None:
    """Stop servers left behind by a test run that was killed before its teardown (each data
    directory records the pid of the process that started it)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    for root in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class DatabaseUrls:
    name: str
    owner_url: str  # the schema owner: runs migrations
    app_url: str  # the app role: row access only, guarded by row-level security


class PostgresServer:
    def __init__(self, root: Path, port: int, password: str) -> None:
        self.root = root
        self.port = port
        self.password = password
        self.data = root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls, *, max_connections: int = 200, durable: bool = False) -> PostgresServer:
        """Tests run without fsync (fast); `durable=True` keeps PostgreSQL's defaults."""
        bindir = _bindir()
        _reap_orphans(bindir)
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (root / "owner.pid").write_text(str(os.getpid()))
        server = cls(root, _free_port(), secrets.token_hex(12))
        pwfile = root / "pw"
        pwfile.write_text(server.password)
        as_root = os.geteuid() == 0
        if as_root:
            pg = pwd.getpwnam("postgres")
            for path in (root, pwfile):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []

        def run(*args: str) -> None:
            subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

        run(
            str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres",
            f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
            "--encoding=UTF8", "--locale=C.UTF-8", *([] if durable else ["--no-sync"]),
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={server.port}"
            f" -c unix_socket_directories={root} -c max_connections={max_connections}"
            " -c shared_buffers=64MB"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run(
            str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(root / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return server

    def new_database(self) -> DatabaseUrls:
        """A fresh database with its own owner and app roles (names unique per call)."""
        name = "os1_" + secrets.token_hex(4)
        owner, app = f"{name}_owner", f"{name}_app"
        owner_pw, app_pw = secrets.token_hex(8), secrets.token_hex(8)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for role, pw in ((owner, owner_pw), (app, app_pw)):
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(pw)
                    )
                )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )
        with psycopg.connect(self.url(name, "postgres", self.password), autocommit=True) as conn:
            # PostgreSQL 15: the public schema belongs to pg_database_owner; only the owner
            # may create in it, and the app role gets nothing until migrations grant it.
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
        return DatabaseUrls(name, self.url(name, owner, owner_pw), self.url(name, app, app_pw))

    def url(self, database: str, role: str, password: str) -> str:
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, str(_bindir() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)
