// Legalization: round continuous start times to a legal integer schedule.
//
// Ops are placed in a topological order that always takes the eligible op
// with the smallest mu, so the result follows the relaxed schedule's order.
// Each op goes to the feasible step nearest its rounded mu that keeps the
// depth bound when possible; the result is legal even when the bound can't
// be met.
#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

#include "core.hpp"
#include "reservation.hpp"

namespace gaus {

namespace {

i64 round_time(double mu) {
    // Clamp first: llround is undefined outside the i64 range.
    const double bound = static_cast<double>(kInfTime);
    return std::llround(std::min(std::max(mu, -bound), bound));
}

}  // namespace

std::pair<std::vector<i64>, bool> legalize(const Graph& g, View<double> mu, View<i64> span,
                                           const Uses& uses, i64 depth) {
    const std::vector<i32> order = topological_order(g);  // also rejects cycles
    const std::vector<i64> latest =
        depth >= 0 ? alap(g, order, span, depth) : std::vector<i64>(g.n, kInfTime);
    Reservations book(g.n, uses, nullptr, std::numeric_limits<double>::infinity());

    using Entry = std::pair<double, i32>;  // (mu, op): smallest mu, then index
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready;
    std::vector<i32> indeg = g.indeg;
    for (i32 v = 0; v < g.n; ++v)
        if (indeg[v] == 0) ready.push({mu[v], v});

    std::vector<i64> t(g.n, 0), release(g.n, 0);
    while (!ready.empty()) {
        const i32 u = ready.top().second;
        ready.pop();
        const i64 lo = release[u], hi = latest[u];
        const i64 target = std::clamp(round_time(mu[u]), lo, std::max(lo, hi));
        // Nearest feasible step: up to the latest start that keeps the depth
        // bound, then back down to the release, and only then past the bound.
        i64 at = book.find_up(u, target, hi);
        if (at < 0) at = book.find_down(u, target - 1, lo);
        if (at < 0) at = book.find_up(u, std::max(lo, hi + 1), kInfTime);
        t[u] = at;
        book.reserve(u, at);
        for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e) {
            const i32 v = g.dst[e];
            release[v] = std::max(release[v], at + g.lag[e]);
            if (--indeg[v] == 0) ready.push({mu[v], v});
        }
    }

    bool depth_met = true;
    if (depth >= 0)
        for (i32 i = 0; i < g.n; ++i) depth_met = depth_met && t[i] + span[i] <= depth;
    return {std::move(t), depth_met};
}

}  // namespace gaus
