"""Fused Triton kernels of the expected live bits, the semantics of `gaus_fast.relax.expected_live_bits`.

Op i is live at step d when ``t_i <= d < max_j t_j`` over its consumers; expected ``b_i F_i(d) (1 - exp(S_i(d)))``
with ``S_i(d) = sum_j log F_j(d)``. One program per op with consumers: its two windows (around ``c_i = round(mu_i)`` and around the
latest consumer centre ``m_i``, ``2H + 1`` steps each, a step of the second counted only outside the first) form one
vector of ``BW`` columns; a loop over the op's consumers (CSR, grouped by producer on the host) sums the log-cdfs.
The plateau between the windows (full ``b_i``, no gradient) is a difference array on the host.

* float32 throughout (`_triton_math`): ``log Phi(z)`` left of 0 as ``log(erfcx(-z / sqrt 2) / 2) - z^2/2`` (no
  underflow), right of 0 ``log1p(-tail)`` (a short series below 1e-3: there is no log1p in the interpreter);
  ``1 - exp(S)`` likewise by a series for small ``|S|``; the hazard ``phi / Phi`` left of 0 as
  ``(1/sqrt(2 pi)) / (erfcx(-z / sqrt 2) / 2)``, finite everywhere.
* forward: ``tl.atomic_add`` of each (op, step) value into a float32 ``live`` buffer (run-to-run order may vary);
* backward: the same program walks the windows again, gathers dL/dlive, stores the producer's slopes per op and each
  consumer edge's slopes per edge (each edge written once); the host sums the edges onto their consumers.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._triton_math import INV_SQRT_2PI, SQRT1_2, erfcx_nonneg, normal_pdf
from .dependency_triton import _check_device, _device_ctx


@triton.jit
def _log1m(t):
    """log(1 - t) for 0 <= t <= 1/2, accurate for small t."""
    series = -t * (1.0 + t * (0.5 + t * (1.0 / 3.0 + t * 0.25)))
    return tl.where(t < 1e-3, series, tl.log(1.0 - t))


@triton.jit
def _one_minus_exp(s):
    """1 - exp(s) for s <= 0, accurate for small |s|."""
    series = -s * (1.0 + s * (0.5 + s * (1.0 / 6.0 + s * (1.0 / 24.0))))
    return tl.where(s > -1e-3, series, 1.0 - tl.exp(s))


@triton.jit
def _log_cdf_hazard(z):
    """(log Phi(z), Phi(z), phi(z) / Phi(z))."""
    ratio = 0.5 * erfcx_nonneg(tl.abs(z) * SQRT1_2)  # Phi(-|z|) / exp(-z^2 / 2)
    gauss = tl.exp(-0.5 * z * z)
    tail = ratio * gauss
    log_left = tl.log(ratio) - 0.5 * z * z
    logc = tl.where(z < 0, log_left, _log1m(tail))
    cdf = tl.where(z < 0, tail, 1.0 - tail)
    haz = tl.where(z < 0, INV_SQRT_2PI / ratio, gauss * INV_SQRT_2PI / (1.0 - tail))
    return logc, cdf, haz


@triton.jit
def _window(i, center_ptr, last_ptr, delta_ptr, sigma_ptr, bits_ptr, horizon, half, BW: tl.constexpr):
    cols = tl.arange(0, BW)
    width = 2 * half + 1
    c = tl.load(center_ptr + i)
    m = tl.load(last_ptr + i)
    d = tl.where(cols < width, c - half + cols, m - half + (cols - width))
    ok = (cols < 2 * width) & ((cols < width) | (tl.abs(d - c) > half)) & (d >= 0) & (d < horizon)
    sig = tl.load(sigma_ptr + i)
    b = tl.load(bits_ptr + i)
    return d, ok, ((d - c).to(tl.float32) + 0.5 - tl.load(delta_ptr + i)) / sig, sig, b


@triton.jit
def _z(d, j, center_ptr, delta_ptr, sigma_ptr):
    """(d + 0.5 - mu_j) / sigma_j from the integer offset to round(mu_j): no float32 rounding of large steps."""
    sj = tl.load(sigma_ptr + j)
    return ((d - tl.load(center_ptr + j)).to(tl.float32) + 0.5 - tl.load(delta_ptr + j)) / sj, sj


@triton.jit
def _live_forward_kernel(ops_ptr, delta_ptr, sigma_ptr, bits_ptr, center_ptr, last_ptr, ptr_ptr, idx_ptr, live_ptr,
                         horizon, half, BW: tl.constexpr):
    i = tl.load(ops_ptr + tl.program_id(0))
    e0 = tl.load(ptr_ptr + i)
    e1 = tl.load(ptr_ptr + i + 1)
    d, ok, z, sig, b = _window(i, center_ptr, last_ptr, delta_ptr, sigma_ptr, bits_ptr, horizon, half, BW)
    acc = tl.zeros([BW], dtype=tl.float32)
    for e in range(e0, e1):
        j = tl.load(idx_ptr + e)
        zj, sj = _z(d, j, center_ptr, delta_ptr, sigma_ptr)
        logc, cdf, haz = _log_cdf_hazard(zj)
        acc += logc
    logc, cdf, haz = _log_cdf_hazard(z)
    val = b * cdf * _one_minus_exp(acc)
    tl.atomic_add(live_ptr + d, val, mask=ok, sem="relaxed")


@triton.jit
def _live_backward_kernel(ops_ptr, delta_ptr, sigma_ptr, bits_ptr, center_ptr, last_ptr, ptr_ptr, idx_ptr, grad_ptr,
                          gmu_ptr, gsig_ptr, gemu_ptr, gesig_ptr, horizon, half, BW: tl.constexpr):
    i = tl.load(ops_ptr + tl.program_id(0))
    e0 = tl.load(ptr_ptr + i)
    e1 = tl.load(ptr_ptr + i + 1)
    d, ok, z, sig, b = _window(i, center_ptr, last_ptr, delta_ptr, sigma_ptr, bits_ptr, horizon, half, BW)
    g = tl.load(grad_ptr + d, mask=ok, other=0.0)
    acc = tl.zeros([BW], dtype=tl.float32)
    for e in range(e0, e1):
        j = tl.load(idx_ptr + e)
        zj, sj = _z(d, j, center_ptr, delta_ptr, sigma_ptr)
        logc, cdf, haz = _log_cdf_hazard(zj)
        acc += logc
    logc, cdf, haz = _log_cdf_hazard(z)
    dmu = tl.where(ok, -g * b * normal_pdf(z) * _one_minus_exp(acc) / sig, 0.0)
    tl.store(gmu_ptr + i, tl.sum(dmu, axis=0))
    tl.store(gsig_ptr + i, tl.sum(z * dmu, axis=0))
    w = tl.where(ok, g * b * cdf * tl.exp(acc), 0.0)  # g b F_i G
    for e in range(e0, e1):
        j = tl.load(idx_ptr + e)
        zj, sj = _z(d, j, center_ptr, delta_ptr, sigma_ptr)
        logc, cdf_j, haz_j = _log_cdf_hazard(zj)
        t = w * haz_j / sj
        tl.store(gemu_ptr + e, tl.sum(t, axis=0))
        tl.store(gesig_ptr + e, tl.sum(zj * t, axis=0))


# ------------------------------------------------------------------------------------------------ host side


def _prepare(mu, sigma, bits, src, dst):
    """Per-op inputs: mu - round(mu) (float32), sigma, bits, round(mu), the latest consumer centre, the CSR."""
    n = mu.shape[0]
    dev = mu.device
    s, d = src.reshape(-1).long(), dst.reshape(-1).long()
    if s.numel() and (int(torch.minimum(s.min(), d.min())) < 0 or int(torch.maximum(s.max(), d.max())) >= n):
        raise IndexError(f"edge endpoints must lie in [0, {n})")
    order = torch.argsort(s, stable=True)
    idx = d[order].contiguous()
    ptr = torch.zeros(n + 1, dtype=torch.int64, device=dev)
    ptr[1:] = torch.cumsum(torch.bincount(s, minlength=n), 0)
    mu_d = mu.detach().reshape(-1)
    center_f = torch.round(mu_d).clamp(-(2.0**52), 2.0**52)
    center = center_f.to(torch.int64)
    has = ptr[1:] > ptr[:-1]
    last = center.clone()
    if idx.numel():
        latest = torch.full((n,), torch.iinfo(torch.int64).min, dtype=torch.int64, device=dev)
        latest.scatter_reduce_(0, s[order], center[idx], reduce="amax")
        last = torch.where(has, latest, center)
    f32 = lambda t: t.detach().reshape(-1).to(torch.float32).contiguous()  # noqa: E731
    return f32(mu_d - center_f), f32(sigma), f32(bits), center.contiguous(), last.contiguous(), ptr, idx, has


def _plateau(center, last, has, bits, horizon, half, dtype):
    """Full bits on [c + H + 1, m - H) per op, by a difference array (float64)."""
    lo = (center + half + 1).clamp(0, horizon)
    hi = (last - half).clamp(0, horizon)
    flat = has & (hi > lo)
    diff = torch.zeros(horizon + 1, dtype=torch.float64, device=center.device)
    b = bits.to(torch.float64)[flat]
    diff.index_add_(0, lo[flat], b)
    diff.index_add_(0, hi[flat], -b)
    return torch.cumsum(diff, 0)[:horizon].to(dtype)


class ExpectedLiveBitsFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mu, sigma, bits, src, dst, horizon, half_window):
        if mu.dim() != 1 or sigma.shape != mu.shape or tuple(bits.shape) != tuple(mu.shape):
            raise ValueError("mu, sigma and bits must be 1-d of the same length")
        n = mu.shape[0]
        m32, s32, b32, center, last, ptr, idx, has = _prepare(mu, sigma, bits, src, dst)
        ops = torch.nonzero(has).reshape(-1).contiguous()  # one program per op with consumers
        live = torch.zeros(max(horizon, 1), dtype=torch.float32, device=mu.device)
        bw = triton.next_power_of_2(2 * (2 * half_window + 1))
        if ops.numel() and horizon > 0:
            with _device_ctx(mu):
                _live_forward_kernel[(ops.numel(),)](ops, m32, s32, b32, center, last, ptr, idx, live, horizon, half_window,
                                           BW=bw, num_warps=1 if bw <= 64 else 2)
        out = live[:horizon].to(mu.dtype)
        if n and horizon > 0:
            out = out + _plateau(center, last, has, b32, horizon, half_window, mu.dtype)
        ctx.save_for_backward(m32, s32, b32, center, last, ptr, idx, ops)
        ctx.meta = (horizon, half_window, bw, mu.dtype, sigma.dtype)
        return out

    @staticmethod
    def backward(ctx, grad_live):
        m32, s32, b32, center, last, ptr, idx, ops = ctx.saved_tensors
        horizon, half, bw, dt_mu, dt_sig = ctx.meta
        n = m32.numel()
        gmu = torch.zeros(n, dtype=torch.float32, device=m32.device)
        gsig = torch.zeros(n, dtype=torch.float32, device=m32.device)
        if ops.numel() and horizon > 0:
            g = grad_live.reshape(-1).to(torch.float32).contiguous()
            gemu = torch.zeros(idx.numel(), dtype=torch.float32, device=m32.device)
            gesig = torch.zeros_like(gemu)
            with _device_ctx(m32):
                _live_backward_kernel[(ops.numel(),)](ops, m32, s32, b32, center, last, ptr, idx, g, gmu, gsig, gemu, gesig,
                                            horizon, half, BW=bw, num_warps=1 if bw <= 64 else 2)
            gmu.index_add_(0, idx, gemu)
            gsig.index_add_(0, idx, gesig)
        return (gmu.to(dt_mu) if ctx.needs_input_grad[0] else None,
                gsig.to(dt_sig) if ctx.needs_input_grad[1] else None,
                None, None, None, None, None)


def expected_live_bits_triton(mu, sigma, bits, src, dst, horizon, half_window) -> torch.Tensor:
    """Expected live bits per step ``(horizon,)`` on the Triton kernels; see `relax.expected_live_bits`.

    Differentiable in mu and sigma.
    """
    _check_device(mu)
    return ExpectedLiveBitsFunction.apply(mu, sigma, bits, src, dst, int(horizon), int(half_window))
