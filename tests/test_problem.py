"""The problem model: validation messages of `Problem.build` / `Problem(...)`, derived arrays, with_limits, summary."""
from __future__ import annotations

import numpy as np
import pytest

from gaus_fast.problem import OperatorType, Problem, ProblemError, ResourceType


def raises(fn, *needles):
    with pytest.raises(ProblemError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def fir(**kw):
    """m0, m1 (mul, 2 cycles, blocking unit 'M' limit 1) -> a0 (add, 1 cycle, pipelined 'A' unlimited) -> st (lat 0)."""
    return Problem.build(
        {"mul": 2, "add": 1, "st": 0},
        [("m0", "mul"), ("m1", "mul"), ("a0", "add", None, 2.5, 16), ("st", "st", [])],
        [("m0", "a0"), ("m1", "a0", 1, 0, 3.0), ("a0", "st")],
        [ResourceType("M", 1, "blocking"), ResourceType("A", None, "pipelined")],
        type_resources={"mul": ["M"], "add": ["A"]},
        name="fir",
        **kw,
    )


# ------------------------------------------------------------------------------------------------ build
def test_build_fields():
    p = fir()
    assert p.op_ids == ["m0", "m1", "a0", "st"] and p.n_ops == 4 and p.n_edges == 3 and p.name == "fir"
    assert p.latency.tolist() == [2, 2, 1, 0]
    assert p.span.tolist() == [2, 2, 1, 1]
    assert p.op_weight.tolist() == [1.0, 1.0, 2.5, 1.0] and p.op_bits.tolist() == [32, 32, 16, 32]
    assert p.edge_delay.tolist() == [0, 1, 0] and p.edge_comm.tolist() == [0.0, 3.0, 0.0]
    assert p.use_ptr.tolist() == [0, 1, 2, 3, 3] and p.use_res.tolist() == [0, 0, 1]
    assert p.use_op.tolist() == [0, 1, 2]
    assert p.use_len.tolist() == [2, 2, 1]  # blocking: the latency; pipelined: 1
    assert p.limits.tolist() == [1, -1] and p.has_limits()
    assert p.index_of() == {"m0": 0, "m1": 1, "a0": 2, "st": 3}
    assert p.resource_index("A") == 1
    raises(lambda: p.resource_index("X"), "unknown resource type 'X'", "M, A")


def test_build_integral_float_latency_and_ids_become_strings():
    p = Problem.build({"t": 2.0}, [(1, "t"), (2, "t")], [(1, 2)])
    assert p.latency.tolist() == [2, 2] and p.op_ids == ["1", "2"]


@pytest.mark.parametrize(
    "kwargs, needles",
    [
        (dict(operator_types={"t": 1}, ops=[("a", "u")]), ["operation 'a'", "unknown operator type 'u'"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t", ["R"])]), ["operation 'a'", "unknown resource type 'R'"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], type_resources={"t": ["R"]}), ["operator type 't'", "unknown resource type 'R'"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("a", "t")]), ["duplicate operation id 'a'"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], edges=[("a", "b")]), ["edge a -> b", "unknown operation b"]),
        (dict(operator_types={"t": -1}, ops=[("a", "t")]), ["operator type 't'", "negative latency -1"]),
        (dict(operator_types={"t": 1.5}, ops=[("a", "t")]), ["operator type 't'", "integer", "1.5"]),
        (dict(operator_types={"t": "2"}, ops=[("a", "t")]), ["operator type 't'", "integer", "'2'"]),
        (dict(operator_types={"t": True}, ops=[("a", "t")]), ["operator type 't'", "integer", "True"]),
        (dict(operator_types={"t": 2**40}, ops=[("a", "t")]), ["operator type 't'", "too large"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b"), ("b", "a")]),
         ["dependence cycle with total distance 0", "a", "b"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], edges=[("a", "a")]), ["cycle", "a -> a"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", -1)]), ["negative edge delay"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", 0, -2)]), ["negative iteration distance"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", 0, 0, -1.0)]), ["communication weights"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", 0.5)]), ["edge delays must be integers"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", 0, 1.5)]), ["edge distances must be integers"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", 2**70)]), ["edge delays must be integers"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t"), ("b", "t")], edges=[("a", "b", 2**40)]), ["edge delays", "at most"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t", None, "heavy")]), ["weights must be numbers"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t", None, 1.0, 7.5)]), ["bit widths must be integers"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t", None, -1.0)]), ["weights must be finite and >= 0"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t", None, float("nan"))]), ["weights must be finite"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t", None, 1.0, -8)]), ["bit widths must be finite and >= 0"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], depth=0), ["depth bound must be an integer >= 1, got 0"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], depth=2.5), ["depth bound", "2.5"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], depth=float("inf")), ["depth bound", "inf"]),
        (dict(operator_types={"t": 1}, ops=[("a", "t")], ii=0), ["II must be an integer >= 1, got 0"]),
    ],
)
def test_build_errors(kwargs, needles):
    raises(lambda: Problem.build(**kwargs), *needles)


@pytest.mark.parametrize(
    "resource, needles",
    [
        (ResourceType("R", 0), ["resource 'R'", "limit must be an integer >= 1", "0"]),
        (ResourceType("R", -2), ["resource 'R'", "limit"]),
        (ResourceType("R", 1.5), ["resource 'R'", "limit", "1.5"]),
        (ResourceType("R", 1, "sometimes"), ["resource 'R'", "occupancy", "'sometimes'"]),
        (ResourceType("R", 1, "blocking", 0), ["resource 'R'", "blocking time must be an integer >= 1"]),
        (ResourceType("R", 2**40), ["resource 'R'", "too large"]),
    ],
)
def test_resource_errors(resource, needles):
    raises(lambda: Problem.build({"t": 1}, [("a", "t", ["R"])], resource_types=[resource]), *needles)


def test_duplicate_resource_name():
    raises(lambda: Problem.build({"t": 1}, [("a", "t")], resource_types=[ResourceType("R"), ResourceType("R")]), "duplicate resource type name")


def test_direct_construction_errors():
    base = dict(op_ids=["a", "b"], op_type=np.array([0, 0]), operator_types=[OperatorType("t", 1)],
                edge_src=np.array([0]), edge_dst=np.array([1]))
    Problem(**base)  # fine
    raises(lambda: Problem(**{**base, "op_type": np.array([0])}), "2 operations but 1 operator types")
    raises(lambda: Problem(**{**base, "op_type": np.array([0, 3])}), "unknown operator type")
    raises(lambda: Problem(**{**base, "op_type": np.array([0.5, 0])}), "operator type indices must be integers")
    raises(lambda: Problem(**{**base, "edge_dst": np.array([5])}), "unknown operation")
    raises(lambda: Problem(**{**base, "edge_dst": np.array([1, 0])}), "1 edges but 2 edge targets")
    raises(lambda: Problem(**{**base, "op_weight": np.ones(3)}), "2 operations but 3 weights")
    raises(lambda: Problem(**{**base, "op_weight": ["x", "y"]}), "weights must be numbers")
    raises(lambda: Problem(**{**base, "edge_delay": np.zeros(2, int)}), "1 edges but 2 edge delays")
    raises(lambda: Problem(**{**base, "use_ptr": np.array([0, 1]), "use_res": np.array([0])}), "malformed resource use lists")
    raises(lambda: Problem(**{**base, "use_ptr": np.array([0, 1, 1]), "use_res": np.array([0])}), "unknown resource type")
    raises(lambda: Problem(**{**base, "op_ids": ["a", "a"]}), "duplicate operation id 'a'")


# ------------------------------------------------------------------------------------------------ derived arrays
def test_use_len_blocking_time_and_zero_latency():
    p = Problem.build(
        {"z": 0, "l3": 3},
        [("a", "z", ["B"]), ("b", "l3", ["B", "F"]), ("c", "l3", ["P"])],
        resource_types=[ResourceType("B", 1, "blocking"), ResourceType("F", 1, "blocking", 2), ResourceType("P", 1, "pipelined")],
    )
    # a latency-0 op still holds a blocking unit one step; blocking_time overrides the latency
    assert p.use_op.tolist() == [0, 1, 1, 2]
    assert p.use_len.tolist() == [1, 3, 2, 1]
    assert p.span.tolist() == [1, 3, 3]


def test_edge_lag():
    p = Problem.build({"a": 2, "b": 1}, [("x", "a"), ("y", "b")], [("x", "y", 1, 0), ("y", "x", 0, 2)], ii=3)
    assert p.edge_lag().tolist() == [2 + 1, 1 - 2 * 3]
    assert p.edge_lag(5).tolist() == [3, 1 - 10]
    assert p.intra_edges().tolist() == [0]
    q = p.replace(ii=None)
    raises(lambda: q.edge_lag(), "loop-carried", "no II")
    assert q.edge_lag(1).tolist() == [3, -1]
    r = Problem.build({"a": 2, "b": 1}, [("x", "a"), ("y", "b")], [("x", "y", 4)])
    assert r.edge_lag().tolist() == [6]  # no distances: no II needed


def test_span_is_latency_at_least_one():
    p = Problem.build({"z": 0, "one": 1, "five": 5}, [("a", "z"), ("b", "one"), ("c", "five")])
    assert p.latency.tolist() == [0, 1, 5] and p.span.tolist() == [1, 1, 5]


# ------------------------------------------------------------------------------------------------ with_limits
def test_with_limits():
    p = fir()
    q = p.with_limits({"M": 3, "A": 2})
    assert [r.limit for r in q.resource_types] == [3, 2] and [r.occupancy for r in q.resource_types] == ["blocking", "pipelined"]
    assert [r.limit for r in p.resource_types] == [1, None]  # the original is unchanged
    u = p.with_limits({"M": None})
    assert not u.has_limits() and u.limits.tolist() == [-1, -1]
    assert p.with_limits({}).limits.tolist() == [1, -1]
    raises(lambda: p.with_limits({"X": 1}), "unknown resource type 'X' in limits", "A, M")
    raises(lambda: p.with_limits({"M": 0}), "resource 'M'", "limit must be an integer >= 1")
    raises(lambda: Problem.build({"t": 1}, [("a", "t")]).with_limits({"X": 1}), "known: none")


def test_replace_validates_again():
    p = fir()
    assert p.replace(depth=7).depth == 7 and p.depth is None
    raises(lambda: p.replace(depth=0), "depth bound")
    raises(lambda: p.replace(edge_src=np.array([0, 1, 2]), edge_dst=np.array([2, 2, 0])), "cycle", "m0", "a0")


# ------------------------------------------------------------------------------------------------ summary
def test_summary():
    s = fir(depth=9).summary()
    assert s["name"] == "fir" and s["ops"] == 4 and s["edges"] == 3 and s["operator_types"] == 3
    assert s["resource_types"] == {"M": 1, "A": None}
    assert s["loop_carried_edges"] == 0 and s["depth"] == 9 and s["ii"] is None
    loop = Problem.build({"t": 1}, [("a", "t"), ("b", "t")], [("a", "b"), ("b", "a", 0, 1)], ii=2).summary()
    assert loop["loop_carried_edges"] == 1 and loop["ii"] == 2


def test_empty_problem():
    p = Problem.build({}, [])
    assert p.n_ops == 0 and p.n_edges == 0 and not p.has_limits()
    assert p.latency.tolist() == [] and p.span.tolist() == [] and p.use_len.tolist() == []
    assert p.summary()["ops"] == 0
