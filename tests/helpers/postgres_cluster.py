"""A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl as an unprivileged user, a
free port, a Unix socket in a private folder (no TCP listener), stopped at the end."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

BIN_CANDIDATES = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (15, 16, 17, 14)]


def find_bin() -> Path | None:
    found = next((b for b in BIN_CANDIDATES if (b / "initdb").exists()), None)
    if found is None and shutil.which("initdb"):
        found = Path(shutil.which("initdb")).parent  # type: ignore[arg-type]
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user(user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--"] if user else []


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database; stop and delete the cluster afterwards."""
    bindir = find_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found")
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        user = "postgres" if _has_user("postgres") else "nobody"
    folder = Path(tempfile.mkdtemp(prefix="optalloc-pg-"))
    data, sockets = folder / "data", folder / "sock"
    sockets.mkdir()
    if user:
        info = pwd.getpwnam(user)
        for path in (folder, sockets):
            os.chown(path, info.pw_uid, info.pw_gid)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run = lambda *args: subprocess.run([*_as_user(user), *args], check=True, capture_output=True, env=env)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "optalloc", "--auth=trust", "-E", "UTF8")
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(folder / "log"),
            "-o",
            f"-p {port} -k {sockets} -c listen_addresses=''",
            "start",
        )
        run(str(bindir / "createdb"), "-h", str(sockets), "-p", str(port), "-U", "optalloc", "optalloc")
        yield f"postgresql+psycopg://optalloc@/optalloc?host={sockets}&port={port}"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
