"""The memory objective (peak live bits within D stages) on EPFL circuits and the ICML'24 graphs, against ASAP,
ALAP and list scheduling, every schedule checked by the independent verifier.

    python perf/run_memory.py --time-limit 45 [--only adder bar]

Each instance runs in a fresh process through the CLI (``gaus-fast solve --objective memory``), start-up included,
once with the time limit and once with ``--max-iters 0`` (the best baseline after the discrete local search, no
gradient steps: what the relaxation adds on top). Writes perf/results/memory.csv and memory.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gaus_fast.data import dataset  # noqa: E402

INSTANCES = [
    ("epfl-combinational", "aig/arithmetic/adder.aig"),
    ("epfl-combinational", "aig/arithmetic/bar.aig"),
    ("epfl-combinational", "aig/arithmetic/max.aig"),
    ("epfl-combinational", "aig/arithmetic/sin.aig"),
    ("epfl-combinational", "aig/random_control/router.aig"),
    ("epfl-combinational", "aig/arithmetic/div.aig"),
    ("icml24-differentiable-scheduler", "graphgml/rand_graph_1000_1.gml"),
    ("icml24-differentiable-scheduler", "graphgml/rand_graph_5000_1.gml"),
    ("icml24-differentiable-scheduler", "graphgml/rand_graph_10000_1.gml"),
    ("icml24-differentiable-scheduler", "graphgml/rand_graph_sparse_10000_1.gml"),
]


def solve(path: Path, args, extra: list[str]) -> tuple[dict | None, float, str]:
    out = Path(args.workdir) / f"{path.stem}{'_0' if extra else ''}.json"
    cmd = [sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--objective", "memory", "--time-limit",
           str(args.time_limit), "--seed", str(args.seed), "--out", str(out), "--quiet", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return None, wall, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return json.loads(out.read_text()), wall, "ok"


def pct(better: float, worse: float) -> float:
    return 100.0 * (1.0 - better / worse) if worse and math.isfinite(worse) else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=45.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="instance stems to run")
    ap.add_argument("--workdir", default="/tmp/gaus_memory_runs")
    args = ap.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    rows = []
    for folder, rel in INSTANCES:
        path = dataset(folder) / rel
        if args.only and path.stem not in args.only:
            continue
        if not path.exists():
            sys.exit(f"benchmark data not found at {path} (set GAUS_FAST_DATA)")
        data, wall, status = solve(path, args, [])
        polish, _, _ = solve(path, args, ["--max-iters", "0"])
        if data is None:
            rows.append({"instance": path.stem, "status": status, "wall_s": round(wall, 1)})
            print(rows[-1], flush=True)
            continue
        obj, base = data["objective"], data["objective"]["baselines"]
        best_list = base.get("list", math.nan)
        row = {
            "instance": path.stem,
            "set": "epfl" if folder.startswith("epfl") else "icml",
            "ops": len(data["start"]),
            "depth": obj["depth"],
            "peak_live_bits": obj["peak_live_bits"],
            "lower_bound": obj["lower_bound"],
            "asap": base.get("asap"),
            "alap": base.get("alap"),
            "list": best_list,
            "baseline+local_search": polish["objective"]["peak_live_bits"] if polish else math.nan,
            "vs_list_pct": round(pct(obj["peak_live_bits"], best_list), 1),
            "vs_asap_pct": round(pct(obj["peak_live_bits"], base.get("asap", math.nan)), 1),
            "vs_best_baseline_pct": round(pct(obj["peak_live_bits"], min(v for v in base.values() if v == v)), 1),
            "total_live_bits": obj["total_live_bits"],
            "iterations": data["solver"]["iterations"],
            "wall_s": round(wall, 1),
            "verified": data["verified"],
            "status": status,
        }
        rows.append(row)
        print(row, flush=True)
    out = ROOT / "perf" / "results"
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "memory.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    write_markdown(rows, "python3 perf/run_memory.py --time-limit " + f"{args.time_limit:g}"
                   + (f" --only {' '.join(args.only)}" if args.only else ""), args.seed)


NOTES = """
Columns: `peak_live_bits` is ours (verified by `gaus_fast.verify`, which counts op i's bits at step d when
`t_i <= d < max_j t_j` over its consumers j); `asap`, `alap`, `list` (the best of the list schedules: critical-path
priority cycle- and operation-driven, and the objective-A capacity list schedule) are scored by the same metric;
`baseline+local_search` is the `--max-iters 0` run (best baseline after the live-bits local search, no gradient
steps); `vs_list_pct` / `vs_asap_pct` = 1 - ours / baseline. `lower_bound` = max(largest bits of an op with consumers,
ceil(sum of minimum lifetimes x bits / D), bits surely live at one step).

Conventions: D = nodes on the longest path (the objective-A default); every dependence takes at least one step
(the AIGER and GML graphs have latency 0, and with same-step chaining nothing would be live). Bit widths: the AIGER
and GML readers set none, so every op has the Problem default of 32 bits: divide by 32 for live signals. The runs
share 2 CPU cores with other jobs (numba backend); times and iteration counts are of that machine.
"""


def write_markdown(rows: list[dict], cmd: str, seed: int) -> None:
    out = ROOT / "perf" / "results"
    cols = ["instance", "ops", "depth", "peak_live_bits", "lower_bound", "asap", "alap", "list", "baseline+local_search",
            "vs_list_pct", "vs_asap_pct", "wall_s", "verified"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    for key in ("list", "asap"):
        ratios = [float(r["peak_live_bits"]) / float(r[key]) for r in rows if r.get(key) not in (None, "", "nan")
                  and float(r[key]) > 0 and "peak_live_bits" in r]
        if ratios:
            gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            lines.append(f"\nGeometric mean of ours / {key}: {gm:.3f} ({100 * (1 - gm):.1f}% fewer peak live bits, "
                         f"{len(ratios)} instances; smallest gain {100 * (1 - max(ratios)):.1f}%).")
    (out / "memory.md").write_text(
        "# Memory objective (peak live bits within D stages)\n\n"
        f"Command: `{cmd}` (seed {seed}; each instance in a fresh process through the CLI, wall time includes "
        "start-up and the `--max-iters 0` run is separate).\n\n" + "\n".join(lines) + "\n" + NOTES)


if __name__ == "__main__":
    main()
