"""The Gaussian relaxation: expected violations and expected usage as functions of (mu, sigma).

This module says *what* is computed, in plain differentiable torch (the reference path). The fused kernels in
`gaus_fast.kernels` compute the same quantities faster and plug in behind the same functions through the
``backend`` argument; tests compare them against these definitions in float64.

Every start time is ``X_i ~ N(mu_i, sigma_i^2)``, independent across ops.

* Dependence ``u -> v`` with lag ``l``: with ``m = mu_u + l - mu_v`` and ``s = sqrt(sigma_u^2 + sigma_v^2)``,
  ``E[(X_u + l - X_v)+] = m * Phi(m/s) + s * phi(m/s)``.
* Occupancy: an op holding a unit for ``h`` steps occupies step ``d`` when its rounded start lies in
  ``(d - h, d]``, i.e. ``X in [d - h + 0.5, d + 0.5)``; its probability is ``Phi(b) - Phi(a)`` for the
  standardised ends, computed from the tail that keeps precision (erfc), never as ``0.5 * (1 + erf)``.
"""
from __future__ import annotations

import math

import torch

SQRT1_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def normal_cdf(z: torch.Tensor) -> torch.Tensor:
    """Phi(z) through erfc: accurate in the left tail (no cancellation to 0 before z = -37 in float64)."""
    return 0.5 * torch.special.erfc(-z * SQRT1_2)


def normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return INV_SQRT_2PI * torch.exp(-0.5 * z * z)


def interval_probability(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """P(a <= Z < b) for a standard normal Z and a <= b, precise in both tails.

    Right of zero, ``Q(a) - Q(b)`` with ``Q(z) = Phi(-z)`` subtracts two small numbers instead of two numbers near 1.
    """
    right = a > 0
    lo = torch.where(right, -b, a)
    hi = torch.where(right, -a, b)
    return (normal_cdf(hi) - normal_cdf(lo)).clamp_min(0.0)


def tail_mass(z: torch.Tensor) -> torch.Tensor:
    """Phi(-|z|): the mass beyond z on its own side, exact to the last bit in both tails."""
    return 0.5 * torch.special.erfc(z.abs() * SQRT1_2)


def interval_from_tails(za: torch.Tensor, ta: torch.Tensor, zb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
    """P(za <= Z < zb) from the tail masses ``t = Phi(-|z|)`` of both ends (za <= zb), without cancellation."""
    both_left = zb <= 0
    both_right = za > 0
    p = torch.where(both_left, tb - ta, torch.where(both_right, ta - tb, 1.0 - ta - tb))
    return p.clamp_min(0.0)


def expected_excess(m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """E[(Y)+] for Y ~ N(m, s^2): ``m * Phi(m/s) + s * phi(m/s)``, stable for any finite m and s > 0.

    For very negative m/s the two terms cancel; the Mills-ratio form ``s * phi(z) * (1 - z R(z))`` avoids it.
    """
    z = m / s
    direct = m * normal_cdf(z) + s * normal_pdf(z)
    # Left tail (z < -8): E = s * phi(z) * g(w) with w = -z and g(w) = 1 - w * R(w), R the Mills ratio,
    # g(w) ~ 1/w^2 - 3/w^4 + 15/w^6 - 105/w^8 + 945/w^10 (relative error < 2e-7 for w >= 8).
    w = (-z).clamp_min(8.0)
    inv2 = 1.0 / (w * w)
    series = 1.0 + inv2 * (-3.0 + inv2 * (15.0 + inv2 * (-105.0 + inv2 * 945.0)))
    tail = s * normal_pdf(z) * inv2 * series
    return torch.where(z < -8.0, tail, direct)


def dependency_violation(mu: torch.Tensor, sigma: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, lag: torch.Tensor) -> torch.Tensor:
    """Per-edge expected violation ``E[(X_src + lag - X_dst)+]``."""
    m = mu[src] + lag - mu[dst]
    s = torch.sqrt(sigma[src] ** 2 + sigma[dst] ** 2)
    return expected_excess(m, s)


def dependency_loss(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    lag: torch.Tensor,
    multiplier: torch.Tensor,
    rho: float,
    comm_weight: torch.Tensor | None = None,
    alpha: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The augmented-Lagrangian dependence loss and the per-edge violations (the reference the kernels match).

    ``loss = sum_e mult_e v_e + rho/2 v_e^2 + alpha sum_e w_e (mu_dst - mu_src)`` with ``v_e`` the expected
    violation of edge e; ``lag`` already holds ``lat_src + delay - distance * II``.
    """
    viol = dependency_violation(mu, sigma, src, dst, lag)
    loss = (multiplier * viol).sum() + 0.5 * rho * (viol * viol).sum()
    if comm_weight is not None and alpha != 0.0:
        loss = loss + alpha * (comm_weight * (mu[dst] - mu[src])).sum()
    return loss, viol


def bound_violation(mu: torch.Tensor, sigma: torch.Tensor, lower: torch.Tensor | float, upper: torch.Tensor | float) -> torch.Tensor:
    """Per-op expected violation of ``lower <= X_i <= upper``: ``E[(lower - X)+] + E[(X - upper)+]``."""
    return expected_excess(lower - mu, sigma) + expected_excess(mu - upper, sigma)


WINDOW_SIGMAS = 4.0  # the solvers' occupancy windows reach this many sigmas (P(|Z| > 4) = 6e-5) plus the hold


def occupancy_window(sigma_max: float, hold_max: int, cap: int) -> int:
    """Half-width of the step window around round(mu): 4 sigma plus the hold, capped (memory is ops x window)."""
    return int(min(cap, math.ceil(WINDOW_SIGMAS * sigma_max) + hold_max + 1))


def row_half_windows(sigma: torch.Tensor, hold: torch.Tensor, half_window: int, window_sigmas: float) -> torch.Tensor:
    """Per-row half windows ``min(half_window, ceil(window_sigmas * sigma_i) + hold_i + 1)`` (int64)."""
    reach = torch.ceil(window_sigmas * sigma).clamp(0, half_window).to(torch.long)
    return (reach + hold.to(torch.long) + 1).clamp(max=half_window)


def expected_usage(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    weight: torch.Tensor,
    hold: torch.Tensor,
    horizon: int,
    half_window: int,
    channel: torch.Tensor | None = None,
    n_channels: int = 1,
    ii: int | None = None,
    window_sigmas: float | None = None,
) -> torch.Tensor:
    """Expected (weighted) occupancy per (channel, step): ``u[c, d] = sum_{i in c} w_i P(i occupies d)``.

    Each row i is one use of a unit (an op, or an op's use of one resource type) with its own hold; ``channel``
    (default all 0) says which resource type it counts against. Only steps within ``half_window`` of
    ``round(mu_i)`` (plus the hold) are evaluated, so memory is rows x window, never rows x horizon. Steps
    outside [0, horizon) are dropped (the depth term handles them). With ``ii`` the steps fold onto slots
    ``d mod ii`` (modulo scheduling) and each channel has ii entries. Returns shape (n_channels, horizon or ii).

    With ``window_sigmas = k`` each row's window shrinks to its own width (`row_half_windows`): row i evaluates
    the steps ``round(mu_i) + j``, ``-H_i <= j < H_i + h_i``, ``H_i = min(half_window, ceil(k sigma_i) + h_i + 1)``
    (the rule of `occupancy_window` per row), so narrow rows cost little when a few wide ones set half_window.
    """
    width = horizon if ii is None else ii
    n = mu.shape[0]
    if n == 0:
        return mu.new_zeros(n_channels, width)
    max_hold = int(hold.max().item())
    center = torch.round(mu.detach()).to(torch.long)
    # Boundaries e + 0.5 for e in [center - half - max_hold, center + half + max_hold): each use occupies step d
    # when its start X lies in [d - h + 0.5, d + 0.5), so P = F(boundary of d) - F(boundary of d - h).
    lo = -half_window - max_hold
    edges = center[:, None] + torch.arange(lo, half_window + max_hold, device=mu.device)[None, :]
    z = (edges + 0.5 - mu[:, None]) / sigma[:, None]
    tail = tail_mass(z)  # one erfc per boundary, shared by the steps on both sides
    cols = torch.arange(max_hold, edges.shape[1], device=mu.device)  # step d = edges[:, col]
    upper = cols[None, :].expand(n, -1)
    lower = upper - hold[:, None]
    steps = edges[:, max_hold:]
    p = interval_from_tails(z.gather(1, lower), tail.gather(1, lower), z[:, max_hold:], tail[:, max_hold:])
    if window_sigmas is not None:
        row_half = row_half_windows(sigma.detach(), hold, half_window, window_sigmas)
        offset = torch.arange(-half_window, half_window + max_hold, device=mu.device)[None, :]
        p = torch.where((offset >= -row_half[:, None]) & (offset < (row_half + hold)[:, None]), p, 0.0)
    p = p * weight[:, None]
    base = 0 if channel is None else (channel * width)[:, None]
    usage = torch.zeros(n_channels * width, dtype=mu.dtype, device=mu.device)
    if ii is not None:
        usage.index_add_(0, (base + torch.remainder(steps, ii)).reshape(-1), p.reshape(-1))
    else:
        inside = (steps >= 0) & (steps < horizon)
        usage.index_add_(0, (base + steps)[inside], p[inside])
    return usage.view(n_channels, width)


# ----------------------------------------------------------------------------------------------- live storage
def lifetime_windows(mu: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, half_window: int):
    """Window geometry of `expected_live_bits` (shared with the kernels): per op its centre ``c_i = round(mu_i)``,
    ``m_i = max_j c_j`` over its consumers (-1 where it has none) and whether it has any."""
    n = mu.shape[0]
    center = torch.round(mu.detach()).to(torch.long)
    last = torch.full((n,), torch.iinfo(torch.long).min, dtype=torch.long, device=mu.device)
    if src.numel():
        last.scatter_reduce_(0, src.long(), center[dst.long()], reduce="amax")
    has = last > torch.iinfo(torch.long).min
    return center, torch.where(has, last, center), has


def expected_live_bits(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    bits: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    horizon: int,
    half_window: int,
) -> torch.Tensor:
    """Expected live bits per step ``E[Reg(d)] = sum_i b_i P(t_i <= d < max_j t_j)``, shape ``(horizon,)``.

    ``src -> dst`` lists each (producer, consumer) pair once (a repeated pair would square its factor). With
    ``t = round(X)``, ``P(t_i <= d) = F_i(d) = Phi((d + 0.5 - mu_i) / sigma_i)`` and, the starts being independent,
    ``P(t_i <= d < max_j t_j) = F_i(d) (1 - prod_j F_j(d))``; the product is ``exp(S)`` with
    ``S = sum_j log F_j(d)`` from the stable log-cdf (no underflow in the left tail) and ``1 - exp(S) = -expm1(S)``
    (no cancellation when every consumer has surely started). An op without consumers is never live (the
    empty product is 1), as in `verify.evaluate`'s ``peak_live_bits``.

    Windows, never ops x horizon: with ``c_i = round(mu_i)`` and ``m_i = max_j c_j``, the value rises within
    ``[c_i - H, c_i + H]`` and falls within ``[m_i - H, m_i + H]`` (``H = half_window``, at least ~4 sigma): both are
    evaluated exactly (their union, each step once); on the plateau strictly between them (when ``m_i > c_i + 2H``)
    the op counts its full ``b_i`` (there ``F_i ~ 1`` and ``prod F_j ~ 0``; no gradient); elsewhere 0. Steps
    outside ``[0, horizon)`` are dropped. Differentiable in ``mu`` and ``sigma``.
    """
    n = mu.shape[0]
    live = torch.zeros(horizon, dtype=mu.dtype, device=mu.device)
    if n == 0 or horizon <= 0:
        return live
    src, dst = src.long(), dst.long()
    center, last, has = lifetime_windows(mu, src, dst, half_window)
    h = int(half_window)
    k = 2 * h + 1
    off = torch.arange(-h, h + 1, device=mu.device)
    steps = torch.cat([center[:, None] + off, last[:, None] + off], dim=1)  # (n, 2k)
    second = torch.arange(2 * k, device=mu.device)[None, :] >= k
    dup = second & ((steps - center[:, None]).abs() <= h)
    valid = has[:, None] & ~dup & (steps >= 0) & (steps < horizon)
    f_own = normal_cdf((steps + 0.5 - mu[:, None]) / sigma[:, None])
    s = torch.zeros(n, 2 * k, dtype=mu.dtype, device=mu.device)
    if src.numel():
        z = (steps[src] + 0.5 - mu[dst][:, None]) / sigma[dst][:, None]
        s = s.index_add(0, src, torch.special.log_ndtr(z))
    val = bits.to(mu.dtype)[:, None] * f_own * -torch.expm1(s)
    live = live.index_add(0, steps[valid], val[valid])
    # plateau [c + H + 1, m - H) at full width, by a difference array
    lo = (center + h + 1).clamp(0, horizon)
    hi = (last - h).clamp(0, horizon)
    flat = has & (hi > lo)
    if flat.any():
        diff = torch.zeros(horizon + 1, dtype=mu.dtype, device=mu.device)
        b = bits.to(mu.dtype)[flat]
        diff.index_add_(0, lo[flat], b)
        diff.index_add_(0, hi[flat], -b)
        live = live + torch.cumsum(diff, 0)[:horizon]
    return live
