"""End-to-end checks on the shared benchmark sets: solved, verified independently, and as good as promised.

Skipped with a reason when the data folder (GAUS_FAST_DATA, default ../shared/datasets) is absent.
"""
from __future__ import annotations

import json
import time

import pytest

from gaus_fast import verify
from gaus_fast.data import dataset
from gaus_fast.formats import read_problem
from gaus_fast.solver import SolverConfig, solve

HEURIGYM = dataset("heurigym-operator-scheduling")
ICML = dataset("icml24-differentiable-scheduler")
EPFL = dataset("epfl-combinational")


def _need(folder):
    if not folder.exists():
        pytest.skip(f"benchmark data not found at {folder} (set GAUS_FAST_DATA to the datasets folder)")


def _heurigym_instances():
    if not HEURIGYM.exists():
        return []
    return sorted(HEURIGYM.glob("json/*/*.json"))


@pytest.mark.data
@pytest.mark.parametrize("path", _heurigym_instances(), ids=lambda p: p.stem)
def test_heurigym_reaches_known_optimum_within_10s(path):
    _need(HEURIGYM)
    optimum = json.loads((HEURIGYM / "baseline.json").read_text())[path.stem]
    problem = read_problem(path)
    t0 = time.perf_counter()
    result = solve(problem, SolverConfig(objective="latency", time_limit=8, seed=0))
    elapsed = time.perf_counter() - t0
    assert verify.check(problem, result.schedule) == []
    makespan = verify.evaluate(problem, result.schedule)["makespan"]
    assert makespan == result.value
    assert makespan <= optimum, f"{path.stem}: makespan {makespan} > known optimum {optimum}"
    assert makespan >= result.lower_bound
    assert elapsed < 10.0


@pytest.mark.data
def test_heurigym_plain_list_scheduling_misses_some():
    """The benchmark is only meaningful if list scheduling alone does not already reach every optimum."""
    _need(HEURIGYM)
    from gaus_fast import baselines

    optimum = json.loads((HEURIGYM / "baseline.json").read_text())
    misses = []
    for path in _heurigym_instances():
        plain, _ = baselines.list_scheduling_latency(read_problem(path))
        if plain.value > optimum[path.stem]:
            misses.append(path.stem)
    assert len(misses) >= 2, misses


@pytest.mark.data
@pytest.mark.parametrize("name", ["rand_graph_sparse_1000_2", "rand_graph_1000_3"])
def test_icml_objective_a_beats_list_and_asap(name):
    _need(ICML)
    problem = read_problem(ICML / "graphgml" / f"{name}.gml")
    result = solve(problem, SolverConfig(objective="A", time_limit=5, patience=500, seed=0))
    checked = problem.replace(depth=result.depth)
    assert verify.check(checked, result.schedule) == []
    value = verify.evaluate(problem, result.schedule, alpha=0.01)["objective_a"]
    assert value == pytest.approx(result.value)
    assert value < result.baselines["list"] and value < result.baselines["asap"]
    assert value >= result.lower_bound


@pytest.mark.data
@pytest.mark.parametrize("name", ["random_control/ctrl", "random_control/cavlc", "arithmetic/adder"])
def test_epfl_objective_a_verified_and_better_than_baselines(name):
    _need(EPFL)
    problem = read_problem(EPFL / "aig" / f"{name}.aig")
    result = solve(problem, SolverConfig(objective="A", time_limit=4, patience=400, seed=0))
    assert verify.check(problem.replace(depth=result.depth), result.schedule) == []
    assert result.value < min(result.baselines.values())
