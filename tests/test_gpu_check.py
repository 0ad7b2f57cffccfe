"""perf/gpu_check.py is run only when a GPU is lent; its --cpu-smoke mode runs the whole script here (the Triton
kernels in the interpreter, tiny sizes), so that the script cannot rot between GPU sessions."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

# find_spec, not import: importing triton here, before the interpreter tests set TRITON_INTERPRET, would fix
# triton in compiled mode for the whole session
pytestmark = pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_script_runs_in_cpu_smoke_mode(tmp_path):
    out = tmp_path / "gpu_check.md"
    proc = subprocess.run([sys.executable, str(ROOT / "perf" / "gpu_check.py"), "--cpu-smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "correctness: ok" in proc.stdout
    table = out.read_text()
    for needle in ("Dependence loss, forward + backward", "| triton |", "| torch eager |", "Expected usage"):
        assert needle in table, needle
