"""Expected live bits (`relax.expected_live_bits`, kernels/lifetime_numba.py, kernels/lifetime_triton.py).

The reference is checked against a dense float64 formula over every (op, step) without windows, against the
integer live profile of `verify.evaluate` as sigma -> 0, and by gradcheck; the numba and Triton kernels (Triton in
the interpreter without CUDA) against the reference on fresh random graphs, values and gradients, with edge cases.
"""
from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from gaus_fast import Problem, kernels, relax, verify  # noqa: E402
from gaus_fast.schedule import Schedule  # noqa: E402

F64, F32 = torch.float64, torch.float32


def random_case(seed, n=120, m=400, spread=30.0, sig_lo=0.2, sig_hi=2.5):
    """Random ops and distinct (producer, consumer) pairs; consumers mostly after producers, some before."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.rand(n, generator=g, dtype=F64) * spread
    sigma = sig_lo + (sig_hi - sig_lo) * torch.rand(n, generator=g, dtype=F64)
    src = torch.randint(0, n, (m,), generator=g)
    dst = torch.randint(0, n, (m,), generator=g)
    key = torch.unique(src * n + dst)
    bits = torch.randint(1, 65, (n,), generator=g).to(F64)
    return mu, sigma, bits, key // n, key % n


def dense(mu, sigma, bits, src, dst, horizon):
    """sum_i b_i F_i(d) (1 - prod_j F_j(d)) over every op and step, straight from the definition (float64)."""
    d = torch.arange(horizon, dtype=F64)[None, :] + 0.5
    f = relax.normal_cdf((d - mu[:, None]) / sigma[:, None])  # (n, horizon)
    prod = torch.ones_like(f)
    for s, t in zip(src.tolist(), dst.tolist()):
        prod[s] = prod[s] * f[t]
    has = torch.zeros(len(mu), dtype=torch.bool)
    has[src] = True
    return (bits[:, None] * f * (1 - prod) * has[:, None]).sum(0)


def with_grads(fn, mu, sigma, bits, src, dst, horizon, half, dtype=F64, weight=None):
    m = mu.detach().to(dtype).requires_grad_()
    s = sigma.detach().to(dtype).requires_grad_()
    out = fn(m, s, bits.to(dtype), src, dst, horizon, half)
    w = torch.linspace(-1.0, 2.0, horizon, dtype=dtype) if weight is None else weight.to(dtype)
    (out * w).sum().backward()
    return out.detach().double(), m.grad.double(), s.grad.double()


def assert_close(got, want, rtol):
    scale = max(float(want.abs().max()), 1e-300) if want.numel() else 1.0
    assert torch.isfinite(got).all()
    err = float((got - want).abs().max()) if want.numel() else 0.0
    assert err <= rtol * scale, f"max error {err:.3g} > {rtol:g} * {scale:.3g}"


# ------------------------------------------------------------------------------------------------ reference
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_matches_dense_formula(seed):
    mu, sigma, bits, src, dst = random_case(seed, n=40, m=120, spread=25.0)
    horizon = 40
    # a window wide enough to cover every step: the windows and the plateau must add up to the dense sum
    got = relax.expected_live_bits(mu, sigma, bits, src, dst, horizon, half_window=60)
    torch.testing.assert_close(got, dense(mu, sigma, bits, src, dst, horizon), rtol=1e-12, atol=1e-9)
    # the usual window (about 6 sigma): truncation error only in tails below Phi(-6) per op
    got6 = relax.expected_live_bits(mu, sigma, bits, src, dst, horizon, half_window=16)
    torch.testing.assert_close(got6, dense(mu, sigma, bits, src, dst, horizon), rtol=0, atol=1e-6 * float(bits.sum()))


def test_reference_plateau_far_consumer():
    # one producer at 2 with a consumer at 60: windows of 3 around each, the plateau in between counts 8 bits
    mu = torch.tensor([2.0, 60.0], dtype=F64)
    sigma = torch.tensor([0.7, 0.9], dtype=F64)
    bits = torch.tensor([8.0, 1.0], dtype=F64)
    src, dst = torch.tensor([0]), torch.tensor([1])
    got = relax.expected_live_bits(mu, sigma, bits, src, dst, 70, half_window=5)
    want = dense(mu, sigma, bits, src, dst, 70)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert float(got[20:50].min()) == 8.0


@pytest.mark.parametrize("seed", [3, 4])
def test_tiny_sigma_is_the_integer_profile(seed):
    """As sigma -> 0 the expectation is the verifier's live profile of the rounded starts."""
    rng = np.random.default_rng(seed)
    n = 30
    start = rng.integers(0, 25, n)
    edges = {(int(a), int(b)) for a, b in rng.integers(0, n, (80, 2)) if start[a] < start[b]}
    bits = rng.integers(1, 40, n)
    p = Problem(op_ids=[str(i) for i in range(n)], op_type=np.zeros(n), operator_types=[_type()],
                edge_src=[a for a, _ in edges], edge_dst=[b for _, b in edges], op_bits=bits)
    src = torch.tensor([a for a, _ in sorted(edges)])
    dst = torch.tensor([b for _, b in sorted(edges)])
    got = relax.expected_live_bits(torch.tensor(start, dtype=F64) + 0.1, torch.full((n,), 1e-3, dtype=F64),
                                   torch.tensor(bits, dtype=F64), src, dst, 30, half_window=2)
    want = np.zeros(30)
    for i in range(n):
        ends = [start[b] for a, b in edges if a == i]
        if ends and max(ends) > start[i]:
            want[start[i]:max(ends)] += bits[i]
    torch.testing.assert_close(got, torch.tensor(want, dtype=F64), rtol=0, atol=1e-9)
    assert float(got.max()) == pytest.approx(verify.evaluate(p, Schedule(start))["peak_live_bits"])


def _type():
    from gaus_fast import OperatorType

    return OperatorType("op", 1)


def test_reference_gradcheck():
    mu, sigma, bits, src, dst = random_case(5, n=12, m=30, spread=10.0, sig_lo=0.4)
    f = lambda m, s: relax.expected_live_bits(m, s, bits, src, dst, 14, 4)  # noqa: E731
    assert torch.autograd.gradcheck(f, (mu.clone().requires_grad_(), sigma.clone().requires_grad_()))


def test_reference_edge_cases():
    one = torch.tensor([3.0], dtype=F64)
    none = torch.zeros(0, dtype=torch.long)
    # one node, no consumers, no ops: nothing live
    assert relax.expected_live_bits(one, one, one, none, none, 8, 3).abs().max() == 0
    assert relax.expected_live_bits(one[:0], one[:0], one[:0], none, none, 8, 3).shape == (8,)
    # far-out mu: windows outside the horizon, zero live and finite zero gradients
    mu = torch.tensor([1e7, 1e7 + 5], dtype=F64, requires_grad=True)
    out = relax.expected_live_bits(mu, torch.ones(2, dtype=F64), torch.ones(2, dtype=F64),
                                   torch.tensor([0]), torch.tensor([1]), 10, 4)
    out.sum().backward()
    assert out.abs().max() == 0 and torch.isfinite(mu.grad).all()


# ------------------------------------------------------------------------------------------------ numba
numba = pytest.importorskip("numba")
from gaus_fast.kernels.lifetime_numba import expected_live_bits_numba  # noqa: E402


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_numba_matches_reference_float64(seed):
    mu, sigma, bits, src, dst = random_case(seed, n=300, m=1200, spread=40.0)
    g = torch.Generator().manual_seed(seed + 100)
    w = torch.randn(45, generator=g, dtype=F64)
    ref = with_grads(relax.expected_live_bits, mu, sigma, bits, src, dst, 45, 7, weight=w)
    got = with_grads(expected_live_bits_numba, mu, sigma, bits, src, dst, 45, 7, weight=w)
    for a, b in zip(got, ref):
        assert_close(a, b, 1e-10)


def test_numba_float32_and_int32_edges():
    mu, sigma, bits, src, dst = random_case(13, n=200, m=700)
    ref = with_grads(relax.expected_live_bits, mu, sigma, bits, src, dst, 35, 6)
    got = with_grads(expected_live_bits_numba, mu, sigma, bits, src.int(), dst.int(), 35, 6, dtype=F32)
    for a, b in zip(got, ref):
        assert_close(a, b, 1e-5)


def test_numba_extreme_z_is_finite():
    # tiny sigma and consumers far on either side: |z| far beyond 40, log-cdf and hazard stay finite
    mu = torch.tensor([5.0, 5.3, 9.0, 0.5, 200.0], dtype=F64)
    sigma = torch.tensor([1e-4, 0.3, 1e-3, 5e-3, 0.5], dtype=F64)
    bits = torch.tensor([4.0, 2.0, 1.0, 3.0, 1.0], dtype=F64)
    src, dst = torch.tensor([0, 0, 1, 3, 3]), torch.tensor([1, 2, 2, 0, 4])
    ref = with_grads(relax.expected_live_bits, mu, sigma, bits, src, dst, 20, 3)
    got = with_grads(expected_live_bits_numba, mu, sigma, bits, src, dst, 20, 3)
    for a, b in zip(got, ref):
        assert_close(a, b, 1e-9)


def test_dispatch_backends_agree():
    mu, sigma, bits, src, dst = random_case(14, n=80, m=250)
    outs = [kernels.expected_live_bits(mu, sigma, bits, src, dst, 32, 5, backend=b) for b in ("torch", "numba")]
    assert_close(outs[1], outs[0], 1e-10)
    assert kernels.resolve_backend("auto", "cpu") in ("numba", "torch")
    with pytest.raises(ValueError):
        kernels.expected_live_bits(mu, sigma, bits, src, dst, 32, 5, backend="nope")


# ------------------------------------------------------------------------------------------------ triton
def _triton_module():
    pytest.importorskip("triton", reason="triton is not installed")
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
        pytest.skip("no CUDA and TRITON_INTERPRET is off: the Triton kernels cannot run")
    mods = ("gaus_fast.kernels._triton_math", "gaus_fast.kernels.dependency_triton", "gaus_fast.kernels.lifetime_triton")
    if not torch.cuda.is_available():
        for m in mods:  # imported before TRITON_INTERPRET was set (another test module): define the kernels again
            if m in sys.modules:
                importlib.reload(sys.modules[m])
    return importlib.import_module("gaus_fast.kernels.lifetime_triton")


DEV = "cuda" if torch.cuda.is_available() else "cpu"


def _on_dev(fn):
    def run(m, s, b, src, dst, horizon, half):
        out = fn(m.to(DEV) if DEV != "cpu" else m, s.to(DEV) if DEV != "cpu" else s, b.to(DEV), src.to(DEV),
                 dst.to(DEV), horizon, half)
        return out.cpu()
    return run


@pytest.mark.parametrize("seed", [20, 21])
def test_triton_matches_reference(seed):
    lt = _triton_module()
    mu, sigma, bits, src, dst = random_case(seed, n=50, m=160, spread=30.0)
    ref = with_grads(relax.expected_live_bits, mu, sigma, bits, src, dst, 36, 4)
    got = with_grads(_on_dev(lt.expected_live_bits_triton), mu, sigma, bits, src, dst, 36, 4, dtype=F32)
    for a, b in zip(got, ref):
        assert_close(a, b, 2e-5)


def test_triton_edge_cases():
    lt = _triton_module()
    run = _on_dev(lt.expected_live_bits_triton)
    # no consumers, one node, tiny sigma, far-out mu (beyond float32's integer range)
    mu = torch.tensor([3.0, 4.2, 1e9, 1e9 + 7, 6.0], dtype=F64)
    sigma = torch.tensor([1e-4, 0.3, 1.0, 1.0, 2.0], dtype=F64)
    bits = torch.tensor([4.0, 2.0, 1.0, 1.0, 5.0], dtype=F64)
    src, dst = torch.tensor([0, 2]), torch.tensor([1, 3])
    ref = with_grads(relax.expected_live_bits, mu, sigma, bits, src, dst, 12, 3)
    got = with_grads(run, mu, sigma, bits, src, dst, 12, 3, dtype=F32)
    for a, b in zip(got, ref):
        assert_close(a, b, 2e-5)
    empty = torch.zeros(0, dtype=torch.long)
    one = torch.tensor([2.0])
    assert run(one, one, one, empty, empty, 5, 2).abs().max() == 0
