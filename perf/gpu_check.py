#!/usr/bin/env python
"""One short GPU check of the Triton kernels (kernels/dependency_triton.py, kernels/occupancy_triton.py).

    python perf/gpu_check.py            # about 1-3 minutes on an H200; nothing to install beyond the package

1. correctness on CUDA against the float64 reference (`gaus_fast.relax`): values and gradients of the dependence
   loss (atomic and deterministic modes, comm term, multiplier update, bit-identical deterministic reruns) and of
   the expected usage (channels, holds, ii folding), at a moderate size;
2. timing of forward + backward of the dependence loss at 1M, 10M and 100M edges: the Triton kernel vs the torch
   eager reference (float32) vs ``torch.compile`` of the reference, with edges/s, speed-ups and peak memory
   (``torch.cuda.max_memory_allocated`` above what the inputs hold); a size that runs out of memory is skipped;
3. timing of the resource (expected usage) kernel on a synthetic 1M-row window problem.

Prints markdown tables and writes them to perf/results/gpu_check.md (when writable). Targets: >= 1e9 edges/s at
10M edges, >= 5x torch eager, >= 2x torch.compile. Without CUDA: prints "no CUDA device: nothing to check", exits 0.
Exit status 1 when a correctness check fails (timings never fail the script).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "perf" / "results" / "gpu_check.md"
DEV = "cuda"  # "cpu" only for --cpu-smoke (the Triton interpreter, tiny sizes: exercises this script)


def _imports():
    """gaus_fast.relax and the Triton kernel modules, also from a plain checkout (kernels/ is gaus_fast.kernels)."""
    try:
        from gaus_fast import relax
    except ImportError:
        sys.path.insert(0, str(ROOT))
        from gaus_fast import relax
    try:
        import gaus_fast.kernels  # noqa: F401
    except ImportError:
        spec = importlib.util.spec_from_file_location(
            "gaus_fast.kernels", ROOT / "kernels" / "__init__.py", submodule_search_locations=[str(ROOT / "kernels")])
        mod = importlib.util.module_from_spec(spec)
        sys.modules["gaus_fast.kernels"] = mod
        spec.loader.exec_module(mod)
    kernels = importlib.import_module("gaus_fast.kernels")
    dep = importlib.import_module("gaus_fast.kernels.dependency_triton")
    occ = importlib.import_module("gaus_fast.kernels.occupancy_triton")
    return relax, kernels, dep, occ


# ------------------------------------------------------------------------------------------------ helpers

LINES: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def free() -> None:
    import gc

    gc.collect()
    if DEV == "cuda":
        torch.cuda.empty_cache()


def sync() -> None:
    if DEV == "cuda":
        torch.cuda.synchronize()


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def bench(fn, iters: int, warmup: int = 2) -> tuple[float, float]:
    """(median seconds per call, peak extra bytes of one call) after warm-up; CUDA events, synchronised."""
    for _ in range(warmup):
        fn()
    sync()
    if DEV != "cuda":
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), 0
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times), peak


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    scale = b.abs().max().item() if b.numel() else 0.0
    return (a - b).abs().max().item() / scale if scale > 0 else (a - b).abs().max().item()


def random_graph(n_nodes: int, n_edges: int, dtype=torch.float32, idx=torch.int64, seed=0):
    g = torch.Generator(device=DEV).manual_seed(seed)
    dev = DEV
    mu = torch.randn(n_nodes, generator=g, device=dev, dtype=torch.float32) * 50.0
    sigma = torch.rand(n_nodes, generator=g, device=dev, dtype=torch.float32) * 2.5 + 0.3
    src = torch.randint(0, n_nodes, (n_edges,), generator=g, device=dev, dtype=idx)
    dst = torch.randint(0, n_nodes, (n_edges,), generator=g, device=dev, dtype=idx)
    lag = torch.randint(-1, 6, (n_edges,), generator=g, device=dev).to(dtype)
    mult = torch.rand(n_edges, generator=g, device=dev, dtype=torch.float32).to(dtype)
    w = torch.rand(n_edges, generator=g, device=dev, dtype=torch.float32).to(dtype)
    return mu.to(dtype), sigma.to(dtype), src, dst, lag, mult, w


def ref_dependency_grads(relax, mu, sigma, src, dst, lag, mult, rho, w=None, alpha=0.0):
    mu64 = mu.detach().double().requires_grad_()
    s64 = sigma.detach().double().requires_grad_()
    loss, viol = relax.dependency_loss(mu64, s64, src, dst, lag.double(), mult.double(), rho,
                                       None if w is None else w.double(), alpha)
    loss.backward()
    return loss.detach(), mu64.grad, s64.grad, viol.detach()


# ------------------------------------------------------------------------------------------------ 1. correctness


def check_correctness(relax, kernels, dep, occ, tol: float, n_edges: int = 1_000_000, n_rows: int = 200_000) -> bool:
    say(f"## Correctness ({DEV}, float32 kernels vs float64 reference)")
    say("")
    say("| check | max rel. error / result | status |")
    say("|---|---|---|")
    ok_all = True

    def row(name, value, ok):
        nonlocal ok_all
        ok_all &= bool(ok)
        say(f"| {name} | {value} | {'ok' if ok else 'FAIL'} |")

    # dependence loss
    try:
        mu, sigma, src, dst, lag, mult, w = random_graph(max(n_edges // 10, 2), n_edges, seed=1)
        for det in (False, True):
            for comm in (False, True):
                ww = w if comm else None
                rl, rmu, rsig, viol = ref_dependency_grads(relax, mu, sigma, src, dst, lag, mult, 0.7, ww, 0.3)
                m1 = mult.clone()
                a = mu.detach().clone().requires_grad_()
                b = sigma.detach().clone().requires_grad_()
                loss = dep.dependency_loss_triton(a, b, src, dst, lag, m1, 0.7, ww, 0.3, 2.0, 1e3, det)
                loss.backward()
                e_loss = abs(loss.item() - rl.item()) / abs(rl.item())
                e_mu, e_sig = rel_err(a.grad, rmu), rel_err(b.grad, rsig)
                e_mult = rel_err(m1, torch.clamp(mult.double() + 2.0 * viol, max=1e3))
                worst = max(e_loss, e_mu, e_sig, e_mult)
                finite = all(torch.isfinite(t).all().item() for t in (loss, a.grad, b.grad, m1))
                row(f"dependency {n_edges:.0e} edges det={det} comm={comm}",
                    f"loss {e_loss:.1e}, dmu {e_mu:.1e}, dsigma {e_sig:.1e}, mult {e_mult:.1e}", finite and worst < tol)
        # deterministic: bit-identical reruns
        outs = []
        for _ in range(2):
            a = mu.detach().clone().requires_grad_()
            b = sigma.detach().clone().requires_grad_()
            loss = dep.dependency_loss_triton(a, b, src, dst, lag, mult, 0.7, w, 0.3, 0.0, 1e3, True)
            loss.backward()
            outs.append((loss.detach(), a.grad, b.grad))
        same = all(torch.equal(x, y) for x, y in zip(*outs))
        row("dependency deterministic reruns", "bit-identical" if same else "differ", same)
        # int32 indices, float64 inputs, dispatch through gaus_fast.kernels
        mu64, sig64 = mu.double().requires_grad_(), sigma.double().requires_grad_()
        loss = kernels.dependency_loss(mu64, sig64, src.int(), dst.int(), lag.double(), mult.double(), 0.7,
                                       backend="auto")
        loss.backward()
        rl, rmu, rsig, _ = ref_dependency_grads(relax, mu, sigma, src, dst, lag, mult, 0.7)
        worst = max(abs(loss.item() - rl.item()) / abs(rl.item()), rel_err(mu64.grad, rmu), rel_err(sig64.grad, rsig))
        row("dependency via kernels.dependency_loss (auto, int32, float64)", f"{worst:.1e} ({loss.dtype})",
            worst < tol and loss.dtype == torch.float64)
        # extreme z: one edge per node pair, |z| up to 40, sigma 1e-3 .. 1e3
        zs = torch.linspace(-40, 40, 321, device=DEV, dtype=torch.float64)
        for scale in (1e-3, 1.0, 1e3):
            n_e = zs.numel()
            mu_x = torch.zeros(2 * n_e, device=DEV, dtype=torch.float64)
            mu_x[0::2] = zs * scale * math.sqrt(2.0)
            sig_x = torch.full((2 * n_e,), scale, device=DEV, dtype=torch.float64)
            s_x = torch.arange(0, 2 * n_e, 2, device=DEV)
            d_x = s_x + 1
            zero = torch.zeros(n_e, device=DEV, dtype=torch.float64)
            m_x = zero.clone()
            with torch.no_grad():
                dep.dependency_loss_triton(mu_x, sig_x, s_x, d_x, zero, m_x, 0.0, None, 0.0, 1.0, 1e300, False)
            _, _, _, viol = ref_dependency_grads(relax, mu_x, sig_x, s_x, d_x, zero, zero + 1, 0.0)
            big = viol > 1e-30 * scale
            err = ((m_x[big] - viol[big]).abs() / viol[big]).max().item()
            row(f"dependency per-edge V, |z| <= 40, sigma {scale:g}", f"{err:.1e}",
                torch.isfinite(m_x).all().item() and err < 1e-4)
        del mu, sigma, src, dst, lag, mult, w
    except Exception as exc:  # noqa: BLE001
        row("dependency checks", f"error: {exc!r}", False)
        traceback.print_exc()
    free()

    # expected usage
    try:
        g = torch.Generator(device=DEV).manual_seed(3)
        n, horizon, half = n_rows, 2000, 6
        mu = torch.rand(n, generator=g, device=DEV, dtype=torch.float64) * (horizon + 40) - 20
        sigma = torch.rand(n, generator=g, device=DEV, dtype=torch.float64) * 2.0 + 0.05
        wt = torch.rand(n, generator=g, device=DEV, dtype=torch.float64) + 0.5
        hold = torch.randint(1, 5, (n,), generator=g, device=DEV)
        ch = torch.randint(0, 3, (n,), generator=g, device=DEV)
        # the reference sees the float32 inputs the kernels get (float32 mu near 2000 is off by ~1e-4)
        mu, sigma, wt = mu.float().double(), sigma.float().double(), wt.float().double()
        for ii in (None, 13):
            width = horizon if ii is None else ii
            go = torch.randn(3, width, generator=g, device=DEV, dtype=torch.float64)
            a64 = mu.clone().requires_grad_()
            b64 = sigma.clone().requires_grad_()
            ref = relax.expected_usage(a64, b64, wt, hold, horizon, half, ch, 3, ii)
            (ref * go).sum().backward()
            for det in (False, True):
                a = mu.float().requires_grad_()
                b = sigma.float().requires_grad_()
                u = occ.expected_usage_triton(a, b, wt.float(), hold, horizon, half, ch, 3, ii, det)
                (u * go.float()).sum().backward()
                errs = (rel_err(u, ref), rel_err(a.grad, a64.grad), rel_err(b.grad, b64.grad))
                row(f"usage {n:.0e} rows ii={ii} det={det}", ", ".join(f"{e:.1e}" for e in errs), max(errs) < tol)
        outs = [occ.expected_usage_triton(mu.float(), sigma.float(), wt.float(), hold, horizon, half, ch, 3, None,
                                          True) for _ in range(2)]
        same = torch.equal(outs[0], outs[1])
        row("usage deterministic reruns", "bit-identical" if same else "differ", same)
    except Exception as exc:  # noqa: BLE001
        row("usage checks", f"error: {exc!r}", False)
        traceback.print_exc()
    free()
    say("")
    return ok_all


# ------------------------------------------------------------------------------------------------ 2. edge timing


def _ref_loss(relax, mu, sigma, src, dst, lag, mult, rho):
    return relax.dependency_loss(mu, sigma, src, dst, lag, mult, rho)[0]


def time_dependency(relax, dep, sizes, iters, use_compile: bool) -> dict:
    say("## Dependence loss, forward + backward (float32, int64 indices, avg degree 8)")
    say("")
    say("| edges | method | time (ms) | edges/s | vs eager | vs compile | peak extra (MiB) |")
    say("|---|---|---|---|---|---|---|")
    compiled = None
    if use_compile:
        try:
            compiled = torch.compile(lambda *a: _ref_loss(relax, *a), dynamic=True)
        except Exception as exc:  # noqa: BLE001
            say(f"| - | torch.compile | unavailable: {exc!r} | | | | |")
    summary = {}
    for n_edges in sizes:
        free()
        try:
            mu, sigma, src, dst, lag, mult, _ = random_graph(max(n_edges // 4, 2), n_edges, seed=5)
        except Exception as exc:  # noqa: BLE001
            say(f"| {n_edges:.0e} | (inputs) | skipped: {'out of memory' if is_oom(exc) else repr(exc)} | | | | |")
            continue
        mu.requires_grad_()
        sigma.requires_grad_()
        src32, dst32 = src.int(), dst.int()

        def step(fn):
            def run():
                mu.grad = None
                sigma.grad = None
                fn().backward()
            return run

        methods = [
            ("triton", step(lambda: dep.dependency_loss_triton(mu, sigma, src, dst, lag, mult, 0.7))),
            ("triton int32 idx", step(lambda: dep.dependency_loss_triton(mu, sigma, src32, dst32, lag, mult, 0.7))),
            ("triton deterministic", step(lambda: dep.dependency_loss_triton(mu, sigma, src, dst, lag, mult, 0.7,
                                                                             None, 0.0, 0.0, 1e3, True))),
            ("torch eager", step(lambda: _ref_loss(relax, mu, sigma, src, dst, lag, mult, 0.7))),
        ]
        if compiled is not None:
            methods.append(("torch.compile", step(lambda: compiled(mu, sigma, src, dst, lag, mult, 0.7))))
        res = {}
        for name, fn in methods:
            free()
            try:
                t0 = time.perf_counter()
                n_it = iters if n_edges <= 10_000_000 else max(3, iters // 3)
                sec, peak = bench(fn, n_it, warmup=2)
                res[name] = (sec, peak)
                if name == "torch.compile":
                    print(f"  (torch.compile incl. compilation: {time.perf_counter() - t0:.1f} s)", flush=True)
            except Exception as exc:  # noqa: BLE001
                msg = "out of memory" if is_oom(exc) else repr(exc)[:120]
                res[name] = None
                say(f"| {n_edges:.0e} | {name} | skipped: {msg} | | | | |")
                if not is_oom(exc):
                    traceback.print_exc()
        eager = res.get("torch eager")
        comp = res.get("torch.compile")
        for name, r in res.items():
            if r is None:
                continue
            sec, peak = r
            vs_e = f"{eager[0] / sec:.1f}x" if eager else "-"
            vs_c = f"{comp[0] / sec:.1f}x" if comp else "-"
            say(f"| {n_edges:.0e} | {name} | {sec * 1e3:.3f} | {n_edges / sec:.2e} | {vs_e} | {vs_c} | "
                f"{peak / 2**20:.0f} |")
        summary[n_edges] = res
        del mu, sigma, src, dst, lag, mult, src32, dst32, methods
    free()
    say("")
    return summary


# ------------------------------------------------------------------------------------------------ 3. usage timing


def time_usage(relax, occ, n_rows: int, iters: int) -> None:
    horizon, half, n_ch = max(min(20_000, n_rows // 50), 10), 8, 4
    say(f"## Expected usage, forward + backward ({n_rows:.0e} rows, horizon {horizon}, half window {half}, "
        f"holds 1-4, {n_ch} channels, float32)")
    say("")
    say("| method | time (ms) | rows/s | vs eager | peak extra (MiB) |")
    say("|---|---|---|---|---|")
    free()
    try:
        g = torch.Generator(device=DEV).manual_seed(9)
        mu = (torch.rand(n_rows, generator=g, device=DEV) * horizon).requires_grad_()
        sigma = (torch.rand(n_rows, generator=g, device=DEV) * 1.7 + 0.3).requires_grad_()
        wt = torch.rand(n_rows, generator=g, device=DEV) + 0.5
        hold = torch.randint(1, 5, (n_rows,), generator=g, device=DEV)
        ch = torch.randint(0, n_ch, (n_rows,), generator=g, device=DEV)
        go = torch.randn(n_ch, horizon, generator=g, device=DEV)
    except Exception as exc:  # noqa: BLE001
        say(f"| (inputs) | skipped: {exc!r} | | | |")
        return

    def step(fn):
        def run():
            mu.grad = None
            sigma.grad = None
            (fn() * go).sum().backward()
        return run

    methods = [
        ("triton", step(lambda: occ.expected_usage_triton(mu, sigma, wt, hold, horizon, half, ch, n_ch))),
        ("triton deterministic",
         step(lambda: occ.expected_usage_triton(mu, sigma, wt, hold, horizon, half, ch, n_ch, None, True))),
        ("torch eager", step(lambda: relax.expected_usage(mu, sigma, wt, hold, horizon, half, ch, n_ch))),
    ]
    res = {}
    for name, fn in methods:
        free()
        try:
            res[name] = bench(fn, iters, warmup=2)
        except Exception as exc:  # noqa: BLE001
            res[name] = None
            say(f"| {name} | skipped: {'out of memory' if is_oom(exc) else repr(exc)[:120]} | | | |")
    eager = res.get("torch eager")
    for name, r in res.items():
        if r is None:
            continue
        sec, peak = r
        vs = f"{eager[0] / sec:.1f}x" if eager else "-"
        say(f"| {name} | {sec * 1e3:.3f} | {n_rows / sec:.2e} | {vs} | {peak / 2**20:.0f} |")
    say("")


# ------------------------------------------------------------------------------------------------ main


def targets(summary: dict) -> None:
    say("## Targets (10M edges)")
    say("")
    res = summary.get(10_000_000)
    if not res or not res.get("triton"):
        say("- not measured")
        say("")
        return
    sec = res["triton"][0]
    eps = 1e7 / sec
    say(f"- edges/s >= 1e9: {eps:.2e} -> {'met' if eps >= 1e9 else 'NOT met'}")
    if res.get("torch eager"):
        r = res["torch eager"][0] / sec
        say(f"- >= 5x torch eager: {r:.1f}x -> {'met' if r >= 5 else 'NOT met'}")
    if res.get("torch.compile"):
        r = res["torch.compile"][0] / sec
        say(f"- >= 2x torch.compile: {r:.1f}x -> {'met' if r >= 2 else 'NOT met'}")
    say("")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7,1e8", help="edge counts to time (comma separated)")
    ap.add_argument("--rows", type=float, default=1e6, help="rows of the usage timing")
    ap.add_argument("--iters", type=int, default=10, help="timed iterations per measurement (after 2 warm-ups)")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--skip-check", action="store_true", help="skip the correctness checks")
    ap.add_argument("--tol", type=float, default=1e-4, help="max relative error (to the largest entry)")
    ap.add_argument("--check-edges", type=float, default=1e6, help="edges of the correctness check")
    ap.add_argument("--check-rows", type=float, default=2e5, help="rows of the usage correctness check")
    ap.add_argument("--out", default=str(RESULTS), help="markdown output")
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="no GPU: run this script on CPU tensors in the Triton interpreter with tiny sizes "
                         "(tests the script, not the kernels' speed); writes nothing unless --out is given")
    args = ap.parse_args(argv)
    global DEV
    if args.cpu_smoke:
        import os

        os.environ["TRITON_INTERPRET"] = "1"  # before the kernels are defined
        DEV = "cpu"
        args.sizes, args.rows, args.iters, args.no_compile = "2e4,1e5", 2e4, 2, True
        args.check_edges, args.check_rows = 2e4, 5e3
        if args.out == str(RESULTS):
            args.out = ""
    elif not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    relax, kernels, dep, occ = _imports()
    import triton

    t_start = time.perf_counter()
    say("# gaus_fast Triton kernels: GPU check")
    say("")
    name = torch.cuda.get_device_name() if DEV == "cuda" else "cpu (Triton interpreter smoke run)"
    say(f"device {name}, torch {torch.__version__}, triton {triton.__version__}, "
        f"python {platform.python_version()}")
    say("")
    ok = True
    if not args.skip_check:
        ok = check_correctness(relax, kernels, dep, occ, args.tol, int(args.check_edges), int(args.check_rows))
    sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    summary = {}
    try:
        summary = time_dependency(relax, dep, sizes, args.iters, not args.no_compile)
    except Exception as exc:  # noqa: BLE001
        say(f"dependency timing failed: {exc!r}")
        traceback.print_exc()
    try:
        time_usage(relax, occ, int(args.rows), args.iters)
    except Exception as exc:  # noqa: BLE001
        say(f"usage timing failed: {exc!r}")
        traceback.print_exc()
    targets(summary)
    say(f"correctness: {'ok' if ok else 'FAILED'}; total {time.perf_counter() - t_start:.0f} s")
    if not args.out:
        return 0 if ok else 1
    try:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(LINES) + "\n")
        print(f"wrote {out}")
    except OSError as exc:
        print(f"could not write {args.out}: {exc}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
