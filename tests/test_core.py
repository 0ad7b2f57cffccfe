"""Tests of the C++ core (gaus_fast._core) against small pure-Python references."""
from __future__ import annotations

import heapq
import math
import re
import time
from collections import defaultdict, deque

import numpy as np
import pytest

core = pytest.importorskip("gaus_fast._core")

try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the test extras
    given = None


# ---------------------------------------------------------------- random instances


def random_dag(rng, n, m, lags=(0, 1, 2, 3)):
    """m random edges that go forward in a random permutation of 0..n-1."""
    perm = rng.permutation(n)
    if n < 2 or m == 0:
        e = np.zeros(0, np.int32)
        return e, e.copy(), np.zeros(0, np.int64)
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    keep = a != b
    a, b = a[keep], b[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    src = perm[lo].astype(np.int32)
    dst = perm[hi].astype(np.int32)
    lag = rng.choice(np.array(lags, np.int64), len(src))
    return src, dst, lag


def random_uses(rng, n, n_res, max_len=3, limits=(-1, 1, 2, 3)):
    """CSR resource uses: 0-2 uses per op (a resource may repeat), len 1..max_len."""
    counts = rng.integers(0, 3, n)
    use_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    nnz = int(use_ptr[-1])
    use_res = rng.integers(0, n_res, nnz).astype(np.int32)
    use_len = rng.integers(1, max_len + 1, nnz).astype(np.int32)
    limit = rng.choice(np.array(limits, np.int64), n_res)
    # An op must not need more units of a resource at once than exist.
    for i in range(n):
        k = slice(use_ptr[i], use_ptr[i + 1])
        res, cnt = np.unique(use_res[k], return_counts=True)
        for r, c in zip(res, cnt):
            if 0 <= limit[r] < c:
                limit[r] = c
    return use_ptr, use_res, use_len, limit


def instance(seed, n_max=25):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, n_max))
    m = int(rng.integers(0, 3 * n))
    src, dst, lag = random_dag(rng, n, m, lags=(-1, 0, 0, 1, 1, 2, 3))
    use_ptr, use_res, use_len, limit = random_uses(rng, n, int(rng.integers(1, 4)))
    span = rng.integers(1, 4, n).astype(np.int64)
    return rng, n, src, dst, lag, span, use_ptr, use_res, use_len, limit


# ---------------------------------------------------------------- references and checkers


def ref_topo(n, src, dst):
    succ = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in zip(src, dst):
        succ[u].append(v)
        indeg[v] += 1
    queue = deque(v for v in range(n) if indeg[v] == 0)
    order = []
    while queue:
        u = queue.popleft()
        order.append(u)
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    return order if len(order) == n else None


def ref_asap(n, src, dst, lag):
    t = [0] * n
    for u in ref_topo(n, src, dst):
        for a, b, l in zip(src, dst, lag):
            if a == u:
                t[b] = max(t[b], t[u] + int(l))
    return t


def ref_alap(n, src, dst, lag, span, depth):
    t = [0] * n
    for u in reversed(ref_topo(n, src, dst)):
        t[u] = int(depth - span[u])
        for a, b, l in zip(src, dst, lag):
            if a == u:
                t[u] = min(t[u], t[b] - int(l))
    return t


class RefTable:
    """Naive reservation table: a dict of unit counts per (resource, step)."""

    def __init__(self, use_ptr, use_res, use_len, limit, weight=None, cap=math.inf):
        self.ptr, self.res, self.len, self.limit = use_ptr, use_res, use_len, limit
        self.used = defaultdict(int)
        self.weight, self.cap = weight, cap
        self.wsum = defaultdict(float)

    def demand(self, i, t):
        need = defaultdict(int)
        for k in range(self.ptr[i], self.ptr[i + 1]):
            r = int(self.res[k])
            if self.limit[r] >= 0:
                for s in range(t, t + int(self.len[k])):
                    need[(r, s)] += 1
        return need

    def fits(self, i, t):
        if any(self.used[key] + c > self.limit[key[0]] for key, c in self.demand(i, t).items()):
            return False
        if math.isfinite(self.cap):
            w = 1.0 if self.weight is None else float(self.weight[i])
            slack = self.cap + 1e-9 * max(1.0, abs(self.cap))
            return self.wsum[t] == 0 or w <= slack - self.wsum[t]
        return True

    def reserve(self, i, t):
        for key, c in self.demand(i, t).items():
            self.used[key] += c
        self.wsum[t] += 1.0 if self.weight is None else float(self.weight[i])


def ref_serial(n, src, dst, lag, prio, use_ptr, use_res, use_len, limit, weight=None, cap=math.inf):
    table = RefTable(use_ptr, use_res, use_len, limit, weight, cap)
    indeg = [0] * n
    for v in dst:
        indeg[v] += 1
    release = [0] * n
    heap = [(prio[v], v) for v in range(n) if indeg[v] == 0]
    heapq.heapify(heap)
    t = [0] * n
    while heap:
        _, u = heapq.heappop(heap)
        s = t[u] = first_fit_up(table, u, release[u])
        table.reserve(u, s)
        for a, b, l in zip(src, dst, lag):
            if a == u:
                release[b] = max(release[b], s + int(l))
                indeg[b] -= 1
                if indeg[b] == 0:
                    heapq.heappush(heap, (prio[b], b))
    return t


def ref_parallel(n, src, dst, lag, prio, use_ptr, use_res, use_len, limit, weight=None, cap=math.inf):
    """Classic cycle-driven list scheduling, retrying every ready op at every step."""
    table = RefTable(use_ptr, use_res, use_len, limit, weight, cap)
    indeg = [0] * n
    for v in dst:
        indeg[v] += 1
    release = [0] * n
    t = [None] * n
    d = 0
    while any(x is None for x in t):
        tried = set()
        while True:
            ready = [v for v in range(n) if t[v] is None and indeg[v] == 0 and release[v] <= d and v not in tried]
            if not ready:
                break
            u = min(ready, key=lambda v: (prio[v], v))
            tried.add(u)
            if table.fits(u, d):
                t[u] = d
                table.reserve(u, d)
                for a, b, l in zip(src, dst, lag):
                    if a == u:
                        release[b] = max(release[b], d + int(l))
                        indeg[b] -= 1
        d += 1
    return t


def ref_legalize(n, src, dst, lag, mu, span, use_ptr, use_res, use_len, limit, depth=-1):
    table = RefTable(use_ptr, use_res, use_len, limit)
    latest = ref_alap(n, src, dst, lag, span, depth) if depth >= 0 else [math.inf] * n
    indeg = [0] * n
    for v in dst:
        indeg[v] += 1
    heap = [(mu[v], v) for v in range(n) if indeg[v] == 0]
    heapq.heapify(heap)
    release = [0] * n
    t = [0] * n
    while heap:
        _, u = heapq.heappop(heap)
        lo, hi = release[u], latest[u]
        target = min(max(round_half_away(mu[u]), lo), max(lo, hi))
        if hi == math.inf:
            s = first_fit_up(table, u, target)
        else:
            s = next((s for s in range(target, hi + 1) if table.fits(u, s)), None)
            if s is None:
                s = next((s for s in range(target - 1, lo - 1, -1) if table.fits(u, s)), None)
            if s is None:
                s = first_fit_up(table, u, max(lo, hi + 1))
        t[u] = s
        table.reserve(u, s)
        for a, b, l in zip(src, dst, lag):
            if a == u:
                release[b] = max(release[b], s + int(l))
                indeg[b] -= 1
                if indeg[b] == 0:
                    heapq.heappush(heap, (mu[b], b))
    met = depth < 0 or all(t[i] + span[i] <= depth for i in range(n))
    return t, met


def first_fit_up(table, i, s):
    while not table.fits(i, s):
        s += 1
    return s


def round_half_away(x):
    """C's llround: halves go away from zero (Python's round() goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def check_dependences(t, src, dst, lag):
    t = np.asarray(t, np.int64)
    assert (t >= 0).all(), "negative start time"
    bad = t[dst] < t[src] + lag
    assert not bad.any(), f"edge {np.flatnonzero(bad)[:5]} violated"


def check_resources(t, use_ptr, use_res, use_len, limit):
    used = defaultdict(int)
    for i in range(len(use_ptr) - 1):
        for k in range(use_ptr[i], use_ptr[i + 1]):
            r = int(use_res[k])
            for s in range(int(t[i]), int(t[i]) + int(use_len[k])):
                used[(r, s)] += 1
    for (r, s), c in used.items():
        if limit[r] >= 0:
            assert c <= limit[r], f"resource {r} over its limit {limit[r]} at step {s}: {c}"


def check_weights(t, weight, cap):
    """Weights starting at one step sum to <= cap, unless one heavy op sits there
    alone (ops of weight 0 don't count: they add no weighted usage)."""
    wsum = defaultdict(float)
    heavy = defaultdict(int)
    for i, s in enumerate(t):
        wsum[int(s)] += weight[i]
        heavy[int(s)] += weight[i] > 0
    for s in wsum:
        assert wsum[s] <= cap + 1e-6 or heavy[s] == 1, f"step {s} carries weight {wsum[s]} > {cap}"


# ---------------------------------------------------------------- topological order and cycles


def seeds(n_examples):
    """Run a test on many random instances: hypothesis seeds if available, else a fixed list."""
    if given is None:
        return pytest.mark.parametrize("seed", range(n_examples))
    return lambda f: settings(max_examples=n_examples, deadline=None)(given(seed=st.integers(0, 2**32 - 1))(f))


@seeds(150)
def test_topological_order_matches_fifo_kahn(seed):
    _, n, src, dst, lag, *_ = instance(seed)
    order = core.topological_order(n, src, dst)
    assert order.dtype == np.int32
    assert sorted(order.tolist()) == list(range(n))
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    assert (pos[src] < pos[dst]).all()
    assert order.tolist() == ref_topo(n, src.tolist(), dst.tolist())


def cycle_ops(msg):
    assert msg.startswith("dependence cycle with total distance 0 through ops ")
    return [int(k) for k in re.findall(r"\d+", msg.split("ops", 1)[1])]


@pytest.mark.parametrize("seed", range(30))
def test_cycle_is_reported_with_ops_on_it(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    src, dst, _ = random_dag(rng, n, 2 * n)
    # Close a cycle through a random forward path (or a self-loop).
    order = ref_topo(n, src.tolist(), dst.tolist())
    a, b = sorted(rng.choice(n, 2, replace=n < 2))
    src = np.append(src, [order[a], order[b]]).astype(np.int32)
    dst = np.append(dst, [order[b], order[a]]).astype(np.int32)
    with pytest.raises(ValueError) as err:
        core.topological_order(n, src, dst)
    ops = cycle_ops(str(err.value))
    edges = set(zip(src.tolist(), dst.tolist()))
    assert len(ops) >= 2
    assert all((u, v) in edges for u, v in zip(ops, ops[1:])), ops
    assert ops[0] == ops[-1]
    for fn in (lambda: core.asap(n, src, dst, np.zeros(len(src), np.int64)),
               lambda: core.list_schedule(n, src, dst, np.zeros(len(src), np.int64), np.zeros(n),
                                          np.zeros(n + 1, np.int64), [], [], [])):
        with pytest.raises(ValueError, match="dependence cycle"):
            fn()


def test_self_loop_and_long_cycle():
    with pytest.raises(ValueError, match=r"through ops 2 -> 2$"):
        core.topological_order(3, [0, 2], [1, 2])
    n = 15
    src = np.arange(n, dtype=np.int32)
    dst = (src + 1) % n
    with pytest.raises(ValueError) as err:
        core.topological_order(n, src, dst)
    ops = cycle_ops(str(err.value))
    assert ops == list(range(10)) and str(err.value).endswith("-> ...")


# ---------------------------------------------------------------- asap / alap


@seeds(150)
def test_asap_alap_match_reference_and_are_tight(seed):
    _, n, src, dst, lag, span, *_ = instance(seed)
    t = core.asap(n, src, dst, lag)
    assert t.dtype == np.int64
    check_dependences(t, src, dst, lag)
    assert t.tolist() == ref_asap(n, src.tolist(), dst.tolist(), lag.tolist())
    for v in range(n):  # tight: 0 or pinned by an in-edge
        into = dst == v
        assert t[v] == max([0] + (t[src[into]] + lag[into]).tolist())

    depth = int((t + span).max()) + int(seed % 3)
    late = core.alap(n, src, dst, lag, span, depth)
    assert late.tolist() == ref_alap(n, src.tolist(), dst.tolist(), lag.tolist(), span, depth)
    assert (late[dst] >= late[src] + lag).all() and (late + span <= depth).all()
    for u in range(n):  # tight: pinned by the depth or by an out-edge
        out = src == u
        assert late[u] == min([depth - span[u]] + (late[dst[out]] - lag[out]).tolist())
    assert (late >= t).all()  # depth >= critical path: every window is non-empty


def test_alap_is_not_clamped():
    late = core.alap(2, [0], [1], [5], [1, 1], 3)
    assert late.tolist() == [-3, 2]


# ---------------------------------------------------------------- list scheduling


@pytest.mark.parametrize("mode", ["serial", "parallel"])
@seeds(120)
def test_list_schedule_matches_reference(seed, mode):
    rng, n, src, dst, lag, span, use_ptr, use_res, use_len, limit = instance(seed)
    prio = rng.integers(0, 5, n).astype(np.float64)  # many ties: exercise the index tie-break
    t = core.list_schedule(n, src, dst, lag, prio, use_ptr, use_res, use_len, limit, mode=mode)
    assert t.dtype == np.int64
    check_dependences(t, src, dst, lag)
    check_resources(t, use_ptr, use_res, use_len, limit)
    ref = ref_serial if mode == "serial" else ref_parallel
    assert t.tolist() == ref(n, src.tolist(), dst.tolist(), lag.tolist(), prio.tolist(), use_ptr, use_res, use_len, limit)


@pytest.mark.parametrize("mode", ["serial", "parallel"])
@seeds(80)
def test_list_schedule_weight_cap(seed, mode):
    rng, n, src, dst, lag, span, use_ptr, use_res, use_len, limit = instance(seed)
    prio = rng.random(n)
    weight = rng.integers(0, 4, n).astype(np.float64)
    cap = float(rng.integers(1, 5))
    t = core.list_schedule(n, src, dst, lag, prio, use_ptr, use_res, use_len, limit,
                           weight=weight, weight_cap=cap, mode=mode)
    check_dependences(t, src, dst, lag)
    check_resources(t, use_ptr, use_res, use_len, limit)
    check_weights(t, weight, cap)
    ref = ref_serial if mode == "serial" else ref_parallel
    assert t.tolist() == ref(n, src.tolist(), dst.tolist(), lag.tolist(), prio.tolist(),
                             use_ptr, use_res, use_len, limit, weight, cap)


def test_list_schedule_small_cases():
    none = dict(use_ptr=np.zeros(5, np.int64), use_res=[], use_len=[], limit=[])
    # Unit weights (weight=None) with cap 2: at most two ops start per step.
    t = core.list_schedule(4, [], [], [], [0, 1, 2, 3], weight_cap=2, **none)
    assert t.tolist() == [0, 0, 1, 1]
    # An op heavier than the cap gets a step of its own.
    t = core.list_schedule(4, [], [], [], [0, 1, 2, 3], weight=[1, 5, 1, 1], weight_cap=2, **none)
    assert t.tolist() == [0, 1, 0, 2]
    # One blocking unit held for 3 steps: ops go back to back, urgent first.
    uses = dict(use_ptr=[0, 1, 2, 3], use_res=[0, 0, 0], use_len=[3, 3, 3], limit=[1])
    for mode in ("serial", "parallel"):
        t = core.list_schedule(3, [], [], [], [2.0, 0.0, 1.0], mode=mode, **uses)
        assert t.tolist() == [6, 0, 3]
    # Parallel mode places a zero-lag successor in the same step.
    t = core.list_schedule(2, [0], [1], [0], [0, 0], mode="parallel", use_ptr=[0, 0, 0], use_res=[], use_len=[], limit=[])
    assert t.tolist() == [0, 0]
    # Unlimited resources are ignored entirely.
    t = core.list_schedule(3, [], [], [], [0, 0, 0], use_ptr=[0, 1, 2, 3], use_res=[0, 0, 0], use_len=[9, 9, 9], limit=[-1])
    assert t.tolist() == [0, 0, 0]


# ---------------------------------------------------------------- legalization


@seeds(150)
def test_legalize_matches_reference(seed):
    rng, n, src, dst, lag, span, use_ptr, use_res, use_len, limit = instance(seed)
    crit = int((core.asap(n, src, dst, lag) + span).max())
    depth = [-1, crit, crit + 3, max(1, crit - 2)][seed % 4]
    mu = rng.normal(crit / 2, crit / 2 + 1, n)
    mu[: n // 4] = np.round(mu[: n // 4]) + 0.5  # exact halves: llround goes away from zero
    t, met = core.legalize(n, src, dst, lag, mu, span, use_ptr, use_res, use_len, limit, depth=depth)
    assert t.dtype == np.int64 and isinstance(met, bool)
    check_dependences(t, src, dst, lag)
    check_resources(t, use_ptr, use_res, use_len, limit)
    assert met == (depth < 0 or bool((t + span <= depth).all()))
    ref_t, ref_met = ref_legalize(n, src.tolist(), dst.tolist(), lag.tolist(), mu.tolist(), span.tolist(),
                                  use_ptr, use_res, use_len, limit, depth)
    assert t.tolist() == ref_t and met == ref_met


@pytest.mark.parametrize("mode", ["serial", "parallel"])
@seeds(80)
def test_legalize_keeps_a_legal_schedule(seed, mode):
    rng, n, src, dst, lag, span, use_ptr, use_res, use_len, limit = instance(seed)
    legal = core.list_schedule(n, src, dst, lag, rng.random(n), use_ptr, use_res, use_len, limit, mode=mode)
    depth = int((legal + span).max())
    for d in (-1, depth, depth + 2):
        t, met = core.legalize(n, src, dst, lag, legal.astype(np.float64), span, use_ptr, use_res, use_len, limit, depth=d)
        assert t.tolist() == legal.tolist() and met


@seeds(100)
def test_legalize_meets_depth_without_resource_limits(seed):
    rng, n, src, dst, lag, span, use_ptr, use_res, use_len, limit = instance(seed)
    limit = np.full_like(limit, -1)
    depth = int((core.asap(n, src, dst, lag) + span).max()) + int(rng.integers(0, 3))
    mu = rng.uniform(-5, depth + 5, n)
    t, met = core.legalize(n, src, dst, lag, mu, span, use_ptr, use_res, use_len, limit, depth=depth)
    check_dependences(t, src, dst, lag)
    assert met and (t + span <= depth).all()


def test_legalize_small_cases():
    uses = dict(use_ptr=[0, 1, 2, 3], use_res=[0, 0, 0], use_len=[1, 1, 1], limit=[1])
    # Three ops want step 2 on one unit: the 2nd goes up, the 3rd comes back down.
    t, met = core.legalize(3, [], [], [], [2.0, 2.1, 2.2], [1, 1, 1], depth=4, **uses)
    assert t.tolist() == [2, 3, 1] and met
    # No room before the depth bound: the op goes past it and depth_met is False.
    t, met = core.legalize(3, [], [], [], [0.0, 0.0, 0.0], [1, 1, 1], depth=2, **uses)
    assert sorted(t.tolist()) == [0, 1, 2] and not met


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_value_error():
    z32, z64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
    no_uses = (np.zeros(3, np.int64), z32, z32, z64)
    cases = [
        (lambda: core.topological_order(2, [0, 1], [1]), "dst has length 1"),
        (lambda: core.topological_order(2, [0], [2]), r"dst\[0\] = 2 is out of range"),
        (lambda: core.topological_order(2, [-1], [1]), r"src\[0\] = -1 is out of range"),
        (lambda: core.topological_order(-1, [], []), "n must be"),
        (lambda: core.asap(2, [0], [1], [1, 2]), "lag has length 2"),
        (lambda: core.alap(2, [0], [1], [1], [1], 5), "span has length 1"),
        (lambda: core.alap(2, [0], [1], [1], [1, -2], 5), r"span\[1\] = -2"),
        (lambda: core.alap(2, [0], [1], [1], [1, 0], 5), r"span\[1\] = 0"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0.0], *no_uses), "priority has length 1"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0.0, np.nan], *no_uses), "priority"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], *no_uses, mode="fast"), "mode must be"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], *no_uses, weight=[1.0]), "weight has length 1"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], *no_uses, weight=[1.0, -1.0], weight_cap=3), "weight"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], *no_uses, weight_cap=-1.0), "weight_cap"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1], [0], [1], [1]), "use_ptr has length 2"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1, 2], [0, 3], [1, 1], [1]), r"use_res\[1\] = 3"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1, 2], [0, 0], [1, 0], [1]), r"use_len\[1\] = 0"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1, 2], [0, 0], [1], [1]), "use_len has length 1"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 2, 1], [0, 0], [1, 1], [1]), "non-decreasing"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1, 3], [0, 0], [1, 1], [1]), r"use_ptr\[n\]"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1, 2], [0, 0], [1, 1], [-2]), r"limit\[0\]"),
        (lambda: core.list_schedule(2, [0], [1], [0], [0, 0], [0, 1, 2], [0, 0], [1, 1], [0]), "limit is 0"),
        (lambda: core.list_schedule(2, [], [], [], [0, 0], [0, 2, 2], [0, 0], [1, 1], [1]), "needs 2 units"),
        (lambda: core.legalize(2, [0], [1], [0], [0.0, np.inf], [1, 1], *no_uses), r"mu\[1\]"),
        (lambda: core.legalize(2, [0], [1], [0], [0.0], [1, 1], *no_uses), "mu has length 1"),
        (lambda: core.legalize(2, [0], [5], [0], [0.0, 0.0], [1, 1], *no_uses), "out of range"),
        (lambda: core.asap(2, np.zeros((1, 1), np.int32), [1], [0]), "1-D"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()


# ---------------------------------------------------------------- scale


def test_scale_smoke():
    rng = np.random.default_rng(0)
    n, m = 200_000, 1_000_000
    src, dst, lag = random_dag(rng, n, m)
    span = rng.integers(1, 3, n).astype(np.int64)
    use_ptr = np.arange(n + 1, dtype=np.int64)
    use_res = rng.integers(0, 4, n).astype(np.int32)
    use_len = rng.integers(1, 3, n).astype(np.int32)
    limit = np.array([-1, 64, 16, 4], np.int64)
    start = time.perf_counter()
    t0 = core.asap(n, src, dst, lag)
    depth = int((t0 + span).max())
    mu = t0 + rng.random(n) * depth / 4
    t, met = core.legalize(n, src, dst, lag, mu, span, use_ptr, use_res, use_len, limit, depth=2 * depth)
    elapsed = time.perf_counter() - start
    print(f"asap + legalize on {n} ops / {len(src)} edges: {elapsed:.2f} s")
    assert elapsed < 30
    assert (t[dst] >= t[src] + lag).all() and (t >= 0).all()
