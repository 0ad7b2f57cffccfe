"""Objective "memory" (gaus_fast/solver_memory.py): peak live bits within D stages.

Every schedule returned verifies (the independent `verify.check`) and its value is the verifier's
``peak_live_bits``; the value lies between the lower bound and the best baseline; the solver beats every
baseline on a graph built so that ASAP and ALAP each waste storage on a different half; runs are deterministic
for a seed.
"""
from __future__ import annotations

import numpy as np
import pytest

from gaus_fast import Problem, ResourceType, generators, verify
from gaus_fast.problem import ProblemError
from gaus_fast.schedule import Schedule
from gaus_fast.solver import OBJECTIVES, SolverConfig, solve
from gaus_fast.solver_memory import live_bits, lower_bounds, solve_memory, strict_problem


def config(**kw):
    kw.setdefault("time_limit", 10.0)
    kw.setdefault("max_iters", 300)
    return SolverConfig(objective="memory", **kw)


def two_sided(k: int = 6, bits: int = 32) -> Problem:
    """A chain c0 -> ... -> ck; source s_m feeds c_m (wants to start late), c0 feeds sink u_m (wants to start
    early). ASAP keeps every source live from step 0, ALAP keeps c0 live to the end; the optimum keeps two
    values live at every step, which is also the lower bound."""
    ops = [(f"c{i}", "op", None, 1, bits) for i in range(k + 1)]
    ops += [(f"s{m}", "op", None, 1, bits) for m in range(1, k + 1)]
    ops += [(f"u{m}", "op", None, 1, bits) for m in range(1, k + 1)]
    edges = [(f"c{i}", f"c{i + 1}") for i in range(k)]
    edges += [(f"s{m}", f"c{m}") for m in range(1, k + 1)] + [("c0", f"u{m}") for m in range(1, k + 1)]
    return Problem.build({"op": 1}, ops, edges, name="two_sided")


def test_registered_objective():
    assert "memory" in OBJECTIVES


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_live_bits_is_the_verifier_metric(seed):
    p = generators.layered_dag(60, 150, 8, seed=seed)
    p = p.replace(op_bits=np.random.default_rng(seed).integers(1, 64, p.n_ops))
    rng = np.random.default_rng(seed)
    for _ in range(5):
        start = rng.integers(0, 30, p.n_ops)
        ev = verify.evaluate(p, Schedule(start))
        assert live_bits(p, start) == (ev["peak_live_bits"], ev["total_live_bits"])


def test_beats_every_baseline_where_it_must():
    p = two_sided()
    r = solve(p, config(max_iters=2000))
    assert verify.check(p, r.schedule) == []
    assert r.value == verify.evaluate(p, r.schedule)["peak_live_bits"]
    assert r.baselines["asap"] >= 4 * 32 and r.baselines["alap"] >= 3 * 32
    assert r.value < min(r.baselines.values())
    assert r.value >= r.lower_bound == 64


@pytest.mark.parametrize("seed", [0, 1])
def test_random_graphs_verify_and_respect_bounds(seed):
    p = generators.layered_dag(150, 400, 10, seed=seed, latency=1)
    p = p.replace(op_bits=np.random.default_rng(seed).integers(1, 33, p.n_ops))
    r = solve(p, config(seed=seed))
    assert verify.check(p, r.schedule) == []
    ev = verify.evaluate(p, r.schedule)
    assert r.value == ev["peak_live_bits"]
    assert ev["length_stages"] <= r.depth
    assert r.lower_bound <= r.value <= min(v for v in r.baselines.values() if v == v)


def test_latency_zero_edges_take_a_step():
    # AIGER/GML: latency 0; without one step per edge everything would chain into step 0 with nothing live
    p = generators.layered_dag(80, 200, 6, seed=3, latency=0)
    r = solve(p, config())
    assert verify.check(p, r.schedule) == []
    strict = strict_problem(p)
    assert verify.check(strict, r.schedule) == []
    assert r.value > 0 and r.lower_bound > 0


def test_resource_limits_are_kept():
    p = generators.fft_example(8)
    r = solve(p, config(depth=40))
    assert verify.check(p, r.schedule) == []
    assert r.value >= r.lower_bound
    assert verify.evaluate(p, r.schedule)["length_stages"] <= 40


def test_deterministic_for_a_seed():
    p = generators.layered_dag(120, 300, 8, seed=5, latency=1)
    a = solve(p, config(seed=7, max_iters=200, time_limit=60))
    b = solve(p, config(seed=7, max_iters=200, time_limit=60))
    assert np.array_equal(a.schedule.start, b.schedule.start) and a.value == b.value


def test_sum_metric():
    p = two_sided(5)
    r = solve_memory(p, config(max_iters=1000), metric="sum")
    assert verify.check(p, r.schedule) == []
    assert r.value == verify.evaluate(p, r.schedule)["total_live_bits"]
    assert r.lower_bound <= r.value <= min(r.baselines.values())
    with pytest.raises(ProblemError):
        solve_memory(p, config(), metric="median")


def test_lower_bound_holds_on_exhaustive_small_case():
    # every schedule of a tiny graph within D: the bound never exceeds the true optimum
    p = Problem.build({"op": 1}, [("a", "op"), ("b", "op"), ("c", "op"), ("d", "op")],
                      [("a", "c"), ("b", "c"), ("a", "d"), ("c", "d")])
    depth = 5
    peak_lb, total_lb = lower_bounds(strict_problem(p), depth)
    best = (np.inf, np.inf)
    for t in np.ndindex(*(depth,) * 4):
        start = np.array(t)
        if verify.check(strict_problem(p).replace(depth=depth), Schedule(start)) == []:
            pk, tot = live_bits(p, start)
            best = (min(best[0], pk), min(best[1], tot))
    assert peak_lb <= best[0] and total_lb <= best[1]
    r = solve(p, config(depth=depth))
    assert r.value == best[0]


def test_bad_depth_is_a_clear_error():
    with pytest.raises(ProblemError, match="depth"):
        solve(two_sided(), config(depth=2))


def test_empty_and_single_op():
    r = solve(Problem.build({"op": 1}, [("a", "op", None, 1, 8)]), config())
    assert r.value == 0 and r.lower_bound == 0
    r = solve(Problem.build({}, []), config())
    assert r.value == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_local_search_keeps_legality_and_lowers_its_cost(seed):
    """One pass moves ops within their slack only, its incremental live profile equals the one recomputed from
    scratch, and it lowers its cost sum_d (live_d / scale)^8."""
    from gaus_fast import bounds
    from gaus_fast.solver_memory import POLISH_POWER, _Polisher, _polish_pass, live_profile

    p = generators.layered_dag(200, 600, 12, seed=seed, latency=int(seed % 2))
    p = p.replace(op_bits=np.random.default_rng(seed).integers(1, 64, p.n_ops))
    strict = strict_problem(p)
    depth = 16
    pol = _Polisher(strict, depth, "peak")
    rng = np.random.default_rng(seed)
    start, _ = bounds.legalize(strict, bounds.asap(strict) + rng.uniform(0, 3, p.n_ops), depth)
    scale = float(live_bits(p, start)[0])

    def cost(t):
        return float(np.sum((live_profile(p, t) / scale) ** POLISH_POWER))

    t = start.copy()
    moved, prof = _polish_pass(t, pol.bits, pol.span, pol.depth, *pol.pred, *pol.succ, POLISH_POWER, scale)
    assert verify.check(strict.replace(depth=depth), Schedule(t)) == []
    np.testing.assert_array_equal(prof, live_profile(p, t, horizon=depth + 1))  # the incremental bookkeeping
    assert moved > 0 and cost(t) < cost(start)
    assert live_bits(p, pol(start))[0] <= live_bits(p, start)[0] * 1.05


def test_cli_memory_objective(tmp_path, capsys):
    import json

    from gaus_fast import cli
    from gaus_fast.formats import native

    src = tmp_path / "g.json"
    native.write(src, two_sided(4))
    out = tmp_path / "s.json"
    rc = cli.main(["solve", str(src), "--objective", "memory", "--time-limit", "5", "--max-iters", "200",
                   "--out", str(out), "--quiet"])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["verified"] and data["objective"]["name"] == "memory"
    assert data["objective"]["value"] == data["objective"]["peak_live_bits"] >= data["objective"]["lower_bound"]
    assert set(data["objective"]["baselines"]) == {"asap", "alap", "list"}
    capsys.readouterr()
    assert cli.main(["solve", str(src), "--objective", "memory", "--depth", "1", "--quiet"]) == 2
    assert "depth" in capsys.readouterr().err
