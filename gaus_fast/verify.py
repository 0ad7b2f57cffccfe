"""Independent feasibility checker and objective evaluator for schedules.

This module deliberately imports nothing from the package except `problem` (for the data model) and `schedule`:
no solver and no C++ core, so that it is an independent check of whatever a solver produces. It even recomputes
latencies and blocking hold times from the raw problem fields instead of using the model's derived properties.
Everything is vectorised with numpy (loops run over resource types only), so 1M ops / 10M edges take seconds.

Notation: ``t`` the start steps, ``lat_i`` the latency of op ``i`` (from its operator type), ``II`` the effective
initiation interval: ``schedule.ii`` when set, else ``problem.ii`` (possibly None).

A schedule is **modulo** when an II is given and the problem has a loop-carried edge (distance > 0) or sets
``problem.ii`` itself. Resource use (and the weighted profile of `evaluate`) is then counted per slot
``d mod II`` instead of per step ``d``.

Constraints checked by `check` (each violation gives one human-readable line; see `Report`):

* ``start``: the schedule has one integer start per op (a wrong length or a non-integer/non-finite start stops
  the check there) and no start is negative;
* ``ii``: an II in the schedule must be an integer >= 1; an edge with distance > 0 needs some II (without one,
  those edges are reported once and not checked further);
* ``dependence``: every edge ``u -> v`` satisfies ``t_u + lat_u + delay <= t_v + distance * II``;
* ``resource``: for every resource type with a limit, at every step ``d`` (or slot ``d mod II``), the units in
  use are <= the limit. An op uses one unit per entry in its use list: ``pipelined`` in its start step only,
  ``blocking`` in steps ``t <= d < t + hold`` with ``hold = blocking_time`` or, if that is None, the op's latency,
  at least 1. Modulo: a use with hold ``h`` occupies slots ``t, t+1, .., t+h-1 (mod II)`` (so ``h > II`` wraps
  round and counts a slot more than once);
* ``depth``: with ``problem.depth = D`` set, every op satisfies ``t_i + max(lat_i, 1) <= D``.

Objectives computed by `evaluate` (see its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .problem import Problem, ProblemError
from .schedule import Schedule

__all__ = ["Report", "report", "check", "verify", "evaluate"]

MAX_MESSAGES = 20
# Profiles over at most _DENSE_SPAN steps (or _DENSE_PER_INTERVAL steps per interval) use a dense difference
# array; wider ones (absurd starts) compress the coordinates first so memory stays O(intervals).
_DENSE_SPAN = 1 << 22
_DENSE_PER_INTERVAL = 8


# ---------------------------------------------------------------------------------------------------- report
@dataclass
class Report:
    """Result of a check: the first ``limit`` messages, how many were left off, and counts per kind.

    ``counts``: ``start`` (bad ops, or 1 for a wrong length / non-integer schedule), ``ii`` (1 for a bad II, plus
    the number of loop-carried edges when no II is given), ``dependence`` (violated edges), ``resource``
    (violated (resource, step-or-slot) pairs), ``depth`` (ops past the depth bound).
    """

    limit: int = MAX_MESSAGES
    messages: list[str] = field(default_factory=list)
    omitted: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("start", "ii", "dependence", "resource", "depth"), 0))

    @property
    def ok(self) -> bool:
        return not self.messages and not self.omitted

    @property
    def room(self) -> int:
        return max(self.limit - len(self.messages), 0)

    def add(self, message: str) -> None:
        if len(self.messages) < self.limit:
            self.messages.append(message)
        else:
            self.omitted += 1

    def lines(self) -> list[str]:
        return self.messages + ([f"... and {self.omitted} more"] if self.omitted else [])


# ---------------------------------------------------------------------------------------------------- helpers
def _latency(problem: Problem) -> np.ndarray:
    lat = np.array([int(t.latency) for t in problem.operator_types], dtype=np.int64)
    return lat[np.asarray(problem.op_type, dtype=np.int64)] if len(lat) else np.zeros(problem.n_ops, np.int64)


def _effective_ii(problem: Problem, schedule: Schedule):
    return schedule.ii if schedule.ii is not None else problem.ii


def _valid_ii(ii) -> bool:
    if isinstance(ii, bool) or not isinstance(ii, (int, np.integer, float, np.floating)):
        return False
    return bool(np.isfinite(ii)) and ii == int(ii) and ii >= 1


def _is_modulo(problem: Problem, ii) -> bool:
    return ii is not None and (problem.ii is not None or bool(np.any(np.asarray(problem.edge_distance) > 0)))


def _uses(problem: Problem, lat: np.ndarray):
    """(use_op, use_res, hold) for every entry of the CSR use lists; hold = steps the unit is held (>= 1)."""
    ptr = np.asarray(problem.use_ptr, dtype=np.int64)
    res = np.asarray(problem.use_res, dtype=np.int64)
    op = np.repeat(np.arange(problem.n_ops, dtype=np.int64), np.diff(ptr))
    hold = np.ones(len(res), dtype=np.int64)
    for r, rt in enumerate(problem.resource_types):
        if rt.occupancy == "blocking":
            mask = res == r
            hold[mask] = np.maximum(lat[op[mask]] if rt.blocking_time is None else int(rt.blocking_time), 1)
    return op, res, hold


def _profile(begin: np.ndarray, end: np.ndarray, weight=None):
    """Piecewise-constant sum of weighted half-open intervals ``[begin, end)``.

    Returns ``(pos, val)``, sorted and canonical (no two consecutive equal values): ``val[k]`` is the total weight
    of the intervals covering every step in ``[pos[k], pos[k+1])``; the last value is 0. Empty intervals are
    ignored; no intervals give empty arrays. Integer weights (default 1) stay exact int64.
    """
    begin = np.asarray(begin, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    w = np.ones(len(begin), np.int64) if weight is None else np.asarray(weight)
    keep = end > begin
    if not keep.all():
        begin, end, w = begin[keep], end[keep], w[keep]
    if len(begin) == 0:
        return np.zeros(0, np.int64), np.zeros(0, w.dtype)
    lo, hi = int(begin.min()), int(end.max())
    if hi - lo <= max(_DENSE_SPAN, _DENSE_PER_INTERVAL * len(begin)):
        diff = np.zeros(hi - lo + 1, dtype=w.dtype)
        np.add.at(diff, begin - lo, w)
        np.add.at(diff, end - lo, -w)
        pos = np.arange(lo, hi + 1, dtype=np.int64)
    else:
        pos = np.unique(np.concatenate([begin, end]))
        diff = np.zeros(len(pos), dtype=w.dtype)
        np.add.at(diff, np.searchsorted(pos, begin), w)
        np.add.at(diff, np.searchsorted(pos, end), -w)
    val = np.cumsum(diff)
    first = np.flatnonzero(np.concatenate([[True], val[1:] != val[:-1]]))
    return pos[first], val[first]


def _modulo_intervals(t: np.ndarray, hold: np.ndarray, ii: int, weight=None):
    """Unroll uses occupying slots ``t .. t+hold-1 (mod ii)`` into intervals within ``[0, ii)``."""
    w = np.ones(len(t), np.int64) if weight is None else np.asarray(weight)
    full, rem, s = hold // ii, hold % ii, np.mod(t, ii)
    wrap = s + rem > ii
    begins = [np.zeros(int((full > 0).sum()), np.int64), s, np.zeros(int(wrap.sum()), np.int64)]
    ends = [np.full(len(begins[0]), ii, np.int64), np.where(wrap, ii, s + rem), (s + rem - ii)[wrap]]
    weights = [(w * full)[full > 0], w, w[wrap]]
    return np.concatenate(begins), np.concatenate(ends), np.concatenate(weights)


def _occupancy(t_use: np.ndarray, hold: np.ndarray, ii, modulo: bool):
    """Units in use per step (or per slot ``mod ii``) for the given uses, as a `_profile`."""
    if modulo:
        return _profile(*_modulo_intervals(t_use, hold, ii))
    return _profile(t_use, t_use + hold)


def _names(problem: Problem, idx, most: int = 6) -> str:
    idx = [int(i) for i in idx]
    text = ", ".join(problem.op_ids[i] for i in idx[:most])
    return text + (f", ... ({len(idx)} ops)" if len(idx) > most else "")


def _starts(problem: Problem, schedule: Schedule, rep: Report) -> np.ndarray | None:
    """The start steps as int64, or None (after a message) if the schedule is malformed."""
    raw = np.asarray(schedule.start)
    if raw.ndim != 1 or len(raw) != problem.n_ops:
        rep.counts["start"] += 1
        rep.add(f"schedule has {raw.size} start steps (shape {raw.shape}) but the problem has {problem.n_ops} operations")
        return None
    if raw.dtype.kind in "iu":
        # the same range as for float starts: beyond 2**62, t + lat and the profiles would overflow int64
        big = np.flatnonzero(raw > 2**62) if raw.dtype.kind == "u" else np.flatnonzero((raw > 2**62) | (raw < -(2**62)))
        if len(big):
            rep.counts["start"] += 1
            rep.add(f"{len(big)} start steps are not (in-range) integers, e.g. t({problem.op_ids[big[0]]})={raw[big[0]]}")
            return None
        return raw.astype(np.int64)
    if raw.dtype.kind == "b":
        rep.counts["start"] += 1
        rep.add("schedule start steps are booleans, not integers")
        return None
    try:
        val = raw.astype(np.float64)
    except (TypeError, ValueError):
        rep.counts["start"] += 1
        rep.add(f"schedule start steps are not numbers (dtype {raw.dtype})")
        return None
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~np.isfinite(val) | (val != np.round(val)) | (np.abs(val) > 2.0**62))
    if len(bad):
        rep.counts["start"] += 1
        rep.add(f"{len(bad)} start steps are not (in-range) integers, e.g. t({problem.op_ids[bad[0]]})={raw[bad[0]]}")
        return None
    return val.astype(np.int64)


# ---------------------------------------------------------------------------------------------------- check
def report(problem: Problem, schedule: Schedule, limit: int = MAX_MESSAGES) -> Report:
    """Check every constraint (see the module docstring); the first ``limit`` messages are kept."""
    rep = Report(limit=limit)
    t = _starts(problem, schedule, rep)
    if t is None:
        return rep
    ids = problem.op_ids
    lat = _latency(problem)

    neg = np.flatnonzero(t < 0)
    rep.counts["start"] += len(neg)
    shown = neg[: rep.room]
    for i in shown:
        rep.add(f"op {ids[i]} starts at negative step {t[i]}")
    rep.omitted += len(neg) - len(shown)

    ii = _effective_ii(problem, schedule)
    if ii is not None and not _valid_ii(ii):
        rep.counts["ii"] += 1
        rep.add(f"II must be an integer >= 1, got {ii!r}")
        return rep
    ii = None if ii is None else int(ii)

    # ---- dependences
    src = np.asarray(problem.edge_src, dtype=np.int64)
    dst = np.asarray(problem.edge_dst, dtype=np.int64)
    delay = np.asarray(problem.edge_delay, dtype=np.int64)
    dist = np.asarray(problem.edge_distance, dtype=np.int64)
    if ii is None:
        carried = np.flatnonzero(dist > 0)
        if len(carried):
            e = carried[0]
            rep.counts["ii"] += len(carried)
            rep.add(
                f"{len(carried)} loop-carried dependences (distance > 0, e.g. {ids[src[e]]} -> {ids[dst[e]]} with distance "
                f"{dist[e]}) but no II is given (schedule.ii and problem.ii are both None)"
            )
        lhs = t[src] + lat[src] + delay
        viol = (lhs > t[dst]) & (dist == 0)
        rhs_shift = np.zeros(len(src), np.int64)
    else:
        lhs = t[src] + lat[src] + delay
        rhs_shift = dist * ii
        viol = lhs > t[dst] + rhs_shift
    bad = np.flatnonzero(viol)
    rep.counts["dependence"] += len(bad)
    shown = bad[: rep.room]
    for e in shown:
        u, v = src[e], dst[e]
        carried_txt = f" + distance {dist[e]} * II {ii}" if dist[e] and ii is not None else ""
        rep.add(
            f"dependence {ids[u]} -> {ids[v]} violated: t({ids[u]})={t[u]} + lat {lat[u]} + delay {delay[e]} "
            f"> t({ids[v]})={t[v]}{carried_txt}"
        )
    rep.omitted += len(bad) - len(shown)

    # ---- resources
    modulo = _is_modulo(problem, ii)
    use_op, use_res, hold = _uses(problem, lat)
    for r, rt in enumerate(problem.resource_types):
        if rt.limit is None:
            continue
        mask = use_res == r
        ops_r, hold_r = use_op[mask], hold[mask]
        t_r = t[ops_r]
        pos, val = _occupancy(t_r, hold_r, ii, modulo)
        over = np.flatnonzero(val > rt.limit)
        if not len(over):
            continue
        seg_len = np.diff(pos)[over]  # the last segment has value 0, so every over-limit one has a successor
        rep.counts["resource"] += int(seg_len.sum())
        shown = over[: rep.room]
        for k in shown:
            d0, d1 = int(pos[k]), int(pos[k + 1]) - 1
            if modulo:
                covering = np.flatnonzero((hold_r >= ii) | (np.mod(d0 - t_r, ii) < hold_r))
                where = f"slot {d0}" if d0 == d1 else f"slots {d0}..{d1}"
                where += f" (mod II={ii})"
            else:
                covering = np.flatnonzero((t_r <= d0) & (d0 < t_r + hold_r))
                where = f"step {d0}" if d0 == d1 else f"steps {d0}..{d1}"
            rep.add(
                f"resource {rt.name} ({rt.occupancy}) over its limit {rt.limit} at {where}: {val[k]} units in use "
                f"by ops {_names(problem, np.unique(ops_r[covering]))}"
            )
        rep.omitted += len(over) - len(shown)

    # ---- depth bound
    if problem.depth is not None:
        D = int(problem.depth)
        fin = t + np.maximum(lat, 1)
        bad = np.flatnonzero(fin > D)
        rep.counts["depth"] += len(bad)
        shown = bad[: rep.room]
        for i in shown:
            rep.add(f"depth bound D={D} violated by op {ids[i]}: t({ids[i]})={t[i]} + max(lat,1) {max(lat[i], 1)} = {fin[i]} > {D}")
        rep.omitted += len(bad) - len(shown)
    return rep


def check(problem: Problem, schedule: Schedule, limit: int = MAX_MESSAGES) -> list[str]:
    """Every violated constraint as one line (at most ``limit`` lines plus ``"... and N more"``); [] if feasible."""
    return report(problem, schedule, limit).lines()


def verify(problem: Problem, schedule: Schedule) -> bool:
    """True when the schedule satisfies every constraint `check` knows."""
    return report(problem, schedule, limit=1).ok


# ---------------------------------------------------------------------------------------------------- evaluate
def evaluate(problem: Problem, schedule: Schedule, alpha: float = 0.01, last_op: str | None = None) -> dict:
    """Objective values of a schedule (feasible or not; it must have one integer start per op).

    * ``makespan``: ``max_i (t_i + lat_i)``, 0 for no ops;
    * ``length_stages``: ``max_i (t_i + max(lat_i, 1))``, the stages used (what the depth bound limits), 0 for no ops;
    * ``last_op_start``: ``t`` of the op named ``last_op`` (None when not asked);
    * ``peak_usage``: ``{resource name: peak units}`` over all steps (per slot ``mod II`` for modulo schedules),
      with the occupancy rules of `check`; every resource type is listed, limited or not (0 when unused);
    * ``peak_weighted``: max over steps of the total weight of the ops *starting* at that step (the ICML'24 stage
      objective); for modulo schedules, max over slots ``t mod II``; 0 for no ops;
    * ``communication``: ``sum_e comm_e * (t_v + distance_e * II - t_u)``;
    * ``objective_a``: ``peak_weighted + alpha * communication``;
    * ``peak_live_bits``: max over steps ``d`` of ``sum bits_i`` over the ops live at ``d``: op ``i`` is live at ``d``
      when ``t_i <= d < max_j t_j`` over its consumers ``j`` along distance-0 edges ``i -> j``; ops without such
      consumers are never live (steps are plain steps, also for modulo schedules);
    * ``total_live_bits``: the sum over all steps of the live bits, ``sum_i bits_i * max(0, end_i - t_i)``;
    * ``ii``: the effective II (``schedule.ii``, else ``problem.ii``; None without one); ``modulo``: whether
      resource use and the weighted profile were counted per slot.

    Raises ProblemError for a malformed schedule, an unknown ``last_op``, or distance > 0 edges without an II.
    """
    rep = Report()
    t = _starts(problem, schedule, rep)
    if t is None:
        raise ProblemError(rep.messages[0])
    ii = _effective_ii(problem, schedule)
    if ii is not None:
        if not _valid_ii(ii):
            raise ProblemError(f"II must be an integer >= 1, got {ii!r}")
        ii = int(ii)
    modulo = _is_modulo(problem, ii)
    lat = _latency(problem)
    n = problem.n_ops

    out: dict = {"ii": ii, "modulo": modulo}
    out["makespan"] = int((t + lat).max()) if n else 0
    out["length_stages"] = int((t + np.maximum(lat, 1)).max()) if n else 0
    if last_op is None:
        out["last_op_start"] = None
    else:
        try:
            out["last_op_start"] = int(t[problem.op_ids.index(str(last_op))])
        except ValueError:
            raise ProblemError(f"unknown operation {last_op!r} (last_op)") from None

    use_op, use_res, hold = _uses(problem, lat)
    peaks = {}
    for r, rt in enumerate(problem.resource_types):
        mask = use_res == r
        _, val = _occupancy(t[use_op[mask]], hold[mask], ii, modulo)
        peaks[rt.name] = int(val.max()) if len(val) else 0
    out["peak_usage"] = peaks

    weight = np.asarray(problem.op_weight, dtype=np.float64)
    if n:
        key = np.mod(t, ii) if modulo else t
        _, inverse = np.unique(key, return_inverse=True)
        out["peak_weighted"] = float(np.bincount(inverse.reshape(-1), weights=weight).max())
    else:
        out["peak_weighted"] = 0.0

    src = np.asarray(problem.edge_src, dtype=np.int64)
    dst = np.asarray(problem.edge_dst, dtype=np.int64)
    dist = np.asarray(problem.edge_distance, dtype=np.int64)
    comm = np.asarray(problem.edge_comm, dtype=np.float64)
    if ii is None and np.any(dist > 0):
        raise ProblemError("the graph has loop-carried dependences (distance > 0) but no II is given")
    span = t[dst] - t[src] + (dist * ii if ii is not None else 0)
    out["communication"] = float(np.dot(comm, span.astype(np.float64))) if len(src) else 0.0
    out["objective_a"] = out["peak_weighted"] + alpha * out["communication"]

    intra = dist == 0
    last_use = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_use, src[intra], t[dst[intra]])
    live = last_use > t
    bits = np.asarray(problem.op_bits, dtype=np.int64)
    _, val = _profile(t[live], last_use[live], bits[live])
    out["peak_live_bits"] = int(val.max()) if len(val) else 0
    out["total_live_bits"] = int(np.dot(bits[live], last_use[live] - t[live])) if live.any() else 0
    return out
