"""optalloc: turn patient records into a defensible allocation of patients to care settings.

The stages run one way, each taking and returning plain tables, arrays and dataclasses:
``cohort`` -> ``segments`` -> ``risk`` -> ``estimates`` -> ``allocation`` -> ``scenario``/``studio``.
"""

__version__ = "0.1.0"
