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
    """A scenario file that does not validate.

    ``problems`` holds each field's complaint on its own ("field 'budget': ..."), so code that
    re-words the error (a distribution's support, a sweep value) reads them instead of taking
    the message text apart.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class InfeasibleError(OptallocError):
    """The limits of a scenario cannot all hold at once."""


class NonFiniteError(OptallocError):
    """A number the solver would be given is NaN or infinite.

    The facts stay as data (``problem``, ``what``, ``value``, ``setting``, ``patient``,
    ``count``), and the message is rendered from them: which number, for which patient in which
    setting (or which limit's bound), how many such cells, and what to do.
    """

    def __init__(
        self,
        problem: str,
        what: str,
        value: float,
        *,
        setting: str | None = None,
        patient: str | None = None,
        count: int = 1,
    ) -> None:
        self.problem, self.what, self.value = problem, what, float(value)
        self.setting, self.patient, self.count = setting, patient, count
        super().__init__(self.message())

    def message(self) -> str:
        where = ""
        if self.patient is not None:
            where = f" for patient {self.patient}"
        if self.setting is not None:
            where += f" in setting {self.setting!r}"
        more = f" ({self.count:,} such numbers in all)" if self.count > 1 else ""
        source = (
            "the row of this patient and setting in the estimates table (--estimates), or the cohort "
            "column, readmission risk or scenario value it is computed from (an empty cell, a risk "
            "model returning NaN, a division by zero)"
            if self.patient is not None
            else "the scenario field named (or the value --vary or --demand gave it)"
        )
        return (
            f"scenario {self.problem!r}: {self.what}{where} is {self.value!r}{more}, and a solver given "
            f"NaN or an infinite number fails or returns a meaningless plan, so nothing was solved or "
            f"recorded. Correct it where it comes from, {source}, and run again."
        )


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
