"""Graphs the project builds itself: the embedded example, and random graphs for tests and scaling runs."""
from __future__ import annotations

import numpy as np

from .problem import OperatorType, Problem, ResourceType


def fft_example(points: int = 16, limits: dict[str, int] | None = None) -> Problem:
    """A radix-2 FFT dataflow graph as an HLS tool would see it: loads, butterflies, stores.

    Each butterfly multiplies one input by a twiddle factor (MUL, 2 cycles) and adds/subtracts it (ADD, SUB,
    1 cycle); loads (LOD) and stores (STR) take one cycle. Every type is a blocking unit with a small limit,
    so list scheduling has real choices to make. This is the CLI's embedded default instance.
    """
    if points < 2 or points & (points - 1):
        raise ValueError("points must be a power of two >= 2")
    limits = {"LOD": 1, "MUL": 3, "ADD": 2, "SUB": 2, "STR": 1, **(limits or {})}
    latency = {"LOD": 1, "MUL": 2, "ADD": 1, "SUB": 1, "STR": 1}
    ops: list[tuple] = []
    edges: list[tuple] = []
    current = []
    for k in range(points):
        ops.append((f"load{k}", "LOD"))
        current.append(f"load{k}")
    stages = points.bit_length() - 1
    for s in range(stages):
        half = 1 << s
        nxt = list(current)
        for start in range(0, points, 2 * half):
            for j in range(half):
                a, b = current[start + j], current[start + j + half]
                m, add, sub = f"s{s}_mul{start + j}", f"s{s}_add{start + j}", f"s{s}_sub{start + j}"
                ops += [(m, "MUL"), (add, "ADD"), (sub, "SUB")]
                edges += [(b, m, 0, 0, 1.0), (a, add, 0, 0, 1.0), (m, add, 0, 0, 1.0), (a, sub, 0, 0, 1.0), (m, sub, 0, 0, 1.0)]
                nxt[start + j], nxt[start + j + half] = add, sub
        current = nxt
    for k, v in enumerate(current):
        ops.append((f"store{k}", "STR"))
        edges.append((v, f"store{k}", 0, 0, 1.0))
    resources = [ResourceType(t, limits.get(t), "blocking") for t in latency]
    return Problem.build(
        [OperatorType(t, lat) for t, lat in latency.items()],
        ops,
        edges,
        resources,
        type_resources={t: [t] for t in latency},
        name=f"fft{points}",
    )


def layered_dag(
    n_ops: int,
    n_edges: int,
    n_layers: int,
    seed: int = 0,
    latency: int = 0,
    weights: str = "ones",
) -> Problem:
    """A random layered DAG: ops spread over layers, each edge from a lower to a higher layer.

    Vectorised so that it builds 10^7 edges in seconds (duplicate edges may occur, as in real netlists).
    ``weights``: "ones" or "random" (integers 0..100, like the ICML'24 workloads' sparse weights).
    """
    rng = np.random.default_rng(seed)
    n_layers = max(2, min(n_layers, n_ops))
    layer = np.sort(rng.integers(0, n_layers, size=n_ops))
    layer[:n_layers] = np.arange(n_layers)  # every layer occupied, so the depth is n_layers
    layer.sort()
    starts = np.searchsorted(layer, np.arange(n_layers + 1))
    src_layer = rng.integers(0, n_layers - 1, size=n_edges)
    gap = 1 + rng.geometric(0.6, size=n_edges) - 1
    dst_layer = np.minimum(src_layer + gap, n_layers - 1)
    size = lambda lay: starts[lay + 1] - starts[lay]  # noqa: E731
    src = starts[src_layer] + (rng.random(n_edges) * size(src_layer)).astype(np.int64)
    dst = starts[dst_layer] + (rng.random(n_edges) * size(dst_layer)).astype(np.int64)
    w = np.ones(n_ops) if weights == "ones" else rng.integers(0, 101, size=n_ops).astype(np.float64)
    return Problem(
        op_ids=[str(i) for i in range(n_ops)],
        op_type=np.zeros(n_ops, dtype=np.int32),
        operator_types=[OperatorType("op", latency)],
        edge_src=src.astype(np.int32),
        edge_dst=dst.astype(np.int32),
        op_weight=w,
        edge_comm=np.ones(n_edges),
        name=f"layered_{n_ops}_{n_edges}",
    )
