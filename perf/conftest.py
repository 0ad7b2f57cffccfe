"""pytest hooks for perf/bench_kernels.py: collect the measurements and print one comparison table at the end.

The table (ratios torch / numba, edges per second, peak memory) is printed in the terminal summary and written to
perf/results/bench_kernels.md, so a single ``python -m pytest perf/bench_kernels.py --benchmark-only`` run
reports everything.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import pytest

RESULTS_MD = Path(__file__).resolve().parent / "results" / "bench_kernels.md"
_ROWS: dict[tuple, dict] = {}
_NOTES: list[str] = []


@pytest.fixture(scope="session")
def bench_record():
    """record(key, **fields): key = (case, impl, dtype, threads); fields merge into the row."""

    def record(key: tuple, **fields) -> None:
        _ROWS.setdefault(key, {}).update(fields)

    record.note = _NOTES.append
    return record


def _fmt_s(x) -> str:
    return "-" if x is None else (f"{x * 1e3:.1f} ms" if x < 10 else f"{x:.2f} s")


def _table() -> list[str]:
    if not _ROWS:
        return []
    lines = []
    cases = []
    for k in _ROWS:
        if k[0] not in cases:
            cases.append(k[0])
    for case in cases:
        rows = {k[1:]: v for k, v in _ROWS.items() if k[0] == case}
        info = next(iter(rows.values())).get("info", "")
        lines.append(f"### {case} {info}".rstrip())
        lines.append("")
        lines.append("| impl | dtype | threads | median fwd+bwd | min | Medges/s (median) | speed-up vs torch, same dtype "
                     "(median / min) | peak extra MiB |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for (impl, dtype, threads), v in sorted(rows.items(), key=lambda kv: (kv[0][0] != "torch", kv[0][1], -kv[0][2])):
            ref = rows.get(("torch", dtype, next((t for (i, d, t) in rows if i == "torch" and d == dtype), 0)), {})
            ratio = "-"
            if impl != "torch" and ref.get("median") and v.get("median"):
                ratio = f"{ref['median'] / v['median']:.1f}x / {ref['min'] / v['min']:.1f}x"
            eps = f"{v['items'] / v['median'] / 1e6:.1f}" if v.get("median") and v.get("items") else "-"
            mem = f"{v['peak_mib']:.1f}" if v.get("peak_mib") is not None else "-"
            lines.append(f"| {impl} | {dtype} | {threads} | {_fmt_s(v.get('median'))} | {_fmt_s(v.get('min'))} | {eps} "
                         f"| {ratio} | {mem} |")
        lines.append("")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = _table()
    if not lines:
        return
    header = [
        "# Kernel benchmarks (perf/bench_kernels.py)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} CPUs. Times: pytest-benchmark medians of forward + backward. "
        "Peak extra MiB: resident-set high-water mark during one forward + backward minus the resident set just "
        "before it, in a fresh subprocess after a warm-up (Linux clear_refs/VmHWM, glibc mmap threshold 64 KiB so "
        "freed blocks leave the RSS): the host memory the call needs beyond its inputs.",
        "",
    ]
    notes = [f"* {n}" for n in _NOTES] + ([""] if _NOTES else [])
    out = header + notes + lines
    terminalreporter.write_sep("=", "kernel benchmark summary")
    for line in out[2:]:
        terminalreporter.write_line(line)
    try:
        RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_MD.write_text("\n".join(out) + "\n")
        terminalreporter.write_line(f"written to {RESULTS_MD}")
    except OSError as exc:  # pragma: no cover
        terminalreporter.write_line(f"could not write {RESULTS_MD}: {exc}")
