"""GS-Schedule (Liu et al., ICML 2024): the categorical Gumbel-softmax scheduler that GauS compares against.

A reimplementation for comparison, following /work/shared/docs/gs-schedule.md (what the public code does), but
vectorised: one ``[N, B, D]`` tensor of logits (N nodes, a batch of B samples, D stages) and the
predecessor masks applied level by level over the edge list, instead of one generated Python statement per node.

* **Parameters.** Logits one-hot at stage 0, times 10 for nodes without predecessors.
* **Sampling** in topological levels. Sources: ``gumbel_softmax(logits, tau, hard=True)``. Other nodes:
  ``g = softmax((logits + Gumbel) / tau)``, then per predecessor p ``g *= bias * c_p`` with the decreasing bias
  ``log([D+1, D, ..., 2])`` and ``c_p = cumsum(n_p)`` (zero before p's stage), then ``softmax(g)`` and a
  straight-through hard argmax. Samples are legal by construction (``s_u <= s_v``) as long as the first softmax
  does not underflow to 0 on every legal stage (a large tau, as the original's 50); decodes are checked anyway.
* **Loss** per sample: ``communication + ratio * balance``; balance = ``sum_d (S_d/M) log(S_d/M)`` with
  ``S_d = sum_v w_v n_v[d] (+1e-10)`` and ``M = sum_v w_v``; communication = ``sum over flagged edges and
  boundaries k < D-1 of c_u[k] (1 - c_v[k])`` (the boundaries the edge crosses), divided by the number of flagged
  edges; the batch mean is minimised.
* **Training.** AdamW(lr), CosineAnnealingLR(T_max=50, eta_min=1e-7) stepped every epoch (so it keeps cycling),
  500 epochs, fixed tau, seed 30. Each epoch the batch row of least loss is decoded (argmax stages); it is kept
  when its peak stage weight is no worse than the best so far (the original's rule; ``keep="objective"`` keeps by
  objective A instead) and it is legal.

Objective A here is ``peak + alpha * comm`` with ``alpha = 1 / ratio`` (the ICML'24 ``ratio * peak + comm``
divided by ``ratio``); edge weights are the problem's communication weights (1 for flagged edges in GML/AIGER).
The original trains in mixed precision; this runs in float32 (``dtype`` to change). The memory it needs
grows as N x B x D; `GSResult.memory` reports the peak (CUDA allocator peak, or the process's peak RSS on CPU)
and the size of the main tensors.
"""
from __future__ import annotations

import math
import resource
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import bounds, score, verify
from .problem import Problem, ProblemError
from .schedule import Schedule

# torch calls index_reduce "beta" on every use; its "prod" (with autograd) is exactly the predecessor mask
warnings.filterwarnings("ignore", message="index_reduce")


@dataclass
class GSConfig:
    depth: int | None = None  # D stages (default: nodes on the longest path, as the ICML'24 scripts)
    alpha: float = 0.01  # objective A's communication weight; the original's ratio = 1 / alpha
    epochs: int = 500
    batch: int = 250
    tau: float = 50.0
    lr: float = 1.0
    t_max: int = 50  # cosine annealing period (epochs)
    eta_min: float = 1e-7
    seed: int = 30
    time_limit: float = math.inf  # seconds; stops after the epoch that crosses it
    keep: str = "peak"  # "peak" (the original's rule) or "objective"
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    threads: int = 1  # torch CPU threads (its many small per-level ops gain nothing from more on small CPUs)

    def __post_init__(self) -> None:
        if self.keep not in ("peak", "objective"):
            raise ProblemError(f"keep must be 'peak' or 'objective', got {self.keep!r}")
        for name in ("epochs", "batch", "t_max"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ProblemError(f"{name} must be an integer >= 1, got {v!r}")
        for name in ("tau", "lr", "time_limit"):
            if not getattr(self, name) > 0:
                raise ProblemError(f"{name.replace('_', ' ')} must be > 0, got {getattr(self, name)}")
        if self.depth is not None and (isinstance(self.depth, bool) or not isinstance(self.depth, (int, np.integer)) or self.depth < 1):
            raise ProblemError(f"depth must be an integer >= 1, got {self.depth!r}")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ProblemError(f"alpha must be a finite number > 0 (ratio = 1 / alpha), got {self.alpha}")


@dataclass
class GSResult:
    start: np.ndarray | None  # stages, legal (s_u <= s_v, s < D), or None when no epoch gave a legal sample
    value: float  # objective A (peak + alpha * comm) of start
    peak: float
    communication: float
    depth: int
    epochs: int
    seconds: float
    memory: dict = field(default_factory=dict)
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best objective A so far)

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.start)


class _Levels:
    """Topological levels and, per level, the incoming edges (predecessor index, local destination index)."""

    def __init__(self, problem: Problem, device):
        src, dst, lag = bounds._intra(problem)
        if np.any(lag > 0):
            raise ProblemError("GS-Schedule assigns stages with s_u <= s_v: it needs latency-0 dependences "
                               "without delays (ICML'24 GML and AIGER graphs)")
        n = problem.n_ops
        pairs = np.unique(np.stack([src, dst], 1).astype(np.int64), axis=0) if len(src) else np.zeros((0, 2), np.int64)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        src, dst = pairs[:, 0], pairs[:, 1]
        level = bounds._core.asap(n, src, dst, np.ones(len(src), np.int64)).astype(np.int64)
        self.n_levels = int(level.max(initial=-1)) + 1
        indeg = np.bincount(dst, minlength=n)
        self.indeg = torch.as_tensor(indeg, device=device)
        self.nodes, self.pred, self.local = [], [], []
        order = np.argsort(level, kind="stable")
        bounds_ = np.searchsorted(level[order], np.arange(self.n_levels + 1))
        e_order = np.argsort(level[dst], kind="stable")
        e_bounds = np.searchsorted(level[dst][e_order], np.arange(self.n_levels + 1))
        pos = np.empty(n, np.int64)
        for k in range(self.n_levels):
            nodes = order[bounds_[k]:bounds_[k + 1]]
            pos[nodes] = np.arange(len(nodes))
            e = e_order[e_bounds[k]:e_bounds[k + 1]]
            self.nodes.append(torch.as_tensor(nodes, device=device))
            self.pred.append(torch.as_tensor(src[e], device=device))
            self.local.append(torch.as_tensor(pos[dst[e]], device=device))


def _gumbel(shape, generator, device, dtype):
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype).clamp_(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def _sample(logits: torch.Tensor, lv: _Levels, tau: float, bias: torch.Tensor, gumbel: torch.Tensor):
    """One batch of legal samples: (n, c), both [N, B, D]: one-hot stages (straight-through) and their cumsums.
    ``gumbel``: the [N, B, D] Gumbel noise of this epoch."""
    N, B, D = logits.shape
    n_all = torch.zeros_like(logits)
    c_all = torch.zeros_like(logits)
    for k in range(lv.n_levels):
        idx = lv.nodes[k]
        lg = logits[idx]
        noise = gumbel[idx]
        if k == 0:  # no predecessors: gumbel_softmax(hard=True), with our generator's noise
            y = F.softmax((lg + noise) / tau, -1)
        else:
            g = F.softmax((lg + noise) / tau, -1)
            g = g * bias.pow(lv.indeg[idx].to(bias.dtype)[:, None, None])
            mask = torch.ones_like(g).index_reduce(0, lv.local[k], c_all[lv.pred[k]], "prod")
            y = F.softmax(g * mask, -1)
        hard = F.one_hot(y.argmax(-1), D).to(y.dtype)
        n = hard - y.detach() + y
        n_all.index_copy_(0, idx, n)
        c_all.index_copy_(0, idx, torch.cumsum(n, -1))
    return n_all, c_all


def _memory_now(device: str) -> dict:
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    if str(device).startswith("cuda"):
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def gs_schedule(problem: Problem, config: GSConfig | None = None) -> GSResult:
    """Train GS-Schedule on ``problem`` (objective A) and return the best legal stage assignment it decoded."""
    config = config or GSConfig()
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(config.threads)))
    try:
        return _train(problem, config)
    finally:
        torch.set_num_threads(previous)


def _train(problem: Problem, config: GSConfig) -> GSResult:
    from .solver import default_depth

    t0 = time.perf_counter()
    device = torch.device(config.device)
    depth = int(config.depth or problem.depth or default_depth(problem))
    bounds.check_depth(problem, depth)
    if problem.has_limits():
        raise ProblemError("GS-Schedule has no resource limits: use a problem without unit limits")
    lv = _Levels(problem, device)
    N, B, D = problem.n_ops, int(config.batch), depth
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    generator = torch.Generator(device=device).manual_seed(int(config.seed))
    torch.manual_seed(int(config.seed))
    dt = config.dtype
    w = torch.as_tensor(problem.op_weight, device=device, dtype=dt)
    M = w.sum().clamp_min(1e-10)
    ratio = 1.0 / config.alpha
    flagged = np.flatnonzero((problem.edge_comm > 0) & (problem.edge_distance == 0))
    fs = torch.as_tensor(problem.edge_src[flagged].astype(np.int64), device=device)
    fd = torch.as_tensor(problem.edge_dst[flagged].astype(np.int64), device=device)
    fw = torch.as_tensor(problem.edge_comm[flagged], device=device, dtype=dt)
    n_flag = max(len(flagged), 1)
    bias = torch.log(torch.arange(D + 1, 1, -1, device=device, dtype=dt))  # log([D+1, D, ..., 2])

    init = torch.zeros(N, B, D, device=device, dtype=dt)
    init[:, :, 0] = 1.0
    init[(lv.indeg == 0).nonzero().reshape(-1)] *= 10.0
    logits = torch.nn.Parameter(init)
    opt = torch.optim.AdamW([logits], lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.t_max, eta_min=config.eta_min)
    src_np, dst_np = problem.edge_src.astype(np.int64), problem.edge_dst.astype(np.int64)
    best_start, best_peak, best_value = None, math.inf, math.inf
    history = []
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        n_all, c_all = _sample(logits, lv, config.tau, bias, _gumbel((N, B, D), generator, device, dt))
        S = torch.einsum("nbd,n->bd", n_all, w) + 1e-10
        balance = (S / M * torch.log(S / M)).sum(-1)  # [B]
        if len(flagged):
            cross = c_all[fs, :, : D - 1] * (1.0 - c_all[fd, :, : D - 1])  # [E_f, B, D-1]
            comm = torch.einsum("ebk,e->b", cross, fw) / n_flag
        else:
            comm = torch.zeros(B, device=device, dtype=dt)
        total = comm + ratio * balance
        loss = total.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        # decode the best row of this epoch
        with torch.no_grad():
            b = int(torch.argmin(total))
            stages = n_all[:, b].argmax(-1).cpu().numpy().astype(np.int64)
        peak = score.peak_weighted(problem, stages)
        value = score.objective_a(problem, stages, config.alpha)
        better = peak <= best_peak if config.keep == "peak" else value < best_value
        if better and np.all(stages[dst_np] >= stages[src_np]) and stages.max(initial=0) < D:
            best_start, best_peak, best_value = stages, peak, value
        history.append((time.perf_counter() - t0, best_value))
        if time.perf_counter() - t0 > config.time_limit:
            break
    memory = _memory_now(config.device)
    elt = torch.finfo(dt).bits // 8
    memory["logits_mb"] = N * B * D * elt / 2**20
    memory["batch"], memory["nodes"], memory["stages"] = B, N, D
    if best_start is None:
        return GSResult(None, math.inf, math.inf, math.inf, depth, epoch, time.perf_counter() - t0, memory, history)
    # the independent verifier has the last word on legality
    lines = verify.check(problem.replace(depth=depth), Schedule(best_start))
    if lines:
        raise AssertionError(f"GS-Schedule decoded an illegal schedule: {lines[0]}")
    return GSResult(best_start, float(best_value), float(best_peak), float(score.communication(problem, best_start)),
                    depth, epoch, time.perf_counter() - t0, memory, history)
