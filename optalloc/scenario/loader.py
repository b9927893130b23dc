"""Reading scenario TOML files, with ``extends`` for what-ifs that override only what changes."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from optalloc.errors import ScenarioError
from optalloc.scenario.model import Scenario
from optalloc.scenario.uncertain import Distribution, split_distributions


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from and the merged text behind it.

    ``scenario`` is always point-valued: a distribution in the file stands there at its expected
    value, and ``distributions`` (dotted path -> :class:`Distribution`) keeps the distribution
    itself for the uncertainty analysis. ``raw`` is the merged table as written, distributions
    included.
    """

    scenario: Scenario
    path: Path
    raw: dict[str, Any]
    text_hash: str
    distributions: dict[str, Distribution] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    def resolve(self, relative: str) -> Path:
        """A path written in the scenario, taken relative to the scenario file's folder."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else (self.path.parent / candidate)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (numbers, strings, lists) replaces the base's."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file. Check the path (scenarios live under scenarios/).")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}). Fix the syntax at that line and try again.") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a UTF-8 text file; a scenario must be TOML text.") from exc


def read_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The scenario's table with every ``extends`` parent merged underneath it."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ScenarioError(f"{path}: 'extends' forms a cycle ({chain}). Remove one of the links.")
    raw = _read_toml(path)
    parent = raw.get("extends")
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: field 'extends' must be a file name such as \"baseline.toml\".")
    base = read_raw(path.parent / parent, (*_seen, path))
    child = {k: v for k, v in raw.items() if k != "extends"}
    merged = deep_merge({k: v for k, v in base.items() if k != "extends"}, child)
    merged["extends"] = parent
    return merged


def _field_path(location: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def validate_raw(raw: dict[str, Any], path: Path) -> Scenario:
    """Validate a merged table, turning pydantic's report into one paragraph naming the field."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            where = _field_path(tuple(error["loc"]))
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check its spelling against the documented scenario fields)"
            problems.append(f"field '{where}': {message}")
        more = f" (and {len(exc.errors()) - 5} more)" if len(exc.errors()) > 5 else ""
        raise ScenarioError(
            f"{path}: invalid scenario: " + "; ".join(problems) + more + ". Correct the file and run again.",
            problems=tuple(problems),
        ) from None


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read, merge and validate one scenario file."""
    source = Path(path)
    return from_raw(read_raw(source), source)


def from_raw(raw: dict[str, Any], path: Path) -> LoadedScenario:
    """Validate a merged table (as read, or as stored with a recorded run) into a LoadedScenario.

    Distribution tables are replaced by their expected values before validation and kept
    beside the point-valued scenario.
    """
    raw = pseudonymize_pins(raw)
    point, distributions = split_distributions(raw, path)
    scenario = validate_raw(point, path)
    check_expressions(scenario, path)
    _check_supports(point, distributions, path)
    digest = hashlib.sha256(repr(sorted(_flatten(raw))).encode()).hexdigest()
    return LoadedScenario(
        scenario=scenario, path=Path(path).resolve(), raw=raw, text_hash=digest, distributions=distributions
    )


def pseudonymize_pins(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``[pins]`` with every original patient id replaced by its pseudonym as soon as the file
    is read, so no raw identifier is kept, recorded with a run or printed.

    A key already in the form optalloc shows (``p`` + 16 hex digits) is kept as typed; the
    build step then accepts it only if it is one of the cohort's pseudonyms (and otherwise
    treats it as an original id), so the shape never decides alone.
    """
    pins = raw.get("pins")
    if not isinstance(pins, Mapping) or not pins:
        return dict(raw)
    from optalloc.privacy import is_pseudonym, pseudonymize

    keys = [str(k) for k in pins]
    hashed = pseudonymize([k for k in keys if not is_pseudonym(k)])
    mapping = dict(zip([k for k in keys if not is_pseudonym(k)], map(str, hashed), strict=True))
    return {**raw, "pins": {mapping.get(k, k): v for k, v in zip(keys, pins.values(), strict=True)}}


def check_expressions(scenario: Scenario, path: Path) -> None:
    """Parse every expression of the scenario through the one safe language, at load time, so
    a hostile or mistyped condition names its file and field before any work is done (which
    columns exist is checked when the cohort is known)."""
    from optalloc.expressions import parse

    for name, setting in scenario.settings.items():
        if setting.eligibility:
            parse(setting.eligibility, f"settings.{name}.eligibility", str(path))
        if isinstance(setting.effect, str):
            parse(setting.effect, f"settings.{name}.effect", str(path))
    for k, rule in enumerate(scenario.equity):
        parse(rule.group, f"equity[{k}].group", str(path))
    for name, text in scenario.quantities.stated().items():
        if text is not None:
            parse(text, f"quantities.{name}", str(path))


def _patched(raw: Mapping[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    keys = dotted.split(".")
    patch: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        patch = {key: patch}
    return deep_merge(dict(raw), patch)


def _check_supports(point: Mapping[str, Any], distributions: Mapping[str, Any], path: Path) -> None:
    """Every value a distribution can draw must be one the field accepts, or a run would fail
    part-way (and only for some seeds). Its practical ends (quantiles 1e-9 and 1 - 1e-9) are
    validated in place of the mean, so the field's own bounds decide, whatever the field."""
    for where, dist in distributions.items():
        for value in (dist.ppf(1e-9), dist.ppf(1 - 1e-9)):
            try:
                validate_raw(_patched(point, where, value), path)
            except ScenarioError as exc:
                reason = "; ".join(exc.problems) or str(exc)
                raise ScenarioError(
                    f"{path}: field '{where}': the distribution can draw {value:.4g}, which the field "
                    f"does not accept ({reason}). Narrow it (a normal takes low and high bounds)."
                ) from None


def with_overrides(loaded: LoadedScenario, overrides: Mapping[str, Any]) -> LoadedScenario:
    """A copy with dotted-path values replaced (``resources.home_nurse_hours`` -> 4000), re-validated.

    A number replaces a distribution at the same path (that is how a draw is made); a path
    into a distribution (``settings.home.effect.mode``) changes one of its parameters.
    """
    raw: dict[str, Any] = dict(loaded.raw)
    for dotted, value in overrides.items():
        raw = _patched(raw, dotted, value)
    return from_raw(raw, loaded.path)


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(_flatten(value, name + "."))
        else:
            items.append((name, repr(value)))
    return items
