"""COO / CSR / networkx adapters."""
from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pytest

from gaus_fast.adapters import from_coo, from_csr, from_networkx, to_coo, to_csr, to_networkx
from gaus_fast.problem import Problem, ProblemError, ResourceType


def raises(fn, *needles):
    with pytest.raises(ProblemError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def edge_list(p: Problem):
    return sorted(zip(p.edge_src.tolist(), p.edge_dst.tolist()))


def random_dag(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n - 1, m)
    b = np.minimum(a + 1 + rng.integers(0, 50, m), n - 1)
    return a, b


# ---------------------------------------------------------------------------- COO / CSR
def test_from_coo_defaults_and_types():
    p = from_coo(4, [0, 1, 2], [1, 2, 3], name="chain")
    assert p.op_ids == ["0", "1", "2", "3"] and p.name == "chain"
    assert [t.name for t in p.operator_types] == ["lat0"] and p.latency.tolist() == [0, 0, 0, 0]
    assert p.op_weight.tolist() == [1.0] * 4 and p.op_bits.tolist() == [32] * 4
    assert p.edge_delay.tolist() == [0] * 3 and p.edge_comm.tolist() == [0.0] * 3
    q = from_coo(4, [0, 1, 2], [1, 2, 3], latency=[2, 0, 2, 5], comm=1.0, weight=[1, 2, 3, 4], op_ids="abcd", depth=9)
    assert [(t.name, t.latency) for t in q.operator_types] == [("lat0", 0), ("lat2", 2), ("lat5", 5)]
    assert q.latency.tolist() == [2, 0, 2, 5] and q.op_ids == ["a", "b", "c", "d"] and q.depth == 9
    assert q.edge_comm.tolist() == [1.0] * 3 and q.op_weight.tolist() == [1, 2, 3, 4]
    r = from_coo(2, [0], [1], latency=3, distance=[1], ii=2)
    assert [t.name for t in r.operator_types] == ["lat3"] and r.edge_distance.tolist() == [1]
    assert from_coo(0, [], []).n_ops == 0


def test_coo_round_trip():
    a, b = random_dag(500, 2000)
    rng = np.random.default_rng(1)
    p = from_coo(
        500, a, b,
        latency=rng.integers(0, 4, 500), delay=rng.integers(0, 3, 2000), distance=rng.integers(0, 2, 2000),
        comm=rng.random(2000), weight=rng.random(500), bits=rng.integers(1, 64, 500),
        op_ids=[f"op{k}" for k in range(500)], ii=3,
    )
    d = to_coo(p)
    assert set(d) == {"num_ops", "src", "dst", "latency", "delay", "distance", "comm", "weight", "bits", "op_ids"}
    q = from_coo(**d, ii=3)
    for key in ("edge_src", "edge_dst", "latency", "edge_delay", "edge_distance", "edge_comm", "op_weight", "op_bits"):
        assert np.array_equal(getattr(p, key), getattr(q, key)), key
    assert q.op_ids == p.op_ids
    d["src"][0] = -5  # to_coo returns copies
    assert p.edge_src[0] != -5


def test_csr_round_trip():
    a, b = random_dag(300, 1500, seed=3)
    p = from_coo(300, a, b, delay=np.arange(1500) % 7)
    indptr, indices, order = to_csr(p)
    assert indptr[0] == 0 and indptr[-1] == 1500 and len(indptr) == 301
    assert np.array_equal(p.edge_dst[order], indices) and np.array_equal(p.edge_src[order], np.repeat(np.arange(300), np.diff(indptr)))
    q = from_csr(indptr, indices, delay=p.edge_delay[order])
    assert edge_list(q) == edge_list(p)
    assert sorted(zip(q.edge_src.tolist(), q.edge_dst.tolist(), q.edge_delay.tolist())) == sorted(
        zip(p.edge_src.tolist(), p.edge_dst.tolist(), p.edge_delay.tolist())
    )
    # rows keep the original edge order
    assert np.all(np.diff(order)[np.diff(p.edge_src[order]) == 0] > 0)
    assert from_csr([0], []).n_ops == 0


def test_coo_large_is_vectorised():
    n, m = 200_000, 2_000_000
    a, b = random_dag(n, m, seed=5)
    lat = np.random.default_rng(6).integers(0, 3, n)
    t0 = time.perf_counter()
    p = from_coo(n, a, b, latency=lat, comm=1.0)
    d = to_coo(p)
    indptr, indices, order = to_csr(p)
    q = from_csr(indptr, indices, latency=lat)
    elapsed = time.perf_counter() - t0
    assert p.n_edges == m and q.n_edges == m and len(d["src"]) == m
    assert np.array_equal(q.latency, p.latency)
    assert elapsed < 20, elapsed


@pytest.mark.parametrize(
    "kwargs, needles",
    [
        (dict(num_ops=3, src=[0, 1], dst=[1]), ["src has 2", "dst has 1"]),
        (dict(num_ops=3, src=[0], dst=[5]), ["unknown operation"]),
        (dict(num_ops=3, src=[0, 1, 2], dst=[1, 2, 0]), ["cycle"]),
        (dict(num_ops=2, src=[0], dst=[1], latency=[1.5, 1]), ["latency must be integers"]),
        (dict(num_ops=2, src=[0], dst=[1], latency=-1), ["negative latency"]),
        (dict(num_ops=2, src=[0], dst=[1], latency=[1, 2, 3]), ["expected 2 values"]),
        (dict(num_ops=2, src=[0], dst=[1], latency="x"), ["latency must be integers"]),
        (dict(num_ops=2, src=[0], dst=[1], weight=["a", "b"]), ["weight", "expected numbers"]),
        (dict(num_ops=2, src=[0], dst=[1], delay=[1, 2]), ["delay", "expected 1 values"]),
        (dict(num_ops=2, src=[0], dst=[1], delay=[-1]), ["negative edge delay"]),
        (dict(num_ops=2, src=[0.5], dst=[1]), ["edge sources must be integers"]),
        (dict(num_ops=2, src=[0], dst=[1], op_ids=["a"]), ["expected 2 ids"]),
        (dict(num_ops=2, src=[0], dst=[1], op_ids=["a", "a"]), ["duplicate operation id 'a'"]),
        (dict(num_ops=-1, src=[], dst=[]), ["num_ops"]),
        (dict(num_ops=2.5, src=[], dst=[]), ["num_ops"]),
    ],
)
def test_coo_errors(kwargs, needles):
    raises(lambda: from_coo(**kwargs), *needles)


def test_csr_errors():
    raises(lambda: from_csr([0, 2, 1], [1, 0]), "malformed CSR")
    raises(lambda: from_csr([1, 2], [0]), "malformed CSR")
    raises(lambda: from_csr([], []), "indptr")
    raises(lambda: from_csr([0, 1, 1], [1], num_ops=5), "num_ops=5")


# ---------------------------------------------------------------------------- networkx
def test_from_networkx_attributes_and_defaults():
    G = nx.DiGraph(name="g", depth=7)
    G.add_node(1, latency=2, weight=3.5, bits=8)
    G.add_node("b", type="mul", latency=3)
    G.add_node((2, 3))
    G.add_edge(1, "b", delay=1, comm=2.0)
    G.add_edge("b", (2, 3), distance=1)
    p = from_networkx(G, ii=4)
    assert p.op_ids == ["1", "b", "(2, 3)"] and p.name == "g" and p.depth == 7 and p.ii == 4
    assert [p.operator_types[t].name for t in p.op_type] == ["lat2", "mul", "lat0"]
    assert p.latency.tolist() == [2, 3, 0]
    assert p.op_weight.tolist() == [3.5, 1.0, 1.0] and p.op_bits.tolist() == [8, 32, 32]
    assert p.edge_delay.tolist() == [1, 0] and p.edge_distance.tolist() == [0, 1] and p.edge_comm.tolist() == [2.0, 0.0]


def test_from_networkx_custom_names_and_resources():
    G = nx.MultiDiGraph(resource_types=[{"name": "ALU", "limit": 2, "occupancy": "blocking"}, ResourceType("M", 1)])
    G.add_node("x", lat=1, w=4, kind="add", uses=["ALU"])
    G.add_node("y", lat=1, kind="add", uses=["ALU", "M"])
    G.add_edge("x", "y", c=1.0)
    G.add_edge("x", "y", c=0.5)  # parallel edges are kept
    p = from_networkx(G, latency="lat", weight="w", op_type="kind", comm="c", resources="uses", name="custom")
    assert p.name == "custom" and p.n_edges == 2 and p.edge_comm.tolist() == [1.0, 0.5]
    assert [(r.name, r.limit, r.occupancy) for r in p.resource_types] == [("ALU", 2, "blocking"), ("M", 1, "pipelined")]
    assert p.use_ptr.tolist() == [0, 1, 3] and p.use_res.tolist() == [0, 0, 1]
    H = to_networkx(p, latency="lat", weight="w", op_type="kind", comm="c", resources="uses")
    assert isinstance(H, nx.DiGraph) and H.is_multigraph() and H.number_of_edges() == 2
    assert H.nodes["y"] == {"kind": "add", "lat": 1, "w": 1.0, "bits": 32, "uses": ["ALU", "M"]}


def test_networkx_round_trip():
    a, b = random_dag(60, 150, seed=9)
    keep = np.unique(a * 60 + b, return_index=True)[1]  # DiGraph: no parallel edges
    rng = np.random.default_rng(2)
    p = from_coo(60, a[keep], b[keep], latency=rng.integers(0, 3, 60), comm=rng.random(len(keep)), delay=1, weight=rng.random(60), name="rt", depth=99)
    p = p.replace(resource_types=[ResourceType("R", 3, "blocking", 2)], use_ptr=np.arange(61), use_res=np.zeros(60, np.int32))
    G = to_networkx(p)
    assert type(G) is nx.DiGraph and G.graph["name"] == "rt" and G.graph["depth"] == 99
    q = from_networkx(G)
    assert q.op_ids == p.op_ids and q.name == "rt" and q.depth == 99
    assert np.array_equal(q.latency, p.latency) and np.array_equal(q.op_weight, p.op_weight)
    assert q.resource_types == p.resource_types and np.array_equal(q.use_res, p.use_res)
    ep = sorted(zip(p.edge_src.tolist(), p.edge_dst.tolist(), p.edge_delay.tolist(), p.edge_comm.tolist()))
    eq = sorted(zip(q.edge_src.tolist(), q.edge_dst.tolist(), q.edge_delay.tolist(), q.edge_comm.tolist()))
    assert ep == eq


def test_networkx_errors():
    raises(lambda: from_networkx(nx.Graph([(1, 2)])), "directed")
    G = nx.DiGraph()
    G.add_nodes_from([1, "1"])
    raises(lambda: from_networkx(G), "same id", "'1'")
    G = nx.DiGraph()
    G.add_node("a", type="t", latency=1)
    G.add_node("b", type="t", latency=2)
    raises(lambda: from_networkx(G), "operator type 't'", "latency 1 and 2")
    raises(lambda: from_networkx(nx.DiGraph([("a", "b", {"delay": 1.5})])), "delay", "integer")
    raises(lambda: from_networkx(nx.DiGraph([("a", "b"), ("b", "a")])), "cycle")
    G = nx.DiGraph()
    G.add_node("a", latency="slow")
    raises(lambda: from_networkx(G), "latency of 'a'")
    G = nx.DiGraph()
    G.add_node("a", latency=-2)
    raises(lambda: from_networkx(G), "negative latency")
    G = nx.DiGraph()
    G.add_node("a", resources=["X"])
    raises(lambda: from_networkx(G), "unknown resource type 'X'")
    G = nx.DiGraph()
    G.add_node("a", weight="heavy")
    raises(lambda: from_networkx(G), "weight of 'a'")
