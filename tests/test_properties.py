"""Hypothesis properties on random small problems: random DAGs, latencies 0..3, edge delays, resource types with
random limits and occupancy rules, weights and communication weights.

* every schedule the solver returns (objective latency and A, short budgets) passes the independent verifier, its
  value is the verifier's evaluation and is >= the lower bound the solver reports;
* the makespan lower bound is never above the true optimum (exhaustive search on tiny problems);
* list scheduling and the legalizer always give legal schedules; ASAP <= any legal start <= ALAP under the depth
  bound;
* problems round-trip through the native JSON writer/reader and the networkx / COO adapters.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gaus_fast import bounds, verify
from gaus_fast.adapters import from_coo, from_networkx, to_coo, to_networkx
from gaus_fast.formats import read_problem, write_problem
from gaus_fast.generators import fft_example
from gaus_fast.problem import NoScheduleError, Problem, ResourceType
from gaus_fast.schedule import Schedule
from gaus_fast.solver import SolverConfig, solve

SOLVER_SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, max_ops=9, max_delay=2, limits=True, integral_weights=None, min_ops=1, shared_unit=False):
    """A random DAG problem. Ops are numbered in a random topological order; edges go forward in it.
    ``shared_unit``: every op also uses one scarce unit 'S' (limit 1 or 2), so that list scheduling has real
    choices and the solver's relaxation loop runs instead of stopping at the bound."""
    n = draw(st.integers(min_ops, max_ops))
    n_types = draw(st.integers(1, 3))
    latency = {f"T{k}": draw(st.integers(0, 3)) for k in range(n_types)}
    resources = []
    if limits:
        for r in range(draw(st.integers(0, 2))):
            occupancy = draw(st.sampled_from(["pipelined", "blocking"]))
            blocking_time = draw(st.one_of(st.none(), st.integers(1, 3))) if occupancy == "blocking" else None
            resources.append(ResourceType(f"R{r}", draw(st.one_of(st.none(), st.integers(1, 3))), occupancy, blocking_time))
    names = [r.name for r in resources]
    type_res = {t: draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names))) if names else [] for t in latency}
    if shared_unit:
        resources.append(ResourceType("S", draw(st.integers(1, 2)), draw(st.sampled_from(["pipelined", "blocking"]))))
        type_res = {t: rs + ["S"] for t, rs in type_res.items()}
    if integral_weights is None:
        integral_weights = draw(st.booleans())
    weight = st.integers(0, 5).map(float) if integral_weights else st.floats(0.0, 5.0, allow_nan=False)
    ops = []
    for i in range(n):
        t = draw(st.sampled_from(sorted(latency)))
        own = draw(st.one_of(st.none(), st.lists(st.sampled_from(names), unique=True, max_size=len(names)))) if names else None
        if own is not None and shared_unit:
            own = own + ["S"]
        ops.append((f"op{i}", t, own, draw(weight), draw(st.integers(1, 64))))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=2 * n, unique=True)) if pairs else []
    perm = draw(st.permutations(range(n)))  # edges go forward in a shuffled order, so op order != topological
    edges = [(f"op{perm[i]}", f"op{perm[j]}", draw(st.integers(0, max_delay)), 0, draw(st.sampled_from([0.0, 1.0, 2.5])))
             for i, j in chosen]
    return Problem.build(latency, ops, edges, resources, type_resources=type_res, name="rand")


# The embedded FFT example (4 or 8 points) with random unit limits: random DAGs are mostly solved to the bound by
# list scheduling alone, these make the latency solver's relaxation loop run.
ffts = st.builds(
    lambda points, lims: fft_example(points, limits=dict(zip(["LOD", "MUL", "ADD", "SUB", "STR"], lims))),
    st.sampled_from([4, 8]),
    st.lists(st.integers(1, 3), min_size=5, max_size=5),
)


def unlimited(p: Problem) -> Problem:
    return p.with_limits({r.name: None for r in p.resource_types})


# ------------------------------------------------------------------------------------------------ solver
@SOLVER_SETTINGS
@given(p=st.one_of(problems(), problems(max_ops=16, min_ops=6, shared_unit=True), ffts), seed=st.integers(0, 3))
def test_latency_solutions_are_verified_and_bounded(p, seed):
    r = solve(p, SolverConfig(objective="latency", max_iters=100, time_limit=2.0, seed=seed))
    assert verify.check(p, r.schedule) == []
    ev = verify.evaluate(p, r.schedule)
    assert r.value == ev["makespan"]
    assert r.value >= r.lower_bound == bounds.makespan_lower_bound(p)
    assert r.value <= r.baselines["list(best priority)"] <= r.baselines["list"]


@SOLVER_SETTINGS
@given(p=problems(limits=False, max_ops=14), seed=st.integers(0, 3), alpha=st.sampled_from([0.0, 0.01, 0.5]), extra=st.integers(0, 3))
def test_objective_a_solutions_are_verified_and_bounded(p, seed, alpha, extra):
    depth = bounds.longest_path_nodes(p) + extra
    r = solve(p, SolverConfig(objective="A", depth=depth, alpha=alpha, max_iters=100, time_limit=2.0, seed=seed))
    assert r.depth == depth
    assert verify.check(p.replace(depth=depth), r.schedule) == []
    ev = verify.evaluate(p, r.schedule, alpha=alpha)
    assert r.value == pytest.approx(ev["objective_a"], rel=1e-9, abs=1e-9)
    assert r.value >= r.lower_bound - 1e-9
    assert r.value <= min(r.baselines.values()) + 1e-9


@SOLVER_SETTINGS
@given(p=st.one_of(problems(max_ops=12), problems(max_ops=12, min_ops=4, shared_unit=True)), seed=st.integers(0, 3),
       extra=st.integers(0, 6))
def test_objective_a_under_limits_is_legal_or_says_no_schedule(p, seed, extra):
    """With unit limits a depth bound may be impossible to meet: then NoScheduleError, else a legal schedule."""
    depth = bounds.longest_path_nodes(p) + extra
    try:
        r = solve(p, SolverConfig(objective="A", depth=depth, max_iters=60, time_limit=2.0, seed=seed))
    except NoScheduleError:
        # Honest only if list scheduling really needs more stages than D.
        listed = bounds.list_schedule(p, bounds.alap(p, depth).astype(float))
        assert (listed + p.span).max() > depth
        return
    assert verify.check(p.replace(depth=depth), r.schedule) == []
    legal = [v for v in r.baselines.values() if np.isfinite(v)]
    assert r.value <= min(legal) + 1e-9
    assert r.value >= r.lower_bound - 1e-9


# ------------------------------------------------------------------------------------------------ lower bound
def _feasible(p: Problem, makespan: int, budget: list[int]) -> bool:
    """Is there a legal schedule with max(t + lat) <= makespan? Exhaustive search in topological order."""
    n = p.n_ops
    lat = p.latency.tolist()
    preds = [[] for _ in range(n)]
    for u, v, d in zip(p.edge_src.tolist(), p.edge_dst.tolist(), p.edge_delay.tolist()):
        preds[v].append((u, lat[u] + d))
    uses = [[] for _ in range(n)]
    for op, r, h in zip(p.use_op.tolist(), p.use_res.tolist(), p.use_len.tolist()):
        if p.resource_types[r].limit is not None:
            uses[op].append((r, h, p.resource_types[r].limit))
    indeg = [len(preds[v]) for v in range(n)]
    succ = [[] for _ in range(n)]
    for u, v in zip(p.edge_src.tolist(), p.edge_dst.tolist()):
        succ[u].append(v)
    order, ready = [], [v for v in range(n) if indeg[v] == 0]
    while ready:
        u = ready.pop()
        order.append(u)
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    t = [0] * n
    load: dict[tuple[int, int], int] = {}

    def place(k: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            raise TimeoutError
        if k == n:
            return True
        i = order[k]
        est = max((t[u] + lag for u, lag in preds[i]), default=0)
        for s in range(est, makespan - lat[i] + 1):
            cells = [((r, s + x), lim) for r, h, lim in uses[i] for x in range(h)]
            if any(load.get(c, 0) + 1 > lim for c, lim in cells):
                continue
            cells = [c for c, _ in cells]
            for c in cells:
                load[c] = load.get(c, 0) + 1
            t[i] = s
            if place(k + 1):
                return True
            for c in cells:
                load[c] -= 1
        return False

    return place(0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=st.one_of(problems(max_ops=5, max_delay=1), problems(max_ops=6, min_ops=3, max_delay=1, shared_unit=True)))
def test_makespan_lower_bound_is_valid(p):
    lb = bounds.makespan_lower_bound(p)
    assert lb >= bounds.critical_path(p)
    if lb == 0:
        return
    budget = [200_000]
    try:
        assert not _feasible(p, lb - 1, budget), "a schedule beats the lower bound"
    except TimeoutError:
        assume(False)
    start = bounds.list_schedule(p, bounds.asap(p).astype(float), mode="serial")
    assert verify.evaluate(p, Schedule(start))["makespan"] >= lb


# ------------------------------------------------------------------------------------------------ list / legalize
@FAST_SETTINGS
@given(p=problems(), data=st.data())
def test_list_schedule_and_legalize_are_legal(p, data):
    n = p.n_ops
    prio = np.array(data.draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n)))
    mode = data.draw(st.sampled_from(["parallel", "serial"]))
    start = bounds.list_schedule(p, prio, mode=mode)
    assert verify.check(p, Schedule(start)) == []

    mu = np.array(data.draw(st.lists(st.floats(-5, 30, allow_nan=False), min_size=n, max_size=n)))
    start, ok = bounds.legalize(p, mu)
    assert verify.check(p, Schedule(start)) == [] and ok
    depth = bounds.min_depth(p) + data.draw(st.integers(0, 4))
    start, ok = bounds.legalize(p, mu, depth=depth)
    assert verify.check(p, Schedule(start)) == []  # dependences and limits always hold
    if ok:
        assert verify.check(p.replace(depth=depth), Schedule(start)) == []
    if not p.has_limits():
        assert ok  # without limits every depth >= the critical path can be met

    cap = data.draw(st.floats(0.5, 20))
    start = bounds.list_schedule(unlimited(p), bounds.alap(p, depth).astype(float), weight_cap=cap)
    assert verify.check(unlimited(p), Schedule(start)) == []


@FAST_SETTINGS
@given(p=problems(), data=st.data())
def test_asap_le_legal_start_le_alap(p, data):
    n = p.n_ops
    early = bounds.asap(p)
    prio = np.array(data.draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n)))
    start = bounds.list_schedule(p, prio, mode=data.draw(st.sampled_from(["parallel", "serial"])))
    assert verify.check(p, Schedule(start)) == []
    depth = int((start + p.span).max()) + data.draw(st.integers(0, 3))
    assert verify.check(p.replace(depth=depth), Schedule(start)) == []
    late = bounds.alap(p, depth)
    assert np.all(early <= start) and np.all(start <= late)
    # ASAP and ALAP are legal themselves when nothing is limited, and tight: the critical path
    free = unlimited(p)
    assert verify.check(free.replace(depth=depth), Schedule(early)) == []
    assert verify.check(free.replace(depth=depth), Schedule(late)) == []
    assert int((early + p.latency).max()) == bounds.critical_path(p)
    assert int((early + p.span).max()) == bounds.min_depth(p)


# ------------------------------------------------------------------------------------------------ round trips
def same_problem(a: Problem, b: Problem, resources=True):
    assert a.op_ids == b.op_ids
    assert np.array_equal(a.latency, b.latency)
    for key in ("edge_src", "edge_dst", "edge_delay", "edge_distance", "edge_comm", "op_weight", "op_bits"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    if resources:
        assert a.resource_types == b.resource_types
        assert np.array_equal(a.use_ptr, b.use_ptr) and np.array_equal(a.use_res, b.use_res)
        assert [(t.name, t.latency) for t in a.operator_types] == [(t.name, t.latency) for t in b.operator_types]
        assert np.array_equal(a.op_type, b.op_type)
    assert a.depth == b.depth and a.ii == b.ii


@FAST_SETTINGS
@given(p=problems(), depth=st.one_of(st.none(), st.integers(20, 40)))
def test_native_json_round_trip(p, depth, tmp_path_factory):
    p = p.replace(depth=depth)
    path = tmp_path_factory.mktemp("rt") / "p.json"
    write_problem(path, p, "json")
    q = read_problem(path)
    same_problem(p, q)
    assert q.name == "rand"


@FAST_SETTINGS
@given(p=problems())
def test_networkx_round_trip(p):
    pair = p.edge_src.astype(np.int64) * p.n_ops + p.edge_dst
    assume(len(np.unique(pair)) == p.n_edges)  # no parallel edges (those give a MultiDiGraph, tested elsewhere)
    q = from_networkx(to_networkx(p))
    assert q.name == p.name
    # networkx keeps edges grouped by source: compare edge sets with their attributes
    key = lambda x: sorted(zip(x.edge_src.tolist(), x.edge_dst.tolist(), x.edge_delay.tolist(), x.edge_comm.tolist()))  # noqa: E731
    assert key(p) == key(q)
    assert q.op_ids == p.op_ids and np.array_equal(q.latency, p.latency)
    assert np.array_equal(q.op_weight, p.op_weight) and np.array_equal(q.op_bits, p.op_bits)
    assert q.resource_types == p.resource_types
    assert np.array_equal(q.use_ptr, p.use_ptr) and np.array_equal(q.use_res, p.use_res)


@FAST_SETTINGS
@given(p=problems())
def test_coo_round_trip(p):
    q = from_coo(**to_coo(p))
    same_problem(p, q, resources=False)
    # the same schedules are legal for both (ignoring resources, which COO does not carry)
    start = bounds.asap(p)
    assert verify.check(q, Schedule(start)) == [] == verify.check(unlimited(p), Schedule(start))
