"""Fused CPU kernel of the start/end bounds (numba): ``sum_i E[(lower_i - X_i)+] + E[(X_i - upper_i)+]``.

The semantics of ``gaus_fast.relax.bound_violation(mu, sigma, lower, upper).sum()``: a bound is a dependence on a
fixed start or end, ``E[(N(m, sigma_i^2))+]`` with ``m = lower_i - mu_i`` or ``mu_i - upper_i`` (the depth bound
``t_i + span_i <= D`` of the solver). One pass over the ops computes the value and both gradients
(``dv/dm = Phi(m / sigma)``, ``dv/dsigma = phi(m / sigma)``); the autograd Function keeps only those O(ops)
gradients for backward. Each op writes its own gradient entries, so there is no scatter and no scratch: results are
bit-identical run to run whatever the thread count (the loss is summed per static chunk, then in chunk order).

In torch this term is ~25 small ops forward and backward over all ops (two erfc, two exp, wheres, clamps); on
EPFL ``div`` (57k ops) that was ~9 ms of a solver iteration, against ~0.2 ms here. Arithmetic in float64.
"""
from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange
from numba.np.numpy_support import carray

from ._numba_math import BLOCK, LAUNCH_LOCK, excess_and_slopes_simd, stack_block
from .dependency_numba import as_numpy, compute_dtype, n_chunks_for

MIN_OPS_PER_CHUNK = 16384


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _bound_rows(mu, sigma, lower, upper, lo, hi, g_mu, g_sigma):
    """Ops [lo, hi): gradients into g_mu, g_sigma (their own entries); returns the chunk's loss.

    ``lower`` / ``upper`` have one entry per op or a single one (stride 0). Blocks of `BLOCK` ops: a branch-free
    loop (vectorised) writes each op's loss into a stack buffer, then a short scalar loop sums it in order (a
    float sum inside the first loop would keep LLVM from vectorising it)."""
    ls = 1 if lower.shape[0] > 1 else 0
    us = 1 if upper.shape[0] > 1 else 0
    loss = carray(stack_block(np.float64), BLOCK)
    acc = 0.0
    for b0 in range(lo, hi, BLOCK):
        nb = min(BLOCK, hi - b0)
        for j in range(nb):
            i = b0 + j
            m = np.float64(mu[i])
            s = np.float64(sigma[i])
            v_lo, c_lo, p_lo = excess_and_slopes_simd(np.float64(lower[i * ls]) - m, s)
            v_hi, c_hi, p_hi = excess_and_slopes_simd(m - np.float64(upper[i * us]), s)
            loss[j] = v_lo + v_hi
            g_mu[i] = c_hi - c_lo
            g_sigma[i] = p_lo + p_hi
        for j in range(nb):
            acc += loss[j]
    return acc


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def bound_kernel(mu, sigma, lower, upper, n_chunks):
    """(loss, dL/dmu, dL/dsigma) in float64; static chunks of ops, the loss summed in chunk order."""
    n = mu.shape[0]
    g_mu = np.zeros(n, np.float64)
    g_sigma = np.zeros(n, np.float64)
    partial = np.zeros(n_chunks, np.float64)
    per = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * per, n)
        hi = min(lo + per, n)
        partial[c] = _bound_rows(mu, sigma, lower, upper, lo, hi, g_mu, g_sigma)
    loss = 0.0
    for c in range(n_chunks):
        loss += partial[c]
    return loss, g_mu, g_sigma


def _limit_array(x, n: int, dtype: torch.dtype, name: str) -> np.ndarray:
    t = torch.as_tensor(x, dtype=dtype)
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() != 1 or t.shape[0] not in (1, n):
        raise ValueError(f"{name} must be a number or have shape ({n},), got {tuple(t.shape)}")
    return as_numpy(t, dtype)


class BoundLossNumba(torch.autograd.Function):
    """Forward runs the fused kernel and saves dL/dmu, dL/dsigma (O(ops)); backward scales them."""

    @staticmethod
    def forward(ctx, mu, sigma, lower, upper, deterministic):
        if mu.dim() != 1 or sigma.shape != mu.shape:
            raise ValueError(f"mu and sigma must be 1-d of the same length, got {tuple(mu.shape)} and {tuple(sigma.shape)}")
        n = mu.shape[0]
        dtype = compute_dtype(mu)
        lo = _limit_array(lower, n, dtype, "lower")
        hi = _limit_array(upper, n, dtype, "upper")
        with LAUNCH_LOCK:
            loss, g_mu, g_sigma = bound_kernel(as_numpy(mu, dtype), as_numpy(sigma, dtype), lo, hi,
                                               n_chunks_for(n, deterministic, MIN_OPS_PER_CHUNK))
        ctx.save_for_backward(torch.from_numpy(g_mu).to(mu.dtype), torch.from_numpy(g_sigma).to(sigma.dtype))
        return torch.tensor(loss, dtype=mu.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        g_mu, g_sigma = ctx.saved_tensors
        return (g_mu * grad_out if ctx.needs_input_grad[0] else None,
                g_sigma * grad_out if ctx.needs_input_grad[1] else None, None, None, None)


def bound_loss_numba(mu: torch.Tensor, sigma: torch.Tensor, lower, upper, deterministic: bool = False) -> torch.Tensor:
    """``sum_i E[(lower_i - X_i)+] + E[(X_i - upper_i)+]`` as a 0-d tensor, differentiable in mu and sigma.

    ``lower`` / ``upper``: numbers or per-op tensors (not differentiated; -inf / +inf mean no bound)."""
    return BoundLossNumba.apply(mu, sigma, lower, upper, bool(deterministic))
