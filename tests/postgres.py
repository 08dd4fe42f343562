"""A throwaway PostgreSQL server for tests: its own cluster in a temporary directory, on a free loopback port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make install` installs it (Debian package postgresql)")
    return os.path.dirname(found[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[tuple[str, int]]:
    """(socket directory, port) of a running server whose superuser is `postgres`, stopped and removed after."""
    bindir = _bindir()
    root = tempfile.mkdtemp(prefix="hotline-pg-")
    # initdb refuses to run as root: run the server as the postgres user the package created.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    try:
        subprocess.run([*as_user, f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C"], check=True, capture_output=True)
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
        yield root, port
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def url(socket_dir: str, port: int, database: str) -> str:
    # TCP on loopback rather than the socket: Rasa's SQL tracker store takes a host and a port.
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{database}"


def create_database(socket_dir: str, port: int, database: str) -> str:
    """A new empty database; returns its SQLAlchemy URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(url(socket_dir, port, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return url(socket_dir, port, database)
