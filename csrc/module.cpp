// Python bindings for gaus_fast._core: argument checking and numpy conversion.
//
// Every check lives here, so the algorithms can trust their input. Checks
// that loop over whole arrays run with the GIL released, like the algorithms.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core.hpp"

namespace py = pybind11;
using namespace gaus;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

template <class T>
View<T> view(const Array<T>& a, const char* name) {
    if (a.ndim() != 1) fail(std::string(name) + " must be a 1-D array, got " + std::to_string(a.ndim()) + " dimensions");
    return {a.data(), static_cast<std::size_t>(a.size())};
}

template <class T>
void check_length(View<T> a, const char* name, std::size_t expected, const char* expected_what) {
    if (a.size == expected) return;
    std::ostringstream msg;
    msg << name << " has length " << a.size << " but " << expected_what << " is " << expected;
    fail(msg.str());
}

// Hands a vector's buffer to numpy without copying.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
    auto* owned = new std::vector<T>(std::move(v));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), free_when_done);
}

i32 check_n(i64 n) {
    if (n < 0 || n > std::numeric_limits<i32>::max()) fail("n must be in [0, 2^31), got " + std::to_string(n));
    return static_cast<i32>(n);
}

// Edge arrays of equal length; node ranges are checked while building the graph.
struct Edges {
    View<i32> src, dst;
    View<i64> lag;
};

Edges edges(const Array<i32>& src, const Array<i32>& dst, const Array<i64>* lag) {
    Edges e{view(src, "src"), view(dst, "dst"), {}};
    check_length(e.dst, "dst", e.src.size, "len(src)");
    if (lag) {
        e.lag = view(*lag, "lag");
        check_length(e.lag, "lag", e.src.size, "len(src)");
    }
    return e;
}

void check_spans(View<i64> span) {
    for (std::size_t i = 0; i < span.size; ++i)
        if (span[i] < 1) fail("span[" + std::to_string(i) + "] = " + std::to_string(span[i]) + " must be >= 1");
}

Uses uses(i32 n, const Array<i64>& ptr, const Array<i32>& res, const Array<i32>& len, const Array<i64>& limit) {
    Uses u{view(ptr, "use_ptr"), view(res, "use_res"), view(len, "use_len"), view(limit, "limit")};
    check_length(u.ptr, "use_ptr", static_cast<std::size_t>(n) + 1, "n + 1");
    check_length(u.len, "use_len", u.res.size, "len(use_res)");
    return u;
}

// Whole-array checks of the resource uses (run without the GIL).
void check_uses(i32 n, const Uses& u) {
    if (u.ptr[0] != 0) fail("use_ptr[0] must be 0, got " + std::to_string(u.ptr[0]));
    for (i32 i = 0; i < n; ++i)
        if (u.ptr[i + 1] < u.ptr[i]) fail("use_ptr must be non-decreasing (use_ptr[" + std::to_string(i + 1) + "] < use_ptr[" + std::to_string(i) + "])");
    if (u.ptr[n] != static_cast<i64>(u.res.size))
        fail("use_ptr[n] = " + std::to_string(u.ptr[n]) + " but len(use_res) is " + std::to_string(u.res.size));
    for (std::size_t k = 0; k < u.res.size; ++k) {
        if (u.res[k] < 0 || static_cast<std::size_t>(u.res[k]) >= u.limit.size)
            fail("use_res[" + std::to_string(k) + "] = " + std::to_string(u.res[k]) + " is out of range for " + std::to_string(u.limit.size) + " resources");
        if (u.len[k] < 1) fail("use_len[" + std::to_string(k) + "] = " + std::to_string(u.len[k]) + " must be >= 1");
    }
    for (std::size_t r = 0; r < u.limit.size; ++r)
        if (u.limit[r] < -1) fail("limit[" + std::to_string(r) + "] = " + std::to_string(u.limit[r]) + " must be >= 0 or -1 (unlimited)");
}

void check_finite(View<double> a, const char* name, bool allow_inf) {
    for (std::size_t i = 0; i < a.size; ++i)
        if (std::isnan(a[i]) || (!allow_inf && std::isinf(a[i])))
            fail(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(a[i]) + " must be " + (allow_inf ? "a number" : "finite"));
}

// ---------------------------------------------------------------- bindings

py::array_t<i32> py_topological_order(i64 n_in, const Array<i32>& src, const Array<i32>& dst) {
    const i32 n = check_n(n_in);
    const Edges e = edges(src, dst, nullptr);
    std::vector<i32> order;
    {
        py::gil_scoped_release nogil;
        order = topological_order(build_graph(n, e.src, e.dst, {}));
    }
    return to_numpy(std::move(order));
}

py::array_t<i64> py_asap(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag) {
    const i32 n = check_n(n_in);
    const Edges e = edges(src, dst, &lag);
    std::vector<i64> t;
    {
        py::gil_scoped_release nogil;
        const Graph g = build_graph(n, e.src, e.dst, e.lag);
        t = asap(g, topological_order(g));
    }
    return to_numpy(std::move(t));
}

py::array_t<i64> py_alap(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                         const Array<i64>& span_in, i64 depth) {
    const i32 n = check_n(n_in);
    const Edges e = edges(src, dst, &lag);
    const View<i64> span = view(span_in, "span");
    check_length(span, "span", n, "n");
    std::vector<i64> t;
    {
        py::gil_scoped_release nogil;
        check_spans(span);
        const Graph g = build_graph(n, e.src, e.dst, e.lag);
        t = alap(g, topological_order(g), span, depth);
    }
    return to_numpy(std::move(t));
}

py::array_t<i64> py_list_schedule(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                                  const Array<double>& priority_in, const Array<i64>& use_ptr,
                                  const Array<i32>& use_res, const Array<i32>& use_len, const Array<i64>& limit,
                                  const std::optional<Array<double>>& weight_in, double weight_cap,
                                  const std::string& mode_in) {
    const i32 n = check_n(n_in);
    const Edges e = edges(src, dst, &lag);
    const View<double> priority = view(priority_in, "priority");
    check_length(priority, "priority", n, "n");
    const Uses u = uses(n, use_ptr, use_res, use_len, limit);
    View<double> weight;
    if (weight_in) {
        weight = view(*weight_in, "weight");
        check_length(weight, "weight", n, "n");
    }
    if (std::isnan(weight_cap) || weight_cap < 0) fail("weight_cap must be >= 0 (or inf), got " + std::to_string(weight_cap));
    ListMode mode;
    if (mode_in == "serial")
        mode = ListMode::Serial;
    else if (mode_in == "parallel")
        mode = ListMode::Parallel;
    else
        fail("mode must be 'serial' or 'parallel', got '" + mode_in + "'");

    std::vector<i64> t;
    {
        py::gil_scoped_release nogil;
        check_finite(priority, "priority", true);
        check_uses(n, u);
        check_finite(weight, "weight", false);
        for (std::size_t i = 0; i < weight.size; ++i)
            if (weight[i] < 0) fail("weight[" + std::to_string(i) + "] = " + std::to_string(weight[i]) + " must be >= 0");
        const Graph g = build_graph(n, e.src, e.dst, e.lag);
        t = list_schedule(g, priority, u, weight.ptr, weight_cap, mode);
    }
    return to_numpy(std::move(t));
}

py::tuple py_legalize(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                      const Array<double>& mu_in, const Array<i64>& span_in, const Array<i64>& use_ptr,
                      const Array<i32>& use_res, const Array<i32>& use_len, const Array<i64>& limit, i64 depth) {
    const i32 n = check_n(n_in);
    const Edges e = edges(src, dst, &lag);
    const View<double> mu = view(mu_in, "mu");
    check_length(mu, "mu", n, "n");
    const View<i64> span = view(span_in, "span");
    check_length(span, "span", n, "n");
    const Uses u = uses(n, use_ptr, use_res, use_len, limit);

    std::pair<std::vector<i64>, bool> result;
    {
        py::gil_scoped_release nogil;
        check_finite(mu, "mu", false);
        check_spans(span);
        check_uses(n, u);
        const Graph g = build_graph(n, e.src, e.dst, e.lag);
        result = legalize(g, mu, span, u, depth);
    }
    return py::make_tuple(to_numpy(std::move(result.first)), result.second);
}

py::array_t<i64> py_polish_peak_comm(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                                     const Array<i64>& start_in, const Array<double>& weight_in,
                                     const Array<double>& k_in, double alpha, const Array<i64>& span_in, i64 depth,
                                     int max_passes) {
    const i32 n = check_n(n_in);
    const Edges e = edges(src, dst, &lag);
    const View<i64> start = view(start_in, "start");
    check_length(start, "start", n, "n");
    const View<double> weight = view(weight_in, "weight"), k = view(k_in, "k");
    check_length(weight, "weight", n, "n");
    check_length(k, "k", n, "n");
    const View<i64> span = view(span_in, "span");
    check_length(span, "span", n, "n");
    if (!std::isfinite(alpha)) fail("alpha must be finite");
    std::vector<i64> t(start.ptr, start.ptr + start.size);
    {
        py::gil_scoped_release nogil;
        check_finite(weight, "weight", false);
        check_finite(k, "k", false);
        check_spans(span);
        const Graph succ = build_graph(n, e.src, e.dst, e.lag);
        const Graph pred = build_graph(n, e.dst, e.src, e.lag);
        for (i32 i = 0; i < n; ++i) {
            if (t[i] < 0 || t[i] + span[i] > depth) fail("start[" + std::to_string(i) + "] is outside [0, depth - span]");
            for (i64 q = succ.ptr[i]; q < succ.ptr[i + 1]; ++q)
                if (t[succ.dst[q]] < t[i] + succ.lag[q]) fail("start violates the dependence " + std::to_string(i) + " -> " + std::to_string(succ.dst[q]));
        }
        t = polish_peak_comm(succ, pred, std::move(t), weight, k, alpha, span, depth, max_passes);
    }
    return to_numpy(std::move(t));
}


// ---------------------------------------------------------------- modulo

struct ModuloInput {
    i32 n;
    Edges e;
    View<i64> dist;
};

ModuloInput modulo_input(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                         const Array<i64>& dist) {
    ModuloInput in{check_n(n_in), edges(src, dst, &lag), view(dist, "dist")};
    check_length(in.dist, "dist", in.e.src.size, "len(src)");
    return in;
}

void check_ii(i64 ii) {
    if (ii < 1 || ii > (i64{1} << 31)) fail("II must be in [1, 2^31], got " + std::to_string(ii));
}

py::tuple modulo_tuple(ModuloResult&& r) {
    const bool ok = r.ok;
    std::string reason = std::move(r.reason);
    const i64 sweeps = r.sweeps;
    return py::make_tuple(to_numpy(std::move(r.t)), ok, reason, sweeps);
}

i64 py_rec_mii(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag, const Array<i64>& dist) {
    const ModuloInput in = modulo_input(n_in, src, dst, lag, dist);
    py::gil_scoped_release nogil;
    return rec_mii(build_modulo_graph(in.n, in.e.src, in.e.dst, in.e.lag, in.dist));
}

i64 py_res_mii(i64 n_in, const Array<i64>& use_ptr, const Array<i32>& use_res, const Array<i32>& use_len,
               const Array<i64>& limit) {
    const i32 n = check_n(n_in);
    const Uses u = uses(n, use_ptr, use_res, use_len, limit);
    py::gil_scoped_release nogil;
    check_uses(n, u);
    return res_mii(n, u);
}

py::object py_modulo_asap(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                          const Array<i64>& dist, i64 ii) {
    const ModuloInput in = modulo_input(n_in, src, dst, lag, dist);
    check_ii(ii);
    std::vector<i64> t;
    {
        py::gil_scoped_release nogil;
        t = modulo_asap(build_modulo_graph(in.n, in.e.src, in.e.dst, in.e.lag, in.dist), ii);
    }
    if (t.empty() && in.n > 0) return py::none();
    return to_numpy(std::move(t));
}

py::tuple py_modulo_legalize(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                             const Array<i64>& dist, const Array<double>& mu_in, const Array<i64>& use_ptr,
                             const Array<i32>& use_res, const Array<i32>& use_len, const Array<i64>& limit, i64 ii) {
    const ModuloInput in = modulo_input(n_in, src, dst, lag, dist);
    const View<double> mu = view(mu_in, "mu");
    check_length(mu, "mu", in.n, "n");
    const Uses u = uses(in.n, use_ptr, use_res, use_len, limit);
    check_ii(ii);
    ModuloResult r;
    {
        py::gil_scoped_release nogil;
        check_finite(mu, "mu", false);
        check_uses(in.n, u);
        r = modulo_legalize(build_modulo_graph(in.n, in.e.src, in.e.dst, in.e.lag, in.dist), mu, u, ii);
    }
    return modulo_tuple(std::move(r));
}

py::array_t<i64> py_modulo_compact(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                                   const Array<i64>& dist, const Array<i64>& start_in, const Array<i64>& use_ptr,
                                   const Array<i32>& use_res, const Array<i32>& use_len, const Array<i64>& limit,
                                   i64 ii) {
    const ModuloInput in = modulo_input(n_in, src, dst, lag, dist);
    const View<i64> start = view(start_in, "start");
    check_length(start, "start", in.n, "n");
    const Uses u = uses(in.n, use_ptr, use_res, use_len, limit);
    check_ii(ii);
    std::vector<i64> t(start.ptr, start.ptr + start.size);
    {
        py::gil_scoped_release nogil;
        check_uses(in.n, u);
        const ModuloGraph g = build_modulo_graph(in.n, in.e.src, in.e.dst, in.e.lag, in.dist);
        for (std::size_t e = 0; e < g.src.size(); ++e)
            if (t[g.dst[e]] < t[g.src[e]] + g.weight(static_cast<i64>(e), ii))
                fail("start violates the dependence " + std::to_string(g.src[e]) + " -> " + std::to_string(g.dst[e]));
        for (i32 i = 0; i < in.n; ++i)
            if (t[i] < 0) fail("start[" + std::to_string(i) + "] is negative");
        t = modulo_compact(g, std::move(t), u, ii);
    }
    return to_numpy(std::move(t));
}

py::tuple py_iterative_modulo_schedule(i64 n_in, const Array<i32>& src, const Array<i32>& dst, const Array<i64>& lag,
                                       const Array<i64>& dist, const Array<i64>& use_ptr, const Array<i32>& use_res,
                                       const Array<i32>& use_len, const Array<i64>& limit, i64 ii, i64 budget) {
    const ModuloInput in = modulo_input(n_in, src, dst, lag, dist);
    const Uses u = uses(in.n, use_ptr, use_res, use_len, limit);
    check_ii(ii);
    if (budget < 1) fail("budget must be >= 1, got " + std::to_string(budget));
    ModuloResult r;
    {
        py::gil_scoped_release nogil;
        check_uses(in.n, u);
        r = iterative_modulo_schedule(build_modulo_graph(in.n, in.e.src, in.e.dst, in.e.lag, in.dist), u, ii, budget);
    }
    return modulo_tuple(std::move(r));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of gaus_fast: graph bounds, list scheduling and legalization.\n\n"
              "Edges (src[e], dst[e], lag[e]) mean t[dst] >= t[src] + lag; pass only intra-iteration\n"
              "(distance-0) edges. Resource uses are CSR: op i uses use_res[k] for use_len[k] steps\n"
              "from its start, k in [use_ptr[i], use_ptr[i+1]); limit[r] = -1 means unlimited.\n"
              "Bad input raises ValueError.";

    m.def("topological_order", &py_topological_order, py::arg("n"), py::arg("src"), py::arg("dst"),
          "Deterministic Kahn order (FIFO, seeded in index order) as int32[n].\n"
          "Raises ValueError naming the ops on a dependence cycle.");

    m.def("asap", &py_asap, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"),
          "Earliest starts int64[n]: t[v] = max(0, max over in-edges t[u] + lag).");

    m.def("alap", &py_alap, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"), py::arg("span"),
          py::arg("depth"),
          "Latest starts int64[n] under depth bound: t[i] = min(depth - span[i], min over out-edges\n"
          "t[v] - lag). Negative values mean the bound is infeasible; nothing is clamped.");

    m.def("list_schedule", &py_list_schedule, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"),
          py::arg("priority"), py::arg("use_ptr"), py::arg("use_res"), py::arg("use_len"), py::arg("limit"),
          py::arg("weight") = py::none(), py::arg("weight_cap") = std::numeric_limits<double>::infinity(),
          py::arg("mode") = "serial",
          "Resource-constrained list schedule int64[n]; lower priority = more urgent, ties by index.\n"
          "mode='serial': most urgent eligible op to its earliest feasible step.\n"
          "mode='parallel': cycle-driven; at each step place ready ops that fit, in priority order.\n"
          "With a finite weight_cap the weights of ops starting at one step sum to <= weight_cap\n"
          "(1e-9 relative slack; weight=None means unit weights); a heavier op gets a step alone.");

    m.def("legalize", &py_legalize, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"), py::arg("mu"),
          py::arg("span"), py::arg("use_ptr"), py::arg("use_res"), py::arg("use_len"), py::arg("limit"),
          py::arg("depth") = -1,
          "Legal integer schedule near continuous starts mu: returns (int64[n] t, depth_met).\n"
          "Ops are placed in mu order (a priority-queue topological order) at the feasible step\n"
          "nearest round(mu) that keeps the depth bound if possible (depth < 0: no bound).");

    m.def("polish_peak_comm", &py_polish_peak_comm, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"),
          py::arg("start"), py::arg("weight"), py::arg("k"), py::arg("alpha"), py::arg("span"), py::arg("depth"),
          py::arg("max_passes") = 20,
          "Local search on a legal schedule for peak weighted usage (ops counted in their start step) +\n"
          "alpha * sum_i k[i] t[i] (k = comm into i - comm out of i). Moves one op at a time within its\n"
          "slack; never increases the objective; returns the improved int64[n] schedule.");

    m.def("rec_mii", &py_rec_mii, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"), py::arg("dist"),
          "RecMII: the smallest II >= 1 such that no dependence cycle has positive weight under\n"
          "lag - dist * II (all edges, loop-carried included). 1 when no recurrence binds.");

    m.def("res_mii", &py_res_mii, py::arg("n"), py::arg("use_ptr"), py::arg("use_res"), py::arg("use_len"),
          py::arg("limit"),
          "ResMII: max over limited resources of ceil(sum of hold steps / limit), at least 1.\n"
          "Raises ValueError when one op needs more units of a resource at once than exist.");

    m.def("modulo_asap", &py_modulo_asap, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"),
          py::arg("dist"), py::arg("ii"),
          "Earliest starts int64[n] at II ignoring resources (longest paths under lag - dist * II),\n"
          "or None when II < RecMII (a positive cycle).");

    m.def("modulo_legalize", &py_modulo_legalize, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"),
          py::arg("dist"), py::arg("mu"), py::arg("use_ptr"), py::arg("use_res"), py::arg("use_len"),
          py::arg("limit"), py::arg("ii"),
          "Modulo schedule near mu at II: returns (int64[n] t, ok, reason, sweeps). Ops are placed in mu\n"
          "order on a modulo reservation table, then a fixed-point pass moves ops later until every\n"
          "dependence (back-edges too) holds, giving up after n + 1 sweeps (ok False, reason says why).");

    m.def("modulo_compact", &py_modulo_compact, py::arg("n"), py::arg("src"), py::arg("dst"), py::arg("lag"),
          py::arg("dist"), py::arg("start"), py::arg("use_ptr"), py::arg("use_res"), py::arg("use_len"),
          py::arg("limit"), py::arg("ii"),
          "Moves ops of a legal modulo schedule (dependences must hold) earlier until none can move;\n"
          "keeps every dependence and the modulo resource limits.");

    m.def("iterative_modulo_schedule", &py_iterative_modulo_schedule, py::arg("n"), py::arg("src"), py::arg("dst"),
          py::arg("lag"), py::arg("dist"), py::arg("use_ptr"), py::arg("use_res"), py::arg("use_len"),
          py::arg("limit"), py::arg("ii"), py::arg("budget"),
          "Rau's iterative modulo scheduling at II with a budget of placements: returns\n"
          "(int64[n] t, ok, reason, placements); the schedule is compacted (modulo_compact).");
}
