"""HatScheT GraphML + resource model reader, ResMII, schedule CSV, GraphML writer."""
from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from gaus_fast import verify as V
from gaus_fast.data import data_root
from gaus_fast.formats import detect_format, graphml, read_problem, read_schedule, write_problem, write_schedule
from gaus_fast.formats._io import Source
from gaus_fast.problem import Problem, ProblemError, ResourceType
from gaus_fast.schedule import Schedule

HAT = data_root() / "hatschet-modulo"
needs_data = pytest.mark.skipif(
    not (HAT / "STATS.tsv").is_file(), reason=f"HatScheT instances not found at {HAT} (set GAUS_FAST_DATA)"
)


def raises(fn, *needles):
    with pytest.raises(ProblemError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


GRAPH = """<?xml version="1.0" encoding="UTF-8"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <graph>
    <node id="1"><data key="name">ld</data><data key="uses_resource">mem</data></node>
    <node id="2"><data key="name">add</data><data key="uses_resource">alu</data></node>
    <node id="3"><data key="name">st</data><data key="uses_resource">store</data></node>
    <node id="4"><data key="name">div</data><data key="uses_resource">div</data></node>
    <edge id="e1" source="1" target="2"><data key="delay">0</data><data key="distance">0</data><data key="deptype">Data</data></edge>
    <edge id="e2" source="2" target="3"><data key="delay">1</data><data key="distance">0</data></edge>
    <edge id="e3" source="3" target="1"><data key="delay">0</data><data key="distance">2</data><data key="deptype">Precedence</data></edge>
    <edge id="e4" source="2" target="4"/>
  </graph>
</graphml>
"""
RM = """<?xml version="1.0" encoding="UTF-8"?><ModelInformation Version="1.0">
  <Resources>
    <Resource blockingTime="1" latency="2" limit="1" name="mem" physicalDelay="0.5"><Cost demand="1" name="MEM"/></Resource>
    <Resource blockingTime="0" latency="0" limit="-1" name="alu" physicalDelay="1.25"/>
    <Resource blockingTime="1" latency="1" limit="2" name="store" physicalDelay="0.0"/>
    <Resource blockingTime="3" latency="5" limit="1" name="div" physicalDelay="0.0"/>
    <Resource blockingTime="1" latency="7" limit="4" name="unused" physicalDelay="0.0"/>
  </Resources>
</ModelInformation>
"""


def write_pair(tmp_path: Path, graph: str = GRAPH, rm: str | None = RM, stem: str = "graph1") -> Path:
    g = tmp_path / f"{stem}.graphml"
    g.write_text(graph)
    if rm is not None:
        (tmp_path / f"{stem}_RM.xml").write_text(rm)
    return g


# ---------------------------------------------------------------------------- mapping
def test_small_instance_mapping(tmp_path):
    inst = graphml.read_instance(write_pair(tmp_path))
    p = inst.problem
    assert p.op_ids == ["ld", "add", "st", "div"]
    assert inst.node_ids == ["1", "2", "3", "4"] and inst.resource_of == ["mem", "alu", "store", "div"]
    assert [(t.name, t.latency) for t in p.operator_types] == [("mem", 2), ("alu", 0), ("store", 1), ("div", 5), ("unused", 7)]
    assert [p.operator_types[t].name for t in p.op_type] == ["mem", "alu", "store", "div"]
    assert [(r.name, r.limit, r.occupancy, r.blocking_time) for r in p.resource_types] == [
        ("mem", 1, "pipelined", None), ("store", 2, "pipelined", None), ("div", 1, "blocking", 3), ("unused", 4, "pipelined", None)]
    assert list(p.use_ptr) == [0, 1, 1, 2, 3] and list(p.use_res) == [0, 1, 2]
    assert list(zip(p.edge_src, p.edge_dst, p.edge_delay, p.edge_distance)) == [(0, 1, 0, 0), (1, 2, 1, 0), (2, 0, 0, 2), (1, 3, 0, 0)]
    assert inst.deptype == ["Data", None, "Precedence", None]
    assert inst.physical_delay["alu"] == 1.25 and inst.limit["alu"] == -1 and inst.blocking_time["div"] == 3
    assert p.ii is None and p.problem_class == "ModuloProblem" and p.name == f"{tmp_path.name}_graph1"
    assert graphml.res_mii(p) == 3  # div: 1 op * blockingTime 3 / 1
    # t_i + lat_i + delay <= t_j + distance * II, modulo resources
    s = Schedule(np.array([0, 2, 3, 2]), 3)
    assert V.check(p, s) == []
    assert any("st -> ld" in m for m in V.check(p, Schedule(np.array([0, 2, 3, 2]), 1)))
    assert any("mem" not in m and "st" in m for m in V.check(p, Schedule(np.array([0, 2, 2, 2]), 3)))


def test_key_declarations_defaults_and_id_fallback(tmp_path):
    graph = """<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
      <key id="d0" for="node" attr.name="name" attr.type="string"/>
      <key id="d1" for="node" attr.name="uses_resource" attr.type="string"><default>alu</default></key>
      <key id="d2" for="edge" attr.name="distance" attr.type="int"><default>1</default></key>
      <graph edgedefault="directed">
        <node id="a"><data key="d0">same</data></node>
        <node id="b"><data key="d0">same</data><data key="d1">mem</data></node>
        <edge source="a" target="b"><data key="d2">0</data></edge>
        <edge source="b" target="a"/>
      </graph></graphml>"""
    p = graphml.read(write_pair(tmp_path, graph))
    assert p.op_ids == ["a", "b"]  # names collide: node ids for every op
    assert [p.operator_types[t].name for t in p.op_type] == ["alu", "mem"]
    assert list(p.edge_distance) == [0, 1] and list(p.edge_delay) == [0, 0]


def test_resource_model_given_and_missing(tmp_path):
    p = graphml.read(GRAPH, resource_model=RM, name="inline")
    assert p.name == "inline" and p.n_ops == 4
    rm_file = tmp_path / "model.xml"
    rm_file.write_text(RM)
    assert graphml.read(write_pair(tmp_path, rm=None, stem="g"), resource_model=rm_file).n_ops == 4
    raises(lambda: graphml.read(write_pair(tmp_path, rm=None, stem="lonely")), "lonely.graphml", "lonely_RM.xml not found")
    raises(lambda: graphml.read(GRAPH), "no resource model")
    # graphN.200MHz.graphml falls back to graphN_RM.xml
    (tmp_path / "graph7_RM.xml").write_text(RM)
    assert graphml.read(write_pair(tmp_path, rm=None, stem="graph7.200MHz")).n_ops == 4


BAD = [
    (GRAPH.replace('<data key="uses_resource">store</data>', ""), RM, "graph1.graphml:5:", "node '3' has no 'uses_resource'"),
    (GRAPH.replace(">store<", ">nope<"), RM, "graph1.graphml:5:", "uses resource 'nope'"),
    (GRAPH.replace('target="4"/>', 'target="9"/>'), RM, "graph1.graphml:10:", "unknown node '9'"),
    (GRAPH.replace('<data key="delay">1</data>', '<data key="delay">-1</data>'), RM, "graph1.graphml:8:", "edge delay must be >= 0"),
    (GRAPH.replace('<data key="distance">2</data>', '<data key="distance">x</data>'), RM, "graph1.graphml:9:", "edge distance must be an integer"),
    (GRAPH.replace('<node id="2">', '<node id="1">'), RM, "graph1.graphml:4:", "node id '1' used twice"),
    (GRAPH.replace("</graph>", "</graf>"), RM, "graph1.graphml:11:", "invalid XML: mismatched tag"),
    (GRAPH.replace("<graph>", '<graph edgedefault="undirected">'), RM, "graph1.graphml:2:", "undirected"),
    (GRAPH.replace("<graph>", "<graph></graph><graph>"), RM, "graph1.graphml:2:", "several <graph>"),
    ("<foo/>", RM, "graph1.graphml:1:", "expected a GraphML document"),
    (GRAPH.replace('distance">2', 'distance">0'), RM, "graph1.graphml", "dependence cycle with total distance 0"),
    (GRAPH, RM.replace('limit="2"', 'limit="0"'), "graph1_RM.xml:5:", "limit of resource 'store' must be >= 1, or -1"),
    (GRAPH, RM.replace('blockingTime="1" latency="1" limit="2"', 'blockingTime="0" latency="1" limit="2"'),
     "graph1_RM.xml:5:", "blockingTime 0"),
    (GRAPH, RM.replace('latency="5"', 'latency="-5"'), "graph1_RM.xml:6:", "latency of resource 'div' must be >= 0"),
    (GRAPH, RM.replace('name="unused"', 'name="mem"'), "graph1_RM.xml:7:", "resource 'mem' defined twice"),
    (GRAPH, RM.replace(' limit="4"', ""), "graph1_RM.xml:7:", "needs a 'limit' attribute"),
    (GRAPH, "<Other/>", "graph1_RM.xml:1:", "expected a HatScheT resource model"),
    (GRAPH, RM.replace("</Resources>", ""), "graph1_RM.xml:", "invalid XML"),
]


@pytest.mark.parametrize("graph,rm,where,message", BAD)
def test_errors(tmp_path, graph, rm, where, message):
    raises(lambda: graphml.read(write_pair(tmp_path, graph, rm)), where, message)


# ---------------------------------------------------------------------------- ResMII
def test_res_mii():
    p = Problem.build(
        {"a": 1, "b": 4},
        [("x", "a", ["R"]), ("y", "a", ["R"]), ("z", "a", ["R"]), ("w", "b", ["B"]), ("v", "b", ["B", "R"])],
        resource_types=[ResourceType("R", 2), ResourceType("B", 1, "blocking"), ResourceType("U", None)],
    )
    assert graphml.res_mii(p) == 8  # B: 2 ops holding 4 steps each on 1 unit; R: ceil(4 / 2) = 2
    assert graphml.res_mii(p.with_limits({"B": None})) == 2
    assert graphml.res_mii(p.with_limits({"B": None, "R": None})) == 1
    assert graphml.res_mii(Problem.build({"a": 1}, [])) == 1


@needs_data
def test_every_hatschet_instance_matches_stats():
    rows = list(csv.DictReader(open(HAT / "STATS.tsv"), delimiter="\t"))
    assert len(rows) == 354
    t0 = time.perf_counter()
    for r in rows:
        inst = graphml.read_instance(HAT / r["instance"])
        p = inst.problem
        got = {
            "nodes": p.n_ops,
            "edges": p.n_edges,
            "backedges(distance>0)": int(np.count_nonzero(p.edge_distance)),
            "limited_resource_types": len(p.resource_types),
            "ops_on_limited_resources": len(p.use_res),
            "resMII": graphml.res_mii(p),
            "max_op_latency": int(p.latency.max()),
            "max_edge_delay": int(p.edge_delay.max()),
        }
        assert got == {k: int(r[k]) for k in got}, r["instance"]
        assert p.op_ids == [f"node_{i}" for i in inst.node_ids]  # HatScheT names are node_<id>
        assert all(rt.occupancy == "pipelined" and rt.limit >= 1 for rt in p.resource_types)
    assert time.perf_counter() - t0 < 60


@needs_data
def test_data_instance_round_trips_and_detection(tmp_path):
    src = HAT / "ChStone" / "adpcm" / "graph1.graphml"
    assert detect_format(src) == "graphml"
    p = read_problem(src)
    assert p.name == "adpcm_graph1"
    # sniffed by content, with the resource model beside the copy
    shutil.copy(src, tmp_path / "g.xml")
    shutil.copy(HAT / "ChStone" / "adpcm" / "graph1_RM.xml", tmp_path / "g_RM.xml")
    assert detect_format(tmp_path / "g.xml") == "graphml"
    q = read_problem(tmp_path / "g.xml", name="copy")
    assert q.name == "copy" and q.op_ids == p.op_ids
    # write and read back
    write_problem(tmp_path / "out.graphml", p, format="graphml")
    r = read_problem(tmp_path / "out.graphml")
    for field in ("op_ids", "operator_types", "resource_types"):
        assert getattr(r, field) == getattr(p, field), field
    for field in ("op_type", "edge_src", "edge_dst", "edge_delay", "edge_distance", "use_ptr", "use_res"):
        assert np.array_equal(getattr(r, field), getattr(p, field)), field
    # a feasible modulo schedule: ops one after another, II past the last finish
    step = int(p.latency.max() + p.edge_delay.max() + 1)
    start = _topo(p) * step
    ii = int(start.max() + step)
    s = Schedule(start, ii)
    assert V.check(p, s) == []
    write_schedule(tmp_path / "s.csv", p, s)
    back = read_schedule(tmp_path / "s.csv", p)
    assert np.array_equal(back.start, start) and back.ii == ii


def _topo(p: Problem) -> np.ndarray:
    """Position of each op in a topological order of the distance-0 edges."""
    from gaus_fast import _core

    intra = p.intra_edges()
    order = np.asarray(_core.topological_order(p.n_ops, p.edge_src[intra], p.edge_dst[intra]))
    pos = np.empty(p.n_ops, dtype=np.int64)
    pos[order] = np.arange(p.n_ops)
    return pos


# ---------------------------------------------------------------------------- schedule CSV
def test_schedule_csv(tmp_path):
    p = Problem.build({"a": 1}, [("x,1", "a"), ('q"2', "a"), ("plain", "a")], [("x,1", "plain")])
    s = Schedule(np.array([0, 3, 1]), 4)
    text = graphml.dumps_schedule(p, s)
    assert text.splitlines() == ["# II=4", "name,start", '"x,1",0', '"q""2",3', "plain,1"]
    back = graphml.parse_schedule(text, None, p)
    assert list(back.start) == [0, 3, 1] and back.ii == 4
    no_ii = graphml.dumps_schedule(p, Schedule(np.array([0, 3, 1])))
    assert no_ii.startswith("name,start") and graphml.parse_schedule(no_ii, None, p).ii is None
    write_schedule(tmp_path / "s.csv", p, s)  # .csv picks the CSV writer
    assert (tmp_path / "s.csv").read_text() == text
    assert read_schedule(tmp_path / "s.csv", p).ii == 4
    src = Source("<csv>", "s")
    raises(lambda: graphml.parse_schedule("op,t\nx,1\n", src, p), "<csv>:1:", "header 'name,start'")
    raises(lambda: graphml.parse_schedule("name,start\nplain,1\nplain,2\n", src, p), "<csv>:3:", "listed twice")
    raises(lambda: graphml.parse_schedule("name,start\nplain,x\n", src, p), "<csv>:2:", "must be an integer")
    raises(lambda: graphml.parse_schedule("name,start\nplain,1,2\n", src, p), "<csv>:2:", "expected 2 fields")
    raises(lambda: graphml.parse_schedule("name,start\nplain,1\n", src, p), "<csv>", "no start for operation 'x,1'")
    raises(lambda: graphml.parse_schedule("name,start\nzz,1\n", src, p), "<csv>", "unknown operation 'zz'")
    raises(lambda: graphml.parse_schedule("# II=0\nname,start\n", src, p), "<csv>:1:", "II must be >= 1")
    raises(lambda: graphml.parse_schedule("# just a comment\n", src, p), "empty schedule")
    raises(lambda: graphml.dumps_schedule(p, Schedule(np.array([0]))), "1 start steps for 3 operations")


def test_writer_constraints(tmp_path):
    two = Problem.build({"a": 1}, [("x", "a", ["R", "S"])], resource_types=[ResourceType("R", 1), ResourceType("S", 1)])
    raises(lambda: graphml.dumps(two), "uses 2")
    mixed = Problem.build({"a": 1}, [("x", "a", ["R"]), ("y", "a", [])], resource_types=[ResourceType("R", 1)])
    raises(lambda: graphml.dumps(mixed), "operator type 'a' use different resources")
    shared = Problem.build({"a": 1, "b": 2}, [("x", "a", ["R"]), ("y", "b", ["R"])], resource_types=[ResourceType("R", 1)])
    raises(lambda: graphml.dumps(shared), "serves several operator types")
    ok = Problem.build(
        {"a": 1, "b": 3},
        [("x", "a", ["U"]), ("y", "b", ["B"]), ("z", "b", ["B"])],
        [("x", "y", 2, 0), ("y", "x", 0, 1)],
        resource_types=[ResourceType("U", None), ResourceType("B", 2, "blocking")],
    )
    graphml.write(tmp_path / "ok.graphml", ok)
    back = graphml.read(tmp_path / "ok.graphml")
    assert back.op_ids == ["x", "y", "z"]
    assert [(r.name, r.limit, r.occupancy, r.blocking_time) for r in back.resource_types] == [("b", 2, "blocking", 3)]
    assert list(back.edge_delay) == [2, 0] and list(back.edge_distance) == [0, 1]
    assert graphml.res_mii(back) == graphml.res_mii(ok) == 3
