// Modulo reservation table (MRT): resource units in use per slot `t mod II`.
//
// An op's use of a resource with hold `len` occupies slots t, t+1, ..,
// t+len-1 (mod II): pipelined uses hold one slot, blocking ones wrap round
// and count a slot more than once when len > II. Only limited resources that
// can bind (limit < total demand) get a table. The table also remembers which
// ops occupy each slot, so that the iterative modulo scheduler can evict them.
#pragma once

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core.hpp"

namespace gaus {

class ModuloTable {
public:
    ModuloTable(i32 n, const Uses& uses, i64 ii) : ii_(ii) {
        const std::size_t n_res = uses.limit.size;
        std::vector<i64> demand(n_res, 0);
        for (std::size_t k = 0; k < uses.res.size; ++k) demand[uses.res[k]] += uses.len[k];
        std::vector<i32> table_of(n_res, -1);
        for (std::size_t r = 0; r < n_res; ++r) {
            if (uses.limit[r] < 0 || uses.limit[r] >= demand[r]) continue;
            table_of[r] = static_cast<i32>(limit_.size());
            limit_.push_back(uses.limit[r]);
            resource_.push_back(static_cast<i32>(r));
        }
        used_.assign(limit_.size() * static_cast<std::size_t>(ii), 0);
        occupants_.assign(used_.size(), {});
        ptr_.assign(static_cast<std::size_t>(n) + 1, 0);
        for (i32 i = 0; i < n; ++i) {
            for (i64 k = uses.ptr[i]; k < uses.ptr[i + 1]; ++k) {
                const i32 tab = table_of[uses.res[k]];
                if (tab < 0) continue;
                table_.push_back(tab);
                len_.push_back(uses.len[k]);
            }
            ptr_[i + 1] = static_cast<i64>(table_.size());
        }
    }

    i64 ii() const { return ii_; }
    bool empty() const { return limit_.empty(); }

    // Units op i needs per (table, slot) when it starts at t, merged.
    void demand(i32 i, i64 t, std::vector<std::pair<i64, i32>>& out) const {
        out.clear();
        const i64 s0 = ((t % ii_) + ii_) % ii_;
        for (i64 k = ptr_[i]; k < ptr_[i + 1]; ++k) {
            const i64 base = static_cast<i64>(table_[k]) * ii_;
            const i64 len = len_[k];
            const i64 full = len / ii_, rem = len % ii_;
            if (full > 0)
                for (i64 s = 0; s < ii_; ++s) out.push_back({base + s, static_cast<i32>(full)});
            for (i64 o = 0; o < rem; ++o) out.push_back({base + (s0 + o) % ii_, 1});
        }
        std::sort(out.begin(), out.end());
        std::size_t w = 0;
        for (std::size_t r = 0; r < out.size(); ++r) {
            if (w > 0 && out[w - 1].first == out[r].first)
                out[w - 1].second += out[r].second;
            else
                out[w++] = out[r];
        }
        out.resize(w);
    }

    // Can op i never fit, whatever the slot (it alone needs more than the limit)?
    bool never_fits(i32 i) {
        demand(i, 0, scratch_);
        for (const auto& [cell, need] : scratch_)
            if (need > limit_[cell / ii_]) return true;
        return false;
    }

    bool fits(i32 i, i64 t) {
        demand(i, t, scratch_);
        for (const auto& [cell, need] : scratch_)
            if (used_[cell] + need > limit_[cell / ii_]) return false;
        return true;
    }

    // First step in [from, from + II) where op i fits, or -1 (then no step fits).
    i64 find(i32 i, i64 from) {
        if (ptr_[i] == ptr_[i + 1]) return from;
        for (i64 t = from; t < from + ii_; ++t)
            if (fits(i, t)) return t;
        return -1;
    }

    void reserve(i32 i, i64 t) {
        demand(i, t, scratch_);
        for (const auto& [cell, need] : scratch_) {
            used_[cell] += need;
            for (i32 c = 0; c < need; ++c) occupants_[cell].push_back(i);
        }
    }

    void release(i32 i, i64 t) {
        demand(i, t, scratch_);
        for (const auto& [cell, need] : scratch_) {
            used_[cell] -= need;
            auto& occ = occupants_[cell];
            for (i32 c = 0; c < need; ++c) occ.erase(std::find(occ.begin(), occ.end(), i));
        }
    }

    // Ops (other than i) to evict so that op i fits at t: for every
    // over-full cell, its first occupants. May list an op more than once.
    std::vector<i32> conflicts(i32 i, i64 t) {
        demand(i, t, scratch_);
        std::vector<i32> out;
        for (const auto& [cell, need] : scratch_) {
            i64 excess = used_[cell] + need - limit_[cell / ii_];
            for (std::size_t c = 0; excess > 0 && c < occupants_[cell].size(); ++c, --excess)
                out.push_back(occupants_[cell][c]);
        }
        return out;
    }

private:
    i64 ii_;
    std::vector<i64> limit_;
    std::vector<i32> resource_;
    std::vector<i64> used_;                     // [table * II + slot]
    std::vector<std::vector<i32>> occupants_;   // ops holding a unit of that cell (with multiplicity)
    std::vector<i64> ptr_;                      // per op: offsets into table_/len_
    std::vector<i32> table_;
    std::vector<i64> len_;
    std::vector<std::pair<i64, i32>> scratch_;
};

}  // namespace gaus
