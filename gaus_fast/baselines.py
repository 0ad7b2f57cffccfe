"""Heuristic schedules that the solver starts from and reports against: ASAP, ALAP and list scheduling.

* Makespan under resource limits: list scheduling with several classic priorities (critical path = ALAP,
  mobility, fan-out), cycle-driven ("parallel") and operation-driven ("serial"); the plain HLS baseline is the
  cycle-driven one with critical-path priority.
* Objective A (peak weight + alpha * communication within D stages): list scheduling against a per-step weight
  capacity, with the smallest capacity that still fits in D found by bisection.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import bounds, score
from .problem import NoScheduleError, Problem


@dataclass
class Baseline:
    name: str
    start: np.ndarray
    value: float


def latency_priorities(problem: Problem) -> dict[str, np.ndarray]:
    """Classic list-scheduling priorities (lower = more urgent)."""
    early = bounds.asap(problem)
    horizon = bounds.critical_path(problem) + 1
    late = bounds.alap(problem, horizon, span=problem.latency + 1)
    fanout = np.bincount(problem.edge_src, minlength=problem.n_ops).astype(np.float64)
    return {
        "critical-path": late.astype(np.float64),
        "mobility": (late - early).astype(np.float64) + early / (horizon + 1.0),
        "critical-path+fanout": late - fanout / (fanout.max(initial=0.0) + 1.0),  # initial: empty problems
    }


def list_scheduling_latency(problem: Problem) -> tuple[Baseline, Baseline]:
    """(plain list scheduling, best of all list variants) by makespan."""
    plain = None
    best = None
    for pname, prio in latency_priorities(problem).items():
        for mode in ("parallel", "serial"):
            start = bounds.list_schedule(problem, prio, mode=mode)
            cand = Baseline(f"list[{pname},{mode}]", start, float(score.makespan(problem, start)))
            if plain is None:
                plain = cand
            if best is None or cand.value < best.value:
                best = cand
    return plain, best


def asap_objective_a(problem: Problem, alpha: float) -> Baseline:
    start = bounds.asap(problem)
    return Baseline("asap", start, score.objective_a(problem, start, alpha))


def layered_objective_a(problem: Problem, depth: int, alpha: float) -> Baseline:
    """The best of the strict-level schedules (ASAP and ALAP levels, every edge at least one step) squeezed
    into k = 1, 2, 3, 4, 5, 6, 8, ... stages (about 25% apart): few stages cost peak, many cost communication.
    Needs no resource limits."""
    src, dst, lag = bounds._intra(problem)
    strict = np.maximum(lag, 1)
    n = problem.n_ops
    early = bounds._core.asap(n, src, dst, strict)
    levels = int((early + 1).max()) if n else 1
    late = bounds._core.alap(n, src, dst, strict, np.ones(n, dtype=np.int64), levels)
    best = None
    k = 1
    while True:
        for name, level in (("asap", early), ("alap", late)):
            start = (level * k) // levels
            if problem.n_ops and (start + problem.span).max() > depth:
                continue
            if np.any(start[dst] < start[src] + lag):  # latencies > 1 need more room than a squeeze gives
                continue
            value = score.objective_a(problem, start, alpha)
            if best is None or value < best.value:
                best = Baseline(f"layered[{name},{k}]", start, value)
        if k >= min(depth, levels):
            break
        k = min(max(k + 1, int(k * 1.25)), depth, levels)
    return best if best is not None else asap_objective_a(problem, alpha)


def list_scheduling_objective_a(problem: Problem, depth: int, alpha: float, seed: int = 0) -> Baseline:
    """The best of `heuristics.list_scheduling`'s priorities, each under the smallest per-step weight capacity that
    still fits in ``depth`` stages; ASAP when none fits (the caller's legalizer then has the last word)."""
    return list_schedules_objective_a(problem, depth, alpha, seed)[0]


def list_schedules_objective_a(problem: Problem, depth: int, alpha: float, seed: int = 0) -> list[Baseline]:
    """Every priority's list schedule of `list_scheduling_objective_a`, best first (a local search may rank them
    differently, so the solver polishes them all)."""
    from .heuristics import (
        list_scheduling,  # heuristics imports the solver lazily: import it late here too
    )

    try:
        return [Baseline(r.method, r.start, r.value) for r in list_scheduling(problem, "A", depth, alpha, seed=seed)]
    except NoScheduleError:
        return [asap_objective_a(problem, alpha)]
