"""Interrupts that cannot be lost: Ctrl-C and SIGTERM stop the work and no output is written.

Python raises ``KeyboardInterrupt`` where the signal lands, and a few places swallow it (an
exception in an ``os.fork`` callback, for instance, which every solver subprocess start runs:
"Exception ignored in: _releaseLock"). So the handler also sets a flag, every output is checked
against it just before it is renamed into place or committed (:func:`check`), and the command
exits with 130 at the end if it was interrupted (:func:`exit_code`).
"""

from __future__ import annotations

import signal
import threading

_interrupted = threading.Event()


def _handler(signum: int, _frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> None:
    """Catch SIGINT and SIGTERM (main thread only, where Python delivers signals)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)


def interrupted() -> bool:
    return _interrupted.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt arrived, even one swallowed on its way."""
    if _interrupted.is_set():
        raise KeyboardInterrupt("interrupted")


def exit_code() -> int | None:
    """130 (the shell's code for an interrupted command) if an interrupt arrived, else None."""
    return 130 if _interrupted.is_set() else None
