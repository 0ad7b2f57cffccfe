"""Hand graphs to gaus_fast from other tools, and back: COO / CSR arrays and networkx graphs.

* `from_coo` / `to_coo`: edge lists as arrays (vectorised; 10M edges are fine);
* `from_csr` / `to_csr`: compressed sparse rows of successors;
* `from_networkx` / `to_networkx`: attribute names are arguments, missing attributes take the defaults.

Latencies given per op become one operator type per distinct value, named ``f"lat{L}"``. COO/CSR carry no resource
types (use `Problem.replace` to add them); networkx graphs carry them in ``G.graph["resource_types"]`` and a
per-node list attribute (``resources``).

Defaults for missing values: latency 0, weight 1.0, bits 32, edge delay 0, distance 0, comm 0.0.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .problem import OperatorType, Problem, ProblemError, ResourceType

__all__ = ["from_coo", "to_coo", "from_csr", "to_csr", "from_networkx", "to_networkx"]


def _per(values, size: int, what: str, default, dtype) -> np.ndarray | None:
    """``values`` as an array of ``size`` (a scalar is broadcast); None stays None (the Problem default)."""
    if values is None:
        return None if default is None else np.full(size, default, dtype=dtype)
    arr = np.asarray(values)
    if arr.dtype.kind not in "iufb":
        raise ProblemError(f"{what}: expected numbers, got {arr.dtype} values")
    if arr.ndim == 0:
        return np.full(size, arr.item())
    arr = arr.reshape(-1)
    if len(arr) != size:
        raise ProblemError(f"{what}: expected {size} values, got {len(arr)}")
    return arr


def _latency_types(latency, n: int) -> tuple[list[OperatorType], np.ndarray]:
    if latency is None:
        latency = 0
    lat = np.asarray(latency)
    if lat.dtype == object or lat.dtype.kind not in "iufb":
        raise ProblemError(f"latency must be integers, got {lat.dtype}")
    if lat.dtype.kind == "f":
        if not np.all(np.isfinite(lat)) or not np.all(lat == np.round(lat)):
            raise ProblemError("latency must be integers (got fractional or non-finite values)")
    lat = lat.astype(np.int64)
    if lat.ndim == 0:
        val = int(lat)
        if val < 0:
            raise ProblemError(f"negative latency {val}")
        return [OperatorType(f"lat{val}", val)], np.zeros(n, dtype=np.int32)
    lat = lat.reshape(-1)
    if len(lat) != n:
        raise ProblemError(f"latency: expected {n} values (one per op), got {len(lat)}")
    if n and lat.min() < 0:
        raise ProblemError(f"negative latency {int(lat.min())} (op {int(np.argmin(lat))})")
    values, inverse = np.unique(lat, return_inverse=True)
    return [OperatorType(f"lat{int(v)}", int(v)) for v in values], inverse.astype(np.int32).reshape(-1)


def _op_ids(op_ids, n: int) -> list[str]:
    if op_ids is None:
        return list(map(str, range(n)))
    ids = [str(x) for x in (op_ids.tolist() if isinstance(op_ids, np.ndarray) else op_ids)]
    if len(ids) != n:
        raise ProblemError(f"op_ids: expected {n} ids, got {len(ids)}")
    return ids


def from_coo(
    num_ops: int,
    src,
    dst,
    latency=None,
    delay=None,
    distance=None,
    comm=None,
    weight=None,
    bits=None,
    op_ids: Sequence | None = None,
    depth: int | None = None,
    ii: int | None = None,
    name: str = "coo",
) -> Problem:
    """A problem from an edge list: ``src[e] -> dst[e]`` over ops ``0..num_ops-1``.

    ``latency`` is a scalar or one integer per op (default 0); ``delay``, ``distance``, ``comm`` are scalars or one
    value per edge; ``weight`` and ``bits`` scalars or one per op; ``op_ids`` default ``"0".."n-1"``.
    """
    try:
        n = int(num_ops)
    except (TypeError, ValueError):
        raise ProblemError(f"num_ops must be an integer, got {num_ops!r}") from None
    if n < 0 or n != num_ops:
        raise ProblemError(f"num_ops must be a non-negative integer, got {num_ops!r}")
    src = np.asarray(src).reshape(-1)
    dst = np.asarray(dst).reshape(-1)
    if len(src) != len(dst):
        raise ProblemError(f"src has {len(src)} entries but dst has {len(dst)}")
    m = len(src)
    types, op_type = _latency_types(latency, n)
    return Problem(
        op_ids=_op_ids(op_ids, n),
        op_type=op_type,
        operator_types=types,
        edge_src=src,
        edge_dst=dst,
        op_weight=_per(weight, n, "weight", None, np.float64),
        op_bits=_per(bits, n, "bits", None, np.int64),
        edge_delay=_per(delay, m, "delay", None, np.int64),
        edge_distance=_per(distance, m, "distance", None, np.int64),
        edge_comm=_per(comm, m, "comm", None, np.float64),
        depth=depth,
        ii=ii,
        name=name,
    )


def to_coo(problem: Problem) -> dict[str, Any]:
    """The problem as arrays; ``from_coo(**to_coo(p))`` rebuilds it (without resource types, depth, II, name).

    Keys: ``num_ops`` (int), ``src``, ``dst`` (int32[m]), ``latency`` (int64[n]), ``delay``, ``distance``
    (int64[m]), ``comm`` (float64[m]), ``weight`` (float64[n]), ``bits`` (int64[n]), ``op_ids`` (str array[n]).
    """
    return {
        "num_ops": problem.n_ops,
        "src": problem.edge_src.copy(),
        "dst": problem.edge_dst.copy(),
        "latency": problem.latency,
        "delay": problem.edge_delay.copy(),
        "distance": problem.edge_distance.copy(),
        "comm": problem.edge_comm.copy(),
        "weight": problem.op_weight.copy(),
        "bits": problem.op_bits.copy(),
        "op_ids": np.array(problem.op_ids, dtype=str) if problem.n_ops else np.zeros(0, dtype="<U1"),
    }


def from_csr(indptr, indices, **kwargs) -> Problem:
    """A problem from CSR successor lists: the edges of op ``i`` are ``i -> indices[indptr[i]:indptr[i+1]]``.

    Takes the keyword arguments of `from_coo` (per-edge values in CSR order); ``num_ops`` defaults to
    ``len(indptr) - 1``.
    """
    indptr = np.asarray(indptr).reshape(-1)
    indices = np.asarray(indices).reshape(-1)
    if len(indptr) < 1:
        raise ProblemError("indptr must have at least one entry")
    if indptr.dtype.kind not in "iu":
        raise ProblemError(f"indptr must be integers, got {indptr.dtype}")
    counts = np.diff(indptr)
    if indptr[0] != 0 or np.any(counts < 0) or indptr[-1] != len(indices):
        raise ProblemError("malformed CSR: indptr must start at 0, be non-decreasing and end at len(indices)")
    n = kwargs.pop("num_ops", len(indptr) - 1)
    if n != len(indptr) - 1:
        raise ProblemError(f"num_ops={n} but indptr describes {len(indptr) - 1} ops")
    src = np.repeat(np.arange(n, dtype=np.int32), counts)
    return from_coo(n, src, indices, **kwargs)


def to_csr(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr int64[n+1], indices int32[m], edge_order int64[m])``: successors of op ``i`` are
    ``indices[indptr[i]:indptr[i+1]]``, and CSR position ``k`` is problem edge ``edge_order[k]`` (so per-edge
    arrays in CSR order are ``problem.edge_delay[edge_order]`` etc.). Edges keep their order within a row."""
    order = np.argsort(problem.edge_src, kind="stable")
    indptr = np.zeros(problem.n_ops + 1, dtype=np.int64)
    np.cumsum(np.bincount(problem.edge_src, minlength=problem.n_ops), out=indptr[1:])
    return indptr, problem.edge_dst[order], order.astype(np.int64)


# ---------------------------------------------------------------------------- networkx
def _int_attr(value, what: str, node) -> int:
    if isinstance(value, bool):
        raise ProblemError(f"{what} of {node!r} must be an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return int(value)
    raise ProblemError(f"{what} of {node!r} must be an integer, got {value!r}")


def from_networkx(
    G,
    latency: str = "latency",
    weight: str = "weight",
    bits: str = "bits",
    delay: str = "delay",
    distance: str = "distance",
    comm: str = "comm",
    op_type: str = "type",
    resources: str = "resources",
    name: str | None = None,
    depth: int | None = None,
    ii: int | None = None,
) -> Problem:
    """A problem from a directed networkx graph; the arguments name the attributes to read.

    Nodes become ops in ``G.nodes`` order with ``str(node)`` ids. A node's operator type is its ``op_type``
    attribute when present (all nodes of one type must agree on the latency), else ``f"lat{latency}"``.
    Node ``resources`` (a list of names) refer to ``G.graph["resource_types"]`` (dicts or `ResourceType`).
    ``name``, ``depth`` and ``ii`` default to ``G.graph``'s ``name``, ``depth`` and ``ii``.
    Parallel edges of a MultiDiGraph are kept.
    """
    if not G.is_directed():
        raise ProblemError("from_networkx needs a directed graph (nx.DiGraph or nx.MultiDiGraph)")
    nodes = list(G.nodes)
    ids = [str(v) for v in nodes]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise ProblemError(f"two nodes have the same id as a string: {dup!r}")
    index = {v: k for k, v in enumerate(nodes)}
    n = len(nodes)

    # resource types
    res_types: list[ResourceType] = []
    for r in G.graph.get("resource_types", []) or []:
        if isinstance(r, ResourceType):
            res_types.append(r)
        elif isinstance(r, dict) and "name" in r:
            res_types.append(ResourceType(str(r["name"]), r.get("limit"), r.get("occupancy", "pipelined"), r.get("blocking_time")))
        else:
            raise ProblemError(f"G.graph['resource_types'] entries must be dicts with a 'name', got {r!r}")
    res_index = {r.name: k for k, r in enumerate(res_types)}

    types: dict[str, int] = {}
    type_lat: list[int] = []
    op_type_arr = np.empty(n, dtype=np.int32)
    w = np.ones(n)
    b = np.full(n, 32, dtype=np.int64)
    use_ptr = np.zeros(n + 1, dtype=np.int64)
    use_res: list[int] = []
    for k, (v, data) in enumerate(G.nodes(data=True)):
        lat = _int_attr(data.get(latency, 0), "latency", v)
        if lat < 0:
            raise ProblemError(f"negative latency {lat} on node {v!r}")
        tname = data.get(op_type)
        tname = f"lat{lat}" if tname is None else str(tname)
        t = types.get(tname)
        if t is None:
            t = types[tname] = len(type_lat)
            type_lat.append(lat)
        elif type_lat[t] != lat:
            raise ProblemError(f"operator type {tname!r} has latency {type_lat[t]} and {lat} (node {v!r})")
        op_type_arr[k] = t
        if weight in data:
            try:
                w[k] = float(data[weight])
            except (TypeError, ValueError):
                raise ProblemError(f"weight of {v!r} must be a number, got {data[weight]!r}") from None
        if bits in data:
            b[k] = _int_attr(data[bits], "bits", v)
        for rn in data.get(resources, ()) or ():
            if rn not in res_index:
                raise ProblemError(f"node {v!r} uses unknown resource type {rn!r} (define it in G.graph['resource_types'])")
            use_res.append(res_index[rn])
        use_ptr[k + 1] = len(use_res)

    edges = list(G.edges(data=True))
    m = len(edges)
    e_src = np.empty(m, dtype=np.int32)
    e_dst = np.empty(m, dtype=np.int32)
    e_delay = np.zeros(m, dtype=np.int64)
    e_dist = np.zeros(m, dtype=np.int64)
    e_comm = np.zeros(m)
    for k, (u, v, data) in enumerate(edges):
        e_src[k] = index[u]
        e_dst[k] = index[v]
        if data:
            if delay in data:
                e_delay[k] = _int_attr(data[delay], "delay", (u, v))
            if distance in data:
                e_dist[k] = _int_attr(data[distance], "distance", (u, v))
            if comm in data:
                try:
                    e_comm[k] = float(data[comm])
                except (TypeError, ValueError):
                    raise ProblemError(f"comm of {(u, v)!r} must be a number, got {data[comm]!r}") from None
    return Problem(
        op_ids=ids,
        op_type=op_type_arr,
        operator_types=[OperatorType(t, type_lat[k]) for t, k in types.items()],
        edge_src=e_src,
        edge_dst=e_dst,
        resource_types=res_types,
        use_ptr=use_ptr,
        use_res=np.array(use_res, dtype=np.int32),
        op_weight=w,
        op_bits=b,
        edge_delay=e_delay,
        edge_distance=e_dist,
        edge_comm=e_comm,
        depth=G.graph.get("depth") if depth is None else depth,
        ii=G.graph.get("ii") if ii is None else ii,
        name=str(G.graph.get("name") or "networkx") if name is None else name,
    )


def to_networkx(
    problem: Problem,
    latency: str = "latency",
    weight: str = "weight",
    bits: str = "bits",
    delay: str = "delay",
    distance: str = "distance",
    comm: str = "comm",
    op_type: str = "type",
    resources: str = "resources",
):
    """The problem as a networkx graph with the same attribute names as `from_networkx` (its inverse).

    Returns an ``nx.DiGraph``, or an ``nx.MultiDiGraph`` (also a DiGraph subclass) when the problem has parallel
    edges. Node keys are the op ids; ``G.graph`` holds ``name``, ``depth``, ``ii`` and ``resource_types`` (dicts).
    """
    import networkx as nx

    m = problem.n_edges
    pair = problem.edge_src.astype(np.int64) * max(problem.n_ops, 1) + problem.edge_dst
    multi = m > 0 and len(np.unique(pair)) < m
    G = nx.MultiDiGraph() if multi else nx.DiGraph()
    G.graph.update(
        name=problem.name,
        depth=problem.depth,
        ii=problem.ii,
        resource_types=[
            {"name": r.name, "limit": r.limit, "occupancy": r.occupancy, "blocking_time": r.blocking_time}
            for r in problem.resource_types
        ],
    )
    tnames = [t.name for t in problem.operator_types]
    rnames = [r.name for r in problem.resource_types]
    ptr = problem.use_ptr.tolist()
    use = problem.use_res.tolist()
    lat = problem.latency.tolist()
    G.add_nodes_from(
        (
            op,
            {
                op_type: tnames[t],
                latency: lat[k],
                weight: wt,
                bits: bt,
                resources: [rnames[r] for r in use[ptr[k]:ptr[k + 1]]],
            },
        )
        for k, (op, t, wt, bt) in enumerate(
            zip(problem.op_ids, problem.op_type.tolist(), problem.op_weight.tolist(), problem.op_bits.tolist())
        )
    )
    ids = problem.op_ids
    G.add_edges_from(
        (ids[a], ids[b], {delay: d, distance: s, comm: c})
        for a, b, d, s, c in zip(
            problem.edge_src.tolist(), problem.edge_dst.tolist(), problem.edge_delay.tolist(),
            problem.edge_distance.tolist(), problem.edge_comm.tolist(),
        )
    )
    return G
