"""Keep solver libraries' own prints off stdout.

HiGHS 1.12 writes some debug lines (``HighsMipSolverData::transformNewIntegerFeasibleSolution``)
straight to the C stdout even with ``output_flag`` off; ``--json`` output must stand alone on
stdout and a terminal user should not see solver debug noise, so native solves run with file
descriptor 1 pointed at the null device.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None


@contextlib.contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Point fd 1 at the null device for the duration (re-entrant; restores it afterwards)."""
    global _depth, _saved_fd
    with _lock:
        if _depth == 0:
            sys.stdout.flush()
            _saved_fd = os.dup(1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 1)
                os.close(_saved_fd)
                _saved_fd = None
