// Local improvement of a legal objective-A schedule: peak of the weighted
// per-step profile + alpha * communication.
//
// Communication is linear in the start times, sum_e c_e (t_v - t_u) =
// sum_i k_i t_i with k_i = (comm into i) - (comm out of i), so moving one op
// by delta changes it by k_i * delta whatever the others do. The peak is kept
// in a segment tree (max and argmin over steps), so each candidate move is
// priced exactly in O(log D). A move is taken when it lowers the objective,
// or keeps it and flattens the profile (lowers the sum of squared loads);
// both strictly decrease a bounded quantity, so the passes terminate.
//
// When single moves are stuck, pairwise swaps take over: a heavy op on the
// peak step trades places with a lighter op (zero weight included) of
// another step, which moves only the difference of their weights. Near a
// balanced profile (the ICML'24 graphs: few steps, many weights) this is what
// closes the last gap, as in number partitioning. Graphs whose ops all weigh
// the same (AIGER) have no such pair and skip it. A swap lowers the
// objective, or keeps it and takes one step off a tied peak.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core.hpp"

namespace gaus {

namespace {

// Max and min (with position) over the per-step loads.
class LoadTree {
public:
    explicit LoadTree(const std::vector<double>& loads) : size_(1) {
        while (size_ < loads.size()) size_ *= 2;
        mx_.assign(2 * size_, -INFINITY);
        mn_.assign(2 * size_, INFINITY);
        for (std::size_t d = 0; d < loads.size(); ++d) mx_[size_ + d] = mn_[size_ + d] = loads[d];
        for (std::size_t i = size_ - 1; i >= 1; --i) pull(i);
    }
    void set(std::size_t d, double v) {
        std::size_t i = size_ + d;
        mx_[i] = mn_[i] = v;
        for (i /= 2; i >= 1; i /= 2) pull(i);
    }
    double max_all() const { return mx_[1]; }
    // Max over [lo, hi) (empty: -inf).
    double max_range(std::size_t lo, std::size_t hi) const {
        double r = -INFINITY;
        for (lo += size_, hi += size_; lo < hi; lo /= 2, hi /= 2) {
            if (lo & 1) r = std::max(r, mx_[lo++]);
            if (hi & 1) r = std::max(r, mx_[--hi]);
        }
        return r;
    }
    // Position of a smallest load in [lo, hi) (hi > lo).
    std::size_t argmin_range(std::size_t lo, std::size_t hi) const {
        double best = INFINITY;
        std::size_t node = 0;
        for (std::size_t l = lo + size_, h = hi + size_; l < h; l /= 2, h /= 2) {
            if (l & 1) { if (mn_[l] < best) { best = mn_[l]; node = l; } ++l; }
            if (h & 1) { --h; if (mn_[h] < best) { best = mn_[h]; node = h; } }
        }
        while (node < size_) node = (mn_[2 * node] <= mn_[2 * node + 1]) ? 2 * node : 2 * node + 1;
        return node - size_;
    }

private:
    void pull(std::size_t i) {
        mx_[i] = std::max(mx_[2 * i], mx_[2 * i + 1]);
        mn_[i] = std::min(mn_[2 * i], mn_[2 * i + 1]);
    }
    std::size_t size_;
    std::vector<double> mx_, mn_;
};

}  // namespace

std::vector<i64> polish_peak_comm(const Graph& succ, const Graph& pred, std::vector<i64> t, View<double> weight,
                                  View<double> k, double alpha, View<i64> span, i64 depth, int max_passes) {
    const i32 n = succ.n;
    if (n == 0) return t;
    std::vector<double> loads(static_cast<std::size_t>(depth), 0.0);
    for (i32 i = 0; i < n; ++i) loads[t[i]] += weight[i];
    LoadTree tree(loads);
    const double eps = 1e-9;

    // The window of op i with every other op fixed, [lo, hi].
    auto window = [&](i32 i, i64& lo, i64& hi) {
        lo = 0;
        hi = depth - span[i];
        for (i64 e = pred.ptr[i]; e < pred.ptr[i + 1]; ++e) lo = std::max(lo, t[pred.dst[e]] + pred.lag[e]);
        for (i64 e = succ.ptr[i]; e < succ.ptr[i + 1]; ++e) hi = std::min(hi, t[succ.dst[e]] - succ.lag[e]);
    };
    bool mixed_weights = false;
    for (i32 i = 1; i < n && !mixed_weights; ++i) mixed_weights = weight[i] != weight[0];
    std::vector<i64> stamp(static_cast<std::size_t>(n), -1);  // neighbours of the op being swapped
    std::vector<i64> wlo(static_cast<std::size_t>(n)), whi(static_cast<std::size_t>(n));
    // One improving swap of an op on the peak step with a lighter, non-adjacent op
    // of another step inside its window (each inside the other's window); false if none.
    auto swap_once = [&](i64 round) -> bool {
        std::vector<std::vector<i32>> at(static_cast<std::size_t>(depth));
        for (i32 j = 0; j < n; ++j) {
            window(j, wlo[j], whi[j]);
            at[static_cast<std::size_t>(t[j])].push_back(j);
        }
        const double peak = tree.max_all();
        std::size_t p = 0;
        while (loads[p] < peak) ++p;
        for (i32 i : at[p]) {
            const double wi = weight[i];
            if (wi <= 0.0 || wlo[i] == whi[i]) continue;
            const i64 tag = round * static_cast<i64>(n) + i;
            for (i64 e = pred.ptr[i]; e < pred.ptr[i + 1]; ++e) stamp[pred.dst[e]] = tag;
            for (i64 e = succ.ptr[i]; e < succ.ptr[i + 1]; ++e) stamp[succ.dst[e]] = tag;
            for (i64 q = wlo[i]; q <= whi[i]; ++q) {
                if (q == static_cast<i64>(p)) continue;
                const std::size_t uq = static_cast<std::size_t>(q);
                const std::size_t x = std::min(p, uq), y = std::max(p, uq);
                const double rest = std::max({tree.max_range(0, x), tree.max_range(x + 1, y), tree.max_range(y + 1, loads.size())});
                // Another step at the peak too: no swap lowers it, but one that takes this step
                // off the peak (objective no worse) leaves fewer peak steps for the next swap.
                const bool tied = rest >= peak - eps;
                for (i32 j : at[uq]) {
                    const double delta = wi - weight[j];
                    if (delta <= eps || stamp[j] == tag || wlo[j] > static_cast<i64>(p) || whi[j] < static_cast<i64>(p)) continue;
                    const double new_peak = std::max({rest, loads[p] - delta, loads[uq] + delta});
                    const double gain = (peak - new_peak) - alpha * (k[i] - k[j]) * static_cast<double>(q - static_cast<i64>(p));
                    if (tied ? (gain < -eps || loads[uq] + delta >= peak - eps) : gain <= eps) continue;
                    loads[p] -= delta;
                    loads[uq] += delta;
                    tree.set(p, loads[p]);
                    tree.set(uq, loads[uq]);
                    t[j] = static_cast<i64>(p);
                    t[i] = q;
                    return true;
                }
            }
        }
        return false;
    };

    // One pass of single-op moves; true if any op moved.
    auto move_pass = [&]() -> bool {
        bool moved = false;
        for (i32 i = 0; i < n; ++i) {
            i64 lo, hi;
            window(i, lo, hi);
            const i64 a = t[i];
            if (lo >= hi) continue;  // no room (lo == hi == a)
            const double w = weight[i];
            const double comm_rate = alpha * k[i];
            i64 best_b = a;
            if (w == 0.0) {
                // Only communication matters: go to the cheaper end of the window.
                if (comm_rate > eps && lo < a) best_b = lo;
                else if (comm_rate < -eps && hi > a) best_b = hi;
            } else {
                const double peak = tree.max_all();
                double best_gain = 0.0;       // objective decrease
                double best_flatten = 0.0;    // sum-of-squares decrease at equal objective
                auto consider = [&](i64 b) {
                    if (b == a || b < lo || b > hi) return;
                    const std::size_t ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
                    const std::size_t x = std::min(ua, ub), y = std::max(ua, ub);
                    double rest = std::max({tree.max_range(0, x), tree.max_range(x + 1, y), tree.max_range(y + 1, loads.size())});
                    const double new_peak = std::max({rest, loads[ua] - w, loads[ub] + w});
                    const double gain = (peak - new_peak) - comm_rate * static_cast<double>(b - a);
                    const double flatten = loads[ua] - loads[ub] - w;  // > 0: sum of squares drops
                    if (gain > best_gain + eps || (std::abs(gain - best_gain) <= eps && gain >= -eps && flatten > best_flatten + eps)) {
                        best_gain = gain;
                        best_flatten = std::abs(gain) <= eps ? flatten : 0.0;
                        best_b = b;
                    }
                };
                consider(lo);
                consider(hi);
                if (a > lo) consider(static_cast<i64>(tree.argmin_range(static_cast<std::size_t>(lo), static_cast<std::size_t>(a))));
                if (a < hi) consider(static_cast<i64>(tree.argmin_range(static_cast<std::size_t>(a + 1), static_cast<std::size_t>(hi + 1))));
                if (a > lo) consider(a - 1);
                if (a < hi) consider(a + 1);
            }
            if (best_b != a) {
                loads[a] -= w;
                loads[best_b] += w;
                tree.set(static_cast<std::size_t>(a), loads[a]);
                tree.set(static_cast<std::size_t>(best_b), loads[best_b]);
                t[i] = best_b;
                moved = true;
            }
        }
        return moved;
    };

    // Single-move passes until stuck, then one swap, again; both only ever lower
    // the objective (or flatten it at equal objective), so this ends.
    const i64 max_swaps = 50 * static_cast<i64>(max_passes);
    for (i64 swaps = 0;; ++swaps) {
        for (int pass = 0; pass < max_passes && move_pass(); ++pass) {
        }
        if (!mixed_weights || swaps >= max_swaps || !swap_once(swaps)) break;
    }
    return t;
}

}  // namespace gaus
