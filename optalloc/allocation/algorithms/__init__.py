"""Algorithms built on the solver adapters and the Lagrangian service: the decomposition for
very large cohorts, column generation for the generalized assignment form, and CP-SAT started
from the decomposition."""
