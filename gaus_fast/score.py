"""Fast objective values used inside the solver loop to rank legal schedules.

The independent verifier (`verify.py`) re-evaluates the final schedule; these are the solver's own quick scores.
"""
from __future__ import annotations

import numpy as np

from .problem import Problem


def peak_weighted(problem: Problem, start: np.ndarray) -> float:
    """Largest per-step sum of weights of the ops starting in that step."""
    if problem.n_ops == 0:
        return 0.0
    return float(np.bincount(start, weights=problem.op_weight).max())


def communication(problem: Problem, start: np.ndarray, ii: int | None = None) -> float:
    """``sum_e comm_e * (t_v + distance_e * II - t_u)``."""
    span = start[problem.edge_dst] - start[problem.edge_src]
    if ii is not None:
        span = span + problem.edge_distance * ii
    return float(np.dot(problem.edge_comm, span))


def objective_a(problem: Problem, start: np.ndarray, alpha: float) -> float:
    return peak_weighted(problem, start) + alpha * communication(problem, start)


def makespan(problem: Problem, start: np.ndarray) -> int:
    if problem.n_ops == 0:
        return 0
    return int((start + problem.latency).max())
