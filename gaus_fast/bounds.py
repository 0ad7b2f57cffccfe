"""Classic schedules and lower bounds, computed by the C++ core: ASAP/ALAP, list scheduling, bounds.

Everything here works on the acyclic part of the graph (distance-0 edges), except the modulo section at the end,
which takes every edge with its iteration distance: ResMII, RecMII, the modulo legalizer and compaction, and
Rau's iterative modulo scheduler (the classic baseline).
"""
from __future__ import annotations

import math

import numpy as np

from . import _core
from .problem import Problem, ProblemError


def _intra(problem: Problem):
    idx = problem.intra_edges()
    lag = problem.latency[problem.edge_src[idx]] + problem.edge_delay[idx]
    return problem.edge_src[idx], problem.edge_dst[idx], lag


def asap(problem: Problem) -> np.ndarray:
    """Earliest start of every op, ignoring resources."""
    src, dst, lag = _intra(problem)
    return _core.asap(problem.n_ops, src, dst, lag)


def alap(problem: Problem, depth: int, span: np.ndarray | None = None) -> np.ndarray:
    """Latest start of every op so that ``t_i + span_i <= depth`` (default span: max(lat, 1))."""
    src, dst, lag = _intra(problem)
    span = problem.span if span is None else span
    return _core.alap(problem.n_ops, src, dst, lag, span, int(depth))


def min_depth(problem: Problem) -> int:
    """The smallest depth bound any schedule can meet: max(ASAP + max(lat, 1))."""
    if problem.n_ops == 0:
        return 0
    return int((asap(problem) + problem.span).max())


def critical_path(problem: Problem) -> int:
    """The smallest makespan max(t + lat) ignoring resources."""
    if problem.n_ops == 0:
        return 0
    return int((asap(problem) + problem.latency).max())


def longest_path_nodes(problem: Problem) -> int:
    """Nodes on the longest dependence path, counting every edge as at least one step.

    This is the ICML'24 scripts' default number of stages D for objective A (where latencies are 0).
    """
    if problem.n_ops == 0:
        return 0
    src, dst, lag = _intra(problem)
    t = _core.asap(problem.n_ops, src, dst, np.maximum(lag, 1))
    return int((t + problem.span).max())


def makespan_lower_bound(problem: Problem) -> int:
    """max(critical path, per limited resource the head-body-tail bound).

    For a resource r with limit L and any set S of its uses, every schedule with makespan M holds all of S
    within ``[min head, M - min tail)`` (head = earliest start, tail = the longest path from the end of the hold
    to the end of the schedule), at most L at a time: ``M >= min head + ceil(sum hold / L) + min tail``. The sets
    tried are the uses with head >= h (for each h) and those with tail >= q (for each q): O(uses log uses).
    """
    lb = critical_path(problem)
    if not problem.has_limits():
        return lb
    head = asap(problem)
    # longest path from an op's start to the end; as t + (lat + 1) <= lb + 1, since the core needs spans >= 1
    # (span = latency failed on latency-0 ops)
    from_start = lb - alap(problem, lb + 1, span=problem.latency + 1)
    use_op, use_len = problem.use_op, problem.use_len
    for r, res in enumerate(problem.resource_types):
        mask = problem.use_res == r
        if res.limit is None or not mask.any():
            continue
        ops, hold = use_op[mask], use_len[mask].astype(np.int64)
        h, q = head[ops], from_start[ops] - hold
        lb = max(lb, _head_body_tail(h, q, hold, res.limit), _head_body_tail(q, h, hold, res.limit))
    return int(lb)


def _head_body_tail(key: np.ndarray, other: np.ndarray, hold: np.ndarray, limit: int) -> int:
    """max over thresholds k of ``k + ceil(sum hold[key >= k] / limit) + min other[key >= k]``."""
    order = np.argsort(-key, kind="stable")  # descending key: suffixes are the sets key >= k
    body = np.cumsum(hold[order])
    rest = np.minimum.accumulate(other[order])
    return int((key[order] + -(-body // limit) + rest).max())


def peak_weight_lower_bound(problem: Problem, depth: int) -> float:
    """A lower bound on the peak weighted profile within ``depth`` stages: max(max weight, total / depth)."""
    w = problem.op_weight
    if len(w) == 0:
        return 0.0
    lb = max(float(w.max()), float(w.sum()) / depth)
    if np.all(w == np.round(w)):
        lb = float(math.ceil(lb - 1e-9))
    return lb


def list_schedule(
    problem: Problem,
    priority: np.ndarray,
    mode: str = "parallel",
    weight_cap: float = math.inf,
) -> np.ndarray:
    """Resource-constrained list scheduling; lower priority value = scheduled first."""
    src, dst, lag = _intra(problem)
    return _core.list_schedule(
        problem.n_ops,
        src,
        dst,
        lag,
        np.asarray(priority, dtype=np.float64),
        problem.use_ptr,
        problem.use_res,
        problem.use_len,
        problem.limits,
        weight=problem.op_weight,
        weight_cap=float(weight_cap),
        mode=mode,
    )


def legalize(problem: Problem, mu: np.ndarray, depth: int | None = None, span: np.ndarray | None = None):
    """Turn continuous start times into a legal integer schedule near them.

    Returns ``(start, depth_met)``; dependences and resource limits always hold, the depth bound when possible.
    """
    src, dst, lag = _intra(problem)
    return _core.legalize(
        problem.n_ops,
        src,
        dst,
        lag,
        np.asarray(mu, dtype=np.float64),
        problem.span if span is None else span,
        problem.use_ptr,
        problem.use_res,
        problem.use_len,
        problem.limits,
        depth=-1 if depth is None else int(depth),
    )


def polish_objective_a(problem: Problem, start: np.ndarray, alpha: float, depth: int, max_passes: int = 20) -> np.ndarray:
    """Local search on a legal schedule for peak weight + alpha * communication (never makes it worse)."""
    src, dst, lag = _intra(problem)
    n = problem.n_ops
    net_comm = np.bincount(problem.edge_dst, weights=problem.edge_comm, minlength=n) - np.bincount(
        problem.edge_src, weights=problem.edge_comm, minlength=n
    )
    return _core.polish_peak_comm(n, src, dst, lag, start, problem.op_weight, net_comm, float(alpha), problem.span, int(depth), max_passes)


def check_depth(problem: Problem, depth: int) -> None:
    need = min_depth(problem)
    if depth < need:
        raise ProblemError(f"depth bound {depth} is below the critical path: at least {need} steps are needed")


# ----------------------------------------------------------------------------------------------- modulo
def _all_edges(problem: Problem):
    """Every edge as (src, dst, lat_src + delay, distance): ``t_dst + distance * II >= t_src + lag``."""
    lag = problem.latency[problem.edge_src] + problem.edge_delay
    return problem.edge_src, problem.edge_dst, lag, problem.edge_distance


def _uses(problem: Problem):
    return problem.use_ptr, problem.use_res, problem.use_len, problem.limits


def rec_mii(problem: Problem) -> int:
    """The smallest II with no dependence cycle of positive weight ``sum (lat + delay) - II * sum distance``."""
    return int(_core.rec_mii(problem.n_ops, *_all_edges(problem)))


def res_mii(problem: Problem) -> int:
    """max over limited resources of ``ceil(total hold steps / limit)`` (pipelined uses hold 1 step), at least 1."""
    try:
        return int(_core.res_mii(problem.n_ops, *_uses(problem)))
    except ValueError as err:
        raise ProblemError(_name_ops(problem, str(err))) from None


def mii(problem: Problem) -> int:
    """The lower bound ``max(ResMII, RecMII)`` on the initiation interval."""
    return max(res_mii(problem), rec_mii(problem))


def modulo_asap(problem: Problem, ii: int) -> np.ndarray | None:
    """Earliest starts at ``ii`` ignoring resources (optimal for every op at once), None when ``ii < RecMII``."""
    return _core.modulo_asap(problem.n_ops, *_all_edges(problem), int(ii))


def modulo_legalize(problem: Problem, mu: np.ndarray, ii: int) -> tuple[np.ndarray | None, str]:
    """A legal modulo schedule at ``ii`` near the continuous starts ``mu`` (placed on a modulo reservation table,
    then a fixed-point pass over back-edges bounded by |V| sweeps); ``(None, reason)`` when that fails."""
    t, ok, reason, _ = _core.modulo_legalize(problem.n_ops, *_all_edges(problem), np.asarray(mu, dtype=np.float64),
                                             *_uses(problem), int(ii))
    return (t, "") if ok else (None, _name_ops(problem, reason))


def modulo_compact(problem: Problem, start: np.ndarray, ii: int) -> np.ndarray:
    """Move ops of a legal modulo schedule earlier while everything stays legal (never makes it longer)."""
    return _core.modulo_compact(problem.n_ops, *_all_edges(problem), np.asarray(start, dtype=np.int64),
                                *_uses(problem), int(ii))


def iterative_modulo_schedule(problem: Problem, ii: int, budget: int | None = None) -> tuple[np.ndarray | None, str]:
    """Rau's iterative modulo scheduling at ``ii`` (height priority, eviction, ``budget`` placements, default
    ``6 n + 100``), compacted; ``(None, reason)`` when the budget runs out."""
    budget = 6 * problem.n_ops + 100 if budget is None else int(budget)
    t, ok, reason, _ = _core.iterative_modulo_schedule(problem.n_ops, *_all_edges(problem), *_uses(problem), int(ii), budget)
    return (t, "") if ok else (None, _name_ops(problem, reason))


def _name_ops(problem: Problem, message: str) -> str:
    """The core names ops by index ("op 12"); use the problem's ids."""
    import re

    def name(m):
        k = int(m.group(1))
        return f"op {problem.op_ids[k]}" if k < problem.n_ops else m.group(0)

    return re.sub(r"\bop (\d+)", name, message)
