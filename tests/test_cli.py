"""The `gaus-fast` command line: solve / verify / info, in-process through `gaus_fast.cli.main` and as the installed
console script in a subprocess.

Every run here is small (a handful of ops, or the embedded FFT with an iteration cap) so that the module takes
seconds; the solver's quality is tested in test_solver.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from gaus_fast import cli, verify
from gaus_fast.formats import read_problem, read_schedule, write_problem
from gaus_fast.generators import fft_example
from gaus_fast.problem import ProblemError
from gaus_fast.schedule import Schedule

FAST = ["--time-limit", "20", "--max-iters", "30"]  # iteration-bound, so runs are short and deterministic

# A small heurigym instance: two multiplies feeding an add chain; one MUL unit, one ADD unit (blocking).
SMALL = {
    "name": "small",
    "delay": {"mul": 2, "add": 1, "ld": 1},
    "resource": {"mul": 1, "add": 1},
    "nodes": [["l0", "ld"], ["l1", "ld"], ["m0", "mul"], ["m1", "mul"], ["a0", "add"], ["a1", "add"], ["a2", "add"]],
    "edges": [["l0", "m0", "x"], ["l1", "m1", "x"], ["m0", "a0", "x"], ["m1", "a0", "y"], ["a0", "a1", "x"],
              ["l0", "a1", "y"], ["a1", "a2", "x"], ["m1", "a2", "y"]],
}
SMALL_CRITICAL_PATH = 6  # l0(1) -> m0(2) -> a0(1) -> a1(1) -> a2(1)
# Objective A on SMALL also runs without the unit limits (objective A honours them too; this checks the
# unlimited path through the CLI).
UNLIM = ["--limit", "mul=inf", "--limit", "add=inf"]


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``gaus-fast argv`` in-process; argparse's SystemExit becomes a code."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # usage errors and --help exit through argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def console_script() -> list[str]:
    exe = shutil.which("gaus-fast")
    if exe is None:  # not on PATH (e.g. a venv that is not activated): next to the interpreter
        cand = os.path.join(os.path.dirname(sys.executable), "gaus-fast")
        if os.path.exists(cand):
            exe = cand
    if exe is None:
        pytest.skip("the gaus-fast console script is not installed")
    return [exe]


def run_script(*argv, timeout=120):
    proc = subprocess.run(console_script() + [str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL))
    return path


@pytest.fixture(scope="module")
def fft_file(tmp_path_factory):
    """The embedded example written to a file in our native JSON (the CLI has no option to export it)."""
    path = tmp_path_factory.mktemp("fft") / "fft16.json"
    write_problem(path, fft_example(), "json")
    return path


@pytest.fixture(scope="module")
def fft_json_run(tmp_path_factory):
    """One `solve --out x.json --quiet` of the embedded example, shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("fftrun") / "fft16_schedule.json"
    code = cli.main(["solve", *FAST, "--quiet", "--out", str(out)])
    assert code == 0
    return out


# ------------------------------------------------------------------------------------------------ solve
def test_solve_embedded_example_prints_table(capsys):
    code, out, err = run(capsys, "solve", "--time-limit", "1", "--max-iters", "20")
    assert code == 0, err
    assert "fft16" in out and "128 ops" in out and "176 edges" in out
    assert "latency" in out  # auto -> latency: the example has unit limits
    assert "verified" in out and "yes" in out
    assert "baseline: list" in out
    assert "Traceback" not in err


def test_solve_out_json_keys(fft_json_run):
    payload = json.loads(fft_json_run.read_text())
    for key in ("format_version", "instance", "start", "ii", "objective", "verified", "solver"):
        assert key in payload, key
    assert payload["format_version"] == 1 and payload["instance"] == "fft16" and payload["ii"] is None
    problem = fft_example()
    start = payload["start"]
    assert list(start) == problem.op_ids  # every op, in the problem's order
    assert all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in start.values())
    obj = payload["objective"]
    for key in ("name", "value", "lower_bound", "gap", "baselines", "makespan", "peak_usage", "communication"):
        assert key in obj, key
    assert obj["name"] == "latency" and obj["value"] == obj["makespan"]
    assert obj["lower_bound"] <= obj["value"] <= obj["baselines"]["list"]
    assert payload["verified"] is True
    solver = payload["solver"]
    for key in ("backend", "iterations", "seconds", "seconds_per_iteration"):
        assert key in solver, key
    assert isinstance(solver["backend"], str) and solver["backend"]
    assert 0 <= solver["iterations"] <= 30
    assert solver["seconds"] >= 0 and solver["seconds_per_iteration"] >= 0
    if solver["iterations"]:
        assert solver["seconds_per_iteration"] == pytest.approx(solver["seconds"] / solver["iterations"])
    # the numbers in the file are the verifier's own evaluation of the schedule in the file
    sched = Schedule.from_dict(problem, start)
    assert verify.check(problem, sched) == []
    assert verify.evaluate(problem, sched)["makespan"] == obj["value"]
    for name, used in verify.evaluate(problem, sched)["peak_usage"].items():
        assert obj["peak_usage"][name] == used


def test_solve_out_json_reverifies(capsys, fft_file, fft_json_run):
    code, out, err = run(capsys, "verify", fft_file, fft_json_run)
    assert code == 0, err
    assert "valid" in out and "yes" in out and "makespan" in out
    # and the library reads it back as the same schedule
    problem = read_problem(fft_file)
    payload = json.loads(fft_json_run.read_text())
    assert read_schedule(fft_json_run, problem).as_dict(problem) == payload["start"]


def test_solve_out_txt_heurigym_lines(capsys, small, tmp_path):
    out_path = tmp_path / "small.txt"
    code, _, err = run(capsys, "solve", small, *FAST, "--quiet", "--out", out_path)
    assert code == 0, err
    lines = out_path.read_text().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [n[0] for n in SMALL["nodes"]]
    assert all(ln.split(":")[1].isdigit() for ln in lines)
    code, out, err = run(capsys, "verify", small, out_path)
    assert code == 0, err
    assert "yes" in out


def test_solve_from_file_matches_in_memory_problem(capsys, fft_file, tmp_path):
    """Solving the exported example file gives the same schedule as solving the embedded example."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run(capsys, "solve", *FAST, "--quiet", "--out", a)[0] == 0
    assert run(capsys, "solve", fft_file, *FAST, "--quiet", "--out", b)[0] == 0
    assert json.loads(a.read_text())["start"] == json.loads(b.read_text())["start"]


def test_plot_writes_png(capsys, small, tmp_path):
    png = tmp_path / "small.png"
    code, out, err = run(capsys, "solve", small, *FAST, "--plot", png)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert "plot" in out  # the table names the plot


def test_plot_without_limits_and_objective_a(capsys, small, tmp_path):
    png = tmp_path / "a.png"
    code, _, err = run(capsys, "solve", small, *FAST, "--objective", "A", "--limit", "mul=inf", "--limit", "add=inf",
                       "--quiet", "--plot", png)
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_quiet_prints_one_json_line(capsys, small):
    code, out, err = run(capsys, "solve", small, *FAST, "--quiet")
    assert code == 0
    assert err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert set(summary) == {"instance", "verified", "objective", "value", "lower_bound", "seconds"}
    assert summary["instance"] == "small" and summary["verified"] is True and summary["objective"] == "latency"
    assert summary["lower_bound"] <= summary["value"]
    assert summary["value"] >= SMALL_CRITICAL_PATH


def _solve_json(capsys, tmp_path, *argv, name="out.json"):
    out_path = tmp_path / name
    code, out, err = run(capsys, "solve", *argv, "--quiet", "--out", out_path)
    assert code == 0, err
    return json.loads(out_path.read_text())


def test_objective_latency_and_a(capsys, small, tmp_path):
    problem = read_problem(small)
    lat = _solve_json(capsys, tmp_path, small, *FAST, "--objective", "latency", name="lat.json")
    assert lat["objective"]["name"] == "latency" and lat["objective"]["alpha"] is None
    assert lat["objective"]["value"] == lat["objective"]["makespan"] >= SMALL_CRITICAL_PATH
    a = _solve_json(capsys, tmp_path, small, *FAST, *UNLIM, "--objective", "A", name="a.json")
    obj = a["objective"]
    assert obj["name"] == "A" and obj["alpha"] == 0.01
    assert obj["value"] == pytest.approx(obj["peak_weighted"] + 0.01 * obj["communication"])
    assert obj["depth"] >= SMALL_CRITICAL_PATH and obj["value"] >= obj["lower_bound"] - 1e-9
    sched = Schedule.from_dict(problem, a["start"])
    assert verify.check(problem.with_limits({"mul": None, "add": None}).replace(depth=obj["depth"]), sched) == []
    assert a["verified"] is True


def test_objective_auto(capsys, small, tmp_path):
    limited = _solve_json(capsys, tmp_path, small, *FAST, name="auto1.json")
    assert limited["objective"]["name"] == "latency"
    unlimited = _solve_json(capsys, tmp_path, small, *FAST, "--limit", "mul=inf", "--limit", "add=inf", name="auto2.json")
    assert unlimited["objective"]["name"] == "A"


def test_objective_a_under_limits(capsys, small, tmp_path):
    """Objective A honours the unit limits; a depth the limits cannot meet is 'no legal schedule' (exit 1)."""
    problem = read_problem(small)
    payload = _solve_json(capsys, tmp_path, small, *FAST, "--objective", "A", "--depth", "12", name="lim.json")
    sched = Schedule.from_dict(problem, payload["start"])
    assert verify.check(problem.replace(depth=12), sched) == [] and payload["verified"] is True
    # One blocking 2-cycle MUL unit serialises m0 and m1: a2 cannot finish within the critical path's 6 stages.
    code, _, err = run(capsys, "solve", small, *FAST, "--objective", "A", "--depth", str(SMALL_CRITICAL_PATH))
    assert code == 1 and "no legal schedule" in err and len(err.strip().splitlines()) == 1


def test_depth(capsys, small, tmp_path):
    problem = read_problem(small)
    payload = _solve_json(capsys, tmp_path, small, *FAST, *UNLIM, "--objective", "A", "--depth", "9")
    assert payload["objective"]["depth"] == 9
    t = np.array([payload["start"][op] for op in problem.op_ids])
    assert np.all(t + problem.span <= 9)
    out_path = tmp_path / "out.json"
    assert run(capsys, "verify", small, out_path, *UNLIM, "--depth", "9")[0] == 0
    length = int((t + problem.span).max())
    if length > 1:  # the same schedule against a tighter depth bound fails verification
        code, _, err = run(capsys, "verify", small, out_path, *UNLIM, "--depth", length - 1)
        assert code == 1 and "depth" in err


def test_alpha(capsys, small, tmp_path):
    payload = _solve_json(capsys, tmp_path, small, *FAST, *UNLIM, "--objective", "A", "--alpha", "0.5")
    obj = payload["objective"]
    assert obj["alpha"] == 0.5
    assert obj["value"] == pytest.approx(obj["peak_weighted"] + 0.5 * obj["communication"])
    assert obj["objective_a"] == pytest.approx(obj["value"])


def test_limit_type_n_and_inf(capsys, tmp_path):
    problem = fft_example()
    one = _solve_json(capsys, tmp_path, *FAST, "--limit", "MUL=1", "--limit", "ADD=1", name="one.json")
    sched = Schedule.from_dict(problem, one["start"])
    assert one["objective"]["peak_usage"]["MUL"] <= 1 and one["objective"]["peak_usage"]["ADD"] <= 1
    assert verify.check(problem.with_limits({"MUL": 1, "ADD": 1}), sched) == []
    # 32 MULs of 2 cycles on one blocking unit need at least 64 steps
    assert one["objective"]["value"] >= 64
    inf = _solve_json(capsys, tmp_path, *FAST, "--limit", "MUL=inf", name="inf.json")
    assert inf["objective"]["name"] == "latency"  # other types are still limited
    # MUL unlimited: the run may use more than the default 3 MUL units at once and is never slower than one unit
    assert inf["objective"]["value"] < one["objective"]["value"]


def test_limit_shows_in_info(capsys, fft_file):
    code, out, err = run(capsys, "info", fft_file, "--limit", "MUL=inf", "--limit", "LOD=4")
    assert code == 0, err
    assert "MUL:inf" in out and "LOD:4" in out and "ADD:2" in out


def test_seed_determinism(capsys, small, tmp_path):
    argv = [small, *UNLIM, "--objective", "A", "--time-limit", "60", "--max-iters", "80", "--seed", "7"]
    a = _solve_json(capsys, tmp_path, *argv, name="s1.json")
    b = _solve_json(capsys, tmp_path, *argv, name="s2.json")
    assert a["start"] == b["start"] and a["objective"]["value"] == b["objective"]["value"]
    assert a["solver"]["seed"] == 7 and a["solver"]["iterations"] == b["solver"]["iterations"]


def test_seed_determinism_embedded_latency(capsys, tmp_path):
    argv = ["--objective", "latency", "--time-limit", "60", "--max-iters", "40", "--seed", "3"]
    a = _solve_json(capsys, tmp_path, *argv, name="s1.json")
    b = _solve_json(capsys, tmp_path, *argv, name="s2.json")
    assert a["start"] == b["start"]


def test_max_iters_zero_returns_best_baseline(capsys, tmp_path):
    payload = _solve_json(capsys, tmp_path, "--max-iters", "0")
    assert payload["solver"]["iterations"] == 0 and payload["solver"]["seconds_per_iteration"] == 0
    obj = payload["objective"]
    assert obj["value"] == obj["baselines"]["list(best priority)"] <= obj["baselines"]["list"]
    assert payload["verified"] is True


def test_patience_and_backend_torch(capsys, small, tmp_path):
    payload = _solve_json(capsys, tmp_path, small, *UNLIM, "--objective", "A", "--patience", "1", "--max-iters", "1000",
                          "--backend", "torch", "--device", "cpu")
    assert payload["solver"]["backend"] == "torch" and payload["solver"]["device"] == "cpu"
    assert payload["solver"]["iterations"] <= 1000


def test_dot_latency_and_limits(capsys, tmp_path, monkeypatch):
    """DOT files carry no resource types: --limit becomes the reader's limits (README: arf.dot --limit MUL=2)."""
    monkeypatch.setenv("COLUMNS", "200")
    dot = tmp_path / "tiny.dot"
    dot.write_text("digraph tiny {\n a [label=mul];\n b [label=add];\n c [label=mul];\n d [label=mul];\n"
                   " a -> b;\n b -> c;\n a -> d;\n}\n")
    code, out, err = run(capsys, "info", dot, "--latency", "MUL=5")
    assert code == 0, err
    assert "mul(lat 5)" in out and "resources" in out
    code, out, err = run(capsys, "info", dot, "--limit", "MUL=1", "--limit", "add=inf")
    assert code == 0, err
    assert "mul:1 blocking" in out
    payload = _solve_json(capsys, tmp_path, dot, *FAST, "--limit", "MUL=1")
    assert payload["objective"]["name"] == "latency" and payload["objective"]["peak_usage"]["mul"] == 1
    # a, c, d are 2-cycle MULs on one unit: at least 6 steps
    assert payload["objective"]["value"] >= 6
    code, _, err = run(capsys, "info", dot, "--limit", "FOO=2")
    assert code == 2 and "FOO" in err
    code, _, err = run(capsys, "info", dot, "--latency", "MUL=x")
    assert code == 2 and "--latency" in err


def test_empty_problem(capsys, tmp_path):
    """No ops at all (regression: the latency baselines took the max of an empty fan-out array)."""
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"name": "e", "delay": {"a": 1}, "resource": {"a": 1}, "nodes": [], "edges": []}))
    payload = _solve_json(capsys, tmp_path, path, *FAST)
    assert payload["start"] == {} and payload["objective"]["name"] == "latency" and payload["objective"]["value"] == 0
    assert payload["verified"] is True
    assert run(capsys, "info", path)[0] == 0
    assert _solve_json(capsys, tmp_path, path, *FAST, "--objective", "A", name="a.json")["objective"]["value"] == 0


# ------------------------------------------------------------------------------------------------ info
def test_info_on_file(capsys, small):
    code, out, err = run(capsys, "info", small)
    assert code == 0, err
    assert "small" in out and "7" in out and "8 (0 loop-carried)" in out
    assert "mul(lat 2)" in out and "mul:1 blocking" in out
    assert "list scheduling makespan" in out  # limited resources: the list baseline is shown
    code, out, err = run(capsys, "info", small, "--depth", "12")
    assert code == 0 and "D=12" in out


def test_info_numbers(capsys, small, monkeypatch):
    """The rows of `info` are the bounds module's numbers (read through a wide console so nothing wraps)."""
    from gaus_fast import bounds

    monkeypatch.setenv("COLUMNS", "200")
    problem = read_problem(small)
    code, out, _ = run(capsys, "info", small)
    assert code == 0
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│| ").split("│")]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    assert rows["critical path (makespan)"] == str(bounds.critical_path(problem)) == str(SMALL_CRITICAL_PATH)
    assert rows["makespan lower bound"] == str(bounds.makespan_lower_bound(problem))
    assert rows["operations"] == "7"


# ------------------------------------------------------------------------------------------------ verify
def test_verify_reports_violation_with_exit_1(capsys, small, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("".join(f"{op}:0\n" for op, _ in SMALL["nodes"]))
    code, out, err = run(capsys, "verify", small, bad)
    assert code == 1
    assert "NO" in out
    assert "dependence" in err and "Traceback" not in err


def test_verify_good_schedule_exit_0(capsys, small, tmp_path):
    problem = read_problem(small)
    from gaus_fast import bounds

    start = bounds.list_schedule(problem, bounds.alap(problem, 50).astype(float))
    good = tmp_path / "good.txt"
    good.write_text("".join(f"{op}:{t}\n" for op, t in zip(problem.op_ids, start.tolist())))
    code, out, err = run(capsys, "verify", small, good, "--alpha", "0.5")
    assert code == 0, err
    assert err == ""


# ------------------------------------------------------------------------------------------------ exit codes
def test_exit_codes(capsys, small, tmp_path, monkeypatch):
    assert run(capsys, "solve", small, *FAST, "--quiet")[0] == 0
    assert run(capsys, "solve", tmp_path / "nope.json")[0] == 2
    assert run(capsys, "bogus-command")[0] == 2
    assert run(capsys)[0] == 2  # no command
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "solve" in out and "verify" in out and "info" in out

    # 1: the solver's schedule fails verification (simulated: the verifier finds a violation)
    monkeypatch.setattr(verify, "check", lambda problem, schedule: ["op x breaks something"])
    code, _, err = run(capsys, "solve", small, *FAST, "--quiet")
    assert code == 1 and "failed verification" in err and "op x breaks something" in err
    assert "Traceback" not in err


def test_internal_error_is_one_line_unless_debugging(capsys, small, monkeypatch):
    import gaus_fast.solver as solver_mod

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(solver_mod, "solve", boom)
    monkeypatch.delenv("GAUS_FAST_DEBUG", raising=False)
    code, _, err = run(capsys, "solve", small, "--quiet")
    assert code == 3
    assert err.strip().count("\n") == 0 and "internal error" in err and "kaboom" in err and "GAUS_FAST_DEBUG" in err
    monkeypatch.setenv("GAUS_FAST_DEBUG", "1")
    with pytest.raises(RuntimeError, match="kaboom"):
        cli.main(["solve", str(small), "--quiet"])


def test_progress_bar_is_silent_when_disabled_or_short():
    p = cli._Progress(False, "x")
    p(0.5, 3.0)
    p.close()
    assert p.bar is None
    q = cli._Progress(True, "x")
    q(0.1, 1.0)  # within its first two seconds: no bar yet
    assert q.bar is None
    q.close()


def test_fmt():
    assert cli._fmt(None) == "-"
    assert cli._fmt(float("inf")) == "inf"
    assert cli._fmt(3.0) == "3" and cli._fmt(2.5) == "2.50" and cli._fmt(1234567) == "1,234,567"
    assert cli._fmt("abc") == "abc"


def test_parse_limits_and_latencies():
    assert cli._parse_limits(["A=3", "B=inf", "C=none", "D=unlimited", "E=-1"]) == {"A": 3, "B": None, "C": None, "D": None, "E": None}
    assert cli._parse_limits(None) == {}
    for bad in (["A"], ["=3"], ["A=x"], ["A=0"], ["A=-2"], ["A=1.5"]):
        with pytest.raises(ProblemError):
            cli._parse_limits(bad)
    assert cli._parse_latencies(["MUL=3", "ADD=0"]) == {"MUL": 3, "ADD": 0}
    assert cli._parse_latencies(None) is None
    for bad in (["MUL"], ["MUL=-1"], ["MUL=x"]):
        with pytest.raises(ProblemError):
            cli._parse_latencies(bad)


# ------------------------------------------------------------------------------------------------ subprocess
def test_console_script_solve_and_verify(tmp_path, small):
    out_path = tmp_path / "sched.json"
    code, out, err = run_script("solve", small, *FAST, "--quiet", "--out", out_path)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["verified"] is True and summary["instance"] == "small"
    assert json.loads(out_path.read_text())["verified"] is True
    code, out, err = run_script("verify", small, out_path)
    assert code == 0, err
    assert "yes" in out


def test_console_script_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": [["a", "add"]], "edges": [], "delay": {"add": -1}}')
    code, out, err = run_script("solve", bad, "--quiet")
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("gaus-fast: error:") and "delay" in err
    assert "Traceback" not in err


def test_console_script_embedded_example_with_plot(tmp_path):
    png = tmp_path / "fft.png"
    code, out, err = run_script("solve", "--time-limit", "2", "--max-iters", "20", "--plot", png, "--quiet")
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(out)["instance"] == "fft16"
