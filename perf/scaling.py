"""Time and memory of one relaxation iteration against the number of edges, per kernel backend.

    python perf/scaling.py                       # 10^4 .. 10^7 edges, torch and numba (and triton on CUDA)
    python perf/scaling.py --max-edges 3e7 --dtype float32 --repeats 5

An iteration here is what the objective-A loop of `gaus_fast.solver` runs per step: one dependence loss
(`kernels.dependency_loss`, with the communication term) plus one expected usage (`kernels.expected_usage`, hold 1,
soft maximum over the steps), forward and backward. Graphs: `gaus_fast.generators.layered_dag` with one node per
10 edges and about sqrt(nodes) layers; mu = a node's layer position plus N(0, 0.5) noise, sigma ~ U[0.25, 2], lag 1,
so the edges spread over satisfied, tight and violated ones as during a solve.

Every (backend, size) runs in a fresh subprocess: it builds the data, runs one warm-up iteration (compilation, numba
cache load), then times ``--repeats`` iterations (median reported), then measures memory: the peak resident set
during one more iteration minus the resident set just before it (Linux: ``/proc/self/clear_refs`` resets the peak,
``VmHWM`` reads it; glibc's mmap threshold is pinned at 64 KiB in the child, so freed blocks leave the resident
set instead of hiding in malloc's free lists). That is the extra host memory the iteration needs beyond its inputs
(torch's temporaries and saved tensors, the kernels' scratch). On CUDA the peak comes from
``torch.cuda.max_memory_allocated`` instead. Results: perf/results/scaling.csv and scaling.png (log-log).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "perf" / "results"
FIELDS = ["backend", "device", "dtype", "edges", "nodes", "threads", "seconds_median", "seconds_min",
          "dependency_seconds", "usage_seconds", "edges_per_second", "peak_extra_mib", "memory_method"]


# ------------------------------------------------------------------------------------------------ data
def synthetic(n_edges: int, seed: int = 0, edges_per_node: int = 10):
    """numpy arrays of a layered DAG (`gaus_fast.generators.layered_dag`) and a plausible mid-solve (mu, sigma)."""
    import numpy as np

    from gaus_fast.generators import layered_dag

    n_nodes = max(16, n_edges // edges_per_node)
    n_layers = max(4, int(math.sqrt(n_nodes)))
    problem = layered_dag(n_nodes, n_edges, n_layers, seed=seed)
    rng = np.random.default_rng(seed + 1)
    # layered_dag numbers the ops layer by layer, so an op's index tells its layer position
    mu = np.arange(n_nodes) * (n_layers / n_nodes) + rng.normal(0.0, 0.5, n_nodes)
    sigma = rng.uniform(0.25, 2.0, n_nodes)
    return {
        "mu": mu, "sigma": sigma,
        "src": problem.edge_src.astype(np.int64), "dst": problem.edge_dst.astype(np.int64),
        "lag": np.ones(n_edges), "mult": rng.uniform(0.0, 1.0, n_edges), "comm": problem.edge_comm.astype(np.float64),
        "weight": np.asarray(problem.op_weight, dtype=np.float64), "horizon": n_layers + 2,
    }


def tensors(data: dict, dtype, device: str = "cpu") -> dict:
    import torch

    out = {}
    for k, v in data.items():
        if k == "horizon":
            out[k] = v
        elif k in ("src", "dst"):
            out[k] = torch.as_tensor(v, device=device)
        else:
            out[k] = torch.as_tensor(v, dtype=dtype, device=device)
    out["hold"] = torch.ones(len(data["mu"]), dtype=torch.long, device=device)
    return out


def iteration(t: dict, backend: str, timings: dict | None = None, part: str = "both") -> float:
    """One solver-like iteration, forward and backward; returns the loss (fills per-part seconds into timings).

    ``part``: "both" (an iteration), "dependency" or "usage" alone."""
    import torch

    from gaus_fast import kernels, relax

    mu = t["mu"].detach().requires_grad_()
    sigma = t["sigma"].detach().requires_grad_()
    sync = torch.cuda.synchronize if mu.is_cuda else (lambda: None)
    value = 0.0
    t0 = time.perf_counter()
    if part in ("both", "dependency"):
        dep = kernels.dependency_loss(mu, sigma, t["src"], t["dst"], t["lag"], t["mult"], 1.0,
                                      comm_weight=t["comm"], alpha=0.01, backend=backend)
        dep.backward()
        sync()
        value += float(dep.detach())
    t1 = time.perf_counter()
    if part in ("both", "usage"):
        half = relax.occupancy_window(2.0, 1, 24)
        usage = kernels.expected_usage(mu, sigma, t["weight"], t["hold"], t["horizon"], half, backend=backend)
        peak = 0.05 * torch.logsumexp(usage[0] / 0.05, 0)
        peak.backward()
        sync()
        value += float(peak.detach())
    t2 = time.perf_counter()
    if timings is not None:
        timings.setdefault("dependency", []).append(t1 - t0)
        timings.setdefault("usage", []).append(t2 - t1)
    return value


# ------------------------------------------------------------------------------------------------ memory
def _status_kib(key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) if m else -1


def peak_extra_bytes(fn, device: str = "cpu") -> tuple[int, str]:
    """(extra peak memory of fn(), how it was measured): RSS high-water mark above the RSS before (Linux)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before, "cuda max_memory_allocated"
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, "ru_maxrss delta (lower bound)"
    before = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - before) * 1024, "VmHWM - VmRSS (clear_refs)"


# ------------------------------------------------------------------------------------------------ child
def child_command(backend: str, edges: int, dtype: str = "float64", repeats: int = 3, threads: int = 0,
                  device: str = "cpu", part: str = "both", seed: int = 0) -> tuple[list[str], dict]:
    """(argv, env) of one measuring subprocess; its last stdout line is a JSON row (see FIELDS)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--backend", backend, "--device", device,
           "--edges", str(edges), "--dtype", dtype, "--repeats", str(repeats), "--threads", str(threads),
           "--seed", str(seed), "--part", part]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    return cmd, env


def child(args) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        if args.backend == "numba":
            import numba

            numba.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    data = synthetic(args.edges, args.seed)
    t = tensors(data, dtype, args.device)
    del data
    iteration(t, args.backend, part=args.part)  # warm-up: compilation / cache load, allocator
    timings: dict = {"dependency": [math.nan], "usage": [math.nan]} if args.repeats < 1 else {}
    total = []
    for _ in range(args.repeats):
        a = time.perf_counter()
        iteration(t, args.backend, timings, args.part)
        total.append(time.perf_counter() - a)
    extra, method = peak_extra_bytes(lambda: iteration(t, args.backend, part=args.part), args.device)
    total = total or [math.nan]
    med = statistics.median(total)
    threads = torch.get_num_threads()
    if args.backend == "numba":
        import numba

        threads = numba.get_num_threads()
    print(json.dumps({
        "backend": args.backend, "device": args.device, "dtype": args.dtype, "edges": args.edges,
        "nodes": len(t["mu"]), "threads": threads, "seconds_median": med, "seconds_min": min(total),
        "dependency_seconds": statistics.median(timings["dependency"]), "usage_seconds": statistics.median(timings["usage"]),
        "edges_per_second": args.edges / med, "peak_extra_mib": extra / 2**20, "memory_method": method,
    }))


# ------------------------------------------------------------------------------------------------ sweep
def sizes(max_edges: float) -> list[int]:
    out, k = [], 4.0
    while 10**k <= max_edges * (1 + 1e-9):
        out.append(int(round(10**k)))
        k += 0.5
    return out


def backends(device: str) -> list[str]:
    from gaus_fast import kernels

    have = kernels.available_backends(device)
    return [b for b in ("torch", "numba", "triton") if b in have]


def plot(rows: list[dict], path: Path) -> None:
    """Log-log time per iteration and extra peak memory against edges, one line per (backend, device, dtype)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key in sorted({(r["backend"], r["device"], r["dtype"]) for r in rows}):
        sel = sorted((r for r in rows if (r["backend"], r["device"], r["dtype"]) == key), key=lambda r: r["edges"])
        x = [r["edges"] for r in sel]
        label = f"{key[0]} ({key[1]}, {key[2]})"
        ax_t.plot(x, [r["seconds_median"] for r in sel], "o-", label=label)
        ax_m.plot(x, [max(r["peak_extra_mib"], 0.1) for r in sel], "o-", label=label)
    ax_t.set(xscale="log", yscale="log", xlabel="edges", ylabel="seconds per iteration (fwd + bwd)",
             title="time per iteration")
    ax_m.set(xscale="log", yscale="log", xlabel="edges", ylabel="extra peak memory (MiB)",
             title="peak memory of an iteration (RSS high-water mark)")
    ax_m.text(0.02, 0.02, "points at 0.1: below the RSS counters' resolution (~0.25 MiB)", transform=ax_m.transAxes,
              fontsize=7, alpha=0.7)
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("dependency loss + expected usage, forward + backward (nodes = edges / 10)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-edges", type=float, default=1e7)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch / numba threads (0: their defaults)")
    ap.add_argument("--backends", default="", help="comma list (default: every available one)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per (backend, size) run")
    ap.add_argument("--out", default=str(RESULTS / "scaling.csv"))
    ap.add_argument("--plot-only", action="store_true", help="redraw the PNG from the CSV")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--edges", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--part", default="both", choices=["both", "dependency", "usage"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return 0

    if args.plot_only:
        with Path(args.out).open() as fh:
            rows = [{k: (v if k in ("backend", "device", "dtype", "memory_method") else float(v)) for k, v in r.items()}
                    for r in csv.DictReader(fh)]
        plot(rows, Path(args.out).with_suffix(".png"))
        return 0

    import torch

    runs = [(b, "cpu") for b in backends("cpu") if b != "triton"]
    if torch.cuda.is_available():
        runs += [(b, "cuda") for b in backends("cuda") if b == "triton"]
    if args.backends:
        keep = set(args.backends.split(","))
        runs = [r for r in runs if r[0] in keep]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    print(f"{'backend':8} {'device':6} {'edges':>10} {'nodes':>9} {'s/iter':>9} {'dep s':>8} {'usage s':>8} "
          f"{'Medges/s':>9} {'peak MiB':>9}", flush=True)
    for backend, device in runs:
        for n in sizes(args.max_edges):
            cmd, env = child_command(backend, n, args.dtype, args.repeats, args.threads, device, "both", args.seed)
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{backend:8} {device:6} {n:>10}  timed out after {args.timeout:.0f} s; stopping this backend")
                break
            if proc.returncode != 0:
                print(f"{backend:8} {device:6} {n:>10}  failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
                break
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{backend:8} {device:6} {n:>10} {row['nodes']:>9} {row['seconds_median']:>9.4f} "
                  f"{row['dependency_seconds']:>8.4f} {row['usage_seconds']:>8.4f} {row['edges_per_second'] / 1e6:>9.2f} "
                  f"{row['peak_extra_mib']:>9.1f}", flush=True)
            with out.open("w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=FIELDS)
                w.writeheader()
                w.writerows(rows)
    if rows:
        plot(rows, out.with_suffix(".png"))
        print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
