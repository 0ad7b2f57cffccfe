"""The Gaussian relaxation terms (`gaus_fast.relax`) in float64 against scipy / mpmath / numerical integration,
including the far tails, and torch.autograd.gradcheck of the differentiable terms."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from gaus_fast import relax

mpmath = pytest.importorskip("mpmath")

D = torch.float64
Z = np.concatenate([np.linspace(-40, 40, 161), [-38.5, -37.0, -8.0001, -7.9999, -1e-9, 0.0, 1e-9, 37.0, 38.5]])


def T(x, dtype=D):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def close_rel(got, want, rtol, tiny=0.0):
    """Relative closeness, elementwise; values both below ``tiny`` (e.g. float64 underflow) count as equal."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    both_tiny = (np.abs(got) <= tiny) & (np.abs(want) <= tiny)
    err = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
    bad = ~both_tiny & (err > rtol)
    assert not bad.any(), f"worst rel err {err[~both_tiny].max():.3g} at {np.flatnonzero(bad)[:5]}: got {got[bad][:3]}, want {want[bad][:3]}"


# ------------------------------------------------------------------------------------------------ Phi, phi, tails
def test_normal_cdf_matches_scipy_including_tails():
    got = relax.normal_cdf(T(Z)).numpy()
    close_rel(got, norm.cdf(Z), 1e-12, tiny=1e-300)
    assert got[Z == 40][0] == 1.0 and got[Z == -40][0] == norm.cdf(-40) == 0.0  # float64 underflow at -40
    # the left tail keeps full relative precision down to z = -37 (no 1 - x cancellation)
    assert relax.normal_cdf(T([-37.0])).item() == pytest.approx(norm.cdf(-37.0), rel=1e-12)
    assert relax.normal_cdf(T([-37.0])).item() > 0


def test_normal_pdf_matches_scipy():
    close_rel(relax.normal_pdf(T(Z)).numpy(), norm.pdf(Z), 1e-13, tiny=1e-300)


def test_tail_mass_both_sides():
    got = relax.tail_mass(T(Z)).numpy()
    close_rel(got, norm.sf(np.abs(Z)), 1e-12, tiny=1e-300)
    assert relax.tail_mass(T([30.0])).item() == relax.tail_mass(T([-30.0])).item() == pytest.approx(norm.sf(30.0), rel=1e-12)


def _interval_ref(a, b):
    mpmath.mp.dps = 60
    if a > 0:  # right tail: subtract the small upper tails, not two numbers near 1
        return float(mpmath.ncdf(-a) - mpmath.ncdf(-b))
    return float(mpmath.ncdf(b) - mpmath.ncdf(a))


@pytest.mark.parametrize(
    "a, b",
    [(-1.0, 1.0), (-40.0, 40.0), (0.5, 1.5), (-1.5, -0.5), (30.0, 31.0), (-31.0, -30.0), (8.0, 8.5), (-37.0, -36.5),
     (38.0, 39.0), (0.0, 0.0), (2.0, 2.0 + 1e-9), (-0.2, 0.3)],
)
def test_interval_probability_precise_in_both_tails(a, b):
    want = _interval_ref(a, b)
    got = relax.interval_probability(T([a]), T([b])).item()
    assert got >= 0
    if want < 1e-300:
        assert got < 1e-300
    else:
        assert got == pytest.approx(want, rel=1e-9)
    # the tail-mass form used by expected_usage gives the same
    za, zb = T([a]), T([b])
    alt = relax.interval_from_tails(za, relax.tail_mass(za), zb, relax.tail_mass(zb)).item()
    assert alt == pytest.approx(got, rel=1e-9, abs=1e-300)


# ------------------------------------------------------------------------------------------------ E[(Y)+]
def _excess_mp(m, s):
    mpmath.mp.dps = 80
    m, s = mpmath.mpf(m), mpmath.mpf(s)
    z = m / s
    return float(m * mpmath.ncdf(z) + s * mpmath.npdf(z))


def _excess_quad(m, s):
    """E[(Y)+] for Y ~ N(m, s^2) by integrating y * density over y >= 0 (substituting y = s * u)."""
    z = m / s
    val, _ = integrate.quad(lambda u: u * norm.pdf(u - z), 0.0, np.inf, epsabs=0.0, epsrel=1e-11, limit=200)
    return s * val


@pytest.mark.parametrize("z", [-30.0, -20.0, -12.0, -8.5, -8.0, -7.5, -4.0, -1.0, -0.1, 0.0, 0.3, 1.0, 3.0, 8.0, 25.0])
@pytest.mark.parametrize("s", [0.25, 1.0, 3.7])
def test_expected_excess_against_integration(z, s):
    m = z * s
    got = relax.expected_excess(T([m]), T([s])).item()
    want = _excess_quad(m, s)
    assert got >= 0
    # the left-tail series (z < -8) is good to ~2e-7 relative; the direct form to ~1e-12
    rel = 5e-7 if z <= -8.0 else 1e-9
    assert got == pytest.approx(want, rel=rel), (z, s, got, want)
    assert got == pytest.approx(_excess_mp(m, s), rel=rel)


def test_expected_excess_extreme_tails():
    # far left: tiny but positive and relatively accurate until float64 underflows
    for z in (-35.0, -38.0):
        got = relax.expected_excess(T([z]), T([1.0])).item()
        assert got == pytest.approx(_excess_mp(z, 1.0), rel=5e-7) and got > 0
    assert relax.expected_excess(T([-40.0]), T([1.0])).item() == pytest.approx(_excess_mp(-40.0, 1.0), rel=5e-7, abs=1e-320)
    # far right: E[(Y)+] = m exactly
    assert relax.expected_excess(T([40.0]), T([1.0])).item() == 40.0
    assert relax.expected_excess(T([400.0]), T([2.0])).item() == 400.0
    # finite everywhere, never negative, monotone in m
    m = torch.linspace(-200, 200, 4001, dtype=D)
    e = relax.expected_excess(m, torch.ones_like(m))
    assert torch.isfinite(e).all() and (e >= 0).all()
    assert (e[1:] >= e[:-1]).all()


def test_expected_excess_continuous_at_series_switch():
    s = T([1.0, 1.0])
    lo, hi = relax.expected_excess(T([-8.0 - 1e-9, -8.0 + 1e-9]), s).tolist()
    assert hi == pytest.approx(lo, rel=1e-6)


def test_expected_excess_gradient_is_phi():
    """d/dm E[(Y)+] = Phi(m/s): check autograd against scipy, tails included."""
    m = T([-30.0, -9.0, -8.0 + 1e-3, -2.0, 0.0, 2.5, 30.0]).requires_grad_(True)
    s = T([1.0] * 7)
    relax.expected_excess(m, s).sum().backward()
    want = norm.cdf(m.detach().numpy())
    close_rel(m.grad.numpy(), want, 1e-5, tiny=1e-300)


# ------------------------------------------------------------------------------------------------ dependence terms
def test_dependency_violation_and_loss_values():
    mu = T([0.0, 1.0, 5.0, 2.0])
    sigma = T([0.5, 1.0, 0.3, 2.0])
    src = torch.tensor([0, 1, 3], dtype=torch.long)
    dst = torch.tensor([1, 2, 2], dtype=torch.long)
    lag = T([2.0, 1.0, 4.0])
    viol = relax.dependency_violation(mu, sigma, src, dst, lag)
    for e in range(3):
        u, v = int(src[e]), int(dst[e])
        m = mu[u].item() + lag[e].item() - mu[v].item()
        s = math.hypot(sigma[u].item(), sigma[v].item())
        assert viol[e].item() == pytest.approx(_excess_mp(m, s), rel=1e-9)
    mult = T([0.5, 2.0, 0.0])
    comm = T([1.0, 0.0, 3.0])
    loss, v2 = relax.dependency_loss(mu, sigma, src, dst, lag, mult, rho=1.5, comm_weight=comm, alpha=0.1)
    want = (mult * viol).sum() + 0.75 * (viol * viol).sum() + 0.1 * (comm * (mu[dst] - mu[src])).sum()
    assert loss.item() == pytest.approx(want.item(), rel=1e-12)
    assert torch.equal(v2, viol)
    plain, _ = relax.dependency_loss(mu, sigma, src, dst, lag, mult, rho=1.5)
    assert plain.item() == pytest.approx(((mult * viol).sum() + 0.75 * (viol * viol).sum()).item(), rel=1e-12)


def test_bound_violation():
    mu, sigma = T([-1.0, 3.0, 9.5]), T([0.5, 1.0, 2.0])
    got = relax.bound_violation(mu, sigma, 0.0, T([5.0, 5.0, 6.0]))
    want = relax.expected_excess(0.0 - mu, sigma) + relax.expected_excess(mu - T([5.0, 5.0, 6.0]), sigma)
    assert torch.allclose(got, want, rtol=0, atol=0)
    assert got[0].item() == pytest.approx(1.0, rel=0.02)  # about 1 step below the lower bound


def test_gradcheck_dependency_loss():
    g = torch.Generator().manual_seed(0)
    n, m = 7, 12
    mu = (torch.rand(n, generator=g, dtype=D) * 6).requires_grad_(True)
    sigma = (0.3 + torch.rand(n, generator=g, dtype=D)).requires_grad_(True)
    src = torch.randint(0, n, (m,), generator=g)
    dst = torch.randint(0, n, (m,), generator=g)
    lag = torch.randint(0, 4, (m,), generator=g).to(D)
    mult = torch.rand(m, generator=g, dtype=D)
    comm = torch.rand(m, generator=g, dtype=D)

    def f(mu, sigma):
        return relax.dependency_loss(mu, sigma, src, dst, lag, mult, 0.7, comm_weight=comm, alpha=0.05)[0]

    assert torch.autograd.gradcheck(f, (mu, sigma), eps=1e-6, atol=1e-7, rtol=1e-5)
    # and in the far tail, where the series form is used (z < -8)
    mu_far = torch.tensor([0.0, 30.0], dtype=D, requires_grad=True)
    sig = torch.tensor([1.0, 1.5], dtype=D, requires_grad=True)
    s2, d2, l2 = torch.tensor([0]), torch.tensor([1]), torch.tensor([1.0], dtype=D)
    assert torch.autograd.gradcheck(lambda a, b: relax.dependency_violation(a, b, s2, d2, l2) * 1e40, (mu_far, sig), eps=1e-6, rtol=1e-4)


# ------------------------------------------------------------------------------------------------ expected usage
def _usage_ref(mu, sigma, weight, hold, horizon):
    """u[d] = sum_i w_i (Phi((d + .5 - mu)/s) - Phi((d - h + .5 - mu)/s)), by scipy over every step."""
    d = np.arange(horizon)[None, :]
    mu, sigma, weight, hold = (np.asarray(x, dtype=np.float64)[:, None] for x in (mu, sigma, weight, hold))
    hi = (d + 0.5 - mu) / sigma
    lo = (d - hold + 0.5 - mu) / sigma
    return (weight * (norm.cdf(hi) - norm.cdf(lo))).sum(0)


def test_expected_usage_matches_reference():
    mu = [3.2, 7.9, 10.0, 15.4]
    sigma = [0.4, 1.3, 0.8, 2.0]
    weight = [1.0, 2.5, 0.5, 1.0]
    hold = [1, 3, 2, 1]
    got = relax.expected_usage(T(mu), T(sigma), T(weight), torch.tensor(hold), 24, half_window=14)
    assert got.shape == (1, 24)
    # steps further than the window from round(mu) are left out by design (here 7 sigma: ~5e-14)
    np.testing.assert_allclose(got[0].numpy(), _usage_ref(mu, sigma, weight, hold, 24), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("hold", [1, 2, 5])
def test_expected_usage_sums_to_weight_times_hold_inside_horizon(hold):
    w = 2.75
    got = relax.expected_usage(T([12.3]), T([1.1]), T([w]), torch.tensor([hold]), 40, half_window=12)
    assert got.sum().item() == pytest.approx(w * hold, rel=1e-12)
    assert (got >= 0).all()


def test_expected_usage_channels_and_modulo():
    mu, sigma, w = T([5.0, 5.0, 8.4]), T([0.5, 0.5, 0.7]), T([1.0, 1.0, 3.0])
    hold = torch.tensor([1, 2, 1])
    ch = torch.tensor([0, 1, 1])
    u = relax.expected_usage(mu, sigma, w, hold, 16, 6, channel=ch, n_channels=2)
    assert u.shape == (2, 16)
    assert u[0].sum().item() == pytest.approx(1.0, rel=1e-9)
    assert u[1].sum().item() == pytest.approx(2.0 + 3.0, rel=1e-9)
    single = relax.expected_usage(mu[:1], sigma[:1], w[:1], hold[:1], 16, 6)
    assert torch.allclose(u[0], single[0])
    folded = relax.expected_usage(mu, sigma, w, hold, 16, 6, channel=ch, n_channels=2, ii=4)
    assert folded.shape == (2, 4)
    # folding mod II keeps the totals and equals the unfolded profile summed by slot
    assert torch.allclose(folded.sum(1), u.sum(1), rtol=1e-9)
    assert torch.allclose(folded, u.view(2, 4, 4).sum(1), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("ii", [None, 5])
def test_expected_usage_per_row_windows(ii):
    """window_sigmas = k: row i counts only the steps round(mu_i) + j, -H_i <= j < H_i + h_i, with
    H_i = min(half, ceil(k sigma_i) + h_i + 1): checked row by row against the scipy profile cut to that range."""
    rng = np.random.default_rng(4)
    n, horizon, half, k = 40, 30, 9, 1.5
    mu, sigma = rng.uniform(-3, 33, n), rng.uniform(0.2, 4.0, n)
    weight, hold = rng.uniform(0.5, 2, n), rng.integers(1, 4, n)
    got = relax.expected_usage(T(mu), T(sigma), T(weight), torch.tensor(hold), horizon, half, ii=ii, window_sigmas=k)
    want = np.zeros(horizon if ii is None else ii)
    for i in range(n):
        row_half = min(half, math.ceil(k * sigma[i]) + hold[i] + 1)
        c = round(mu[i])  # no .5 ties in random data
        for d in range(c - row_half, c + row_half + hold[i]):
            if ii is None and not 0 <= d < horizon:
                continue
            p = norm.cdf((d + 0.5 - mu[i]) / sigma[i]) - norm.cdf((d - hold[i] + 0.5 - mu[i]) / sigma[i])
            want[d % ii if ii else d] += weight[i] * p
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-9, atol=1e-12)
    # with one hold for all rows and a huge k, every row's window is the plain one
    same = torch.full((n,), 2)
    wide = relax.expected_usage(T(mu), T(sigma), T(weight), same, horizon, half, ii=ii, window_sigmas=1e9)
    assert torch.equal(wide, relax.expected_usage(T(mu), T(sigma), T(weight), same, horizon, half, ii=ii))


def test_expected_usage_drops_steps_outside_horizon_and_empty():
    u = relax.expected_usage(T([0.0]), T([1.0]), T([1.0]), torch.tensor([1]), 5, 8)
    assert u.sum().item() == pytest.approx(norm.cdf(4.5) - norm.cdf(-0.5), rel=1e-9)  # X in [-0.5, 4.5)
    empty = relax.expected_usage(T([]), T([]), T([]), torch.zeros(0, dtype=torch.long), 6, 3, n_channels=2)
    assert empty.shape == (2, 6) and empty.abs().sum() == 0


def test_gradcheck_expected_usage():
    g = torch.Generator().manual_seed(1)
    n = 6
    # keep every mu away from a half-integer so that round(mu) (the window centre) is stable under eps
    mu = (torch.arange(n, dtype=D) * 1.7 + 0.2 + 0.1 * torch.rand(n, generator=g, dtype=D)).requires_grad_(True)
    sigma = (0.4 + torch.rand(n, generator=g, dtype=D)).requires_grad_(True)
    weight = torch.rand(n, generator=g, dtype=D) + 0.5
    hold = torch.tensor([1, 2, 1, 3, 1, 2])
    ch = torch.tensor([0, 1, 0, 1, 0, 0])
    f = lambda m, s: relax.expected_usage(m, s, weight, hold, 16, 7, channel=ch, n_channels=2)  # noqa: E731
    assert torch.autograd.gradcheck(f, (mu, sigma), eps=1e-6, atol=1e-8, rtol=1e-5)
    fm = lambda m, s: relax.expected_usage(m, s, weight, hold, 16, 7, channel=ch, n_channels=2, ii=4)  # noqa: E731
    assert torch.autograd.gradcheck(fm, (mu, sigma), eps=1e-6, atol=1e-8, rtol=1e-5)


def test_occupancy_window():
    assert relax.occupancy_window(1.0, 1, 24) == 4 + 1 + 1
    assert relax.occupancy_window(0.3, 3, 24) == math.ceil(1.2) + 3 + 1
    assert relax.occupancy_window(100.0, 1, 24) == 24
