"""Private, self-cleaning folders for solver files, and solver processes that die with us.

CBC (through PuLP) reads and writes model, start and solution files (3-20 MB each). They hold
the problem, so they go in a folder only we can read (0700), removed when the solve ends,
fails, or is interrupted (SIGINT, SIGTERM). A process killed outright (SIGKILL, the OOM killer)
runs no cleanup at all, so the first private folder also starts a small guardian process in a
session of its own, which removes the whole folder as soon as the optalloc process is gone. The
CBC process itself is started with ``PR_SET_PDEATHSIG`` so the kernel kills it when optalloc
dies, rather than leaving it to write on after its parent has gone.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

_lock = threading.Lock()
_roots: dict[int, Path] = {}  # process id -> its private folder (a forked worker makes its own)
_PR_SET_PDEATHSIG = 1


def _process_root() -> Path:
    """This process's private folder under the system temporary folder, and its guardian."""
    with _lock:
        root = _roots.get(os.getpid())
        if root is not None and root.exists():
            return root
        root = Path(tempfile.mkdtemp(prefix=f"optalloc-{os.getpid()}-"))
        os.chmod(root, 0o700)
        _start_guardian(root)
        atexit.register(shutil.rmtree, root, True)
        _roots[os.getpid()] = root
        return root


def _start_guardian(root: Path) -> None:
    """A detached watcher that removes ``root`` once this process has died (any way)."""
    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "optalloc.allocation.guardian", str(os.getpid()), str(root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )


@contextlib.contextmanager
def solver_tempdir() -> Iterator[Path]:
    """A fresh private folder for one solve's files, removed on the way out whatever happens."""
    folder = _process_root() / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def die_with_parent() -> None:
    """``preexec_fn`` for solver children: the kernel sends SIGKILL when optalloc dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _LinkedSubprocess:
    """``subprocess`` as PuLP's CBC runner sees it: ``Popen`` children die with optalloc."""

    def __getattr__(self, name: str) -> object:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(*args: object, **kwargs: object) -> subprocess.Popen:
        if sys.platform.startswith("linux"):
            kwargs.setdefault("preexec_fn", die_with_parent)
        return subprocess.Popen(*args, **kwargs)  # type: ignore[call-overload]


def link_pulp_children() -> None:
    """Make PuLP's CBC runner start CBC with :func:`die_with_parent` (idempotent)."""
    from pulp.apis import coin_api

    if not isinstance(coin_api.subprocess, _LinkedSubprocess):
        coin_api.subprocess = _LinkedSubprocess()  # type: ignore[assignment]
