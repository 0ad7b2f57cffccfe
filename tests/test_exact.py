"""Exact baselines (gaus_fast.exact): optimal values against brute force, HiGHS against CP-SAT, warm starts and
polish, statuses, the memory guard and bad input.

The brute force here is written from the problem definitions (numpy over every start vector in the windows),
independent of both exact.py and the verifier; the graphs are tiny so the module takes seconds.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("highspy")
pytest.importorskip("ortools")

from gaus_fast import bounds, exact, verify  # noqa: E402
from gaus_fast.generators import fft_example, layered_dag  # noqa: E402
from gaus_fast.problem import OperatorType, Problem, ProblemError, ResourceType  # noqa: E402
from gaus_fast.schedule import Schedule  # noqa: E402

BACKENDS = ("highs", "cpsat")


# ------------------------------------------------------------------------------------------ random problems
def random_dag(rng, n, p_edge=0.4, lat_choices=(0,), weights="int", limits=None, occupancy="blocking"):
    """A random DAG on n ops (edges i -> j for i < j, in a shuffled order), one operator type per latency value,
    each using its own resource (limited by ``limits[lat]`` when given)."""
    perm = rng.permutation(n)
    lats = rng.choice(lat_choices, size=n)
    types = [OperatorType(f"L{lat}", int(lat)) for lat in lat_choices]
    res = [ResourceType(f"R{lat}", (limits or {}).get(lat), occupancy) for lat in lat_choices]
    if weights == "int":
        w = rng.integers(0, 6, size=n).astype(float)
    else:
        w = np.round(rng.uniform(0.1, 3.0, size=n), 2)
    ops = [(str(perm[i]), f"L{lats[i]}", [f"R{lats[i]}"], float(w[i])) for i in range(n)]
    edges = [(str(perm[i]), str(perm[j]), 0, 0, float(rng.integers(0, 3)))
             for i in range(n) for j in range(i + 1, n) if rng.random() < p_edge]
    return Problem.build(types, ops, edges, res, name=f"rand{n}")


def all_starts(lo, hi):
    """Every integer start vector with lo <= t <= hi, as an int64 [K, n] array."""
    return np.array(list(itertools.product(*[range(a, b + 1) for a, b in zip(lo, hi)])), np.int64).reshape(-1, len(lo))


def dependences_hold(p, T, ii=0):
    lag = p.latency[p.edge_src] + p.edge_delay - p.edge_distance * ii
    return np.all(T[:, p.edge_dst] - T[:, p.edge_src] >= lag, axis=1)


def resources_hold(p, T, ii=None):
    """Per limited resource and step (slot mod ii), the units in use are within the limit."""
    ok = np.ones(len(T), bool)
    horizon = int(T.max() + p.latency.max() + 2)
    for r, res in enumerate(p.resource_types):
        if res.limit is None:
            continue
        users = [i for i in range(p.n_ops) if r in p.use_res[p.use_ptr[i]:p.use_ptr[i + 1]]]
        steps = ii if ii else horizon
        count = np.zeros((len(T), steps), np.int64)
        for i in users:
            hold = max(int(p.latency[i]), 1) if res.occupancy == "blocking" else 1
            for k in range(hold):
                d = T[:, i] + k
                d = d % ii if ii else d
                np.add.at(count, (np.arange(len(T)), d), 1)
        ok &= count.max(axis=1) <= res.limit
    return ok


def brute_objective_a(p, depth, alpha):
    T = all_starts(np.zeros(p.n_ops, int), depth - p.span)
    ok = dependences_hold(p, T) & resources_hold(p, T)
    T = T[ok]
    peak = np.zeros(len(T))
    for d in range(depth):
        peak = np.maximum(peak, ((T == d) * p.op_weight).sum(axis=1))
    comm = ((T[:, p.edge_dst] - T[:, p.edge_src]) * p.edge_comm).sum(axis=1)
    return float((peak + alpha * comm).min()) if len(T) else None


def brute_makespan(p, horizon, ii=None):
    T = all_starts(np.zeros(p.n_ops, int), horizon - p.latency)
    ok = dependences_hold(p, T, ii or 0) & resources_hold(p, T, ii)
    T = T[ok]
    return int((T + p.latency).max(axis=1).min()) if len(T) else None


def legal(p, res):
    """The result's schedule passes the independent verifier, and its value is the verifier's."""
    assert res.start is not None
    if res.objective == "A":
        checked = p.replace(depth=res.depth, ii=None)
    elif res.objective == "modulo":
        checked = p.replace(ii=res.ii)
    else:
        checked = p
    sched = Schedule(res.start, res.ii)
    assert verify.check(checked, sched) == []
    ev = verify.evaluate(checked, sched, alpha=res.alpha or 0.0)
    assert res.value == pytest.approx(ev["objective_a"] if res.objective == "A" else ev["makespan"], abs=1e-9)


# ------------------------------------------------------------------------------------------ optimal values
@pytest.mark.parametrize("seed", range(6))
def test_objective_a_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    p = random_dag(rng, n=6, lat_choices=(0, 1), weights="int" if seed % 2 else "float")
    depth = bounds.min_depth(p) + int(rng.integers(0, 2))
    alpha = float(rng.choice([0.01, 0.5]))
    want = brute_objective_a(p, depth, alpha)
    for backend in BACKENDS:
        res = exact.solve_objective_a(p, depth=depth, alpha=alpha, backend=backend, time_limit=20)
        assert res.status == "optimal", (backend, res.message)
        legal(p, res)
        assert res.value == pytest.approx(want, abs=1e-6), backend
        assert res.bound <= res.value + 1e-6
        assert res.gap == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_objective_a_with_unit_limits_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    p = random_dag(rng, n=6, p_edge=0.25, lat_choices=(1, 2), limits={1: 1, 2: 1})
    depth = bounds.min_depth(p) + 2 + seed  # seed 0: no schedule fits; seeds 1, 2: one does
    want = brute_objective_a(p, depth, 0.01)
    for backend in BACKENDS:
        res = exact.solve_objective_a(p, depth=depth, backend=backend, time_limit=20)
        if want is None:
            assert res.status == "infeasible"
            continue
        assert res.status == "optimal", (backend, res.message)
        legal(p, res)
        assert res.value == pytest.approx(want, abs=1e-6), backend


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("occupancy", ["blocking", "pipelined"])
def test_makespan_matches_brute_force(seed, occupancy):
    rng = np.random.default_rng(200 + seed)
    p = random_dag(rng, n=5, p_edge=0.3, lat_choices=(1, 2), limits={1: 1, 2: 1}, occupancy=occupancy)
    horizon = int(p.latency.sum()) + 1  # a serial schedule always fits
    want = brute_makespan(p, horizon)
    for backend in BACKENDS:
        res = exact.solve_makespan(p, backend=backend, time_limit=20)
        assert res.status == "optimal", (backend, res.message)
        legal(p, res)
        assert res.value == want, backend


@pytest.mark.parametrize("seed", range(3))
def test_modulo_matches_brute_force(seed):
    rng = np.random.default_rng(300 + seed)
    p = random_dag(rng, n=4, p_edge=0.5, lat_choices=(1, 2), limits={1: 1, 2: 1}, occupancy="pipelined")
    # a recurrence from the last op back to the first, one iteration later
    order = np.argsort(bounds.asap(p), kind="stable")
    src = np.append(p.edge_src, order[-1])
    dst = np.append(p.edge_dst, order[0])
    p = p.replace(edge_src=src, edge_dst=dst, edge_delay=np.append(p.edge_delay, 0),
                  edge_distance=np.append(p.edge_distance, 1), edge_comm=np.append(p.edge_comm, 0.0))
    for ii in (2, 3, 4):
        horizon = bounds.critical_path(p) + 2 * ii
        want = brute_makespan(p, horizon, ii)
        for backend in BACKENDS:
            res = exact.solve_modulo(p, ii=ii, backend=backend, time_limit=20)
            if want is None:
                assert res.status == "infeasible", (ii, backend, res.status)
                continue
            assert res.status == "optimal", (ii, backend, res.message)
            legal(p, res)
            assert res.value == want, (ii, backend)


def test_highs_and_cpsat_agree_on_a_layered_dag():
    p = layered_dag(14, 24, 5, seed=3, weights="random")
    got = {b: exact.solve_objective_a(p, backend=b, time_limit=20) for b in BACKENDS}
    for r in got.values():
        assert r.status == "optimal"
        legal(p, r)
    assert got["highs"].value == pytest.approx(got["cpsat"].value, abs=1e-6)


def test_highs_precedence_forms_agree():
    p = layered_dag(12, 20, 4, seed=5, weights="random")
    vals = [exact.solve_objective_a(p, backend="highs", time_limit=20, options={"precedence": f}).value
            for f in ("strong", "weak")]
    assert vals[0] == pytest.approx(vals[1], abs=1e-6)


# ------------------------------------------------------------------------------------------ warm start, polish
@pytest.mark.parametrize("backend", BACKENDS)
def test_polish_never_worsens_and_improves_asap(backend):
    p = layered_dag(16, 30, 5, seed=7, weights="random")
    depth = bounds.longest_path_nodes(p)
    start = bounds.asap(p)
    _, value0 = exact.evaluate_schedule(p, start, "A", 0.01, depth)
    res = exact.polish(p, start, "A", alpha=0.01, depth=depth, method=backend, time_limit=3)
    legal(p, res)
    assert res.value <= value0 + 1e-9
    assert res.improved == (res.value < value0 - 1e-9)
    assert res.improved  # ASAP piles every source into stage 0: there is room
    # from an optimal schedule, polish keeps it (improved False, same value)
    again = exact.polish(p, res.start, "A", alpha=0.01, depth=depth, method=backend, time_limit=1)
    assert again.value <= res.value + 1e-9
    if res.status == "optimal":
        assert not again.improved and again.value == pytest.approx(res.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_polish_with_a_tiny_budget_returns_the_start_or_better(backend):
    p = layered_dag(200, 500, 10, seed=1, weights="random")
    start = bounds.asap(p)
    _, value0 = exact.evaluate_schedule(p, start, "A", 0.01, bounds.longest_path_nodes(p))
    res = exact.polish(p, start, "A", method=backend, time_limit=0.05)
    legal(p, res)
    assert res.value <= value0 + 1e-9
    assert res.status in ("optimal", "feasible")


def test_polish_makespan_keeps_a_legal_schedule():
    p = fft_example(8)
    start = bounds.list_schedule(p, np.arange(p.n_ops, dtype=float))  # a poor priority
    _, value0 = exact.evaluate_schedule(p, start, "latency")
    res = exact.polish(p, start, "latency", method="cpsat", time_limit=5)
    legal(p, res)
    assert res.value <= value0


@pytest.mark.parametrize("backend", BACKENDS)
def test_hint_is_used_and_result_at_least_as_good(backend):
    p = layered_dag(40, 90, 6, seed=11, weights="random")
    depth = bounds.longest_path_nodes(p)
    hint = exact.solve_objective_a(p, backend="cpsat", time_limit=1.5).start
    _, hv = exact.evaluate_schedule(p, hint, "A", 0.01, depth)
    res = exact.solve_objective_a(p, backend=backend, time_limit=0.5, hint=hint)
    assert res.start is not None
    legal(p, res)
    # a solver given a feasible incumbent never reports a worse one
    assert res.value <= hv + 1e-6


def test_illegal_hint_is_ignored_with_a_message():
    p = layered_dag(10, 15, 4, seed=2)
    bad = np.zeros(p.n_ops, np.int64)
    bad[p.edge_dst[0]] = 0
    bad[p.edge_src[0]] = 3  # breaks an edge
    res = exact.solve_objective_a(p, backend="cpsat", time_limit=5, hint=bad)
    assert "hint is not a legal schedule" in res.message
    legal(p, res)


# ------------------------------------------------------------------------------------------ statuses, guard
@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_depth_and_modulo(backend):
    p = fft_example(8)
    # a depth below the critical path leaves some op without any window
    res = exact.solve_objective_a(p, depth=bounds.min_depth(p) - 1, backend=backend, time_limit=5)
    assert res.status == "infeasible" and res.start is None and res.value is None
    # 8 loads on one LOD unit cannot fit into II = 4
    res = exact.solve_modulo(p, ii=4, backend=backend, time_limit=5)
    assert res.status == "infeasible"


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory_guard_refuses_before_building(backend):
    p = layered_dag(300, 700, 12, seed=0)
    res = exact.solve_objective_a(p, backend=backend, max_vars=100, time_limit=5)
    assert res.status == "too-large" and res.start is None
    assert "too large" in res.message and "refused before building" in res.message
    assert res.seconds < 2.0


def test_memory_guard_on_nonzeros():
    p = layered_dag(300, 700, 12, seed=0)
    res = exact.solve_objective_a(p, backend="highs", max_nonzeros=1000, time_limit=5)
    assert res.status == "too-large"
    assert res.model_size["nonzeros_estimate"] > 1000


def test_nonzero_estimate_bounds_the_matrix():
    """The guard's estimate is close to the matrix actually built, and not below it (but for the peak column's
    one entry per stage), so the guard refuses what would not fit."""
    for strong in (False, True):
        for p, model in (
            (fft_example(8), exact._model_latency(fft_example(8), 30)),
            (None, None),
        ):
            if p is None:
                p = layered_dag(40, 90, 6, seed=1, weights="random")
                model = exact._model_a(p, bounds.longest_path_nodes(p), 0.01)
            built = len(exact._build_highs(model, strong)[8])
            est = exact._estimate_nonzeros(model, strong)
            assert built - model.horizon - 1 <= est <= 1.5 * built


def test_short_time_limit_gives_a_known_status():
    p = layered_dag(2000, 5000, 15, seed=4, weights="random")
    for backend in BACKENDS:
        res = exact.solve_objective_a(p, backend=backend, time_limit=0.2)
        assert res.status in exact.STATUSES
        if res.start is not None:
            legal(p, res)
        else:
            assert res.status in ("timeout", "no-solution")


def test_empty_problem():
    p = Problem(op_ids=[], op_type=[], operator_types=[OperatorType("op", 0)], edge_src=[], edge_dst=[])
    for backend in BACKENDS:
        res = exact.solve_makespan(p, backend=backend, time_limit=1, horizon=0)
        assert res.status == "optimal" and res.value == 0


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input_is_a_problem_error():
    p = fft_example(8)
    with pytest.raises(ProblemError, match="unknown exact backend"):
        exact.solve_objective_a(p, backend="gurobi")
    with pytest.raises(ProblemError, match="hint has 3 start steps"):
        exact.solve_makespan(p, hint=[0, 1, 2])
    with pytest.raises(ProblemError, match="integer II >= 1"):
        exact.solve_modulo(p, ii=0)
    with pytest.raises(ProblemError, match="unknown objective"):
        exact.solve(p, objective="B")
    with pytest.raises(ProblemError, match="legal schedule to start from"):
        exact.polish(p, np.zeros(p.n_ops, np.int64), "latency")
    with pytest.raises(ProblemError, match="precedence must be"):
        exact.solve_objective_a(p, backend="highs", options={"precedence": "medium"})
    looped = p.replace(edge_distance=np.r_[np.ones(1, np.int64), np.zeros(p.n_edges - 1, np.int64)])
    with pytest.raises(ProblemError, match="loop-carried"):
        exact.solve_objective_a(looped)


# ------------------------------------------------------------------------------------------ CLI --polish
def test_cli_polish_reports_both_values(tmp_path, capsys):
    import json

    from gaus_fast.cli import main

    out = tmp_path / "s.json"
    rc = main(["solve", "--objective", "latency", "--max-iters", "20", "--time-limit", "2", "--polish", "cpsat",
               "--polish-time", "2", "--quiet", "--out", str(out)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # nothing else on stdout (no banner)
    data = json.loads(out.read_text())
    pol = data["solver"]["polish"]
    assert pol["method"] == "cpsat" and pol["status"] in ("optimal", "feasible")
    assert pol["value"] <= pol["value_before"] == data["objective"]["value_before_polish"]
    assert data["objective"]["value"] == pol["value"] == summary["value"]
    assert data["verified"] and summary["verified"]


def test_cli_polish_highs_keeps_stdout_clean(capfd):  # capfd: the HiGHS banner is C-level output
    import json

    from gaus_fast.cli import main

    rc = main(["solve", "--objective", "latency", "--max-iters", "5", "--time-limit", "1", "--polish", "highs",
               "--polish-time", "1", "--quiet"])
    assert rc == 0
    lines = capfd.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["value_before_polish"] >= json.loads(lines[0])["value"]


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_cli_bad_polish_time_is_exit_2(value, capsys):
    from gaus_fast.cli import main

    assert main(["solve", "--polish", "cpsat", "--polish-time", value, "--quiet"]) == 2
    assert "--polish-time must be" in capsys.readouterr().err
