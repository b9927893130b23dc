"""Scenario files: validated what-if worlds."""

from optalloc.scenario.loader import LoadedScenario, load_scenario, with_overrides
from optalloc.scenario.model import Scenario

__all__ = ["LoadedScenario", "Scenario", "load_scenario", "with_overrides"]
