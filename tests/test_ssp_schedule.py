"""CIRCT's -ssp-schedule done by gaus_fast (`gaus_fast.ssp_schedule` and the CLI), checked against optima that
this file computes on its own: longest paths by Bellman-Ford for the resource-free classes (their LP optimum), a
small CP-SAT model per instance for SharedOperatorsProblem and ModuloProblem. Instances: the shared CIRCT test
files (CIRCT's own expected output where the file has it) and random ones of every class built here."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gaus_fast import ssp_schedule
from gaus_fast import verify as V
from gaus_fast.data import dataset
from gaus_fast.formats import ssp
from gaus_fast.problem import OperatorType, Problem, ProblemError, ResourceType
from gaus_fast.solver import SolverConfig

SSP_DIR = dataset("circt-ssp-tests") / "Dialect-SSP"
needs_ssp = pytest.mark.skipif(not SSP_DIR.exists(), reason=f"CIRCT SSP tests not found at {SSP_DIR} (set GAUS_FAST_DATA)")
CONFIG = SolverConfig(time_limit=5.0, seed=0)
# Random instances per class; raise it for a longer sweep: GAUS_FAST_SSP_SWEEP=200 pytest tests/test_ssp_schedule.py
SWEEP = int(os.environ.get("GAUS_FAST_SSP_SWEEP", "12"))


# ------------------------------------------------------------------------------------------- reference optima
def _longest_paths(p: Problem, ii: int | None) -> np.ndarray | None:
    """Earliest starts under the difference constraints t_v >= t_u + lat_u + delay - dist * II, t >= 0
    (Bellman-Ford); None when a positive cycle makes them infeasible."""
    lat = p.latency
    t = np.zeros(p.n_ops, np.int64)
    edges = [(int(u), int(v), int(lat[u] + d - k * (ii or 0)))
             for u, v, d, k in zip(p.edge_src, p.edge_dst, p.edge_delay, p.edge_distance)]
    for _ in range(p.n_ops + 1):
        changed = False
        for u, v, w in edges:
            if t[u] + w > t[v]:
                t[v] = t[u] + w
                changed = True
        if not changed:
            return t
    return None


def _min_ii(p: Problem) -> int:
    ii = 1
    while _longest_paths(p, ii) is None:
        ii += 1
    return ii


def _cpsat_last_op(p: Problem, last: int, ii: int | None) -> int | None:
    """The smallest t(last op) under dependences and pipelined unit limits (per step, or per slot t mod II);
    None if infeasible within a generous horizon."""
    from ortools.sat.python import cp_model

    lat = p.latency
    horizon = int(lat.sum()) + p.n_ops * (ii or 1) + 2
    m = cp_model.CpModel()
    t = [m.NewIntVar(0, horizon, f"t{i}") for i in range(p.n_ops)]
    for u, v, d, k in zip(p.edge_src, p.edge_dst, p.edge_delay, p.edge_distance):
        m.Add(t[v] + int(k) * (ii or 0) >= t[u] + int(lat[u] + d))
    owner = np.repeat(np.arange(p.n_ops), np.diff(p.use_ptr))
    for r, res in enumerate(p.resource_types):
        if res.limit is None:
            continue
        users = owner[p.use_res == r]
        slots = ii if ii is not None else horizon + 1
        on = {}
        for i in users:
            x = [m.NewBoolVar("") for _ in range(slots)]
            m.AddExactlyOne(x)
            if ii is None:
                m.Add(t[i] == sum(s * x[s] for s in range(slots)))
            else:
                q = m.NewIntVar(0, horizon, "")
                m.Add(t[i] == q * ii + sum(s * x[s] for s in range(slots)))
            on[i] = x
        for s in range(slots):
            m.Add(sum(on[i][s] for i in users) <= res.limit)
    m.Minimize(t[last])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 30.0
    solver.parameters.num_workers = 1
    st = solver.Solve(m)
    assert st != cp_model.UNKNOWN, "reference CP-SAT model timed out"
    return int(solver.Value(t[last])) if st == cp_model.OPTIMAL else None


def reference(case: ssp.SSPCase) -> tuple[int | None, int]:
    """(II, t(last op)) that are optimal for the case's class, lexicographically."""
    p = ssp_schedule.problem_to_solve(case).replace(ii=None)
    last = p.index_of()[p.last_op]
    cls = case.problem_class
    if cls in ("Problem", "ChainingProblem"):
        return None, int(_longest_paths(p, None)[last])
    if cls in ("CyclicProblem", "ChainingCyclicProblem"):
        ii = _min_ii(p)
        return ii, int(_longest_paths(p, ii)[last])
    if cls == "SharedOperatorsProblem":
        return None, _cpsat_last_op(p, last, None)
    ii = _min_ii(p)
    while (best := _cpsat_last_op(p, last, ii)) is None:
        ii += 1
    return ii, best


def ours(case: ssp.SSPCase) -> tuple[int | None, int]:
    res = ssp_schedule.solve_case(case, CONFIG)
    solved = ssp.with_solution(case, res.schedule)
    assert solved.check_schedule() == [], solved.check_schedule()[:3]
    p = ssp_schedule.problem_to_solve(case).replace(ii=res.schedule.ii)
    assert V.check(p, res.schedule) == []  # the chain-breaking dependences too
    # what the writer emits reads back as a valid solution of the original text
    again = ssp.parse_case(ssp.dumps_case(solved), cycle_time=case.problem.cycle_time)
    assert again.check_schedule() == []
    ii = res.schedule.ii if case.problem_class in ssp.CYCLIC_CLASSES else None
    return ii, int(res.schedule.start[case.problem.index_of()[case.problem.last_op]])


# ------------------------------------------------------------------------------------------- the shared files
def _shared_cases():
    if not SSP_DIR.exists():
        return []
    out = []
    for path in sorted(SSP_DIR.glob("*.mlir")):
        if path.name == "errors.mlir":
            continue
        for c in ssp.read_instances(path, check=False, cycle_time=5.0):
            if not c.issues and c.problem.n_ops:
                out.append(pytest.param(c, id=f"{path.stem}:{c.instance_name or c.index}"))
    return out


@needs_ssp
@pytest.mark.parametrize("case", _shared_cases())
def test_shared_instances_are_optimal(case):
    assert ours(case) == reference(case)


@needs_ssp
def test_matches_circt_expected_output(tmp_path):
    """Transforms_schedule.mlir's CHECK lines are CIRCT's simplex scheduler's output (last-op-name=sink,
    cycle-time=5.0): our writer's t, z and II must be the same, op by op."""
    path = SSP_DIR / "Transforms_schedule.mlir"
    expected = [ln.split("CHECK:", 1)[1] for ln in path.read_text().splitlines() if ln.startswith("// CHECK:")]
    out = subprocess.run([sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--last-op", "sink",
                          "--cycle-time", "5.0", "--quiet", "--out", str(tmp_path / "out.mlir")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    got = re.findall(r"\[(?:t|II)<[^\]]*\]", (tmp_path / "out.mlir").read_text())
    want = re.findall(r"\[(?:t|II)<[^\]]*\]", "\n".join(expected))
    assert want and got == want


# ------------------------------------------------------------------------------------------- random instances
def random_case(cls: str, seed: int) -> ssp.SSPCase:
    """A random instance of ``cls`` (4 to 9 ops), written as SSP text and read back, as a user's file would be."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 10))
    shared = cls in ("SharedOperatorsProblem", "ModuloProblem")
    cyclic = cls in ssp.CYCLIC_CLASSES
    chaining = cls in ssp.CHAINING_CLASSES
    k = int(rng.integers(1, 4))
    types = []
    for j in range(k):
        lat = int(rng.integers(1 if shared else 0, 4))
        if chaining:  # CIRCT: a zero-latency type has one delay, in = out
            inc = float(rng.choice([0.0, 1.0, 2.5]))
            types.append(OperatorType(f"T{j}", lat, inc, inc if lat == 0 else float(rng.choice([0.0, 1.5, 3.0]))))
        else:
            types.append(OperatorType(f"T{j}", lat))
    res = [ResourceType(f"R{j}", int(rng.integers(1, 3))) for j in range(int(rng.integers(1, 3)))] if shared else []
    ops = [(f"op{i}", f"T{int(rng.integers(k))}", [r.name for r in res if rng.random() < 0.6]) for i in range(n)]
    edges = []
    for v in range(1, n):
        for u in rng.choice(v, size=min(v, int(rng.integers(1, 3))), replace=False):
            edges.append((f"op{u}", f"op{v}", 0, 0))
    if cyclic:
        for _ in range(int(rng.integers(1, 3))):
            u, v = sorted(rng.choice(n, size=2, replace=False))
            edges.append((f"op{v}", f"op{u}", 0, int(rng.integers(1, 3))))
    p = Problem.build(types, ops, edges, resource_types=res, name=f"{cls}_{seed}")
    # back edges as auxiliary dependences (CIRCT: a def-use edge of a chaining class has distance 0)
    text = ssp.dumps(p.replace(ii=None), problem_class=cls, edge_aux=p.edge_distance > 0)
    return ssp.parse_case(text, cycle_time=4.0 if chaining else None)


@pytest.mark.parametrize("cls", ssp.PROBLEM_CLASSES)
def test_random_instances_are_optimal(cls):
    misses = []
    for seed in range(SWEEP):
        case = random_case(cls, seed)
        got, want = ours(case), reference(case)
        if got != want:
            misses.append((seed, got, want))
    assert not misses, f"{cls}: (seed, ours (II, t_last), optimum) {misses}"


# ------------------------------------------------------------------------------------------- the CLI
@needs_ssp
def test_cli_schedules_every_instance_and_writes_them(tmp_path):
    path = SSP_DIR / "Transforms_schedule.mlir"
    out = tmp_path / "out.mlir"
    run = subprocess.run([sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--cycle-time", "5",
                          "--quiet", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(ln) for ln in run.stdout.splitlines()]
    assert [ln["instance"] for ln in lines] == ["self_arc", "mco_outgoing_delays"]
    assert all(ln["verified"] for ln in lines)
    cases = ssp.read_instances(out, cycle_time=5.0)
    assert [c.check_schedule() for c in cases] == [[], []] and cases[0].problem.ii == 3
    one = subprocess.run([sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--case", "mco_outgoing_delays",
                          "--cycle-time", "5", "--quiet"], capture_output=True, text=True)
    assert one.returncode == 0 and json.loads(one.stdout)["value"] == 8
    bad = subprocess.run([sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--cycle-time", "5",
                          "--out", str(tmp_path / "x.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "holds 2 instances" in bad.stderr
    nocase = subprocess.run([sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--case", "nope"],
                            capture_output=True, text=True)
    assert nocase.returncode == 2 and "no instance named @nope" in nocase.stderr


def test_shared_operators_minimises_the_last_op_not_the_makespan():
    """A long op that does not feed the last op must not delay it; the last op has a unit of its own."""
    p = Problem.build({"slow": 9, "fast": 1}, [("a", "fast", ["alu"]), ("b", "slow", ["alu"]), ("c", "fast", ["alu"]),
                                              ("sink", "fast")],
                      [("a", "c"), ("c", "sink")], resource_types=[ResourceType("alu", 1)])
    case = ssp.parse_case(ssp.dumps(p))
    res = ssp_schedule.solve_case(case, CONFIG)
    t = dict(zip(p.op_ids, res.schedule.start.tolist()))
    assert t["sink"] == 2 and res.value == 2 and V.check(case.problem, res.schedule) == []


def test_chaining_without_cycle_time_is_an_error():
    p = Problem.build([OperatorType("a", 0, 1.0, 1.0)], [("x", "a"), ("y", "a")], [("x", "y")])
    case = ssp.parse_case(ssp.dumps(p))
    with pytest.raises(ProblemError, match="cycle time"):
        ssp_schedule.solve_case(case, CONFIG)
