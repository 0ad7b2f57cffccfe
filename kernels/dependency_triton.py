"""Fused Triton kernel of the GauS dependence loss (forward + gradient in one pass over the edges).

Per edge e = (u -> v, lag l, multiplier lam, optional comm weight w):

    m = mu_u + l - mu_v,  s = sqrt(sigma_u^2 + sigma_v^2),  V = E[(X_u + l - X_v)+] = m Phi(m/s) + s phi(m/s)
    loss_e = lam V + rho/2 V^2 (+ alpha w (mu_v - mu_u))
    dL/dV = lam + rho V,  dV/dm = Phi(z),  dV/ds = phi(z),  ds/dsigma_u = sigma_u / s

The forward kernel computes all of it and accumulates the per-node gradients (float32); the autograd Function saves
only those two O(nodes) vectors and its backward scales them by the incoming gradient (Liger-Kernel layout).
With ``multiplier_step > 0`` the same pass updates ``multiplier[e] = min(lam + step V, cap)`` in place, after the
old value entered the loss and the gradient.

Two ways to sum the gradients per node:

* default: ``tl.atomic_add`` into the float32 node buffers (fast; the float sums depend on the atomics' order);
* ``deterministic=True``: no float atomics. The edge kernel stores three float32 contributions per edge
  (dL/dmu_u = -dL/dmu_v, dL/dsigma_u, dL/dsigma_v) in temporary buffers, then a node kernel walks the CSR lists of
  out- and in-edges (stable argsort of src / dst, cached per (src, dst) pair) block of nodes by block of nodes and
  sums them in a fixed order. Runs are bit-identical. The CSR lists are cached (4 graphs, LRU) keyed on the src/dst
  tensor objects and their autograd version counters: an in-place torch op on them rebuilds the lists; after
  changing them behind torch's back (``.data``, a raw pointer, numpy) call `clear_cache()`.

The in-place multiplier update is a raw kernel write: it does not bump ``multiplier._version``.

The loss is always reduced deterministically: one float32 partial per edge block, summed in float64 on the host.
Inputs may be float32 or float64 (mu/sigma/lag/multiplier/comm_weight loaded in their own dtype; the differences
mu_u + l - mu_v are formed in the input precision before the float32 math), indices int32 or int64. The loss comes
back in mu's dtype, the gradients in mu's / sigma's dtypes. CUDA tensors, or CPU tensors under TRITON_INTERPRET=1.
"""
from __future__ import annotations

import contextlib
import os
from collections import OrderedDict

import torch
import triton
import triton.language as tl

from ._triton_math import expected_excess

GRAD_NONE = 0
GRAD_ATOMIC = 1
GRAD_STORE = 2


@triton.jit
def _dependency_edge_kernel(
    mu_ptr, sigma_ptr, src_ptr, dst_ptr, lag_ptr, mult_ptr, w_ptr,
    gmu_ptr, gsig_ptr, cm_ptr, cu_ptr, cv_ptr, partial_ptr,
    n_edges, rho, alpha, step, cap,
    HAS_COMM: tl.constexpr, UPDATE: tl.constexpr, GRAD: tl.constexpr, BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_edges
    u = tl.load(src_ptr + offs, mask=mask, other=0)
    v = tl.load(dst_ptr + offs, mask=mask, other=0)
    mu_u = tl.load(mu_ptr + u, mask=mask, other=0.0)
    mu_v = tl.load(mu_ptr + v, mask=mask, other=0.0)
    lag = tl.load(lag_ptr + offs, mask=mask, other=0.0)
    mult_raw = tl.load(mult_ptr + offs, mask=mask, other=0.0)
    mult = mult_raw.to(tl.float32)
    sig_u = tl.load(sigma_ptr + u, mask=mask, other=1.0).to(tl.float32)
    sig_v = tl.load(sigma_ptr + v, mask=mask, other=1.0).to(tl.float32)
    # the difference in the input precision (float64 mu keeps its digits), then float32
    m = (mu_u + lag.to(mu_u.dtype) - mu_v).to(tl.float32)
    s = tl.maximum(tl.sqrt(sig_u * sig_u + sig_v * sig_v), 1e-30)
    viol, cdf, pdf = expected_excess(m, s)
    loss = mult * viol + (0.5 * rho) * viol * viol
    if HAS_COMM:
        w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        loss += alpha * w * (mu_v - mu_u).to(tl.float32)
    loss = tl.where(mask, loss, 0.0)
    tl.store(partial_ptr + pid, tl.sum(loss, axis=0))
    if GRAD != 0:
        g = mult + rho * viol
        gm = g * cdf  # dL/dmu_u; dL/dmu_v = -gm
        if HAS_COMM:
            gm = gm - alpha * w
        gs = g * pdf / s
        gsu = gs * sig_u
        gsv = gs * sig_v
        if GRAD == 1:
            tl.atomic_add(gmu_ptr + u, gm, mask=mask, sem="relaxed")
            tl.atomic_add(gmu_ptr + v, -gm, mask=mask, sem="relaxed")
            tl.atomic_add(gsig_ptr + u, gsu, mask=mask, sem="relaxed")
            tl.atomic_add(gsig_ptr + v, gsv, mask=mask, sem="relaxed")
        else:
            tl.store(cm_ptr + offs, gm, mask=mask)
            tl.store(cu_ptr + offs, gsu, mask=mask)
            tl.store(cv_ptr + offs, gsv, mask=mask)
    if UPDATE:
        new = tl.minimum(mult + step * viol, cap)
        tl.store(mult_ptr + offs, new.to(mult_raw.dtype), mask=mask)


@triton.jit
def _node_segment_sum(acc_mu, acc_sig, c_mu_ptr, c_sig_ptr, perm_ptr, key_ptr, lo, hi, n0, sign,
                      NB: tl.constexpr, BLOCK: tl.constexpr):
    """Add the contributions of the CSR range [lo, hi) (edges sorted by node) to the NB node accumulators."""
    rows = tl.arange(0, NB)
    for start in range(lo, hi, BLOCK):
        o = start + tl.arange(0, BLOCK)
        ok = o < hi
        e = tl.load(perm_ptr + o, mask=ok, other=0)
        node = tl.load(key_ptr + o, mask=ok, other=-1)
        a = tl.load(c_mu_ptr + e, mask=ok, other=0.0)
        b = tl.load(c_sig_ptr + e, mask=ok, other=0.0)
        sel = (node - n0)[None, :] == rows[:, None]
        acc_mu += sign * tl.sum(tl.where(sel, a[None, :], 0.0), axis=1)
        acc_sig += tl.sum(tl.where(sel, b[None, :], 0.0), axis=1)
    return acc_mu, acc_sig


@triton.jit
def _dependency_node_kernel(
    cm_ptr, cu_ptr, cv_ptr,
    perm_out_ptr, key_out_ptr, ptr_out_ptr, perm_in_ptr, key_in_ptr, ptr_in_ptr,
    gmu_ptr, gsig_ptr, n_nodes,
    NB: tl.constexpr, BLOCK: tl.constexpr,
):
    """Deterministic per-node sums: NB consecutive nodes per program, their out- then in-edges in CSR order."""
    pid = tl.program_id(0)
    n0 = pid.to(tl.int64) * NB
    n1 = tl.minimum(n0 + NB, n_nodes)
    acc_mu = tl.zeros([NB], dtype=tl.float32)
    acc_sig = tl.zeros([NB], dtype=tl.float32)
    lo = tl.load(ptr_out_ptr + n0)
    hi = tl.load(ptr_out_ptr + n1)
    acc_mu, acc_sig = _node_segment_sum(acc_mu, acc_sig, cm_ptr, cu_ptr, perm_out_ptr, key_out_ptr, lo, hi, n0, 1.0,
                                        NB, BLOCK)
    lo = tl.load(ptr_in_ptr + n0)
    hi = tl.load(ptr_in_ptr + n1)
    acc_mu, acc_sig = _node_segment_sum(acc_mu, acc_sig, cm_ptr, cv_ptr, perm_in_ptr, key_in_ptr, lo, hi, n0, -1.0,
                                        NB, BLOCK)
    nodes = n0 + tl.arange(0, NB)
    ok = nodes < n_nodes
    tl.store(gmu_ptr + nodes, acc_mu, mask=ok)
    tl.store(gsig_ptr + nodes, acc_sig, mask=ok)


# ------------------------------------------------------------------------------------------------ host side

_CSR_CACHE: OrderedDict = OrderedDict()
_CSR_CACHE_SIZE = 4


def clear_cache() -> None:
    """Forget the cached CSR permutations of deterministic mode."""
    _CSR_CACHE.clear()


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _check_device(t: torch.Tensor) -> None:
    if not t.is_cuda and not _interpreting():
        raise RuntimeError("the Triton kernels need CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors); "
                           "use backend='numba' or 'torch' on the CPU")


def _device_ctx(t: torch.Tensor):
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


def _csr(index: torch.Tensor, n_nodes: int):
    """(perm, sorted keys, row pointers): edges grouped by ``index`` in a stable (fixed) order."""
    n_edges = index.numel()
    idx_dtype = torch.int32 if n_edges < 2**31 - 1 else torch.int64
    perm = torch.argsort(index, stable=True)
    key = index[perm].to(torch.int32 if n_nodes < 2**31 - 1 else torch.int64)
    counts = torch.bincount(index.long(), minlength=n_nodes)
    ptr = torch.zeros(n_nodes + 1, dtype=torch.int64, device=index.device)
    torch.cumsum(counts, 0, out=ptr[1:])
    return perm.to(idx_dtype).contiguous(), key.contiguous(), ptr


def csr_lists(src: torch.Tensor, dst: torch.Tensor, n_nodes: int):
    """Out- and in-edge CSR lists of (src, dst), cached while the same index tensors are passed unchanged."""
    key = (id(src), id(dst), n_nodes)
    hit = _CSR_CACHE.get(key)
    if hit is not None:
        s_ref, d_ref, versions, lists = hit
        if s_ref is src and d_ref is dst and versions == (src._version, dst._version):
            _CSR_CACHE.move_to_end(key)
            return lists
    lists = _csr(_index(src), n_nodes) + _csr(_index(dst), n_nodes)
    # the cache holds the index tensors themselves, so their ids cannot be reused while the entry lives
    _CSR_CACHE[key] = (src, dst, (src._version, dst._version), lists)
    while len(_CSR_CACHE) > _CSR_CACHE_SIZE:
        _CSR_CACHE.popitem(last=False)
    return lists


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1).contiguous()


def _index(t: torch.Tensor) -> torch.Tensor:
    t = _flat(t)
    if t.dtype not in (torch.int32, torch.int64):
        t = t.long()
    return t


def _float(t: torch.Tensor) -> torch.Tensor:
    t = _flat(t)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    return t


def _dependency_forward(mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha, step, cap, deterministic,
                        need_grad):
    """Launch the kernels: (loss in mu's dtype, float32 dL/dmu, float32 dL/dsigma) (grads None without need_grad)."""
    _check_device(mu)
    n = mu.shape[0]
    mu_c, sigma_c = _float(mu), _float(sigma)
    src_c, dst_c = _index(src), _index(dst)
    lag_c = _float(lag)
    n_edges = src_c.numel()
    dev = mu.device
    gmu = gsig = None
    if n_edges == 0:
        if need_grad:
            gmu = torch.zeros(n, dtype=torch.float32, device=dev)
            gsig = torch.zeros(n, dtype=torch.float32, device=dev)
        return torch.zeros((), dtype=mu.dtype, device=dev), gmu, gsig

    update = step > 0
    mult = multiplier.reshape(-1)
    mult_c = mult if (mult.is_contiguous() and mult.dtype in (torch.float32, torch.float64)) else _float(mult).clone()
    has_comm = comm_weight is not None and alpha != 0.0
    w_c = _float(comm_weight) if has_comm else lag_c  # dummy pointer when unused

    on_gpu = mu.is_cuda
    block = 1024 if on_gpu else 8192
    grid = (triton.cdiv(n_edges, block),)
    partial = torch.empty(grid[0], dtype=torch.float32, device=dev)
    mode = GRAD_NONE
    dummy = partial
    cm = cu = cv = dummy
    if need_grad:
        if deterministic:
            mode = GRAD_STORE
            cm = torch.empty(n_edges, dtype=torch.float32, device=dev)
            cu = torch.empty(n_edges, dtype=torch.float32, device=dev)
            cv = torch.empty(n_edges, dtype=torch.float32, device=dev)
            gmu = torch.empty(n, dtype=torch.float32, device=dev)
            gsig = torch.empty(n, dtype=torch.float32, device=dev)
        else:
            mode = GRAD_ATOMIC
            gmu = torch.zeros(n, dtype=torch.float32, device=dev)
            gsig = torch.zeros(n, dtype=torch.float32, device=dev)
    with _device_ctx(mu):
        _dependency_edge_kernel[grid](
            mu_c, sigma_c, src_c, dst_c, lag_c, mult_c, w_c,
            gmu if gmu is not None else dummy, gsig if gsig is not None else dummy, cm, cu, cv, partial,
            n_edges, float(rho), float(alpha), float(step), min(float(cap), 3.0e38),
            HAS_COMM=has_comm, UPDATE=update, GRAD=mode, BLOCK=block,
            num_warps=4,
        )
        if mode == GRAD_STORE and n > 0:
            perm_o, key_o, ptr_o, perm_i, key_i, ptr_i = csr_lists(src, dst, n)  # the caller's tensors: cache key
            nb, blk = (32, 128) if on_gpu else (256, 2048)
            _dependency_node_kernel[(triton.cdiv(n, nb),)](
                cm, cu, cv, perm_o, key_o, ptr_o, perm_i, key_i, ptr_i, gmu, gsig, n,
                NB=nb, BLOCK=blk, num_warps=4,
            )
    if update and mult_c is not mult:
        multiplier.copy_(mult_c.view_as(multiplier))
    loss = partial.to(torch.float64).sum().to(mu.dtype)
    return loss, gmu, gsig


class DependencyLossFunction(torch.autograd.Function):
    """Autograd wrapper: the forward kernel leaves dL/dmu and dL/dsigma (O(nodes)); backward scales them."""

    @staticmethod
    def forward(ctx, mu, sigma, src, dst, lag, multiplier, comm_weight, rho, alpha, step, cap, deterministic):
        loss, gmu, gsig = _dependency_forward(mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha, step,
                                              cap, deterministic, need_grad=True)
        ctx.save_for_backward(gmu, gsig)
        ctx.dtypes = (mu.dtype, sigma.dtype)
        ctx.shapes = (mu.shape, sigma.shape)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        gmu, gsig = ctx.saved_tensors
        (mu_dtype, sigma_dtype), (mu_shape, sigma_shape) = ctx.dtypes, ctx.shapes
        grad_mu = grad_sigma = None
        if ctx.needs_input_grad[0]:
            grad_mu = (gmu.to(mu_dtype) * grad_loss.to(mu_dtype)).view(mu_shape)
        if ctx.needs_input_grad[1]:
            grad_sigma = (gsig.to(sigma_dtype) * grad_loss.to(sigma_dtype)).view(sigma_shape)
        return grad_mu, grad_sigma, None, None, None, None, None, None, None, None, None, None


def dependency_loss_triton(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    lag: torch.Tensor,
    multiplier: torch.Tensor,
    rho: float,
    comm_weight: torch.Tensor | None = None,
    alpha: float = 0.0,
    multiplier_step: float = 0.0,
    multiplier_cap: float = 1e3,
    deterministic: bool = False,
) -> torch.Tensor:
    """The dependence loss of `gaus_fast.kernels.dependency_loss` on the Triton kernels.

    Returns a 0-d tensor in mu's dtype, differentiable in mu and sigma.

    ``loss = sum_e mult_e V_e + rho/2 V_e^2 + alpha sum_e w_e (mu_dst - mu_src)``; with ``multiplier_step > 0`` the
    multipliers are updated in place (``min(mult + step V, cap)``) after their old values were used.
    """
    need_grad = torch.is_grad_enabled() and (mu.requires_grad or sigma.requires_grad)
    if not need_grad:
        loss, _, _ = _dependency_forward(mu, sigma, src, dst, lag, multiplier, rho, comm_weight, alpha,
                                         multiplier_step, multiplier_cap, deterministic, need_grad=False)
        return loss
    return DependencyLossFunction.apply(mu, sigma, src, dst, lag, multiplier, comm_weight, float(rho), float(alpha),
                                        float(multiplier_step), float(multiplier_cap), bool(deterministic))
