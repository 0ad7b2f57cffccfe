// Shared declarations for the gaus_fast C++ core.
//
// The algorithms work on plain pointers ("views") into the caller's numpy
// buffers so that nothing is copied and the GIL can be released around the
// heavy loops. Input validation happens once, in module.cpp, before any
// algorithm runs; the algorithms assume valid input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace gaus {

using i32 = std::int32_t;
using i64 = std::int64_t;

// "No bound" for start times (e.g. ALAP without a depth bound).
constexpr i64 kInfTime = std::numeric_limits<i64>::max() / 4;

// Read-only view of a contiguous 1-D array.
template <class T>
struct View {
    const T* ptr = nullptr;
    std::size_t size = 0;
    const T& operator[](std::size_t i) const { return ptr[i]; }
};

// ---------------------------------------------------------------- graph.cpp

// Successor lists in CSR form. Edges of one source keep their input order,
// which keeps every traversal deterministic.
struct Graph {
    i32 n = 0;
    std::vector<i64> ptr;    // n+1 offsets into dst/lag
    std::vector<i32> dst;    // successor of each edge
    std::vector<i64> lag;    // t[dst] >= t[src] + lag
    std::vector<i32> indeg;  // number of in-edges per node
};

// Builds the CSR graph; `lag` may be empty (all lags 0). Throws
// std::invalid_argument for an out-of-range node index.
Graph build_graph(i32 n, View<i32> src, View<i32> dst, View<i64> lag);

// Kahn's algorithm, FIFO queue seeded in index order. Throws on a cycle.
std::vector<i32> topological_order(const Graph& g);

// Throws std::invalid_argument naming the ops on one dependence cycle.
// `indeg_left` is Kahn's in-degree array after the queue ran dry: nodes with
// a positive entry were never reached and contain at least one cycle.
[[noreturn]] void throw_cycle(const Graph& g, const std::vector<i32>& indeg_left);

// Earliest starts: t[v] = max(0, max over in-edges t[u] + lag).
std::vector<i64> asap(const Graph& g, const std::vector<i32>& order);

// Latest starts under depth bound `depth`: t[i] = min(depth - span[i],
// min over out-edges t[v] - lag). Not clamped, so negative means infeasible.
std::vector<i64> alap(const Graph& g, const std::vector<i32>& order, View<i64> span, i64 depth);

// ---------------------------------------------------------------- resources

// Resource use of every op in CSR form (see reservation.hpp).
struct Uses {
    View<i64> ptr;    // n+1 offsets into res/len
    View<i32> res;    // resource index per use
    View<i32> len;    // consecutive steps the use holds one unit
    View<i64> limit;  // units per step per resource, -1 = unlimited
};

// ---------------------------------------------------------------- list_schedule.cpp

enum class ListMode { Serial, Parallel };

// Resource-constrained list scheduling; lower priority = more urgent.
// `weight` may be null (unit weights); `weight_cap` = +inf disables the cap.
std::vector<i64> list_schedule(const Graph& g, View<double> priority, const Uses& uses,
                               const double* weight, double weight_cap, ListMode mode);

// ---------------------------------------------------------------- legalize.cpp

// Integer schedule close to the continuous starts `mu` (depth < 0: no bound).
// Returns the schedule and whether every t[i] + span[i] <= depth.
std::pair<std::vector<i64>, bool> legalize(const Graph& g, View<double> mu, View<i64> span,
                                           const Uses& uses, i64 depth);

// ---------------------------------------------------------------- improve.cpp

// Local search on a legal objective-A schedule (peak weighted profile +
// alpha * communication; k[i] = comm into i - comm out of i). `succ` and
// `pred` are the graph and its reverse. Every move keeps all dependences and
// t[i] + span[i] <= depth; the objective never increases.
std::vector<i64> polish_peak_comm(const Graph& succ, const Graph& pred, std::vector<i64> t, View<double> weight,
                                  View<double> k, double alpha, View<i64> span, i64 depth, int max_passes);


// ---------------------------------------------------------------- modulo.cpp

// Every dependence, loop-carried ones included: t[dst] + dist * II >= t[src] + lag.
struct ModuloGraph {
    i32 n = 0;
    std::vector<i32> src, dst;
    std::vector<i64> lag, dist;
    std::vector<i64> out_ptr, out_edge;  // CSR of edge indices by source
    std::vector<i64> in_ptr, in_edge;    // ... and by destination
    std::vector<i32> order;              // a topological order of the distance-0 edges
    i64 weight(i64 e, i64 ii) const { return lag[e] - dist[e] * ii; }
};

// Throws std::invalid_argument for bad indices or a distance-0 cycle.
ModuloGraph build_modulo_graph(i32 n, View<i32> src, View<i32> dst, View<i64> lag, View<i64> dist);

// Earliest starts at II (longest paths from 0 under lag - dist * II); empty
// when some cycle has positive weight, i.e. II < RecMII.
std::vector<i64> modulo_asap(const ModuloGraph& g, i64 ii);

// Smallest II >= 1 with no positive cycle (1 when no recurrence binds).
i64 rec_mii(const ModuloGraph& g);

// max over limited resources of ceil(total hold / limit) (at least 1).
i64 res_mii(i32 n, const Uses& uses);

struct ModuloResult {
    std::vector<i64> t;
    bool ok = false;
    std::string reason;  // why no schedule came out (empty when ok)
    i64 sweeps = 0;      // fixed-point sweeps (legalizer) or placements (IMS)
};

// Integer modulo schedule near `mu` at `ii`: ops are placed in mu order on
// the modulo reservation table, then a fixed-point pass over all edges
// (back-edges included) moves ops later until every dependence holds; it
// gives up after |V| sweeps (the recurrence cannot absorb the resource delays).
ModuloResult modulo_legalize(const ModuloGraph& g, View<double> mu, const Uses& uses, i64 ii);

// Moves ops of a legal modulo schedule earlier (never breaking anything)
// until no op can move: a compact schedule with the same II.
std::vector<i64> modulo_compact(const ModuloGraph& g, std::vector<i64> t, const Uses& uses, i64 ii);

// Rau's iterative modulo scheduling at `ii` with `budget` placements.
ModuloResult iterative_modulo_schedule(const ModuloGraph& g, const Uses& uses, i64 ii, i64 budget);

}  // namespace gaus
