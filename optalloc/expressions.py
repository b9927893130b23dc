"""The one expression language of scenario files: conditions and quantities over named values.

Eligibility, equity groups, ``size`` targets and per-patient quantities are written as small
expressions, e.g. ``"transfusions_per_28d >= 2 and distance_km <= 50 and not prior_reaction"``.
A scenario file comes from outside (e-mail, a shared drive), so it must never run code: the
text is parsed with :mod:`ast` and only this whitelist is accepted::

    names          column names (or named constants the caller declares), never dunders
    literals       numbers, 'strings', true/false (True/False)
    operators      + - * / // % **, comparisons (chains too), and / or / not,
                   & | ~ as pandas writes them, ``x in [a, b]`` / ``not in`` over a literal list
    functions      abs, min, max, clip, log, exp, where (elementwise), plus any the caller adds

Anything else (attributes, subscripts, ``@`` names, lambdas, comprehensions, f-strings, calls
outside the whitelist, keyword arguments) is refused with a paragraph naming the file, the
field and the offending token; so are texts over 2,000 characters or nested over 40 levels.
Evaluation is vectorised with numpy over whole columns (a million rows in milliseconds), so a
condition gives one boolean per row and a quantity one number per row.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optalloc.errors import ScenarioError

MAX_LENGTH = 2_000
MAX_DEPTH = 40
MAX_NODES = 600


def _minimum(*values: Any) -> Any:
    out = values[0]
    for value in values[1:]:
        out = np.minimum(out, value)
    return out


def _maximum(*values: Any) -> Any:
    out = values[0]
    for value in values[1:]:
        out = np.maximum(out, value)
    return out


@dataclass(frozen=True)
class Function:
    """A whitelisted function: its implementation and how many arguments it takes."""

    call: Callable[..., Any]
    min_args: int
    max_args: int
    takes_names: bool = False  # arguments are bare names read as text: patients(home)


FUNCTIONS: dict[str, Function] = {
    "abs": Function(np.abs, 1, 1),
    "min": Function(_minimum, 2, 8),
    "max": Function(_maximum, 2, 8),
    "clip": Function(np.clip, 3, 3),
    "log": Function(np.log, 1, 1),
    "exp": Function(np.exp, 1, 1),
    "where": Function(np.where, 3, 3),
}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
    ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
}
DEFAULT_HINT = 'Write a condition over the cohort columns, e.g. "age >= 70 and not prior_reaction".'
_PERCENT = re.compile(r"(?<![\w.])(\d[\d_]*(?:\.\d*)?|\.\d+)\s*%")


class ExpressionError(ScenarioError):
    """An expression the language refuses, with where it came from and the offending token."""

    def __init__(
        self, source: str, field_name: str, text: str, problem: str, token: str | None = None, hint: str = ""
    ) -> None:
        self.source, self.field, self.text, self.problem, self.token = source, field_name, text, problem, token
        shown = text if len(text) <= 120 else text[:117] + "..."
        at = f" at {token!r}" if token else ""
        hint = hint or DEFAULT_HINT
        super().__init__(f"{source}: field '{field_name}' = {shown!r}: {problem}{at}. {hint}")


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate over columns and constants."""

    text: str
    tree: ast.Expression
    names: frozenset[str]
    field_name: str
    source: str
    functions: Mapping[str, Function] = field(default_factory=lambda: dict(FUNCTIONS))

    def error(self, problem: str, token: str | None = None, hint: str = "") -> ExpressionError:
        return ExpressionError(self.source, self.field_name, self.text, problem, token, hint)

    def evaluate(self, values: Mapping[str, Any] | pd.DataFrame, rows: int | None = None) -> Any:
        """The value over ``values`` (a DataFrame's columns, or a mapping of names to arrays or
        scalars); names missing from it are an error naming them and what is known."""
        known = set(values.columns if isinstance(values, pd.DataFrame) else values)
        missing = sorted(self.names - known)
        if missing:
            listed = ", ".join(sorted(str(k) for k in known if k != "true_type"))
            raise self.error(
                f"{', '.join(repr(m) for m in missing)} is not a column or known name",
                missing[0],
                f"Known names: {listed}.",
            )
        with np.errstate(all="ignore"):
            return _Evaluator(self, values).visit(self.tree.body)

    def condition(self, frame: pd.DataFrame) -> np.ndarray:
        """One true/false per row of ``frame``."""
        value = np.asarray(self.evaluate(frame))
        if value.shape == ():
            value = np.full(len(frame), value)
        if value.dtype != bool or value.shape != (len(frame),):
            raise self.error(
                "is not a true/false condition", None, 'Use comparisons such as "age >= 70" joined by and/or.'
            )
        return value

    def quantity(self, frame: pd.DataFrame, constants: Mapping[str, Any] | None = None) -> np.ndarray:
        """One finite number per row of ``frame`` (``constants`` add named scalars)."""
        values: dict[str, Any] = {c: frame[c].to_numpy() for c in frame.columns if c in self.names}
        values.update(constants or {})
        result = np.asarray(self.evaluate(values), dtype=float)
        if result.shape == ():
            result = np.full(len(frame), float(result))
        bad = ~np.isfinite(result)
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise self.error(
                f"gives {result[row - 1]} for row {row}",
                None,
                "Check for division by zero, log of 0 and missing values in the columns it reads.",
            )
        return result

    def clauses(self) -> list[Expression]:
        """The top-level ``and`` parts (one for an expression without a top-level ``and``)."""
        body = self.tree.body
        parts: list[ast.expr]
        if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And):
            parts = list(body.values)
        elif isinstance(body, ast.BinOp) and isinstance(body.op, ast.BitAnd):
            parts = _flatten_bitand(body)
        else:
            parts = [body]
        out = []
        for part in parts:
            text = ast.get_source_segment(self.text, part) or ast.unparse(part)
            out.append(
                Expression(
                    text,
                    ast.Expression(part),
                    frozenset(_names(part, self.functions)),
                    self.field_name,
                    self.source,
                    self.functions,
                )
            )
        return out

    def failing_clauses(self, frame: pd.DataFrame) -> list[str]:
        """The ``and`` parts that are false for the (single-row) ``frame``: why a row is excluded."""
        return [clause.text for clause in self.clauses() if not bool(np.asarray(clause.condition(frame))[0])]


def _flatten_bitand(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
        return _flatten_bitand(node.left) + _flatten_bitand(node.right)
    return [node]


def _names(node: ast.AST, functions: Mapping[str, Function]) -> set[str]:
    """Every name the expression reads as a value: not a called function, not the bare-name
    argument of a function that takes names (``patients(home)``), not true/false."""
    skip: set[int] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            skip.add(id(child.func))
            spec = functions.get(child.func.id) if isinstance(child.func, ast.Name) else None
            if spec is not None and spec.takes_names:
                skip.update(id(arg) for arg in child.args)
    return {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and id(child) not in skip and child.id not in _CONSTANTS
    }


class _Checker:
    """Walks the tree once and refuses every node outside the whitelist."""

    def __init__(self, text: str, field_name: str, source: str, functions: Mapping[str, Function]) -> None:
        self.text, self.field, self.source, self.functions = text, field_name, source, functions
        self.nodes = 0

    def fail(self, node: ast.AST, problem: str, hint: str = "") -> ExpressionError:
        token = ast.get_source_segment(self.text, node) if hasattr(node, "lineno") else None
        return ExpressionError(self.source, self.field, self.text, problem, token, hint)

    def check(self, node: ast.AST, depth: int = 0) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ExpressionError(
                self.source,
                self.field,
                self.text,
                f"is nested too deeply or too long (over {MAX_DEPTH} levels or {MAX_NODES} parts)",
            )
        if isinstance(node, ast.Expression):
            return self.check(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool | int | float | str) and not isinstance(node.value, bytes):
                return None
            raise self.fail(node, "only numbers, 'text' and true/false may be written as values")
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise self.fail(node, "names starting with '_' are not allowed")
            if node.id in (
                "eval",
                "exec",
                "compile",
                "open",
                "getattr",
                "setattr",
                "globals",
                "locals",
                "vars",
                "input",
                "breakpoint",
                "help",
                "exit",
                "quit",
            ):
                raise self.fail(node, "this name is reserved and cannot be used")
            return None
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check(value, depth + 1)
            return None
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd | ast.Invert):
                raise self.fail(node, "this operator is not allowed")
            return self.check(node.operand, depth + 1)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise self.fail(node, "this operator is not allowed")
            self.check(node.left, depth + 1)
            return self.check(node.right, depth + 1)
        if isinstance(node, ast.Compare):
            self.check(node.left, depth + 1)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right, ast.List | ast.Tuple | ast.Set) or not all(
                        isinstance(e, ast.Constant) and isinstance(e.value, bool | int | float | str)
                        for e in right.elts
                    ):
                        raise self.fail(right, "'in' needs a list of literal values, e.g. x in ['a', 'b']")
                    continue
                if type(op) not in _COMPARE:
                    raise self.fail(node, "this comparison is not allowed")
                self.check(right, depth + 1)
            return None
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            spec = self.functions.get(name) if name else None
            if spec is None:
                allowed = ", ".join(sorted(self.functions))
                raise self.fail(
                    node.func, "calls are limited to the whitelisted functions", f"Allowed functions: {allowed}."
                )
            if node.keywords:
                raise self.fail(node, "functions take no keyword arguments")
            if not spec.min_args <= len(node.args) <= spec.max_args:
                raise self.fail(
                    node,
                    f"{name} takes {spec.min_args}"
                    + (f" to {spec.max_args}" if spec.max_args != spec.min_args else "")
                    + " argument(s)",
                )
            for arg in node.args:
                if spec.takes_names:
                    if not isinstance(arg, ast.Name) or arg.id.startswith("_"):
                        raise self.fail(arg, f"{name}() takes a name, e.g. {name}(home)")
                else:
                    self.check(arg, depth + 1)
            return None
        kinds = {
            ast.Attribute: "attributes (a.b)",
            ast.Subscript: "subscripts (a[b])",
            ast.Lambda: "lambdas",
            ast.IfExp: "'x if c else y' (use where(c, x, y))",
            ast.ListComp: "comprehensions",
            ast.SetComp: "comprehensions",
            ast.DictComp: "comprehensions",
            ast.GeneratorExp: "comprehensions",
            ast.JoinedStr: "f-strings",
            ast.NamedExpr: "assignments",
            ast.Starred: "starred arguments",
            ast.Dict: "dictionaries",
            ast.Await: "await",
            ast.Yield: "yield",
            ast.YieldFrom: "yield",
        }
        what = next((label for kind, label in kinds.items() if isinstance(node, kind)), type(node).__name__)
        raise self.fail(node, f"{what} are not allowed in an expression")


class _Evaluator(ast.NodeVisitor):
    """Evaluates a checked tree; every node type here was admitted by :class:`_Checker`."""

    def __init__(self, expression: Expression, values: Mapping[str, Any] | pd.DataFrame) -> None:
        self.expression = expression
        self.values = values

    def generic_visit(self, node: ast.AST) -> Any:  # pragma: no cover - the checker refused it
        raise self.expression.error("cannot be evaluated", type(node).__name__)

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in _CONSTANTS and node.id not in self.values:
            return _CONSTANTS[node.id]
        value = self.values[node.id]
        return value.to_numpy() if isinstance(value, pd.Series) else value

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = self._bool(node.values[0])
        for value in node.values[1:]:
            result = combine(result, self._bool(value))
        return result

    def _bool(self, node: ast.expr) -> Any:
        value = self.visit(node)
        array = np.asarray(value)
        if array.dtype != bool:
            raise self.expression.error(
                "joins something that is not true/false with and/or/not",
                ast.get_source_segment(self.expression.text, node),
            )
        return value

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        if isinstance(node.op, ast.Not | ast.Invert):
            return np.logical_not(self._bool(node.operand))
        value = self.visit(node.operand)
        return np.negative(value) if isinstance(node.op, ast.USub) else value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        if isinstance(node.op, ast.BitAnd | ast.BitOr):
            return _BINARY[type(node.op)](self._bool(node.left), self._bool(node.right))
        left, right = self.visit(node.left), self.visit(node.right)
        try:
            return _BINARY[type(node.op)](left, right)
        except (TypeError, ValueError) as exc:
            raise self.expression.error(
                f"cannot compute ({exc})", ast.get_source_segment(self.expression.text, node)
            ) from None

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                options = [e.value for e in right_node.elts]  # type: ignore[attr-defined]
                found = np.isin(np.asarray(left, dtype=object), np.asarray(options, dtype=object))
                outcome = found if isinstance(op, ast.In) else np.logical_not(found)
                result = np.logical_and(result, outcome)
                continue
            right = self.visit(right_node)
            try:
                outcome = _COMPARE[type(op)](left, right)
            except (TypeError, ValueError, np.exceptions.DTypePromotionError) as exc:
                raise self.expression.error(
                    f"cannot compare these values ({exc})", ast.get_source_segment(self.expression.text, node)
                ) from None
            result = np.logical_and(result, outcome)
            left = right
        return result

    def visit_Call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        spec = self.expression.functions[name]
        if spec.takes_names:
            return spec.call(*[a.id for a in node.args])  # type: ignore[attr-defined]
        return spec.call(*[self.visit(a) for a in node.args])


def parse(
    text: object,
    field_name: str,
    source: str,
    functions: Mapping[str, Function] | None = None,
    names: Iterable[str] | None = None,
) -> Expression:
    """Check ``text`` against the whitelist (and, with ``names``, that every name is known).

    ``80%`` is read as ``80/100``, so targets can say ``share_served(home) >= 80%``.
    """
    funcs = dict(FUNCTIONS if functions is None else functions)
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(source, field_name, str(text), "is empty or not text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(source, field_name, text, f"is longer than {MAX_LENGTH:,} characters")
    written = _PERCENT.sub(lambda m: f"({m.group(1)}/100)", text.strip())
    if "@" in written:
        raise ExpressionError(
            source,
            field_name,
            text,
            "'@' names (pandas local variables) are not allowed",
            written[written.index("@") :][:30],
        )
    try:
        tree = ast.parse(written, mode="eval")
    except SyntaxError as exc:
        offset = max(0, (exc.offset or 1) - 1)
        raise ExpressionError(
            source,
            field_name,
            text,
            "cannot be read",
            written[offset : offset + 20] or None,
            'Write comparisons joined by and/or, e.g. "age >= 70 and frailty <= 6".',
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError(source, field_name, text, "cannot be read (too deeply nested)") from None
    try:
        _Checker(written, field_name, source, funcs).check(tree)
    except RecursionError:
        raise ExpressionError(source, field_name, text, f"is nested over {MAX_DEPTH} levels") from None
    used = frozenset(_names(tree, funcs))
    expression = Expression(written, tree, used, field_name, source, funcs)
    if names is not None:
        unknown = sorted(used - set(names))
        if unknown:
            known = ", ".join(sorted(n for n in names if n != "true_type"))
            raise expression.error(
                f"{', '.join(repr(u) for u in unknown)} is not a column or known name",
                unknown[0],
                f"Known names: {known}.",
            )
    return expression
