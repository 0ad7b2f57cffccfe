"""The numba CPU kernels against the float64 torch reference in `gaus_fast.relax`.

Values and gradients on fresh random graphs (float64 to ~1e-10, float32 to a relative 1e-4 of the scale), per-edge
violations over |z| up to 40, the in-place multiplier update, the communication term, edge cases, the occupancy
window (round-half-to-even centres, horizon clipping, ii folding, holds, channels) and the public dispatch API.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

numba = pytest.importorskip("numba")

from gaus_fast import kernels, relax  # noqa: E402
from gaus_fast.kernels import dependency_numba as dep  # noqa: E402
from gaus_fast.kernels.dependency_numba import dependency_loss_numba  # noqa: E402
from gaus_fast.kernels.occupancy_numba import expected_usage_numba  # noqa: E402

F64, F32 = torch.float64, torch.float32


# ------------------------------------------------------------------------------------------------ helpers
def graph(seed, n=300, m=2000, dtype=F64, idx=torch.int64, spread=6.0):
    g = torch.Generator().manual_seed(seed)
    mu = (torch.randn(n, generator=g, dtype=F64) * spread).to(dtype)
    sigma = (0.2 + 2.0 * torch.rand(n, generator=g, dtype=F64)).to(dtype)
    src = torch.randint(0, n, (m,), generator=g).to(idx)
    dst = torch.randint(0, n, (m,), generator=g).to(idx)
    lag = torch.randint(0, 4, (m,), generator=g).to(dtype)
    mult = torch.rand(m, generator=g, dtype=F64).to(dtype)
    comm = torch.rand(m, generator=g, dtype=F64).to(dtype)
    return mu, sigma, src, dst, lag, mult, comm


def reference_dep(mu, sigma, src, dst, lag, mult, rho, comm=None, alpha=0.0):
    """Loss and gradients of the float64 reference."""
    m64 = mu.detach().double().requires_grad_()
    s64 = sigma.detach().double().requires_grad_()
    loss, viol = relax.dependency_loss(m64, s64, src.long(), dst.long(), lag.double(), mult.double(), rho,
                                       None if comm is None else comm.double(), alpha)
    loss.backward()
    return loss.detach(), m64.grad, s64.grad, viol.detach()


def numba_dep(mu, sigma, *args, **kw):
    m = mu.detach().clone().requires_grad_()
    s = sigma.detach().clone().requires_grad_()
    loss = dependency_loss_numba(m, s, *args, **kw)
    loss.backward()
    return loss.detach(), m.grad, s.grad


def close(got, want, rtol):
    """Agreement relative to the scale of ``want`` (gradients mix large and cancelled small entries)."""
    got, want = got.double(), want.double()
    scale = max(float(want.abs().max()), 1e-300) if want.numel() else 1.0
    err = float((got - want).abs().max()) if want.numel() else 0.0
    assert err <= rtol * scale, f"max error {err:.3e} > {rtol:.1e} * scale {scale:.3e}"


def reference_usage(mu, sigma, weight, hold, horizon, half, channel=None, n_channels=1, ii=None, grad=None,
                    window_sigmas=None):
    m, s, w = (t.detach().double().requires_grad_() for t in (mu, sigma, weight))
    u = relax.expected_usage(m, s, w, hold, horizon, half, channel, n_channels, ii, window_sigmas)
    if grad is None:
        return u.detach()
    (u * grad.double()).sum().backward()
    return u.detach(), m.grad, s.grad, w.grad


def numba_usage(mu, sigma, weight, hold, horizon, half, channel=None, n_channels=1, ii=None, grad=None, **kw):
    m, s, w = (t.detach().clone().requires_grad_() for t in (mu, sigma, weight))
    u = expected_usage_numba(m, s, w, hold, horizon, half, channel, n_channels, ii, **kw)
    if grad is None:
        return u.detach()
    (u * grad.to(u.dtype)).sum().backward()
    return u.detach(), m.grad, s.grad, w.grad


# ------------------------------------------------------------------------------------------------ math helpers
def test_mills_ratio_against_mpmath():
    mp = pytest.importorskip("mpmath")
    from gaus_fast.kernels._numba_math import mills_ratio

    f = numba.njit(lambda y: mills_ratio(y))
    rng = np.random.default_rng(0)
    ys = np.concatenate([rng.uniform(0, 40, 600), np.arange(0, 40, 0.5), [1e-12, 7.999999, 38.6]])
    mp.mp.dps = 30
    worst = 0.0
    for y in ys:
        exact = mp.erfc(mp.mpf(y) / mp.sqrt(2)) / 2 / (mp.exp(-mp.mpf(y) ** 2 / 2) / mp.sqrt(2 * mp.pi))
        worst = max(worst, abs(float((mp.mpf(f(y)) - exact) / exact)))
    assert worst < 5e-16
    assert np.isfinite(f(np.inf)) and np.isfinite(f(1e300))


# ------------------------------------------------------------------------------------------------ dependency loss
@pytest.mark.parametrize("seed,idx,comm", [(0, torch.int64, False), (1, torch.int32, True), (2, torch.int64, True)])
def test_dependency_float64_matches_reference(seed, idx, comm):
    mu, sigma, src, dst, lag, mult, w = graph(seed, idx=idx)
    rho, alpha = 0.7, (0.3 if comm else 0.0)
    want = reference_dep(mu, sigma, src, dst, lag, mult, rho, w if comm else None, alpha)
    got = numba_dep(mu, sigma, src, dst, lag, mult, rho, w if comm else None, alpha)
    assert got[0].dtype == F64 and got[0].dim() == 0
    assert abs(float(got[0]) - float(want[0])) <= 1e-12 * abs(float(want[0]))
    close(got[1], want[1], 1e-10)
    close(got[2], want[2], 1e-10)


def test_dependency_float32():  # (int32 indices: float64 above; each dtype pair is one more compilation)
    mu, sigma, src, dst, lag, mult, w = graph(3, dtype=F32)
    want = reference_dep(mu, sigma, src, dst, lag, mult, 1.3, w, 0.05)
    got = numba_dep(mu, sigma, src, dst, lag, mult, 1.3, w, 0.05)
    assert got[0].dtype == F32 and got[1].dtype == F32 and got[2].dtype == F32
    assert abs(float(got[0]) - float(want[0])) <= 1e-5 * abs(float(want[0]))
    close(got[1], want[1], 1e-4)
    close(got[2], want[2], 1e-4)


def per_edge(m, s, dtype=F64):
    """Disjoint edges 2i -> 2i+1 realising violation N(m_i, s_i^2): per-edge v through the multiplier update
    (mult 0, step 1: the new multiplier is v), Phi(z) and phi(z) through the node gradients (mult 1, rho 0)."""
    k = len(m)
    m = torch.as_tensor(m, dtype=F64)
    s = torch.as_tensor(s, dtype=F64)
    mu = torch.zeros(2 * k, dtype=F64)
    mu[1::2] = -m  # mu_u + 0 - mu_v = m
    sigma = torch.empty(2 * k, dtype=F64)
    sigma[0::2] = s / math.sqrt(2.0)
    sigma[1::2] = s / math.sqrt(2.0)
    src = torch.arange(0, 2 * k, 2)
    dst = src + 1
    lag = torch.zeros(k, dtype=F64)
    mu, sigma, lag = mu.to(dtype), sigma.to(dtype), lag.to(dtype)
    mult = torch.zeros(k, dtype=dtype)
    dependency_loss_numba(mu, sigma, src, dst, lag, mult, 0.0, multiplier_step=1.0, multiplier_cap=math.inf)
    _, gmu, gsig = numba_dep(mu, sigma, src, dst, lag, torch.ones(k, dtype=dtype), 0.0)
    return mult, gmu[0::2], gsig[0::2] * math.sqrt(2.0)  # dL/dsigma_u = phi(z) sigma_u / s


def test_per_edge_tails_up_to_z40():
    z = torch.cat([torch.linspace(-40, 40, 801, dtype=F64), torch.tensor([-8.0, -8.0 - 1e-9, -7.999, 0.0])])
    for s in (1e-3, 1.0, 1e3):
        m = z * s
        v, cdf, pdf = per_edge(m, torch.full_like(z, s))
        # the s and z the kernel sees: sqrt(2 (s / sqrt 2)^2), a rounding away from s
        half = torch.full_like(z, s / math.sqrt(2.0))
        s_seen = torch.sqrt(half * half + half * half)
        z_seen = m / s_seen
        want = relax.expected_excess(m, s_seen)
        assert torch.isfinite(v).all() and torch.isfinite(cdf).all() and torch.isfinite(pdf).all()
        ok = want > 1e-300  # the reference underflows to 0 (or denormals) past z = -37
        series = ok & (z_seen < -8)  # the same Mills-ratio series on both sides
        assert torch.allclose(v[series], want[series], rtol=1e-12, atol=0)
        # -8 <= z < 0: m Phi + s phi cancels by ~z^2; the reference's erfc and exp round independently, so it is
        # off by ~z^4 eps there (1e-13 at z = -6), while the kernel's shared exp factors out (see the mpmath test)
        direct = ok & (z_seen >= -8)
        tol = 2e-15 * (1 + z_seen[direct] ** 4)
        assert ((v[direct] - want[direct]).abs() <= tol * want[direct]).all()
        assert (v[~ok].abs() <= 1e-300).all()
        # Phi = phi R shares phi's exp, whose argument -z^2/2 carries a rounding of z^2 eps: relative error
        # ~z^2 eps in the far tail (erfc splits the square and does not), i.e. < 4e-13 at |z| = 38
        want_cdf = relax.normal_cdf(z_seen)
        tol = 1e-15 + 3e-16 * z_seen**2
        assert ((cdf - want_cdf).abs() <= tol * want_cdf + 1e-300).all()
        assert torch.allclose(pdf, relax.normal_pdf(z_seen), rtol=1e-14, atol=1e-300)
    # float32 keeps the tails too (no NaN / inf, no negative violation)
    v, cdf, pdf = per_edge(z * 2.0, torch.full_like(z, 2.0), F32)
    assert torch.isfinite(v).all() and (v >= 0).all() and torch.isfinite(cdf).all()
    mid = z.abs() < 8
    assert torch.allclose(v[mid].double(), relax.expected_excess(2 * z[mid], torch.full_like(z[mid], 2.0)), rtol=1e-5, atol=1e-6)


def test_per_edge_violation_against_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    z = torch.linspace(-7.9, 6.0, 40, dtype=F64)
    m = 1.7 * z
    v, cdf, _ = per_edge(m, torch.full_like(z, 1.7))
    half = torch.full_like(z, 1.7 / math.sqrt(2.0))
    s_seen = torch.sqrt(half * half + half * half)
    for i in range(len(z)):
        mm, ss = mp.mpf(float(m[i])), mp.mpf(float(s_seen[i]))
        exact = mm * mp.ncdf(mm / ss) + ss * mp.npdf(mm / ss)
        assert abs(float((mp.mpf(float(v[i])) - exact) / exact)) < 5e-14, float(z[i])
        assert abs(float((mp.mpf(float(cdf[i])) - mp.ncdf(mm / ss)) / mp.ncdf(mm / ss))) < 5e-15


def test_dependency_gradcheck_numba_and_reference():
    mu, sigma, src, dst, lag, mult, w = graph(4, n=12, m=30, spread=1.5)
    mu.requires_grad_(), sigma.requires_grad_()
    args = (src, dst, lag, mult, 0.9, w, 0.2)
    assert torch.autograd.gradcheck(lambda a, b: dependency_loss_numba(a, b, *args), (mu, sigma))
    assert torch.autograd.gradcheck(lambda a, b: relax.dependency_loss(a, b, *args)[0], (mu, sigma))
    m = torch.linspace(-12, 3, 9, dtype=F64, requires_grad=True)
    s = torch.linspace(0.5, 2, 9, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(relax.expected_excess, (m, s))


def test_multiplier_update_in_place():
    mu, sigma, src, dst, lag, mult, _ = graph(5)
    old = mult.clone()
    _, _, _, viol = reference_dep(mu, sigma, src, dst, lag, old, 0.5)
    want_loss = reference_dep(mu, sigma, src, dst, lag, old, 0.5)[0]
    ptr = mult.data_ptr()
    loss = dependency_loss_numba(mu, sigma, src, dst, lag, mult, 0.5, multiplier_step=0.5, multiplier_cap=0.9)
    assert mult.data_ptr() == ptr
    assert abs(float(loss) - float(want_loss)) <= 1e-12 * abs(float(want_loss))  # the old multipliers entered
    assert torch.allclose(mult, torch.clamp(old + 0.5 * viol, max=0.9), rtol=1e-13, atol=1e-15)
    assert (mult == 0.9).any() and (mult < 0.9).any()
    # a multiplier the kernel cannot view (float32 while mu is float64, non-contiguous) is copied back
    big = torch.zeros(2 * len(old), dtype=F32)
    strided = big[::2]
    strided.copy_(old)
    dependency_loss_numba(mu, sigma, src, dst, lag, strided, 0.5, multiplier_step=0.5, multiplier_cap=0.9)
    assert torch.allclose(strided.double(), torch.clamp(old + 0.5 * viol, max=0.9), rtol=1e-6)
    assert (big[1::2] == 0).all()
    # step 0: untouched
    before = mult.clone()
    dependency_loss_numba(mu, sigma, src, dst, lag, mult, 0.5)
    assert torch.equal(mult, before)


def test_comm_term_only():
    mu, sigma, src, dst, lag, _, w = graph(6)
    lag = lag - 50.0  # every edge slack by ~50: violations underflow, only the comm term is left
    mult = torch.zeros_like(w)
    loss, gmu, gsig = numba_dep(mu, sigma, src, dst, lag, mult, 0.0, w, 0.25)
    assert abs(float(loss) - 0.25 * float((w * (mu[dst] - mu[src])).sum())) < 1e-10
    want = torch.zeros_like(mu).index_add_(0, dst, 0.25 * w).index_add_(0, src, -0.25 * w)
    assert torch.allclose(gmu, want, atol=1e-12)
    assert float(gsig.abs().max()) < 1e-100
    # comm_weight given with alpha = 0, and alpha without comm_weight: no term, as in the reference
    assert float(dependency_loss_numba(mu, sigma, src, dst, lag, mult, 0.0, w, 0.0)) < 1e-100
    assert float(dependency_loss_numba(mu, sigma, src, dst, lag, mult, 0.0, None, 0.3)) < 1e-100


def test_edge_cases():
    # empty edge set
    mu = torch.randn(5, dtype=F64, requires_grad=True)
    sigma = torch.ones(5, dtype=F64, requires_grad=True)
    e = torch.zeros(0, dtype=torch.long)
    z = torch.zeros(0, dtype=F64)
    loss = dependency_loss_numba(mu, sigma, e, e, z, z.clone(), 1.0, z, 0.1, multiplier_step=1.0)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(mu.grad, torch.zeros(5, dtype=F64))
    # one node, a self-loop with a lag: m = lag, s = sqrt(2) sigma, no mu gradient
    mu1 = torch.tensor([3.0], dtype=F64)
    sig1 = torch.tensor([0.7], dtype=F64)
    one = torch.zeros(1, dtype=torch.long)
    lag1 = torch.tensor([1.5], dtype=F64)
    mult1 = torch.tensor([2.0], dtype=F64)
    got = numba_dep(mu1, sig1, one, one, lag1, mult1, 0.4)
    want = reference_dep(mu1, sig1, one, one, lag1, mult1, 0.4)
    v = relax.expected_excess(lag1, math.sqrt(2.0) * sig1)
    assert torch.allclose(got[0], 2.0 * v[0] + 0.2 * v[0] ** 2, rtol=1e-14)
    assert float(got[1]) == 0.0
    assert torch.allclose(got[2], want[2], rtol=1e-12)
    # duplicate edges count twice
    mu, sigma, src, dst, lag, mult, _ = graph(7, m=400)
    single = numba_dep(mu, sigma, src, dst, lag, mult, 0.3)
    double = numba_dep(mu, sigma, src.repeat(2), dst.repeat(2), lag.repeat(2), mult.repeat(2), 0.3)
    assert torch.allclose(double[0], 2 * single[0], rtol=1e-13)
    assert torch.allclose(double[1], 2 * single[1], rtol=1e-12, atol=1e-13)
    # tiny and huge sigmas
    for scale in (1e-3, 1e3):
        mu, sigma, src, dst, lag, mult, _ = graph(8, n=100, m=500)
        sigma = torch.full_like(sigma, scale)
        got = numba_dep(mu, sigma, src, dst, lag, mult, 0.5)
        want = reference_dep(mu, sigma, src, dst, lag, mult, 0.5)
        assert all(torch.isfinite(t).all() for t in got)
        assert abs(float(got[0]) - float(want[0])) <= 1e-12 * abs(float(want[0]))
        close(got[1], want[1], 1e-10)
        close(got[2], want[2], 1e-10)
    # bad input
    with pytest.raises(IndexError):
        dependency_loss_numba(mu, sigma, torch.tensor([0, 100]), torch.tensor([1, 2]), lag[:2], mult[:2], 1.0)
    with pytest.raises(ValueError):
        dependency_loss_numba(mu, sigma, src, dst[:-1], lag, mult, 1.0)


def test_float16_runs_in_float32():
    mu, sigma, src, dst, lag, mult, _ = graph(9, n=50, m=200, spread=2.0)
    got = numba_dep(mu.half(), sigma.half(), src, dst, lag.half(), mult.half(), 0.5)
    want = reference_dep(mu.half(), sigma.half(), src, dst, lag.half(), mult.half(), 0.5)
    assert got[0].dtype == torch.float16 and got[1].dtype == torch.float16
    assert abs(float(got[0]) - float(want[0])) <= 2e-3 * abs(float(want[0]))


def test_determinism():
    mu, sigma, src, dst, lag, mult, w = graph(10, n=5000, m=150_000)
    threads = numba.get_num_threads()
    try:
        runs = []
        for t in (1, threads, 1):
            numba.set_num_threads(t)
            runs.append(numba_dep(mu, sigma, src, dst, lag, mult, 0.5, w, 0.1, deterministic=True))
        a = numba_dep(mu, sigma, src, dst, lag, mult, 0.5, w, 0.1)
        b = numba_dep(mu, sigma, src, dst, lag, mult, 0.5, w, 0.1)
    finally:
        numba.set_num_threads(threads)
    for r in runs[1:]:  # bit-identical whatever the thread count
        assert all(torch.equal(x, y) for x, y in zip(runs[0], r))
    assert all(torch.equal(x, y) for x, y in zip(a, b))  # default: bit-identical for a fixed thread count
    assert dep.n_chunks_for(150_000, True) == dep.DETERMINISTIC_CHUNKS
    want = reference_dep(mu, sigma, src, dst, lag, mult, 0.5, w, 0.1)
    close(runs[0][1], want[1], 1e-10)


def test_backward_scales_by_grad_output():
    mu, sigma, src, dst, lag, mult, _ = graph(11, n=50, m=200)
    m = mu.clone().requires_grad_()
    loss = dependency_loss_numba(m, sigma, src, dst, lag, mult, 0.5)
    (3.0 * loss).backward()
    assert torch.allclose(m.grad, 3.0 * numba_dep(mu, sigma, src, dst, lag, mult, 0.5)[1], rtol=1e-14)


# ------------------------------------------------------------------------------------------------ expected usage
def rows(seed, n=400, lo=-10.0, hi=70.0, dtype=F64, max_hold=1):
    g = torch.Generator().manual_seed(seed)
    mu = (lo + (hi - lo) * torch.rand(n, generator=g, dtype=F64)).to(dtype)
    sigma = (0.1 + 2.5 * torch.rand(n, generator=g, dtype=F64)).to(dtype)
    weight = torch.rand(n, generator=g, dtype=F64).to(dtype)
    hold = torch.randint(1, max_hold + 1, (n,), generator=g)
    return mu, sigma, weight, hold, g


@pytest.mark.parametrize("ii,max_hold,channels", [(None, 1, 1), (None, 3, 2), (7, 1, 1), (5, 4, 3)])
def test_usage_float64_matches_reference(ii, max_hold, channels):
    mu, sigma, weight, hold, g = rows(12, max_hold=max_hold)
    channel = torch.randint(0, channels, (len(mu),), generator=g) if channels > 1 else None
    width = 60 if ii is None else ii
    grad = torch.randn(channels, width, generator=g, dtype=F64)
    want = reference_usage(mu, sigma, weight, hold, 60, 9, channel, channels, ii, grad)
    got = numba_usage(mu, sigma, weight, hold, 60, 9, channel, channels, ii, grad)
    assert got[0].shape == (channels, width)
    for a, b in zip(got, want):
        close(a, b, 1e-10)


@pytest.mark.parametrize("ii,max_hold,channels", [(None, 1, 1), (None, 3, 2), (6, 2, 2)])
def test_usage_per_row_windows_match_reference(ii, max_hold, channels):
    """window_sigmas: each row's own window (values and gradients as the reference, which masks the same cells)."""
    mu, sigma, weight, hold, g = rows(31, max_hold=max_hold)
    channel = torch.randint(0, channels, (len(mu),), generator=g) if channels > 1 else None
    width = 60 if ii is None else ii
    grad = torch.randn(channels, width, generator=g, dtype=F64)
    want = reference_usage(mu, sigma, weight, hold, 60, 9, channel, channels, ii, grad, window_sigmas=2.0)
    got = numba_usage(mu, sigma, weight, hold, 60, 9, channel, channels, ii, grad, window_sigmas=2.0)
    for a, b in zip(got, want):
        close(a, b, 1e-10)
    full = reference_usage(mu, sigma, weight, hold, 60, 9, channel, channels, ii, grad)
    assert not torch.allclose(got[0], full[0], rtol=1e-12, atol=0)  # the narrower windows did cut something


def test_usage_float32():
    mu, sigma, weight, hold, g = rows(13, dtype=F32, max_hold=2)
    grad = torch.randn(1, 60, generator=g, dtype=F64)
    want = reference_usage(mu, sigma, weight, hold, 60, 8, grad=grad)
    got = numba_usage(mu, sigma, weight, hold, 60, 8, grad=grad)
    assert all(t.dtype == F32 for t in got)
    for a, b in zip(got, want):
        close(a, b, 1e-4)


def test_usage_round_half_to_even_and_far_rows():
    # centres at exact halves: torch.round goes to even, so with a narrow window the clipped mass tells them apart
    mu = torch.tensor([0.5, 1.5, 2.5, 3.5, -0.5, 10.5, 11.5], dtype=F64)
    sigma = torch.full_like(mu, 0.8)
    weight = torch.ones_like(mu)
    hold = torch.tensor([1, 2, 1, 3, 1, 2, 1])
    for half in (0, 1, 2):
        want = reference_usage(mu, sigma, weight, hold, 16, half)
        got = numba_usage(mu, sigma, weight, hold, 16, half)
        close(got, want, 1e-12)
        close(numba_usage(mu, sigma, weight, hold, 16, half, ii=3), reference_usage(mu, sigma, weight, hold, 16, half, ii=3), 1e-12)
    # rows far outside the horizon contribute nothing and get zero gradients; |z| up to 40 stays finite
    mu = torch.tensor([-1000.0, 5000.0, 3.2, 1e6], dtype=F64)
    sigma = torch.tensor([1.0, 2.0, 0.05, 1.0], dtype=F64)
    weight = torch.ones_like(mu)
    hold = torch.ones(4, dtype=torch.long)
    grad = torch.randn(1, 10, dtype=F64)
    got = numba_usage(mu, sigma, weight, hold, 10, 30, grad=grad)
    want = reference_usage(mu, sigma, weight, hold, 10, 30, grad=grad)
    assert all(torch.isfinite(t).all() for t in got)
    for a, b in zip(got, want):
        close(a, b, 1e-12)
    assert float(got[1][[0, 1, 3]].abs().max()) == 0.0
    # with ii, far rows fold in like the reference (nothing is dropped)
    close(numba_usage(mu[:2], sigma[:2], weight[:2], hold[:2], 10, 3, ii=4), reference_usage(mu[:2], sigma[:2], weight[:2], hold[:2], 10, 3, ii=4), 1e-12)


def test_usage_tiny_and_huge_sigma():
    for s, half in ((1e-3, 4), (1e3, 24)):
        mu, sigma, weight, hold, g = rows(14, n=200, max_hold=3)
        sigma = torch.full_like(sigma, s)
        grad = torch.randn(1, 60, generator=g, dtype=F64)
        got = numba_usage(mu, sigma, weight, hold, 60, half, grad=grad)
        want = reference_usage(mu, sigma, weight, hold, 60, half, grad=grad)
        assert all(torch.isfinite(t).all() for t in got)
        for a, b in zip(got, want):
            close(a, b, 1e-10)


def test_usage_edge_cases_and_validation():
    e = torch.zeros(0, dtype=F64, requires_grad=True)
    u = expected_usage_numba(e, e, e, torch.zeros(0, dtype=torch.long), 8, 3, n_channels=2)
    assert u.shape == (2, 8) and float(u.detach().abs().sum()) == 0.0
    u.sum().backward()
    mu = torch.tensor([2.0], dtype=F64)
    one = torch.ones(1, dtype=F64)
    with pytest.raises(IndexError):
        expected_usage_numba(mu, one, one, torch.ones(1, dtype=torch.long), 8, 3, torch.tensor([2]), 2)
    with pytest.raises(ValueError):
        expected_usage_numba(mu, one, one, torch.ones(1, dtype=torch.long), 8, 3, ii=0)
    # hold 0 occupies nothing
    assert float(expected_usage_numba(mu, one, one, torch.zeros(1, dtype=torch.long), 8, 3).abs().sum()) == 0.0
    # a single pipelined row sums to the mass inside the window
    u = expected_usage_numba(torch.tensor([4.0], dtype=F64), torch.tensor([0.5], dtype=F64), one, torch.ones(1, dtype=torch.long), 9, 4)
    assert abs(float(u.sum()) - 1.0) < 1e-12


def test_usage_gradcheck_numba_and_reference():
    mu = torch.tensor([1.2, 3.9, 6.3, 2.1], dtype=F64, requires_grad=True)  # away from half-integers (the window moves)
    sigma = torch.tensor([0.6, 1.1, 0.4, 2.0], dtype=F64, requires_grad=True)
    weight = torch.tensor([1.0, 0.5, 2.0, 1.5], dtype=F64, requires_grad=True)
    hold = torch.tensor([1, 2, 3, 1])
    channel = torch.tensor([0, 1, 1, 0])
    for ii in (None, 3):
        assert torch.autograd.gradcheck(lambda a, b, c: expected_usage_numba(a, b, c, hold, 9, 5, channel, 2, ii), (mu, sigma, weight))
        assert torch.autograd.gradcheck(lambda a, b, c: relax.expected_usage(a, b, c, hold, 9, 5, channel, 2, ii), (mu, sigma, weight))


def test_usage_determinism():
    mu, sigma, weight, hold, g = rows(15, n=20_000, hi=200.0, max_hold=2)
    threads = numba.get_num_threads()
    try:
        out = []
        for t in (1, threads):
            numba.set_num_threads(t)
            out.append(numba_usage(mu, sigma, weight, hold, 200, 10, deterministic=True))
    finally:
        numba.set_num_threads(threads)
    assert torch.equal(out[0], out[1])
    close(out[0], reference_usage(mu, sigma, weight, hold, 200, 10), 1e-10)


# ------------------------------------------------------------------------------------------------ public API
def test_public_api_dispatches_to_numba():
    assert kernels.resolve_backend("auto", "cpu") == "numba"
    assert "numba" in kernels.available_backends("cpu")
    mu, sigma, src, dst, lag, mult, w = graph(16)
    m_numba, m_torch = mult.clone(), mult.clone()
    a = mu.clone().requires_grad_()
    b = mu.clone().requires_grad_()
    la = kernels.dependency_loss(a, sigma, src, dst, lag, m_numba, 0.5, comm_weight=w, alpha=0.1, multiplier_step=0.5, backend="auto")
    lb = kernels.dependency_loss(b, sigma, src, dst, lag, m_torch, 0.5, comm_weight=w, alpha=0.1, multiplier_step=0.5, backend="torch")
    la.backward(), lb.backward()
    assert abs(float(la) - float(lb)) <= 1e-12 * abs(float(lb))
    close(a.grad, b.grad, 1e-10)
    assert torch.allclose(m_numba, m_torch, rtol=1e-12, atol=1e-14)
    mu, sigma, weight, hold, g = rows(17, max_hold=2)
    ua = kernels.expected_usage(mu, sigma, weight, hold, 60, 8, backend="numba")
    ub = kernels.expected_usage(mu, sigma, weight, hold, 60, 8, backend="torch")
    close(ua, ub, 1e-10)
    close(kernels.expected_usage(mu, sigma, weight, hold, 60, 8, ii=6, backend="auto"),
          kernels.expected_usage(mu, sigma, weight, hold, 60, 8, ii=6, backend="torch"), 1e-10)


def test_readme_kernel_example_runs_and_matches_the_reference():
    """The README's *Kernels for other schedulers* example runs as written (auto backend: numba here), and its
    gradients are the torch reference's."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "kernels.dependency_loss" in b)
    got, want = {}, {}
    exec(block, got)
    exec(block.replace("rho=1.0, multiplier_step=1.0", "rho=1.0, multiplier_step=1.0, backend='torch'")
         .replace("half_window=4)", "half_window=4, backend='torch')")
         .replace("6.0 - 1.0)", "6.0 - 1.0, backend='torch')"), want)
    assert got["mu"].grad is not None and torch.isfinite(got["mu"].grad).all()
    close(got["mu"].grad, want["mu"].grad, 1e-6)
    close(got["rho"].grad, want["rho"].grad, 1e-6)
    close(got["mult"], want["mult"], 1e-6)
    assert (got["mult"] > 0).all()
