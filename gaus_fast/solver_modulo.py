"""Modulo (software-pipelined) scheduling with GauS: the smallest initiation interval first, then the length.

Objective ``"ii"`` (GauS formulation C without the memory term, the classic modulo scheduling problem):

1. **II search** upward from ``max(ResMII, RecMII)`` (both from the C++ core); a given II (``problem.ii``) is the
   only candidate. At each II, in order: Rau's iterative modulo scheduler (the classic baseline, milliseconds); a
   GauS feasibility search (expected dependence violation over every edge with ``lag = lat + delay - distance *
   II``, recurrences included, plus the expected modulo usage per slot ``t mod II`` above the limits, under an
   augmented Lagrangian) legalised every few steps by the modulo legalizer (reservation table + fixed-point pass
   over back-edges); and, when OR-Tools is installed, an exact CP-SAT feasibility model, which either finds a
   schedule or proves the II infeasible (then the reported lower bound rises past it).
2. **Length** at the found II: the schedule length ``max(t + lat)``, or ``t(last op)`` when the problem names one
   (CIRCT's objective). Ops are first moved as early as the reservation table allows (compaction); the
   resource-free ASAP at II is a lower bound and, when it fits the resources, the optimum. Otherwise GauS tightens
   a length target M below the best legal schedule (a depth-like bound on the relaxed starts), legalising and
   compacting, and CP-SAT polishes small instances to optimality within the time left.

For problems without limited resources (CIRCT ``Problem``, ``CyclicProblem``, ``Chaining*`` after chain breaking),
the ASAP schedule at II = RecMII is optimal for every op at once, so that is returned directly.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import bounds, relax
from .problem import NoScheduleError, Problem
from .schedule import Schedule
from .solver import LEGALIZE_NOISE, LimitTerm, SolveResult, SolverConfig, _Clock, _initial_sigma, _Relaxation

# Share of the time limit a single II's GauS feasibility search may take (the rest stays for larger IIs and the
# length phase), and the largest model CP-SAT is asked to solve (ops on limited resources times II).
FEASIBILITY_SHARE = 0.2
CPSAT_MAX_CELLS = 200_000
SHORTEN_PATIENCE = 300  # GauS iterations one length target may take


@dataclass
class ModuloResult(SolveResult):
    """`SolveResult` with ``value`` = the II found and ``lower_bound`` = the best proven lower bound on the II."""

    res_mii: int = 1
    rec_mii: int = 1
    length: int = 0  # max(t + lat), or t(last op) when the problem names one
    length_lower_bound: int = 0  # the resource-free ASAP at the found II
    length_metric: str = "makespan"
    found_by: str = ""  # which method found the II: asap, ims, gaus, cpsat (+cpsat: CP-SAT shortened it)
    length_optimal: bool = False  # the length is proven optimal at this II (it meets the ASAP floor, or CP-SAT)
    infeasible: dict[int, str] = field(default_factory=dict)  # II -> why it was ruled out (proofs only)


def _length_of(problem: Problem, last: int | None):
    lat = problem.latency
    if last is not None:
        return lambda t: int(t[last])
    return lambda t: int((t + lat).max()) if len(t) else 0


def _binding_limits(problem: Problem) -> bool:
    """Whether some limited resource has more demand than units (otherwise resources never bind)."""
    hold = problem.use_len
    for r, res in enumerate(problem.resource_types):
        if res.limit is not None and hold[problem.use_res == r].sum() > res.limit:
            return True
    return False


def _fits(problem: Problem, start: np.ndarray, ii: int) -> bool:
    """Whether ``start`` keeps every modulo resource limit (slots ``t .. t+hold-1 mod II``)."""
    hold, use_op = problem.use_len.astype(np.int64), problem.use_op
    for r, res in enumerate(problem.resource_types):
        rows = problem.use_res == r
        if res.limit is None or not rows.any():
            continue
        count = np.zeros(ii, np.int64)
        for t0, h in zip(start[use_op[rows]], hold[rows]):
            count += h // ii
            s = np.arange(t0, t0 + h % ii) % ii
            np.add.at(count, s, 1)
        if count.max() > res.limit:
            return False
    return True


def solve_modulo(problem: Problem, config: SolverConfig, progress=None, exact: bool = True) -> ModuloResult:
    """Minimum-II modulo schedule, then the shortest one found at that II (see the module docstring)."""
    clock = _Clock(config, progress)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    res_lb, rec_lb = bounds.res_mii(problem), bounds.rec_mii(problem)
    mii = max(res_lb, rec_lb)
    last = problem.index_of()[problem.last_op] if problem.last_op is not None else None
    length = _length_of(problem, last)
    metric = "last_op_start" if last is not None else "makespan"
    if problem.ii is not None:
        if problem.ii < rec_lb:
            raise NoScheduleError(f"II={problem.ii} is below RecMII={rec_lb}: a recurrence cannot close in {problem.ii} steps")
        if problem.ii < res_lb:
            raise NoScheduleError(f"II={problem.ii} is below ResMII={res_lb}: the limited resources cannot serve every op")
        candidates = [int(problem.ii)]
    else:
        candidates = itertools.count(mii)
    binding = _binding_limits(problem)
    infeasible: dict[int, str] = {}
    lower = mii
    start = found_by = None
    for ii in candidates:
        asap = bounds.modulo_asap(problem, ii)
        if asap is not None and (not binding or _fits(problem, asap, ii)):
            start, found_by = asap, "asap"
            break
        start, found_by = _feasible_at(problem, ii, config, clock, rng, exact, infeasible)
        if start is not None:
            break
        if ii in infeasible and lower == ii:
            lower = ii + 1
        if problem.ii is not None or ii > mii + 10 * max(problem.n_ops, 1):
            break
    if start is None:
        why = infeasible.get(int(problem.ii), "no schedule found") if problem.ii is not None else "no schedule found"
        raise NoScheduleError(f"no legal modulo schedule at II={problem.ii if problem.ii is not None else ii}: {why}")

    start = bounds.modulo_compact(problem, start, ii)
    asap = bounds.modulo_asap(problem, ii)
    floor = length(asap)
    ims_ii = _ims_ii(problem, mii, ii)
    result = ModuloResult(
        Schedule(start, ii), "ii", float(ii), float(lower), {"ims_ii": float(ims_ii)}, None,
        backend=config.backend, device=config.device, res_mii=res_lb, rec_mii=rec_lb, length=length(start),
        length_lower_bound=floor, length_metric=metric, found_by=found_by, infeasible=infeasible,
    )
    result.length_optimal = result.length <= floor
    if result.length > floor and not clock.out_of_time():
        # GauS gets half of the time left (and a short patience: one length step at a time), CP-SAT the rest.
        deadline = clock.elapsed + 0.5 * (config.time_limit - clock.elapsed)
        start = _shorten(problem, ii, start, length, floor, config, clock, rng, last, result, deadline)
        if exact and length(start) > floor and not clock.out_of_time():
            better, status = _cpsat(problem, ii, max(config.time_limit - clock.elapsed, 0.1), last, hint=start)
            if better is not None and length(better) < length(start):
                start = bounds.modulo_compact(problem, better, ii)
                result.found_by += "+cpsat"
            result.length_optimal = status == "OPTIMAL"
        result.schedule = Schedule(start, ii)
        result.length = length(start)
        result.length_optimal = result.length_optimal or result.length <= floor
    result.seconds = clock.elapsed
    result.history.append((clock.elapsed, float(ii)))
    return result


def _ims_ii(problem: Problem, mii: int, found: int) -> int:
    """The II iterative modulo scheduling alone reaches (for the baselines column), searched up to ``found + 1``."""
    for ii in range(mii, found + 2):
        if bounds.iterative_modulo_schedule(problem, ii)[0] is not None:
            return ii
    return found + 1


def _feasible_at(problem, ii, config, clock, rng, exact, infeasible):
    """A legal schedule at ``ii`` (IMS, then GauS, then CP-SAT), or (None, None); proofs go to ``infeasible``."""
    start, reason = bounds.iterative_modulo_schedule(problem, ii)
    if start is not None:
        return start, "ims"
    if clock.out_of_time():
        return None, None
    slice_s = FEASIBILITY_SHARE * max(config.time_limit - clock.elapsed, 0.0)
    start = _gaus_search(problem, ii, None, None, config, clock, rng, clock.elapsed + slice_s)
    if start is not None:
        return start, "gaus"
    if exact and not clock.out_of_time():
        start, status = _cpsat(problem, ii, max(0.5 * (config.time_limit - clock.elapsed), 0.1), None)
        if start is not None:
            return start, "cpsat"
        if status == "INFEASIBLE":
            infeasible[ii] = "proved infeasible by CP-SAT"
    return None, None


# ----------------------------------------------------------------------------------------------- GauS
def _gaus_search(problem, ii, upper, accept, config, clock, rng, deadline, mu0=None):
    """GauS at a fixed II: minimise expected dependence violations (all edges, lag - dist * II) plus expected
    modulo overuse (and, with ``upper``, expected overrun of per-op upper bounds). Every ``legalize_every`` steps
    the modulo legalizer rounds mu (with a few noise levels); the first legal schedule that ``accept`` takes
    (default: any) is returned, else None at ``deadline`` or after ``config.patience`` iterations."""
    n = problem.n_ops
    if n == 0:
        return np.zeros(0, np.int64)
    asap = bounds.modulo_asap(problem, ii)
    if asap is None:
        return None
    state = _Relaxation(problem, config, problem.span)
    dt, dev = config.dtype, config.device
    lag = problem.latency[problem.edge_src] + problem.edge_delay - problem.edge_distance * ii
    state.src = state.tensor(problem.edge_src, torch.long)
    state.dst = state.tensor(problem.edge_dst, torch.long)
    state.lag = state.tensor(lag.astype(np.float64) - config.dep_tolerance)
    state.edge_mult = torch.zeros(problem.n_edges, dtype=dt, device=dev)
    mu_start = asap.astype(np.float64) if mu0 is None else np.asarray(mu0, np.float64)
    state.reset(mu_start, _initial_sigma(config, asap, asap + ii))
    limits = LimitTerm(problem, state)
    res_mult = limits.multipliers(ii)
    upper_t = None if upper is None else state.tensor(upper)
    for it in range(1, config.max_iters + 1):
        if clock.elapsed >= deadline or clock.out_of_time() or it > config.patience:
            return None
        sigma = state.sigma()
        legalize_now = it % config.legalize_every == 0
        loss = state.dependence_loss(sigma, legalize_now)
        loss = loss + config.rho * relax.expected_excess(-state.mu, sigma).sum()  # starts >= 0
        if upper_t is not None:
            loss = loss + config.rho * relax.expected_excess(state.mu - upper_t, sigma).sum()
        if limits:
            loss = loss + limits.loss(sigma, res_mult, ii, ii)
        state.step(loss)
        if not legalize_now:
            continue
        limits.raise_multipliers(res_mult)
        for noise in LEGALIZE_NOISE[:3]:
            start, _ = bounds.modulo_legalize(problem, state.mu_numpy(noise, rng), ii)
            if start is not None:
                start = bounds.modulo_compact(problem, start, ii)
                if accept is None or accept(start):
                    return start
        clock.report(it, float(ii))
    return None


def _shorten(problem, ii, start, length, floor, config, clock, rng, last, result, deadline):
    """Tighten the length target below the best legal schedule with GauS until the floor, the deadline or a target
    that ``SHORTEN_PATIENCE`` iterations cannot meet."""
    best, best_len = start, length(start)
    lat = problem.latency
    short = replace(config, patience=min(config.patience, SHORTEN_PATIENCE))
    while best_len > floor and clock.elapsed < deadline and not clock.out_of_time():
        target = best_len - 1
        if last is not None:
            upper = np.full(problem.n_ops, np.inf)
            upper[last] = target
            upper = np.minimum(upper, 1e9)
        else:
            upper = (target - lat).astype(np.float64)
        mu0 = best.astype(np.float64) * (target / max(best_len, 1))
        found = _gaus_search(problem, ii, upper, lambda t: length(t) < best_len, short, clock, rng, deadline, mu0=mu0)
        result.legalizations += 1
        if found is None:
            break
        best, best_len = found, length(found)
        result.history.append((clock.elapsed, float(best_len)))
    return best


# ----------------------------------------------------------------------------------------------- CP-SAT
def _cpsat(problem: Problem, ii: int, time_limit: float, last: int | None, hint: np.ndarray | None = None):
    """Exact modulo scheduling at ``ii`` with OR-Tools CP-SAT (minimising the length): ``(start | None, status)``.

    ``t_i = II q_i + sum_s s x_is`` for ops on binding resources (one-hot slot ``x``); per slot, the uses covering
    it stay within the limit. The horizon is large enough for any feasible schedule's earliest form, so
    INFEASIBLE is a proof. Skipped (status ``"SKIPPED"``) without OR-Tools or for large models."""
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        return None, "SKIPPED"
    n = problem.n_ops
    src, dst, lag, dist = bounds._all_edges(problem)
    hold, use_op = problem.use_len.astype(np.int64), problem.use_op
    binding = [r for r, res in enumerate(problem.resource_types)
               if res.limit is not None and hold[problem.use_res == r].sum() > res.limit]
    rows = np.flatnonzero(np.isin(problem.use_res, binding))
    if len(rows) * ii > CPSAT_MAX_CELLS:
        return None, "SKIPPED"
    # Earliest schedules satisfy t_i <= II * (longest path in quotient steps + 1); this bounds that generously.
    horizon = int(np.maximum(lag - dist * ii, 0).sum() + ii * (problem.n_edges + 2))
    m = cp_model.CpModel()
    t = [m.NewIntVar(0, horizon, "") for _ in range(n)]
    for u, v, l, d in zip(src, dst, lag, dist):
        m.Add(t[v] - t[u] >= int(l - d * ii))
    slot_of: dict[int, list] = {}
    for r in binding:
        occ = [[] for _ in range(ii)]
        for k in rows[problem.use_res[rows] == r]:
            i = int(use_op[k])
            if i not in slot_of:
                x = [m.NewBoolVar("") for _ in range(ii)]
                m.AddExactlyOne(x)
                q = m.NewIntVar(0, horizon // ii + 1, "")
                m.Add(t[i] == ii * q + sum(s * x[s] for s in range(ii)))
                slot_of[i] = x
            x, h = slot_of[i], int(hold[k])
            for s in range(ii):
                if h == 1:  # pipelined: the start slot only
                    occ[s].append((x[s], 1))
                    continue
                for j in range(ii):  # blocking: slots s .. s+h-1 (mod II), wrapping h // II times
                    c = h // ii + (1 if (j - s) % ii < h % ii else 0)
                    if c:
                        occ[j].append((x[s], c))
        for s in range(ii):
            if occ[s]:
                m.Add(sum(c * x for x, c in occ[s]) <= problem.resource_types[r].limit)
    if last is not None:
        m.Minimize(t[last])
    elif n:
        span = m.NewIntVar(0, horizon + int(problem.latency.max()), "")
        m.AddMaxEquality(span, [t[i] + int(problem.latency[i]) for i in range(n)])
        m.Minimize(span)
    if hint is not None:
        for i in range(n):
            m.AddHint(t[i], int(hint[i]))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = 1
    status = solver.Solve(m)
    name = solver.StatusName(status)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return np.array([solver.Value(v) for v in t], dtype=np.int64), name
    return None, name
