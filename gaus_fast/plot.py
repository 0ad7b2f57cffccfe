"""A picture of a schedule: a Gantt chart over the per-step resource profile, against the limits."""
from __future__ import annotations

import numpy as np

from .problem import Problem
from .schedule import Schedule

MAX_GANTT_ROWS = 400  # beyond this a Gantt chart is unreadable; show the profile of starts per type instead


def _profile(starts: np.ndarray, holds: np.ndarray, length: int, weights: np.ndarray | None = None) -> np.ndarray:
    diff = np.zeros(length + 1)
    w = np.ones(len(starts)) if weights is None else weights
    np.add.at(diff, starts, w)
    np.add.at(diff, np.minimum(starts + holds, length), -w)
    return np.cumsum(diff)[:length]


def plot_schedule(problem: Problem, schedule: Schedule, path: str, title: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start, lat = schedule.start, problem.latency
    length = int((start + np.maximum(lat, 1)).max()) if problem.n_ops else 1
    limited = [r for r, res in enumerate(problem.resource_types) if res.limit is not None]
    fig, (ax_g, ax_p) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    types = [t.name for t in problem.operator_types]
    colors = plt.get_cmap("tab10")
    if problem.n_ops <= MAX_GANTT_ROWS:
        order = np.lexsort((problem.op_type, start))
        for row, i in enumerate(order):
            ax_g.barh(row, max(lat[i], 1) if lat[i] else 0.9, left=start[i], color=colors(problem.op_type[i] % 10), edgecolor="black", linewidth=0.3)
        ax_g.set_ylabel("operation (by start)")
        ax_g.set_yticks([])
        ax_g.invert_yaxis()
        handles = [plt.Rectangle((0, 0), 1, 1, color=colors(k % 10)) for k in range(len(types))]
        ax_g.legend(handles, types, loc="upper right", fontsize=8, ncol=min(len(types), 6))
    else:
        for k, name in enumerate(types):
            mask = problem.op_type == k
            if mask.any():
                ax_g.plot(np.arange(length), np.bincount(start[mask], minlength=length)[:length], label=name, color=colors(k % 10), lw=0.8)
        ax_g.set_ylabel("ops starting per step")
        ax_g.legend(loc="upper right", fontsize=8)
    steps = np.arange(length)
    if limited:
        use_op, use_len = problem.use_op, problem.use_len
        for k, r in enumerate(limited):
            mask = problem.use_res == r
            prof = _profile(start[use_op[mask]], use_len[mask], length)
            line = ax_p.step(steps, prof, where="post", label=problem.resource_types[r].name, color=colors(k % 10))
            ax_p.axhline(problem.resource_types[r].limit, color=line[0].get_color(), ls="--", lw=0.8)
        ax_p.set_ylabel("units in use (dashed: limit)")
    else:
        prof = np.bincount(start, weights=problem.op_weight, minlength=length)[:length]
        ax_p.step(steps, prof, where="post", label="weighted usage", color="tab:blue")
        ax_p.axhline(prof.max(), color="tab:red", ls="--", lw=0.8, label=f"peak {prof.max():g}")
        ax_p.axhline(problem.op_weight.sum() / max(length, 1), color="gray", ls=":", lw=0.8, label="mean")
        ax_p.set_ylabel("sum of weights starting")
    ax_p.set_xlabel("step")
    ax_p.legend(loc="upper right", fontsize=8)
    fig.suptitle(title or f"{problem.name}: {problem.n_ops} ops, {problem.n_edges} edges")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
