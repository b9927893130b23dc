"""Seeded synthetic allocation instances for tests and benchmarks.

The instances mimic the shape of a home-care scenario: a default clinic every patient may
use, five other settings each open to a random subset of patients, per-setting places, staff
hours and equipment that only some settings use, a budget over all settings, a minimum number
of patients in one setting and an equity floor for one group. Capacities are set from the
unconstrained best plan so that several limits bind and the lower bounds matter, while the
instance stays feasible (everyone at the clinic meets every upper bound; the lower bounds are
below what the eligible patients can supply).
"""

from __future__ import annotations

import numpy as np

from optalloc.allocation.problem import INF, AllocationProblem, Limit

SETTINGS = ("clinic", "home_nurse", "home_transfusion", "day_unit", "community", "remote")


def synthetic_problem(
    n_patients: int,
    n_settings: int = 6,
    seed: int = 0,
    tightness: float = 0.7,
    lower_bounds: bool = True,
    decimals: int | None = None,
) -> AllocationProblem:
    """A random feasible instance with ``n_settings + 4`` limits (10 for six settings).

    Parameters
    ----------
    n_patients : int
        Number of patients (rows).
    n_settings : int
        Number of settings, at most six; setting 0 is the default clinic.
    seed : int
        Seed of the generator; the same seed gives the same instance.
    tightness : float
        Capacities as a fraction of what the unconstrained best plan would use; smaller is
        tighter.
    lower_bounds : bool
        Whether to add the minimum-patients and equity rows (lower bounds).
    decimals : int, optional
        Round benefits, coefficients and bounds to this many decimals (as data typed by people
        are), which lets CP-SAT scale the model exactly.
    """
    if not 2 <= n_settings <= len(SETTINGS):
        raise ValueError(f"n_settings must be between 2 and {len(SETTINGS)}, got {n_settings}")
    rng = np.random.default_rng(seed)
    n, m = n_patients, n_settings
    settings = SETTINGS[:m]

    severity = rng.gamma(2.0, 1.0, size=n)
    effect = rng.normal(0.0, 1.0, size=(n, m)) * 0.5 + np.linspace(0.0, 1.0, m) * 0.6
    benefit = 5.0 + severity[:, None] * 0.3 + effect
    benefit[:, 0] = 5.0 + severity * 0.3  # the clinic is the reference
    allowed = rng.random((n, m)) < rng.uniform(0.5, 0.9, size=m)
    allowed[:, 0] = True

    best = np.where(allowed, benefit, -INF).argmax(axis=1)
    limits: list[Limit] = []
    for s in range(1, m):
        coef = np.zeros((n, m))
        coef[:, s] = 1.0
        want = float((best == s).sum())
        share = 1.4 if (lower_bounds and s == min(3, m - 1)) else tightness
        limits.append(
            Limit(
                f"places_{settings[s]}", coef, upper=float(np.floor(share * want)) + 1, kind="places", unit="patients"
            )
        )

    hours = np.zeros((n, m))
    home = [s for s in (1, 2) if s < m]
    hours[:, home] = rng.uniform(2.0, 12.0, size=(n, len(home))) * (1 + 0.2 * severity[:, None])
    limits.append(
        Limit(
            "home_nurse_hours",
            hours,
            upper=tightness * 0.8 * float(hours[np.arange(n), best].sum()),
            kind="resource",
            unit="hours",
        )
    )

    equipment = np.zeros((n, m))
    equipment[:, min(2, m - 1)] = rng.integers(1, 4, size=n)
    limits.append(
        Limit(
            "infusion_pumps",
            equipment,
            upper=tightness * 0.9 * float(equipment[np.arange(n), best].sum()),
            kind="resource",
            unit="pump-days",
        )
    )

    cost = rng.uniform(50.0, 400.0, size=(n, m)) * np.linspace(1.0, 1.6, m)
    clinic_cost = float(cost[:, 0].sum())
    extra = max(0.0, float(cost[np.arange(n), best].sum()) - clinic_cost)
    limits.append(Limit("budget", cost, upper=clinic_cost + 0.5 * tightness * extra + 1.0, kind="budget", unit="EUR"))

    if lower_bounds:
        s_min = min(3, m - 1)
        count = np.zeros((n, m))
        count[:, s_min] = 1.0
        eligible = float(allowed[:, s_min].sum())
        floor_ = min(float(np.ceil(1.15 * (best == s_min).sum())), 0.6 * eligible)
        limits.append(
            Limit(
                f"min_patients_{settings[s_min]}",
                count,
                lower=float(np.floor(floor_)),
                kind="min_patients",
                unit="patients",
            )
        )
        group = rng.random(n) < 0.3
        equity = np.zeros((n, m))
        equity[group, 1:] = 1.0
        want = float((best[group] != 0).sum())
        limits.append(
            Limit(
                "equity_rural_home_care",
                equity,
                lower=float(np.floor(0.5 * tightness * want)),
                kind="equity",
                unit="patients",
            )
        )

    if decimals is not None:
        benefit = np.round(benefit, decimals)
        limits = [
            Limit(
                lim.name,
                np.round(lim.coef, decimals),
                upper=float(np.round(lim.upper, decimals)),
                lower=float(np.round(lim.lower, decimals)),
                kind=lim.kind,
                unit=lim.unit,
            )
            for lim in limits
        ]
    return AllocationProblem(
        patient_ids=np.array([f"P{i:07d}" for i in range(n)]) if n <= 200_000 else np.arange(n),
        settings=settings,
        benefit=benefit,
        allowed=allowed,
        limits=tuple(limits),
        default_setting=0,
        name=f"synthetic-{n}x{m}-seed{seed}",
        objective_unit="QALY-weeks",
    )
