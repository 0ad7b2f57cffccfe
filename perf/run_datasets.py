"""Run gaus_fast on the shared benchmark sets and write what it reached, verified, as CSV and markdown.

    python perf/run_datasets.py heurigym --time-limit 8
    python perf/run_datasets.py icml --time-limit 60
    python perf/run_datasets.py epfl --time-limit 60 [--only div hyp]

Each instance is solved in a fresh process (a fair wall-clock time, start-up included) through the CLI's own
code path, then checked by the independent verifier. Results go to perf/results/<set>.csv and <set>.md.
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

SETS = {
    "heurigym": ("heurigym-operator-scheduling", "json/*/*.json", "latency"),
    "icml": ("icml24-differentiable-scheduler", "graphgml/*.gml", "A"),
    "epfl": ("epfl-combinational", "aig/*/*.aig", "A"),
}


def instances(name: str) -> list[Path]:
    folder, pattern, _ = SETS[name]
    root = dataset(folder)
    if not root.exists():
        sys.exit(f"benchmark data not found at {root} (set GAUS_FAST_DATA)")
    return sorted(root.glob(pattern), key=lambda p: p.stat().st_size)


def run_one(path: Path, objective: str, args) -> dict:
    out = Path(args.workdir) / (path.stem + ".json")
    cmd = [sys.executable, "-m", "gaus_fast.cli", "solve", str(path), "--objective", objective, "--time-limit",
           str(args.time_limit), "--seed", str(args.seed), "--out", str(out), "--quiet"]
    if args.patience:
        cmd += ["--patience", str(args.patience)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"instance": path.stem, "status": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}", "wall_s": wall}
    data = json.loads(out.read_text())
    obj = data["objective"]
    row = {
        "instance": path.stem,
        "ops": len(data["start"]),
        "objective": objective,
        "value": obj["value"],
        "lower_bound": obj["lower_bound"],
        **{f"base_{k}": v for k, v in obj["baselines"].items()},
        "verified": data["verified"],
        "iterations": data["solver"]["iterations"],
        "ms_per_iter": 1e3 * data["solver"]["seconds_per_iteration"],
        "wall_s": round(wall, 2),
        "status": "ok",
    }
    if objective == "A":
        row.update(peak=obj["peak_weighted"], comm=obj["communication"], depth=obj["depth"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("set", choices=sorted(SETS))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="instance names (file stems) to run")
    parser.add_argument("--workdir", default="/tmp/gaus_fast_runs")
    parser.add_argument("--results", default=str(ROOT / "perf" / "results"))
    args = parser.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    Path(args.results).mkdir(parents=True, exist_ok=True)
    objective = SETS[args.set][2]
    rows = []
    baseline_opt = {}
    if args.set == "heurigym":
        baseline_opt = json.loads((dataset(SETS["heurigym"][0]) / "baseline.json").read_text())
    for path in instances(args.set):
        if args.only and path.stem not in args.only:
            continue
        row = run_one(path, objective, args)
        if baseline_opt and row.get("status") == "ok":
            row["reference"] = baseline_opt.get(path.stem)
            row["score"] = min(1.0, row["reference"] / row["value"]) if row["reference"] else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    stem = Path(args.results) / args.set
    with open(f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    with open(f"{stem}.md", "w") as f:
        f.write(f"Command: `python perf/run_datasets.py {' '.join(sys.argv[1:])}`\n\n")
        f.write("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys) + "\n")
        for r in rows:
            f.write("| " + " | ".join(_cell(r.get(k)) for k in keys) + " |\n")
        scores = [r["score"] for r in rows if r.get("score")]
        if scores:
            gm = math.exp(sum(math.log(s) for s in scores) / len(scores))
            f.write(f"\nGeometric-mean score: {gm:.4f} over {len(scores)} instances\n")
            print(f"geometric-mean score {gm:.4f}")


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return "" if v is None else str(v)


if __name__ == "__main__":
    main()
