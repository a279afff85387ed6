"""A real PostgreSQL server for the tests: made in a temporary directory, stopped at the end.

The PostgreSQL tests need the server binaries (``initdb``, ``pg_ctl``); without them they are
skipped with a reason (``.ci/run`` installs them). The server listens on a free loopback port
with password authentication, so the tests go through the login a team's history has, and
each test gets a database of its own (``fresh_database``).
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
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

USER = "crewtui"
MISSING = (
    "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: the PostgreSQL "
    "history tests need them (apt-get install postgresql)"
)
NO_SERVER_USER = (
    "running as root, and there is no 'postgres' user to run PostgreSQL's server as "
    "(it refuses root): the PostgreSQL history tests need one"
)


class ServerUnavailable(Exception):
    """No server can be started here; the message says why (the tests skip with it)."""


def server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's versioned one."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).parent
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: ``url(database)`` is how a crewtui reaches one of its databases."""

    directory: Path
    bin_dir: Path
    port: int
    password: str
    run_as: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self.run_as, *command], check=True, capture_output=True, text=True, timeout=120
        )

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty or a copy of the database ``template`` (which nobody may
        be connected to), and the URL that reaches it."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        copied = f' TEMPLATE "{template}"' if template is not None else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copied} STRATEGY FILE_COPY')
        return self.url(name)

    @staticmethod
    def database_of(url: str) -> str:
        """The name of the database ``url`` reaches."""
        return url.rsplit("/", 1)[1]

    def drop_database(self, url: str) -> None:
        import psycopg

        name = self.database_of(url)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> None:
        """Stop the server (every connection is cut) and start it again, as an outage does."""
        data = str(self.directory / "data")
        log = str(self.directory / "log")
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", data, "-l", log, "-m", "fast", "-w", "restart"
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_server(settings: Mapping[str, str] | None = None) -> PostgresServer:
    """initdb in a temporary directory and start it on a free port, with ``settings``
    (``postgresql.conf`` names and values, e.g. ``shared_preload_libraries``) added.

    PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user,
    which then owns the directory. The benchmarks start their server here too
    (``bench/bench_team.py``).
    """
    bin_dir = server_binaries()
    if bin_dir is None:
        raise ServerUnavailable(MISSING)
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable(NO_SERVER_USER) from None
        run_as = ["runuser", "-u", "postgres", "--"]
    directory = Path(tempfile.mkdtemp(prefix="crewtui-pg-"))
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    password = secrets.token_hex(8)
    password_file = directory / "password"
    password_file.write_text(password)
    if owner is not None:
        os.chown(password_file, owner.pw_uid, -1)
    server = PostgresServer(directory, bin_dir, _free_port(), password, run_as)
    data = str(directory / "data")
    server._run(
        str(bin_dir / "initdb"),
        "-D",
        data,
        "-U",
        USER,
        f"--pwfile={password_file}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    )
    options = (
        f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    options += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
    server._run(
        str(bin_dir / "pg_ctl"),
        "-D",
        data,
        "-o",
        options,
        "-l",
        str(directory / "log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    return server
