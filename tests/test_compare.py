"""perf/compare.py end to end on two small heurigym instances (1 s budgets): every run verified, the CSV and the
markdown written, a resumed sweep runs only what is missing, and the check table names the proven optima."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from gaus_fast.data import dataset

ROOT = Path(__file__).resolve().parents[1]
HEURIGYM = dataset("heurigym-operator-scheduling")
pytestmark = pytest.mark.skipif(not HEURIGYM.exists(), reason=f"heurigym data not found at {HEURIGYM} (set GAUS_FAST_DATA)")


def _run(tmp_path, *extra):
    cmd = [sys.executable, str(ROOT / "perf" / "compare.py"), "--sets", "heurigym", "--only", "hal", "horner",
           "--budgets", "1", "--out", str(tmp_path), "--tag", "t", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_sweep_writes_verified_rows_and_resumes(tmp_path):
    _run(tmp_path, "--methods", "gaus", "list", "cpsat", "--seeds", "0", "1", "--jobs", "2")
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert len(rows) == 2 * (2 + 1 + 1)
    assert all(r["verified"] == "True" and r["status"] in ("ok", "optimal") for r in rows), rows
    md = (tmp_path / "t.md").read_text()
    assert "gaus against the proved exact optima" in md and "| hal |" in md
    # the proven optimum is matched by gaus on these small graphs; a row says so
    assert "| NO |" not in md
    # resume: only the new seed runs, the old rows stay
    proc = _run(tmp_path, "--methods", "gaus", "list", "cpsat", "--seeds", "0", "1", "2", "--resume")
    assert "2 runs to do (8 kept)" in proc.stderr
    again = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert len(again) == 10 and sorted(r["seed"] for r in again if r["method"] == "gaus") == ["0", "0", "1", "1", "2", "2"]
    assert (tmp_path / "t_pareto.png").stat().st_size > 0


HATSCHET = dataset("hatschet-modulo")


@pytest.mark.skipif(not HATSCHET.exists(), reason=f"HatScheT data not found at {HATSCHET} (set GAUS_FAST_DATA)")
def test_hatschet_rows_are_verified_modulo_schedules(tmp_path):
    """graph54 of ChStone/jpeg has MII 4 and a proved least II of 5: every method must find 5 (not 4: that would be
    an illegal schedule passing the verifier), and only gaus, whose bound is a proof, calls it optimal."""
    cmd = [sys.executable, str(ROOT / "perf" / "compare.py"), "--sets", "hatschet", "--only", "ChStone/jpeg/graph54",
           "--budgets", "5", "--seeds", "0", "--methods", "gaus", "cpsat", "list", "fds", "--out", str(tmp_path), "--tag", "h"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["method"]: r for r in csv.DictReader(open(tmp_path / "h.csv"))}
    assert set(rows) == {"gaus", "cpsat", "list"}  # fds does not do modulo scheduling
    assert all(r["verified"] == "True" and float(r["value"]) == 5 and float(r["mii"]) == 4 for r in rows.values()), rows
    assert rows["gaus"]["status"] == "optimal" and rows["cpsat"]["status"] == "ok"
    assert "Modulo summary" in (tmp_path / "h.md").read_text()
