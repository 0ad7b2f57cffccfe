"""HatScheT modulo-scheduling instances: a GraphML dependence graph plus a resource-model XML file.

Input (``graphN.graphml`` and its sibling ``graphN_RM.xml``, as in HatScheT's ``benchmarks/``)::

    <graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph>
      <node id="4159"><data key="name">node_4159</data><data key="uses_resource">mem_read</data></node>
      <edge id="4155_4151" source="4155" target="4151">
        <data key="delay">0</data><data key="distance">1</data><data key="deptype">Data</data></edge>
    </graph></graphml>

    <ModelInformation Version="1.0"><Resources>
      <Resource name="mem_read" latency="1" blockingTime="1" limit="2" physicalDelay="0.0">...</Resource>
    </Resources></ModelInformation>

Data keys are matched by name (HatScheT writes ``key="name"`` directly); GraphML ``<key id=.. attr.name=..>``
declarations, with ``<default>`` values, are honoured too. The resource model is found next to the graph as
``<stem>_RM.xml`` (for ``graph1.200MHz.graphml`` also ``graph1_RM.xml``), or given with ``resource_model=`` (a path,
or the XML text); a missing one is an error.

Semantics (HatScheT's modulo scheduling problem):

* ops: the nodes in file order, id = the node's ``name`` (the node ``id`` for every op when a name is missing or
  two names collide; the data has no collisions); every node names its resource in ``uses_resource``;
* one operator type per resource of the model (named like it, in the model's order, unused ones included) with the
  resource's ``latency``; one limited `ResourceType` per resource with ``limit >= 1`` (``limit = -1`` is unlimited
  and gets none), used by the ops on it: ``pipelined`` when ``blockingTime <= 1`` (every limited resource here has
  ``blockingTime = 1``), else ``blocking`` with ``blocking_time = blockingTime``; a limited resource with
  ``blockingTime = 0`` is rejected;
* edges: ``t_i + lat_i + delay <= t_j + distance * II`` (``edge_delay``/``edge_distance``; both default to 0;
  ``deptype`` (Data/Precedence) does not change the constraint and is kept in `HatScheTInstance.deptype`);
* `Problem.problem_class` is ``"ModuloProblem"``; no II is set (the objective is to minimise it, then the length);
* `res_mii` is the resource-constrained lower bound on the II (here for now; it belongs with the bounds).

Output: `write_schedule`/`dumps_schedule` write a schedule as CSV (HatScheT has no standard schedule file)::

    # II=3
    name,start
    node_4151,0

(the ``# II=`` line only when there is an II; names are CSV-quoted where needed); `parse_schedule` reads it back.
`write`/`dumps` write a problem as GraphML plus a resource model (`write` puts it in ``<stem>_RM.xml``) when it fits
HatScheT's model: every op uses at most one resource, the ops of an operator type use the same one, and a limited
resource serves one operator type; the HatScheT resource is then the operator type (``blockingTime`` 1 for
pipelined, the hold for blocking resources); op weights, bit widths, communication weights, the depth bound and II
are dropped.
"""
from __future__ import annotations

import csv
import io
import os
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ..problem import OperatorType, Problem, ProblemError, ResourceType
from ..schedule import Schedule
from ._io import Source, as_float, as_int, decode, error, in_source, load_bytes, write_output

FORMAT = "graphml"
EXTENSIONS = (".graphml",)
RM_SUFFIX = "_RM.xml"


# ---------------------------------------------------------------------------------------------------- XML helper
@dataclass
class _El:
    tag: str
    attrs: dict
    line: int
    children: list = field(default_factory=list)
    text: str = ""


def _parse_xml(data: bytes | str, src: Source) -> _El:
    """A small element tree with line numbers."""
    parser = xml.parsers.expat.ParserCreate()
    root = _El("#document", {}, 1)
    stack = [root]
    texts: list[list[str]] = [[]]

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1] if ("}" in tag or ":" in tag) else tag

    def start(tag, attrs):
        el = _El(local(tag), attrs, parser.CurrentLineNumber)
        stack[-1].children.append(el)
        stack.append(el)
        texts.append([])

    def end(tag):
        el = stack.pop()
        el.text = "".join(texts.pop()).strip()

    def chars(data):
        texts[-1].append(data)

    def no_entities(*args):
        raise error(src, "XML entity declarations are not supported", parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = no_entities
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as err:
        raise error(src, f"invalid XML: {xml.parsers.expat.ErrorString(err.code)} (column {err.offset + 1})", err.lineno) from None
    if not root.children:
        raise error(src, "empty XML document")
    return root.children[0]


def _find(el: _El, tag: str) -> list[_El]:
    return [c for c in el.children if c.tag == tag]


# ---------------------------------------------------------------------------------------------------- result type
@dataclass
class HatScheTInstance:
    """A HatScheT instance: the `Problem` plus what the model does not hold.

    ``node_ids``: the GraphML node ids (by op); ``deptype``: per edge (None where absent); ``physical_delay``,
    ``blocking_time``, ``latency``, ``limit``: per resource of the model by name (``limit`` -1 = unlimited);
    ``resource_of``: the resource name per op."""

    problem: Problem
    node_ids: list[str]
    deptype: list[str | None]
    resource_of: list[str]
    latency: dict[str, int]
    blocking_time: dict[str, int]
    limit: dict[str, int]
    physical_delay: dict[str, float]
    resource_model: str | None = None


# ---------------------------------------------------------------------------------------------------- reading
def _resource_model_path(graph_path: Path) -> list[Path]:
    name = graph_path.name
    stem = name[: -len(".graphml")] if name.lower().endswith(".graphml") else graph_path.stem
    cands = [graph_path.with_name(stem + RM_SUFFIX)]
    if "." in stem:
        cands.append(graph_path.with_name(stem.split(".", 1)[0] + RM_SUFFIX))
    return cands


def _read_rm(rm, src_graph: Source) -> tuple[list[tuple[str, int, int, int, float, int]], Source]:
    """Resources ``(name, latency, blockingTime, limit, physicalDelay, line)`` of a resource model."""
    if isinstance(rm, (str, os.PathLike)) and not (isinstance(rm, str) and rm.lstrip().startswith("<")):
        data, src = load_bytes(Path(rm))
    elif isinstance(rm, (bytes, bytearray)):
        data, src = bytes(rm), Source("<resource model>", "rm")
    elif isinstance(rm, str):
        data, src = rm.encode("utf-8"), Source("<resource model>", "rm")
    else:
        raise error(src_graph, f"resource_model must be a path or the XML text, got {type(rm).__name__}")
    root = _parse_xml(data, src)
    if root.tag != "ModelInformation":
        raise error(src, f"expected a HatScheT resource model (<ModelInformation>), got <{root.tag}>", root.line)
    out = []
    seen: dict[str, int] = {}
    for holder in _find(root, "Resources"):
        for r in _find(holder, "Resource"):
            a = r.attrs
            for key in ("name", "latency", "limit"):
                if key not in a:
                    raise error(src, f"<Resource> needs a '{key}' attribute", r.line)
            name = a["name"]
            if name in seen:
                raise error(src, f"resource {name!r} defined twice (first on line {seen[name]})", r.line)
            seen[name] = r.line
            lat = as_int(a["latency"], src, f"latency of resource {name!r}", r.line, minimum=0)
            bt = as_int(a.get("blockingTime", "1"), src, f"blockingTime of resource {name!r}", r.line, minimum=0)
            limit = as_int(a["limit"], src, f"limit of resource {name!r}", r.line)
            if limit == 0 or limit < -1:
                raise error(src, f"limit of resource {name!r} must be >= 1, or -1 for unlimited, got {limit}", r.line)
            if limit > 0 and bt == 0:
                raise error(src, f"limited resource {name!r} has blockingTime 0 (it would occupy no slot); not supported", r.line)
            pd = as_float(a.get("physicalDelay", "0"), src, f"physicalDelay of resource {name!r}", r.line)
            out.append((name, lat, bt, limit, pd, r.line))
    if not out and not _find(root, "Resources"):
        raise error(src, "the resource model has no <Resources> element", root.line)
    return out, src


def parse_instance(data: bytes | str, src: Source | None = None, resource_model=None, name: str | None = None) -> HatScheTInstance:
    """Parse GraphML (bytes or text) with its resource model (see the module docstring)."""
    src = src or Source("<text>", "problem")
    if resource_model is None:
        if src.path is None:
            raise error(src, "no resource model: pass resource_model= (a path or the XML text) when reading GraphML text")
        cands = _resource_model_path(src.path)
        found = next((c for c in cands if c.is_file()), None)
        if found is None:
            raise error(src, f"resource model {cands[0].name} not found next to the graph (pass resource_model=)")
        resource_model = found
    resources, rm_src = _read_rm(resource_model, src)
    root = _parse_xml(data, src)
    if root.tag != "graphml":
        raise error(src, f"expected a GraphML document (<graphml>), got <{root.tag}>", root.line)
    keys: dict[str, tuple[str, str | None]] = {}  # key id -> (attr name, default)
    for k in _find(root, "key"):
        kid = k.attrs.get("id")
        if kid is None:
            continue
        default = next((d.text for d in _find(k, "default")), None)
        keys[kid] = (k.attrs.get("attr.name", kid), default)
    graphs = _find(root, "graph")
    if not graphs:
        raise error(src, "the GraphML document has no <graph>", root.line)
    if len(graphs) > 1:
        raise error(src, "the GraphML document has several <graph> elements; expected one", graphs[1].line)
    graph = graphs[0]
    if graph.attrs.get("edgedefault", "directed") != "directed":
        raise error(src, "undirected graphs are not dependence graphs (edgedefault must be 'directed')", graph.line)
    defaults = {name: d for name, d in keys.values() if d is not None}

    def data_of(el: _El) -> dict[str, str]:
        out = dict(defaults)
        for d in _find(el, "data"):
            key = d.attrs.get("key")
            if key is None:
                raise error(src, "<data> without a 'key' attribute", d.line)
            out[keys.get(key, (key, None))[0]] = d.text
        return out

    res_index = {r[0]: k for k, r in enumerate(resources)}
    node_ids: list[str] = []
    names: list[str | None] = []
    res_of: list[int] = []
    node_line: dict[str, int] = {}
    for nd in _find(graph, "node"):
        nid = nd.attrs.get("id")
        if nid is None:
            raise error(src, "<node> without an 'id' attribute", nd.line)
        if nid in node_line:
            raise error(src, f"node id {nid!r} used twice (first on line {node_line[nid]})", nd.line)
        node_line[nid] = nd.line
        d = data_of(nd)
        rname = d.get("uses_resource")
        if rname is None:
            raise error(src, f"node {nid!r} has no 'uses_resource' data", nd.line)
        if rname not in res_index:
            raise error(src, f"node {nid!r} uses resource {rname!r}, which the resource model {rm_src.label} does not define", nd.line)
        node_ids.append(nid)
        names.append(d.get("name"))
        res_of.append(res_index[rname])
    index = {nid: k for k, nid in enumerate(node_ids)}
    esrc, edst, edelay, edist, deptype = [], [], [], [], []
    for ed in _find(graph, "edge"):
        a = ed.attrs
        for end in ("source", "target"):
            if end not in a:
                raise error(src, f"<edge> without a '{end}' attribute", ed.line)
            if a[end] not in index:
                raise error(src, f"edge {a.get('id', '')!s} refers to unknown node {a[end]!r}", ed.line)
        d = data_of(ed)
        esrc.append(index[a["source"]])
        edst.append(index[a["target"]])
        edelay.append(as_int(d.get("delay", 0), src, "edge delay", ed.line, minimum=0))
        edist.append(as_int(d.get("distance", 0), src, "edge distance", ed.line, minimum=0))
        deptype.append(d.get("deptype"))
    if any(nm is None for nm in names) or len(set(names)) != len(names):
        ids = list(node_ids)
    else:
        ids = [str(nm) for nm in names]

    op_types = [OperatorType(r[0], r[1]) for r in resources]
    res_types: list[ResourceType] = []
    model_res: dict[int, int] = {}
    for k, (rname, lat, bt, limit, _pd, _line) in enumerate(resources):
        if limit > 0:
            model_res[k] = len(res_types)
            if bt <= 1:
                res_types.append(ResourceType(rname, limit, "pipelined"))
            else:
                res_types.append(ResourceType(rname, limit, "blocking", bt))
    n = len(ids)
    uses = [model_res.get(r) for r in res_of]
    use_ptr = np.zeros(n + 1, dtype=np.int64)
    use_ptr[1:] = np.cumsum([u is not None for u in uses])
    pname = name if name is not None else _default_name(src)
    with in_source(src):
        problem = Problem(
            op_ids=ids,
            op_type=np.array(res_of, dtype=np.int32),
            operator_types=op_types,
            edge_src=np.array(esrc, dtype=np.int32),
            edge_dst=np.array(edst, dtype=np.int32),
            resource_types=res_types,
            use_ptr=use_ptr,
            use_res=np.array([u for u in uses if u is not None], dtype=np.int32),
            edge_delay=np.array(edelay, dtype=np.int64),
            edge_distance=np.array(edist, dtype=np.int64),
            name=pname,
            problem_class="ModuloProblem",
        )
    return HatScheTInstance(
        problem=problem,
        node_ids=node_ids,
        deptype=deptype,
        resource_of=[resources[r][0] for r in res_of],
        latency={r[0]: r[1] for r in resources},
        blocking_time={r[0]: r[2] for r in resources},
        limit={r[0]: r[3] for r in resources},
        physical_delay={r[0]: r[4] for r in resources},
        resource_model=rm_src.label,
    )


def _default_name(src: Source) -> str:
    """``<folder>_<stem>`` for a file (HatScheT's stems, graph1, repeat across benchmarks), else the stem."""
    if src.path is not None and src.path.parent.name:
        return f"{src.path.parent.name}_{src.stem}"
    return src.stem


def parse(data: bytes | str, src: Source | None = None, resource_model=None, name: str | None = None) -> Problem:
    return parse_instance(data, src, resource_model, name).problem


def read_instance(path_or_data, resource_model=None, name: str | None = None) -> HatScheTInstance:
    """Read a HatScheT GraphML file (or its text/bytes, then with ``resource_model=``) as a `HatScheTInstance`."""
    data, src = load_bytes(path_or_data, ("<?xml", "<graphml"), name)
    return parse_instance(data, src, resource_model, name)


def read(path_or_data, resource_model=None, name: str | None = None) -> Problem:
    """Read a HatScheT GraphML file (its ``<stem>_RM.xml`` is found next to it) as a `Problem`."""
    return read_instance(path_or_data, resource_model, name).problem


def looks_like(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<graphml") or (head.startswith(b"<?xml") and b"<graphml" in head)


# ---------------------------------------------------------------------------------------------------- bounds
def res_mii(problem: Problem) -> int:
    """The resource-constrained minimum II: ``max(1, max_r ceil(units held per iteration on r / limit_r))`` over
    the limited resources, with an op holding one unit for one step if pipelined, else its blocking time (HatScheT:
    ``ceil(#ops * blockingTime / limit)``)."""
    if not problem.has_limits():
        return 1
    hold = problem.use_len.astype(np.int64)
    need = np.bincount(problem.use_res, weights=hold, minlength=len(problem.resource_types))
    best = 1
    for r, rt in enumerate(problem.resource_types):
        if rt.limit is not None and need[r] > 0:
            best = max(best, -(-int(need[r]) // int(rt.limit)))
    return best


# ---------------------------------------------------------------------------------------------------- schedules
def dumps_schedule(problem: Problem, schedule: Schedule) -> str:
    start = np.asarray(schedule.start)
    if len(start) != problem.n_ops:
        raise ProblemError(f"schedule has {len(start)} start steps for {problem.n_ops} operations")
    ii = schedule.ii if schedule.ii is not None else problem.ii
    buf = io.StringIO()
    if ii is not None:
        buf.write(f"# II={int(ii)}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "start"])
    for op, t in zip(problem.op_ids, start):
        w.writerow([op, int(t)])
    return buf.getvalue()


def write_schedule(path, problem: Problem, schedule: Schedule) -> None:
    write_output(path, dumps_schedule(problem, schedule))


def parse_schedule(text: str, src: Source | None, problem: Problem) -> Schedule:
    """Read the CSV of `dumps_schedule` (``# II=k`` line optional; other ``#`` lines are comments)."""
    src = src or Source("<text>", "schedule")
    ii = None
    body: list[tuple[int, str]] = []
    for no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            m = re.fullmatch(r"#\s*II\s*=\s*(\S+)", s)
            if m:
                ii = as_int(m.group(1), src, "II", no, minimum=1)
            continue
        body.append((no, line))
    if not body:
        raise error(src, "empty schedule (expected a 'name,start' header and one row per operation)")
    rows = list(csv.reader([b[1] for b in body]))
    header = [c.strip().lower() for c in rows[0]]
    if header != ["name", "start"]:
        raise error(src, f"expected the header 'name,start', got {','.join(rows[0])!r}", body[0][0])
    start: dict[str, int] = {}
    for (no, _), row in zip(body[1:], rows[1:]):
        if len(row) != 2:
            raise error(src, f"expected 2 fields 'name,start', got {len(row)}", no)
        if row[0] in start:
            raise error(src, f"operation {row[0]!r} listed twice", no)
        start[row[0]] = as_int(row[1], src, f"start of {row[0]!r}", no)
    with in_source(src):
        return Schedule.from_dict(problem, start, ii)


def read_schedule(path_or_text, problem: Problem) -> Schedule:
    data, src = load_bytes(path_or_text, ("name,", "#"))
    return parse_schedule(decode(data, src), src, problem)


# ---------------------------------------------------------------------------------------------------- problems
def dumps(problem: Problem) -> tuple[str, str]:
    """``(graphml_text, resource_model_text)`` for ``problem`` (see the module docstring for what fits)."""
    p = problem
    n = p.n_ops
    hold = p.use_len
    type_res: dict[int, int | None] = {}
    res_type: dict[int, int] = {}
    for k in range(n):
        rs = p.use_res[p.use_ptr[k] : p.use_ptr[k + 1]]
        if len(rs) > 1:
            raise ProblemError(f"HatScheT ops use one resource each, but op {p.op_ids[k]!r} uses {len(rs)}")
        t = int(p.op_type[k])
        r = int(rs[0]) if len(rs) else None
        if r is not None and p.resource_types[r].limit is None:
            r = None  # unlimited: the operator type's own (unlimited) resource
        if type_res.setdefault(t, r) != r:
            raise ProblemError(f"the ops of operator type {p.operator_types[t].name!r} use different resources")
        if r is not None and res_type.setdefault(r, t) != t:
            raise ProblemError(
                f"limited resource {p.resource_types[r].name!r} serves several operator types; HatScheT has one resource per op kind"
            )
    rm = ['<?xml version="1.0" encoding="UTF-8"?><ModelInformation Version="1.0">', "  <Resources>"]
    for t, ot in enumerate(p.operator_types):
        r = type_res.get(t)
        if r is None:
            limit, bt = -1, 1
        else:
            rt = p.resource_types[r]
            limit = int(rt.limit)
            bt = int(hold[p.use_res == r].max()) if rt.occupancy == "blocking" and np.any(p.use_res == r) else 1
        rm.append(
            f'    <Resource blockingTime="{bt}" latency="{int(ot.latency)}" limit="{limit}" name={quoteattr(ot.name)} '
            'physicalDelay="0.0"/>'
        )
    rm += ["  </Resources>", "</ModelInformation>", ""]
    g = ['<?xml version="1.0" encoding="UTF-8"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">', "  <graph>"]
    for k in range(n):
        g.append(f'    <node id="{k}">')
        g.append(f'      <data key="name">{escape(p.op_ids[k])}</data>')
        g.append(f'      <data key="uses_resource">{escape(p.operator_types[p.op_type[k]].name)}</data>')
        g.append("    </node>")
    for e in range(p.n_edges):
        u, v = int(p.edge_src[e]), int(p.edge_dst[e])
        g.append(f'    <edge id="{u}_{v}_{e}" source="{u}" target="{v}">')
        g.append(f'      <data key="delay">{int(p.edge_delay[e])}</data>')
        g.append(f'      <data key="distance">{int(p.edge_distance[e])}</data>')
        g.append("    </edge>")
    g += ["  </graph>", "</graphml>", ""]
    return "\n".join(g), "\n".join(rm)


def write(path, problem: Problem) -> None:
    """Write ``path`` (GraphML) and its resource model ``<stem>_RM.xml`` beside it."""
    graph_text, rm_text = dumps(problem)
    write_output(path, graph_text)
    write_output(_resource_model_path(Path(path))[0], rm_text)
