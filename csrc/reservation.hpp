// Reservation tables: which steps still have free resource units, and where
// an op can start. Shared by list scheduling and legalization.
//
// Each limited resource keeps a growable per-step usage count. Steps only
// ever fill up (nothing is released), so "step d is full" is monotone and a
// pair of union-find skip pointers finds the next / previous non-full step in
// near-constant amortized time. That keeps the start-time searches close to
// linear even when thousands of ops pile up on one unit.
#pragma once

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core.hpp"

namespace gaus {

// Union-find "skip over full steps" index over a growable step range.
// Steps past the grown range are implicitly open.
class OpenSteps {
public:
    // Smallest step >= d that is not full.
    i64 next_open(i64 d) {
        i64 root = d;
        while (root < size() && next_[root] != root) root = next_[root];
        while (d < size() && next_[d] != d) {  // path compression
            const i64 up = next_[d];
            next_[d] = static_cast<i32>(root);
            d = up;
        }
        return root;
    }

    // Largest step <= d that is not full, or -1 if none.
    i64 prev_open(i64 d) {
        if (d >= size()) return d;
        i64 root = d;
        while (root >= 0 && prev_[root] != root) root = prev_[root];
        while (d >= 0 && prev_[d] != d) {
            const i64 down = prev_[d];
            prev_[d] = static_cast<i32>(root);
            d = down;
        }
        return root;
    }

    void mark_full(i64 d) {
        grow(d + 1);
        next_[d] = static_cast<i32>(d + 1);
        prev_[d] = static_cast<i32>(d - 1);
    }

    void grow(i64 steps) {
        for (i64 d = size(); d < steps; ++d) {
            next_.push_back(static_cast<i32>(d));
            prev_.push_back(static_cast<i32>(d));
        }
    }

private:
    i64 size() const { return static_cast<i64>(next_.size()); }
    std::vector<i32> next_, prev_;
};

// Usage of one limited resource per step.
struct ResourceTable {
    i32 resource = 0;  // the caller's resource index (for messages)
    i32 limit = 0;
    std::vector<i32> used;  // grown on demand; missing steps are unused
    OpenSteps open;         // steps with used < limit

    i32 at(i64 d) const { return d < static_cast<i64>(used.size()) ? used[d] : 0; }

    void take(i64 d) {
        if (d >= static_cast<i64>(used.size())) used.resize(std::max<i64>(d + 1, 2 * used.size()), 0);
        if (++used[d] >= limit) open.mark_full(d);
    }
};

// Sum of weights of the ops starting at each step, under a cap. A min
// segment tree over the sums finds the first step with enough room in
// O(log steps), whatever mix of weights is present.
class WeightTable {
public:
    // The cap gets a 1e-9 relative slack so that float sums like
    // 0.1 + 0.1 + 0.1 still fit under a cap of 0.3.
    explicit WeightTable(double cap) : slack_(cap + 1e-9 * std::max(1.0, std::fabs(cap))) {}

    // Can an op of weight w start at a step already carrying weight `sum`?
    // An op heavier than the cap on its own only goes to an empty step. The
    // test is monotone (a lighter op or a lighter step fits too), which lets
    // tree searches prune on a subtree's minimum.
    bool room(double sum, double w) const { return sum == 0.0 || w <= slack_ - sum; }

    bool fits(i64 d, double w) const { return room(at(d), w); }

    // First step >= d where an op of weight w fits.
    i64 next_room(i64 d, double w) const {
        if (d >= leaves_) return d;
        const i64 found = first_room(1, 0, leaves_, d, w);
        return found >= 0 ? found : leaves_;  // steps past the tree are empty
    }

    void add(i64 d, double w) {
        if (d >= leaves_) regrow(d + 1);
        i64 node = leaves_ + d;
        sum_[node] += w;
        for (node /= 2; node >= 1; node /= 2) sum_[node] = std::min(sum_[2 * node], sum_[2 * node + 1]);
    }

private:
    double at(i64 d) const { return d < leaves_ ? sum_[leaves_ + d] : 0.0; }

    // Smallest step >= d in node's range [lo, hi) with room for w, or -1.
    i64 first_room(i64 node, i64 lo, i64 hi, i64 d, double w) const {
        if (hi <= d || !room(sum_[node], w)) return -1;
        if (hi - lo == 1) return lo;
        const i64 mid = (lo + hi) / 2;
        const i64 left = first_room(2 * node, lo, mid, d, w);
        return left >= 0 ? left : first_room(2 * node + 1, mid, hi, d, w);
    }

    // Double the number of leaves until step `steps - 1` fits, then rebuild.
    void regrow(i64 steps) {
        i64 leaves = std::max<i64>(leaves_, 1024);
        while (leaves < steps) leaves *= 2;
        std::vector<double> grown(2 * leaves, 0.0);
        for (i64 d = 0; d < leaves_; ++d) grown[leaves + d] = sum_[leaves_ + d];
        for (i64 node = leaves - 1; node >= 1; --node) grown[node] = std::min(grown[2 * node], grown[2 * node + 1]);
        sum_.swap(grown);
        leaves_ = leaves;
    }

    double slack_;
    i64 leaves_ = 0;
    std::vector<double> sum_;  // heap layout: node k has children 2k, 2k+1; inner nodes hold minima
};

// All reservations of one schedule. Ops' uses of limited resources are
// regrouped per op as runs of equal resource, lengths descending: an op that
// lists a resource k times needs, at offset o from its start, one unit per
// use with len > o. That demand only shrinks with o, which is what makes the
// "jump past the last conflicting step" search below correct.
class Reservations {
public:
    // Unlimited resources, and resources whose limit can never bind (limit >=
    // total number of uses), get no table at all.
    Reservations(i32 n, const Uses& uses, const double* weight, double weight_cap) : weight_(weight) {
        const std::size_t n_res = uses.limit.size;
        std::vector<i64> total(n_res, 0);
        for (std::size_t k = 0; k < uses.res.size; ++k) ++total[uses.res[k]];
        std::vector<i32> table_of(n_res, -1);
        for (std::size_t r = 0; r < n_res; ++r) {
            if (uses.limit[r] < 0 || uses.limit[r] >= total[r]) continue;
            table_of[r] = static_cast<i32>(tables_.size());
            tables_.emplace_back();
            tables_.back().limit = static_cast<i32>(uses.limit[r]);
            tables_.back().resource = static_cast<i32>(r);
        }

        ptr_.assign(static_cast<std::size_t>(n) + 1, 0);
        for (i32 i = 0; i < n; ++i) {
            const std::size_t first = table_.size();
            for (i64 k = uses.ptr[i]; k < uses.ptr[i + 1]; ++k) {
                const i32 tab = table_of[uses.res[k]];
                if (tab < 0) continue;
                table_.push_back(tab);
                len_.push_back(uses.len[k]);
            }
            sort_uses(first, table_.size());
            check_start_demand(i, first, table_.size());
            ptr_[i + 1] = static_cast<i64>(table_.size());
        }

        if (std::isfinite(weight_cap)) weights_.emplace_back(weight_cap);
    }

    // Uses of limited resources of op i, as (table, len) pairs in [begin, end).
    i64 begin(i32 i) const { return ptr_[i]; }
    i64 end(i32 i) const { return ptr_[i + 1]; }
    i32 table_at(i64 k) const { return table_[k]; }
    i32 len_at(i64 k) const { return len_[k]; }
    bool weighted() const { return !weights_.empty(); }
    double weight(i32 i) const { return weight_ ? weight_[i] : 1.0; }

    bool fits(i32 i, i64 t) const { return resources_fit(i, t) && weight_fits(weight(i), t); }
    bool resources_fit(i32 i, i64 t) const { return last_conflict(i, t) < 0; }
    // Would an op of weight w pass the weight cap at step t?
    bool weight_fits(double w, i64 t) const { return !weighted() || weights_[0].fits(t, w); }

    // First step in [from, to] where op i fits, or -1.
    i64 find_up(i32 i, i64 from, i64 to) {
        i64 t = from;
        while (t <= to) {
            t = skip_full_up(i, t);
            if (t > to) break;
            const i64 bad = last_conflict(i, t);
            if (bad < 0 && weight_fits(weight(i), t)) return t;
            // Demand only shrinks with the offset, so every start in
            // (t, bad] still conflicts at step `bad`.
            t = bad >= 0 ? bad + 1 : t + 1;
        }
        return -1;
    }

    // Last step in [to, from] where op i fits, or -1.
    i64 find_down(i32 i, i64 from, i64 to) {
        i64 t = from;
        while (t >= to) {
            t = skip_full_down(i, t);
            if (t < to) break;
            if (fits(i, t)) return t;
            --t;
        }
        return -1;
    }

    void reserve(i32 i, i64 t) {
        // Tables are dense over steps (with i32 skip pointers): keep them sane.
        constexpr i64 kMaxSteps = i64{1} << 30;
        for (i64 k = ptr_[i]; k < ptr_[i + 1]; ++k) {
            if (t + len_[k] > kMaxSteps) throw std::invalid_argument("schedule does not fit in 2^30 steps");
            for (i64 d = t; d < t + len_[k]; ++d) tables_[table_[k]].take(d);
        }
        if (weighted()) {
            if (t >= kMaxSteps) throw std::invalid_argument("schedule does not fit in 2^30 steps");
            weights_[0].add(t, weight(i));
        }
    }

private:
    // Sort each op's uses by (table, len descending) so equal resources form runs.
    void sort_uses(std::size_t first, std::size_t last) {
        if (last - first < 2) return;
        std::vector<std::pair<i32, i32>> u;
        for (std::size_t k = first; k < last; ++k) u.emplace_back(table_[k], -len_[k]);
        std::sort(u.begin(), u.end());
        for (std::size_t k = first; k < last; ++k) {
            table_[k] = u[k - first].first;
            len_[k] = -u[k - first].second;
        }
    }

    // An op needing more units of a resource than exist can never be placed.
    void check_start_demand(i32 i, std::size_t first, std::size_t last) const {
        for (std::size_t a = first; a < last;) {
            std::size_t b = a;
            while (b < last && table_[b] == table_[a]) ++b;
            const ResourceTable& tab = tables_[table_[a]];
            if (static_cast<i64>(b - a) > tab.limit) {
                std::ostringstream msg;
                msg << "op " << i << " needs " << (b - a) << " units of resource " << tab.resource
                    << " at once but its limit is " << tab.limit;
                throw std::invalid_argument(msg.str());
            }
            a = b;
        }
    }

    // Latest step in op i's window at start t where some resource lacks a
    // unit, or -1 if every use fits.
    i64 last_conflict(i32 i, i64 t) const {
        for (i64 a = ptr_[i]; a < ptr_[i + 1];) {
            i64 b = a;
            while (b < ptr_[i + 1] && table_[b] == table_[a]) ++b;
            const ResourceTable& tab = tables_[table_[a]];
            // Scan offsets downward; `need` = uses of this run covering offset o.
            i64 need = 0;
            for (i64 o = len_[a] - 1; o >= 0; --o) {
                while (need < b - a && len_[a + need] > o) ++need;
                if (tab.at(t + o) + need > tab.limit) return t + o;
            }
            a = b;
        }
        return -1;
    }

    // Move t up until its start step is open in every table op i uses.
    i64 skip_full_up(i32 i, i64 t) {
        for (bool moved = true; moved;) {
            moved = false;
            for (i64 k = ptr_[i]; k < ptr_[i + 1]; ++k) {
                const i64 u = tables_[table_[k]].open.next_open(t);
                if (u != t) moved = true, t = u;
            }
            if (weighted()) {
                const i64 u = weights_[0].next_room(t, weight(i));
                if (u != t) moved = true, t = u;
            }
        }
        return t;
    }

    // Move t down until its start step is open in every table op i uses
    // (returns a negative step when there is none). Weights are not skipped
    // here: only legalization searches downward, and it has no weight cap.
    i64 skip_full_down(i32 i, i64 t) {
        for (bool moved = true; moved && t >= 0;) {
            moved = false;
            for (i64 k = ptr_[i]; k < ptr_[i + 1] && t >= 0; ++k) {
                const i64 u = tables_[table_[k]].open.prev_open(t);
                if (u != t) moved = true, t = u;
            }
        }
        return t;
    }

    const double* weight_;
    std::vector<ResourceTable> tables_;
    std::vector<WeightTable> weights_;  // zero or one (a cap is set)
    std::vector<i64> ptr_;              // per op: offsets into table_/len_
    std::vector<i32> table_, len_;
};

}  // namespace gaus
