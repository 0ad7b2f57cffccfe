"""Exact baselines: time-indexed MILP (HiGHS) and constraint programming (OR-Tools CP-SAT).

Three problems, each with both backends (``backend="highs"`` or ``"cpsat"``):

* `solve_objective_a`: objective A = peak weighted usage (an op's weight counts in its start step) + alpha *
  sum_e comm_e (t_v - t_u), every op within the depth bound ``t_i + max(lat_i, 1) <= D``; resource limits of the
  problem (pipelined or blocking) are honoured too when it has any;
* `solve_makespan`: makespan ``max_i (t_i + lat_i)`` under the resource limits, both occupancy rules; the horizon
  is the best known makespan (list scheduling, or the hint when that is better), so the incumbent always fits;
* `solve_modulo`: a modulo schedule at a fixed II: per limited resource at most ``limit`` units in every slot
  ``t mod II`` (blocking uses hold ``hold`` consecutive slots, wrapping), every dependence
  ``t_u + lat_u + delay <= t_v + distance * II`` (recurrences included); the makespan is minimised within a
  horizon (default: critical path + 2 * II; ``infeasible`` then means "none within that horizon").

Models. Every op's start is restricted to its window ``[ASAP, ALAP]`` (ALAP against the depth bound or the
horizon), computed by the C++ core; duplicate edges are merged first.

* HiGHS: binaries ``x[i,d]`` for ``d`` in the window only; ``t_i = sum_d d x[i,d]``; one assignment row per op;
  one aggregated precedence row per (non-redundant) edge; peak rows ``sum_i w_i x[i,d] <= P`` per stage (objective
  A; communication is the linear cost ``alpha * netcomm_i * d`` on ``x[i,d]`` with ``netcomm_i`` = incoming minus
  outgoing comm, so the MILP objective *is* objective A); resource rows per limited resource and step (or slot);
  makespan rows ``M >= t_i + lat_i`` for sinks only. The whole matrix is built with numpy as COO, sorted to CSR,
  and handed over in one `passModel` call. Warm start: `setSolution` with the full column vector.
* CP-SAT: integer starts in the window, one linear constraint per edge, per limited resource one `AddCumulative`
  (intervals of the hold length, demand = units used), the peak as `AddCumulative` of unit intervals against a
  *variable* capacity. Warm start: `AddHint` on every variable. 2 workers by default.

Scaling for CP-SAT (integer coefficients only): op weights are multiplied by ``weight_scale`` = 1 when they are
integers, else the smallest power of ten up to 10^6 that makes them integral, else a factor bringing the largest
to 10^6 followed by rounding (an approximation: the schedule's value is recomputed exactly anyway, but the
reported bound is then approximate, ``model_size["scale_exact"] = False``). The objective is ``K * P_scaled +
sum_i round(K * weight_scale * alpha * netcomm_i) * t_i`` with ``K`` the smallest power of ten (up to 10^6) that
makes the communication coefficients integral (same fallback); value = objective / (K * weight_scale).

Every schedule a solver returns is checked with `gaus_fast.verify` (on a copy of the problem carrying the depth
bound / II) and its value recomputed with `verify.evaluate`; the solver's own number is only kept as
``solver_value``. Status strings: ``optimal`` (proved), ``feasible`` (a schedule, not proved optimal),
``infeasible`` (proved: no schedule within the windows), ``timeout`` (the time limit ran out without a schedule),
``no-solution`` (stopped otherwise without one, e.g. a solver error, see ``message``), ``too-large`` (refused by
the memory guard before building: more binaries / variables than ``max_vars`` or, for HiGHS, more matrix nonzeros
than ``max_nonzeros``).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import bounds, verify
from .problem import Problem, ProblemError
from .schedule import Schedule

BACKENDS = ("highs", "cpsat")
OBJECTIVES = ("A", "latency", "modulo")
STATUSES = ("optimal", "feasible", "infeasible", "timeout", "no-solution", "too-large")
# Memory guard defaults: a HiGHS binary costs about 100-200 bytes once presolved with its rows; a CP-SAT
# variable (with its interval and constraints) a few hundred bytes per worker.
DEFAULT_MAX_VARS = {"highs": 5_000_000, "cpsat": 2_000_000}
DEFAULT_MAX_NONZEROS = 60_000_000
DEFAULT_THREADS = {"highs": 1, "cpsat": 2}
# HiGHS precedence rows: "auto" uses the disaggregated (strong) form when it adds at most this many nonzeros.
STRONG_PRECEDENCE_BUDGET = 4_000_000


@dataclass
class ExactResult:
    backend: str
    objective: str  # "A", "latency" or "modulo"
    status: str  # see STATUSES
    start: np.ndarray | None  # int64[n], verified legal, or None
    value: float | None  # objective recomputed by gaus_fast.verify.evaluate (None without a schedule)
    bound: float | None  # the solver's best bound on the optimum (None if it gave none)
    seconds: float  # wall clock, model building included
    model_size: dict = field(default_factory=dict)
    message: str = ""
    depth: int | None = None
    alpha: float | None = None
    ii: int | None = None
    horizon: int | None = None
    solver_value: float | None = None  # the solver's own objective value of its incumbent
    improved: bool | None = None  # polish only: whether the solver beat the given schedule

    @property
    def schedule(self) -> Schedule | None:
        return None if self.start is None else Schedule(self.start, self.ii)

    @property
    def gap(self) -> float | None:
        if self.value is None or self.bound is None:
            return None
        if abs(self.value) < 1e-12:
            return 0.0
        return max(self.value - self.bound, 0.0) / abs(self.value)


# ============================================================================================ shared model
@dataclass
class _Model:
    """Backend-independent description: windows, edges, resources and the objective."""

    kind: str
    n: int
    lo: np.ndarray  # int64[n]
    hi: np.ndarray  # int64[n]
    src: np.ndarray  # int64[m'] (merged, incl. recurrences for modulo)
    dst: np.ndarray
    lag: np.ndarray  # t_dst - t_src >= lag
    resources: list  # (limit, use_op int64[k], use_hold int64[k], use_mult int64[k]) per limited resource
    horizon: int  # steps 0..horizon-1 may be occupied (A: depth; latency/modulo: makespan horizon)
    weight: np.ndarray | None = None  # A
    comm_coef: np.ndarray | None = None  # A: alpha * netcomm_i (objective coefficient of t_i)
    sinks: np.ndarray | None = None  # latency/modulo: ops whose t + lat bounds the makespan
    lat: np.ndarray | None = None
    obj_lb: float = 0.0  # a valid lower bound (variable bound of P or M)
    obj_ub: float = math.inf
    ii: int | None = None
    empty_window: bool = False

    @property
    def n_binaries(self) -> int:
        return int(np.maximum(self.hi - self.lo + 1, 0).sum())


def _merge_edges(src, dst, lag):
    """One edge per (src, dst) pair, keeping the largest lag."""
    if len(src) == 0:
        z = np.zeros(0, np.int64)
        return z, z.copy(), z.copy()
    src, dst, lag = (np.asarray(a, np.int64) for a in (src, dst, lag))
    order = np.lexsort((-lag, dst, src))
    src, dst, lag = src[order], dst[order], lag[order]
    first = np.ones(len(src), bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    return src[first], dst[first], lag[first]


def _limited_resources(problem: Problem):
    out = []
    use_op = problem.use_op.astype(np.int64)
    use_len = problem.use_len.astype(np.int64)
    for r, res in enumerate(problem.resource_types):
        if res.limit is None:
            continue
        mask = problem.use_res == r
        if not mask.any():
            continue
        # An op listing the same resource twice uses two units: merge into one use with multiplicity.
        ops, hold = use_op[mask], use_len[mask]
        key = ops * (int(hold.max()) + 1) + hold
        uniq, mult = np.unique(key, return_counts=True)
        hmax = int(hold.max()) + 1
        out.append((int(res.limit), uniq // hmax, uniq % hmax, mult.astype(np.int64)))
    return out


def _no_carried(problem: Problem, what: str) -> None:
    if np.any(problem.edge_distance > 0):
        raise ProblemError(f"{what}: the graph has loop-carried dependences (distance > 0); use solve_modulo")


def _netcomm(problem: Problem) -> np.ndarray:
    n = problem.n_ops
    return np.bincount(problem.edge_dst, weights=problem.edge_comm, minlength=n) - np.bincount(
        problem.edge_src, weights=problem.edge_comm, minlength=n
    )


def _model_a(problem: Problem, depth: int, alpha: float) -> _Model:
    _no_carried(problem, "objective A")
    src, dst, lag = bounds._intra(problem)
    src, dst, lag = _merge_edges(src, dst, lag)
    lo = bounds.asap(problem).astype(np.int64)
    hi = bounds.alap(problem, depth).astype(np.int64)
    w = problem.op_weight.astype(np.float64)
    m = _Model("A", problem.n_ops, lo, hi, src, dst, lag, _limited_resources(problem), int(depth))
    m.weight = w
    m.comm_coef = alpha * _netcomm(problem)
    m.obj_lb = float(w.max()) if len(w) else 0.0
    m.obj_ub = float(w.sum())
    m.empty_window = bool(np.any(hi < lo))
    return m


def _sinks(n: int, src: np.ndarray) -> np.ndarray:
    has_out = np.zeros(n, bool)
    has_out[src] = True
    return np.flatnonzero(~has_out)


def _model_latency(problem: Problem, horizon: int) -> _Model:
    _no_carried(problem, "makespan")
    src, dst, lag = bounds._intra(problem)
    src, dst, lag = _merge_edges(src, dst, lag)
    lat = problem.latency.astype(np.int64)
    lo = bounds.asap(problem).astype(np.int64)
    hi = bounds.alap(problem, horizon + 1, span=lat + 1).astype(np.int64)  # t + lat <= horizon
    if problem.depth is not None:  # a depth bound of the problem itself still applies
        hi = np.minimum(hi, bounds.alap(problem, int(problem.depth)))
    m = _Model("latency", problem.n_ops, lo, hi, src, dst, lag, _limited_resources(problem), int(horizon) + int(lat.max() if len(lat) else 0) + 1)
    m.sinks = _sinks(problem.n_ops, src)
    m.lat = lat
    m.obj_lb = float(bounds.makespan_lower_bound(problem))
    m.obj_ub = float(horizon)
    m.empty_window = bool(np.any(hi < lo))
    return m


def _model_modulo(problem: Problem, ii: int, horizon: int) -> _Model:
    lat = problem.latency.astype(np.int64)
    lag_all = problem.edge_lag(ii).astype(np.int64)
    src, dst, lag = _merge_edges(problem.edge_src, problem.edge_dst, lag_all)
    self_loop = src == dst
    if np.any(self_loop & (lag > 0)):
        m = _Model("modulo", problem.n_ops, np.zeros(problem.n_ops, np.int64), -np.ones(problem.n_ops, np.int64), src, dst, lag, [], 1, ii=ii)
        m.empty_window = True
        return m
    src, dst, lag = src[~self_loop], dst[~self_loop], lag[~self_loop]
    lo = bounds.asap(problem).astype(np.int64)
    hi = bounds.alap(problem, horizon + 1, span=lat + 1).astype(np.int64)  # t + lat <= horizon
    m = _Model("modulo", problem.n_ops, lo, hi, src, dst, lag, _limited_resources(problem), int(horizon) + int(lat.max() if len(lat) else 0) + 1, ii=int(ii))
    intra = problem.intra_edges()
    m.sinks = _sinks(problem.n_ops, problem.edge_src[intra].astype(np.int64))
    m.lat = lat
    m.obj_lb = float(bounds.critical_path(problem))
    m.obj_ub = float(horizon)
    m.empty_window = bool(np.any(hi < lo))
    return m


# ============================================================================================ checking
def _checked_problem(problem: Problem, kind: str, depth: int | None, ii: int | None) -> Problem:
    p = copy.copy(problem)
    if kind == "A":
        p.depth, p.ii = int(depth), None
    elif kind == "latency":
        p.ii = None
    else:
        p.ii = int(ii)
    return p


def evaluate_schedule(problem: Problem, start, objective: str, alpha: float = 0.01, depth: int | None = None, ii: int | None = None):
    """``(violations, value)`` of a schedule for one of the objectives, through gaus_fast.verify.

    ``violations`` is verify.check's list (empty when legal); objective A checks the depth bound ``depth``.
    """
    p = _checked_problem(problem, objective, depth, ii)
    sched = Schedule(np.asarray(start), ii if objective == "modulo" else None)
    lines = verify.check(p, sched)
    ev = verify.evaluate(p, sched, alpha)
    value = ev["objective_a"] if objective == "A" else float(ev["makespan"])
    return lines, value


def _finish(res: ExactResult, problem: Problem, start, t0: float) -> ExactResult:
    """Verify the solver's schedule and recompute its value."""
    if start is not None:
        lines, value = evaluate_schedule(problem, start, res.objective, res.alpha or 0.0, res.depth, res.ii)
        if lines:
            res.message = (res.message + "; " if res.message else "") + "solver schedule rejected by verify: " + lines[0]
            res.status = "no-solution"
            start = None
        else:
            res.start = np.asarray(start, np.int64)
            res.value = float(value)
    if start is None and res.status in ("optimal", "feasible"):
        res.status = "no-solution"
    res.seconds = time.perf_counter() - t0
    return res


def _resolve_threads(backend: str, threads: int | None) -> int:
    return DEFAULT_THREADS[backend] if threads is None else max(1, int(threads))


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ProblemError(f"unknown exact backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _hint_array(problem: Problem, hint) -> np.ndarray | None:
    if hint is None:
        return None
    if isinstance(hint, Schedule):
        hint = hint.start
    h = np.asarray(hint)
    if h.shape != (problem.n_ops,):
        raise ProblemError(f"hint has {h.size} start steps but the problem has {problem.n_ops} operations")
    return h.astype(np.int64)


# ============================================================================================ public entry points
def _checked_hint(problem: Problem, hint, res: ExactResult, objective: str, *args, **kwargs):
    """The hint as an int64 array, or None when there is none or it is not a legal schedule (said in ``res``)."""
    h = _hint_array(problem, hint)
    if h is not None and evaluate_schedule(problem, h, objective, *args, **kwargs)[0]:
        res.message = f"hint is not a legal {'modulo ' if objective == 'modulo' else ''}schedule; ignored"
        return None
    return h


def solve_objective_a(
    problem: Problem,
    depth: int | None = None,
    alpha: float = 0.01,
    backend: str = "cpsat",
    time_limit: float = 60.0,
    threads: int | None = None,
    hint=None,
    max_vars: int | None = None,
    max_nonzeros: int = DEFAULT_MAX_NONZEROS,
    seed: int = 0,
    log: bool = False,
    options: dict | None = None,
) -> ExactResult:
    """Minimise objective A within ``depth`` stages (default: problem.depth, else solver.default_depth)."""
    from .solver import default_depth

    t0 = time.perf_counter()
    _check_backend(backend)
    depth = int(depth or problem.depth or default_depth(problem))
    model = _model_a(problem, depth, alpha)
    res = ExactResult(backend, "A", "no-solution", None, None, None, 0.0, depth=depth, alpha=alpha, horizon=depth)
    h = _checked_hint(problem, hint, res, "A", alpha, depth)
    return _run(model, problem, res, backend, time_limit, threads, h, max_vars, max_nonzeros, seed, log, t0, options)


def solve_makespan(
    problem: Problem,
    backend: str = "cpsat",
    time_limit: float = 60.0,
    threads: int | None = None,
    hint=None,
    horizon: int | None = None,
    max_vars: int | None = None,
    max_nonzeros: int = DEFAULT_MAX_NONZEROS,
    seed: int = 0,
    log: bool = False,
    options: dict | None = None,
) -> ExactResult:
    """Minimise the makespan under the resource limits (and problem.depth, if set).

    The horizon defaults to the best of the list-scheduling makespans and the hint's; the better of those two
    schedules is used as the warm start when a hint is given.
    """
    from . import baselines

    t0 = time.perf_counter()
    _check_backend(backend)
    _no_carried(problem, "makespan")
    res = ExactResult(backend, "latency", "no-solution", None, None, None, 0.0, alpha=0.0)
    h = _checked_hint(problem, hint, res, "latency")
    if horizon is None:
        _, best = baselines.list_scheduling_latency(problem)
        cand = best.start
        horizon = int(best.value)
        if problem.depth is not None and evaluate_schedule(problem, cand, "latency")[0]:
            horizon = int(problem.depth)  # the list schedule breaks the depth bound: search the whole depth
            cand = None
        if h is not None:
            hv = int(evaluate_schedule(problem, h, "latency")[1])
            if hv <= horizon:
                horizon = hv
        elif cand is not None and hint is not None:
            h = cand
    res.horizon = int(horizon)
    if h is not None and int(evaluate_schedule(problem, h, "latency")[1]) > horizon:
        h = None
    model = _model_latency(problem, int(horizon))
    return _run(model, problem, res, backend, time_limit, threads, h, max_vars, max_nonzeros, seed, log, t0, options)


def solve_modulo(
    problem: Problem,
    ii: int | None = None,
    backend: str = "cpsat",
    time_limit: float = 60.0,
    threads: int | None = None,
    hint=None,
    horizon: int | None = None,
    max_vars: int | None = None,
    max_nonzeros: int = DEFAULT_MAX_NONZEROS,
    seed: int = 0,
    log: bool = False,
    options: dict | None = None,
) -> ExactResult:
    """A modulo schedule at the fixed ``ii`` (default problem.ii) with the smallest makespan within ``horizon``
    (default critical path + 2 * II). ``infeasible`` means no such schedule within the horizon."""
    t0 = time.perf_counter()
    _check_backend(backend)
    ii = ii if ii is not None else problem.ii
    if ii is None or int(ii) != ii or ii < 1:
        raise ProblemError(f"modulo scheduling needs an integer II >= 1, got {ii!r}")
    ii = int(ii)
    res = ExactResult(backend, "modulo", "no-solution", None, None, None, 0.0, alpha=0.0, ii=ii)
    h = _checked_hint(problem, hint, res, "modulo", ii=ii)
    if horizon is None:
        horizon = bounds.critical_path(problem) + 2 * ii
        if h is not None:
            horizon = max(horizon, int(evaluate_schedule(problem, h, "modulo", ii=ii)[1]))
    res.horizon = int(horizon)
    model = _model_modulo(problem, ii, int(horizon))
    if h is not None and (np.any(h < model.lo) or np.any(h > model.hi)):
        h = None
    return _run(model, problem, res, backend, time_limit, threads, h, max_vars, max_nonzeros, seed, log, t0, options)


def solve(problem: Problem, objective: str = "A", backend: str = "cpsat", **kwargs) -> ExactResult:
    """Dispatch to `solve_objective_a` ("A"), `solve_makespan` ("latency") or `solve_modulo` ("modulo")."""
    if objective == "A":
        return solve_objective_a(problem, backend=backend, **kwargs)
    if objective == "latency":
        return solve_makespan(problem, backend=backend, **kwargs)
    if objective == "modulo":
        return solve_modulo(problem, backend=backend, **kwargs)
    raise ProblemError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def polish(
    problem: Problem,
    start,
    objective: str = "A",
    alpha: float = 0.01,
    depth: int | None = None,
    method: str = "cpsat",
    time_limit: float = 10.0,
    threads: int | None = None,
    ii: int | None = None,
    **kwargs,
) -> ExactResult:
    """Warm-start an exact solver from ``start`` (a legal schedule) and return the better of the two.

    Never worse than ``start``: the returned ``start``/``value`` are the solver's only when verify accepts its
    schedule and it is strictly better; ``improved`` says which. ``status`` is ``optimal`` when the solver proved
    the returned value optimal, else ``feasible``.
    """
    from .solver import default_depth

    h = _hint_array(problem, start)
    if objective == "A":
        depth = int(depth or problem.depth or default_depth(problem))
    lines, value0 = evaluate_schedule(problem, h, objective, alpha, depth, ii)
    if lines:
        raise ProblemError(f"polish needs a legal schedule to start from: {lines[0]}")
    if objective == "A":
        res = solve_objective_a(problem, depth, alpha, method, time_limit, threads, h, **kwargs)
    elif objective == "latency":
        res = solve_makespan(problem, method, time_limit, threads, h, horizon=int(value0), **kwargs)
    elif objective == "modulo":
        res = solve_modulo(problem, ii, method, time_limit, threads, h, **kwargs)
    else:
        raise ProblemError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if res.start is not None and res.value is not None and res.value < value0 - 1e-9:
        res.improved = True
    else:
        res.improved = False
        res.start, res.value = h.copy(), float(value0)
    if res.status not in ("optimal", "feasible"):  # e.g. too-large or timeout: say so, the start is still returned
        res.message = f"solver status {res.status}" + (f": {res.message}" if res.message else "")
    res.status = "optimal" if res.status == "optimal" else "feasible"
    return res


# ============================================================================================ dispatch
def _run(model: _Model, problem, res, backend, time_limit, threads, hint, max_vars, max_nonzeros, seed, log, t0, options=None):
    res.model_size = {"binaries" if backend == "highs" else "int_vars": model.n_binaries if backend == "highs" else model.n}
    if model.empty_window:
        res.status = "infeasible"
        res.message = "some op has no start step within the bound (window ASAP > ALAP)"
        return _finish(res, problem, None, t0)
    if problem.n_ops == 0:
        res.status = "optimal"
        res.bound = 0.0
        return _finish(res, problem, np.zeros(0, np.int64), t0)
    threads = _resolve_threads(backend, threads)
    limit = DEFAULT_MAX_VARS[backend] if max_vars is None else int(max_vars)
    if backend == "highs":
        return _solve_highs(model, problem, res, time_limit, threads, hint, limit, max_nonzeros, seed, log, t0, dict(options or {}))
    return _solve_cpsat(model, problem, res, time_limit, threads, hint, limit, seed, log, t0, dict(options or {}))


# ============================================================================================ HiGHS
def _expand(counts: np.ndarray):
    """For counts c_k: (k repeated c_k times, 0..c_k-1 within each)."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    within = np.arange(total, dtype=np.int64) - first[owner]
    return owner, within


def _strong_rows(lo, hi, src, dst, lag) -> np.ndarray:
    """Rows of the disaggregated precedence form per edge (0 for edges the windows imply)."""
    return np.maximum(np.minimum(hi[dst], hi[src] + lag - 1) - lo[dst] + 1, 0)


def _precedence_nonzeros(model: _Model, strong: bool) -> int:
    lo, hi = model.lo, model.hi
    need = lo[model.dst] - hi[model.src] < model.lag
    src, dst, lag = model.src[need], model.dst[need], model.lag[need]
    if not strong:
        return int((hi[src] - lo[src] + hi[dst] - lo[dst] + 2).sum())
    rows = _strong_rows(lo, hi, src, dst, lag)
    # row j of edge e has (j + 1) v-entries and max(0, lo_v + j - lag - lo_u + 1) u-entries
    a = lo[dst] - lag - lo[src] + 1
    v_part = rows * (rows + 1) // 2
    first = np.maximum(a, 1)  # u-count of the first row with a positive count, rows j >= max(0, -a + 1)
    j0 = np.maximum(-a + 1, 0)
    k = np.maximum(rows - j0, 0)
    u_part = k * first + k * (k - 1) // 2
    return int((v_part + u_part).sum())


def _estimate_nonzeros(model: _Model, strong: bool = False) -> int:
    win = np.maximum(model.hi - model.lo + 1, 0)
    nnz = 2 * int(win.sum()) + _precedence_nonzeros(model, strong)
    for _, ops, hold, _ in model.resources:
        nnz += int((win[ops] * (np.minimum(hold, model.ii) if model.ii else hold)).sum())
    if model.sinks is not None:
        nnz += int(win[model.sinks].sum())
    return nnz


def _build_highs(model: _Model, strong: bool = False):
    """(col_cost, col_lower, col_upper, integrality, row_lower, row_upper, csr start, index, value, layout)."""
    n, lo, hi = model.n, model.lo, model.hi
    win = hi - lo + 1
    off = np.concatenate([[0], np.cumsum(win)])
    nbin = int(off[-1])
    var_op, var_k = _expand(win)
    var_d = lo[var_op] + var_k
    extra = nbin  # P (objective A) or M (makespan) column
    ncol = nbin + 1
    rows, cols, vals, rlo, rhi = [], [], [], [], []
    nrow = 0

    def block(r, c, v, lower, upper):
        nonlocal nrow
        rows.append(np.asarray(r, np.int64) + nrow)
        cols.append(np.asarray(c, np.int64))
        vals.append(np.asarray(v, np.float64))
        rlo.append(np.asarray(lower, np.float64))
        rhi.append(np.asarray(upper, np.float64))
        nrow += len(rlo[-1])

    # assignment: sum_d x[i,d] = 1
    block(var_op, np.arange(nbin), np.ones(nbin), np.ones(n), np.ones(n))
    # precedence, only for edges not implied by the windows
    src, dst, lag = model.src, model.dst, model.lag
    need = lo[dst] - hi[src] < lag
    src, dst, lag = src[need], dst[need], lag[need]
    if len(src) and strong:
        # disaggregated: sum_{d'<=d} x_v[d'] <= sum_{d'<=d-lag} x_u[d'] for d in lo_v .. min(hi_v, hi_u+lag-1)
        e, j = _expand(_strong_rows(lo, hi, src, dst, lag))
        d = lo[dst][e] + j
        cnt_v = d - lo[dst][e] + 1
        cnt_u = np.maximum(d - lag[e] - lo[src][e] + 1, 0)
        rv, kv = _expand(cnt_v)
        ru, ku = _expand(cnt_u)
        r = np.concatenate([rv, ru])
        c = np.concatenate([off[dst][e][rv] + kv, off[src][e][ru] + ku])
        v = np.concatenate([np.ones(len(rv)), -np.ones(len(ru))])
        block(r, c, v, np.full(len(e), -np.inf), np.zeros(len(e)))
    elif len(src):
        # aggregated: sum (d-lo_v) x_v - sum (d-lo_u) x_u >= lag - lo_v + lo_u
        e_v, k_v = _expand(win[dst])
        e_u, k_u = _expand(win[src])
        keep_v, keep_u = k_v > 0, k_u > 0
        r = np.concatenate([e_v[keep_v], e_u[keep_u]])
        c = np.concatenate([off[dst][e_v[keep_v]] + k_v[keep_v], off[src][e_u[keep_u]] + k_u[keep_u]])
        v = np.concatenate([k_v[keep_v].astype(np.float64), -k_u[keep_u].astype(np.float64)])
        block(r, c, v, lag - lo[dst] + lo[src], np.full(len(src), np.inf))
    # resources: per limited resource and step (or slot mod II), units in use <= limit
    for limit, ops, hold, mult in model.resources:
        u, k = _expand(win[ops])  # (use, var within the op's window)
        var = off[ops][u] + k
        d0 = lo[ops][u] + k
        h = hold[u]
        if model.ii:
            ii = model.ii
            full = h // ii
            rem = h % ii
            j_owner, j = _expand(rem)  # slot offsets of the partial wrap
            r_part = (d0[j_owner] + j) % ii
            c_part = var[j_owner]
            v_part = mult[u][j_owner].astype(np.float64)
            has_full = np.flatnonzero(full > 0)
            fo, fs = _expand(np.full(len(has_full), ii))
            r_full = fs
            c_full = var[has_full][fo]
            v_full = (full[has_full] * mult[u][has_full])[fo].astype(np.float64)
            r = np.concatenate([r_part, r_full])
            c = np.concatenate([c_part, c_full])
            v = np.concatenate([v_part, v_full])
            n_steps = ii
        else:
            j_owner, j = _expand(h)
            r = d0[j_owner] + j
            c = var[j_owner]
            v = mult[u][j_owner].astype(np.float64)
            n_steps = int(r.max()) + 1 if len(r) else 0
        if len(r) == 0:
            continue
        key = r * ncol + c
        ukey, inv = np.unique(key, return_inverse=True)
        v = np.bincount(inv.reshape(-1), weights=v)
        r, c = ukey // ncol, ukey % ncol
        row_sum = np.bincount(r, weights=v, minlength=n_steps)
        binding = np.flatnonzero(row_sum > limit)
        if len(binding) == 0:
            continue
        remap = np.full(n_steps, -1, np.int64)
        remap[binding] = np.arange(len(binding))
        keep = remap[r] >= 0
        block(remap[r[keep]], c[keep], v[keep], np.full(len(binding), -np.inf), np.full(len(binding), float(limit)))

    cost = np.zeros(ncol)
    lower = np.zeros(ncol)
    upper = np.ones(ncol)
    integrality = np.ones(ncol, np.int32)
    if model.kind == "A":
        # peak: sum_i w_i x[i,d] - P <= 0 for every stage d
        pos = np.flatnonzero(model.weight[var_op] > 0)
        d = var_d[pos]
        stages = np.unique(d)
        remap = np.full(model.horizon + 1, -1, np.int64)
        remap[stages] = np.arange(len(stages))
        r = np.concatenate([remap[d], np.arange(len(stages))])
        c = np.concatenate([pos, np.full(len(stages), extra)])
        v = np.concatenate([model.weight[var_op][pos], -np.ones(len(stages))])
        block(r, c, v, np.full(len(stages), -np.inf), np.zeros(len(stages)))
        cost[:nbin] = model.comm_coef[var_op] * var_d
        cost[extra] = 1.0
        lower[extra], upper[extra] = model.obj_lb, model.obj_ub
        integrality[extra] = 0
    else:
        # makespan: M - sum (d-lo_i) x_i >= lo_i + lat_i for sinks
        s = model.sinks
        e, k = _expand(win[s])
        keep = k > 0
        r = np.concatenate([e[keep], np.arange(len(s))])
        c = np.concatenate([off[s][e[keep]] + k[keep], np.full(len(s), extra)])
        v = np.concatenate([-k[keep].astype(np.float64), np.ones(len(s))])
        block(r, c, v, (lo[s] + model.lat[s]).astype(np.float64), np.full(len(s), np.inf))
        cost[extra] = 1.0
        lower[extra], upper[extra] = model.obj_lb, model.obj_ub
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    order = np.argsort(r, kind="stable")
    r, c, v = r[order], c[order], v[order]
    start = np.searchsorted(r, np.arange(nrow + 1)).astype(np.int32)
    layout = (off, var_op, var_d, nbin)
    return cost, lower, upper, integrality, np.concatenate(rlo), np.concatenate(rhi), start, c.astype(np.int32), v, layout


def _new_highs(highspy, log: bool):
    """A Highs instance; its constructor prints a banner on the C-level stdout, which would corrupt JSON output
    (e.g. `gaus-fast solve --quiet --polish highs`), so fd 1 is pointed at /dev/null meanwhile unless logging."""
    if log:
        return highspy.Highs()
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _solve_highs(model: _Model, problem, res, time_limit, threads, hint, max_vars, max_nonzeros, seed, log, t0, options):
    import highspy

    nbin = model.n_binaries
    precedence = options.pop("precedence", "auto")
    if precedence not in ("auto", "strong", "weak"):
        raise ProblemError(f"precedence must be auto, strong or weak, got {precedence!r}")
    if precedence == "auto":
        strong_extra = _precedence_nonzeros(model, True) - _precedence_nonzeros(model, False)
        precedence = "strong" if strong_extra <= STRONG_PRECEDENCE_BUDGET else "weak"
    strong = precedence == "strong"
    nnz = _estimate_nonzeros(model, strong)
    res.model_size = {"binaries": nbin, "nonzeros_estimate": nnz, "precedence": precedence}
    if nbin > max_vars or nnz > max_nonzeros:
        res.status = "too-large"
        res.message = (
            f"time-indexed model too large: {nbin:,} binaries (limit {max_vars:,}), about {nnz:,} nonzeros "
            f"(limit {max_nonzeros:,}); refused before building"
        )
        return _finish(res, problem, None, t0)
    cost, lower, upper, integ, rlo, rhi, a_start, a_index, a_value, layout = _build_highs(model, strong)
    off, var_op, var_d, nbin = layout
    ncol, nrow = len(cost), len(rlo)
    res.model_size.update({"columns": ncol, "rows": nrow, "nonzeros": int(len(a_value))})
    h = _new_highs(highspy, log)
    h.setOptionValue("output_flag", bool(log))
    h.setOptionValue("log_to_console", bool(log))
    h.setOptionValue("time_limit", float(max(time_limit - (time.perf_counter() - t0), 0.1)))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-6)
    for key, value in options.items():  # any other HiGHS option, e.g. {"mip_rel_gap": 1e-4}
        h.setOptionValue(key, value)
    fmt = int(highspy.MatrixFormat.kRowwise.value)
    status = h.passModel(ncol, nrow, len(a_value), fmt, 1, 0.0, cost, lower, upper, rlo, rhi, a_start[:-1], a_index, a_value, integ)
    if status == highspy.HighsStatus.kError:
        res.message = "HiGHS rejected the model"
        return _finish(res, problem, None, t0)
    if hint is not None:
        x = np.zeros(ncol)
        x[off[:-1] + (hint - model.lo)] = 1.0
        if model.kind == "A":
            x[nbin] = float(np.bincount(hint, weights=model.weight).max())
        else:
            x[nbin] = float((hint + model.lat).max())
        h.setSolution(ncol, np.arange(ncol, dtype=np.int32), x)
    h.run()
    info = h.getInfo()
    ms = h.getModelStatus()
    has_sol = info.primal_solution_status == 2
    start = None
    if has_sol:
        x = np.asarray(h.getSolution().col_value, np.float64)[:nbin]
        # t_i = the d of the op's largest x (x is 0/1 up to the integrality tolerance)
        best = np.full(model.n, -1.0)
        np.maximum.at(best, var_op, x)
        pick = np.flatnonzero(x >= best[var_op] - 1e-12)
        start = np.empty(model.n, np.int64)
        start[var_op[pick]] = var_d[pick]
        res.solver_value = float(info.objective_function_value)
    bound = info.mip_dual_bound
    res.bound = float(bound) if np.isfinite(bound) else None
    S = highspy.HighsModelStatus
    if ms == S.kOptimal:
        res.status = "optimal" if has_sol else "no-solution"
        if has_sol and res.bound is None:
            res.bound = res.solver_value
    elif ms == S.kInfeasible:
        res.status = "infeasible"
    elif ms in (S.kTimeLimit, S.kIterationLimit, S.kSolutionLimit, S.kInterrupt, S.kHighsInterrupt, S.kObjectiveBound, S.kObjectiveTarget):
        res.status = "feasible" if has_sol else "timeout"
    else:
        res.status = "feasible" if has_sol else "no-solution"
        res.message = f"HiGHS model status {h.modelStatusToString(ms)}"
    return _finish(res, problem, start, t0)


# ============================================================================================ CP-SAT
def _integer_scale(values: np.ndarray, cap: float = 1e6, limit: float = 1e6):
    """(scale, exact): a power of ten <= cap making ``values * scale`` integral, else one bringing the largest
    magnitude to ``limit`` (exact=False)."""
    vals = np.abs(np.asarray(values, np.float64))
    if len(vals) == 0 or vals.max() == 0:
        return 1.0, True
    s = 1.0
    while s <= cap:
        scaled = vals * s
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, scaled)):
            return s, True
        s *= 10.0
    return limit / vals.max(), False


def _solve_cpsat(model: _Model, problem, res, time_limit, threads, hint, max_vars, seed, log, t0, options):
    from ortools.sat.python import cp_model

    n = model.n
    n_intervals = sum(len(ops) for _, ops, _, _ in model.resources) + (n if model.kind == "A" else 0)
    size = n + n_intervals + (n if model.kind == "modulo" else 0)
    res.model_size = {"int_vars": n, "intervals": n_intervals, "variables": size}
    if size > max_vars:
        res.status = "too-large"
        res.message = f"CP model too large: {size:,} variables and intervals (limit {max_vars:,}); refused before building"
        return _finish(res, problem, None, t0)
    cp = cp_model.CpModel()
    lo, hi = model.lo.tolist(), model.hi.tolist()
    t = [cp.NewIntVar(lo[i], hi[i], f"t{i}") for i in range(n)]
    for u, v, l in zip(model.src.tolist(), model.dst.tolist(), model.lag.tolist()):
        if model.lo[v] - model.hi[u] >= l:
            continue
        cp.Add(t[v] - t[u] >= l)
    slot = None
    if model.kind == "modulo":
        ii = model.ii
        slot = [cp.NewIntVar(0, ii - 1, f"s{i}") for i in range(n)]
        for i in range(n):
            cp.AddModuloEquality(slot[i], t[i], ii)
    for limit, ops, hold, mult in model.resources:
        intervals, demands = [], []
        full_load = 0
        for i, hd, mu in zip(ops.tolist(), hold.tolist(), mult.tolist()):
            if model.kind == "modulo":
                full, rem = divmod(hd, model.ii)
                full_load += full * mu
                if rem:
                    # [s, s+rem) and its copy shifted by -II together cover the wrapped slots exactly
                    intervals.append(cp.NewFixedSizeIntervalVar(slot[i], rem, f"r{i}"))
                    intervals.append(cp.NewFixedSizeIntervalVar(slot[i] - model.ii, rem, f"rw{i}"))
                    demands += [mu, mu]
            else:
                intervals.append(cp.NewFixedSizeIntervalVar(t[i], hd, f"r{i}"))
                demands.append(mu)
        cap = limit - full_load
        if cap < 0:
            res.status = "infeasible"
            res.message = "a resource is over its limit in every slot (holds longer than II)"
            return _finish(res, problem, None, t0)
        if intervals and sum(demands) > cap:
            cp.AddCumulative(intervals, demands, cap)
    info = {}
    if model.kind == "A":
        w_scale, w_exact = _integer_scale(model.weight)
        W = np.round(model.weight * w_scale).astype(np.int64)
        c_scale, c_exact = _integer_scale(model.comm_coef * w_scale)
        K = max(1, int(round(c_scale)))
        C = np.round(model.comm_coef * w_scale * K).astype(np.int64)
        peak = cp.NewIntVar(int(W.max()), int(W.sum()), "peak")
        pos = np.flatnonzero(W > 0).tolist()
        cp.AddCumulative([cp.NewFixedSizeIntervalVar(t[i], 1, f"p{i}") for i in pos], [int(W[i]) for i in pos], peak)
        nz = np.flatnonzero(C).tolist()
        cp.Minimize(K * peak + sum(int(C[i]) * t[i] for i in nz))
        denom = K * w_scale
        info = {"weight_scale": w_scale, "objective_scale": K, "scale_exact": bool(w_exact and c_exact)}
        obj_var = peak
    else:
        mk = cp.NewIntVar(int(math.ceil(model.obj_lb)), int(model.obj_ub), "makespan")
        for i in model.sinks.tolist():
            cp.Add(mk >= t[i] + int(model.lat[i]))
        cp.Minimize(mk)
        denom = 1.0
        obj_var = mk
    res.model_size.update(info)
    res.model_size["constraints"] = len(cp.Proto().constraints)
    if hint is not None:
        for i in range(n):
            cp.AddHint(t[i], int(hint[i]))
            if slot is not None:
                cp.AddHint(slot[i], int(hint[i]) % model.ii)
        if model.kind == "A":
            cp.AddHint(obj_var, int(np.bincount(hint, weights=W).max()))
        else:
            cp.AddHint(obj_var, int((hint + model.lat).max()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(max(time_limit - (time.perf_counter() - t0), 0.1))
    solver.parameters.num_workers = int(threads)
    solver.parameters.random_seed = int(seed)
    solver.parameters.log_search_progress = bool(log)
    subsolvers = options.pop("subsolvers", None)
    if subsolvers is None and model.kind != "A" and threads <= 2:
        subsolvers = ["max_lp"]
    for name in subsolvers or ():
        solver.parameters.subsolvers.append(name)
    for key, value in options.items():  # any other CP-SAT parameter, e.g. {"linearization_level": 2}
        setattr(solver.parameters, key, value)
    st = solver.Solve(cp)
    start = None
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        start = np.array([solver.Value(x) for x in t], np.int64)
        res.solver_value = solver.ObjectiveValue() / denom
        res.bound = solver.BestObjectiveBound() / denom
        res.status = "optimal" if st == cp_model.OPTIMAL else "feasible"
    elif st == cp_model.INFEASIBLE:
        res.status = "infeasible"
    elif st == cp_model.MODEL_INVALID:
        res.status = "no-solution"
        res.message = "CP-SAT: model invalid: " + cp.Validate()
    else:
        res.status = "timeout" if solver.WallTime() >= 0.9 * solver.parameters.max_time_in_seconds else "no-solution"
        b = solver.BestObjectiveBound()
        res.bound = b / denom if np.isfinite(b) else None
    if model.kind == "A" and res.bound is not None and not res.model_size.get("scale_exact", True):
        res.message = (res.message + "; " if res.message else "") + "coefficients were rounded for CP-SAT: the bound is approximate"
    return _finish(res, problem, start, t0)
