"""Readers, writers and the format dispatcher: inline examples, malformed inputs, round trips, shared data."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from gaus_fast import _core
from gaus_fast.data import data_root
from gaus_fast.formats import (
    FORMATS,
    aiger,
    detect_format,
    dot,
    gml,
    heurigym,
    native,
    read_problem,
    read_schedule,
    write_problem,
    write_schedule,
)
from gaus_fast.problem import Problem, ProblemError, ResourceType
from gaus_fast.schedule import Schedule


# ---------------------------------------------------------------------------- helpers
def raises(fn, *needles):
    """Call fn, expect a one-line ProblemError containing every needle; return the message."""
    with pytest.raises(ProblemError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert type(info.value) is ProblemError, type(info.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def type_names(p: Problem) -> list[str]:
    return [p.operator_types[t].name for t in p.op_type]


def edge_set(p: Problem) -> list[tuple[str, str]]:
    return sorted((p.op_ids[a], p.op_ids[b]) for a, b in zip(p.edge_src, p.edge_dst))


def assert_same(p: Problem, q: Problem, *, types=True, weights=True, comm=True, resources=True):
    assert p.op_ids == q.op_ids
    assert np.array_equal(p.edge_src, q.edge_src) and np.array_equal(p.edge_dst, q.edge_dst)
    assert np.array_equal(p.latency, q.latency)
    if types:
        assert type_names(p) == type_names(q)
    if weights:
        assert np.array_equal(p.op_weight, q.op_weight)
    if comm:
        assert np.array_equal(p.edge_comm, q.edge_comm)
    if resources:
        assert p.resource_types == q.resource_types
        assert np.array_equal(p.use_ptr, q.use_ptr) and np.array_equal(p.use_res, q.use_res)


def rich_problem() -> Problem:
    """Every feature of the model at least once."""
    return Problem.build(
        {"mul": 2, "add": 1, "ld": 0},
        [
            ("m0", "mul", ["MUL"], 2.5, 16),
            ("m1", "mul", ["MUL", "PORT"], 1.0, 32),
            ("a0", "add", None, 0.0, 8),
            ("l0", "ld", [], 3.0, 64),
        ],
        [("m0", "a0", 1, 0, 0.5), ("m1", "a0", 0, 0, 1.0), ("a0", "l0", 0, 0, 0.0), ("l0", "m0", 0, 2, 2.0)],
        resource_types=[
            ResourceType("MUL", 1, "blocking"),
            ResourceType("PORT", None, "pipelined"),
            ResourceType("BUS", 2, "blocking", 3),
        ],
        type_resources={"add": ["BUS"]},
        depth=12,
        ii=4,
        name="rich",
    )


def acyclic_rich() -> Problem:
    """`rich_problem` without the loop-carried edge and without edge delays."""
    r = rich_problem()
    return r.replace(
        edge_src=r.edge_src[:3], edge_dst=r.edge_dst[:3], edge_delay=None, edge_distance=None,
        edge_comm=r.edge_comm[:3], ii=None,
    )


HEURIGYM_DEMO = """{
  "name": "input",
  "delay": {"mul": 3, "sub": 1, "nop": 0},
  "resource": {"mul": 2, "sub": -1},
  "nodes": [["n1", "mul"], ["n2", "mul"], ["n3", "sub"], ["n4", "nop"]],
  "edges": [["n1", "n3", "lhs"], ["n2", "n3", "rhs"], ["n3", "n4", "x"]]
}
"""


# ---------------------------------------------------------------------------- heurigym
def test_heurigym_inline(tmp_path):
    p = read_problem(write(tmp_path, "demo.json", HEURIGYM_DEMO))
    assert p.name == "demo"
    assert p.op_ids == ["n1", "n2", "n3", "n4"]
    assert type_names(p) == ["mul", "mul", "sub", "nop"]
    assert p.latency.tolist() == [3, 3, 1, 0]
    assert {r.name: r.limit for r in p.resource_types} == {"mul": 2, "sub": None, "nop": None}
    assert all(r.occupancy == "blocking" and r.blocking_time is None for r in p.resource_types)
    assert p.use_len.tolist() == [3, 3, 1, 1]  # blocking: held for the latency (at least one step)
    assert edge_set(p) == [("n1", "n3"), ("n2", "n3"), ("n3", "n4")]
    assert p.edge_comm.tolist() == [1.0, 1.0, 1.0] and p.op_weight.tolist() == [1.0] * 4
    # the same from text, and null limits
    q = heurigym.read(HEURIGYM_DEMO.replace('"sub": -1', '"sub": null'), name="x")
    assert q.name == "x" and q.resource_types[1].limit is None


def test_heurigym_round_trip(tmp_path):
    p = heurigym.read(HEURIGYM_DEMO)
    out = tmp_path / "rt.json"
    write_problem(out, p, "heurigym")
    q = read_problem(out)
    assert detect_format(out) == "heurigym"
    assert_same(p, q)
    # a problem with resources that heurigym cannot express
    raises(lambda: heurigym.dumps(rich_problem()), "rich", "heurigym")


def test_heurigym_schedule_round_trip(tmp_path):
    p = heurigym.read(HEURIGYM_DEMO)
    s = Schedule(np.array([0, 1, 4, 5]))
    out = tmp_path / "out.txt"
    write_schedule(out, p, s)
    assert out.read_text() == "n1:0\nn2:1\nn3:4\nn4:5\n"
    assert read_schedule(out, p).start.tolist() == [0, 1, 4, 5]


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (lambda d: d["delay"].pop("sub"), ["'sub'", "delay", "n3"]),
        (lambda d: d["delay"].update(mul=1.5), ["delay of type 'mul'", "integer", "1.5"]),
        (lambda d: d["delay"].update(mul="x"), ["integer"]),
        (lambda d: d["delay"].update(mul=-1), [">= 0"]),
        (lambda d: d["resource"].update(mul=0), ["resource limit", ">= 1"]),
        (lambda d: d["nodes"].append(["n1", "sub"]), ["duplicate node id 'n1'"]),
        (lambda d: d["edges"].append(["n1", "zz", "a"]), ["unknown node 'zz'"]),
        (lambda d: d["edges"].append(["n4", "n1", "a"]), ["cycle", "n1"]),
        (lambda d: d["nodes"].append(["n9"]), ["nodes[4]", "[id, type]"]),
        (lambda d: d.pop("nodes"), ["missing required key 'nodes'"]),
        (lambda d: d.update(nodes={"a": 1}), ["'nodes' must be a list"]),
    ],
)
def test_heurigym_errors(tmp_path, mutate, needles):
    d = json.loads(HEURIGYM_DEMO)
    mutate(d)
    path = write(tmp_path, "bad.json", json.dumps(d, indent=1))
    raises(lambda: heurigym.read(path), "bad.json", *needles)


def test_heurigym_error_lines(tmp_path):
    d = json.loads(HEURIGYM_DEMO)
    d["nodes"][2][1] = "div"
    path = write(tmp_path, "bad.json", json.dumps(d, indent=1))
    line = next(k for k, ln in enumerate(path.read_text().splitlines(), 1) if '"n3"' in ln)
    raises(lambda: read_problem(path), f"bad.json:{line}:", "'div'")
    path = write(tmp_path, "trunc.json", HEURIGYM_DEMO[:120])
    raises(lambda: read_problem(path), "trunc.json:", "invalid JSON")


# ---------------------------------------------------------------------------- DOT
DOT_EXAMPLE = """digraph {
    node [fontcolor=black]
    // a comment
    ADD_19 [label = ADD ];
    m1 [ label = mul ];
    "d 2" [label="Div"]; x3 [label=sub]
    m1 -> ADD_19 [ name = 0 ];
    ADD_19 -> "d 2" -> x3 [name=1];
    late -> x3;
    late [label = ADD];   /* declared after use */
}
"""


def test_dot_inline(tmp_path):
    p = read_problem(write(tmp_path, "ex.gv", DOT_EXAMPLE))
    assert p.name == "ex"
    assert p.op_ids == ["ADD_19", "m1", "d 2", "x3", "late"]
    assert type_names(p) == ["ADD", "mul", "Div", "sub", "ADD"]
    assert p.latency.tolist() == [1, 2, 2, 1, 1]  # MUL/DIV 2 cycles, case-insensitive
    assert edge_set(p) == sorted([("m1", "ADD_19"), ("ADD_19", "d 2"), ("d 2", "x3"), ("late", "x3")])
    assert p.resource_types == [] and p.edge_comm.tolist() == [1.0] * 4
    # latencies (case-insensitive keys, the rest keeps the convention) and per-type limits
    q = dot.read(DOT_EXAMPLE, latencies={"MUL": 3, "add": 0}, limits={"add": 1, "MUL": None, "nope": 4})
    assert q.name == "problem"
    assert q.latency.tolist() == [0, 3, 2, 1, 0]
    assert {r.name: r.limit for r in q.resource_types} == {"ADD": 1, "mul": None, "Div": None, "sub": None}
    assert all(r.occupancy == "blocking" for r in q.resource_types)
    # the graph name is the default problem name for inline text
    assert dot.read("digraph g1 {\n a [label=add];\n}\n").name == "g1"


def test_dot_presets_with_table(tmp_path):
    table = (
        "dot_file\tnodes\tedges\top_labels\theurigym_name\tEDS_index\tRC_MUL_ALU(Wang2007,commented_in_EDS)"
        "\tRC_complexFU(EDS_main.cpp,active)\n"
        "ex.dot\t5\t4\tx\tex_h\t1\tMUL2,ALU3\tMUL1,ADD2,sub4\n"
    )
    stats = write(tmp_path, "STATS.tsv", table)
    path = write(tmp_path, "ex.dot", DOT_EXAMPLE)
    p = dot.read(path, limits="wang2007", stats_path=stats)
    assert {r.name: r.limit for r in p.resource_types} == {"MUL": 2, "ALU": 3}
    res_of = {op: [p.resource_types[r].name for r in p.use_res[p.use_ptr[k]:p.use_ptr[k + 1]]] for k, op in enumerate(p.op_ids)}
    assert res_of == {"ADD_19": ["ALU"], "m1": ["MUL"], "d 2": ["MUL"], "x3": ["ALU"], "late": ["ALU"]}
    q = dot.read(path, limits="table2", stats_path=stats)
    assert {r.name: r.limit for r in q.resource_types} == {"ADD": 2, "mul": 1, "sub": 4}
    res_of = {op: [q.resource_types[r].name for r in q.use_res[q.use_ptr[k]:q.use_ptr[k + 1]]] for k, op in enumerate(q.op_ids)}
    assert res_of["d 2"] == ["mul"]  # DIV shares the multiplier
    # inline text: found by preset_graph (a heurigym name works too)
    assert dot.read(DOT_EXAMPLE, limits="complexfu", preset_graph="ex_h", stats_path=stats).has_limits()
    raises(lambda: dot.read(DOT_EXAMPLE, limits="wang2007", stats_path=stats), "<text>", "preset_graph")
    raises(lambda: dot.read(path, limits="table9", stats_path=stats), "unknown limits preset 'table9'")
    raises(lambda: dot.read(path, limits="table1", stats_path=tmp_path / "none.tsv"), "GAUS_FAST_DATA")
    assert dot.preset_table("wang2007", stats_path=stats) == {"ex": {"MUL": 2, "ALU": 3}}


def test_dot_round_trip(tmp_path):
    p = dot.read(DOT_EXAMPLE, name="rt")
    out = tmp_path / "rt.dot"
    write_problem(out, p, "dot")
    assert_same(p, read_problem(out))
    # any problem's graph goes through DOT (ids, labels), latencies follow the DOT convention
    raises(lambda: dot.dumps(rich_problem()), "rich", "distances")
    r = acyclic_rich()
    write_problem(out, r, "dot")
    q = read_problem(out)
    assert q.op_ids == r.op_ids and type_names(q) == type_names(r) and edge_set(q) == edge_set(r)


@pytest.mark.parametrize(
    "text, needles",
    [
        ("digraph g {\n a [label=add];\n a -> b;\n}\n", [":3:", "node 'b' has no label"]),
        ("digraph g {\n a [label=add];\n b [label=add]\n a -> b -> a;\n}\n", ["cycle"]),
        ("digraph g {\n a [label=add];\n", ["missing closing '}'"]),
        ("graph g {\n a -- b;\n}\n", [":1:", "undirected"]),
        ("digraph g {\n a [label=add;\n}\n", [":3:", "expected"]),
        ("digraph g {\n subgraph x { a }\n}\n", [":2:", "subgraph"]),
        ("digraph g {\n a [label=add] @\n}\n", [":2:", "unexpected character '@'"]),
        ("digraph g {\n a [label=\"add]\n}\n", ["unterminated"]),
        ("hello\n", [":1:", "digraph"]),
        ("digraph g {\n a [label=add];\n a [label=sub];\n a -> a;\n}\n", ["cycle"]),
    ],
)
def test_dot_errors(tmp_path, text, needles):
    path = write(tmp_path, "bad.dot", text)
    raises(lambda: read_problem(path), "bad.dot", *needles)


def test_dot_options_errors(tmp_path):
    path = write(tmp_path, "ok.dot", "digraph g {\n a [label=add];\n b;\n}\n")
    raises(lambda: read_problem(path), "ok.dot:3", "node 'b' has no label")
    assert type_names(read_problem(path, default_type="nop")) == ["add", "nop"]
    raises(lambda: read_problem(path, default_type="x", latencies={"add": 1.5}), "ok.dot", "latency of type 'add'")
    raises(lambda: read_problem(path, default_type="x", limits={"add": 0}), "ok.dot", ">= 1")
    raises(lambda: read_problem(path, bogus=1), "ok.dot", "no option(s) bogus")


# ---------------------------------------------------------------------------- GML
GML_EXAMPLE = """graph [
  directed 1
  name "tiny graph"
  node [ id 3 label "3" parameter 10 ]
  node [
    id 1
    label "one & only"
    parameter 0
    extra [ a 1 b [ c 2 ] ]
  ]
  node [ id 2 label "2" ]
  edge [ source 1 target 3 name "0" parameter 45 ]
  edge [ source 3 target 2 name "1" parameter 0 ]
  edge [ source 1 target 2 ]
  edge [ source 1 target 2 parameter 2.5 ]
]
"""


def test_gml_inline(tmp_path):
    p = read_problem(write(tmp_path, "tiny.gml", GML_EXAMPLE))
    assert p.name == "tiny"
    assert p.op_ids == ["3", "1", "2"]
    assert [t.name for t in p.operator_types] == ["node"] and p.latency.tolist() == [0, 0, 0]
    assert p.op_weight.tolist() == [10.0, 0.0, 0.0]  # absent parameter: 0
    assert p.edge_comm.tolist() == [1.0, 0.0, 0.0, 1.0]  # parameter > 0 -> 1, parallel edges kept
    assert p.resource_types == [] and p.depth is None
    q = gml.read(GML_EXAMPLE, ids="label", depth=5, default_weight=7)
    assert q.op_ids == ["3", "one & only", "2"] and q.depth == 5 and q.op_weight.tolist() == [10.0, 0.0, 7.0]


def test_gml_round_trip(tmp_path):
    p = gml.read(GML_EXAMPLE)
    out = tmp_path / "rt.gml"
    write_problem(out, p, "gml")
    assert_same(p, read_problem(out))
    # non-integer op ids go to labels
    r = acyclic_rich()
    write_problem(out, r, "gml")
    q = gml.read(out, ids="label")
    assert q.op_ids == r.op_ids and edge_set(q) == edge_set(r)
    assert q.op_weight.tolist() == r.op_weight.tolist() and q.edge_comm.tolist() == [1.0, 1.0, 0.0]


def test_gml_matches_networkx(tmp_path):
    nx = pytest.importorskip("networkx")
    path = write(tmp_path, "t.gml", GML_EXAMPLE.replace('  edge [ source 1 target 2 parameter 2.5 ]\n', ""))
    G = nx.read_gml(path, label="id")
    p = gml.read(path)
    assert p.op_ids == [str(v) for v in G.nodes]
    assert edge_set(p) == sorted((str(a), str(b)) for a, b in G.edges)


@pytest.mark.parametrize(
    "text, needles",
    [
        ("graph [\n directed 1\n node [ id 1 ]\n edge [ source 1 target 9 ]\n]\n", [":4:", "target 9", "not a node id"]),
        ("graph [\n node [ id 1 ]\n node [ id 1 ]\n]\n", [":3:", "duplicate node id 1"]),
        ("graph [\n node [ id x ]\n]\n", [":2:", "node id must be an integer"]),
        ("graph [\n node [ id 1 parameter abc ]\n]\n", [":2:", "node parameter must be a number"]),
        ("graph [\n node [ id 1 parameter -3 ]\n]\n", [":2:", ">= 0"]),
        ("graph [\n node [ id 1 ]\n node [ id 2 \n", ["unclosed"]),
        ("graph [\n directed 0\n node [ id 1 ]\n]\n", ["directed 0"]),
        ("graph [\n node [ label \"a\" ]\n]\n", [":2:", "node without 'id'"]),
        ("graph [\n node [ id 1 label \"a ]\n]\n", ["unterminated string"]),
        ("graph [\n node [ id 1 ]\n node [ id 2 ]\n edge [ source 1 target 2 ]\n edge [ source 2 target 1 ]\n]\n", ["cycle"]),
        ("nodes\n", ["graph"]),
        ("graph [\n node [ id 1 ]\n]\n]\n", [":4:", "after the graph block"]),
    ],
)
def test_gml_errors(tmp_path, text, needles):
    path = write(tmp_path, "bad.gml", text)
    raises(lambda: read_problem(path), "bad.gml", *needles)


# ---------------------------------------------------------------------------- AIGER
# x = a & b ; y = !x & !c ; z = a & a ; outputs y, z, FALSE
AAG_EXAMPLE = "aag 6 3 0 3 3\n2\n4\n6\n10\n12\n0\n8 4 2\n10 9 7\n12 2 3\ni0 a\nc\ncomment\n"


def test_aag_inline(tmp_path):
    p = read_problem(write(tmp_path, "small.aag", AAG_EXAMPLE))
    assert p.name == "small"
    assert p.op_ids == ["0", "1", "2", "3", "4", "5", "6"]
    assert type_names(p) == ["const", "input", "input", "input", "and", "and", "and"]
    assert p.latency.tolist() == [0] * 7 and p.op_weight.tolist() == [1.0] * 7
    assert edge_set(p) == sorted([("2", "4"), ("1", "4"), ("4", "5"), ("3", "5"), ("1", "6")])  # z: one edge
    assert p.edge_comm.tolist() == [1.0] * 5
    # without the constant output there is no const op
    q = aiger.read(AAG_EXAMPLE.replace("aag 6 3 0 3 3", "aag 6 3 0 2 3").replace("12\n0\n8", "12\n8"))
    assert q.op_ids == ["1", "2", "3", "4", "5", "6"]
    # a const fan-in also creates the const op
    q = aiger.read("aag 2 1 0 1 1\n2\n4\n4 2 1\n")
    assert q.op_ids == ["0", "1", "2"] and edge_set(q) == [("0", "2"), ("1", "2")]


def test_aig_binary_round_trip(tmp_path):
    p = aiger.read(AAG_EXAMPLE)
    out = tmp_path / "small.aig"
    write_problem(out, p, "aig")
    assert out.read_bytes().startswith(b"aig 6 3 0 3 3\n")
    q = read_problem(out)
    assert detect_format(out) == "aiger"
    assert_same(p, q)
    out2 = tmp_path / "small2.aag"
    write_problem(out2, q, "aag")
    assert_same(p, read_problem(out2))


def test_aag_writer_renumbers(tmp_path):
    # a generic two-input DAG: sources become inputs, others AND gates
    p = Problem.build({"x": 1}, [("a", "x"), ("b", "x"), ("g", "x"), ("h", "x")], [("a", "g"), ("b", "g"), ("g", "h")])
    q = aiger.read(aiger.dumps_binary(p))
    assert type_names(q) == ["input", "input", "and", "and"]
    assert edge_set(q) == [("1", "3"), ("2", "3"), ("3", "4")]
    raises(lambda: aiger.dumps_ascii(Problem.build({"x": 0}, [("a", "x"), ("b", "x"), ("c", "x"), ("g", "x")], [("a", "g"), ("b", "g"), ("c", "g")])), "3 fan-ins")


def _binary(header: str, outputs: list[int], deltas: list[int]) -> bytes:
    body = bytearray()
    for x in deltas:
        while x >= 0x80:
            body.append((x & 0x7F) | 0x80)
            x >>= 7
        body.append(x)
    return (header + "\n" + "".join(f"{o}\n" for o in outputs)).encode() + bytes(body)


def test_aig_binary_varints():
    # 200 inputs so the deltas need two bytes; gate 201 = in200 & in1, gate 202 = gate201 & gate201
    data = _binary("aig 202 200 0 1 2", [404], [402 - 400, 400 - 2, 404 - 402, 0])
    p = aiger.read(data)
    assert p.n_ops == 202 and edge_set(p) == sorted([("200", "201"), ("1", "201"), ("201", "202")])


@pytest.mark.parametrize(
    "data, needles",
    [
        (_binary("aig 3 2 0 1 1", [6], [2, 2])[:-1], ["truncated AND section"]),
        (_binary("aig 3 2 0 1 1", [6], [])[:-1], ["truncated"]),
        (b"aig 3 2 0 1 1\n", ["truncated"]),
        (b"aig 3 2", ["truncated", "header"]),
        (_binary("aig 3 2 1 1 0", [6], []), [":1:", "latches"]),
        (_binary("aig 3 2 0 1 1", [99], [2, 2]), [":2:", "output literal 99"]),
        (_binary("aig 3 2 0 1 1", [6], [0, 2]), ["corrupt AND gate"]),
        (_binary("aig 3 2 0 1 1", [6], [2, 9]), ["corrupt AND gate"]),
        (_binary("aig 2 2 0 1 1", [6], [2, 2]), [":1:", "M=2"]),
        (b"aig x 2 0 1 1\n", [":1:", "integers"]),
        (b"\x00\x01binary junk", ["not an AIGER file"]),
        (b"aig 1 1 0 0 0 1 0 0 0\n", ["1.9"]),
    ],
)
def test_aig_errors(tmp_path, data, needles):
    path = write(tmp_path, "bad.aig", data)
    raises(lambda: read_problem(path), "bad.aig", *needles)


@pytest.mark.parametrize(
    "text, needles",
    [
        ("aag 3 1 0 1 1\n2\n6\n6 2 4\n", [":4:", "undefined variable 2"]),
        ("aag 2 1 0 1 1\n2\n4\n4 4 2\n", ["cycle"]),
        ("aag 2 1 0 1 1\n2\n4\n2 2 2\n", [":4:", "defined twice"]),
        ("aag 2 1 0 1 1\n2\n4\n4 2\n", [":4:", "lhs rhs0 rhs1"]),
        ("aag 2 1 0 1 1\n3\n4\n4 2 2\n", [":2:", "even"]),
        ("aag 2 1 0 1 1\n2\n4\n4 2 x\n", [":4:", "integers"]),
        ("aag 3 1 0 1 2\n2\n4\n4 2 2\n", [":5:", "truncated", "AND"]),
        ("aag 2 1 0 1 1\n2\n4\n4 2 9\n", [":4:", "literal 9 is out of range"]),
    ],
)
def test_aag_errors(tmp_path, text, needles):
    path = write(tmp_path, "bad.aag", text)
    raises(lambda: read_problem(path), "bad.aag", *needles)


# ---------------------------------------------------------------------------- native JSON
def test_native_round_trip(tmp_path):
    p = rich_problem()
    out = tmp_path / "rich.json"
    write_problem(out, p)
    obj = json.loads(out.read_text())
    assert obj["format"] == "gaus_fast.problem" and obj["format_version"] == 1
    q = read_problem(out)
    assert detect_format(out) == "native"
    assert_same(p, q)
    assert q.name == "rich" and q.depth == 12 and q.ii == 4
    assert q.op_bits.tolist() == p.op_bits.tolist()
    assert q.edge_delay.tolist() == p.edge_delay.tolist() and q.edge_distance.tolist() == p.edge_distance.tolist()
    assert q.operator_types == p.operator_types
    # minimal file: defaults everywhere; name from the file stem; list-form edges
    mini = '{"format": "gaus_fast.problem", "operator_types": {"t": 1}, "ops": [{"id": 1, "type": "t"}, {"id": "b", "type": "t"}], "edges": [["1", "b"]]}'
    m = read_problem(write(tmp_path, "mini.json", mini))
    assert m.name == "mini" and m.op_ids == ["1", "b"] and m.op_weight.tolist() == [1, 1] and m.op_bits.tolist() == [32, 32]
    assert m.edge_comm.tolist() == [0.0] and m.depth is None and m.resource_types == []


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (lambda d: d["ops"][0].update(type="zzz"), ["'m0'", "unknown operator type 'zzz'"]),
        (lambda d: d["ops"][0].update(resources=["NOPE"]), ["unknown resource type 'NOPE'"]),
        (lambda d: d["ops"].append({"id": "m0", "type": "add"}), ["duplicate operation id 'm0'"]),
        (lambda d: d["operator_types"].update(mul=2.5), ["latency of operator type 'mul'", "integer"]),
        (lambda d: d.update(format_version=7), ["format_version 7"]),
        (lambda d: d.update(format="other"), ["unknown JSON format 'other'"]),
        (lambda d: d.pop("ops"), ["missing required key 'ops'"]),
        (lambda d: d["edges"].append({"src": "m0", "dst": "q"}), ["unknown operation 'q'"]),
        (lambda d: d["edges"].append({"src": "a0", "dst": "m1"}), ["cycle"]),
        (lambda d: d["edges"][0].update(delay=-1), ["delay of edge", ">= 0"]),
        (lambda d: d["edges"][0].update(color=1), ["unknown field(s) color"]),
        (lambda d: d["resource_types"][0].update(occupancy="sometimes"), ["occupancy"]),
        (lambda d: d["resource_types"][0].update(limit=0), ["limit must be an integer >= 1"]),
        (lambda d: d["ops"][0].update(weight="heavy"), ["weight of operation 'm0'"]),
        (lambda d: d.update(depth=0), ["depth must be >= 1"]),
    ],
)
def test_native_errors(tmp_path, mutate, needles):
    d = native.to_dict(rich_problem())
    mutate(d)
    path = write(tmp_path, "bad.json", json.dumps(d, indent=1))
    raises(lambda: read_problem(path), "bad.json", *needles)


def test_native_schedule_round_trip(tmp_path):
    p = rich_problem()
    s = Schedule(np.array([0, 1, 3, 4]), ii=4)
    out = tmp_path / "s.json"
    write_schedule(out, p, s, extra={"makespan": np.int64(5), "solver": "test", "trace": np.arange(3)})
    obj = json.loads(out.read_text())
    assert obj["format"] == "gaus_fast.schedule" and obj["instance"] == "rich" and obj["makespan"] == 5
    assert obj["start"] == {"m0": 0, "m1": 1, "a0": 3, "l0": 4} and obj["trace"] == [0, 1, 2]
    r = read_schedule(out, p)
    assert r.start.tolist() == [0, 1, 3, 4] and r.ii == 4
    raises(lambda: write_schedule(out, p, s, extra={"start": 1}), "reserved")
    raises(lambda: write_schedule(out, p, s, format="xml"), "unknown schedule output format")


@pytest.mark.parametrize(
    "content, needles",
    [
        ('{"format": "gaus_fast.schedule", "start": {"m0": 0, "m1": 1, "a0": 3}}', ["no start for operation 'l0'"]),
        ('{"format": "gaus_fast.schedule", "start": {"m0": 0.5}}', ["start of 'm0' must be an integer"]),
        ('{"format": "gaus_fast.schedule", "start": {"zz": 1}}', ["unknown operation 'zz'"]),
        ('{"format": "other", "start": {}}', ["'format' must be 'gaus_fast.schedule'"]),
        ('{"format": "gaus_fast.schedule", "start": [1]}', ["'start' must be an object"]),
        ("m0:0\nm1:1\nzz:3\n", [":3:", "unknown operation 'zz'"]),
        ("m0:0\nm1:x\n", [":2:", "must be an integer"]),
        ("m0:0\nm0:1\n", [":2:", "scheduled twice"]),
        ("m0 0\n", [":1:", "id:start"]),
        ("m0:0\n# comment\n\nm1:1\n", ["no start for operation 'a0' (2 missing)"]),
        (b"m0:\xff\n", [":1:", "not UTF-8"]),
    ],
)
def test_schedule_errors(tmp_path, content, needles):
    path = write(tmp_path, "sched.txt", content)
    raises(lambda: read_schedule(path, rich_problem()), "sched.txt", *needles)


# ---------------------------------------------------------------------------- dispatcher
def test_detection_by_content(tmp_path):
    assert read_problem(write(tmp_path, "a.txt", DOT_EXAMPLE)).n_ops == 5
    assert read_problem(write(tmp_path, "b.data", GML_EXAMPLE)).n_ops == 3
    assert read_problem(write(tmp_path, "c", AAG_EXAMPLE)).n_ops == 7
    assert read_problem(write(tmp_path, "d.txt", HEURIGYM_DEMO)).n_ops == 4
    assert read_problem(write(tmp_path, "e.in", aiger.dumps_binary(aiger.read(AAG_EXAMPLE)))).n_ops == 7
    # explicit format wins over the extension
    assert read_problem(write(tmp_path, "f.json", DOT_EXAMPLE), format="dot").n_ops == 5
    assert set(FORMATS) >= {"native", "heurigym", "dot", "gml", "aig", "aag"}


def test_dispatcher_errors(tmp_path):
    raises(lambda: read_problem(tmp_path / "missing.dot"), "missing.dot", "no such file")
    raises(lambda: read_problem(tmp_path), str(tmp_path), "directory")
    raises(lambda: read_problem(write(tmp_path, "x.dot", "digraph"), format="xml"), "unknown format 'xml'")
    raises(lambda: read_problem(write(tmp_path, "x.bin", "hello world")), "x.bin", "cannot tell the file format")
    raises(lambda: read_problem(write(tmp_path, "u.dot", b"digraph g {\n a [label=\xe9];\n}\n")), "u.dot:2", "not UTF-8")
    raises(lambda: read_problem(write(tmp_path, "j.json", '{"a": 1}')), "j.json", "neither")
    raises(lambda: read_problem(write(tmp_path, "k.json", "[1, 2")), "k.json:1", "invalid JSON")
    raises(lambda: read_problem(write(tmp_path, "l.json", "")), "l.json", "invalid JSON")
    sched = write(tmp_path, "s.json", '{"format": "gaus_fast.schedule", "start": {}}')
    raises(lambda: read_problem(sched), "s.json", "read_schedule")
    raises(lambda: write_problem(tmp_path / "o.x", rich_problem(), "xml"), "unknown problem output format")
    raises(lambda: write_problem(tmp_path / "no" / "dir" / "o.json", rich_problem()), "o.json", "cannot write")
    raises(lambda: read_problem(write(tmp_path, "g.gml", GML_EXAMPLE), latencies={}), "g.gml", "no option(s) latencies")


def test_every_writer_round_trips(tmp_path):
    """Each writer's output reads back to the same graph under that format's semantics."""
    aig = aiger.read(AAG_EXAMPLE, name="aig")
    cases = {
        "json": (rich_problem(), {}),
        "heurigym": (heurigym.read(HEURIGYM_DEMO), {}),
        "dot": (dot.read(DOT_EXAMPLE), {"resources": False}),
        "gml": (gml.read(GML_EXAMPLE), {}),
        "aag": (aig, {}),
        "aig": (aig, {}),
    }
    for fmt, (p, kw) in cases.items():
        out = tmp_path / f"p.{fmt}"
        write_problem(out, p, fmt)
        assert_same(p, read_problem(out), **kw)


# ---------------------------------------------------------------------------- shared data (skips without it)
@pytest.fixture(scope="module")
def datasets() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared benchmark data not found at {root} (set GAUS_FAST_DATA to the datasets folder)")
    return root


def _stats(folder: Path) -> list[dict[str, str]]:
    path = folder / "STATS.tsv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _longest_path_nodes(p: Problem) -> int:
    t = _core.asap(p.n_ops, p.edge_src, p.edge_dst, np.ones(p.n_edges, dtype=np.int64))
    return int(t.max()) + 1 if p.n_ops else 0


@pytest.mark.data
def test_data_heurigym(datasets):
    folder = datasets / "heurigym-operator-scheduling"
    rows = _stats(folder)
    files = sorted(folder.glob("json/*/*.json"))
    assert {f.stem for f in files} == {r["instance"] for r in rows}
    bad = []
    for r in rows:
        f = folder / "json" / r["folder"] / f"{r['instance']}.json"
        p = read_problem(f)
        types = {}
        for item in r["types(count/delay/limit)"].split():
            tname, rest = item.split(":")
            count, delay, limit = map(int, rest.split("/"))
            types[tname] = (count, delay, limit)
        got = {}
        for t, ot in enumerate(p.operator_types):
            got[ot.name] = (int(np.sum(p.op_type == t)), ot.latency, p.resource_types[p.resource_index(ot.name)].limit)
        if (p.n_ops, p.n_edges, got) != (int(r["nodes"]), int(r["edges"]), types):
            bad.append((f.name, p.n_ops, p.n_edges, got))
    assert not bad, bad


@pytest.mark.data
def test_data_dot(datasets):
    folder = datasets / "express-eds-benchmarks"
    rows = _stats(folder)
    files = sorted(folder.glob("dot/*.dot"))
    assert {f.name for f in files} == {r["dot_file"] for r in rows}
    heuri = {f.stem: f for f in (datasets / "heurigym-operator-scheduling").glob("json/*/*.json")}
    bad = []
    for r in rows:
        f = folder / "dot" / r["dot_file"]
        p = read_problem(f)
        labels = ",".join(sorted({ot.name for ot in p.operator_types}))
        if (p.n_ops, p.n_edges, labels) != (int(r["nodes"]), int(r["edges"]), r["op_labels"]):
            bad.append((f.name, p.n_ops, p.n_edges, labels))
        # the presets: limits equal the table entries
        wang = read_problem(f, limits="wang2007")
        want = dict(item[:3].upper() == "MUL" and ("MUL", int(item[3:])) or ("ALU", int(item[3:])) for item in r["RC_MUL_ALU(Wang2007,commented_in_EDS)"].split(","))
        got = {res.name: res.limit for res in wang.resource_types}
        if any(got[k] != want[k] for k in got):
            bad.append((f.name, "wang2007", got, want))
        cfu = read_problem(f, limits="complexfu")
        table = dot._parse_table(r["RC_complexFU(EDS_main.cpp,active)"])
        got = {res.name.upper(): res.limit for res in cfu.resource_types}
        if got != {k: v for k, v in table.items() if k in {ot.name.upper() for ot in p.operator_types}}:
            bad.append((f.name, "complexfu", got, table))
        # the heurigym instance of the same graph has the same nodes, types and edges
        h = heuri.get(r["heurigym_name"])
        if h is not None:
            q = read_problem(h)
            if sorted(zip(p.op_ids, type_names(p))) != sorted(zip(q.op_ids, type_names(q))) or edge_set(p) != edge_set(q):
                bad.append((f.name, "differs from", h.name))
    assert not bad, bad


@pytest.mark.data
def test_data_gml(datasets):
    folder = datasets / "icml24-differentiable-scheduler"
    rows = _stats(folder)
    files = sorted(folder.glob("graphgml/*.gml"))
    assert {f.name for f in files} == {r["file"] for r in rows}
    bad = []
    for r in rows:
        p = read_problem(folder / "graphgml" / r["file"])
        indeg = np.bincount(p.edge_dst, minlength=p.n_ops)
        outdeg = np.bincount(p.edge_src, minlength=p.n_ops)
        got = {
            "nodes": p.n_ops,
            "edges": p.n_edges,
            "longest_path_nodes": _longest_path_nodes(p),
            "sources": int(np.sum(indeg == 0)),
            "sinks": int(np.sum(outdeg == 0)),
            "zero_weight_nodes": int(np.sum(p.op_weight == 0)),
            "sum_node_weight": int(p.op_weight.sum()),
            "max_node_weight": int(p.op_weight.max()),
            "edges_param_gt0": int(p.edge_comm.sum()),
        }
        want = {k: int(r[k]) for k in got}
        if got != want:
            bad.append((r["file"], got, want))
    assert not bad, bad


@pytest.mark.data
def test_data_aiger(datasets):
    folder = datasets / "epfl-combinational"
    rows = _stats(folder)
    files = sorted(str(f.relative_to(folder / "aig")) for f in folder.glob("aig/**/*.aig"))
    assert set(files) == {r["file"] for r in rows}
    bad = []
    for r in rows:
        p = read_problem(folder / "aig" / r["file"])
        const = p.n_ops and p.op_ids[0] == "0"
        n_const_edges = int(np.sum(p.edge_src == 0)) if const else 0
        is_and = p.op_type == [t.name for t in p.operator_types].index("and")
        levels = _core.asap(p.n_ops, p.edge_src, p.edge_dst, np.ones(p.n_edges, dtype=np.int64))
        got = (
            p.n_ops,
            int(np.sum(is_and)),
            p.n_edges - n_const_edges,
            int(bool(const)),
            int(levels[is_and].max()),
        )
        want = (
            int(r["PI+AND"]) + int(bool(const)),
            int(r["AND"]),
            int(r["distinct_fanin_edges(PI/AND->AND)"]),
            int(r["const_used_by_PO"]),
            int(r["AND_levels(depth)"]),
        )
        if got != want:
            bad.append((r["file"], got, want))
    assert not bad, bad


@pytest.mark.data
def test_data_speed(datasets):
    hyp = datasets / "epfl-combinational" / "aig" / "arithmetic" / "hyp.aig"
    gmlf = datasets / "icml24-differentiable-scheduler" / "graphgml" / "rand_graph_10000_1.gml"
    if not hyp.is_file() or not gmlf.is_file():
        pytest.skip("hyp.aig or rand_graph_10000_1.gml not in the data")
    best = {}
    for f in (hyp, gmlf):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            p = read_problem(f)
            times.append(time.perf_counter() - t0)
        best[f.name] = min(times)
    assert p.n_ops == 9432
    assert best["hyp.aig"] < 2.0, best
    assert best["rand_graph_10000_1.gml"] < 2.0, best


def test_path_or_text_and_line_endings(tmp_path):
    # a str naming a file is a path even when it starts like the format's content
    path = write(tmp_path, "graph_x.gml", GML_EXAMPLE)
    assert gml.read(str(path)).name == "graph_x"
    raises(lambda: gml.read(str(tmp_path / "graph_missing.gml")), "graph_missing.gml", "no such file")
    assert aiger.read(str(write(tmp_path, "a.aag", AAG_EXAMPLE))).n_ops == 7
    assert aiger.read(AAG_EXAMPLE.encode()).n_ops == 7
    # CRLF files and a UTF-8 byte-order mark
    crlf = DOT_EXAMPLE.replace("\n", "\r\n")
    assert dot.read(write(tmp_path, "crlf.dot", "\ufeff" + crlf)).n_ops == 5
    assert aiger.read(write(tmp_path, "crlf.aag", AAG_EXAMPLE.replace("\n", "\r\n"))).n_edges == 5
    assert gml.read(GML_EXAMPLE.replace("\n", "\r\n")).n_edges == 4
    assert heurigym.read(HEURIGYM_DEMO.replace("\n", "\r\n")).n_ops == 4
