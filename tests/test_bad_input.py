"""Malformed and impossible input through the command line.

Every case must end with exit code 2 (bad input or usage) or 1 (no legal schedule / an invalid schedule for
`verify`), a one-line message on stderr that names the problem, and never a traceback. All files are written here.
"""
from __future__ import annotations

import json

import pytest

from gaus_fast import cli

BASE = {
    "name": "t",
    "delay": {"add": 1, "mul": 2},
    "resource": {"add": 1, "mul": 1},
    "nodes": [["a", "add"], ["b", "mul"], ["c", "add"]],
    "edges": [["a", "b", "x"], ["b", "c", "y"]],
}
NATIVE = {
    "format": "gaus_fast.problem",
    "operator_types": {"mul": 2, "add": 1},
    "resource_types": [{"name": "mul", "limit": 1, "occupancy": "blocking"}],
    "ops": [{"id": "m0", "type": "mul", "resources": ["mul"]}, {"id": "a0", "type": "add"}],
    "edges": [{"src": "m0", "dst": "a0"}],
}
SOLVE_FAST = ["--max-iters", "0", "--quiet"]


def run(capsys, *argv):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def expect_error(capsys, argv, *needles, code=2):
    """Run, and check: the exit code, exactly one stderr line (the usage text of argparse aside) that names the
    problem, and no traceback. Returns that line."""
    got, out, err = run(capsys, *argv)
    assert "Traceback" not in err and "Traceback" not in out
    assert got == code, f"exit {got}, expected {code}; stderr: {err!r}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if lines and lines[0].startswith("usage:"):  # argparse: usage text, then one "error:" line
        errors = [ln for ln in lines if "error:" in ln]
        assert len(errors) == 1 and lines[-1] == errors[0], err
        line = errors[0]
    else:
        assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
        line = lines[0]
        assert line.startswith("gaus-fast: "), line
    assert "internal error" not in line, line
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in {line!r}"
    return line


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, (dict, list)):
        path.write_text(json.dumps(content))
    else:
        path.write_text(content)
    return path


def mutated(base, fn):
    obj = json.loads(json.dumps(base))
    fn(obj)
    return obj


# ------------------------------------------------------------------------------------------------ files
@pytest.mark.parametrize("command", ["solve", "info"])
def test_missing_file(capsys, tmp_path, command):
    expect_error(capsys, [command, tmp_path / "nope.json"], "nope.json", "no such file")


def test_missing_file_verify(capsys, tmp_path):
    good = write(tmp_path, "g.json", BASE)
    expect_error(capsys, ["verify", tmp_path / "nope.json", tmp_path / "s.txt"], "nope.json", "no such file")
    expect_error(capsys, ["verify", good, tmp_path / "s.txt"], "s.txt", "no such file")


@pytest.mark.parametrize("command", ["solve", "info"])
def test_directory_instead_of_file(capsys, tmp_path, command):
    expect_error(capsys, [command, tmp_path], "directory")


def test_directory_as_schedule(capsys, tmp_path):
    good = write(tmp_path, "g.json", BASE)
    expect_error(capsys, ["verify", good, tmp_path], "directory")


@pytest.mark.parametrize(
    "name, content, needles",
    [
        ("empty.json", "", ["empty.json", "invalid JSON"]),
        ("empty.dot", "", ["empty.dot"]),
        ("empty.gml", "", ["empty.gml"]),
        ("empty.aag", "", ["empty.aag"]),
        ("empty", "", ["empty", "format"]),
        ("blank.txt", "\n\n   \n", ["blank.txt", "format"]),
        ("junk.bin", bytes(range(256)) * 8, ["junk.bin", "format"]),
        ("junk.json", b"\xff\xfe\x00garbage\x80\x81", ["junk.json", "UTF-8"]),
        ("junk.dot", b"\x00\x01\x02\xff\xfe", ["junk.dot"]),
        ("trunc.json", json.dumps(BASE)[:40], ["trunc.json", "invalid JSON"]),
        ("list.json", "[1, 2, 3]", ["list.json", "neither"]),
        ("number.json", "42", ["number.json"]),
        ("shape.json", {"foo": 1}, ["shape.json", "neither"]),
        ("otherfmt.json", {"format": "something.else"}, ["otherfmt.json", "something.else"]),
        ("schedule.json", {"format": "gaus_fast.schedule", "start": {}}, ["schedule.json", "schedule"]),
    ],
)
def test_unreadable_files(capsys, tmp_path, name, content, needles):
    path = write(tmp_path, name, content)
    expect_error(capsys, ["solve", path, *SOLVE_FAST], *needles)
    expect_error(capsys, ["info", path], *needles)


# ------------------------------------------------------------------------------------------------ heurigym
@pytest.mark.parametrize(
    "mutate, needles",
    [
        (lambda d: d["nodes"].append(["z", "div"]), ["'z'", "div", "delay"]),
        (lambda d: d["edges"].append(["a", "q", "z"]), ["unknown node", "'q'"]),
        (lambda d: d["edges"].append(["q", "a", "z"]), ["unknown node", "'q'"]),
        (lambda d: d["nodes"].append(["a", "add"]), ["duplicate", "'a'"]),
        (lambda d: d["delay"].update(add=-1), ["delay", "add", ">= 0"]),
        (lambda d: d["delay"].update(add=1.5), ["delay", "add", "integer", "1.5"]),
        (lambda d: d["delay"].update(add="slow"), ["delay", "add", "integer"]),
        (lambda d: d["delay"].update(add=None), ["delay", "add", "integer"]),
        (lambda d: d["delay"].update(add=10**25), ["add", "too large"]),
        (lambda d: d["edges"].append(["c", "a", "z"]), ["cycle", "a", "b", "c"]),
        (lambda d: d["edges"].append(["a", "a", "z"]), ["cycle", "a"]),
        (lambda d: d["resource"].update(add=0), ["resource limit", "add", ">= 1", "0"]),
        (lambda d: d["resource"].update(mul=-3), ["resource limit", "mul", "-3"]),
        (lambda d: d["resource"].update(mul=2.5), ["resource limit", "mul", "integer"]),
        (lambda d: d["resource"].update(mul=10**22), ["mul", "too large"]),
        (lambda d: d.pop("delay"), ["missing", "delay"]),
        (lambda d: d.update(nodes={"a": "add"}), ["nodes", "list"]),
        (lambda d: d.update(edges="a->b"), ["edges", "list"]),
        (lambda d: d.update(delay=[1, 2]), ["delay", "object"]),
        (lambda d: d["nodes"].append(["lonely"]), ["nodes[3]", "[id, type]"]),
        (lambda d: d["nodes"].append([["x"], "add"]), ["nodes[3]", "id"]),
        (lambda d: d["nodes"].append(["x", 7]), ["type", "string"]),
        (lambda d: d["edges"].append(["a"]), ["edges[2]"]),
    ],
)
def test_heurigym_bad_input(capsys, tmp_path, mutate, needles):
    path = write(tmp_path, "h.json", mutated(BASE, mutate))
    line = expect_error(capsys, ["solve", path, *SOLVE_FAST], "h.json", *needles)
    assert line.startswith("gaus-fast: error: ")


def test_heurigym_type_without_unit_is_unlimited(capsys, tmp_path):
    """A type missing from 'resource' is unlimited (the upstream semantics), so an op on it is schedulable."""
    path = write(tmp_path, "h.json", mutated(BASE, lambda d: d["resource"].pop("mul")))
    code, out, err = run(capsys, "info", path)
    assert code == 0, err
    assert "mul:inf" in out


# ------------------------------------------------------------------------------------------------ native JSON
@pytest.mark.parametrize(
    "mutate, needles",
    [
        (lambda d: d.pop("ops"), ["missing", "ops"]),
        (lambda d: d.pop("operator_types"), ["missing", "operator_types"]),
        (lambda d: d.update(format_version=99), ["format_version", "99"]),
        (lambda d: d["operator_types"].update(mul=-2), ["latency", "mul", ">= 0"]),
        (lambda d: d["operator_types"].update(mul="x"), ["latency", "mul", "integer"]),
        (lambda d: d["ops"].append({"id": "z", "type": "div"}), ["'z'", "unknown operator type", "div"]),
        (lambda d: d["ops"].append({"id": "m0", "type": "mul"}), ["duplicate", "m0"]),
        (lambda d: d["ops"].append({"type": "mul"}), ["ops[2]", "id"]),
        (lambda d: d["ops"][1].update(resources=["ghost"]), ["a0", "unknown resource type", "ghost"]),
        (lambda d: d["ops"][1].update(weight="heavy"), ["weight", "a0", "number"]),
        (lambda d: d["ops"][1].update(weight=-1), ["weight"]),
        (lambda d: d["ops"][1].update(bits=-4), ["bits", "a0"]),
        (lambda d: d["ops"][1].update(colour="red"), ["a0", "unknown field", "colour"]),
        (lambda d: d["resource_types"][0].update(limit=0), ["mul", "limit", ">= 1"]),
        (lambda d: d["resource_types"][0].update(limit=1.5), ["limit", "mul", "integer"]),
        (lambda d: d["resource_types"][0].update(occupancy="sometimes"), ["occupancy", "sometimes"]),
        (lambda d: d["resource_types"][0].update(blocking_time=0), ["blocking time", "mul"]),
        (lambda d: d["resource_types"].append({"name": "mul"}), ["duplicate", "mul"]),
        (lambda d: d["resource_types"].append({"limit": 3}), ["resource_types[1]", "name"]),
        (lambda d: d["edges"].append({"src": "m0", "dst": "nowhere"}), ["nowhere"]),
        (lambda d: d["edges"].append({"src": "m0", "dst": "a0", "delay": -1}), ["delay"]),
        (lambda d: d["edges"].append({"src": "m0", "dst": "a0", "distance": 1.5}), ["distance", "integer"]),
        (lambda d: d["edges"].append({"src": "m0", "dst": "a0", "comm": "lots"}), ["comm"]),
        (lambda d: d["edges"].append({"src": "a0", "dst": "m0"}), ["cycle", "distance 0", "m0", "a0"]),
        (lambda d: d["edges"].append(["a0"]), ["edges[1]"]),
        (lambda d: d.update(depth=0), ["depth", ">= 1"]),
        (lambda d: d.update(depth=10**30), ["depth", "too large"]),
        (lambda d: d.update(ii=-1), ["ii"]),
        (lambda d: d.update(ops={"m0": "mul"}), ["ops", "list"]),
    ],
)
def test_native_bad_fields(capsys, tmp_path, mutate, needles):
    path = write(tmp_path, "n.json", mutated(NATIVE, mutate))
    expect_error(capsys, ["info", path], "n.json", *needles)


def test_loop_carried_edge_is_a_modulo_problem(capsys, tmp_path):
    """A cycle with total distance 1 is a legal (modulo) problem: `info` counts it, `solve` pipelines it, and
    objective A, which has no modulo form, is refused with a one-line error."""
    path = write(tmp_path, "loop.json", mutated(NATIVE, lambda d: d["edges"].append({"src": "a0", "dst": "m0", "distance": 1})))
    code, out, err = run(capsys, "info", path)
    assert code == 0 and "1 loop-carried" in out, err
    code, out, err = run(capsys, "solve", path, *SOLVE_FAST)
    assert code == 0 and '"verified": true' in out, err
    expect_error(capsys, ["solve", path, "--objective", "A", *SOLVE_FAST], "modulo")


# ------------------------------------------------------------------------------------------------ DOT / GML / AIGER
@pytest.mark.parametrize(
    "name, content, needles",
    [
        ("syntax.dot", "digraph G { a -> ; }", ["syntax.dot:1"]),
        ("unclosed.dot", "digraph G {\n a [label=mul];\n a -> b\n", ["unclosed.dot"]),
        ("undirected.dot", "graph G { a [label=add]; b [label=add]; a -- b; }", ["undirected.dot"]),
        ("nolabel.dot", "digraph G { a [label=add]; a -> b; }", ["nolabel.dot", "b"]),
        ("cycle.dot", "digraph G { a [label=add]; b [label=add]; a -> b; b -> a; }", ["cycle"]),
        ("cycle.gml", "graph [ directed 1 node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 ] "
                      "edge [ source 1 target 0 ] ]", ["cycle.gml", "cycle"]),
        ("nosrc.gml", "graph [ directed 1 node [ id 0 ] node [ id 1 ] edge [ target 1 ] ]", ["nosrc.gml", "source"]),
        ("unknown.gml", "graph [ directed 1 node [ id 0 ] edge [ source 0 target 7 ] ]", ["unknown.gml", "7"]),
        ("unclosed.gml", "graph [ directed 1 node [ id 0 ", ["unclosed.gml"]),
        ("badhdr.aag", "aag x y\n", ["badhdr.aag", "header"]),
        ("badhdr.aig", b"aig 1 2\n", ["badhdr.aig", "header"]),
        ("notaig.aig", b"hello world\n", ["notaig.aig", "aig"]),
        ("trunc.aig", b"aig 5 2 0 1 3\n10\n\x02", ["trunc.aig", "truncated"]),
        ("undef.aag", "aag 3 1 0 1 1\n2\n6\n6 4 2\n", ["undef.aag"]),
    ],
)
def test_other_formats_bad_input(capsys, tmp_path, name, content, needles):
    path = write(tmp_path, name, content)
    expect_error(capsys, ["solve", path, *SOLVE_FAST], *needles)


def test_forced_wrong_format(capsys, tmp_path):
    path = write(tmp_path, "h.json", BASE)
    expect_error(capsys, ["info", path, "--format", "dot"], "h.json", "digraph")
    expect_error(capsys, ["info", path, "--format", "gml"], "h.json")
    expect_error(capsys, ["info", path, "--format", "aig"], "h.json", "AIGER")
    expect_error(capsys, ["info", path, "--format", "native"], "h.json")


# ------------------------------------------------------------------------------------------------ options
@pytest.fixture
def good(tmp_path):
    return write(tmp_path, "good.json", BASE)


def test_depth_below_critical_path(capsys, good):
    line = expect_error(capsys, ["solve", good, "--objective", "A", "--depth", "2", *SOLVE_FAST], "depth", "2", "critical path")
    assert "4" in line  # the critical path: a(1) + b(2) + c(1)


@pytest.mark.parametrize("depth", ["0", "-2"])
def test_depth_not_positive(capsys, good, depth):
    expect_error(capsys, ["solve", good, "--objective", "A", "--depth", depth, *SOLVE_FAST], "depth", depth)
    expect_error(capsys, ["info", good, "--depth", depth], "depth", depth)
    expect_error(capsys, ["verify", good, good, "--depth", depth], "depth")


@pytest.mark.parametrize(
    "limit, needles",
    [
        ("foo=2", ["unknown resource type", "foo", "add", "mul"]),
        ("add=0", ["--limit add", ">= 1"]),
        ("add=-5", ["--limit add", ">= 1"]),
        ("add", ["--limit", "TYPE=N", "'add'"]),
        ("=3", ["--limit", "TYPE=N"]),
        ("add=", ["--limit add", "integer"]),
        ("add=x", ["--limit add", "integer", "'x'"]),
        ("add=1.5", ["--limit add", "integer"]),
    ],
)
def test_bad_limit(capsys, good, limit, needles):
    expect_error(capsys, ["solve", good, "--limit", limit, *SOLVE_FAST], *needles)
    expect_error(capsys, ["info", good, "--limit", limit], *needles)


def test_limit_on_embedded_example(capsys):
    expect_error(capsys, ["solve", "--limit", "DIV=2", *SOLVE_FAST], "DIV", "LOD")
    expect_error(capsys, ["solve", "--limit", "MUL=0", *SOLVE_FAST], "MUL", ">= 1")


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["--format", "xyz"], ["--format", "xyz"]),
        (["--objective", "B"], ["--objective", "'B'"]),
        (["--device", "tpu"], ["--device", "tpu"]),
        (["--time-limit", "soon"], ["--time-limit", "soon"]),
        (["--max-iters", "1.5"], ["--max-iters"]),
        (["--seed", "x"], ["--seed"]),
        (["--alpha", "lots"], ["--alpha"]),
        (["--no-such-option"], ["unrecognized", "--no-such-option"]),
    ],
)
def test_usage_errors(capsys, good, argv, needles):
    expect_error(capsys, ["solve", good, *argv], *needles)


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["--time-limit", "0"], ["time limit", "> 0"]),
        (["--time-limit", "-3"], ["time limit", "> 0"]),
        (["--time-limit", "nan"], ["time limit"]),
        (["--max-iters", "-1"], ["iterations", ">= 0"]),
        (["--patience", "0"], ["patience", ">= 1"]),
        (["--seed", "-1"], ["--seed", ">= 0"]),
        (["--objective", "A", "--alpha", "-1"], ["--alpha", ">= 0"]),
        (["--objective", "A", "--alpha", "nan"], ["--alpha"]),
        (["--objective", "A", "--alpha", "inf"], ["--alpha"]),
        (["--backend", "nonsense"], ["backend", "nonsense"]),
        (["--latency", "add=3"], ["latencies"]),  # --latency is for DOT only
        (["--latency", "add"], ["--latency", "TYPE=N"]),
    ],
)
def test_bad_option_values(capsys, good, argv, needles):
    expect_error(capsys, ["solve", good, *argv, "--quiet"], *needles)


def test_cuda_without_a_gpu(capsys, good):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    expect_error(capsys, ["solve", good, "--device", "cuda", "--quiet"], "cuda")


@pytest.mark.parametrize("name, needles", [("nodir/x.json", ["x.json", "cannot write"]), ("nodir/x.txt", ["x.txt", "cannot write"])])
def test_unwritable_out(capsys, good, tmp_path, name, needles):
    expect_error(capsys, ["solve", good, *SOLVE_FAST, "--out", tmp_path / name], *needles)


@pytest.mark.parametrize("name, needles", [("nodir/x.png", ["x.png", "plot"]), ("x.notanimage", ["x.notanimage", "plot"])])
def test_unwritable_plot(capsys, good, tmp_path, name, needles):
    expect_error(capsys, ["solve", good, *SOLVE_FAST, "--plot", tmp_path / name], *needles)


def test_no_command_and_unknown_command(capsys):
    expect_error(capsys, [], "command")
    expect_error(capsys, ["schedule"], "invalid choice", "schedule")
    expect_error(capsys, ["verify"], "required")


# ------------------------------------------------------------------------------------------------ verify
def _verify(capsys, tmp_path, good, name, content, *needles, code=1):
    sched = write(tmp_path, name, content)
    return expect_error(capsys, ["verify", good, sched], *needles, code=code)


@pytest.mark.parametrize(
    "name, content, needles",
    [
        ("missing.txt", "a:0\nb:1\n", ["missing.txt", "no start", "'c'"]),
        ("unknown.txt", "a:0\nb:1\nc:3\nq:4\n", ["unknown.txt:4", "unknown operation", "'q'"]),
        ("frac.txt", "a:0\nb:1.5\nc:3\n", ["frac.txt:2", "'b'", "integer", "1.5"]),
        ("word.txt", "a:0\nb:soon\nc:3\n", ["word.txt:2", "'b'", "integer"]),
        ("twice.txt", "a:0\nb:1\na:2\nc:3\n", ["twice.txt:3", "'a'", "twice"]),
        ("nocolon.txt", "a 0\nb:1\nc:3\n", ["nocolon.txt:1", "id:start"]),
        ("huge.txt", "a:0\nb:1\nc:99999999999999999999999\n", ["huge.txt", "range"]),
        ("missing.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1}}, ["missing.json", "no start", "'c'"]),
        ("unknown.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1, "c": 3, "q": 4}}, ["unknown.json", "'q'"]),
        ("frac.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1, "c": 2.5}}, ["frac.json", "'c'", "integer"]),
        ("str.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1, "c": "3"}}, ["str.json", "'c'", "integer"]),
        ("bool.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": True, "c": 3}}, ["bool.json", "'b'", "integer"]),
        ("huge.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1, "c": 10**25}}, ["huge.json", "range"]),
        ("noformat.json", {"start": {"a": 0, "b": 1, "c": 3}}, ["noformat.json", "format"]),
        ("badii.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1, "c": 3}, "ii": 0}, ["badii.json", "ii"]),
    ],
)
def test_verify_invalid_schedule_exits_1(capsys, tmp_path, good, name, content, needles):
    line = _verify(capsys, tmp_path, good, name, content, *needles)
    assert line.startswith("gaus-fast: invalid schedule: ")


@pytest.mark.parametrize(
    "name, content, needles",
    [
        ("trunc.json", '{"format": "gaus_fast.schedule", "start": {"a": 0', ["trunc.json", "invalid JSON"]),
        ("junk.txt", b"\xff\xfe\x80\x81", ["junk.txt", "UTF-8"]),
    ],
)
def test_verify_unreadable_schedule_exits_2(capsys, tmp_path, good, name, content, needles):
    _verify(capsys, tmp_path, good, name, content, *needles, code=2)


@pytest.mark.parametrize(
    "content, needles",
    [
        ("a:0\nb:0\nc:3\n", ["dependence", "a -> b"]),  # b starts before a (latency 1) is done
        ("a:0\nb:1\nc:2\n", ["dependence", "b -> c"]),  # c starts before b (latency 2) is done
        ("a:-1\nb:1\nc:3\n", ["negative", "a"]),
        ("a:0\nb:1\nc:9223372036854775807\n", ["in-range", "c"]),
    ],
)
def test_verify_violation_exits_1_with_reason(capsys, tmp_path, good, content, needles):
    sched = write(tmp_path, "s.txt", content)
    code, out, err = run(capsys, "verify", good, sched)
    assert code == 1 and "Traceback" not in err
    assert "NO" in out
    for needle in needles:
        assert needle in err, (needle, err)


def test_verify_resource_violation(capsys, tmp_path):
    path = write(tmp_path, "p.json", mutated(BASE, lambda d: (d["nodes"].append(["b2", "mul"]), d["edges"].append(["a", "b2", "z"]))))
    sched = write(tmp_path, "s.txt", "a:0\nb:1\nc:3\nb2:2\n")  # b2 overlaps b on the single MUL unit
    code, out, err = run(capsys, "verify", path, sched)
    assert code == 1
    assert "resource mul" in err and "limit 1" in err
    # with a second MUL unit the same schedule is fine
    code, _, err = run(capsys, "verify", path, sched, "--limit", "mul=2")
    assert code == 0, err


@pytest.mark.parametrize("name, content", [("huge.txt", "a:0\nb:1\nc:99999999999999999999999\n"),
                                           ("huge.json", {"format": "gaus_fast.schedule", "start": {"a": 0, "b": 1, "c": 10**25}})])
def test_read_schedule_out_of_range_start_is_a_problem_error(tmp_path, name, content):
    from gaus_fast.formats import read_problem, read_schedule
    from gaus_fast.problem import ProblemError

    problem = read_problem(write(tmp_path, "g.json", BASE))
    with pytest.raises(ProblemError):
        read_schedule(write(tmp_path, name, content), problem)
