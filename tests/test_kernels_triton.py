"""The Triton kernels (kernels/dependency_triton.py, kernels/occupancy_triton.py) against the float64 reference.

Without CUDA the kernels run on CPU tensors in the Triton interpreter (TRITON_INTERPRET=1, set here before any
kernel is defined; triton reads it when a @triton.jit function is decorated). Sizes stay small enough for the
interpreter (one test at 100k edges).
"""
from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

pytest.importorskip("triton", reason="triton is not installed")

from gaus_fast import relax  # noqa: E402

_MODS = ("gaus_fast.kernels._triton_math", "gaus_fast.kernels.dependency_triton", "gaus_fast.kernels.occupancy_triton")
if not torch.cuda.is_available() and any(m in sys.modules for m in _MODS):
    # imported earlier in the session, maybe before TRITON_INTERPRET was set: define the kernels again
    for _m in _MODS:
        if _m in sys.modules:
            importlib.reload(sys.modules[_m])

from gaus_fast.kernels import dependency_triton, occupancy_triton  # noqa: E402
from gaus_fast.kernels.dependency_triton import dependency_loss_triton  # noqa: E402
from gaus_fast.kernels.occupancy_triton import expected_usage_triton  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
if DEV == "cpu" and os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
    pytest.skip("no CUDA and TRITON_INTERPRET is off: the Triton kernels cannot run", allow_module_level=True)


# ------------------------------------------------------------------------------------------------ helpers


def random_graph(gen, n, m, dtype=torch.float64, mu_scale=20.0, sig_lo=0.1, sig_hi=3.0, idx=torch.int64):
    mu = torch.randn(n, generator=gen, dtype=torch.float64) * mu_scale
    sigma = torch.rand(n, generator=gen, dtype=torch.float64) * (sig_hi - sig_lo) + sig_lo
    src = torch.randint(0, n, (m,), generator=gen).to(idx)
    dst = torch.randint(0, n, (m,), generator=gen).to(idx)
    lag = torch.randint(-2, 6, (m,), generator=gen).to(torch.float64)
    mult = torch.rand(m, generator=gen, dtype=torch.float64) * 2.0
    w = torch.rand(m, generator=gen, dtype=torch.float64)
    cast = lambda t: t.to(dtype).to(DEV)  # noqa: E731
    return cast(mu), cast(sigma), src.to(DEV), dst.to(DEV), cast(lag), cast(mult), cast(w)


def ref_dependency(mu, sigma, src, dst, lag, mult, rho, w=None, alpha=0.0):
    """float64 reference: loss, dL/dmu, dL/dsigma, per-edge violations."""
    mu64 = mu.detach().double().requires_grad_()
    s64 = sigma.detach().double().requires_grad_()
    loss, viol = relax.dependency_loss(mu64, s64, src.long(), dst.long(), lag.double(), mult.double(), rho,
                                       None if w is None else w.double(), alpha)
    loss.backward()
    return loss.detach(), mu64.grad, s64.grad, viol.detach()


def run_dependency(mu, sigma, src, dst, lag, mult, rho, w=None, alpha=0.0, step=0.0, cap=1e3, det=False):
    mu = mu.detach().clone().requires_grad_()
    sigma = sigma.detach().clone().requires_grad_()
    loss = dependency_loss_triton(mu, sigma, src, dst, lag, mult, rho, w, alpha, step, cap, det)
    loss.backward()
    return loss.detach(), mu.grad, sigma.grad


def close(actual, expected, rtol=1e-4, atol_rel=1e-5, atol=1e-30):
    """float32-kernel vs float64-reference: relative per element, absolute relative to the largest entry."""
    a = actual.detach().double().cpu()
    e = expected.detach().double().cpu()
    assert torch.isfinite(a).all()
    scale = e.abs().max().item() if e.numel() else 0.0
    torch.testing.assert_close(a, e, rtol=rtol, atol=max(atol_rel * scale, atol))


def ref_usage(mu, sigma, w, hold, horizon, half, ch, nch, ii, grad_out, window_sigmas=None):
    mu64 = mu.detach().double().requires_grad_()
    s64 = sigma.detach().double().requires_grad_()
    w64 = w.detach().double().requires_grad_()
    u = relax.expected_usage(mu64, s64, w64, hold.long(), horizon, half, None if ch is None else ch.long(), nch, ii,
                             window_sigmas)
    (u * grad_out.double()).sum().backward()
    return u.detach(), mu64.grad, s64.grad, w64.grad


def run_usage(mu, sigma, w, hold, horizon, half, ch, nch, ii, grad_out, det=False, window_sigmas=None):
    mu = mu.detach().clone().requires_grad_()
    sigma = sigma.detach().clone().requires_grad_()
    w = w.detach().clone().requires_grad_()
    u = expected_usage_triton(mu, sigma, w, hold, horizon, half, ch, nch, ii, det, window_sigmas)
    (u * grad_out.to(u.dtype)).sum().backward()
    return u.detach(), mu.grad, sigma.grad, w.grad


def random_rows(gen, n, horizon, dtype=torch.float64, max_hold=3, nch=1, sig_lo=0.05, sig_hi=2.5, spread=10):
    mu = torch.rand(n, generator=gen, dtype=torch.float64) * (horizon + 2 * spread) - spread
    sigma = torch.rand(n, generator=gen, dtype=torch.float64) * (sig_hi - sig_lo) + sig_lo
    w = torch.rand(n, generator=gen, dtype=torch.float64) + 0.5
    hold = torch.randint(1, max_hold + 1, (n,), generator=gen)
    ch = torch.randint(0, nch, (n,), generator=gen).to(DEV) if nch > 1 else None
    cast = lambda t: t.to(dtype).to(DEV)  # noqa: E731
    return cast(mu), cast(sigma), cast(w), hold.to(DEV), ch


# ------------------------------------------------------------------------------------------------ dependence loss


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("comm", [False, True])
def test_dependency_matches_reference(dtype, det, comm):
    gen = torch.Generator().manual_seed(1 + 2 * det + comm)
    mu, sigma, src, dst, lag, mult, w = random_graph(gen, 500, 4000, dtype)
    w = w if comm else None
    loss, gmu, gsig = run_dependency(mu, sigma, src, dst, lag, mult, 0.7, w, 0.3, det=det)
    rl, rmu, rsig, _ = ref_dependency(mu, sigma, src, dst, lag, mult, 0.7, w, 0.3)
    assert loss.dtype == dtype and loss.dim() == 0
    assert gmu.dtype == dtype and gsig.dtype == dtype
    close(loss, rl, rtol=2e-5)
    close(gmu, rmu)
    close(gsig, rsig)


def test_dependency_int32_indices_and_mixed_dtypes():
    gen = torch.Generator().manual_seed(5)
    mu, sigma, src, dst, lag, mult, w = random_graph(gen, 300, 2000, torch.float32, idx=torch.int32)
    lag = lag.double()  # per-edge arrays in another float dtype than mu
    loss, gmu, gsig = run_dependency(mu, sigma, src, dst, lag, mult, 1.3, w.double(), 0.5)
    rl, rmu, rsig, _ = ref_dependency(mu, sigma, src, dst, lag, mult, 1.3, w, 0.5)
    close(loss, rl, rtol=2e-5)
    close(gmu, rmu)
    close(gsig, rsig)


@pytest.mark.parametrize("det", [False, True])
def test_dependency_multiplier_update(det):
    gen = torch.Generator().manual_seed(7)
    mu, sigma, src, dst, lag, mult, _ = random_graph(gen, 200, 3000, torch.float64)
    mult = mult * 5.0  # some reach the cap
    step, cap = 4.0, 6.0
    m1 = mult.clone()
    loss, gmu, gsig = run_dependency(mu, sigma, src, dst, lag, m1, 0.5, step=step, cap=cap, det=det)
    rl, rmu, rsig, viol = ref_dependency(mu, sigma, src, dst, lag, mult, 0.5)
    # loss and gradients use the old multipliers
    close(loss, rl, rtol=2e-5)
    close(gmu, rmu)
    close(gsig, rsig)
    expected = torch.clamp(mult + step * viol.to(mult), max=cap)
    close(m1, expected, rtol=1e-5, atol_rel=1e-6)
    assert (m1 <= cap).all() and (m1 == cap).any()


def test_dependency_multiplier_update_float32_strided_and_no_grad():
    gen = torch.Generator().manual_seed(8)
    mu, sigma, src, dst, lag, mult, _ = random_graph(gen, 100, 1000, torch.float32)
    storage = torch.zeros(2 * mult.numel(), dtype=torch.float32, device=DEV)
    strided = storage[::2]
    strided.copy_(mult)
    with torch.no_grad():
        loss = dependency_loss_triton(mu, sigma, src, dst, lag, strided, 1.0, None, 0.0, 2.0, 1e3, False)
    rl, _, _, viol = ref_dependency(mu, sigma, src, dst, lag, mult, 1.0)
    close(loss, rl, rtol=2e-5)
    close(strided, mult.double() + 2.0 * viol, rtol=1e-5, atol_rel=1e-6)
    assert (storage[1::2] == 0).all()


def test_dependency_deterministic_bit_identical():
    gen = torch.Generator().manual_seed(11)
    mu, sigma, src, dst, lag, mult, w = random_graph(gen, 400, 20000, torch.float32)
    src[:500] = 3  # a hub: long CSR lists
    dst[500:900] = 3
    runs = [run_dependency(mu, sigma, src, dst, lag, mult, 0.9, w, 0.2, det=True) for _ in range(2)]
    for a, b in zip(*runs):
        assert torch.equal(a, b)
    dependency_triton.clear_cache()  # a fresh CSR gives the same bits
    again = run_dependency(mu, sigma, src, dst, lag, mult, 0.9, w, 0.2, det=True)
    for a, b in zip(runs[0], again):
        assert torch.equal(a, b)
    fast = run_dependency(mu, sigma, src, dst, lag, mult, 0.9, w, 0.2, det=False)
    for a, b in zip(runs[0], fast):
        close(a, b.double(), rtol=1e-4)


def test_dependency_csr_cache_reuse_and_invalidation():
    gen = torch.Generator().manual_seed(12)
    mu, sigma, src, dst, lag, mult, _ = random_graph(gen, 100, 1500, torch.float32)
    dependency_triton.clear_cache()
    lists = dependency_triton.csr_lists(src, dst, 100)
    assert dependency_triton.csr_lists(src, dst, 100) is lists  # same tensors, unchanged: cached
    run_dependency(mu, sigma, src, dst, lag, mult, 0.5, det=True)
    assert dependency_triton.csr_lists(src, dst, 100) is lists
    dst[:200] = torch.flip(dst[:200], [0])  # in place: the version counter moves, the CSR is rebuilt
    assert dependency_triton.csr_lists(src, dst, 100) is not lists
    loss, gmu, gsig = run_dependency(mu, sigma, src, dst, lag, mult, 0.5, det=True)
    rl, rmu, rsig, _ = ref_dependency(mu, sigma, src, dst, lag, mult, 0.5)
    close(loss, rl, rtol=2e-5)
    close(gmu, rmu)
    close(gsig, rsig)


@pytest.mark.parametrize("det", [False, True])
def test_dependency_empty_edges(det):
    mu = torch.randn(5, dtype=torch.float64, device=DEV)
    sigma = torch.ones(5, dtype=torch.float64, device=DEV)
    e = torch.zeros(0, dtype=torch.int64, device=DEV)
    f = torch.zeros(0, dtype=torch.float64, device=DEV)
    loss, gmu, gsig = run_dependency(mu, sigma, e, e, f, f.clone(), 1.0, step=1.0, det=det)
    assert loss.item() == 0.0 and loss.dtype == torch.float64
    assert torch.equal(gmu, torch.zeros_like(mu)) and torch.equal(gsig, torch.zeros_like(sigma))


@pytest.mark.parametrize("det", [False, True])
def test_dependency_one_node_self_loops_and_duplicates(det):
    mu = torch.tensor([3.0], dtype=torch.float64, device=DEV)
    sigma = torch.tensor([0.7], dtype=torch.float64, device=DEV)
    src = torch.zeros(4, dtype=torch.int64, device=DEV)
    lag = torch.tensor([0.0, 1.0, -1.0, 1.0], dtype=torch.float64, device=DEV)
    mult = torch.tensor([1.0, 0.5, 2.0, 0.5], dtype=torch.float64, device=DEV)
    loss, gmu, gsig = run_dependency(mu, sigma, src, src, lag, mult, 0.8, det=det)
    rl, rmu, rsig, _ = ref_dependency(mu, sigma, src, src, lag, mult, 0.8)
    close(loss, rl, rtol=2e-5)
    assert abs(gmu.item()) < 1e-6  # mu_u - mu_v cancels on a self-loop
    close(gsig, rsig)
    # duplicate edges and self-loops inside a larger graph
    gen = torch.Generator().manual_seed(13)
    mu, sigma, src, dst, lag, mult, w = random_graph(gen, 50, 600, torch.float64)
    src = torch.cat([src, src[:100], torch.arange(20, device=DEV)])
    dst = torch.cat([dst, dst[:100], torch.arange(20, device=DEV)])
    lag, mult, w = (torch.cat([t, t[:100], t[:20]]) for t in (lag, mult, w))
    loss, gmu, gsig = run_dependency(mu, sigma, src, dst, lag, mult, 0.8, w, 0.4, det=det)
    rl, rmu, rsig, _ = ref_dependency(mu, sigma, src, dst, lag, mult, 0.8, w, 0.4)
    close(loss, rl, rtol=2e-5)
    close(gmu, rmu)
    close(gsig, rsig)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_dependency_extreme_z(scale):
    """|z| up to 40 and sigma from 1e-3 to 1e3, one independent edge per node pair: per-edge checks."""
    f64 = torch.float64
    zs = torch.cat([torch.linspace(-40, 40, 161, dtype=f64), torch.linspace(-12, -6, 49, dtype=f64)])
    m_edges = zs.numel()
    sig = torch.full((2 * m_edges,), scale, dtype=torch.float64)
    s = scale * 2**0.5
    mu = torch.zeros(2 * m_edges, dtype=torch.float64)
    mu[0::2] = zs * s  # m = mu_u - mu_v with lag 0
    src = torch.arange(0, 2 * m_edges, 2)
    dst = src + 1
    lag = torch.zeros(m_edges, dtype=torch.float64)
    mult = torch.ones(m_edges, dtype=torch.float64)
    mu, sig, src, dst, lag, mult = (t.to(DEV) for t in (mu, sig, src, dst, lag, mult))
    for det in (False, True):
        m1 = torch.zeros_like(mult)  # step 1 from 0: the kernel writes V_e into the multipliers
        loss, gmu, gsig = run_dependency(mu, sig, src, dst, lag, mult, 0.0, det=det)
        rl, rmu, rsig, viol = ref_dependency(mu, sig, src, dst, lag, mult, 0.0)
        with torch.no_grad():
            dependency_loss_triton(mu, sig, src, dst, lag, m1, 0.0, None, 0.0, 1.0, 1e300, det)
        for t in (loss, gmu, gsig, m1):
            assert torch.isfinite(t).all()
        # V_e: relative in the float32 normal range (the tail series in float32 loses ~|z|^2 * 6e-8)
        close(m1, viol, rtol=5e-5, atol_rel=0.0, atol=1e-36 * scale)
        close(gmu[0::2], rmu[0::2], rtol=5e-5, atol_rel=0.0, atol=1e-37)  # Phi(z)
        close(gsig[0::2], rsig[0::2], rtol=5e-5, atol_rel=0.0, atol=1e-37)  # phi(z) sigma_u / s
        assert (gmu[0::2] >= 0).all() and (m1 >= 0).all()


def test_dependency_100k_edges():
    gen = torch.Generator().manual_seed(17)
    mu, sigma, src, dst, lag, mult, w = random_graph(gen, 20000, 100_000, torch.float32, mu_scale=50.0)
    rl, rmu, rsig, _ = ref_dependency(mu, sigma, src, dst, lag, mult, 0.3, w, 0.1)
    for det in (False, True):
        loss, gmu, gsig = run_dependency(mu, sigma, src, dst, lag, mult, 0.3, w, 0.1, det=det)
        close(loss, rl, rtol=2e-5)
        close(gmu, rmu)
        close(gsig, rsig)


# ------------------------------------------------------------------------------------------------ expected usage


@pytest.mark.parametrize("det", [False, True])
@pytest.mark.parametrize("ii", [None, 7])
@pytest.mark.parametrize("nch", [1, 3])
def test_usage_matches_reference(det, ii, nch):
    gen = torch.Generator().manual_seed(19 + nch + (ii or 0) + det)
    horizon, half = 60, 5
    mu, sigma, w, hold, ch = random_rows(gen, 1500, horizon, nch=nch, max_hold=4)
    width = horizon if ii is None else ii
    grad_out = torch.randn(nch, width, generator=gen, dtype=torch.float64).to(DEV)
    u, gmu, gsig, gw = run_usage(mu, sigma, w, hold, horizon, half, ch, nch, ii, grad_out, det)
    ru, rmu, rsig, rw = ref_usage(mu, sigma, w, hold, horizon, half, ch, nch, ii, grad_out)
    assert u.shape == (nch, width) and u.dtype == mu.dtype
    close(u, ru, rtol=1e-4, atol_rel=2e-6)
    close(gmu, rmu)
    close(gsig, rsig)
    close(gw, rw)


@pytest.mark.parametrize("det,ii", [(False, None), (True, None), (False, 7), (True, 7)])
def test_usage_per_row_windows_match_reference(det, ii):
    gen = torch.Generator().manual_seed(41 + det + (ii or 0))
    horizon, half = 60, 8
    mu, sigma, w, hold, ch = random_rows(gen, 1200, horizon, nch=2, max_hold=3, sig_hi=3.0)
    width = horizon if ii is None else ii
    grad_out = torch.randn(2, width, generator=gen, dtype=torch.float64).to(DEV)
    got = run_usage(mu, sigma, w, hold, horizon, half, ch, 2, ii, grad_out, det, window_sigmas=1.5)
    want = ref_usage(mu, sigma, w, hold, horizon, half, ch, 2, ii, grad_out, window_sigmas=1.5)
    close(got[0], want[0], rtol=1e-4, atol_rel=2e-6)
    for a, b in zip(got[1:], want[1:]):
        close(a, b)


def test_usage_float32_and_int32():
    gen = torch.Generator().manual_seed(23)
    mu, sigma, w, hold, ch = random_rows(gen, 800, 40, dtype=torch.float32, nch=2)
    hold = hold.to(torch.int32)
    ch = ch.to(torch.int32)
    grad_out = torch.randn(2, 40, generator=gen).to(DEV)
    u, gmu, gsig, gw = run_usage(mu, sigma, w, hold, 40, 4, ch, 2, None, grad_out)
    ru, rmu, rsig, rw = ref_usage(mu, sigma, w, hold, 40, 4, ch, 2, None, grad_out)
    assert u.dtype == torch.float32 and gmu.dtype == torch.float32
    close(u, ru, rtol=1e-4, atol_rel=2e-6)
    close(gmu, rmu)
    close(gsig, rsig)
    close(gw, rw)


@pytest.mark.parametrize("det", [False, True])
def test_usage_far_outside_and_extreme_sigma(det):
    horizon, half = 30, 4
    mu = torch.tensor([-1e4, -50.0, -3.2, 0.4, 12.5, 13.5, 14.49, 29.7, 33.0, 1e6, 5.0, 7.25, 20.0, 2.0],
                      dtype=torch.float64)
    sigma = torch.tensor([1.0, 2.0, 1.0, 1e-3, 0.3, 0.3, 1e-3, 1.5, 1.0, 1.0, 1e3, 1e3, 1e-3, 40.0],
                         dtype=torch.float64)
    w = torch.linspace(0.5, 2.0, mu.numel(), dtype=torch.float64)
    hold = torch.tensor([1, 2, 3, 1, 2, 1, 4, 3, 2, 1, 2, 1, 3, 2])
    mu, sigma, w, hold = (t.to(DEV) for t in (mu, sigma, w, hold))
    grad_out = torch.linspace(-1, 1, horizon, dtype=torch.float64, device=DEV)[None, :]
    u, gmu, gsig, gw = run_usage(mu, sigma, w, hold, horizon, half, None, 1, None, grad_out, det)
    ru, rmu, rsig, rw = ref_usage(mu, sigma, w, hold, horizon, half, None, 1, None, grad_out)
    close(u, ru, rtol=1e-4, atol_rel=1e-6)
    # the rows far outside contribute nothing, and get no gradient
    for i in (0, 9):
        assert gmu[i].item() == 0.0 and gsig[i].item() == 0.0 and gw[i].item() == 0.0
    # 12.5 and 13.5 are ties of the half-to-even rounding (12 and 14); z = 0 sits on a boundary there, where the
    # reference's |z| has no derivative: compare the gradients off the ties only
    keep = torch.ones(mu.numel(), dtype=torch.bool, device=DEV)
    keep[4:6] = False
    close(gmu[keep], rmu[keep])
    close(gsig[keep], rsig[keep])
    close(gw, rw)
    # folded: every row counts
    grad_ii = torch.linspace(-1, 1, 5, dtype=torch.float64, device=DEV)[None, :]
    u, gmu, gsig, gw = run_usage(mu, sigma, w, hold, horizon, half, None, 1, 5, grad_ii, det)
    ru, rmu, rsig, rw = ref_usage(mu, sigma, w, hold, horizon, half, None, 1, 5, grad_ii)
    close(u, ru, rtol=1e-4, atol_rel=1e-6)
    close(gmu[keep], rmu[keep])
    close(gsig[keep], rsig[keep])
    close(gw, rw)


def test_usage_ii_wider_window_than_ii_and_long_holds():
    """window (2 * half + max_hold) several times ii: a row lands on the same slot more than once."""
    gen = torch.Generator().manual_seed(29)
    mu, sigma, w, hold, ch = random_rows(gen, 600, 50, nch=2, max_hold=9, sig_hi=4.0)
    grad_out = torch.randn(2, 3, generator=gen, dtype=torch.float64).to(DEV)
    for det in (False, True):
        u, gmu, gsig, gw = run_usage(mu, sigma, w, hold, 50, 6, ch, 2, 3, grad_out, det)
        ru, rmu, rsig, rw = ref_usage(mu, sigma, w, hold, 50, 6, ch, 2, 3, grad_out)
        close(u, ru, rtol=1e-4, atol_rel=2e-6)
        close(gmu, rmu)
        close(gsig, rsig)
        close(gw, rw)


def test_usage_deterministic_bit_identical_and_empty():
    gen = torch.Generator().manual_seed(31)
    mu, sigma, w, hold, ch = random_rows(gen, 2000, 50, dtype=torch.float32, nch=2)
    grad_out = torch.randn(2, 50, generator=gen).to(DEV)
    a = run_usage(mu, sigma, w, hold, 50, 5, ch, 2, None, grad_out, det=True)
    b = run_usage(mu, sigma, w, hold, 50, 5, ch, 2, None, grad_out, det=True)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    e = torch.zeros(0, dtype=torch.float64, device=DEV)
    u = expected_usage_triton(e, e, e, torch.zeros(0, dtype=torch.int64, device=DEV), 10, 3, None, 2, None, True)
    assert u.shape == (2, 10) and torch.equal(u, torch.zeros_like(u))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the dispatcher picks triton only for CUDA tensors")
def test_dispatch_on_cuda():
    from gaus_fast import kernels

    gen = torch.Generator().manual_seed(37)
    mu, sigma, src, dst, lag, mult, _ = random_graph(gen, 100, 500, torch.float32)
    loss = kernels.dependency_loss(mu, sigma, src, dst, lag, mult, 1.0, backend="triton")
    rl, _, _, _ = ref_dependency(mu, sigma, src, dst, lag, mult, 1.0)
    close(loss, rl, rtol=2e-5)
    mu, sigma, w, hold, _ = random_rows(gen, 100, 20)
    u = kernels.expected_usage(mu, sigma, w, hold, 20, 3, backend="triton")
    close(u, relax.expected_usage(mu, sigma, w, hold, 20, 3), rtol=1e-4, atol_rel=1e-6)
