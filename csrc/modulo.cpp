// Modulo (software-pipelined) scheduling: MII bounds, a modulo legalizer with
// a fixed-point pass over back-edges, compaction, and Rau's iterative modulo
// scheduler (IMS) as the classic baseline.
//
// A dependence e = (u, v, lag, dist) means t[v] + dist * II >= t[u] + lag, a
// longest-path constraint of weight lag - dist * II. An II is feasible for the
// dependences alone exactly when no cycle has positive weight.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <queue>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core.hpp"
#include "modulo_table.hpp"

namespace gaus {

namespace {

std::vector<i64> csr(i32 n, const std::vector<i32>& key, std::vector<i64>& ptr) {
    ptr.assign(static_cast<std::size_t>(n) + 1, 0);
    for (i32 k : key) ++ptr[k + 1];
    for (i32 v = 0; v < n; ++v) ptr[v + 1] += ptr[v];
    std::vector<i64> out(key.size()), fill(ptr.begin(), ptr.end() - 1);
    for (std::size_t e = 0; e < key.size(); ++e) out[fill[key[e]]++] = static_cast<i64>(e);
    return out;
}

i64 round_time(double mu) {
    const double bound = static_cast<double>(kInfTime);
    return std::llround(std::min(std::max(mu, -bound), bound));
}

// Longest-path relaxation from `t` (Gauss-Seidel in topological order, so the
// acyclic part settles in one round). Returns false if still changing after
// n + 1 rounds: a positive cycle.
bool relax_longest(const ModuloGraph& g, i64 ii, std::vector<i64>& t) {
    for (i64 round = 0; round <= g.n; ++round) {
        bool changed = false;
        for (i32 u : g.order)
            for (i64 k = g.out_ptr[u]; k < g.out_ptr[u + 1]; ++k) {
                const i64 e = g.out_edge[k];
                const i64 need = t[u] + g.weight(e, ii);
                if (t[g.dst[e]] < need) t[g.dst[e]] = need, changed = true;
            }
        if (!changed) return true;
    }
    return false;
}

// Earliest start of u given the ops placed so far (all in-edges from placed ops).
i64 release_of(const ModuloGraph& g, i32 u, i64 ii, const std::vector<i64>& t, const std::vector<char>& placed) {
    i64 r = 0;
    for (i64 k = g.in_ptr[u]; k < g.in_ptr[u + 1]; ++k) {
        const i64 e = g.in_edge[k];
        const i32 p = g.src[e];
        if (p != u && placed[p]) r = std::max(r, t[p] + g.weight(e, ii));
    }
    return r;
}

std::string no_room(i32 u, i64 ii) {
    std::ostringstream msg;
    msg << "op " << u << " fits in no slot of the modulo reservation table at II=" << ii;
    return msg.str();
}

}  // namespace

ModuloGraph build_modulo_graph(i32 n, View<i32> src, View<i32> dst, View<i64> lag, View<i64> dist) {
    ModuloGraph g;
    g.n = n;
    g.src.assign(src.ptr, src.ptr + src.size);
    g.dst.assign(dst.ptr, dst.ptr + dst.size);
    g.lag.assign(lag.ptr, lag.ptr + lag.size);
    g.dist.assign(dist.ptr, dist.ptr + dist.size);
    for (std::size_t e = 0; e < g.src.size(); ++e) {
        if (g.src[e] < 0 || g.src[e] >= n || g.dst[e] < 0 || g.dst[e] >= n) {
            std::ostringstream msg;
            msg << "edge " << e << " (" << g.src[e] << " -> " << g.dst[e] << ") is out of range for n = " << n;
            throw std::invalid_argument(msg.str());
        }
        if (g.dist[e] < 0) throw std::invalid_argument("distance[" + std::to_string(e) + "] must be >= 0");
    }
    g.out_edge = csr(n, g.src, g.out_ptr);
    g.in_edge = csr(n, g.dst, g.in_ptr);
    // Topological order of the distance-0 part (rejects distance-0 cycles).
    std::vector<i32> s0, d0;
    for (std::size_t e = 0; e < g.src.size(); ++e)
        if (g.dist[e] == 0) s0.push_back(g.src[e]), d0.push_back(g.dst[e]);
    g.order = topological_order(build_graph(n, {s0.data(), s0.size()}, {d0.data(), d0.size()}, {}));
    return g;
}

std::vector<i64> modulo_asap(const ModuloGraph& g, i64 ii) {
    std::vector<i64> t(g.n, 0);
    if (!relax_longest(g, ii, t)) return {};
    return t;
}

i64 rec_mii(const ModuloGraph& g) {
    // Feasibility is monotone in II (weights only fall as II grows). Every cycle
    // has distance >= 1, so II = sum of the positive lags is always feasible.
    i64 hi = 1;
    bool carried = false;
    for (std::size_t e = 0; e < g.lag.size(); ++e) {
        hi += std::max<i64>(g.lag[e], 0);
        carried = carried || g.dist[e] > 0;
    }
    if (!carried) return 1;
    std::vector<i64> t;
    auto feasible = [&](i64 ii) {
        t.assign(g.n, 0);
        return relax_longest(g, ii, t);
    };
    i64 lo = 1;
    if (feasible(lo)) return lo;
    while (hi - lo > 1) {  // invariant: lo infeasible, hi feasible
        const i64 mid = lo + (hi - lo) / 2;
        (feasible(mid) ? hi : lo) = mid;
    }
    return hi;
}

i64 res_mii(i32 n, const Uses& uses) {
    std::vector<i64> total(uses.limit.size, 0);
    for (std::size_t k = 0; k < uses.res.size; ++k) total[uses.res[k]] += uses.len[k];
    // An op listing a resource more often than it has units never fits (pipelined:
    // all those uses start in the same slot).
    for (i32 i = 0; i < n; ++i) {
        std::vector<i32> rs(uses.res.ptr + uses.ptr[i], uses.res.ptr + uses.ptr[i + 1]);
        std::sort(rs.begin(), rs.end());
        for (std::size_t a = 0; a < rs.size();) {
            std::size_t b = a;
            while (b < rs.size() && rs[b] == rs[a]) ++b;
            const i64 lim = uses.limit[rs[a]];
            if (lim >= 0 && static_cast<i64>(b - a) > lim) {
                std::ostringstream msg;
                msg << "op " << i << " needs " << (b - a) << " units of resource " << rs[a]
                    << " at once but its limit is " << lim;
                throw std::invalid_argument(msg.str());
            }
            a = b;
        }
    }
    i64 mii = 1;
    for (std::size_t r = 0; r < uses.limit.size; ++r) {
        if (uses.limit[r] < 0 || total[r] == 0) continue;
        if (uses.limit[r] == 0) throw std::invalid_argument("resource " + std::to_string(r) + " has limit 0 but is used");
        mii = std::max(mii, (total[r] + uses.limit[r] - 1) / uses.limit[r]);
    }
    return mii;
}

ModuloResult modulo_legalize(const ModuloGraph& g, View<double> mu, const Uses& uses, i64 ii) {
    ModuloResult res;
    for (std::size_t e = 0; e < g.src.size(); ++e)
        if (g.src[e] == g.dst[e] && g.weight(static_cast<i64>(e), ii) > 0) {
            std::ostringstream msg;
            msg << "II=" << ii << " is below RecMII: op " << g.src[e] << " has a self-dependence of weight "
                << g.weight(static_cast<i64>(e), ii) << " > 0";
            res.reason = msg.str();
            return res;
        }
    ModuloTable mrt(g.n, uses, ii);
    // Placement order: topological over distance-0 edges, smallest mu first.
    using Entry = std::pair<double, i32>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready;
    std::vector<i64> indeg(g.n, 0);
    for (std::size_t e = 0; e < g.src.size(); ++e)
        if (g.dist[e] == 0) ++indeg[g.dst[e]];
    for (i32 v = 0; v < g.n; ++v)
        if (indeg[v] == 0) ready.push({mu[v], v});
    std::vector<i32> order;
    order.reserve(g.n);
    std::vector<i64>& t = res.t;
    t.assign(g.n, 0);
    std::vector<char> placed(g.n, 0);
    while (!ready.empty()) {
        const i32 u = ready.top().second;
        ready.pop();
        order.push_back(u);
        const i64 lo = std::max(release_of(g, u, ii, t, placed), round_time(mu[u]));
        const i64 at = mrt.find(u, std::max<i64>(lo, 0));
        if (at < 0) {
            res.reason = no_room(u, ii);
            return res;
        }
        t[u] = at;
        placed[u] = 1;
        mrt.reserve(u, at);
        for (i64 k = g.out_ptr[u]; k < g.out_ptr[u + 1]; ++k) {
            const i64 e = g.out_edge[k];
            if (g.dist[e] == 0 && --indeg[g.dst[e]] == 0) ready.push({mu[g.dst[e]], g.dst[e]});
        }
    }
    // Fixed point: ops only move later, to the first free slot at or after
    // their release; stable means every dependence (back-edges too) holds.
    for (res.sweeps = 1; res.sweeps <= g.n + 1; ++res.sweeps) {
        bool changed = false;
        for (i32 u : order) {
            const i64 r = release_of(g, u, ii, t, placed);
            if (t[u] >= r) continue;
            mrt.release(u, t[u]);
            const i64 at = mrt.find(u, r);
            if (at < 0) {
                res.reason = no_room(u, ii);
                return res;
            }
            t[u] = at;
            mrt.reserve(u, at);
            changed = true;
        }
        if (!changed) {
            res.ok = true;
            return res;
        }
    }
    std::ostringstream msg;
    msg << "II=" << ii << " infeasible for the legalizer: back-edges still violated after " << g.n + 1
        << " fixed-point sweeps (the recurrences cannot absorb the resource delays)";
    res.reason = msg.str();
    return res;
}

std::vector<i64> modulo_compact(const ModuloGraph& g, std::vector<i64> t, const Uses& uses, i64 ii) {
    ModuloTable mrt(g.n, uses, ii);
    for (i32 u = 0; u < g.n; ++u) mrt.reserve(u, t[u]);
    const std::vector<char> all(g.n, 1);
    for (i64 sweep = 0; sweep <= g.n; ++sweep) {
        bool changed = false;
        for (i32 u : g.order) {
            // Moving earlier only loosens out-edges; in-edges give the release.
            const i64 r = release_of(g, u, ii, t, all);
            if (r >= t[u]) continue;
            mrt.release(u, t[u]);
            const i64 at = mrt.find(u, r);  // the whole window covers every slot, t[u]'s too
            if (at >= 0 && at < t[u]) t[u] = at, changed = true;
            mrt.reserve(u, t[u]);
        }
        if (!changed) break;
    }
    return t;
}

ModuloResult iterative_modulo_schedule(const ModuloGraph& g, const Uses& uses, i64 ii, i64 budget) {
    ModuloResult res;
    ModuloTable mrt(g.n, uses, ii);
    for (i32 u = 0; u < g.n; ++u)
        if (mrt.never_fits(u)) {
            res.reason = no_room(u, ii);
            return res;
        }
    // Height-based priority: longest path to the end under lag - dist * II.
    std::vector<i64> height(g.n, 0);
    for (i64 round = 0; round <= g.n; ++round) {
        bool changed = false;
        for (auto it = g.order.rbegin(); it != g.order.rend(); ++it) {
            const i32 u = *it;
            for (i64 k = g.out_ptr[u]; k < g.out_ptr[u + 1]; ++k) {
                const i64 e = g.out_edge[k];
                const i64 h = height[g.dst[e]] + g.weight(e, ii);
                if (h > height[u]) height[u] = h, changed = true;
            }
        }
        if (!changed) break;
        if (round == g.n) {
            std::ostringstream msg;
            msg << "II=" << ii << " is below RecMII: a recurrence has positive weight";
            res.reason = msg.str();
            return res;
        }
    }
    std::set<std::pair<i64, i32>> todo;  // (-height, op): tallest first, then index
    for (i32 u = 0; u < g.n; ++u) todo.insert({-height[u], u});
    std::vector<i64>& t = res.t;
    t.assign(g.n, 0);
    std::vector<i64> prev(g.n, -1);
    std::vector<char> placed(g.n, 0);
    auto unschedule = [&](i32 v) {
        if (!placed[v]) return;
        mrt.release(v, t[v]);
        placed[v] = 0;
        todo.insert({-height[v], v});
    };
    for (; !todo.empty(); ++res.sweeps) {
        if (res.sweeps >= budget) {
            std::ostringstream msg;
            msg << "iterative modulo scheduling ran out of its budget of " << budget << " placements at II=" << ii;
            res.reason = msg.str();
            return res;
        }
        const i32 u = todo.begin()->second;
        todo.erase(todo.begin());
        const i64 early = release_of(g, u, ii, t, placed);
        i64 at = mrt.find(u, early);
        if (at < 0) at = (prev[u] < 0 || early > prev[u]) ? early : prev[u] + 1;
        // Evict resource conflicts, then successors whose dependence breaks.
        for (i32 v : mrt.conflicts(u, at)) unschedule(v);
        mrt.reserve(u, at);
        t[u] = at;
        prev[u] = at;
        placed[u] = 1;
        for (i64 k = g.out_ptr[u]; k < g.out_ptr[u + 1]; ++k) {
            const i64 e = g.out_edge[k];
            const i32 v = g.dst[e];
            if (v != u && placed[v] && t[v] < at + g.weight(e, ii)) unschedule(v);
        }
        for (i64 k = g.in_ptr[u]; k < g.in_ptr[u + 1]; ++k) {  // only possible after an eviction shifted `early`
            const i64 e = g.in_edge[k];
            const i32 p = g.src[e];
            if (p != u && placed[p] && at < t[p] + g.weight(e, ii)) unschedule(p);
        }
    }
    res.ok = true;
    // Start the first op at step 0 (a uniform shift keeps every constraint and slot pattern).
    const i64 lo = g.n ? *std::min_element(t.begin(), t.end()) : 0;
    for (i64& x : t) x -= lo;
    res.t = modulo_compact(g, std::move(res.t), uses, ii);
    return res;
}

}  // namespace gaus
