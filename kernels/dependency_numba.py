"""Fused CPU kernel of the dependence loss (numba): value and gradient in one pass over the edges.

Layout as in Liger-Kernel: `dependency_forward_kernel` computes, per edge ``e = (u, v)``,

    m = mu_u + lag_e - mu_v,   s = sqrt(sigma_u^2 + sigma_v^2),   v_e = E[(N(m, s^2))+]
    L += mult_e v_e + rho/2 v_e^2  (+ alpha w_e (mu_v - mu_u))
    dL/dv = mult_e + rho v_e,  dv/dm = Phi(m/s),  dv/ds = phi(m/s),  ds/dsigma_u = sigma_u / s

and scatters the gradient into per-node buffers; the autograd backward only scales the saved per-node gradients
(O(nodes); no per-edge tensor is kept) by the incoming gradient. With ``multiplier_step > 0`` each multiplier is
raised in place, in the same pass, after its old value entered the loss: ``mult_e <- min(mult_e + step v_e, cap)``.
The Gaussian terms come from `_numba_math` (one ``exp`` per edge serves both phi and Phi; tails as the reference).

Parallelism and determinism: the edges are cut into ``n_chunks`` static contiguous chunks run under
``numba.prange``; chunk c scatters into its own gradient rows (``n_chunks x n_nodes x 2`` float64 scratch), then the rows
and the per-chunk partial losses are summed in chunk order. The result therefore depends only on ``n_chunks``, never
on thread scheduling: runs are bit-identical for a fixed thread count (``n_chunks`` = ``numba.get_num_threads()``,
fewer for small graphs, see `n_chunks_for`). ``deterministic=True`` fixes ``n_chunks`` to `DETERMINISTIC_CHUNKS`
whatever the thread count, so results are also bit-identical across thread counts (for a given edge count).

Dtypes: float32 or float64 tensors (float16/bfloat16 are upcast to float32). Tensors are read in place (zero-copy
``.numpy()`` views when contiguous); the per-edge arithmetic runs in float64 registers for both (a scalar CPU loop
pays nothing for it) and the gradients accumulate in float64, then come back in the input dtype. ``src``/``dst``
int32 or int64. Threads: see `_numba_math` (workqueue layer, `LAUNCH_LOCK`). Edges naming a node outside ``[0, n)`` raise IndexError (negative indices are not wrapped).
"""
from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import njit, prange
from numba.np.numpy_support import carray

from ._numba_math import BLOCK, LAUNCH_LOCK, excess_and_slopes_simd, stack_block

DETERMINISTIC_CHUNKS = 4
MIN_EDGES_PER_CHUNK = 32768  # small graphs: fewer chunks, less scratch to zero and reduce


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def edge_chunk(ms, src, dst, lag, mult, rho, comm, alpha, step, cap, lo, hi, g):
    """Edges [lo, hi): accumulate dL/dmu, dL/dsigma into g[:, 0], g[:, 1]; return (loss of the chunk, out-of-range
    edges). ``ms`` holds (mu_i, sigma_i) side by side: an endpoint's two loads (and two gradient updates) share a
    cache line, which matters because random endpoints miss the caches (gathers are most of the time at 1M edges).

    Blocks of `BLOCK` edges in two loops: (1) the per-edge Gaussian math, branch-free and writing only stack
    buffers, which LLVM vectorises (gathers of the endpoints' mu and sigma, `excess_and_slopes_simd`); (2) a
    scalar loop in edge order that scatters into the per-node gradients, sums the loss and updates the
    multipliers. ``comm`` empty means no communication term, ``step <= 0`` no multiplier update. An edge naming
    a node outside [0, n) reads node 0 in loop (1) (a safe load) and is skipped and counted in loop (2).
    """
    n = ms.shape[0]
    has_comm = comm.shape[0] > 0 and alpha != 0.0
    update = step > 0.0
    half_rho = 0.5 * rho
    # No communication: read one zero weight (stride 0) instead of branching inside the vector loop.
    cstride = 1 if has_comm else 0
    if not has_comm:
        alpha = 0.0
        comm = np.zeros(1, lag.dtype)
    g_mu = carray(stack_block(np.float64), BLOCK)  # dL/dmu_u (dL/dmu_v is its negative)
    g_su = carray(stack_block(np.float64), BLOCK)  # dL/dsigma_u
    g_sv = carray(stack_block(np.float64), BLOCK)  # dL/dsigma_v
    l_e = carray(stack_block(np.float64), BLOCK)  # loss of the edge
    v_e = carray(stack_block(np.float64), BLOCK)  # violation of the edge (multiplier update)
    m_e = carray(stack_block(np.float64), BLOCK)  # mu_u - mu_v
    s_u = carray(stack_block(np.float64), BLOCK)  # sigma_u
    s_v = carray(stack_block(np.float64), BLOCK)  # sigma_v
    acc = 0.0
    n_bad = 0
    for b0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - b0)
        for j in range(nb):  # (0) scalar gathers of the endpoints (scalar loads overlap misses better)
            e = b0 + j
            u = src[e]
            v = dst[e]
            u = u if (u >= 0) & (u < n) else 0
            v = v if (v >= 0) & (v < n) else 0
            m_e[j] = np.float64(ms[u, 0]) - np.float64(ms[v, 0])
            s_u[j] = np.float64(ms[u, 1])
            s_v[j] = np.float64(ms[v, 1])
        for j in range(nb):  # (1) vectorised
            e = b0 + j
            su = s_u[j]
            sv = s_v[j]
            d_uv = m_e[j]
            m = d_uv + np.float64(lag[e])
            s = math.sqrt(su * su + sv * sv)
            val, cdf, pdf = excess_and_slopes_simd(m, s)
            me = np.float64(mult[e])
            aw = alpha * np.float64(comm[e * cstride])
            dv = me + rho * val  # dL/dv
            g_s = dv * pdf / s  # dL/ds / s
            g_mu[j] = dv * cdf - aw  # dL/dm - alpha w
            g_su[j] = g_s * su
            g_sv[j] = g_s * sv
            l_e[j] = me * val + half_rho * val * val - aw * d_uv
            v_e[j] = val
        for j in range(nb):  # (2) scalar, in edge order
            e = b0 + j
            u = src[e]
            v = dst[e]
            if u < 0 or u >= n or v < 0 or v >= n:
                n_bad += 1
                continue
            acc += l_e[j]
            g[u, 0] += g_mu[j]
            g[v, 0] -= g_mu[j]
            g[u, 1] += g_su[j]
            g[v, 1] += g_sv[j]
            if update:
                nm = np.float64(mult[e]) + step * v_e[j]
                mult[e] = cap if nm > cap else nm  # NaN stays NaN, like torch.clamp
    return acc, n_bad


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def dependency_forward_kernel(mu, sigma, src, dst, lag, mult, rho, comm, alpha, step, cap, n_chunks):
    """(loss, grad_mu, grad_sigma, n_bad): float64 loss and gradients; ``mult`` updated in place when ``step > 0``.

    ``comm`` is empty when there is no communication term. Edges with a node index outside [0, n) are skipped
    and counted in ``n_bad`` (the caller raises). Chunk c of the static partition scatters into its own row.
    """
    n = mu.shape[0]
    n_edges = src.shape[0]
    ms = np.empty((n, 2), mu.dtype)  # (mu, sigma) interleaved: O(nodes), ~0.2 ms at 100k nodes
    ms[:, 0] = mu
    ms[:, 1] = sigma
    grad = np.zeros((n_chunks, n, 2), np.float64)  # chunk c's (dL/dmu, dL/dsigma) per node
    partial = np.zeros(n_chunks, np.float64)
    bad = np.zeros(n_chunks, np.int64)
    per = (n_edges + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * per, n_edges)
        hi = min(lo + per, n_edges)
        acc, n_bad = edge_chunk(ms, src, dst, lag, mult, rho, comm, alpha, step, cap, lo, hi, grad[c])
        partial[c] = acc
        bad[c] = n_bad
    for c in range(1, n_chunks):  # serial, in chunk order (vectorised; a second prange costs compile time)
        grad[0] += grad[c]
    loss = 0.0
    n_bad = 0
    for c in range(n_chunks):
        loss += partial[c]
        n_bad += bad[c]
    return loss, grad[0, :, 0].copy(), grad[0, :, 1].copy(), n_bad


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """float32 / float64 as given; other floating types run as float32."""
    return t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32


def as_numpy(t: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """Zero-copy numpy view when ``t`` already is a contiguous CPU tensor of ``dtype`` (else one copy)."""
    return t.detach().to(device="cpu", dtype=dtype).contiguous().numpy()


def index_arrays(*idx: torch.Tensor) -> list[np.ndarray]:
    """int32 or int64 index arrays, all of one dtype (mixed or other integer types become int64)."""
    dts = {t.dtype for t in idx}
    dt = dts.pop() if len(dts) == 1 else torch.int64
    if dt not in (torch.int32, torch.int64):
        dt = torch.int64
    return [as_numpy(t, dt) for t in idx]


def n_chunks_for(n_items: int, deterministic: bool, min_per_chunk: int = MIN_EDGES_PER_CHUNK) -> int:
    """Static chunk count: the numba thread count (`DETERMINISTIC_CHUNKS` when deterministic), fewer for small inputs."""
    threads = DETERMINISTIC_CHUNKS if deterministic else numba.get_num_threads()
    return max(1, min(threads, -(-n_items // min_per_chunk)))


def dependency_forward(mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha, multiplier_step, multiplier_cap, deterministic):
    """Run the kernel on tensors: (loss: float, grad_mu, grad_sigma: float64 tensors); updates ``multiplier``."""
    if mu.dim() != 1 or sigma.shape != mu.shape:
        raise ValueError(f"mu and sigma must be 1-d of the same length, got {tuple(mu.shape)} and {tuple(sigma.shape)}")
    if src.dim() != 1:
        raise ValueError(f"src must be 1-d, got shape {tuple(src.shape)}")
    n_edges = src.shape[0]
    for name, t in (("dst", dst), ("lag", lag), ("multiplier", multiplier)):
        if tuple(t.shape) != (n_edges,):
            raise ValueError(f"{name} must have shape ({n_edges},), got {tuple(t.shape)}")
    use_comm = comm_weight is not None and alpha != 0.0
    if use_comm and tuple(comm_weight.shape) != (n_edges,):
        raise ValueError(f"comm_weight must have shape ({n_edges},), got {tuple(comm_weight.shape)}")
    dtype = compute_dtype(mu)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    s, d = index_arrays(src, dst)
    step = float(multiplier_step) if multiplier_step > 0 else 0.0
    # Updated in place through a zero-copy view when possible, else on a copy in the compute dtype, copied back.
    direct = multiplier.device.type == "cpu" and multiplier.dtype == dtype and multiplier.is_contiguous()
    mult = multiplier.detach().numpy() if direct else as_numpy(multiplier, dtype).copy()
    comm = as_numpy(comm_weight, dtype) if use_comm else np.zeros(0, np_dtype)
    args = (as_numpy(mu, dtype), as_numpy(sigma, dtype), s, d, as_numpy(lag, dtype), mult, float(rho), comm,
            float(alpha) if use_comm else 0.0, step, float(multiplier_cap), n_chunks_for(n_edges, deterministic))
    with LAUNCH_LOCK:
        loss, gmu, gsig, n_bad = dependency_forward_kernel(*args)
    if n_bad:
        raise IndexError(f"{n_bad} edge(s) name a node outside [0, {mu.shape[0]})")
    if step > 0 and not direct:
        with torch.no_grad():
            multiplier.copy_(torch.from_numpy(mult))
    return loss, torch.from_numpy(gmu), torch.from_numpy(gsig)


class DependencyLossNumba(torch.autograd.Function):
    """Forward runs the fused kernel and saves grad_mu, grad_sigma (O(nodes)); backward scales them."""

    @staticmethod
    def forward(ctx, mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha, multiplier_step, multiplier_cap, deterministic):
        loss, gmu, gsig = dependency_forward(
            mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha, multiplier_step, multiplier_cap, deterministic
        )
        ctx.save_for_backward(gmu.to(mu.dtype), gsig.to(sigma.dtype))
        return torch.tensor(loss, dtype=mu.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        gmu, gsig = ctx.saved_tensors
        g_mu = gmu * grad_out if ctx.needs_input_grad[0] else None
        g_sigma = gsig * grad_out if ctx.needs_input_grad[1] else None
        return g_mu, g_sigma, None, None, None, None, None, None, None, None, None, None


def dependency_loss_numba(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    lag: torch.Tensor,
    multiplier: torch.Tensor,
    rho: float,
    comm_weight: torch.Tensor | None = None,
    alpha: float = 0.0,
    multiplier_step: float = 0.0,
    multiplier_cap: float = 1e3,
    deterministic: bool = False,
) -> torch.Tensor:
    """``sum_e mult_e v_e + rho/2 v_e^2 (+ alpha sum_e w_e (mu_dst - mu_src))`` as a 0-d tensor (see the module doc).

    Differentiable in ``mu`` and ``sigma``; the semantics of `gaus_fast.relax.dependency_loss` plus the in-place
    multiplier update of `gaus_fast.kernels.dependency_loss`.
    """
    return DependencyLossNumba.apply(
        mu, sigma, src, dst, lag, multiplier, float(rho), comm_weight, float(alpha), float(multiplier_step),
        float(multiplier_cap), bool(deterministic),
    )
