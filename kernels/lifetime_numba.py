"""Fused CPU kernels of the expected live bits (numba), the semantics of `gaus_fast.relax.expected_live_bits`.

Op i (start ``X_i ~ N(mu_i, sigma_i^2)``, ``b_i`` bits, consumers j from a CSR list) is live at step d when
``t_i <= d < max_j t_j``; expected ``b_i F_i(d) (1 - exp(S_i(d)))`` with ``F(d) = Phi((d + 0.5 - mu) / sigma)``
and ``S_i(d) = sum_j log F_j(d)``. Per op the two windows of the reference (``[c_i - H, c_i + H]`` around
``c_i = round(mu_i)`` and ``[m_i - H, m_i + H]`` around the latest consumer centre, each step once) are evaluated
exactly; the plateau between them (full ``b_i``, no gradient) is added by a difference array.

* log-cdf without underflow: left of 0, ``log Phi(z) = -z^2/2 - log sqrt(2 pi) + log R(-z)`` (R the Mills ratio,
  `_numba_math.mills_ratio`, its asymptotic series beyond 38), right of 0 ``log1p(-Phi(-z))``; the hazard
  ``phi(z) / Phi(z)`` is ``1 / R(-z)`` on the left, so neither the value nor the slope divides 0 by 0.
* Shortcuts exact to float64 rounding: consumers are sorted latest first and the log-sum stops once
  ``S <= -40`` (``1 - exp(S)`` is then 1.0, the consumers' slopes below 4e-18 relative); window steps with
  ``z_i < -39`` (where ``F_i`` and ``phi(z_i)`` underflow) are skipped.
* Forward: parallel over static op chunks, each chunk adding into its own float64 row of ``horizon + 1`` (the
  last entry takes the plateau's difference array), rows summed in chunk order (deterministic for a fixed
  chunk count, as `occupancy_numba`).
* Backward: per op, dL/dlive gathered over its windows; the producer's slopes
  ``dv/dmu_i = -b phi(z_i) (1 - G) / sigma_i``, ``dv/dsigma_i = z_i dv/dmu_i`` with ``G = exp(S)``, and per
  consumer edge ``dv/dmu_j = b F_i G h(z_j) / sigma_j``, ``dv/dsigma_j = z_j dv/dmu_j`` (h the hazard) into a
  per-edge array (each edge written by its producer's thread only), then summed onto the consumers serially in
  edge order: no atomics, deterministic. Saved state is the inputs, O(ops + edges).

Arithmetic in float64 for float32 and float64 inputs alike; the result comes back in mu's dtype.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange

from ._numba_math import LAUNCH_LOCK, mills_ratio, norm_cdf, norm_pdf
from .dependency_numba import as_numpy, compute_dtype, n_chunks_for

MIN_OPS_PER_CHUNK = 2048
S_DEAD = -40.0  # exp(-40) = 4e-18 < 2^-53: 1 - G rounds to 1 and the consumer gradients vanish at this scale
Z_DEAD = -39.0  # Phi(-39) and phi(-39) underflow to 0 in float64: the column adds nothing, value or slope
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@njit(inline="always", cache=True)
def _mills(y):
    """R(y) for y >= 0; the table below 38, the asymptotic series ``(1 - y^-2 + 3 y^-4 - 15 y^-6) / y`` above."""
    if y < 38.0:
        return mills_ratio(y)
    inv2 = 1.0 / (y * y)
    return (1.0 + inv2 * (-1.0 + inv2 * (3.0 - 15.0 * inv2))) / y


@njit(inline="always", cache=True)
def log_cdf(z):
    if z < 0.0:
        return -0.5 * z * z - LOG_SQRT_2PI + math.log(_mills(-z))
    return math.log1p(-norm_pdf(z) * mills_ratio(z))


@njit(inline="always", cache=True)
def hazard(z):
    """phi(z) / Phi(z), finite everywhere."""
    if z < 0.0:
        return 1.0 / _mills(-z)
    return norm_pdf(z) / (1.0 - norm_pdf(z) * mills_ratio(z))


@njit(inline="always", cache=True)
def _log_prod(mu, sigma, idx, e0, e1, d):
    """S = sum_j log F_j(d) over the consumers e0..e1, stopping once S <= S_DEAD (then 1 - exp(S) == 1.0 in
    float64); the consumers are sorted latest first, so outside the falling window one term usually suffices."""
    acc = 0.0
    for e in range(e0, e1):
        j = idx[e]
        acc += log_cdf(((d + 0.5) - np.float64(mu[j])) / np.float64(sigma[j]))
        if acc <= S_DEAD:
            break
    return acc


@njit(inline="always", cache=True)
def _step(k, c, m, h):
    """Step of window column k (the first window, then the second), and whether the column counts."""
    width = 2 * h + 1
    if k < width:
        return c - h + k, True
    d = m - h + (k - width)
    return d, abs(d - c) > h


@njit(cache=True, nogil=True)
def _live_ops(mu, sigma, bits, ptr, idx, center, last, lo, hi, horizon, h, out):
    for i in range(lo, hi):
        e0, e1 = ptr[i], ptr[i + 1]
        if e1 == e0:
            continue
        m = np.float64(mu[i])
        s = np.float64(sigma[i])
        b = np.float64(bits[i])
        c, ml = center[i], last[i]
        for k in range(2 * (2 * h + 1)):
            d, ok = _step(k, c, ml, h)
            if not ok or d < 0 or d >= horizon:
                continue
            z = ((d + 0.5) - m) / s
            if z < Z_DEAD:
                continue
            acc = _log_prod(mu, sigma, idx, e0, e1, d)
            out[d] += b * norm_cdf(z) * -math.expm1(acc)
        # plateau [c + h + 1, m - h): the difference array in out[0 .. horizon]
        p0 = min(max(c + h + 1, 0), horizon)
        p1 = min(max(ml - h, 0), horizon)
        if p1 > p0:
            out[horizon + 1 + p0] += b
            out[horizon + 1 + p1] -= b


@njit(parallel=True, cache=True, nogil=True)
def live_forward_kernel(mu, sigma, bits, ptr, idx, center, last, horizon, h, n_chunks):
    """Expected live bits per step, float64 of ``horizon``."""
    n = mu.shape[0]
    size = 2 * horizon + 2  # the values, then the plateau's difference array
    buf = np.zeros((n_chunks, size), np.float64)
    per = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * per, n)
        _live_ops(mu, sigma, bits, ptr, idx, center, last, lo, min(lo + per, n), horizon, h, buf[c])
    for c in range(1, n_chunks):
        buf[0] += buf[c]
    out = buf[0, :horizon].copy()
    run = 0.0
    for d in range(horizon):
        run += buf[0, horizon + 1 + d]
        out[d] += run
    return out


@njit(cache=True, nogil=True)
def _live_grad_ops(mu, sigma, bits, ptr, idx, center, last, lo, hi, horizon, h, grad, g_mu, g_sigma, ge_mu, ge_sigma):
    for i in range(lo, hi):
        e0, e1 = ptr[i], ptr[i + 1]
        if e1 == e0:
            continue
        m = np.float64(mu[i])
        s = np.float64(sigma[i])
        b = np.float64(bits[i])
        c, ml = center[i], last[i]
        gm = 0.0
        gs = 0.0
        for k in range(2 * (2 * h + 1)):
            d, ok = _step(k, c, ml, h)
            if not ok or d < 0 or d >= horizon:
                continue
            g = grad[d]
            if g == 0.0:
                continue
            z = ((d + 0.5) - m) / s
            if z < Z_DEAD:
                continue
            acc = _log_prod(mu, sigma, idx, e0, e1, d)
            keep = -math.expm1(acc)  # 1 - G
            dmu = -g * b * norm_pdf(z) * keep / s
            gm += dmu
            gs += z * dmu
            if acc <= S_DEAD:
                continue  # G < 4e-18: the consumers' share is below float64 resolution of the value
            w = g * b * norm_cdf(z) * math.exp(acc)  # g b F_i G
            for e in range(e0, e1):
                j = idx[e]
                sj = np.float64(sigma[j])
                zj = ((d + 0.5) - np.float64(mu[j])) / sj
                t = w * hazard(zj) / sj
                ge_mu[e] += t
                ge_sigma[e] += zj * t
        g_mu[i] += gm
        g_sigma[i] += gs


@njit(parallel=True, cache=True, nogil=True)
def live_backward_kernel(mu, sigma, bits, ptr, idx, center, last, horizon, h, grad, n_chunks):
    """(dL/dmu, dL/dsigma) per op, float64, from dL/dlive (float64 of horizon)."""
    n = mu.shape[0]
    g_mu = np.zeros(n, np.float64)
    g_sigma = np.zeros(n, np.float64)
    ge_mu = np.zeros(idx.shape[0], np.float64)
    ge_sigma = np.zeros(idx.shape[0], np.float64)
    per = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * per, n)
        _live_grad_ops(mu, sigma, bits, ptr, idx, center, last, lo, min(lo + per, n), horizon, h, grad,
                       g_mu, g_sigma, ge_mu, ge_sigma)
    for e in range(idx.shape[0]):  # consumers' share, serially in edge order
        g_mu[idx[e]] += ge_mu[e]
        g_sigma[idx[e]] += ge_sigma[e]
    return g_mu, g_sigma


def consumer_csr(src: torch.Tensor, dst: torch.Tensor, n: int, center: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, idx): the consumers of each op, edges grouped by producer; within a group the latest ``center`` first
    (stable otherwise)."""
    s = as_numpy(src, torch.int64)
    d = as_numpy(dst, torch.int64)
    if len(s) and (s.min() < 0 or s.max() >= n or d.min() < 0 or d.max() >= n):
        raise IndexError(f"edge endpoints must lie in [0, {n})")
    order = np.argsort(s, kind="stable") if center is None else np.lexsort((-center[d], s))
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(s, minlength=n), out=ptr[1:])
    return ptr, np.ascontiguousarray(d[order])


def _centers(mu_np: np.ndarray) -> np.ndarray:
    """round(mu), half to even as torch.round (non-finite mu: 0)."""
    finite = np.where(np.isfinite(mu_np), mu_np, 0.0)
    return np.rint(np.clip(finite, -(2.0**52), 2.0**52)).astype(np.int64)


def _latest(center: np.ndarray, ptr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The latest consumer centre per op (its own centre if none): the first of its latest-first CSR row."""
    has = np.diff(ptr) > 0
    last = center.copy()
    last[has] = center[idx[ptr[:-1][has]]]
    return last


class ExpectedLiveBitsNumba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mu, sigma, bits, src, dst, horizon, half_window, deterministic):
        if mu.dim() != 1 or sigma.shape != mu.shape or tuple(bits.shape) != tuple(mu.shape):
            raise ValueError("mu, sigma and bits must be 1-d of the same length")
        if src.shape != dst.shape:
            raise ValueError("src and dst must have the same shape")
        n = mu.shape[0]
        dtype = compute_dtype(mu)
        mu_np, sig_np, bits_np = as_numpy(mu, dtype), as_numpy(sigma, dtype), as_numpy(bits, dtype)
        center = _centers(np.asarray(mu_np, np.float64))
        ptr, idx = consumer_csr(src, dst, n, center)
        last = _latest(center, ptr, idx)
        chunks = n_chunks_for(n, deterministic, MIN_OPS_PER_CHUNK)
        horizon, h = int(horizon), int(half_window)
        with LAUNCH_LOCK:
            live = live_forward_kernel(mu_np, sig_np, bits_np, ptr, idx, center, last, horizon, h, chunks)
        ctx.save_for_backward(mu, sigma, bits)
        ctx.state = (ptr, idx, center, last, horizon, h, chunks, mu.dtype, sigma.dtype)
        return torch.from_numpy(live).to(mu.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        mu, sigma, bits = ctx.saved_tensors
        ptr, idx, center, last, horizon, h, chunks, dt_mu, dt_sigma = ctx.state
        need_mu, need_sigma = ctx.needs_input_grad[:2]
        if not (need_mu or need_sigma):
            return (None,) * 8
        dtype = compute_dtype(mu)
        grad = as_numpy(grad_out.reshape(-1), torch.float64)
        with LAUNCH_LOCK:
            g_mu, g_sigma = live_backward_kernel(as_numpy(mu, dtype), as_numpy(sigma, dtype), as_numpy(bits, dtype),
                                                 ptr, idx, center, last, horizon, h, grad, chunks)
        return (torch.from_numpy(g_mu).to(dt_mu) if need_mu else None,
                torch.from_numpy(g_sigma).to(dt_sigma) if need_sigma else None,
                None, None, None, None, None, None)


def expected_live_bits_numba(mu, sigma, bits, src, dst, horizon, half_window, deterministic=False) -> torch.Tensor:
    """Expected live bits per step, shape ``(horizon,)``; see the module doc and `relax.expected_live_bits`.

    Differentiable in ``mu`` and ``sigma``.
    """
    return ExpectedLiveBitsNumba.apply(mu, sigma, bits, src, dst, int(horizon), int(half_window), bool(deterministic))
