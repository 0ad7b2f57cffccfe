"""ExpressDFG DOT data-flow graphs (UCSB EXPRESS / the EDS benchmarks).

The files are a simple DOT subset::

    digraph name {
        node [fontcolor=white,style=filled,color=blue2];
        1 [label = mul];
        1 -> 3 [name = 16];
    }

This reader tokenises the DOT subset properly (quoted ids, ``//``/``/* */``/``#`` comments, several statements per
line, ``a -> b -> c`` chains, ``node``/``edge``/``graph`` attribute statements, ``key = value`` graph attributes)
and rejects subgraphs and undirected graphs.

Semantics:

* the node ``label`` is the operator type (kept as written; matching below is case-insensitive);
* a node used in an edge before its ``[label = ...]`` line is fine; a node that never gets a label (also from a
  ``node [label=...]`` default) is an error unless ``default_type=`` is given;
* dependences ``t_u + lat_u <= t_v``; every edge has communication weight 1.0; every op weight 1.0;
* latencies: ``latencies={type: cycles}`` (keys matched case-insensitively); types it does not name fall back to
  the usual convention, MUL and DIV take 2 cycles and every other type 1;
* resource limits (blocking occupancy, as heurigym: an op holds a unit during ``[t, t + lat)``):

  - ``limits=None`` (default): unlimited, no resource types;
  - ``limits={type: units}`` (case-insensitive keys; ``None``/``-1`` = unlimited): one resource per operator
    type, named like the type; types not named are unlimited; keys naming no type in the graph are ignored;
  - ``limits="wang2007"`` (alias ``"table1"``, ``"mul_alu"``): the classic MUL/ALU table of Wang et al. (TCAD
    2007), as kept (commented out) in EDS ``main.cpp``: two resources, ``MUL`` shared by MUL and DIV ops and
    ``ALU`` shared by every other op, with the graph's entry of the ``RC_MUL_ALU`` column of
    ``express-eds-benchmarks/STATS.tsv``;
  - ``limits="complexfu"`` (alias ``"table2"``, ``"eds"``): EDS's active "complex FU library" table (column
    ``RC_complexFU``): one resource per listed type (case-insensitive); DIV ops share the MUL unit when DIV is not
    listed (EDS maps DIV onto the multiplier); any other unlisted type is unlimited.

  The two presets are looked up in ``STATS.tsv`` under `gaus_fast.data.data_root()` (the tables are not copied
  into the code): by the file name (``hal.dot``), else by ``preset_graph=`` (a dot file stem or heurigym name),
  else by the ``digraph`` name. `preset_table()` returns a whole table.

`dumps`/`write` emit the graph in the same DOT subset (latencies and limits are not part of the format).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ..problem import Problem, ProblemError, ResourceType
from ._io import Source, as_int, error, in_source, load_text, write_output

FORMAT = "dot"
EXTENSIONS = (".dot", ".gv")

#: Types that take 2 cycles under the default convention (compared upper-case).
TWO_CYCLE_TYPES = frozenset({"MUL", "DIV"})

PRESETS = {
    "wang2007": "RC_MUL_ALU(Wang2007,commented_in_EDS)",
    "table1": "RC_MUL_ALU(Wang2007,commented_in_EDS)",
    "mul_alu": "RC_MUL_ALU(Wang2007,commented_in_EDS)",
    "complexfu": "RC_complexFU(EDS_main.cpp,active)",
    "table2": "RC_complexFU(EDS_main.cpp,active)",
    "eds": "RC_complexFU(EDS_main.cpp,active)",
}
_MUL_ALU_COLUMN = PRESETS["wang2007"]

_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*|/\*.*?\*/|(?m:^[ \t]*\#[^\n]*))
  | (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<arrow>->|--)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<id>[A-Za-z_\x80-\uffff][A-Za-z_0-9\x80-\uffff]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
  | (?P<punct>[{}\[\];,=:])
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(text: str, src: Source):
    """(kind, value, line) tuples; kinds: id (ids, numbers and quoted strings), arrow, punct."""
    line = 1
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        val = m.group()
        if kind == "ws":
            continue
        if kind == "nl":
            line += 1
            continue
        if kind == "comment":
            line += val.count("\n")
            continue
        if kind == "bad":
            if val == '"':
                raise error(src, "unterminated quoted string", line)
            raise error(src, f"unexpected character {val!r}", line)
        if kind == "str":
            out.append(("id", val[1:-1].replace('\\"', '"').replace("\\\n", ""), line))
            line += val.count("\n")
            continue
        out.append((kind, val, line))
    return out


def _parse(text: str, src: Source):
    """Parse the DOT subset: returns (graph name, {node: attrs} in first-seen order, {node: line}, [(a, b, line)])."""
    toks = _tokens(text, src)
    n = len(toks)
    pos = 0

    def peek(k=0):
        return toks[pos + k] if pos + k < n else ("eof", "", toks[-1][2] if toks else 1)

    def expect(kind, val=None):
        nonlocal pos
        t = peek()
        if t[0] != kind or (val is not None and t[1] != val):
            want = val if val is not None else kind
            got = "end of file" if t[0] == "eof" else repr(t[1])
            raise error(src, f"expected {want!r}, got {got}", t[2])
        pos += 1
        return t

    def attr_list():
        nonlocal pos
        attrs: dict[str, str] = {}
        while peek()[0] == "punct" and peek()[1] == "[":
            pos += 1
            while not (peek()[0] == "punct" and peek()[1] == "]"):
                k = expect("id")
                if peek()[1] == "=":
                    pos += 1
                    v = expect("id")
                    attrs[k[1]] = v[1]
                else:
                    attrs[k[1]] = "true"
                if peek()[0] == "punct" and peek()[1] in ",;":
                    pos += 1
            expect("punct", "]")
        return attrs

    # header
    t = peek()
    if t[0] == "id" and t[1].lower() == "strict":
        pos += 1
        t = peek()
    if t[0] != "id" or t[1].lower() not in ("digraph", "graph"):
        got = "end of file" if t[0] == "eof" else repr(t[1])
        raise error(src, f"expected 'digraph NAME {{', got {got}", t[2])
    if t[1].lower() == "graph":
        raise error(src, "undirected 'graph' is not a data-flow graph; expected 'digraph'", t[2])
    pos += 1
    gname = ""
    if peek()[0] == "id":
        gname = expect("id")[1]
    expect("punct", "{")

    node_attrs: dict[str, dict[str, str]] = {}
    node_line: dict[str, int] = {}
    node_defaults: dict[str, str] = {}
    edges: list[tuple[str, str, int]] = []

    def touch(node_id: str, line: int):
        if node_id not in node_attrs:
            node_attrs[node_id] = dict(node_defaults)
            node_line[node_id] = line

    while True:
        t = peek()
        if t[0] == "eof":
            raise error(src, "missing closing '}'", t[2])
        if t[0] == "punct" and t[1] == "}":
            pos += 1
            break
        if t[0] == "punct" and t[1] == ";":
            pos += 1
            continue
        if t[0] != "id":
            raise error(src, f"expected a node, edge or attribute statement, got {t[1]!r}", t[2])
        word = t[1]
        if word.lower() in ("subgraph",) or (t[0] == "punct" and t[1] == "{"):
            raise error(src, "subgraphs are not supported", t[2])
        if word.lower() in ("node", "edge", "graph") and peek(1)[0] == "punct" and peek(1)[1] == "[":
            pos += 1
            attrs = attr_list()
            if word.lower() == "node":
                node_defaults.update(attrs)
            continue
        if peek(1)[0] == "punct" and peek(1)[1] == "=":
            pos += 2  # graph attribute: key = value
            expect("id")
            continue
        # node or edge statement
        chain = [expect("id")]
        if peek()[0] == "punct" and peek()[1] == ":":
            raise error(src, "node ports are not supported", peek()[2])
        while peek()[0] == "arrow":
            arrow = expect("arrow")
            if arrow[1] == "--":
                raise error(src, "undirected edge '--' in a digraph", arrow[2])
            if peek()[0] == "punct" and peek()[1] == "{":
                raise error(src, "edge groups '{a b}' are not supported", peek()[2])
            chain.append(expect("id"))
        attrs = attr_list()
        if len(chain) == 1:
            node_id, line = chain[0][1], chain[0][2]
            touch(node_id, line)
            node_attrs[node_id].update(attrs)
            node_line[node_id] = line if "label" in attrs else node_line[node_id]
        else:
            for a, b in zip(chain, chain[1:]):
                touch(a[1], a[2])
                touch(b[1], b[2])
                edges.append((a[1], b[1], b[2]))
    t = peek()
    if t[0] != "eof":
        raise error(src, f"unexpected {t[1]!r} after the closing '}}'", t[2])
    return gname, node_attrs, node_line, edges


def default_latency(type_name: str) -> int:
    """The usual ExpressDFG convention: MUL and DIV take 2 cycles, everything else 1 (case-insensitive)."""
    return 2 if type_name.upper() in TWO_CYCLE_TYPES else 1


def read(
    path_or_text,
    latencies: Mapping[str, int] | None = None,
    limits: Mapping[str, int | None] | str | None = None,
    default_type: str | None = None,
    preset_graph: str | None = None,
    stats_path=None,
    name: str | None = None,
) -> Problem:
    """Read an ExpressDFG DOT graph (path, or the DOT text itself); see the module docstring for the options."""
    text, src = load_text(path_or_text, ("digraph", "strict", "graph", "//", "/*"), name)
    return parse(text, src, latencies, limits, default_type, preset_graph, stats_path, name)


def parse(text: str, src: Source, latencies=None, limits=None, default_type=None, preset_graph=None, stats_path=None, name=None) -> Problem:
    """`read` on text already loaded (``src`` names it in messages)."""
    gname, node_attrs, node_line, edges = _parse(text, src)
    if name is None and src.path is None and gname:
        src.stem = gname

    op_ids = list(node_attrs)
    types: dict[str, int] = {}
    op_types = []
    for op in op_ids:
        label = node_attrs[op].get("label")
        if label is None or label.strip() == "":
            if default_type is None:
                raise error(src, f"node {op!r} has no label (its operator type); pass default_type= to allow this", node_line[op])
            label = default_type
        label = label.strip()
        types.setdefault(label, len(types))
        op_types.append(label)

    if latencies is not None and not isinstance(latencies, Mapping):
        raise error(src, f"latencies must be a dict {{type: cycles}}, got {type(latencies).__name__}")
    lat_map = {str(k).upper(): v for k, v in (latencies or {}).items()}
    latency = {}
    for t in types:
        if t.upper() in lat_map:
            latency[t] = as_int(lat_map[t.upper()], src, f"latency of type {t!r}", minimum=0)
        else:
            latency[t] = default_latency(t)

    resources, type_res = _resources(list(types), limits, src, gname, preset_graph, stats_path)
    ops = [(op, t) for op, t in zip(op_ids, op_types)]
    erecs = [(a, b, 0, 0, 1.0) for a, b, _ in edges]
    with in_source(src):
        return Problem.build(latency, ops, erecs, resource_types=resources, type_resources=type_res, name=src.stem)


# ---------------------------------------------------------------------------- limits and presets
def _limit_value(v, src, what):
    if v is None:
        return None
    v = as_int(v, src, what)
    if v == -1:
        return None
    if v < 1:
        raise error(src, f"{what} must be >= 1 (or -1/None for unlimited), got {v}")
    return v


def _resources(types, limits, src: Source, gname, preset_graph, stats_path):
    if limits is None:
        return [], {}
    if isinstance(limits, str):
        key = limits.lower()
        if key not in PRESETS:
            raise error(src, f"unknown limits preset {limits!r}; known: {', '.join(sorted(PRESETS))}")
        row = _preset_row(PRESETS[key], src, gname, preset_graph, stats_path)
        if PRESETS[key] == _MUL_ALU_COLUMN:
            mul = row.get("MUL")
            alu = row.get("ALU")
            res, type_res = [], {}
            uses_mul = [t for t in types if t.upper() in TWO_CYCLE_TYPES]
            uses_alu = [t for t in types if t.upper() not in TWO_CYCLE_TYPES]
            if uses_mul:
                res.append(ResourceType("MUL", mul, "blocking"))
                type_res.update({t: ["MUL"] for t in uses_mul})
            if uses_alu:
                res.append(ResourceType("ALU", alu, "blocking"))
                type_res.update({t: ["ALU"] for t in uses_alu})
            return res, type_res
        table = row
        res, type_res = [], {}
        by_name: dict[str, str] = {}
        for t in types:
            key_t = t.upper()
            unit = key_t if key_t in table else ("MUL" if key_t == "DIV" and "MUL" in table else None)
            if unit is None:
                continue
            if unit not in by_name:
                rname = t if unit == key_t else next((u for u in types if u.upper() == unit), unit)
                by_name[unit] = rname
                res.append(ResourceType(rname, table[unit], "blocking"))
            type_res[t] = [by_name[unit]]
        return res, type_res
    if not isinstance(limits, Mapping):
        raise error(src, f"limits must be a dict, a preset name or None, got {type(limits).__name__}")
    lim = {str(k).upper(): _limit_value(v, src, f"limit of type {k!r}") for k, v in limits.items()}
    res = [ResourceType(t, lim.get(t.upper()), "blocking") for t in types]
    return res, {t: [t] for t in types}


def _stats_file(stats_path) -> Path:
    if stats_path is not None:
        return Path(stats_path)
    from ..data import dataset

    return dataset("express-eds-benchmarks") / "STATS.tsv"


def _parse_table(cell: str) -> dict[str, int]:
    out = {}
    for part in cell.split(","):
        m = re.fullmatch(r"\s*([A-Za-z_]+?)(\d+)\s*", part)
        if m:
            out[m.group(1).upper()] = int(m.group(2))
    return out


def preset_table(preset: str, stats_path=None) -> dict[str, dict[str, int]]:
    """A whole preset table, ``{dot file stem: {unit (upper-case): limit}}``, read from the data's STATS.tsv."""
    if preset.lower() not in PRESETS:
        raise ProblemError(f"unknown limits preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
    rows = _read_stats(Source(str(_stats_file(stats_path)), "STATS"), stats_path)
    col = PRESETS[preset.lower()]
    return {Path(r["dot_file"]).stem: _parse_table(r.get(col, "")) for r in rows}


def _read_stats(src: Source, stats_path) -> list[dict[str, str]]:
    path = _stats_file(stats_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise error(
            src, f"limits presets need the EDS table {path} (set GAUS_FAST_DATA to the benchmark data folder)"
        ) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise error(str(path), "empty table")
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]


def _preset_row(column: str, src: Source, gname: str, preset_graph, stats_path) -> dict[str, int]:
    rows = _read_stats(src, stats_path)
    keys = []
    if preset_graph:
        keys.append(str(preset_graph))
    if src.path is not None:
        keys.append(src.path.name)
    if gname:
        keys.append(gname)
    for key in keys:
        k = key[:-4] if key.endswith(".dot") else key
        for r in rows:
            if k in (Path(r.get("dot_file", "")).stem, r.get("heurigym_name")):
                if column not in r:
                    raise error(src, f"the EDS table has no column {column!r}")
                return _parse_table(r[column])
    raise error(
        src,
        f"no row for this graph in the EDS limits table (tried {', '.join(map(repr, keys)) or 'nothing'}); "
        "pass preset_graph= (e.g. 'hal') or explicit limits",
    )


# ---------------------------------------------------------------------------- writer
_PLAIN_ID = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)")
_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def _quote(s: str) -> str:
    if _PLAIN_ID.fullmatch(s) and s.lower() not in _KEYWORDS:
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dumps(problem: Problem) -> str:
    """The problem's graph as ExpressDFG-style DOT (node labels are operator type names).

    Only the graph and the type names are written; edge delays and iteration distances cannot be expressed and
    raise `ProblemError` (latencies and limits are reader options, not part of the file)."""
    if np.any(problem.edge_delay) or np.any(problem.edge_distance):
        raise ProblemError(f"{problem.name}: ExpressDFG DOT cannot express edge delays or iteration distances")
    tnames = [t.name for t in problem.operator_types]
    ids = [_quote(op) for op in problem.op_ids]
    lines = [f"digraph {_quote(problem.name)} {{", "    node [fontcolor=white,style=filled,color=blue2];"]
    lines += [f"    {op} [label = {_quote(tnames[t])}];" for op, t in zip(ids, problem.op_type.tolist())]
    lines += [
        f"    {ids[a]} -> {ids[b]} [name = {k}];"
        for k, (a, b) in enumerate(zip(problem.edge_src.tolist(), problem.edge_dst.tolist()))
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(path, problem: Problem) -> None:
    write_output(path, dumps(problem))
