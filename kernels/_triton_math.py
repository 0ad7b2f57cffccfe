"""Shared @triton.jit helpers of the Triton kernels: erfc, the normal cdf/pdf, tail masses, E[(Y)+].

Everything is float32. Triton 3.9 has no ``tl.erfc`` and libdevice does not run in the interpreter
(``TRITON_INTERPRET=1``), so erfc is the Numerical Recipes ``erfcc`` Chebyshev fit
``erfc(x) = t * exp(-x^2 - 1.26551223 + t * P(t))``, ``t = 1 / (1 + x/2)``, fractional error < 1.2e-7 for all
x >= 0. It is evaluated for ``|x|`` only and the tail masses are used directly, so nothing cancels in either tail
(``erfc(-x) = 2 - erfc(x)`` where needed). The Gaussian factor ``exp(-x^2)`` is kept apart (``erfcx_nonneg`` is the
scaled ``exp(x^2) erfc(x)``): the float32 rounding of the large exponent (relative ~x^2 * 6e-8) then only scales
results, and in E[(Y)+] for negative z the cancelling terms ``z Phi(z) + phi(z)`` share that factor exactly
(relative error <~ 1e-5 down to z = -8, where the Mills-ratio series takes over, as in the reference).
The formulas mirror `gaus_fast.relax` (the float64 reference).
"""
from __future__ import annotations

import triton
import triton.language as tl

SQRT1_2 = tl.constexpr(0.7071067811865476)
INV_SQRT_2PI = tl.constexpr(0.3989422804014327)


@triton.jit
def erfcx_nonneg(x):
    """The scaled erfc ``exp(x^2) erfc(x)`` for x >= 0: the NR erfcc fit ``t exp(P(t))`` without its Gaussian factor."""
    t = 1.0 / (1.0 + 0.5 * x)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    return t * tl.exp(poly)


@triton.jit
def erfc_nonneg(x):
    """erfc(x) for x >= 0 (Numerical Recipes erfcc), relative error < 1.2e-7, no cancellation for large x."""
    return erfcx_nonneg(x) * tl.exp(-x * x)


@triton.jit
def erfc(x):
    """erfc(x) for any x: reflected for negative x, erfc(-x) = 2 - erfc(x)."""
    r = erfc_nonneg(tl.abs(x))
    return tl.where(x < 0, 2.0 - r, r)


@triton.jit
def tail_mass(z):
    """Phi(-|z|): the standard normal mass beyond z on its own side (no cancellation in either tail)."""
    return 0.5 * erfcx_nonneg(tl.abs(z) * SQRT1_2) * tl.exp(-0.5 * z * z)


@triton.jit
def normal_pdf(z):
    return tl.exp(-0.5 * z * z) * INV_SQRT_2PI  # tensor first: constexpr * tensor stays a constexpr in the interpreter


@triton.jit
def normal_cdf(z):
    """Phi(z), exact in the left tail (the tail mass itself), 1 - tail on the right."""
    t = tail_mass(z)
    return tl.where(z < 0, t, 1.0 - t)


@triton.jit
def interval_from_tails(za, ta, zb, tb):
    """P(za <= Z < zb) from the tail masses t = Phi(-|z|) of both ends (za <= zb), without cancellation."""
    p = tl.where(zb <= 0, tb - ta, tl.where(za > 0, ta - tb, 1.0 - ta - tb))
    return tl.maximum(p, 0.0)


@triton.jit
def expected_excess(m, s):
    """E[(Y)+] for Y ~ N(m, s^2), s > 0, plus Phi(m/s) and phi(m/s) (= dE/dm and dE/ds).

    ``m Phi(z) + s phi(z)`` for z >= -8; below, the Mills-ratio series ``s phi(z) g(-z)`` of `relax.expected_excess`
    (g(w) ~ 1/w^2 - 3/w^4 + 15/w^6 - 105/w^8 + 945/w^10), which does not cancel.
    """
    z = m / s
    gauss = tl.exp(-0.5 * z * z)
    ratio = 0.5 * erfcx_nonneg(tl.abs(z) * SQRT1_2)  # Phi(-|z|) / exp(-z^2/2)
    tail = ratio * gauss
    pdf = gauss * INV_SQRT_2PI
    cdf = tl.where(z < 0, tail, 1.0 - tail)
    # left of 0, E = s exp(-z^2/2) (1/sqrt(2 pi) + z ratio): the terms that cancel carry no exp rounding
    left = s * gauss * (z * ratio + INV_SQRT_2PI)
    right = m * cdf + s * pdf
    w = tl.maximum(-z, 8.0)
    inv2 = 1.0 / (w * w)
    series = 1.0 + inv2 * (-3.0 + inv2 * (15.0 + inv2 * (-105.0 + inv2 * 945.0)))
    v = tl.where(z < -8.0, s * pdf * inv2 * series, tl.where(z < 0, left, right))
    return v, cdf, pdf
