// Resource-constrained list scheduling, serial and parallel (cycle-driven).
#include <algorithm>
#include <functional>
#include <map>
#include <queue>

#include "core.hpp"
#include "reservation.hpp"

namespace gaus {

namespace {

// Heap key: lower priority value first, ties by lower op index.
using Urgency = std::pair<double, i32>;
template <class T>
using MinHeap = std::priority_queue<T, std::vector<T>, std::greater<T>>;

// Serial schedule generation: the most urgent eligible op goes to its
// earliest feasible step, one op at a time.
std::vector<i64> serial(const Graph& g, View<double> priority, Reservations& book) {
    std::vector<i64> t(g.n, 0), release(g.n, 0);
    std::vector<i32> indeg = g.indeg;
    MinHeap<Urgency> ready;
    for (i32 v = 0; v < g.n; ++v)
        if (indeg[v] == 0) ready.push({priority[v], v});
    i32 placed = 0;
    while (!ready.empty()) {
        const i32 u = ready.top().second;
        ready.pop();
        t[u] = book.find_up(u, release[u], kInfTime);
        book.reserve(u, t[u]);
        ++placed;
        for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e) {
            const i32 v = g.dst[e];
            release[v] = std::max(release[v], t[u] + g.lag[e]);
            if (--indeg[v] == 0) ready.push({priority[v], v});
        }
    }
    if (placed != g.n) throw_cycle(g, indeg);
    return t;
}

// Ops with the same uses of limited resources either all fit at a step or
// all don't, so the parallel scheduler handles them as a group: once one
// fails on resources at step d, the whole group sleeps until the earliest
// step where it could fit. Returns the group of every op.
std::vector<i32> group_by_resources(i32 n, const Reservations& book, i32& n_groups) {
    std::map<std::vector<i64>, i32> ids;
    std::vector<i32> group(n);
    std::vector<i64> key;
    for (i32 i = 0; i < n; ++i) {
        key.clear();
        for (i64 k = book.begin(i); k < book.end(i); ++k) {
            key.push_back(book.table_at(k));
            key.push_back(book.len_at(k));
        }
        group[i] = ids.emplace(key, static_cast<i32>(ids.size())).first->second;
    }
    n_groups = static_cast<i32>(ids.size());
    return group;
}

// The released, unplaced ops of every group, in priority order. Each group
// has a min segment tree of weights over its members sorted by urgency
// (+inf marks an op that is not ready), so the most urgent ready op that
// passes a monotone weight test is found in O(log n).
class ReadyQueues {
public:
    ReadyQueues(const std::vector<i32>& group, i32 n_groups, View<double> priority) : group_(group) {
        const i32 n = static_cast<i32>(group.size());
        std::vector<i32> by_urgency(n);
        for (i32 i = 0; i < n; ++i) by_urgency[i] = i;
        std::sort(by_urgency.begin(), by_urgency.end(),
                  [&](i32 a, i32 b) { return Urgency{priority[a], a} < Urgency{priority[b], b}; });

        std::vector<i64> size(n_groups, 0);
        for (const i32 g : group) ++size[g];
        leaves_.resize(n_groups);
        tree_base_.resize(n_groups);
        member_base_.resize(n_groups);
        i64 tree_total = 0, member_total = 0;
        for (i32 g = 0; g < n_groups; ++g) {
            i64 leaves = 1;
            while (leaves < size[g]) leaves *= 2;
            leaves_[g] = leaves;
            tree_base_[g] = tree_total;
            member_base_[g] = member_total;
            tree_total += 2 * leaves;
            member_total += size[g];
        }
        tree_.assign(tree_total, kAbsent);
        member_.resize(n);
        slot_.resize(n);
        std::vector<i64> filled(n_groups, 0);
        for (const i32 i : by_urgency) {
            const i32 g = group[i];
            slot_[i] = filled[g]++;
            member_[member_base_[g] + slot_[i]] = i;
        }
    }

    void add(i32 op, double w) { set(op, w); }
    void remove(i32 op) { set(op, kAbsent); }

    // Most urgent ready op of group g whose weight passes `fit`, or -1.
    // `fit` must be monotone: if it accepts w, it accepts every lighter op.
    template <class Fit>
    i32 first(i32 g, Fit fit) const {
        const double* tree = &tree_[tree_base_[g]];
        auto ok = [&](double w) { return w != kAbsent && fit(w); };
        if (!ok(tree[1])) return -1;
        i64 node = 1;
        while (node < leaves_[g]) node = ok(tree[2 * node]) ? 2 * node : 2 * node + 1;
        return member_[member_base_[g] + (node - leaves_[g])];
    }

private:
    static constexpr double kAbsent = std::numeric_limits<double>::infinity();

    void set(i32 op, double w) {
        const i32 g = group_[op];
        double* tree = &tree_[tree_base_[g]];
        i64 node = leaves_[g] + slot_[op];
        tree[node] = w;
        for (node /= 2; node >= 1; node /= 2) tree[node] = std::min(tree[2 * node], tree[2 * node + 1]);
    }

    const std::vector<i32>& group_;
    std::vector<i64> leaves_, tree_base_, member_base_;  // per group
    std::vector<double> tree_;                           // all groups' trees
    std::vector<i32> member_;                            // per group: ops by urgency
    std::vector<i64> slot_;                              // per op: rank within its group
};

// Cycle-driven list scheduling: at each step d, the ready ops (eligible and
// released by d) are tried in priority order and placed at d if they fit.
//
// This gives exactly the classic "retry every ready op at every step" result
// without its O(ready ops x steps) cost: a heap holds one entry per awake
// group, keyed by a lower bound of the group's next candidate; a popped
// entry is re-keyed if its group's real candidate (the most urgent ready op
// passing the weight cap at d) is later. Groups failing on resources sleep;
// groups with no op light enough for what is left of step d retry at d + 1.
std::vector<i64> parallel(const Graph& g, View<double> priority, Reservations& book) {
    i32 n_groups = 0;
    const std::vector<i32> group = group_by_resources(g.n, book, n_groups);
    ReadyQueues ready(group, n_groups, priority);

    std::vector<i64> t(g.n, 0), release(g.n, 0);
    std::vector<i32> indeg = g.indeg;
    std::vector<i32> n_ready(n_groups, 0);
    std::vector<i64> asleep_until(n_groups, 0);    // group may not place before this step
    std::vector<Urgency> queued(n_groups);         // key of the group's live heap entry
    std::vector<char> is_queued(n_groups, 0);
    std::vector<i32> retry;                        // groups to offer again at d + 1
    MinHeap<std::pair<i64, i32>> pending;          // (release, op): eligible, not yet released
    MinHeap<std::pair<i64, i32>> wakeups;          // (step, group)
    MinHeap<std::pair<Urgency, i32>> heads;        // (lower bound of candidate, group)

    i64 d = 0;
    auto offer = [&](i32 grp, Urgency key) {
        if (asleep_until[grp] > d) return;  // offered again when it wakes
        if (is_queued[grp] && !(key < queued[grp])) return;
        is_queued[grp] = 1;
        queued[grp] = key;
        heads.push({key, grp});
    };
    auto offer_first = [&](i32 grp) {
        const i32 op = ready.first(grp, [](double) { return true; });
        if (op >= 0) offer(grp, {priority[op], op});
    };
    auto make_ready = [&](i32 v) {
        ready.add(v, book.weight(v));
        ++n_ready[group[v]];
        offer(group[v], {priority[v], v});
    };

    for (i32 v = 0; v < g.n; ++v)
        if (indeg[v] == 0) pending.push({0, v});

    i32 placed = 0;
    while (placed < g.n) {
        while (!pending.empty() && pending.top().first <= d) {
            make_ready(pending.top().second);
            pending.pop();
        }
        while (!wakeups.empty() && wakeups.top().first <= d) {
            offer_first(wakeups.top().second);
            wakeups.pop();
        }
        std::vector<i32> again;
        again.swap(retry);
        for (const i32 grp : again) offer_first(grp);

        while (!heads.empty()) {
            const auto [key, grp] = heads.top();
            heads.pop();
            if (!is_queued[grp] || queued[grp] != key) continue;  // superseded entry
            is_queued[grp] = 0;
            const i32 u = ready.first(grp, [&](double w) { return book.weight_fits(w, d); });
            if (u < 0) {  // every ready op is too heavy for what is left of step d
                if (n_ready[grp] > 0) retry.push_back(grp);
                continue;
            }
            if (Urgency{priority[u], u} != key) {  // candidate is later: re-key
                offer(grp, {priority[u], u});
                continue;
            }
            if (!book.resources_fit(u, d)) {  // so does no other op of the group
                asleep_until[grp] = book.find_up(u, d + 1, kInfTime);
                wakeups.push({asleep_until[grp], grp});
                continue;
            }
            ready.remove(u);
            --n_ready[grp];
            t[u] = d;
            book.reserve(u, d);
            ++placed;
            offer_first(grp);
            for (i64 e = g.ptr[u]; e < g.ptr[u + 1]; ++e) {
                const i32 v = g.dst[e];
                release[v] = std::max(release[v], d + g.lag[e]);
                if (--indeg[v] != 0) continue;
                if (release[v] <= d)
                    make_ready(v);  // zero or negative lag: may still start at d
                else
                    pending.push({release[v], v});
            }
        }
        if (placed == g.n) break;
        // Nothing more fits at d: go to the next step where something may.
        i64 next = retry.empty() ? kInfTime : d + 1;
        if (!pending.empty()) next = std::min(next, pending.top().first);
        if (!wakeups.empty()) next = std::min(next, wakeups.top().first);
        if (next == kInfTime) throw_cycle(g, indeg);
        d = std::max(d + 1, next);
    }
    return t;
}

}  // namespace

std::vector<i64> list_schedule(const Graph& g, View<double> priority, const Uses& uses,
                               const double* weight, double weight_cap, ListMode mode) {
    Reservations book(g.n, uses, weight, weight_cap);
    return mode == ListMode::Serial ? serial(g, priority, book) : parallel(g, priority, book);
}

}  // namespace gaus
