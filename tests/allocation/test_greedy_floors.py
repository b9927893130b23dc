"""The greedy baseline meets floors (minimum patients, equity shares) before filling by gain."""

from __future__ import annotations

import numpy as np

from optalloc.allocation.greedy import greedy_allocation
from optalloc.allocation.problem import AllocationProblem, Limit


def test_greedy_meets_a_group_floor_with_the_cheapest_patients() -> None:
    n = 6
    benefit = np.zeros((n, 2))
    benefit[:, 1] = [5, 4, 3, 1, 1, 1]  # patients 0-2 gain most at home
    hours = np.zeros((n, 2))
    hours[:, 1] = [4, 4, 4, 1, 1, 2]
    group = np.zeros((n, 2))
    group[3:, 1] = 1.0  # patients 3-5 form the equity group; two must be at home
    problem = AllocationProblem(
        patient_ids=np.array([f"p{i}" for i in range(n)], dtype=object),
        settings=("clinic", "home"),
        benefit=benefit,
        allowed=np.ones((n, 2), dtype=bool),
        limits=(Limit("home_hours", hours, upper=6.0), Limit("group_at_home", group, lower=2.0, kind="equity")),
    )
    plain = greedy_allocation(
        AllocationProblem(problem.patient_ids, problem.settings, benefit, problem.allowed, problem.limits[:1])
    )
    assert plain.assignment.tolist() == [1, 0, 0, 0, 0, 0]  # by gain alone the group gets nobody
    result = greedy_allocation(problem)
    assert result.status.has_plan
    assert result.assignment[3:].sum() >= 2
    assert problem.is_feasible(result.assignment)
    # the two cheapest group members fill the floor, then patient 0 takes the hours left
    assert result.assignment.tolist() == [1, 0, 0, 1, 1, 0]


def test_prefix_sums_in_chunks_match_one_cumsum(monkeypatch) -> None:
    """The prefix is summed a chunk at a time; the plans are those of a single running sum, to
    the last patient, with limits binding early, late or never, and a floor met first."""
    import optalloc.allocation.greedy as greedy

    rng = np.random.default_rng(5)
    n, m = 400, 3
    benefit = rng.random((n, m)) * [0.0, 1.0, 1.5]
    hours, money = rng.random((n, m)) * [0.0, 1.0, 2.0], rng.random((n, m)) * 100
    group = np.zeros((n, m))
    group[:50, 2] = 1.0
    allowed = (rng.random((n, m)) < 0.9) | (np.arange(m) == 0)
    priority = rng.random(n)
    for upper in (5.0, 150.0, 1e9):
        problem = AllocationProblem(
            patient_ids=np.array([f"p{i}" for i in range(n)], dtype=object),
            settings=("clinic", "home", "ward"),
            benefit=benefit,
            allowed=allowed,
            limits=(
                Limit("hours", hours, upper=upper),
                Limit("budget", money, upper=30 * upper),
                Limit("group", group, lower=3.0, kind="equity"),
            ),
        )
        whole = [greedy_allocation(problem, p) for p in (priority, None)]
        monkeypatch.setattr(greedy, "PREFIX_CHUNK", 7)
        chunked = [greedy_allocation(problem, p) for p in (priority, None)]
        monkeypatch.undo()
        for a, b in zip(whole, chunked, strict=True):
            assert a.status == b.status and a.objective == b.objective
            assert np.array_equal(a.assignment, b.assignment)
