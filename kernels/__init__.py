"""gaus_fast.kernels: the relaxation terms of GauS as drop-in differentiable functions, on three backends.

* ``torch``  -- the plain differentiable reference in `gaus_fast.relax` (any device, any dtype);
* ``numba``  -- fused CPU kernels (parallel over edges / ops), `dependency_numba.py`, `occupancy_numba.py`;
* ``triton`` -- fused GPU kernels for CUDA tensors, `dependency_triton.py`, `occupancy_triton.py`.

Each fused kernel computes the value and the gradients in one pass and keeps only O(nodes) for backward.
``backend="auto"`` picks triton for CUDA tensors and numba for CPU tensors, falling back to torch when the
package is missing. Other differentiable schedulers can call these two functions on their own tensors::

    from gaus_fast import kernels
    loss = kernels.dependency_loss(mu, sigma, src, dst, lag, multiplier, rho=1.0)
    usage = kernels.expected_usage(mu, sigma, weight, hold, horizon=64, half_window=8)
    depth = kernels.bound_loss(mu, sigma, 0.0, 64 - lat)
    (loss + usage.max() + depth).backward()

(a runnable version is in the README, *Kernels for other schedulers*).
"""
from __future__ import annotations

import importlib.util

import torch

from .. import relax

BACKENDS = ("torch", "numba", "triton")


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def available_backends(device: str = "cpu") -> list[str]:
    """Backends usable on ``device``, the preferred one first (the reference ``torch`` is always last)."""
    have = []
    if str(device).startswith("cuda"):
        if _has("triton") and torch.cuda.is_available() and _has(f"{__name__}.dependency_triton"):
            have.append("triton")
    elif _has("numba") and _has(f"{__name__}.dependency_numba"):
        have.append("numba")
    return have + ["torch"]


def resolve_backend(backend: str, device: str | torch.device = "cpu") -> str:
    """The backend ``backend`` names on ``device`` (``auto``: the preferred one); ValueError when unusable."""
    have = available_backends(str(device))
    if backend == "auto":
        return have[0]
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of auto, {', '.join(BACKENDS)}")
    if backend not in have:
        raise ValueError(f"backend {backend!r} is not available on {device}; available: {', '.join(have)}")
    return backend


def dependency_loss(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    lag: torch.Tensor,
    multiplier: torch.Tensor,
    rho: float,
    *,
    comm_weight: torch.Tensor | None = None,
    alpha: float = 0.0,
    multiplier_step: float = 0.0,
    multiplier_cap: float = 1e3,
    backend: str = "auto",
    deterministic: bool = False,
) -> torch.Tensor:
    """Augmented-Lagrangian loss of the dependences ``t_src + lag <= t_dst`` for Gaussian starts.

    ``loss = sum_e mult_e v_e + rho/2 v_e^2 + alpha * sum_e w_e (mu_dst - mu_src)``, ``v_e = E[(X_src + lag_e -
    X_dst)+]`` with ``X_i ~ N(mu_i, sigma_i^2)`` independent. ``src``/``dst`` are int64 (or int32) edge arrays, ``lag``
    per-edge floats (``lat_src + delay - distance * II``), ``multiplier`` per-edge floats. Returns a 0-d tensor
    differentiable in ``mu`` and ``sigma``. With ``multiplier_step > 0`` the multipliers are updated in place in
    the same pass, *after* their old values entered the loss: ``mult_e <- min(mult_e + step * v_e, cap)``.
    ``deterministic=True`` avoids float atomics (bit-identical runs).
    """
    name = resolve_backend(backend, mu.device)
    if name == "torch":
        # The old multipliers enter the loss; autograd keeps them, so the in-place update needs a copy.
        used = multiplier.clone() if multiplier_step > 0 else multiplier
        loss, viol = relax.dependency_loss(mu, sigma, src, dst, lag, used, rho, comm_weight, alpha)
        if multiplier_step > 0:
            with torch.no_grad():
                multiplier.add_(multiplier_step * viol.detach()).clamp_(max=multiplier_cap)
        return loss
    if name == "numba":
        from .dependency_numba import dependency_loss_numba as fused
    else:
        from .dependency_triton import dependency_loss_triton as fused
    return fused(mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha, multiplier_step, multiplier_cap, deterministic)


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
    *,
    window_sigmas: float | None = None,
    backend: str = "auto",
    deterministic: bool = False,
) -> torch.Tensor:
    """Expected weighted occupancy per (channel, step), shape ``(n_channels, horizon)`` (or ``ii`` slots).

    Row i occupies step d when its rounded start lies in ``(d - hold_i, d]`` (``hold = 1``: pipelined, only the
    start step counts; ``hold = latency``: blocking). Only steps within ``half_window`` of ``round(mu_i)`` are
    evaluated (memory rows x window); with ``window_sigmas = k`` each row only within its own
    ``min(half_window, ceil(k sigma_i) + hold_i + 1)``, which saves most of the work when sigmas differ.
    Differentiable in ``mu`` and ``sigma``; see `gaus_fast.relax.expected_usage`.
    """
    name = resolve_backend(backend, mu.device)
    if name == "torch":
        return relax.expected_usage(mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii, window_sigmas)
    if name == "numba":
        from .occupancy_numba import expected_usage_numba as fused
    else:
        from .occupancy_triton import expected_usage_triton as fused
    return fused(mu, sigma, weight, hold, horizon, half_window, channel, n_channels, ii, deterministic, window_sigmas)


def expected_live_bits(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    bits: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    horizon: int,
    half_window: int,
    *,
    backend: str = "auto",
    deterministic: bool = False,
) -> torch.Tensor:
    """Expected live bits per step, shape ``(horizon,)``: ``sum_i b_i P(t_i <= d < max_j t_j)`` over the consumers
    ``j`` of each op (edges ``src -> dst``, each pair once), evaluated over windows of ``half_window`` steps around
    each op's start and its latest consumer's start (the plateau between counts in full). Differentiable in ``mu``
    and ``sigma``; see `gaus_fast.relax.expected_live_bits` (kernels: `lifetime_numba.py`, `lifetime_triton.py`).
    ``deterministic`` only matters for triton's atomic forward (numba is always deterministic for a thread count).
    """
    name = resolve_backend(backend, mu.device)
    if name == "torch":
        return relax.expected_live_bits(mu, sigma, bits, src, dst, int(horizon), int(half_window))
    if name == "numba":
        from .lifetime_numba import expected_live_bits_numba

        return expected_live_bits_numba(mu, sigma, bits, src, dst, horizon, half_window, deterministic)
    from .lifetime_triton import expected_live_bits_triton

    return expected_live_bits_triton(mu, sigma, bits, src, dst, horizon, half_window)


def bound_loss(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    lower: torch.Tensor | float,
    upper: torch.Tensor | float,
    *,
    backend: str = "auto",
    deterministic: bool = False,
) -> torch.Tensor:
    """``sum_i E[(lower_i - X_i)+] + E[(X_i - upper_i)+]``: the expected violation of start/end bounds (the depth
    bound ``t_i + span_i <= D`` is ``upper = D - span``), a 0-d tensor differentiable in ``mu`` and ``sigma``.

    ``lower`` / ``upper`` are numbers or per-op tensors. numba fuses it into one pass (`bounds_numba.py`); on CUDA it
    runs the torch reference (`gaus_fast.relax.bound_violation`), whose few elementwise ops are cheap there.
    """
    name = resolve_backend(backend, mu.device)
    if name == "numba":
        from .bounds_numba import bound_loss_numba

        return bound_loss_numba(mu, sigma, lower, upper, deterministic)
    return relax.bound_violation(mu, sigma, lower, upper).sum()
