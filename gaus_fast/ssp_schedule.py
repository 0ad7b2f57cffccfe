"""CIRCT's ``-ssp-schedule`` pass, done by gaus_fast: one SSP instance scheduled for its problem class's objective.

CIRCT's schedulers minimise the start time of the instance's *last op* (the graph's last operation unless
``last-op-name`` names another) and, for the cyclic classes, the initiation interval first:

| class | minimised | how |
|---|---|---|
| Problem, ChainingProblem | t(last op) | ASAP over the dependences (chaining: plus CIRCT's chain-breaking ones). Every op starts at its earliest step, so t(last op) is the LP optimum |
| CyclicProblem, ChainingCyclicProblem, ModuloProblem | II, then t(last op) | the modulo solver (`solver_modulo`) |
| SharedOperatorsProblem | t(last op) | the latency solver on the last op's ancestors, whose makespan is t(last op) + its latency; the other ops are list-scheduled after them |

Only the last op's ancestors can hold it back. Every other op can run after it without changing its start, so
splitting the graph loses nothing.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from . import baselines, bounds
from .formats import ssp
from .problem import Problem
from .schedule import Schedule
from .solver import SolveResult, SolverConfig, solve

LAST_OP = "last_op"  # the objective's name in results: t(last op)


def problem_to_solve(case: ssp.SSPCase) -> Problem:
    """The case's problem plus, for chaining classes, CIRCT's chain-breaking dependences (errors as CIRCT's)."""
    p = case.problem
    if case.problem_class in ssp.CHAINING_CLASSES:
        return ssp.chain_breaking_problem(p, case.edge_aux, p.cycle_time)
    return p


def solve_case(case: ssp.SSPCase, config: SolverConfig | None = None, ii: int | None = None,
               progress=None) -> SolveResult:
    """Schedule one SSP instance for its class's objective (see the module docstring). ``ii``: a fixed initiation
    interval for the cyclic classes; None searches the smallest (an II written in the file is an earlier solution,
    not a given, as in CIRCT). The schedule satisfies the chain-breaking dependences too; `ssp.with_solution`
    adds the ``z`` of chaining classes."""
    config = config or SolverConfig()
    problem = problem_to_solve(case).replace(ii=ii)
    if case.problem_class in ssp.CYCLIC_CLASSES:
        return solve(problem, replace(config, objective="ii"), progress)
    t0 = time.perf_counter()
    last = problem.index_of()[problem.last_op] if problem.last_op is not None else problem.n_ops - 1
    if problem.n_ops == 0:
        return SolveResult(Schedule(np.zeros(0, np.int64)), LAST_OP, 0.0, 0.0, {}, None)
    early = bounds.asap(problem)
    if not problem.has_limits():
        value = float(early[last])
        return SolveResult(Schedule(early), LAST_OP, value, value, {"asap": value}, None,
                           seconds=time.perf_counter() - t0)
    return _shared_operators(problem, last, early, config, progress, t0)


def _shared_operators(problem: Problem, last: int, early: np.ndarray, config: SolverConfig, progress, t0: float):
    ancestors = _ancestors(problem, last)
    head = induced(problem, ancestors)
    res = solve(head, replace(config, objective="latency"), progress)
    start = np.zeros(problem.n_ops, np.int64)
    start[ancestors] = res.schedule.start
    rest = ~ancestors
    if rest.any():
        # Everything else starts once the head has let go of every unit and every edge into the rest is met.
        hold = _hold(problem)
        offset = int((start[ancestors] + hold[ancestors]).max())
        cross = ancestors[problem.edge_src] & rest[problem.edge_dst]
        lag = problem.edge_lag()
        if cross.any():
            offset = max(offset, int((start[problem.edge_src[cross]] + lag[cross]).max()))
        tail = induced(problem, rest)
        start[rest] = offset + baselines.list_scheduling_latency(tail)[1].start
    lat_last = int(problem.latency[last])
    value = float(start[last])
    return SolveResult(Schedule(start), LAST_OP, value, max(float(res.lower_bound) - lat_last, float(early[last])),
                       {k: v - lat_last for k, v in res.baselines.items()}, None, iterations=res.iterations,
                       legalizations=res.legalizations, restarts=res.restarts, seconds=time.perf_counter() - t0,
                       backend=res.backend, device=res.device,
                       history=[(t, v - lat_last) for t, v in res.history])


def _ancestors(problem: Problem, op: int) -> np.ndarray:
    """bool[n]: ``op`` and every op with a path to it."""
    preds: list[list[int]] = [[] for _ in range(problem.n_ops)]
    for u, v in zip(problem.edge_src.tolist(), problem.edge_dst.tolist()):
        preds[v].append(u)
    seen = np.zeros(problem.n_ops, bool)
    seen[op] = True
    stack = [op]
    while stack:
        for u in preds[stack.pop()]:
            if not seen[u]:
                seen[u] = True
                stack.append(u)
    return seen


def _hold(problem: Problem) -> np.ndarray:
    """int64[n]: steps after its start until an op has released every unit it holds (at least one)."""
    hold = problem.span.copy()
    for k, res in enumerate(problem.resource_types):
        if res.occupancy == "blocking" and res.blocking_time is not None:
            users = np.repeat(np.arange(problem.n_ops), np.diff(problem.use_ptr))[problem.use_res == k]
            hold[users] = np.maximum(hold[users], res.blocking_time)
    return hold


def induced(problem: Problem, keep: np.ndarray) -> Problem:
    """The sub-problem on the ops where ``keep`` is True and the edges between them (ids, types, uses kept)."""
    keep = np.asarray(keep, bool)
    new_id = np.cumsum(keep) - 1
    edges = keep[problem.edge_src] & keep[problem.edge_dst]
    counts = np.diff(problem.use_ptr)[keep]
    owner = np.repeat(np.arange(problem.n_ops), np.diff(problem.use_ptr))
    ids = [op for op, k in zip(problem.op_ids, keep) if k]
    last = problem.last_op if problem.last_op in set(ids) else None
    return problem.replace(
        op_ids=ids, op_type=problem.op_type[keep],
        use_ptr=np.concatenate([[0], np.cumsum(counts)]), use_res=problem.use_res[keep[owner]],
        op_weight=problem.op_weight[keep], op_bits=problem.op_bits[keep],
        edge_src=new_id[problem.edge_src[edges]], edge_dst=new_id[problem.edge_dst[edges]],
        edge_delay=problem.edge_delay[edges], edge_distance=problem.edge_distance[edges],
        edge_comm=problem.edge_comm[edges], last_op=last,
    )
