// Dependence graph: CSR construction, topological order, cycle reporting,
// ASAP and ALAP bounds.
#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core.hpp"

namespace gaus {

namespace {

[[noreturn]] void throw_bad_index(const char* what, std::size_t e, i64 v, i32 n) {
    std::ostringstream msg;
    msg << what << "[" << e << "] = " << v << " is out of range for n = " << n;
    throw std::invalid_argument(msg.str());
}

}  // namespace

Graph build_graph(i32 n, View<i32> src, View<i32> dst, View<i64> lag) {
    const std::size_t m = src.size;
    Graph g;
    g.n = n;
    g.ptr.assign(static_cast<std::size_t>(n) + 1, 0);
    g.indeg.assign(n, 0);

    // Counting sort by source: count, prefix-sum, scatter. O(n + m) and stable.
    for (std::size_t e = 0; e < m; ++e) {
        if (src[e] < 0 || src[e] >= n) throw_bad_index("src", e, src[e], n);
        if (dst[e] < 0 || dst[e] >= n) throw_bad_index("dst", e, dst[e], n);
        ++g.ptr[src[e] + 1];
        ++g.indeg[dst[e]];
    }
    for (i32 v = 0; v < n; ++v) g.ptr[v + 1] += g.ptr[v];

    g.dst.resize(m);
    g.lag.resize(m);
    std::vector<i64> fill(g.ptr.begin(), g.ptr.end() - 1);
    for (std::size_t e = 0; e < m; ++e) {
        const i64 at = fill[src[e]]++;
        g.dst[at] = dst[e];
        g.lag[at] = lag.size ? lag[e] : 0;
    }
    return g;
}

std::vector<i32> topological_order(const Graph& g) {
    std::vector<i32> indeg = g.indeg;
    std::vector<i32> order;
    order.reserve(g.n);
    for (i32 v = 0; v < g.n; ++v)
        if (indeg[v] == 0) order.push_back(v);
    // `order` doubles as the FIFO queue: everything before `head` is done.
    for (std::size_t head = 0; head < order.size(); ++head) {
        const i32 u = order[head];
        for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e)
            if (--indeg[g.dst[e]] == 0) order.push_back(g.dst[e]);
    }
    if (static_cast<i32>(order.size()) != g.n) throw_cycle(g, indeg);
    return order;
}

void throw_cycle(const Graph& g, const std::vector<i32>& indeg_left) {
    // Every unreached node has an unreached predecessor (otherwise its
    // in-degree would have dropped to 0). So following one unreached
    // predecessor per node from any unreached node must close a cycle.
    std::vector<i32> pred(g.n, -1);
    for (i32 u = 0; u < g.n; ++u) {
        if (indeg_left[u] <= 0) continue;
        for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e) {
            const i32 v = g.dst[e];
            if (indeg_left[v] > 0 && pred[v] < 0) pred[v] = u;
        }
    }
    i32 start = 0;
    while (start < g.n && indeg_left[start] <= 0) ++start;
    if (start == g.n) throw std::logic_error("throw_cycle called on an acyclic graph");

    std::vector<i32> pos(g.n, -1);  // position of a node in `walk`
    std::vector<i32> walk;
    i32 v = start;
    while (pos[v] < 0) {
        pos[v] = static_cast<i32>(walk.size());
        walk.push_back(v);
        v = pred[v];
    }
    // walk[pos[v]:] is the cycle in predecessor order; reverse it to follow
    // the edges, and rotate so it starts at its smallest node.
    std::vector<i32> cycle(walk.begin() + pos[v], walk.end());
    std::reverse(cycle.begin(), cycle.end());
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());

    // Only op indices follow "ops": callers parse them out of the message.
    std::ostringstream msg;
    msg << "dependence cycle with total distance 0 through ops ";
    const std::size_t shown = std::min<std::size_t>(cycle.size(), 10);
    for (std::size_t k = 0; k < shown; ++k) msg << cycle[k] << " -> ";
    if (shown < cycle.size())
        msg << "...";
    else
        msg << cycle[0];
    throw std::invalid_argument(msg.str());
}

std::vector<i64> asap(const Graph& g, const std::vector<i32>& order) {
    std::vector<i64> t(g.n, 0);
    for (const i32 u : order)
        for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e)
            t[g.dst[e]] = std::max(t[g.dst[e]], t[u] + g.lag[e]);
    return t;
}

std::vector<i64> alap(const Graph& g, const std::vector<i32>& order, View<i64> span, i64 depth) {
    std::vector<i64> t(g.n);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const i32 u = *it;
        i64 latest = depth - span[u];
        for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e)
            latest = std::min(latest, t[g.dst[e]] - g.lag[e]);
        t[u] = latest;
    }
    return t;
}

}  // namespace gaus
