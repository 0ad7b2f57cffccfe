"""Benchmarks of the fused numba kernels against the torch autograd reference, in one run.

    python -m pytest perf/bench_kernels.py --benchmark-only            # everything (~5 min on 2 cores)
    python -m pytest perf/bench_kernels.py --benchmark-only -k 1M      # the 1M-edge case only

* Edge kernel (``kernels.dependency_loss`` with the communication term), forward + backward, on layered DAGs of
  1M edges / 100k nodes and 10M edges / 1M nodes (`perf/scaling.py: synthetic`): torch (autograd of
  `gaus_fast.relax`) in float64 and float32, numba in float64 and float32 with all threads and with 1 thread
  (``numba.set_num_threads(1)``, the edges/s figure).
* Peak memory of each edge case (all threads): measured in a fresh subprocess (`perf/scaling.py` child mode) as the
  resident-set high-water mark during one forward + backward minus the resident set just before it, after a
  warm-up: the host memory the call needs beyond its inputs (torch's temporaries and saved tensors, the kernels'
  scratch). tracemalloc cannot see torch's or numba's allocations, hence RSS.
* Resource kernel (``kernels.expected_usage`` + soft maximum, forward + backward) on the EPFL ``div`` circuit at its
  default depth, ops' weights = problem.op_weight, hold 1, half window from `relax.occupancy_window`; skipped with
  the reason when the shared data is absent.

The comparison table (ratios, Medges/s, MiB) is printed at the end by perf/conftest.py and written to
perf/results/bench_kernels.md. Targets: numba >= 5x torch at 1M edges, >= 15M edges/s on one thread.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scaling  # noqa: E402  (perf/scaling.py)

from gaus_fast import kernels, relax  # noqa: E402

numba = pytest.importorskip("numba")

SIZES = {"1M": 1_000_000, "10M": 10_000_000}
ROUNDS = {("torch", "1M"): 5, ("torch", "10M"): 3, ("numba", "1M"): 15, ("numba", "10M"): 5}
IMPLS = [("torch", "float64", 0), ("torch", "float32", 0), ("numba", "float64", 0), ("numba", "float32", 0),
         ("numba", "float64", 1), ("numba", "float32", 1)]
_DATA: dict = {}


def edge_data(size: str, dtype: str) -> dict:
    if size not in _DATA:
        _DATA.clear()  # keep one size in memory at a time
        _DATA[size] = {"np": scaling.synthetic(SIZES[size])}
    entry = _DATA[size]
    if dtype not in entry:
        entry[dtype] = scaling.tensors(entry["np"], getattr(torch, dtype))
    return entry[dtype]


def dep_step(t: dict, backend: str):
    mu = t["mu"].detach().requires_grad_()
    sigma = t["sigma"].detach().requires_grad_()
    loss = kernels.dependency_loss(mu, sigma, t["src"], t["dst"], t["lag"], t["mult"], 1.0,
                                   comm_weight=t["comm"], alpha=0.01, backend=backend)
    loss.backward()
    return mu.grad


def peak_memory_mib(backend: str, size: str, dtype: str) -> float | None:
    cmd, env = scaling.child_command(backend, SIZES[size], dtype, repeats=0, part="dependency")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_extra_mib"]


@pytest.mark.parametrize("impl,dtype,threads", IMPLS, ids=[f"{i}-{d}-t{t or 'all'}" for i, d, t in IMPLS])
@pytest.mark.parametrize("size", list(SIZES))
def test_edges_forward_backward(benchmark, bench_record, size, impl, dtype, threads):
    t = edge_data(size, dtype)
    before = numba.get_num_threads()
    if impl == "numba":
        numba.set_num_threads(threads or numba.config.NUMBA_NUM_THREADS)
    try:
        dep_step(t, impl)  # warm-up (compilation or cache load)
        benchmark.pedantic(dep_step, args=(t, impl), rounds=ROUNDS[(impl, size)], iterations=1, warmup_rounds=0)
        used = numba.get_num_threads() if impl == "numba" else torch.get_num_threads()
    finally:
        numba.set_num_threads(before)
    n_edges = SIZES[size]
    key = (f"edges {size}", impl, dtype, used)
    bench_record(key, median=benchmark.stats.stats.median, min=benchmark.stats.stats.min, items=n_edges,
                 info=f"({n_edges:,} edges, {len(t['mu']):,} nodes; dependency loss + comm, forward + backward)")
    benchmark.extra_info.update(edges_per_second=n_edges / benchmark.stats.stats.median, threads=used)
    if threads == 0:
        bench_record(key, peak_mib=peak_memory_mib(impl, size, dtype))


def test_numba_matches_torch_at_1m():
    """Sanity: the benchmarked numba result is the reference's (float64)."""
    t = edge_data("1M", "float64")
    a = dep_step(t, "numba")
    b = dep_step(t, "torch")
    assert float((a - b).abs().max()) <= 1e-10 * float(b.abs().max())


@pytest.fixture(scope="module")
def div_problem():
    from gaus_fast.data import data_root
    from gaus_fast.formats import read_problem

    path = data_root() / "epfl-combinational" / "aig" / "arithmetic" / "div.aig"
    if not path.exists():
        pytest.skip(f"EPFL div circuit not found at {path} (set GAUS_FAST_DATA to the shared datasets folder)")
    return read_problem(path)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_usage_div(benchmark, bench_record, div_problem, backend):
    from gaus_fast.solver import default_depth

    p = div_problem
    depth = default_depth(p)
    n = p.n_ops
    rng = np.random.default_rng(0)
    # ops spread over the depth (every row inside the horizon: the full window is evaluated), sigma in the
    # solver's range (floor 0.25)
    mu = torch.tensor(np.arange(n) * (depth / n) + rng.normal(0, 0.5, n))
    sigma = torch.tensor(rng.uniform(0.25, 2.0, n))
    weight = torch.as_tensor(np.asarray(p.op_weight, dtype=np.float64))
    hold = torch.ones(n, dtype=torch.long)
    half = relax.occupancy_window(float(sigma.max()), 1, 24)

    def step():
        m = mu.detach().requires_grad_()
        s = sigma.detach().requires_grad_()
        usage = kernels.expected_usage(m, s, weight, hold, depth, half, backend=backend)
        (0.05 * torch.logsumexp(usage[0] / 0.05, 0)).backward()
        return m.grad

    step()
    benchmark.pedantic(step, rounds=10 if backend == "numba" else 5, iterations=1)
    threads = numba.get_num_threads() if backend == "numba" else torch.get_num_threads()
    bench_record(("usage div", backend, "float64", threads), median=benchmark.stats.stats.median,
                 min=benchmark.stats.stats.min, items=n,
                 info=f"(EPFL div: {n:,} ops, depth {depth}, half window {half}; expected usage + soft max, "
                      f"forward + backward; Medges/s column = Mrows/s)")


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_solver_iteration_div(benchmark, bench_record, div_problem, backend):
    """One whole objective-A solver iteration on EPFL div (`solver.ObjectiveARelaxation.gradient_step`: expected
    usage + soft maximum, dependence AL + communication, depth bound, backward, Adam), float64 as the solver runs it,
    started from the list schedule with the solver's initial sigmas. Legalisation (every `legalize_every`
    iterations, C++) is not part of it."""
    from gaus_fast import baselines, bounds
    from gaus_fast.solver import ObjectiveARelaxation, SolverConfig, _initial_sigma, default_depth

    p = div_problem
    depth = default_depth(p)
    config = SolverConfig(objective="A", backend=backend, device="cpu")
    lower = bounds.peak_weight_lower_bound(p, depth)
    relaxed = ObjectiveARelaxation(p, config, depth, lower)
    start = baselines.list_scheduling_objective_a(p, depth, config.alpha).start
    relaxed.state.reset(start.astype(np.float64), _initial_sigma(config, bounds.asap(p), bounds.alap(p, depth), config.sigma_init_scale))
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)  # as `solver.solve` runs it
    try:
        for _ in range(3):  # warm-up (numba compile, Adam state)
            relaxed.gradient_step(update_multipliers=False)
        benchmark.pedantic(relaxed.gradient_step, args=(False,), rounds=20 if backend == "numba" else 10, iterations=1)
    finally:
        torch.set_num_threads(previous)
    threads = numba.get_num_threads() if backend == "numba" else config.threads
    bench_record(("solver iteration div", backend, "float64", threads), median=benchmark.stats.stats.median,
                 min=benchmark.stats.stats.min, items=len(relaxed.state.src),
                 info=f"(EPFL div: {p.n_ops:,} ops, {len(relaxed.state.src):,} edges, depth {depth}; one objective-A "
                      f"gradient step: usage + soft max, dependences + comm, depth bound, backward, Adam)")
