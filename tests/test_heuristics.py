"""Heuristics (gaus_fast.heuristics): list scheduling priorities, force-directed scheduling and SDC.

Every schedule is checked by the independent verifier and its value recomputed; on small graphs no heuristic
may beat the exact optimum (CP-SAT), and on structured cases the expected answer is known in closed form.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from gaus_fast import bounds, heuristics, verify
from gaus_fast.generators import fft_example, layered_dag
from gaus_fast.problem import NoScheduleError, OperatorType, Problem, ProblemError, ResourceType
from gaus_fast.schedule import Schedule


def check(problem, res, alpha=0.01):
    """Legal (with the depth bound for A), value = the verifier's, and not below the lower bound."""
    checked = problem.replace(depth=res.depth) if res.objective == "A" else problem
    assert verify.check(checked, Schedule(res.start)) == []
    ev = verify.evaluate(problem, Schedule(res.start), alpha=alpha)
    key = "objective_a" if res.objective == "A" else "makespan"
    assert res.value == pytest.approx(ev[key], abs=1e-9)
    if res.objective == "A":
        assert res.value >= bounds.peak_weight_lower_bound(problem, res.depth) - 1e-9
    else:
        assert res.value >= bounds.makespan_lower_bound(problem)


def limited_dag(seed, n=40, limit=2):
    """A random DAG with two blocking operator types (latency 1 and 2), each on its own limited unit type."""
    rng = np.random.default_rng(seed)
    types = [OperatorType("ADD", 1), OperatorType("MUL", 2)]
    res = [ResourceType("ADD", limit, "blocking"), ResourceType("MUL", limit, "blocking")]
    ops = [(f"o{i}", "ADD" if rng.random() < 0.6 else "MUL", None, float(rng.integers(1, 5))) for i in range(n)]
    edges = [(f"o{i}", f"o{j}", 0, 0, 1.0) for i in range(n) for j in range(i + 1, min(n, i + 6)) if rng.random() < 0.3]
    return Problem.build(types, ops, edges, res, type_resources={"ADD": ["ADD"], "MUL": ["MUL"]}, name=f"lim{seed}")


CASES_A = [
    ("layered-ones", lambda: layered_dag(80, 200, 8, seed=1)),
    ("layered-random", lambda: layered_dag(120, 300, 10, seed=2, weights="random")),
    ("limited", lambda: limited_dag(3)),
]


# ------------------------------------------------------------------------------------------ every method
@pytest.mark.parametrize("method", heuristics.METHODS)
@pytest.mark.parametrize("name, make", CASES_A)
def test_objective_a_schedules_are_legal(method, name, make):
    p = make()
    depth = bounds.longest_path_nodes(p)
    if name == "limited":  # room for the unit limits: the best list schedule's length, plus slack
        depth = int(heuristics.list_scheduling(p, "latency")[0].value) + 3
    res = heuristics.run(p, method, "A", depth=depth, alpha=0.01, time_limit=10)
    assert res.depth == depth
    check(p, res)


@pytest.mark.parametrize("method", heuristics.METHODS)
@pytest.mark.parametrize("make", [lambda: fft_example(8), lambda: limited_dag(4), lambda: limited_dag(5, limit=1)])
def test_makespan_schedules_are_legal(method, make):
    p = make()
    res = heuristics.run(p, method, "latency", time_limit=10)
    check(p, res)


def test_no_heuristic_beats_the_exact_optimum():
    pytest.importorskip("ortools")
    from gaus_fast import exact

    for seed in range(2):
        p = limited_dag(10 + seed, n=12)
        opt = exact.solve_makespan(p, backend="cpsat", time_limit=20)
        assert opt.status == "optimal"
        for method in heuristics.METHODS:
            assert heuristics.run(p, method, "latency", time_limit=5).value >= opt.value
        q = layered_dag(14, 25, 5, seed=seed, weights="random")
        opt = exact.solve_objective_a(q, backend="cpsat", time_limit=20)
        assert opt.status == "optimal"
        for method in heuristics.METHODS:
            assert heuristics.run(q, method, "A", time_limit=5).value >= opt.value - 1e-9


# ------------------------------------------------------------------------------------------ list scheduling
def test_list_scheduling_tries_every_priority_best_first():
    p = fft_example(16)
    res = heuristics.list_scheduling(p, "latency")
    names = {r.method for r in res}
    for prio in heuristics.priorities(p):
        assert f"list[{prio},parallel]" in names and f"list[{prio},serial]" in names
    assert [r.value for r in res] == sorted(r.value for r in res)
    for r in res:
        check(p, r)


def test_list_scheduling_a_meets_the_weight_bound_on_independent_ops():
    # no edges, unit weights: list scheduling under the bisected capacity fills every stage evenly
    n, depth = 37, 5
    p = Problem(op_ids=[str(i) for i in range(n)], op_type=np.zeros(n), operator_types=[OperatorType("op", 0)],
                edge_src=[], edge_dst=[])
    best = heuristics.list_scheduling(p, "A", depth=depth, alpha=0.0)[0]
    assert best.value == math.ceil(n / depth)


def test_random_priority_depends_on_the_seed():
    p = layered_dag(50, 100, 6, seed=0)
    a = heuristics.priorities(p, seed=1)["random"]
    b = heuristics.priorities(p, seed=2)["random"]
    assert sorted(a) == sorted(b) == list(range(p.n_ops)) and not np.array_equal(a, b)


# ------------------------------------------------------------------------------------------ force-directed
def test_fds_balances_independent_ops_exactly():
    rng = np.random.default_rng(0)
    n, depth = 60, 6
    p = Problem(op_ids=[str(i) for i in range(n)], op_type=np.zeros(n), operator_types=[OperatorType("op", 0)],
                edge_src=[], edge_dst=[], op_weight=np.ones(n))
    res = heuristics.force_directed(p, "A", depth=depth, alpha=0.0)
    assert np.bincount(res.start, minlength=depth).tolist() == [10] * depth
    # random weights: within one largest weight of the average
    w = rng.integers(1, 20, size=n).astype(float)
    res = heuristics.force_directed(p.replace(op_weight=w), "A", depth=depth, alpha=0.0)
    assert res.value <= w.sum() / depth + w.max()


def test_fds_spreads_latency_zero_chains():
    """Unit weights on a layered DAG with latency-0 edges: the second-order frame term keeps FDS balanced
    (without it the greedy piled half the ops into the last stage)."""
    p = layered_dag(60, 150, 8, seed=1)
    res = heuristics.force_directed(p, "A", depth=8, alpha=0.0)
    assert res.value <= math.ceil(60 / 8) + 1


@pytest.mark.parametrize("batch", [0.0, 0.05, 0.5])
def test_fds_batches_are_legal(batch):
    p = layered_dag(150, 400, 10, seed=3, weights="random")
    res = heuristics.force_directed(p, "A", batch=batch)
    check(p, res)
    assert res.info["completed"]


def test_fds_out_of_time_still_returns_a_legal_schedule():
    p = layered_dag(400, 1000, 12, seed=4, weights="random")
    res = heuristics.force_directed(p, "A", time_limit=1e-6, batch=0.0)
    check(p, res)
    assert not res.info["completed"]


def test_fds_resource_balancing_meets_limits_when_the_bound_is_loose():
    p = limited_dag(6, n=30, limit=2)
    res = heuristics.force_directed(p, "latency", time_limit=10)
    check(p, res)


# ------------------------------------------------------------------------------------------ SDC
def test_sdc_without_limits_reaches_the_critical_path():
    p = fft_example(16).with_limits({"LOD": None, "MUL": None, "ADD": None, "SUB": None, "STR": None})
    res = heuristics.sdc(p, "latency")
    check(p, res)
    assert res.value == bounds.critical_path(p)


def test_sdc_communication_only_is_the_lp_optimum():
    # lam = 0: the LP minimises communication alone; on a latency-0 DAG that is 0 (everything in one stage),
    # and the legalised schedule keeps it (rounding an integral LP vertex changes nothing)
    p = layered_dag(50, 120, 6, seed=5)
    res = heuristics.sdc(p, "A", alpha=1.0, lam=0.0)
    check(p, res, alpha=1.0)
    assert res.info["lp_value"] == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input():
    p = fft_example(8)
    with pytest.raises(ProblemError, match="unknown objective"):
        heuristics.run(p, "list", "B")
    with pytest.raises(ProblemError, match="unknown heuristic"):
        heuristics.run(p, "tabu")
    with pytest.raises(ProblemError, match="unknown priority"):
        heuristics.list_scheduling(p, "latency", names=["nope"])
    with pytest.raises(ProblemError, match="below the critical path"):
        heuristics.force_directed(p, "A", depth=2)
    with pytest.raises(NoScheduleError):
        heuristics.list_scheduling(p, "A", depth=bounds.min_depth(p))  # one LOD unit: 8 loads need 8 steps
