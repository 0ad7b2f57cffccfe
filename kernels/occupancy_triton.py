"""Fused Triton kernels of the GauS expected occupancy ``u[c, d] = sum_{i in c} w_i P(row i occupies step d)``.

Semantics of `gaus_fast.relax.expected_usage`: row i (start ``X ~ N(mu_i, sigma_i^2)``, hold ``h_i``, weight
``w_i``, channel ``c_i``) occupies step d when ``X in [d - h_i + 0.5, d + 0.5)``; only the window
``d = round(mu_i) + k``, ``k in [-half_window, half_window + max_hold)`` is evaluated (``round`` = torch.round,
half to even, done on the host); steps outside [0, horizon) are dropped, or with ``ii`` folded onto ``d mod ii``.
Each probability comes from the two tail masses (``interval_from_tails``), never as a difference of cdfs near 1.

* forward (default): a 2-D grid (row block x window block), one ``tl.atomic_add`` per (row, step) into a float32
  usage buffer;
* forward (``deterministic=True``): no float atomics. Rows are sorted (stable) by (channel, round(mu)) -- or
  (channel, round(mu) mod ii) -- and each output cell (c, t) gathers, for every step d that lands on t, the
  contiguous range of rows whose window contains d (found with ``searchsorted``), recomputing their probabilities
  and summing in a fixed order. Work is rows x window as in the atomic version; bit-identical runs.
* backward (always deterministic): one program per row block walks the window again, gathers dL/du at the row's
  steps and sums ``dp/dmu = (phi(a) - phi(b)) / sigma``, ``dp/dsigma = (a phi(a) - b phi(b)) / sigma`` (a, b the
  standardised lower / upper boundaries), times w_i (and ``p`` for dL/dw).

Saved for backward: O(rows) only (round(mu), mu - round(mu), sigma, weight, hold, channel).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..relax import row_half_windows
from ._triton_math import interval_from_tails, normal_pdf, tail_mass
from .dependency_triton import _check_device, _device_ctx


@triton.jit
def _row_probability(k, delta, sig, hold):
    """P(row occupies its window step k) and the standardised boundaries (a lower, b upper)."""
    kf = k.to(tl.float32)
    zb = (kf + 0.5 - delta) / sig
    za = (kf - hold.to(tl.float32) + 0.5 - delta) / sig
    p = interval_from_tails(za, tail_mass(za), zb, tail_mass(zb))
    return p, za, zb


@triton.jit
def _in_row_window(k, row_half, hold):
    """Whether window step k lies in the row's own window [-H_i, H_i + h_i) (``window_sigmas``)."""
    return (k >= -row_half) & (k < row_half + hold)


@triton.jit
def _usage_atomic_kernel(
    center_ptr, delta_ptr, sigma_ptr, weight_ptr, hold_ptr, channel_ptr, rowhalf_ptr, usage_ptr,
    n_rows, half, window, width, ii,
    HAS_CHANNEL: tl.constexpr, FOLD: tl.constexpr, PER_ROW: tl.constexpr, BR: tl.constexpr, BW: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BR + tl.arange(0, BR)
    cols = tl.program_id(1) * BW + tl.arange(0, BW)
    rmask = rows < n_rows
    center = tl.load(center_ptr + rows, mask=rmask, other=0)
    delta = tl.load(delta_ptr + rows, mask=rmask, other=0.0)
    sig = tl.load(sigma_ptr + rows, mask=rmask, other=1.0)
    w = tl.load(weight_ptr + rows, mask=rmask, other=0.0)
    hold = tl.load(hold_ptr + rows, mask=rmask, other=1)
    if HAS_CHANNEL:
        base = tl.load(channel_ptr + rows, mask=rmask, other=0).to(tl.int64) * width
    else:
        base = tl.zeros([BR], dtype=tl.int64)
    k = cols - half
    p, za, zb = _row_probability(k[None, :], delta[:, None], sig[:, None], hold[:, None])
    step = center[:, None] + k[None, :]
    ok = rmask[:, None] & (cols < window)[None, :]
    if PER_ROW:
        ok = ok & _in_row_window(k[None, :], tl.load(rowhalf_ptr + rows, mask=rmask, other=0)[:, None], hold[:, None])
    if FOLD:
        slot = ((step % ii) + ii) % ii
    else:
        ok = ok & (step >= 0) & (step < width)
        slot = step
    tl.atomic_add(usage_ptr + base[:, None] + slot, p * w[:, None], mask=ok, sem="relaxed")


@triton.jit
def _usage_gather_kernel(
    keyc_ptr, delta_ptr, sigma_ptr, weight_ptr, hold_ptr, rowhalf_ptr, lo_ptr, hi_ptr, usage_ptr,
    width, dmin, dmax, period, n_d,
    PER_ROW: tl.constexpr, BLOCK: tl.constexpr,
):
    """Deterministic forward: one output cell (c, t) per program, gathering the sorted rows whose window holds t."""
    pid = tl.program_id(0)
    c = pid // width
    t = pid % width
    d0 = t - period * ((t - dmin) // period)  # the first step >= dmin that lands on slot t
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for d in range(d0, dmax + 1, period):
        q = c.to(tl.int64) * n_d + (d - dmin)
        lo = tl.load(lo_ptr + q)
        hi = tl.load(hi_ptr + q)
        for start in range(lo, hi, BLOCK):
            r = start + tl.arange(0, BLOCK)
            ok = r < hi
            kc = tl.load(keyc_ptr + r, mask=ok, other=0)
            delta = tl.load(delta_ptr + r, mask=ok, other=0.0)
            sig = tl.load(sigma_ptr + r, mask=ok, other=1.0)
            w = tl.load(weight_ptr + r, mask=ok, other=0.0)
            hold = tl.load(hold_ptr + r, mask=ok, other=1)
            p, za, zb = _row_probability(d - kc, delta, sig, hold)
            if PER_ROW:
                ok = ok & _in_row_window(d - kc, tl.load(rowhalf_ptr + r, mask=ok, other=0), hold)
            acc += tl.where(ok, p * w, 0.0)
    tl.store(usage_ptr + pid, tl.sum(acc, axis=0))


@triton.jit
def _usage_backward_kernel(
    grad_ptr, center_ptr, delta_ptr, sigma_ptr, weight_ptr, hold_ptr, channel_ptr, rowhalf_ptr,
    gmu_ptr, gsig_ptr, gw_ptr,
    n_rows, half, window, width, ii,
    HAS_CHANNEL: tl.constexpr, FOLD: tl.constexpr, NEED_W: tl.constexpr, PER_ROW: tl.constexpr, BR: tl.constexpr,
    BW: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BR + tl.arange(0, BR)
    rmask = rows < n_rows
    center = tl.load(center_ptr + rows, mask=rmask, other=0)
    delta = tl.load(delta_ptr + rows, mask=rmask, other=0.0)
    sig = tl.load(sigma_ptr + rows, mask=rmask, other=1.0)
    w = tl.load(weight_ptr + rows, mask=rmask, other=0.0)
    hold = tl.load(hold_ptr + rows, mask=rmask, other=1)
    if HAS_CHANNEL:
        base = tl.load(channel_ptr + rows, mask=rmask, other=0).to(tl.int64) * width
    else:
        base = tl.zeros([BR], dtype=tl.int64)
    if PER_ROW:
        row_half = tl.load(rowhalf_ptr + rows, mask=rmask, other=0)
    acc_mu = tl.zeros([BR, BW], dtype=tl.float32)
    acc_sig = tl.zeros([BR, BW], dtype=tl.float32)
    acc_w = tl.zeros([BR, BW], dtype=tl.float32)
    for c0 in range(0, window, BW):
        cols = c0 + tl.arange(0, BW)
        k = cols - half
        p, za, zb = _row_probability(k[None, :], delta[:, None], sig[:, None], hold[:, None])
        step = center[:, None] + k[None, :]
        ok = rmask[:, None] & (cols < window)[None, :]
        if PER_ROW:
            ok = ok & _in_row_window(k[None, :], row_half[:, None], hold[:, None])
        if FOLD:
            slot = ((step % ii) + ii) % ii
        else:
            ok = ok & (step >= 0) & (step < width)
            slot = step
        g = tl.load(grad_ptr + base[:, None] + slot, mask=ok, other=0.0)
        pa = normal_pdf(za)
        pb = normal_pdf(zb)
        acc_mu += g * (pa - pb)
        acc_sig += g * (za * pa - zb * pb)
        if NEED_W:
            acc_w += g * p
    scale = w / sig
    tl.store(gmu_ptr + rows, tl.sum(acc_mu, axis=1) * scale, mask=rmask)
    tl.store(gsig_ptr + rows, tl.sum(acc_sig, axis=1) * scale, mask=rmask)
    if NEED_W:
        tl.store(gw_ptr + rows, tl.sum(acc_w, axis=1), mask=rmask)


# ------------------------------------------------------------------------------------------------ host side


def _prepare(mu, sigma, weight, hold, channel):
    """Per-row inputs of the kernels: round(mu) (int64, half to even), mu - round(mu) (float32), ..."""
    mu_d = mu.detach().reshape(-1)
    center_f = torch.round(mu_d)
    # |mu| beyond 2^52 has no fraction left; keep the int64 conversion defined
    center = center_f.clamp(-(2.0**52), 2.0**52).to(torch.int64)
    delta = (mu_d - center_f).to(torch.float32).contiguous()
    sig = sigma.detach().reshape(-1).to(torch.float32).contiguous()
    w = weight.detach().reshape(-1).to(torch.float32).contiguous()
    h = hold.reshape(-1).to(torch.int32).contiguous()
    ch = None if channel is None else channel.reshape(-1).to(torch.int32).contiguous()
    return center.contiguous(), delta, sig, w, h, ch


def _usage_forward(center, delta, sig, w, h, ch, rh, half, max_hold, width, n_channels, ii, deterministic):
    n = center.numel()
    dev = center.device
    window = 2 * half + max_hold
    on_gpu = center.is_cuda
    fold = ii is not None
    usage = torch.zeros(n_channels * width, dtype=torch.float32, device=dev)
    if n == 0 or window <= 0:
        return usage
    if not deterministic:
        br, bw = (64, 32) if on_gpu else (1024, 64)
        bw = min(bw, triton.next_power_of_2(window))
        grid = (triton.cdiv(n, br), triton.cdiv(window, bw))
        _usage_atomic_kernel[grid](
            center, delta, sig, w, h, ch if ch is not None else h, rh if rh is not None else h, usage,
            n, half, window, width, ii if fold else 1,
            HAS_CHANNEL=ch is not None, FOLD=fold, PER_ROW=rh is not None, BR=br, BW=bw, num_warps=4,
        )
        return usage
    # deterministic gather: sort rows by (channel, key center)
    reach = half + max_hold
    shift = 2 * reach + 2
    span = width + 2 * shift + 2 * reach + 2
    if fold:
        keyc = torch.remainder(center, ii)
        dmin, dmax, period = -half, ii - 2 + half + max_hold, ii
    else:
        keyc = center.clamp(-(reach + 1), width + half + 1)
        dmin, dmax, period = 0, width - 1, width
    chl = torch.zeros_like(center) if ch is None else ch.to(torch.int64)
    key = chl * span + keyc + shift
    order = torch.argsort(key, stable=True)
    keys = key[order].contiguous()
    ds = torch.arange(dmin, dmax + 1, device=dev, dtype=torch.int64)
    cs = torch.arange(n_channels, device=dev, dtype=torch.int64)[:, None] * span
    lo = torch.searchsorted(keys, (cs + (ds - reach + 1 + shift)[None, :]).reshape(-1), right=False)
    hi = torch.searchsorted(keys, (cs + (ds + half + shift)[None, :]).reshape(-1), right=True)
    block = 128 if on_gpu else 1024
    _usage_gather_kernel[(n_channels * width,)](
        keyc[order].contiguous(), delta[order].contiguous(), sig[order].contiguous(), w[order].contiguous(),
        h[order].contiguous(), (rh if rh is not None else h)[order].contiguous(), lo.contiguous(), hi.contiguous(), usage,
        width, dmin, dmax, period, dmax - dmin + 1,
        PER_ROW=rh is not None, BLOCK=block, num_warps=4,
    )
    return usage


class ExpectedUsageFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii, deterministic, window_sigmas):
        width = horizon if ii is None else ii
        center, delta, sig, w, h, ch = _prepare(mu, sigma, weight, hold, channel)
        rh = None
        if window_sigmas is not None:
            rh = row_half_windows(sigma.detach().reshape(-1), h, half_window, window_sigmas).to(torch.int32).contiguous()
        max_hold = int(h.max().item()) if h.numel() else 0
        with _device_ctx(mu):
            usage = _usage_forward(center, delta, sig, w, h, ch, rh, half_window, max_hold, width, n_channels, ii,
                                   deterministic)
        ctx.save_for_backward(center, delta, sig, w, h, ch if ch is not None else h, rh if rh is not None else h)
        ctx.meta = (half_window, max_hold, width, ii, ch is not None, rh is not None, mu.dtype, sigma.dtype,
                    weight.dtype, mu.shape, sigma.shape, weight.shape)
        return usage.to(mu.dtype).view(n_channels, width)

    @staticmethod
    def backward(ctx, grad_usage):
        center, delta, sig, w, h, ch, rh = ctx.saved_tensors
        half, max_hold, width, ii, has_ch, per_row, mu_dt, sig_dt, w_dt, mu_sh, sig_sh, w_sh = ctx.meta
        n = center.numel()
        need_mu, need_sig, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        dev = center.device
        gmu = torch.zeros(n, dtype=torch.float32, device=dev)
        gsig = torch.zeros(n, dtype=torch.float32, device=dev)
        gw = torch.zeros(n, dtype=torch.float32, device=dev) if need_w else gmu
        window = 2 * half + max_hold
        if n > 0 and window > 0:
            g = grad_usage.reshape(-1).to(torch.float32).contiguous()
            on_gpu = center.is_cuda
            br, bw = (32, 32) if on_gpu else (1024, 64)
            bw = min(bw, triton.next_power_of_2(window))
            with _device_ctx(center):
                _usage_backward_kernel[(triton.cdiv(n, br),)](
                    g, center, delta, sig, w, h, ch, rh, gmu, gsig, gw,
                    n, half, window, width, ii if ii is not None else 1,
                    HAS_CHANNEL=has_ch, FOLD=ii is not None, NEED_W=need_w, PER_ROW=per_row, BR=br, BW=bw,
                    num_warps=4,
                )
        return (
            gmu.to(mu_dt).view(mu_sh) if need_mu else None,
            gsig.to(sig_dt).view(sig_sh) if need_sig else None,
            gw.to(w_dt).view(w_sh) if need_w else None,
            None, None, None, None, None, None, None, None,
        )


def expected_usage_triton(
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
    """Expected weighted occupancy (n_channels, horizon or ii) on the Triton kernels; see `relax.expected_usage`.

    Differentiable in mu, sigma (and weight). ``deterministic=True`` replaces the atomic forward by a sorted gather.
    ``window_sigmas``: per-row windows (masked inside the uniform window: same values, no GPU time saved).
    """
    _check_device(mu)
    horizon, half_window, n_channels = int(horizon), int(half_window), int(n_channels)
    ii = None if ii is None else int(ii)
    return ExpectedUsageFunction.apply(mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii,
                                       bool(deterministic), None if window_sigmas is None else float(window_sigmas))
