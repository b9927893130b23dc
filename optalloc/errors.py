"""Errors a user can act on.

Every failure caused by input (a file, a scenario, a flag) raises an :class:`OptallocError`
whose message is one paragraph naming where the problem is and what to do; the CLI prints
that paragraph and exits non-zero, never a traceback.
"""

from __future__ import annotations

import contextlib


class OptallocError(ValueError):
    """Bad input the user can fix; the message says where and how."""


class CohortError(OptallocError):
    """A cohort file or table that cannot be used as it is."""


class ScenarioError(OptallocError):
    """A scenario file that does not validate."""


class InfeasibleError(OptallocError):
    """The limits of a scenario cannot all hold at once."""


class ModelFileError(OptallocError):
    """A saved model that is corrupt or was written by incompatible library versions."""


def shown(value: object) -> str:
    """A value as an error paragraph quotes it: ``repr`` of the plain Python value, so numpy
    scalars read ``-5`` or ``3.5``, not ``np.int64(-5)``."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        with contextlib.suppress(TypeError, ValueError):
            value = item()
    return repr(value)
