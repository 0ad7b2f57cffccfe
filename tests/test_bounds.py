"""`gaus_fast.bounds` on hand-made graphs with known answers: ASAP/ALAP, critical path, depth, lower bounds, and
the list scheduler / legalizer / objective-A polish wrappers."""
from __future__ import annotations

import numpy as np
import pytest

from gaus_fast import bounds, score, verify
from gaus_fast.generators import fft_example, layered_dag
from gaus_fast.problem import Problem, ProblemError, ResourceType
from gaus_fast.schedule import Schedule


def chain():
    """a(2) -> b(1) -[delay 1]-> c(3)."""
    return Problem.build({"A": 2, "B": 1, "C": 3}, [("a", "A"), ("b", "B"), ("c", "C")], [("a", "b"), ("b", "c", 1)])


def diamond():
    """s(1) -> {x(3), y(1)} -> t(0), plus a free op f(2)."""
    return Problem.build(
        {"S": 1, "X": 3, "Y": 1, "T": 0, "F": 2},
        [("s", "S"), ("x", "X"), ("y", "Y"), ("t", "T"), ("f", "F")],
        [("s", "x"), ("s", "y"), ("x", "t"), ("y", "t")],
    )


def independent(n, lat, occupancy, limit=1, pre=None, post=None):
    """n independent ops of latency ``lat`` on one unit type, optionally all after ``pre`` / before ``post``
    (latency-3 ops that use no unit)."""
    ops = [(f"o{k}", "U") for k in range(n)]
    edges = []
    types = {"U": lat, "P": 3}
    if pre:
        ops.append(("pre", "P", []))
        edges += [("pre", f"o{k}") for k in range(n)]
    if post:
        ops.append(("post", "P", []))
        edges += [(f"o{k}", "post") for k in range(n)]
    return Problem.build(types, ops, edges, [ResourceType("R", limit, occupancy)], type_resources={"U": ["R"]})


# ------------------------------------------------------------------------------------------------ ASAP / ALAP
def test_asap_alap_chain():
    p = chain()
    assert bounds.asap(p).tolist() == [0, 2, 4]
    assert bounds.critical_path(p) == 7
    assert bounds.min_depth(p) == 7
    assert bounds.alap(p, 7).tolist() == [0, 2, 4]
    assert bounds.alap(p, 9).tolist() == [2, 4, 6]
    assert bounds.longest_path_nodes(p) == 7  # edges count at least one step; latencies > 1 count in full


def test_asap_alap_diamond():
    p = diamond()
    assert bounds.asap(p).tolist() == [0, 1, 1, 4, 0]
    assert bounds.critical_path(p) == 4  # s(1) + x(3); t has latency 0
    assert bounds.min_depth(p) == 5  # but t still takes a stage
    assert bounds.alap(p, 5).tolist() == [0, 1, 3, 4, 3]
    # alap with an explicit span (latency + 1, as the makespan target uses)
    assert bounds.alap(p, 6, span=p.latency + 1).tolist() == [1, 2, 4, 5, 3]


def test_latency_zero_chain():
    p = Problem.build({"z": 0}, [("a", "z"), ("b", "z"), ("c", "z"), ("d", "z")], [("a", "b"), ("b", "c")])
    assert bounds.asap(p).tolist() == [0, 0, 0, 0]
    assert bounds.critical_path(p) == 0
    assert bounds.min_depth(p) == 1
    assert bounds.longest_path_nodes(p) == 3  # the ICML'24 default D: nodes on the longest path
    assert bounds.alap(p, 3).tolist() == [2, 2, 2, 2]


def test_loop_carried_edges_are_ignored():
    p = Problem.build({"t": 2}, [("a", "t"), ("b", "t")], [("a", "b"), ("b", "a", 0, 1)], ii=4)
    assert bounds.asap(p).tolist() == [0, 2] and bounds.critical_path(p) == 4


def test_empty():
    p = Problem.build({}, [])
    assert bounds.critical_path(p) == 0 and bounds.min_depth(p) == 0 and bounds.longest_path_nodes(p) == 0
    assert bounds.peak_weight_lower_bound(p, 3) == 0.0


def test_check_depth():
    p = chain()
    bounds.check_depth(p, 7)
    with pytest.raises(ProblemError, match="depth bound 6 is below the critical path: at least 7"):
        bounds.check_depth(p, 6)


# ------------------------------------------------------------------------------------------------ makespan bound
@pytest.mark.parametrize(
    "problem, expected",
    [
        (independent(4, 2, "blocking"), 8),  # 4 holds of 2 steps on one unit
        (independent(4, 2, "blocking", limit=2), 4),
        (independent(4, 2, "pipelined"), 5),  # starts 0..3, the last ends at 5
        (independent(5, 1, "pipelined", limit=2), 3),
        (independent(2, 1, "blocking", pre=True), 5),  # head: nothing starts before 3
        (independent(2, 1, "blocking", post=True), 5),  # tail: 3 more steps after the last unit use
        (independent(3, 2, "blocking", pre=True, post=True), 12),  # 3 + 6 + 3
    ],
)
def test_makespan_lower_bound_known(problem, expected):
    assert bounds.makespan_lower_bound(problem) == expected
    # ...and it is tight here: a list schedule reaches it
    start = bounds.list_schedule(problem, bounds.asap(problem).astype(float), mode="serial")
    assert verify.check(problem, Schedule(start)) == []
    assert score.makespan(problem, start) == expected


def test_makespan_lower_bound_without_limits_is_critical_path():
    p = chain()
    assert bounds.makespan_lower_bound(p) == bounds.critical_path(p) == 7
    q = independent(6, 2, "blocking", limit=None)
    assert bounds.makespan_lower_bound(q) == 2


def test_makespan_lower_bound_fft():
    p = fft_example()
    assert bounds.critical_path(p) == 1 + 4 * (2 + 1) + 1  # load, 4 butterfly stages (MUL + ADD), store
    # The single LOD unit: 16 loads take steps 0..15, and the last one still has 4 stages and a store after it.
    assert bounds.makespan_lower_bound(p) == 16 + 4 * 3 + 1
    start = bounds.list_schedule(p, bounds.alap(p, 200).astype(float))
    assert bounds.makespan_lower_bound(p) <= score.makespan(p, start)


# ------------------------------------------------------------------------------------------------ peak-weight bound
def test_peak_weight_lower_bound():
    p = Problem.build({"t": 0}, [(f"o{k}", "t", None, w) for k, w in enumerate([3, 1, 1, 1])])
    assert bounds.peak_weight_lower_bound(p, 2) == 3.0  # max(3, 6/2)
    assert bounds.peak_weight_lower_bound(p, 1) == 6.0
    assert bounds.peak_weight_lower_bound(p, 4) == 3.0  # the largest weight
    ones = Problem.build({"t": 0}, [(f"o{k}", "t") for k in range(5)])
    assert bounds.peak_weight_lower_bound(ones, 2) == 3.0  # integral weights: ceil(2.5)
    frac = Problem.build({"t": 0}, [(f"o{k}", "t", None, w) for k, w in enumerate([0.5, 0.5, 0.4])])
    assert bounds.peak_weight_lower_bound(frac, 2) == pytest.approx(0.7)


# ------------------------------------------------------------------------------------------------ list / legalize
def test_list_schedule_priorities():
    p = independent(3, 1, "pipelined")
    assert bounds.list_schedule(p, np.array([2.0, 0.0, 1.0])).tolist() == [2, 0, 1]
    assert bounds.list_schedule(p, np.array([0.0, 1.0, 2.0]), mode="serial").tolist() == [0, 1, 2]


def test_list_schedule_blocking_and_weight_cap():
    p = independent(3, 2, "blocking")
    start = bounds.list_schedule(p, np.zeros(3))
    assert sorted(start.tolist()) == [0, 2, 4]
    free = Problem.build({"t": 1}, [(f"o{k}", "t", None, 2.0) for k in range(3)])
    capped = bounds.list_schedule(free, np.zeros(3), weight_cap=4.0)
    assert sorted(capped.tolist()) == [0, 0, 1]
    assert bounds.list_schedule(free, np.zeros(3)).tolist() == [0, 0, 0]


def test_legalize():
    p = independent(2, 2, "blocking")
    start, ok = bounds.legalize(p, np.array([0.0, 0.2]))
    assert ok and start.tolist() == [0, 2]
    start, ok = bounds.legalize(p, np.array([0.0, 0.2]), depth=4)
    assert ok and verify.check(p.replace(depth=4), Schedule(start)) == []
    start, ok = bounds.legalize(p, np.array([0.0, 0.2]), depth=3)  # two 2-step holds on one unit need 4
    assert not ok and verify.check(p, Schedule(start)) == []  # dependences and limits still hold
    c = chain()
    start, ok = bounds.legalize(c, np.array([5.0, 0.0, 0.0]))
    assert verify.check(c, Schedule(start)) == [] and ok


def test_polish_objective_a_never_worse():
    p = layered_dag(60, 150, 8, seed=4, weights="random")
    depth = bounds.longest_path_nodes(p) + 2
    start = bounds.asap(p)
    polished = bounds.polish_objective_a(p, start, 0.01, depth)
    assert verify.check(p.replace(depth=depth), Schedule(polished)) == []
    assert score.objective_a(p, polished, 0.01) <= score.objective_a(p, start, 0.01) + 1e-9


def test_polish_objective_a_swaps_when_single_moves_are_stuck():
    """Steps {5, 3} and {4, 2}: moving any one op raises the peak of 8, swapping 3 and 2 balances it to 7 (the
    optimum, 14 / 2). Then a random layered graph with few steps, where swaps are tried most."""
    ops = [(name, "U", [], w, 32) for name, w in (("a", 5), ("b", 3), ("c", 4), ("d", 2))]
    p = Problem.build({"U": 1}, ops)
    polished = bounds.polish_objective_a(p, np.array([0, 0, 1, 1]), 0.0, 2)
    assert score.objective_a(p, polished, 0.0) == 7
    assert sorted(polished[[1, 3]]) == [0, 1]

    q = layered_dag(300, 900, 6, seed=9, weights="random")
    depth = bounds.longest_path_nodes(q)
    start = bounds.asap(q)
    polished = bounds.polish_objective_a(q, start, 0.01, depth)
    assert verify.check(q.replace(depth=depth), Schedule(polished)) == []
    assert score.objective_a(q, polished, 0.01) < score.objective_a(q, start, 0.01)


def test_makespan_lower_bound_with_latency_zero_ops():
    """Regression: the tail computation called the core's ALAP with span = latency, which refuses 0."""
    p = Problem.build({"z": 0, "u": 1}, [("a", "z"), ("b", "u"), ("c", "u")], [("a", "b")],
                      [ResourceType("R", 1, "pipelined")], type_resources={"u": ["R"], "z": ["R"]})
    assert bounds.critical_path(p) == 1
    assert bounds.makespan_lower_bound(p) == 3  # a, b, c each need the unit in a step of their own; c ends at 3
    single = Problem.build({"z": 0}, [("a", "z")], [], [ResourceType("R", 1)], type_resources={"z": ["R"]})
    assert bounds.makespan_lower_bound(single) == 0
