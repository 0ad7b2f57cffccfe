"""Objective "memory" (GauS formulation B): minimise the peak live bits per step within D stages.

A value is live from its producer's start until its last consumer starts: op i holds ``b_i`` bits at step d when
``t_i <= d < max_j t_j`` over its consumers j along distance-0 edges (`verify.evaluate`'s ``peak_live_bits``;
ops without consumers hold nothing). The relaxation is `kernels.expected_live_bits` (expected live bits per
step under independent Gaussian starts), its soft maximum the loss; dependences, the depth bound and resource
limits enter as in the other objectives (augmented Lagrangian, expected excess). Every ``legalize_every``
iterations the C++ legalizer rounds mu into a legal schedule, scored by the exact integer peak; the best is kept,
and restarts begin from it. ``metric="sum"`` minimises the total live bits over all steps instead.

Every dependence takes at least one step here (lag ``max(lat_u + delay, 1)``): with latency-0 ops (AIGER, the
ICML'24 GML graphs) a consumer could start in its producer's step, every op could chain into step 0 and nothing
would ever be live. This is the convention of the default depth bound (nodes on the longest path, every edge one
step); the schedules returned also satisfy the original, weaker dependences.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from . import baselines, bounds, kernels, relax
from .problem import NoScheduleError, Problem, ProblemError
from .schedule import Schedule
from .solver import (LEGALIZE_NOISE, LimitTerm, ProgressFn, SolveResult, SolverConfig, _Clock, _initial_sigma, _meets_limits,
                     _Relaxation, default_depth, restart_near)

METRICS = ("peak", "sum")
POLISH_POWER = 8  # local search cost sum_d (live_d / peak)^8: a smooth stand-in for the peak that still sees
# every step, so moves off the peak steps are not all ties (the power 1 would be the total, for metric "sum")


@njit(cache=True)
def _polish_pass(t, bits, span, depth, pred_ptr, pred_idx, pred_lag, succ_ptr, succ_idx, succ_lag, power, scale):
    """One pass of the live-bits local search over all ops, in place on the legal schedule ``t``.

    Op i may start anywhere in ``[lo, hi]`` (its predecessors' ends, its successors' starts, the depth bound).
    Moving it changes its own interval ``[t_i, last_i)`` and extends or shortens each predecessor p whose last
    use it is: with i removed, p is live on ``[t_p, other_p)`` and moving i to x adds ``[max(t_p, other_p), x)``.
    Scanning x upwards, only step x changes from x to x + 1, so every start in the window costs O(preds).
    Returns the number of ops moved and the live profile of the result (steps 0 .. depth), kept incrementally.
    """
    n = t.shape[0]
    last = np.full(n, -(2**62), np.int64)
    for i in range(n):
        for e in range(succ_ptr[i], succ_ptr[i + 1]):
            last[i] = max(last[i], t[succ_idx[e]])
    prof = np.zeros(depth + 1, np.float64)
    for i in range(n):
        for d in range(t[i], last[i]):
            prof[d] += bits[i]
    moved = 0
    k = pred_ptr[1:] - pred_ptr[:-1]
    other = np.empty(max(k.max() if n else 0, 1), np.int64)
    for i in range(n):
        lo = 0
        for e in range(pred_ptr[i], pred_ptr[i + 1]):
            lo = max(lo, t[pred_idx[e]] + pred_lag[e])
        hi = depth - span[i]
        for e in range(succ_ptr[i], succ_ptr[i + 1]):
            hi = min(hi, t[succ_idx[e]] - succ_lag[e])
        if hi <= lo:
            continue
        # take i's influence out of the profile
        ti = t[i]
        for d in range(ti, last[i]):
            prof[d] -= bits[i]
        np_ = pred_ptr[i + 1] - pred_ptr[i]
        for a in range(np_):
            p = pred_idx[pred_ptr[i] + a]
            o = -(2**62)
            for e in range(succ_ptr[p], succ_ptr[p + 1]):
                if succ_idx[e] != i:
                    o = max(o, t[succ_idx[e]])
            o = max(o, t[p])
            other[a] = o
            for d in range(o, last[p]):
                prof[d] -= bits[p]
        # cost(x) - cost(lo) for every x by the scan; the current start wins ties
        best_x, best_c, c, cur = lo, 0.0, 0.0, 0.0
        for x in range(lo, hi):
            own = bits[i] if x < last[i] else 0.0
            ext = 0.0
            for a in range(np_):
                if other[a] <= x:
                    ext += bits[pred_idx[pred_ptr[i] + a]]
            c += ((prof[x] + ext) / scale) ** power - ((prof[x] + own) / scale) ** power
            if x + 1 == ti:
                cur = c
            if c < best_c:
                best_c, best_x = c, x + 1
        if best_c < cur - 1e-12 * max(abs(cur), 1.0):
            moved += 1
        else:
            best_x = ti
        # put i back at best_x
        t[i] = best_x
        for d in range(best_x, last[i]):
            prof[d] += bits[i]
        for a in range(np_):
            p = pred_idx[pred_ptr[i] + a]
            last[p] = max(other[a], best_x)
            for d in range(other[a], last[p]):
                prof[d] += bits[p]
    return moved, prof


def strict_problem(problem: Problem) -> Problem:
    """A copy where every distance-0 dependence has a lag of at least one step (delays raised where needed)."""
    delay = problem.edge_delay.copy()
    intra = problem.intra_edges()
    lag = problem.latency[problem.edge_src[intra]] + delay[intra]
    delay[intra] += np.maximum(1 - lag, 0)
    return problem.replace(edge_delay=delay)


def consumer_pairs(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (producer, consumer) pairs along distance-0 edges, sorted by producer."""
    intra = problem.intra_edges()
    n = max(problem.n_ops, 1)
    key = np.unique(problem.edge_src[intra].astype(np.int64) * n + problem.edge_dst[intra])
    return key // n, key % n


def last_use(problem: Problem, start: np.ndarray) -> np.ndarray:
    """``max_j t_j`` over each op's distance-0 consumers (int64 min where it has none)."""
    intra = problem.intra_edges()
    out = np.full(problem.n_ops, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(out, problem.edge_src[intra], np.asarray(start, np.int64)[problem.edge_dst[intra]])
    return out


def live_profile(problem: Problem, start: np.ndarray, horizon: int | None = None) -> np.ndarray:
    """Live bits per step (int64), steps 0 .. max(last use) - 1 (or ``horizon``); the rule of `verify.evaluate`."""
    t = np.asarray(start, np.int64)
    end = last_use(problem, t)
    live = end > t
    top = int(end[live].max()) if live.any() else 0
    lo = min(int(t[live].min()), 0) if live.any() else 0
    diff = np.zeros(max(top, horizon or 0) - lo + 1, np.int64)
    np.add.at(diff, t[live] - lo, problem.op_bits[live])
    np.add.at(diff, end[live] - lo, -problem.op_bits[live])
    prof = np.cumsum(diff)[-lo:]
    return prof[:horizon] if horizon is not None else prof[:-1]


def live_bits(problem: Problem, start: np.ndarray) -> tuple[int, int]:
    """(peak, total) live bits of an integer schedule, as `verify.evaluate` counts them."""
    prof = live_profile(problem, start)
    return (int(prof.max()) if len(prof) else 0), int(prof.sum())


def lower_bounds(problem: Problem, depth: int) -> tuple[float, float]:
    """(peak, total) lower bounds for schedules of ``problem`` (lags as given) within ``depth`` steps.

    Op i with consumers is live at least ``L_i = max_j lag_ij`` steps (when >= 1) and surely live on
    ``[ALAP_i, max_j ASAP_j)``. Peak >= max of: the largest such ``b_i``, ``ceil(sum b_i L_i / depth)`` (all live
    steps lie in [0, depth)), and the bits surely live at one step. Total >= ``sum b_i max(L_i, surely-live length)``.
    """
    if problem.n_ops == 0:
        return 0.0, 0.0
    intra = problem.intra_edges()
    src = problem.edge_src[intra]
    lag = problem.latency[src] + problem.edge_delay[intra]
    least = np.zeros(problem.n_ops, np.int64)
    np.maximum.at(least, src, np.maximum(lag, 0))
    early, late = bounds.asap(problem), bounds.alap(problem, depth)
    sure_end = last_use(problem, early)
    sure = sure_end > late
    bits = problem.op_bits
    total = float(np.dot(bits, np.maximum(least, np.where(sure, sure_end - late, 0))))
    peak = max(float(bits[least > 0].max(initial=0)), float(math.ceil(np.dot(bits, least) / max(depth, 1))))
    if sure.any():
        lo = int(late[sure].min())
        diff = np.zeros(int(sure_end[sure].max()) - lo + 1, np.int64)
        np.add.at(diff, late[sure] - lo, bits[sure])
        np.add.at(diff, sure_end[sure] - lo, -bits[sure])
        peak = max(peak, float(np.cumsum(diff).max()))
    return peak, total


class _Polisher:
    """The live-bits local search on legal schedules of ``strict`` (no resource limits: moves ignore them)."""

    def __init__(self, strict: Problem, depth: int, metric: str):
        self.problem = strict
        src, dst, lag = bounds._intra(strict)
        n = max(strict.n_ops, 1)
        # one entry per distinct (producer, consumer) pair, with the largest lag among its edges
        key = src.astype(np.int64) * n + dst
        ukey, inv = np.unique(key, return_inverse=True)
        ulag = np.full(len(ukey), np.iinfo(np.int64).min, np.int64)
        np.maximum.at(ulag, inv.reshape(-1), lag.astype(np.int64))
        ps, pd = ukey // n, ukey % n
        self.succ = self._csr(ps, pd, ulag, strict.n_ops)
        self.pred = self._csr(pd, ps, ulag, strict.n_ops)
        self.bits = strict.op_bits.astype(np.float64)
        self.span, self.depth = strict.span.astype(np.int64), int(depth)
        self.power = POLISH_POWER if metric == "peak" else 1

    @staticmethod
    def _csr(a, b, lag, n):
        order = np.argsort(a, kind="stable")
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(a, minlength=n), out=ptr[1:])
        return ptr, b[order].astype(np.int64), lag[order]

    def __call__(self, start: np.ndarray, passes: int = 4) -> np.ndarray:
        t = np.asarray(start, np.int64).copy()
        for _ in range(passes):
            scale = max(float(live_bits(self.problem, t)[0]), 1.0)
            if not _polish_pass(t, self.bits, self.span, self.depth, *self.pred, *self.succ, self.power, scale)[0]:
                break
        return t


def _baselines(strict: Problem, depth: int) -> dict[str, np.ndarray]:
    """ASAP, ALAP and list schedules (critical-path priority, cycle- and operation-driven, and the objective-A
    list schedule under the smallest per-step weight capacity that fits in D) of the strict problem."""
    prio = bounds.alap(strict, depth).astype(np.float64)
    out = {"asap": bounds.asap(strict), "alap": bounds.alap(strict, depth)}
    for mode in ("parallel", "serial"):
        out[f"list[{mode}]"] = bounds.list_schedule(strict, prio, mode=mode)
    out["list[capacity]"] = baselines.list_scheduling_objective_a(strict, depth, 0.0).start
    return out


def _legal(strict: Problem, start: np.ndarray, depth: int) -> bool:
    t = np.asarray(start, np.int64)
    src, dst, lag = bounds._intra(strict)
    if strict.n_ops and ((t < 0).any() or (t + strict.span).max() > depth or np.any(t[dst] < t[src] + lag)):
        return False
    return not strict.has_limits() or _meets_limits(strict, t)


def solve_memory(problem: Problem, config: SolverConfig, progress: ProgressFn | None = None, metric: str = "peak") -> SolveResult:
    """Minimise the peak (``metric="sum"``: the total) live bits of ``problem`` within D stages; see the module doc.

    ``result.value`` is the chosen metric of the returned schedule; ``result.baselines`` holds ASAP, ALAP and the
    best list schedule by the same metric (NaN where one is not legal under the limits or the depth bound).
    """
    if metric not in METRICS:
        raise ProblemError(f"unknown memory metric {metric!r}; choose one of {', '.join(METRICS)}")
    clock = _Clock(config, progress)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    strict = strict_problem(problem)
    depth = config.depth or problem.depth or default_depth(problem)
    bounds.check_depth(strict, depth)
    pick = 0 if metric == "peak" else 1

    def score(start: np.ndarray) -> float:
        return float(live_bits(problem, start)[pick])

    lower = lower_bounds(strict, depth)[pick]
    # The local search moves ops within their slack, so it ignores resource limits: off when there are any.
    polish = None if strict.has_limits() else _Polisher(strict, depth, metric)
    base, best_start, best_value = {}, None, math.inf
    for name, start in _baselines(strict, depth).items():
        value = score(start) if _legal(strict, start, depth) else math.inf
        key = "list" if name.startswith("list") else name  # "list": the best list variant
        base[key] = min(base.get(key, math.inf), value)
        if math.isfinite(value) and polish is not None:
            start = polish(start)
            value = score(start)
        if value < best_value:
            best_start, best_value = start, value
    base = {k: (v if math.isfinite(v) else math.nan) for k, v in base.items()}  # NaN: not legal
    if best_start is None:
        # Only possible under resource limits: one more try by the legalizer from the ALAP order.
        start, ok = bounds.legalize(strict, bounds.alap(strict, depth).astype(np.float64), depth)
        if not (ok and _legal(strict, start, depth)):
            raise NoScheduleError(f"no schedule within D={depth} stages under the resource limits was found; "
                                  f"raise the depth bound or the limits")
        best_start, best_value = start, score(start)
    result = SolveResult(Schedule(best_start), "memory", best_value, lower, base, depth,
                         backend=config.backend, device=config.device)
    result.history.append((clock.elapsed, best_value))
    psrc, pdst = consumer_pairs(problem)
    if problem.n_ops == 0 or len(psrc) == 0 or best_value <= lower or config.max_iters == 0:
        result.seconds = clock.elapsed
        return result

    early, late = bounds.asap(strict), bounds.alap(strict, depth)
    state = _Relaxation(strict, config, strict.span)
    state.reset(best_start.astype(np.float64), _initial_sigma(config, early, late, config.sigma_init_scale))
    bits = state.tensor(problem.op_bits)
    src_t, dst_t = state.tensor(psrc, torch.long), state.tensor(pdst, torch.long)
    upper = state.tensor(depth - strict.span)
    limits = LimitTerm(strict, state)
    res_mult = limits.multipliers(depth)
    # One unit of loss is one lower bound (or one value of the best baseline when the bound is 0).
    scale = max(lower, 1e-3 * best_value, 1.0)
    temperature = config.temperature
    since_best = fails = restarts = it = 0
    while it < config.max_iters and not clock.out_of_time() and since_best < config.patience:
        sigma = state.sigma()
        half = relax.occupancy_window(float(sigma.detach().max()), 1, config.window_cap)
        live = kernels.expected_live_bits(state.mu, sigma, bits, src_t, dst_t, depth, half, backend=config.backend,
                                          deterministic=config.deterministic)
        if metric == "peak":
            obj = temperature * torch.logsumexp(live / (temperature * scale), 0)
        else:
            obj = live.sum() / scale
        legalize_now = (it + 1) % config.legalize_every == 0
        loss = obj + state.dependence_loss(sigma, legalize_now)
        loss = loss + config.rho * relax.bound_violation(state.mu, sigma, 0.0, upper).sum()
        if limits:
            loss = loss + limits.loss(sigma, res_mult, depth)
        state.step(loss)
        it += 1
        since_best += 1
        if legalize_now:
            limits.raise_multipliers(res_mult)
            improved = False
            for noise in LEGALIZE_NOISE[:2]:
                start, ok = bounds.legalize(strict, state.mu_numpy(noise, rng), depth)
                result.legalizations += 1
                if not ok:
                    continue
                if polish is not None:
                    start = polish(start)
                value = score(start)
                if value < best_value:
                    best_start, best_value, improved = start, value, True
            if improved:
                since_best = fails = 0
                result.history.append((clock.elapsed, best_value))
                if best_value <= lower:
                    break
            else:
                fails += 1
                if fails >= config.restart_after:
                    restarts += 1
                    fails = 0
                    restart_near(state, best_start, rng, config, early, late, restarts)
            clock.report(it, best_value)
    result.schedule = Schedule(best_start)
    result.value = best_value
    result.iterations, result.restarts, result.seconds = it, restarts, clock.elapsed
    return result
