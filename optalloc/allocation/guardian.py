"""``python -m optalloc.allocation.guardian PID FOLDER``: remove FOLDER once process PID is gone.

Started detached by :mod:`optalloc.allocation.tempfiles`; it outlives a killed optalloc only
long enough to delete its private solver folder, and exits by itself when the folder is
removed normally.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped) counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return True


def main(pid: int, folder: Path) -> None:
    while folder.exists() and _alive(pid):
        time.sleep(0.2)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
