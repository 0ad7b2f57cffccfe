"""GS-Schedule (gaus_fast.gs_schedule): the vectorised sampler against a per-node float64 reference written the
way the original program runs (one node at a time in topological order, one multiply per predecessor), legality
by construction, the losses, training, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gaus_fast import gs_schedule as gs
from gaus_fast import verify
from gaus_fast.generators import fft_example, layered_dag
from gaus_fast.problem import ProblemError
from gaus_fast.schedule import Schedule

pytestmark = pytest.mark.filterwarnings("ignore:index_reduce")  # torch's "beta" notice (pytest resets filters)


def reference_sample(logits, preds, order, tau, gumbel):
    """Per node, in topological order: the ICML'24 sampling statement by statement (float64)."""
    N, B, D = logits.shape
    bias = torch.log(torch.arange(D + 1, 1, -1, dtype=logits.dtype))
    n, c = [None] * N, [None] * N
    for v in order:
        if not preds[v]:
            y = F.softmax((logits[v] + gumbel[v]) / tau, -1)
        else:
            g = F.softmax((logits[v] + gumbel[v]) / tau, -1)
            for p in preds[v]:
                g = g * bias * c[p]
            y = F.softmax(g, -1)
        hard = F.one_hot(y.argmax(-1), D).to(y.dtype)
        n[v] = hard - y.detach() + y
        c[v] = torch.cumsum(n[v], -1)
    return torch.stack(n), torch.stack(c)


def graph(seed, n=30):
    return layered_dag(n, 2 * n, 6, seed=seed, weights="random")


def topo(p):
    lv = gs._Levels(p, "cpu")
    return [int(v) for nodes in lv.nodes for v in nodes], lv


@pytest.mark.parametrize("seed", range(3))
def test_vectorised_sampling_matches_the_per_node_reference(seed):
    p = graph(seed)
    order, lv = topo(p)
    preds = [[] for _ in range(p.n_ops)]
    for u, v in sorted(set(zip(p.edge_src.tolist(), p.edge_dst.tolist()))):
        preds[v].append(u)
    B, D, tau = 7, 9, 2.0
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(p.n_ops, B, D, dtype=torch.float64, generator=gen)
    noise = gs._gumbel((p.n_ops, B, D), gen, "cpu", torch.float64)
    bias = torch.log(torch.arange(D + 1, 1, -1, dtype=torch.float64))
    w = torch.rand(p.n_ops, dtype=torch.float64, generator=gen)

    la = logits.clone().requires_grad_(True)
    n_v, c_v = gs._sample(la, lv, tau, bias, noise)
    lb = logits.clone().requires_grad_(True)
    n_r, c_r = reference_sample(lb, preds, order, tau, noise)
    torch.testing.assert_close(n_v, n_r, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_v, c_r, rtol=1e-12, atol=1e-12)
    # the same gradients through the straight-through estimator and the predecessor masks
    ((n_v * w[:, None, None]).sum(0).pow(2).sum() + c_v[:, :, :-1].sum()).backward()
    ((n_r * w[:, None, None]).sum(0).pow(2).sum() + c_r[:, :, :-1].sum()).backward()
    assert la.grad.abs().sum() > 0
    torch.testing.assert_close(la.grad, lb.grad, rtol=1e-9, atol=1e-12)


def test_samples_are_one_hot_and_legal():
    p = graph(5, n=60)
    _, lv = topo(p)
    B, D = 16, 7
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(p.n_ops, B, D, generator=gen) * 3
    # tau = 10 (the original uses 50): with a small tau the first softmax can underflow to 0 on every legal stage,
    # and then the argmax falls on stage 0 -- as in the original; training decodes are verified anyway
    n, c = gs._sample(logits, lv, 10.0, torch.log(torch.arange(D + 1, 1, -1.0)), gs._gumbel((p.n_ops, B, D), gen, "cpu", torch.float32))
    assert torch.allclose(n.sum(-1), torch.ones(p.n_ops, B))
    assert torch.allclose(n.detach().round(), n.detach(), atol=1e-6)  # forward values are exactly one-hot
    stages = n.argmax(-1).numpy()  # [N, B]
    assert np.all(stages[p.edge_dst] >= stages[p.edge_src])
    assert torch.allclose(c[:, :, -1], torch.ones(p.n_ops, B))


def test_training_returns_a_verified_schedule_and_its_values():
    p = graph(1, n=40)
    res = gs.gs_schedule(p, gs.GSConfig(epochs=30, batch=8))
    assert res.start is not None and res.epochs == 30
    assert verify.check(p.replace(depth=res.depth), Schedule(res.start)) == []
    ev = verify.evaluate(p, Schedule(res.start), alpha=0.01)
    assert res.value == pytest.approx(ev["objective_a"])
    assert res.peak == pytest.approx(ev["peak_weighted"]) and res.communication == pytest.approx(ev["communication"])
    assert len(res.history) == 30
    assert res.memory["logits_mb"] == pytest.approx(p.n_ops * 8 * res.depth * 4 / 2**20)
    assert res.memory["peak_rss_mb"] > 0


def test_keep_objective_history_never_rises_and_training_helps():
    p = graph(2, n=40)
    res = gs.gs_schedule(p, gs.GSConfig(epochs=60, batch=16, keep="objective", tau=5.0, lr=0.5))
    vals = [v for _, v in res.history]
    assert all(b <= a for a, b in zip(vals, vals[1:]))
    assert vals[-1] < vals[0]


def test_deterministic_for_a_seed():
    p = graph(3, n=25)
    a = gs.gs_schedule(p, gs.GSConfig(epochs=10, batch=4, seed=7))
    b = gs.gs_schedule(p, gs.GSConfig(epochs=10, batch=4, seed=7))
    assert np.array_equal(a.start, b.start) and a.value == b.value


def test_time_limit_stops_early():
    p = graph(4, n=40)
    res = gs.gs_schedule(p, gs.GSConfig(epochs=10_000, batch=4, time_limit=0.3))
    assert res.epochs < 10_000 and res.start is not None


def test_bad_input():
    with pytest.raises(ProblemError, match="latency-0"):
        gs.gs_schedule(fft_example(8).with_limits({"LOD": None, "MUL": None, "ADD": None, "SUB": None, "STR": None}))
    with pytest.raises(ProblemError, match="resource limits"):
        gs.gs_schedule(fft_example(8))
    for kwargs, needle in [(dict(batch=0), "batch"), (dict(tau=0), "tau"), (dict(keep="x"), "keep"),
                           (dict(alpha=0.0), "alpha"), (dict(epochs=1.5), "epochs")]:
        with pytest.raises(ProblemError, match=needle):
            gs.GSConfig(**kwargs)
    with pytest.raises(ProblemError, match="depth"):
        gs.GSConfig(depth=0)
    assert math.isfinite(gs.GSConfig().alpha)
