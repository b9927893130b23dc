"""Thin adapters, one per solver library (HiGHS, CBC, CP-SAT), behind one interface.

Each adapter imports only the problem and result types, ``structure`` and ``lagrangian``; never
another adapter or an algorithm. The registry of names is ``optalloc.allocation.registry``; the
entry point for solving is ``optalloc.allocation.auto.solve``.
"""
