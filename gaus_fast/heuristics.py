"""Classic scheduling heuristics for the comparison: list scheduling, force-directed scheduling and SDC.

Each takes a Problem and an objective, ``"A"`` (peak weight + alpha * communication within D stages, as in
`solver.py`) or ``"latency"`` (the makespan under the resource limits), and returns a `HeuristicResult` with a
schedule that meets every dependence and resource limit (and, for A, the depth bound; when it cannot, a
`NoScheduleError` says so).

* `list_scheduling`: the C++ list scheduler (`bounds.list_schedule`) with several priority functions
  (critical path = ALAP, mobility, ASAP, fan-out, weight, random), cycle- and operation-driven. For objective A it
  runs against a per-step weight capacity, the smallest one that still fits in D found by bisection.
* `force_directed`: Paulin & Knight's force-directed scheduling (IEEE TCAD 1989). Time frames [ASAP, ALAP]
  give every op a uniform start distribution; the distribution graph DG sums them per step (weights for A, units
  over the limit per resource for resource balancing). The force of fixing op i at step t is its self force
  ``sum_d DG(d) (x_new(d) - p_i(d))`` plus the forces of the frames it narrows for its direct predecessors and
  successors, each with the second-order term of the change in ``sum_d DG(d)^2`` (``w^2 (1/W' - 1/W)`` for a frame
  narrowed from W to W' steps; without it the forces are flat at the start and greedy choices pile latency-0 chains
  into the last stages), optionally, for A, ``alpha * netcomm_i * (t - mid_i)``; the (op, step) of least force is fixed and the
  frames are propagated. For large graphs a batch (a fraction of the unfixed ops, least force first) is fixed per
  round instead of one op: `batch` = 0 is the classic one-at-a-time algorithm. The makespan variant runs the
  time-constrained form (latency bound T) for T from the lower bound up and keeps the first result that meets
  the limits (else the legalised best).
* `sdc`: the system of difference constraints (Cong & Zhang, DAC 2006) as an LP, solved with HiGHS: starts
  ``t_v - t_u >= lag`` and the depth bound, with a linear objective: for A ``alpha * comm + lambda * sum_i w_i
  |t_i - target_i|`` (targets spread the weight evenly over the stages), for latency the makespan plus a small
  pull towards ALAP order. The LP solution is then made legal: `bounds.legalize` (and, for A, list scheduling in
  LP order under the bisected weight capacity); the best legal schedule is kept.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import bounds, score, verify
from .problem import NoScheduleError, Problem, ProblemError
from .schedule import Schedule

OBJECTIVES = ("A", "latency")
METHODS = ("list", "force-directed", "sdc")


@dataclass
class HeuristicResult:
    method: str  # e.g. "list[mobility,serial]", "force-directed", "sdc"
    objective: str
    start: np.ndarray
    value: float
    seconds: float
    depth: int | None = None
    info: dict = field(default_factory=dict)

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.start)


# ============================================================================================ shared helpers
def _depth(problem: Problem, depth: int | None) -> int:
    from .solver import default_depth

    d = int(depth or problem.depth or default_depth(problem))
    bounds.check_depth(problem, d)
    return d


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ProblemError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def _value(problem: Problem, start: np.ndarray, objective: str, alpha: float) -> float:
    return score.objective_a(problem, start, alpha) if objective == "A" else float(score.makespan(problem, start))


def _legal(problem: Problem, start: np.ndarray, depth: int | None) -> bool:
    """Dependences, resource limits and (if given) the depth bound hold: the verifier decides."""
    p = problem.replace(depth=depth, ii=None) if depth is not None else problem.replace(depth=None, ii=None)
    return not verify.check(p, Schedule(np.asarray(start, np.int64)), limit=1)


def _frames(problem: Problem, horizon: int, span: np.ndarray):
    """ASAP and ALAP (``t + span <= horizon``) of every op."""
    return bounds.asap(problem).astype(np.int64), bounds.alap(problem, horizon, span=span).astype(np.int64)


# ============================================================================================ list scheduling
def priorities(problem: Problem, depth: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Priority functions for list scheduling (lower value = scheduled first); ties broken by ALAP."""
    n = problem.n_ops
    early = bounds.asap(problem).astype(np.float64)
    horizon = depth if depth is not None else bounds.critical_path(problem) + 1
    span = problem.span if depth is not None else problem.latency + 1
    late = bounds.alap(problem, horizon, span=span).astype(np.float64)
    tie = late / (late.max(initial=0.0) + 1.0) / 2.0  # < 1/2: never overrides the main key
    fanout = np.bincount(problem.edge_src, minlength=n).astype(np.float64)
    w = problem.op_weight
    rng = np.random.default_rng(seed)
    return {
        "alap": late + early / (horizon + 1.0) / 2.0,
        "mobility": (late - early) + tie,
        "asap": early + tie,
        "fanout": late - fanout / (fanout.max(initial=0.0) + 1.0) / 2.0,
        "weight": late - w / (w.max(initial=0.0) + 1e-12) / 2.0 if n else late,
        "random": rng.permutation(n).astype(np.float64),
    }


def _list_a(problem: Problem, prio: np.ndarray, depth: int, modes=("serial", "parallel")) -> np.ndarray | None:
    """List scheduling under the smallest per-step weight capacity (bisection) that fits in ``depth``; None if
    not even the unlimited capacity fits."""
    span = problem.span

    def attempt(cap):
        for mode in modes:
            start = bounds.list_schedule(problem, prio, mode=mode, weight_cap=cap)
            if problem.n_ops == 0 or (start + span).max() <= depth:
                return start
        return None

    hi = float(problem.op_weight.sum()) if problem.n_ops else 0.0
    lo = bounds.peak_weight_lower_bound(problem, depth)
    best = attempt(math.inf)
    if best is None:
        return None
    integral = bool(np.all(problem.op_weight == np.round(problem.op_weight)))
    for _ in range(40):
        if hi - lo <= (0.5 if integral else 1e-6 * max(hi, 1.0)):
            break
        mid = math.floor((lo + hi) / 2) if integral else (lo + hi) / 2
        got = attempt(mid)
        if got is not None:
            hi, best = mid, got
        else:
            lo = mid + (1 if integral else 0)
    return best


def list_scheduling(problem: Problem, objective: str = "A", depth: int | None = None, alpha: float = 0.01,
                    names=None, seed: int = 0) -> list[HeuristicResult]:
    """List scheduling with every priority in ``names`` (default all of `priorities`), best first."""
    _check_objective(objective)
    t0 = time.perf_counter()
    depth = _depth(problem, depth) if objective == "A" else None
    prios = priorities(problem, depth, seed)
    out = []
    for name in names or prios:
        if name not in prios:
            raise ProblemError(f"unknown priority {name!r}; choose from {', '.join(prios)}")
        t1 = time.perf_counter()
        if objective == "A":
            start = _list_a(problem, prios[name], depth)
            if start is None:
                continue
            out.append(HeuristicResult(f"list[{name}]", "A", start, _value(problem, start, "A", alpha),
                                       time.perf_counter() - t1, depth))
        else:
            for mode in ("parallel", "serial"):
                start = bounds.list_schedule(problem, prios[name], mode=mode)
                out.append(HeuristicResult(f"list[{name},{mode}]", "latency", start, _value(problem, start, "latency", 0),
                                           time.perf_counter() - t1))
    if not out:
        raise NoScheduleError(f"list scheduling finds no schedule within D={depth} stages under the resource limits")
    out.sort(key=lambda r: r.value)
    out[0].info["total_seconds"] = time.perf_counter() - t0
    return out


# ============================================================================================ force-directed
class _Graph:
    """Adjacency lists (python lists, for the frame propagation) of the distance-0 edges, duplicates merged."""

    def __init__(self, problem: Problem):
        src, dst, lag = bounds._intra(problem)
        n = problem.n_ops
        key = src.astype(np.int64) * n + dst
        order = np.lexsort((-lag, key))
        first = np.ones(len(key), bool)
        first[1:] = key[order][1:] != key[order][:-1]
        sel = order[first]
        self.src, self.dst, self.lag = src[sel].astype(np.int64), dst[sel].astype(np.int64), lag[sel].astype(np.int64)
        self.succ = [[] for _ in range(n)]
        self.pred = [[] for _ in range(n)]
        for u, v, lg in zip(self.src.tolist(), self.dst.tolist(), self.lag.tolist()):
            self.succ[u].append((v, lg))
            self.pred[v].append((u, lg))

    def fix(self, i: int, t: int, lo: np.ndarray, hi: np.ndarray) -> None:
        """Set op i to step t and tighten the frames of everything reachable (difference-constraint propagation:
        the frames stay the tightest bounds, so every op keeps a feasible step)."""
        lo[i] = hi[i] = t
        stack = [i]
        while stack:
            u = stack.pop()
            for v, lg in self.succ[u]:
                if lo[v] < lo[u] + lg:
                    lo[v] = lo[u] + lg
                    stack.append(v)
        stack = [i]
        while stack:
            v = stack.pop()
            for u, lg in self.pred[v]:
                if hi[u] > hi[v] - lg:
                    hi[u] = hi[v] - lg
                    stack.append(u)


def _expand(counts):
    counts = np.asarray(counts, np.int64)
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - (np.cumsum(counts) - counts)[owner]
    return owner, within


class _Channels:
    """What the distribution graphs sum: per op, its uses (channel, hold, weight).

    Objective A: one channel, hold 1, the op's weight. Resource balancing: one channel per limited resource, the
    hold of the use, weight 1 / limit (so that resources of different sizes compare)."""

    def __init__(self, problem: Problem, kind: str):
        n = problem.n_ops
        if kind == "A":
            self.op = np.arange(n, dtype=np.int64)
            self.ch = np.zeros(n, np.int64)
            self.hold = np.ones(n, np.int64)
            self.w = problem.op_weight.astype(np.float64)
            self.n_ch = 1
        else:
            use_op, use_res = problem.use_op.astype(np.int64), problem.use_res.astype(np.int64)
            hold = np.maximum(problem.use_len.astype(np.int64), 1)
            limit = np.array([np.nan if r.limit is None else r.limit for r in problem.resource_types], np.float64)
            keep = np.isfinite(limit[use_res]) if len(use_res) else np.zeros(0, bool)
            self.op, self.ch, self.hold = use_op[keep], use_res[keep], hold[keep]
            self.w = 1.0 / limit[self.ch]
            self.n_ch = len(problem.resource_types)
        # one (channel, hold) key per distinct pair: its window sums are computed once per round
        pairs = self.ch * (int(self.hold.max(initial=1)) + 1) + self.hold
        self.keys, self.key = np.unique(pairs, return_inverse=True)
        self.key = self.key.reshape(-1)
        self.key_ch = self.keys // (int(self.hold.max(initial=1)) + 1)
        self.key_hold = self.keys % (int(self.hold.max(initial=1)) + 1)
        # uses grouped by op (CSR), for the neighbour forces
        order = np.argsort(self.op, kind="stable")
        self.op, self.ch, self.hold, self.w, self.key = (a[order] for a in (self.op, self.ch, self.hold, self.w, self.key))
        self.ptr = np.searchsorted(self.op, np.arange(n + 1))


def _fds_frames_force(problem, g: _Graph, chans: _Channels, lo, hi, horizon, comm_coef):
    """For every unfixed op and step of its frame: the total force. Returns (op, t, force) arrays."""
    H = horizon + int(chans.hold.max(initial=1)) + 1
    width = (hi - lo + 1).astype(np.float64)
    # distribution graphs: DG[c, d] = sum over uses of w * P(use busy at d)
    dg = np.zeros((chans.n_ch, H + 1))
    u_owner, u_k = _expand(hi[chans.op] - lo[chans.op] + 1)  # (use, start candidate)
    t_c = lo[chans.op][u_owner] + u_k
    p = chans.w[u_owner] / width[chans.op][u_owner]
    # busy on [t, t+hold): difference array per channel
    np.add.at(dg, (chans.ch[u_owner], t_c), p)
    np.add.at(dg, (chans.ch[u_owner], t_c + chans.hold[u_owner]), -p)
    dg = np.cumsum(dg, axis=1)[:, :H]
    # per key: S[t] = sum_{d=t}^{t+hold-1} DG[c, d]; prefix P[t] = sum_{t'<t} S[t'] for frame means
    cum = np.concatenate([np.zeros((chans.n_ch, 1)), np.cumsum(dg, axis=1)], axis=1)
    T = np.arange(H - int(chans.hold.max(initial=1)))
    C = cum[chans.key_ch]
    S = np.take_along_axis(C, np.minimum(T[None, :] + chans.key_hold[:, None], H), 1) - C[:, T]
    P = np.concatenate([np.zeros((len(chans.keys), 1)), np.cumsum(S, axis=1)], axis=1)

    def frame_mean(key, a, b):
        return (P[key, b + 1] - P[key, a]) / (b - a + 1)

    free = np.flatnonzero(lo < hi)
    c_owner, c_k = _expand(hi[free] - lo[free] + 1)
    c_op = free[c_owner]
    c_t = lo[c_op] + c_k
    force = np.zeros(len(c_op))
    # index of each candidate, to scatter contributions by (op, t)
    base = np.full(problem.n_ops, -1, np.int64)
    base[free] = np.cumsum(hi[free] - lo[free] + 1) - (hi[free] - lo[free] + 1)
    # self forces: each use of the op
    per_op_uses = chans.ptr[c_op + 1] - chans.ptr[c_op]
    cu_owner, cu_k = _expand(per_op_uses)
    use = chans.ptr[c_op][cu_owner] + cu_k
    t = c_t[cu_owner]
    key = chans.key[use]
    contrib = chans.w[use] * (S[key, t] - frame_mean(key, lo[c_op][cu_owner], hi[c_op][cu_owner]))

    force += np.bincount(cu_owner, weights=contrib, minlength=len(c_op))
    if comm_coef is not None:
        force += comm_coef[c_op] * (c_t - (lo[c_op] + hi[c_op]) / 2.0)
    # neighbour forces: fixing u at t narrows a successor's frame to [max(lo_v, t + lag), hi_v] and a
    # predecessor's to [lo_p, min(hi_p, t - lag)]
    for direction in ("succ", "pred"):
        a_end, b_end = (g.src, g.dst) if direction == "succ" else (g.dst, g.src)
        sel = (lo[a_end] < hi[a_end]) & (lo[b_end] < hi[b_end])
        e_a, e_b, e_l = a_end[sel], b_end[sel], g.lag[sel]
        if len(e_a) == 0:
            continue
        ee, kk = _expand(hi[e_a] - lo[e_a] + 1)
        t = lo[e_a][ee] + kk
        nb = e_b[ee]
        if direction == "succ":
            na, nbnd = np.maximum(lo[nb], t + e_l[ee]), hi[nb]
            changed = na > lo[nb]
        else:
            na, nbnd = lo[nb], np.minimum(hi[nb], t - e_l[ee])
            changed = nbnd < hi[nb]
        idx = np.flatnonzero(changed)
        if len(idx) == 0:
            continue
        cand = base[e_a[ee[idx]]] + kk[idx]
        nbi, na, nbnd = nb[idx], na[idx], nbnd[idx]
        uo, uk = _expand(chans.ptr[nbi + 1] - chans.ptr[nbi])
        use = chans.ptr[nbi][uo] + uk
        key = chans.key[use]
        delta = chans.w[use] * (frame_mean(key, na[uo], nbnd[uo]) - frame_mean(key, lo[nbi][uo], hi[nbi][uo]))
        # second-order term: a frame of width W narrowed to W' adds w^2 (1/W' - 1/W) to sum_d DG(d)^2 (per step
        # held); without it the forces start out flat and the greedy piles chains into the last stages
        w_old = (hi[nbi] - lo[nbi] + 1).astype(np.float64)[uo]
        w_new = (nbnd - na + 1).astype(np.float64)[uo]
        delta += 0.5 * chans.w[use] ** 2 * chans.hold[use] * (1.0 / w_new - 1.0 / w_old)
        force += np.bincount(cand[uo], weights=delta, minlength=len(c_op))
        if comm_coef is not None:
            shift = (na + nbnd) / 2.0 - (lo[nbi] + hi[nbi]) / 2.0
            force += np.bincount(cand, weights=comm_coef[nbi] * shift, minlength=len(c_op))
    return c_op, c_t, force


def _fds_time_constrained(problem: Problem, kind: str, horizon: int, span: np.ndarray, alpha: float,
                          batch: float, deadline: float, g: _Graph | None = None, comm_force: bool = False):
    """One time-constrained FDS run: every op fixed within ``t + span <= horizon``. Returns (start, rounds,
    completed) -- when the deadline passes, the remaining ops are put at their frame's least self-force step
    in topological order (completed False)."""
    g = g or _Graph(problem)
    chans = _Channels(problem, kind)
    lo, hi = _frames(problem, horizon, span)
    if np.any(hi < lo):
        return None, 0, True
    comm_coef = None
    if kind == "A" and alpha > 0 and comm_force:
        n = problem.n_ops
        comm_coef = alpha * (np.bincount(problem.edge_dst, weights=problem.edge_comm, minlength=n)
                             - np.bincount(problem.edge_src, weights=problem.edge_comm, minlength=n))
    # Ops that load no distribution graph (weight 0, or no limited resource) have no self force: fixed early they
    # only squeeze their neighbours' frames, so they wait until every loaded op is fixed (then `_place_rest`).
    loaded = np.zeros(problem.n_ops, bool)
    loaded[chans.op[chans.w > 0]] = True
    position = _path_position(problem, g)
    rounds = 0
    completed = True
    while True:
        free = np.flatnonzero((lo < hi) & loaded)
        if len(free) == 0:
            break
        c_op, c_t, force = _fds_frames_force(problem, g, chans, lo, hi, horizon, comm_coef)
        keep = loaded[c_op]
        c_op, c_t, force = c_op[keep], c_t[keep], force[keep]
        rounds += 1
        # least force per op, then the ops by that force; ties (common: the forces start out flat) go to the
        # step at the op's relative position on its longest path, so that latency-0 chains spread out
        target = lo[c_op] + (hi[c_op] - lo[c_op]) * position[c_op]
        order = np.lexsort((np.abs(c_t - target), force, c_op))
        first = np.ones(len(order), bool)
        first[1:] = c_op[order][1:] != c_op[order][:-1]
        best = order[first]
        best = best[np.argsort(force[best], kind="stable")]
        out_of_time = time.perf_counter() > deadline
        k = len(best) if out_of_time else max(1, int(math.ceil(batch * len(free))))
        completed = completed and not out_of_time
        for j in best[:k].tolist():
            i, t = int(c_op[j]), int(c_t[j])
            if lo[i] <= t <= hi[i] and lo[i] < hi[i]:
                g.fix(i, t, lo, hi)
            elif lo[i] < hi[i]:  # its frame moved under an earlier fix of this round: nearest step still in it
                g.fix(i, min(max(t, int(lo[i])), int(hi[i])), lo, hi)
    _place_rest(problem, g, lo, hi, kind, alpha)
    return lo.copy(), rounds, completed


def _path_position(problem: Problem, g: _Graph) -> np.ndarray:
    """Where each op sits on the longest path through it, in [0, 1], counting every edge as one level."""
    n = problem.n_ops
    strict = np.maximum(g.lag, 1)
    head = bounds._core.asap(n, g.src, g.dst, strict).astype(np.float64)
    levels = int(head.max(initial=0)) + 1
    tail = levels - 1 - bounds._core.alap(n, g.src, g.dst, strict, np.ones(n, np.int64), levels).astype(np.float64)
    return head / np.maximum(head + tail, 1.0)


def _place_rest(problem: Problem, g: _Graph, lo, hi, kind: str, alpha: float) -> None:
    """Fix the still-free (unloaded) ops: for A at the end of the frame that shortens their communication
    (earliest when incoming comm outweighs outgoing), for latency as early as possible."""
    n = problem.n_ops
    netcomm = (np.bincount(problem.edge_dst, weights=problem.edge_comm, minlength=n)
               - np.bincount(problem.edge_src, weights=problem.edge_comm, minlength=n))
    for i in np.flatnonzero(lo < hi).tolist():
        if lo[i] < hi[i]:
            late = kind == "A" and alpha > 0 and netcomm[i] < 0
            g.fix(i, int(hi[i] if late else lo[i]), lo, hi)


def force_directed(problem: Problem, objective: str = "A", depth: int | None = None, alpha: float = 0.01,
                   batch: float | None = None, time_limit: float = 60.0, comm_force: bool = False) -> HeuristicResult:
    """Force-directed scheduling (see the module docstring). ``batch``: fraction of the unfixed ops fixed per round
    (0: one op per round, the classic algorithm; default 0 up to 300 ops, else 0.02). ``comm_force``: objective A
    also adds ``alpha * netcomm_i * (t - mid_i)`` to the forces. Off by default, as in the classic algorithm: the
    distribution-graph forces are about 1/D of a weight per step, so on graphs of latency-0 edges the
    communication term dominated them and piled the ops into a few stages (ctrl: peak 168 against 33 without)."""
    _check_objective(objective)
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    n = problem.n_ops
    if batch is None:
        batch = 0.0 if n <= 300 else 0.02
    g = _Graph(problem)
    if objective == "A":
        depth = _depth(problem, depth)
        start, rounds, completed = _fds_time_constrained(problem, "A", depth, problem.span, alpha, batch, deadline, g,
                                                         comm_force)
        info = {"rounds": rounds, "completed": completed, "legalized": False}
        if problem.has_limits() and not _legal(problem, start, depth):
            start, ok = bounds.legalize(problem, start.astype(np.float64), depth)
            info["legalized"] = True
            if not ok or not _legal(problem, start, depth):
                raise NoScheduleError(f"force-directed scheduling: no legal schedule within D={depth} stages under the limits")
        return HeuristicResult("force-directed", "A", start, _value(problem, start, "A", alpha), time.perf_counter() - t0, depth, info)
    # makespan: the time-constrained form for latency bounds T = lower bound, lower bound + 1, ...
    lb = bounds.makespan_lower_bound(problem)
    _, ub_start = _list_best_latency(problem)
    ub = int(score.makespan(problem, ub_start))
    best, best_value, tried = ub_start, ub, []
    span = problem.latency + 1  # the core's ALAP needs spans >= 1: t + lat + 1 <= T + 1
    for T in range(lb, ub):
        if time.perf_counter() > deadline:
            break
        start, rounds, _ = _fds_time_constrained(problem, "latency", T + 1, span, 0.0, batch, deadline, g)
        tried.append(T)
        if start is None:
            continue
        if not _legal(problem, start, None):
            start, _ = bounds.legalize(problem, start.astype(np.float64))
        value = int(score.makespan(problem, start))
        if _legal(problem, start, None) and value < best_value:
            best, best_value = start, value
        if best_value <= T:
            break
    info = {"bounds_tried": tried, "from_list": best is ub_start}
    return HeuristicResult("force-directed", "latency", best, float(best_value), time.perf_counter() - t0, None, info)


def _list_best_latency(problem: Problem):
    res = list_scheduling(problem, "latency", names=("alap", "mobility", "fanout"))
    return res[0].method, res[0].start


# ============================================================================================ SDC
def _solve_lp(cost, lower, upper, r, c, v, rlo, rhi, time_limit):
    """min cost.x, lower <= x <= upper, rlo <= A x <= rhi (A as COO); the column values, or None."""
    import highspy

    from .exact import _new_highs

    ncol, nrow = len(cost), len(rlo)
    order = np.argsort(r, kind="stable")
    r, c, v = r[order], c[order], v[order]
    start = np.searchsorted(r, np.arange(nrow)).astype(np.int32)
    h = _new_highs(highspy, False)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit, 0.1)))
    h.setOptionValue("threads", 1)
    fmt = int(highspy.MatrixFormat.kRowwise.value)
    integrality = np.zeros(ncol, np.int32)  # continuous: this is the LP relaxation
    h.passModel(ncol, nrow, len(v), fmt, 1, 0.0, cost, lower, upper, rlo, rhi, start, c.astype(np.int32), v, integrality)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    return np.asarray(h.getSolution().col_value, np.float64)


def _balanced_targets(problem: Problem, depth: int) -> np.ndarray:
    """A stage per op that spreads the weight evenly: ops in order of their frame midpoint, cumulative weight
    mapped onto D stages, then clipped into the frame."""
    lo, hi = _frames(problem, depth, problem.span)
    mid = (lo + hi) / 2.0
    order = np.lexsort((hi, mid))
    w = problem.op_weight[order] + 1e-9
    before = np.cumsum(w) - w
    tgt = np.empty(problem.n_ops)
    tgt[order] = np.floor(depth * before / w.sum())
    return np.clip(tgt, lo, hi)


def sdc(problem: Problem, objective: str = "A", depth: int | None = None, alpha: float = 0.01,
        lam: float | None = None, time_limit: float = 60.0) -> HeuristicResult:
    """SDC: the LP over the difference constraints (HiGHS), then legalisation (see the module docstring).
    ``lam``: objective A's weight of the pull towards the balanced targets (default 1 / D)."""
    _check_objective(objective)
    t0 = time.perf_counter()
    g = _Graph(problem)
    n, m = problem.n_ops, len(g.src)
    lat = problem.latency.astype(np.float64)
    # difference constraints: t_v - t_u >= lag
    r = np.repeat(np.arange(m), 2)
    c = np.stack([g.dst, g.src], 1).reshape(-1)
    v = np.tile([1.0, -1.0], m)
    rlo, rhi = g.lag.astype(np.float64), np.full(m, np.inf)
    if objective == "A":
        depth = _depth(problem, depth)
        lam = 1.0 / depth if lam is None else float(lam)
        tgt = _balanced_targets(problem, depth)
        netcomm = (np.bincount(problem.edge_dst, weights=problem.edge_comm, minlength=n)
                   - np.bincount(problem.edge_src, weights=problem.edge_comm, minlength=n))
        w = problem.op_weight.astype(np.float64)
        # columns: t (n), dev (n) with dev_i >= |t_i - tgt_i|
        cost = np.concatenate([alpha * netcomm, lam * w])
        lower = np.zeros(2 * n)
        upper = np.concatenate([depth - problem.span.astype(np.float64), np.full(n, np.inf)])
        ar = np.arange(n)
        r = np.concatenate([r, m + np.repeat(ar, 2), m + n + np.repeat(ar, 2)])
        c = np.concatenate([c, np.stack([n + ar, ar], 1).reshape(-1), np.stack([n + ar, ar], 1).reshape(-1)])
        v = np.concatenate([v, np.tile([1.0, -1.0], n), np.tile([1.0, 1.0], n)])
        rlo = np.concatenate([rlo, -tgt, tgt])
        rhi = np.concatenate([rhi, np.full(2 * n, np.inf)])
    else:
        # columns: t (n), M; minimise M + eps * sum(t) pushes ops early, ties resolved by the LP
        horizon = float(sum(lat) + n)
        cost = np.concatenate([np.full(n, 1e-3 / max(n, 1)), [1.0]])
        lower = np.zeros(n + 1)
        upper = np.full(n + 1, horizon)
        ar = np.arange(n)
        r = np.concatenate([r, m + np.repeat(ar, 2)])
        c = np.concatenate([c, np.stack([np.full(n, n), ar], 1).reshape(-1)])
        v = np.concatenate([v, np.tile([1.0, -1.0], n)])
        rlo = np.concatenate([rlo, lat])
        rhi = np.concatenate([rhi, np.full(n, np.inf)])
    x = _solve_lp(cost, lower, upper, r, c, v, rlo, rhi, time_limit - (time.perf_counter() - t0))
    if x is None:
        raise NoScheduleError("SDC: the LP found no solution within the time limit")
    t_lp = x[:n]
    lp_seconds = time.perf_counter() - t0
    cands = []
    if objective == "A":
        start, ok = bounds.legalize(problem, t_lp, depth)
        if ok:
            cands.append(("legalize", start))
        # LP order as a list-scheduling priority, under the bisected weight capacity
        late = bounds.alap(problem, depth).astype(np.float64)
        start = _list_a(problem, t_lp + late / (late.max(initial=0.0) + 1.0) / 2.0, depth)
        if start is not None:
            cands.append(("list", start))
    else:
        start, _ = bounds.legalize(problem, t_lp)
        cands.append(("legalize", start))
        late = bounds.alap(problem, bounds.critical_path(problem) + 1, span=problem.latency + 1).astype(np.float64)
        for mode in ("parallel", "serial"):
            cands.append((f"list,{mode}", bounds.list_schedule(problem, t_lp + late / (late.max(initial=0.0) + 1.0) / 2.0, mode=mode)))
    cands = [(k, s) for k, s in cands if _legal(problem, s, depth)]
    if not cands:
        raise NoScheduleError(f"SDC: no legal schedule within D={depth} stages under the resource limits")
    vals = [_value(problem, s, objective, alpha) for _, s in cands]
    k = int(np.argmin(vals))
    info = {"lp_seconds": lp_seconds, "legalized_by": cands[k][0], "lp_value": float(np.dot(cost, x))}
    return HeuristicResult("sdc", objective, cands[k][1], vals[k], time.perf_counter() - t0, depth, info)


def run(problem: Problem, method: str, objective: str = "A", **kwargs) -> HeuristicResult:
    """Dispatch by name: "list" (the best priority), "force-directed" or "sdc"."""
    if method == "list":
        kwargs.pop("time_limit", None)
        return list_scheduling(problem, objective, **kwargs)[0]
    if method == "force-directed":
        return force_directed(problem, objective, **kwargs)
    if method == "sdc":
        return sdc(problem, objective, **kwargs)
    raise ProblemError(f"unknown heuristic {method!r}; choose one of {', '.join(METHODS)}")
