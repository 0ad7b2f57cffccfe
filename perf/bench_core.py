"""C++ core at scale: topological order, ASAP/ALAP, list scheduling and the legalizer on 1M ops / 10M edges.

    python -m pytest perf/bench_core.py --benchmark-only            # 1M ops, 10M edges (about a minute)
    GAUS_FAST_CORE_SCALE=0.1 python -m pytest perf/bench_core.py --benchmark-only   # 100k / 1M

The graph is a random layered DAG (`generators.layered_dag`, about 60 layers deep) with three resource types:
one limited pipelined type, one unlimited, one limited blocking type (latency 2), so that every resource path of
the legalizer and the list scheduler runs. Each measurement is one round (the calls take seconds); every
schedule is checked for legality by the independent verifier outside the timed region.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from gaus_fast import bounds, generators, verify
from gaus_fast.problem import OperatorType, ResourceType
from gaus_fast.schedule import Schedule

SCALE = float(os.environ.get("GAUS_FAST_CORE_SCALE", "1"))
N_OPS, N_EDGES = int(1_000_000 * SCALE), int(10_000_000 * SCALE)


@pytest.fixture(scope="module")
def big():
    base = generators.layered_dag(N_OPS, N_EDGES, 60, seed=1)
    op_type = (np.arange(N_OPS) % 3).astype(np.int32)
    problem = base.replace(
        operator_types=[OperatorType("alu", 1), OperatorType("wire", 0), OperatorType("mul", 2)],
        op_type=op_type,
        resource_types=[ResourceType("alu", N_OPS // 300), ResourceType("wire"), ResourceType("mul", N_OPS // 600, "blocking")],
        use_ptr=np.arange(N_OPS + 1, dtype=np.int64),
        use_res=op_type.copy(),
    )
    early = bounds.asap(problem)
    depth = int((early + problem.span).max()) * 3
    late = bounds.alap(problem, depth)
    mu = 0.5 * (early + late) + np.random.default_rng(0).normal(0.0, 1.0, N_OPS)
    return problem, early, late, depth, mu


def _once(benchmark, fn, *args, **kwargs):
    return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=1, iterations=1, warmup_rounds=0)


def test_asap(benchmark, big):
    problem = big[0]
    benchmark.extra_info.update(ops=problem.n_ops, edges=problem.n_edges)
    _once(benchmark, bounds.asap, problem)


def test_alap(benchmark, big):
    problem, _, _, depth, _ = big
    _once(benchmark, bounds.alap, problem, depth)


def test_list_schedule(benchmark, big):
    problem, early, late, _, _ = big
    start = _once(benchmark, bounds.list_schedule, problem, (early + late).astype(np.float64), mode="serial")
    assert verify.verify(problem, Schedule(start))


def test_legalize(benchmark, big):
    problem, _, _, depth, mu = big
    start, _ = _once(benchmark, bounds.legalize, problem, mu, depth)
    assert verify.verify(problem, Schedule(start))
