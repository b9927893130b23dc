"""Problem instances from outside the scenario pipeline: OR-Library GAP files and synthetic
problems for benchmarks and tests."""
