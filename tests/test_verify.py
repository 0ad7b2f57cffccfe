"""Tests of the independent verifier / evaluator (gaus_fast.verify).

Hand-built problems with known answers, a hypothesis property test against a deliberately naive pure-Python
reference (below), and a 1M-op / 5M-edge speed smoke test.
"""
from __future__ import annotations

import time
from collections import defaultdict
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaus_fast import verify as V
from gaus_fast.problem import OperatorType, Problem, ProblemError, ResourceType
from gaus_fast.schedule import Schedule


def S(*starts, ii=None):
    return Schedule(np.array(starts, dtype=np.int64), ii)


def chain(lat_a=2, delay=0, **kw):
    return Problem.build({"A": lat_a, "B": 1}, [("a", "A"), ("b", "B")], [("a", "b", delay, 0, 0.0)], **kw)


# ------------------------------------------------------------------------------------------------ schedule shape
def test_wrong_length():
    p = chain()
    msgs = V.check(p, S(0))
    assert len(msgs) == 1 and "1 start steps" in msgs[0] and "2 operations" in msgs[0]
    assert not V.verify(p, S(0))
    with pytest.raises(ProblemError):
        V.evaluate(p, S(0))


def test_non_integer_starts():
    p = chain()
    s = S(0, 2)
    s.start = np.array([0.0, 2.5])  # Schedule() itself truncates floats, so bypass it
    msgs = V.check(p, s)
    assert len(msgs) == 1 and "not (in-range) integers" in msgs[0] and "t(b)=2.5" in msgs[0]
    s.start = np.array([0.0, np.nan])
    assert not V.verify(p, s)
    s.start = np.array([0.0, 2.0])  # integral floats are fine
    assert V.check(p, s) == []


def test_negative_start():
    p = chain()
    assert V.check(p, S(-3, 0)) == ["op a starts at negative step -3"]
    assert V.check(p, S(0, 2)) == []


# ------------------------------------------------------------------------------------------------ dependences
def test_dependence_violation_message_and_fix():
    p = chain(lat_a=2)
    assert V.check(p, S(3, 4)) == ["dependence a -> b violated: t(a)=3 + lat 2 + delay 0 > t(b)=4"]
    assert V.verify(p, S(3, 5))
    assert V.report(p, S(3, 4)).counts["dependence"] == 1


def test_dependence_delay():
    p = chain(lat_a=1, delay=2)
    assert V.check(p, S(0, 2)) == ["dependence a -> b violated: t(a)=0 + lat 1 + delay 2 > t(b)=2"]
    assert V.verify(p, S(0, 3))


def test_loop_carried_dependence_uses_ii():
    # a -> b (lat 2), b -> a carried one iteration: t_b + 1 <= t_a + II
    p = Problem.build({"A": 2, "B": 1}, [("a", "A"), ("b", "B")], [("a", "b"), ("b", "a", 0, 1, 0.0)])
    assert V.verify(p, S(0, 2, ii=3))
    msgs = V.check(p, S(0, 2, ii=2))
    assert msgs == ["dependence b -> a violated: t(b)=2 + lat 1 + delay 0 > t(a)=0 + distance 1 * II 2"]
    # the problem's II is used when the schedule has none; the schedule's II wins when both are given
    assert V.verify(p.replace(ii=3), S(0, 2))
    assert not V.verify(p.replace(ii=3), S(0, 2, ii=2))


def test_loop_carried_without_ii():
    p = Problem.build({"A": 1}, [("a", "A"), ("b", "A")], [("a", "b"), ("b", "a", 0, 2, 0.0)])
    msgs = V.check(p, S(0, 1))
    assert len(msgs) == 1 and "no II" in msgs[0] and "b -> a" in msgs[0]
    assert V.report(p, S(0, 1)).counts["ii"] == 1
    assert V.verify(p, S(0, 1, ii=1))
    with pytest.raises(ProblemError, match="no II"):
        V.evaluate(p, S(0, 1))


def test_bad_schedule_ii():
    p = chain()
    assert V.check(p, S(0, 2, ii=0)) == ["II must be an integer >= 1, got 0"]
    with pytest.raises(ProblemError):
        V.evaluate(p, S(0, 2, ii=0))


def test_latency_zero_ops():
    p = Problem.build(
        {"Z": 0, "A": 1},
        [("z", "Z"), ("w", "Z"), ("a", "A")],
        [("z", "w"), ("w", "a")],
        resource_types=[ResourceType("port", 1, "blocking")],
        type_resources={"Z": ["port"]},
        depth=1,
    )
    # a latency-0 op may feed another one in the same step, but each still holds a blocking unit one step
    # and takes one stage against the depth bound
    msgs = V.check(p, S(0, 0, 0))
    assert any(m.startswith("resource port (blocking) over its limit 1 at step 0: 2 units in use by ops z, w") for m in msgs)
    assert V.report(p, S(0, 0, 0)).counts == {"start": 0, "ii": 0, "dependence": 0, "resource": 1, "depth": 0}
    assert not V.verify(p, S(0, 1, 1))  # depth: w ends at 1 + max(0, 1) = 2 > 1
    assert V.verify(p.replace(depth=2), S(0, 1, 1))
    ev = V.evaluate(p, S(0, 1, 1))
    assert ev["makespan"] == 2 and ev["length_stages"] == 2


# ------------------------------------------------------------------------------------------------ resources
def two_long_ops(occupancy, limit=1, blocking_time=None, ii=None):
    return Problem.build(
        {"L": 3},
        [("x", "L"), ("y", "L")],
        resource_types=[ResourceType("alu", limit, occupancy, blocking_time)],
        type_resources={"L": ["alu"]},
        ii=ii,
    )


def test_pipelined_vs_blocking():
    s = S(0, 1)
    assert V.verify(two_long_ops("pipelined"), s)
    blocking = two_long_ops("blocking")
    assert V.check(blocking, s) == ["resource alu (blocking) over its limit 1 at steps 1..2: 2 units in use by ops x, y"]
    assert V.report(blocking, s).counts["resource"] == 2
    assert V.verify(blocking, S(0, 3))
    assert V.verify(two_long_ops("blocking", blocking_time=1), s)
    assert not V.verify(two_long_ops("blocking", blocking_time=2), s)
    assert V.check(two_long_ops("pipelined"), S(2, 2)) == [
        "resource alu (pipelined) over its limit 1 at step 2: 2 units in use by ops x, y"
    ]
    assert V.evaluate(blocking, s)["peak_usage"] == {"alu": 2}
    assert V.evaluate(two_long_ops("pipelined"), s)["peak_usage"] == {"alu": 1}


def test_unlimited_resource_never_violated():
    p = two_long_ops("blocking", limit=None)
    assert V.verify(p, S(0, 0))
    assert V.evaluate(p, S(0, 0))["peak_usage"] == {"alu": 2}


def test_modulo_slot_counting():
    # pipelined, II = 2: starts 0 and 2 share slot 0; 0 and 3 do not
    p = two_long_ops("pipelined", ii=2)
    assert V.check(p, S(0, 2)) == ["resource alu (pipelined) over its limit 1 at slot 0 (mod II=2): 2 units in use by ops x, y"]
    assert V.verify(p, S(0, 3))
    assert V.evaluate(p, S(0, 2))["peak_usage"] == {"alu": 2}
    assert V.evaluate(p, S(0, 3))["peak_usage"] == {"alu": 1}
    # the same starts without modulo semantics (no problem II, no carried edge) are fine
    assert V.verify(two_long_ops("pipelined"), S(0, 2, ii=2))
    # blocking with hold 3 >= II 2 wraps round: one op alone uses slot 0 twice (t=0: slots 0, 1, 0)
    b = two_long_ops("blocking", limit=2, ii=2)
    assert V.evaluate(b, S(0, 10))["peak_usage"] == {"alu": 4}
    # slot 0: 2 + 2 = 4 units > 2; slot 1: 1 + 1 = 2 units, within the limit
    assert V.report(b, S(0, 10)).counts["resource"] == 1
    assert V.check(b, S(0, 10)) == ["resource alu (blocking) over its limit 2 at slot 0 (mod II=2): 4 units in use by ops x, y"]


def test_modulo_blocking_wrap():
    p = Problem.build(
        {"L": 2, "S": 1},
        [("x", "L"), ("y", "S")],
        resource_types=[ResourceType("bus", 1, "blocking")],
        type_resources={"L": ["bus"], "S": ["bus"]},
        ii=3,
    )
    # x (hold 2) at t=2 occupies slots 2, 0; y (hold 1) at slot 0 clashes, at slot 1 does not
    assert V.check(p, S(2, 3)) == ["resource bus (blocking) over its limit 1 at slot 0 (mod II=3): 2 units in use by ops x, y"]
    assert V.verify(p, S(2, 4))


# ------------------------------------------------------------------------------------------------ depth
def test_depth_bound():
    p = Problem.build({"L": 3, "Z": 0}, [("a", "L"), ("z", "Z")], depth=4)
    assert V.verify(p, S(1, 3))
    assert V.check(p, S(2, 3)) == ["depth bound D=4 violated by op a: t(a)=2 + max(lat,1) 3 = 5 > 4"]
    assert V.check(p, S(1, 4)) == ["depth bound D=4 violated by op z: t(z)=4 + max(lat,1) 1 = 5 > 4"]


def test_message_cap():
    p = Problem.build({"A": 1}, [(f"o{i}", "A") for i in range(30)], depth=1)
    msgs = V.check(p, Schedule(np.full(30, 5)))
    assert len(msgs) == 21 and msgs[-1] == "... and 10 more"
    assert V.report(p, Schedule(np.full(30, 5))).counts["depth"] == 30


def test_empty_problem():
    p = Problem.build({}, [])
    s = Schedule(np.zeros(0, np.int64))
    assert V.check(p, s) == []
    ev = V.evaluate(p, s)
    assert ev == {
        "ii": None, "modulo": False, "makespan": 0, "length_stages": 0, "last_op_start": None, "peak_usage": {},
        "peak_weighted": 0.0, "communication": 0.0, "objective_a": 0.0, "peak_live_bits": 0, "total_live_bits": 0,
    }


# ------------------------------------------------------------------------------------------------ objectives
def diamond():
    return Problem.build(
        {"add": 1, "mul": 3, "nop": 0},
        [("a", "add", None, 2.0, 8), ("b", "mul", None, 1.0, 16), ("c", "add", None, 0.5, 4), ("d", "nop", None, 1.0, 32)],
        [("a", "b", 0, 0, 1.0), ("a", "c", 0, 0, 2.0), ("b", "d", 0, 0, 0.5), ("c", "d", 0, 0, 1.0)],
        resource_types=[ResourceType("alu", 2), ResourceType("mulr", 1, "blocking")],
        type_resources={"add": ["alu"], "mul": ["mulr"]},
    )


def test_objectives_by_hand():
    p = diamond()
    s = S(0, 1, 1, 4)
    assert V.verify(p, s)
    ev = V.evaluate(p, s, alpha=0.5, last_op="d")
    assert ev["makespan"] == 4  # b: 1 + 3
    assert ev["length_stages"] == 5  # d: 4 + max(0, 1)
    assert ev["last_op_start"] == 4
    assert ev["peak_usage"] == {"alu": 1, "mulr": 1}
    assert ev["peak_weighted"] == 2.0  # step 0: a (2); step 1: b + c (1.5); step 4: d (1)
    assert ev["communication"] == 1 * 1 + 2 * 1 + 0.5 * 3 + 1 * 3  # 7.5
    assert ev["objective_a"] == 2.0 + 0.5 * 7.5
    # live: a over [0, 1) with 8 bits; b over [1, 4) with 16; c over [1, 4) with 4; d has no consumer
    assert ev["peak_live_bits"] == 20
    assert ev["total_live_bits"] == 8 + 3 * 16 + 3 * 4
    assert ev["ii"] is None and ev["modulo"] is False
    with pytest.raises(ProblemError, match="unknown operation"):
        V.evaluate(p, s, last_op="nope")


def test_objectives_modulo_and_carried_comm():
    p = Problem.build(
        {"A": 1},
        [("a", "A", None, 1.0, 8), ("b", "A", None, 3.0, 8), ("c", "A", None, 1.5, 8)],
        [("a", "b", 0, 0, 1.0), ("b", "a", 0, 1, 2.0), ("b", "c", 0, 0, 1.0)],
        ii=2,
    )
    s = S(0, 1, 3)
    assert V.verify(p, s)
    ev = V.evaluate(p, s, alpha=1.0)
    assert ev["modulo"] and ev["ii"] == 2
    assert ev["peak_weighted"] == 4.5  # slot 1: b (3) + c (1.5); slot 0: a (1)
    assert ev["communication"] == 1 * (1 - 0) + 2 * (0 + 1 * 2 - 1) + 1 * (3 - 1)  # 5
    assert ev["objective_a"] == 9.5
    # liveness follows distance-0 edges only: a over [0, 1), b over [1, 3)
    assert ev["peak_live_bits"] == 8 and ev["total_live_bits"] == 8 + 16


def test_huge_starts_do_not_blow_memory():
    p = two_long_ops("blocking", limit=1)
    s = S(0, 10**12)
    assert V.verify(p, s)
    assert V.evaluate(p, s)["peak_usage"] == {"alu": 1}
    assert not V.verify(p, S(10**12, 10**12 + 2))


# ------------------------------------------------------------------------------------------------ naive reference
def naive(problem: Problem, start, sched_ii):
    """Deliberately simple loops: (counts of violations per kind, objective dict or None if no II is given).

    The objective dict also carries ``"_occupancy"``: per resource, ``{step or slot: units}`` (non-zero entries).
    """
    n = problem.n_ops
    t = [int(x) for x in start]
    lat = [problem.operator_types[int(k)].latency for k in problem.op_type]
    ii = sched_ii if sched_ii is not None else problem.ii
    dist = [int(x) for x in problem.edge_distance]
    modulo = ii is not None and (problem.ii is not None or any(d > 0 for d in dist))
    counts = {"start": sum(1 for x in t if x < 0), "ii": 0, "dependence": 0, "resource": 0, "depth": 0}
    for e in range(problem.n_edges):
        u, v = int(problem.edge_src[e]), int(problem.edge_dst[e])
        if dist[e] > 0 and ii is None:
            counts["ii"] += 1
            continue
        if t[u] + lat[u] + int(problem.edge_delay[e]) > t[v] + dist[e] * (ii or 0):
            counts["dependence"] += 1
    occ = [defaultdict(int) for _ in problem.resource_types]
    for i in range(n):
        for k in range(int(problem.use_ptr[i]), int(problem.use_ptr[i + 1])):
            r = int(problem.use_res[k])
            rt = problem.resource_types[r]
            hold = 1 if rt.occupancy == "pipelined" else max(rt.blocking_time if rt.blocking_time is not None else lat[i], 1)
            for d in range(t[i], t[i] + hold):
                occ[r][d % ii if modulo else d] += 1
    for r, rt in enumerate(problem.resource_types):
        if rt.limit is not None:
            counts["resource"] += sum(1 for c in occ[r].values() if c > rt.limit)
    if problem.depth is not None:
        counts["depth"] = sum(1 for i in range(n) if t[i] + max(lat[i], 1) > problem.depth)
    if ii is None and any(d > 0 for d in dist):
        return counts, None

    ev = {"ii": ii, "modulo": modulo, "_occupancy": [{k: c for k, c in o.items() if c} for o in occ]}
    ev["makespan"] = max((t[i] + lat[i] for i in range(n)), default=0)
    ev["length_stages"] = max((t[i] + max(lat[i], 1) for i in range(n)), default=0)
    ev["peak_usage"] = {rt.name: max(occ[r].values(), default=0) for r, rt in enumerate(problem.resource_types)}
    wsum = defaultdict(float)
    for i in range(n):
        wsum[t[i] % ii if modulo else t[i]] += float(problem.op_weight[i])
    ev["peak_weighted"] = max(wsum.values(), default=0.0)
    comm = 0.0
    for e in range(problem.n_edges):
        u, v = int(problem.edge_src[e]), int(problem.edge_dst[e])
        comm += float(problem.edge_comm[e]) * (t[v] + dist[e] * (ii or 0) - t[u])
    ev["communication"] = comm
    end = [None] * n
    for e in range(problem.n_edges):
        u, v = int(problem.edge_src[e]), int(problem.edge_dst[e])
        if dist[e] == 0:
            end[u] = t[v] if end[u] is None else max(end[u], t[v])
    live = defaultdict(int)
    for i in range(n):
        if end[i] is not None:
            for d in range(t[i], end[i]):
                live[d] += int(problem.op_bits[i])
    ev["peak_live_bits"] = max(live.values(), default=0)
    ev["total_live_bits"] = sum(live.values())
    return counts, ev


@st.composite
def random_case(draw):
    n_types = draw(st.integers(1, 3))
    types = {f"T{k}": draw(st.integers(0, 4)) for k in range(n_types)}
    resources = [
        ResourceType(
            f"r{k}",
            draw(st.one_of(st.none(), st.integers(1, 3))),
            draw(st.sampled_from(["pipelined", "blocking"])),
            draw(st.one_of(st.none(), st.integers(1, 5))),
        )
        for k in range(draw(st.integers(0, 3)))
    ]
    n = draw(st.integers(0, 9))
    halves = st.integers(0, 8).map(lambda x: x / 2)
    ops = []
    for i in range(n):
        res = draw(st.lists(st.sampled_from([r.name for r in resources]), max_size=3)) if resources else []
        ops.append((f"op{i}", f"T{draw(st.integers(0, n_types - 1))}", res, draw(halves), draw(st.integers(0, 64))))
    edges = []
    if n:
        for _ in range(draw(st.integers(0, 2 * n))):
            u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            distance = draw(st.sampled_from([0, 0, 0, 1, 2]))
            if distance == 0:
                if u == v:
                    continue
                u, v = min(u, v), max(u, v)  # distance-0 edges go forward: acyclic
            edges.append((f"op{u}", f"op{v}", draw(st.integers(0, 2)), distance, draw(halves)))
    problem = Problem.build(
        types, ops, edges, resource_types=resources,
        depth=draw(st.one_of(st.none(), st.integers(1, 15))), ii=draw(st.one_of(st.none(), st.integers(1, 4))),
    )
    starts = draw(st.lists(st.integers(-2, 12), min_size=n, max_size=n))
    sched_ii = draw(st.one_of(st.none(), st.integers(1, 4)))
    return problem, Schedule(np.array(starts, dtype=np.int64), sched_ii)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_matches_naive_reference(case):
    problem, schedule = case
    want_counts, want_ev = naive(problem, schedule.start, schedule.ii)
    for force_sparse in (False, True):
        patch = mock.patch.object(V, "_DENSE_SPAN", -1) if force_sparse else mock.patch.object(V, "_DENSE_SPAN", V._DENSE_SPAN)
        patch2 = mock.patch.object(V, "_DENSE_PER_INTERVAL", -1) if force_sparse else mock.patch.object(V, "_DENSE_PER_INTERVAL", V._DENSE_PER_INTERVAL)
        with patch, patch2:
            rep = V.report(problem, schedule)
            assert rep.counts == want_counts
            assert V.verify(problem, schedule) == (sum(want_counts.values()) == 0)
            assert (V.check(problem, schedule) == []) == (sum(want_counts.values()) == 0)
            if want_ev is None:
                with pytest.raises(ProblemError):
                    V.evaluate(problem, schedule)
                continue
            # the whole occupancy profile of every resource, not only its peak
            occupancy = want_ev.pop("_occupancy")
            use_op, use_res, hold = V._uses(problem, V._latency(problem))
            for r in range(len(problem.resource_types)):
                mask = use_res == r
                pos, val = V._occupancy(schedule.start[use_op[mask]], hold[mask], want_ev["ii"], want_ev["modulo"])
                got = {d: int(v) for k, v in enumerate(val[:-1]) if v for d in range(int(pos[k]), int(pos[k + 1]))}
                assert got == occupancy[r]
                assert len(val) == 0 or (val[-1] == 0 and np.all(val[1:] != val[:-1]))  # canonical form
            ev = V.evaluate(problem, schedule, alpha=0.25, last_op="op0" if problem.n_ops else None)
            assert ev.pop("objective_a") == want_ev["peak_weighted"] + 0.25 * want_ev["communication"]
            assert ev.pop("last_op_start") == (int(schedule.start[0]) if problem.n_ops else None)
            assert ev == want_ev
            want_ev["_occupancy"] = occupancy


# ------------------------------------------------------------------------------------------------ scale
def test_speed_1m_ops_5m_edges():
    rng = np.random.default_rng(7)
    n, m, levels = 1_000_000, 5_000_000, 6_250
    level = rng.integers(0, levels, n)
    start = 4 * level  # every latency is <= 3, so any edge to a higher level is satisfied
    a, b = rng.integers(0, n, int(m * 1.05)), rng.integers(0, n, int(m * 1.05))
    keep = level[a] != level[b]
    a, b = a[keep][:m], b[keep][:m]
    swap = level[a] > level[b]
    src, dst = np.where(swap, b, a), np.where(swap, a, b)
    op_type = rng.integers(0, 4, n)
    types = [OperatorType(f"T{k}", k) for k in range(4)]
    resources = [
        ResourceType("alu", 60, "pipelined"),
        ResourceType("mul", 80, "blocking"),
        ResourceType("mem", None, "blocking", 2),
    ]
    use_res = np.where(op_type == 3, 1, np.where(op_type == 2, 2, 0)).astype(np.int32)
    problem = Problem(
        op_ids=[f"o{i}" for i in range(n)],
        op_type=op_type.astype(np.int32),
        operator_types=types,
        edge_src=src.astype(np.int32),
        edge_dst=dst.astype(np.int32),
        resource_types=resources,
        use_ptr=np.arange(n + 1, dtype=np.int64),
        use_res=use_res,
        op_weight=rng.random(n),
        op_bits=rng.integers(1, 65, n),
        edge_comm=rng.random(m),
        depth=4 * levels,
    )
    sched = Schedule(start)
    t0 = time.perf_counter()
    lines = V.check(problem, sched)
    ev = V.evaluate(problem, sched, last_op="o0")
    elapsed = time.perf_counter() - t0
    print(f"\ncheck + evaluate on {n} ops / {m} edges / depth {4 * levels}: {elapsed:.2f} s")
    assert elapsed < 60
    rep = V.report(problem, sched)
    assert rep.counts["dependence"] == 0 and rep.counts["depth"] == 0 and rep.counts["start"] == 0
    # alu: ~40 ops start per level, mul: ~40 ops hold 3 of every 4 steps; both limits are loose enough
    assert (rep.counts["resource"] == 0) == (ev["peak_usage"]["alu"] <= 60 and ev["peak_usage"]["mul"] <= 80)
    assert ev["makespan"] <= 4 * levels and ev["last_op_start"] == start[0]
    # a tighter alu limit is reported, with the message list capped
    tight = problem.with_limits({"alu": 30})
    lines = V.check(tight, sched)
    assert len(lines) == 21 and lines[-1].startswith("... and ")
