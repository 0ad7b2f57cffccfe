"""Fused CPU kernels of the expected occupancy (numba), the semantics of `gaus_fast.relax.expected_usage`.

Row i (one use of a unit, start ``X_i ~ N(mu_i, sigma_i^2)``, hold ``h_i``, weight ``w_i``, channel ``c_i``)
occupies step d when ``X_i in [d - h_i + 0.5, d + 0.5)``. Around ``center = round(mu_i)`` (round-half-to-even, as
``torch.round``) the boundaries ``e + 0.5`` for ``e`` in ``[center - H - M, center + H + M)`` are standardised once
(``H`` = half_window, ``M`` = the largest hold over all rows, exactly the reference's window), their tail masses
``Phi(-|z|)`` computed once each, and every step ``d`` in ``[center - H, center + H + M)`` gets
``p = P(z_{d-h} <= Z < z_d)`` from the two tails without cancellation (`_numba_math.interval_from_tails`).
Steps outside ``[0, horizon)`` are dropped; with ``ii`` the steps fold onto ``d mod ii`` instead (nothing dropped,
as in the reference).

* Forward: parallel over static row chunks, each chunk adding into its own ``(n_channels * width)`` float64 usage
  row, then the rows are summed in chunk order: deterministic for a fixed chunk count (the numba thread count, or
  `dependency_numba.DETERMINISTIC_CHUNKS` with ``deterministic=True``, fewer for small inputs).
* Backward: receives dL/dusage and gathers it over the same window per row, recomputing the boundaries:
  ``dp/dmu = (phi(a) - phi(b)) / sigma``, ``dp/dsigma = (a phi(a) - b phi(b)) / sigma`` (a, b the standardised lower
  and upper boundaries), ``dp/dw = p``. Rows are independent, so no scratch; saved state is the inputs, O(rows).
  The gradient is the analytic one; the reference's autograd differs only on measure-zero ties (a boundary exactly
  at mu, where its ``abs`` has slope 0, and p rounded below 0 and clamped).

Rows with a non-finite mu or sigma contribute nothing (the reference would index garbage). Arithmetic in float64
for float32 and float64 inputs alike; the result comes back in mu's dtype.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange

from ._numba_math import INV_SQRT_2PI, LAUNCH_LOCK, exp_nonpositive, pdf_and_tail_simd
from .dependency_numba import as_numpy, compute_dtype, n_chunks_for

MIN_ROWS_PER_CHUNK = 4096


@njit(inline="always", cache=True)
def _boundaries(m, s, c0, k0, nb, zb, pb, tb):
    """z_k = (c0 + k + 0.5 - m) / s, phi(z_k), Phi(-|z_k|) for k0 <= k < nb: one branch-free loop that LLVM
    vectorises (`exp_nonpositive`, `mills_ratio_poly`: no libm call, no table)."""
    for k in range(k0, nb):
        z = ((c0 + k) + 0.5 - m) / s
        pdf, tail = pdf_and_tail_simd(z)
        zb[k] = z
        pb[k] = pdf
        tb[k] = tail


@njit(inline="always", cache=True)
def _boundaries_pdf(m, s, c0, k0, nb, zb, pb):
    """z_k and phi(z_k) only, as `_boundaries` computes them: the backward without dL/dweight needs no tail masses
    (which cost more than the exponential)."""
    for k in range(k0, nb):
        z = ((c0 + k) + 0.5 - m) / s
        zb[k] = z
        pb[k] = INV_SQRT_2PI * exp_nonpositive(-0.5 * z * z)


@njit(inline="always", cache=True)
def _interval(za, ta, zb, tb):
    """`interval_from_tails` with selects instead of branches (vectorisable), clamped at 0 (NaN stays NaN)."""
    p = tb - ta if zb <= 0 else (ta - tb if za > 0 else 1.0 - ta - tb)
    return 0.0 if p < 0 else p


@njit(inline="always", cache=True)
def _row_columns(s, h, half, max_hold, window_sigmas):
    """Step columns [lo, hi) of a row's window (column max_hold + half is its centre round(mu)): the whole
    ``[-half, half + max_hold)``, or with ``window_sigmas > 0`` the row's own ``[-H, H + h)``,
    ``H = min(half, ceil(window_sigmas * s) + h + 1)`` (`relax.row_half_windows`)."""
    if window_sigmas <= 0.0:
        return max_hold, 2 * (half + max_hold)
    reach = window_sigmas * s
    row_half = half if reach >= half else min(half, max(np.int64(math.ceil(reach)), 0) + h + 1)
    return max_hold + half - row_half, max_hold + half + row_half + h


@njit(inline="always", cache=True)
def _row(mu, sigma, weight, hold, channel, i, width, half, max_hold, window_sigmas):
    """Row i as the forward and backward loops read it: (finite, mu, sigma, c0 = column 0's step, weight, hold,
    channel offset, its step columns [s_lo, s_hi)); rows with a non-finite mu or sigma are skipped (finite False)."""
    m = np.float64(mu[i])
    s = np.float64(sigma[i])
    h = hold[i]
    if not (math.isfinite(m) and math.isfinite(s)):
        return False, m, s, np.int64(0), 0.0, h, 0, 0, 0
    c0 = np.int64(np.rint(m)) - half - max_hold
    base = channel[i] * width if channel.shape[0] > 0 else 0
    s_lo, s_hi = _row_columns(s, h, half, max_hold, window_sigmas)
    return True, m, s, c0, np.float64(weight[i]), h, base, s_lo, s_hi


@njit(inline="always", cache=True)
def _step_range(c0, lo, hi, horizon, ii):
    """Columns of [lo, hi) whose step c0 + col lies in [0, horizon) (all of them with ii)."""
    if ii > 0:
        return lo, hi
    first = max(lo, -c0)
    last = min(hi, horizon - c0)
    return first, max(first, last)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _usage_rows(mu, sigma, weight, hold, channel, lo, hi, width, horizon, half, max_hold, ii, window_sigmas, out, zb, pb, tb):
    """Add rows [lo, hi) into ``out`` (flat n_channels * width); zb, pb, tb: scratch of 2 (half + max_hold)."""
    for i in range(lo, hi):
        ok, m, s, c0, w, h, base, s_lo, s_hi = _row(mu, sigma, weight, hold, channel, i, width, half, max_hold, window_sigmas)
        if not ok:
            continue
        _boundaries(m, s, c0, s_lo - h, s_hi, zb, pb, tb)
        c_lo, c_hi = _step_range(c0, s_lo, s_hi, horizon, ii)
        if ii > 0:
            for col in range(c_lo, c_hi):
                a = col - h
                out[base + (c0 + col) % ii] += w * _interval(zb[a], tb[a], zb[col], tb[col])
        else:
            row = base + c0  # out[row + col] is step c0 + col
            for col in range(c_lo, c_hi):
                a = col - h
                out[row + col] += w * _interval(zb[a], tb[a], zb[col], tb[col])


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def usage_forward_kernel(mu, sigma, weight, hold, channel, n_channels, width, horizon, half, max_hold, ii, window_sigmas, n_chunks):
    """Expected usage, flat float64 of n_channels * width (``ii = 0``: no folding, drop steps outside the horizon)."""
    n = mu.shape[0]
    size = n_channels * width
    buf = np.zeros((n_chunks, size), np.float64)
    nb = 2 * (half + max_hold)
    per = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * per, n)
        hi = min(lo + per, n)
        _usage_rows(mu, sigma, weight, hold, channel, lo, hi, width, horizon, half, max_hold, ii, window_sigmas, buf[c],
                    np.empty(nb, np.float64), np.empty(nb, np.float64), np.empty(nb, np.float64))
    for c in range(1, n_chunks):
        buf[0] += buf[c]
    return buf[0].copy() if n_chunks > 1 else buf[0]


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _usage_grad_rows(mu, sigma, weight, hold, channel, lo, hi, width, horizon, half, max_hold, ii, window_sigmas, grad,
                     need_w, g_mu, g_sigma, g_w, zb, pb, tb):
    for i in range(lo, hi):
        ok, m, s, c0, w, h, base, s_lo, s_hi = _row(mu, sigma, weight, hold, channel, i, width, half, max_hold, window_sigmas)
        if not ok:
            continue
        if need_w:
            _boundaries(m, s, c0, s_lo - h, s_hi, zb, pb, tb)
        else:
            _boundaries_pdf(m, s, c0, s_lo - h, s_hi, zb, pb)
        c_lo, c_hi = _step_range(c0, s_lo, s_hi, horizon, ii)
        gm = 0.0
        gs = 0.0
        gw = 0.0
        for col in range(c_lo, c_hi):
            d = c0 + col
            g = grad[base + (d % ii if ii > 0 else d)]
            a = col - h
            gm += g * (pb[a] - pb[col])
            gs += g * (zb[a] * pb[a] - zb[col] * pb[col])
            if need_w:
                gw += g * _interval(zb[a], tb[a], zb[col], tb[col])
        g_mu[i] = w * gm / s
        g_sigma[i] = w * gs / s
        g_w[i] = gw


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def usage_backward_kernel(mu, sigma, weight, hold, channel, width, horizon, half, max_hold, ii, window_sigmas, grad, need_w,
                          n_chunks):
    """(dL/dmu, dL/dsigma, dL/dweight) per row, float64, from dL/dusage (flat float64)."""
    n = mu.shape[0]
    g_mu = np.zeros(n, np.float64)
    g_sigma = np.zeros(n, np.float64)
    g_w = np.zeros(n, np.float64)
    nb = 2 * (half + max_hold)
    per = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * per, n)
        hi = min(lo + per, n)
        _usage_grad_rows(mu, sigma, weight, hold, channel, lo, hi, width, horizon, half, max_hold, ii, window_sigmas, grad, need_w,
                         g_mu, g_sigma, g_w, np.empty(nb, np.float64), np.empty(nb, np.float64), np.empty(nb, np.float64))
    return g_mu, g_sigma, g_w


def _prepare(mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii, window_sigmas=None):
    if mu.dim() != 1 or sigma.shape != mu.shape:
        raise ValueError(f"mu and sigma must be 1-d of the same length, got {tuple(mu.shape)} and {tuple(sigma.shape)}")
    n = mu.shape[0]
    for name, t in (("weight", weight), ("hold", hold)):
        if tuple(t.shape) != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
    if ii is not None and int(ii) <= 0:
        raise ValueError(f"ii must be a positive integer, got {ii}")
    if int(half_window) < 0 or int(n_channels) < 1:
        raise ValueError(f"need half_window >= 0 and n_channels >= 1, got {half_window} and {n_channels}")
    hold_np = as_numpy(hold, torch.int64)
    max_hold = int(hold_np.max()) if n else 0
    if n and int(hold_np.min()) < 0:
        raise ValueError("hold must be >= 0")
    if channel is None:
        chan_np = np.zeros(0, np.int64)
    else:
        if tuple(channel.shape) != (n,):
            raise ValueError(f"channel must have shape ({n},), got {tuple(channel.shape)}")
        chan_np = as_numpy(channel, torch.int64)
        if n and (int(chan_np.min()) < 0 or int(chan_np.max()) >= n_channels):
            raise IndexError(f"channel values must lie in [0, {n_channels})")
    dtype = compute_dtype(mu)
    width = int(horizon) if ii is None else int(ii)
    return dict(
        mu=as_numpy(mu, dtype), sigma=as_numpy(sigma, dtype), weight=as_numpy(weight, dtype), hold=hold_np,
        channel=chan_np, width=width, horizon=int(horizon), half=int(half_window), max_hold=max_hold,
        ii=0 if ii is None else int(ii), window_sigmas=0.0 if window_sigmas is None else float(window_sigmas),
    )


class ExpectedUsageNumba(torch.autograd.Function):
    """Forward: the usage (parallel over rows); backward: per-row gather of dL/dusage (recomputes the window)."""

    @staticmethod
    def forward(ctx, mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii, deterministic, window_sigmas):
        a = _prepare(mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii, window_sigmas)
        n = mu.shape[0]
        with LAUNCH_LOCK:
            usage = usage_forward_kernel(
                a["mu"], a["sigma"], a["weight"], a["hold"], a["channel"], int(n_channels), a["width"], a["horizon"],
                a["half"], a["max_hold"], a["ii"], a["window_sigmas"], n_chunks_for(n, deterministic, MIN_ROWS_PER_CHUNK),
            )
        # Saved as tensors (autograd's version check catches in-place edits before backward); numpy views again there.
        ctx.save_for_backward(mu, sigma, weight, hold, channel)
        ctx.window = (a["width"], a["horizon"], a["half"], a["max_hold"], a["ii"], a["window_sigmas"])
        ctx.deterministic = deterministic
        ctx.n_channels = int(n_channels)
        ctx.dtypes = (mu.dtype, sigma.dtype, weight.dtype)
        return torch.from_numpy(usage).to(mu.dtype).view(int(n_channels), a["width"])

    @staticmethod
    def backward(ctx, grad_out):
        mu, sigma, weight, hold, channel = ctx.saved_tensors
        width, horizon, half, max_hold, ii, window_sigmas = ctx.window
        dtype = compute_dtype(mu)
        need_mu, need_sigma, need_w = ctx.needs_input_grad[:3]
        if not (need_mu or need_sigma or need_w):
            return (None,) * 11
        grad = as_numpy(grad_out.reshape(-1), torch.float64)
        n = mu.shape[0]
        chan = np.zeros(0, np.int64) if channel is None else as_numpy(channel, torch.int64)
        with LAUNCH_LOCK:
            g_mu, g_sigma, g_w = usage_backward_kernel(
                as_numpy(mu, dtype), as_numpy(sigma, dtype), as_numpy(weight, dtype), as_numpy(hold, torch.int64), chan,
                width, horizon, half, max_hold, ii, window_sigmas, grad, bool(need_w),
                n_chunks_for(n, ctx.deterministic, MIN_ROWS_PER_CHUNK),
            )
        dt_mu, dt_sigma, dt_w = ctx.dtypes
        return (
            torch.from_numpy(g_mu).to(dt_mu) if need_mu else None,
            torch.from_numpy(g_sigma).to(dt_sigma) if need_sigma else None,
            torch.from_numpy(g_w).to(dt_w) if need_w else None,
            None, None, None, None, None, None, None, None,
        )


def expected_usage_numba(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    weight: torch.Tensor,
    hold: torch.Tensor,
    horizon: int,
    half_window: int,
    channel: torch.Tensor | None = None,
    n_channels: int = 1,
    ii: int | None = None,
    deterministic: bool = False,
    window_sigmas: float | None = None,
) -> torch.Tensor:
    """Expected weighted occupancy per (channel, step), shape ``(n_channels, horizon or ii)``; see the module doc.

    Differentiable in ``mu``, ``sigma`` and ``weight``. ``window_sigmas``: per-row windows, as
    `gaus_fast.relax.expected_usage`.
    """
    return ExpectedUsageNumba.apply(mu, sigma, weight, hold, int(horizon), int(half_window), channel, int(n_channels),
                                    None if ii is None else int(ii), bool(deterministic), window_sigmas)
