"""heurigym operator-scheduling JSON (cornell-zhang/heurigym, ``operator_scheduling``).

Input::

    {"name": "...", "delay": {type: cycles}, "resource": {type: units},
     "nodes": [[id, type], ...], "edges": [[src, dst, operand_label], ...]}

Semantics (as the upstream checker): every operator type is also a resource type of the same name with
``resource[type]`` units and *blocking* occupancy, i.e. an op holds one unit during ``[t, t + delay)``.
A type used by a node but missing from ``delay`` is an error; a type missing from ``resource`` (or with
``-1``/``null``) is unlimited. Dependences are ``t_u + delay_u <= t_v``. Every edge gets communication
weight 1.0 and every op weight 1.0. `Problem.name` is the file stem (the JSON ``name`` is often a
generic ``"unnamed"``/``"input"``); pass ``name=`` to override.

Output (schedules): one ``id:start`` line per op, in the problem's op order (`dumps_schedule`).
`dumps`/`write` turn a problem back into heurigym JSON where it is expressible (one blocking resource per
operator type at most, no edge delays or distances).
"""
from __future__ import annotations

import json

import numpy as np

from ..problem import Problem, ProblemError, ResourceType
from ..schedule import Schedule
from ._io import Source, as_int, error, in_source, json_line, load_json, load_text, write_output

FORMAT = "heurigym"
EXTENSIONS = (".json",)


def looks_like(obj) -> bool:
    return isinstance(obj, dict) and "nodes" in obj and "edges" in obj and ("delay" in obj or "resource" in obj)


def read(path_or_text, name: str | None = None, **options) -> Problem:
    """Read a heurigym JSON instance (path, or the JSON text itself)."""
    if options:
        raise ProblemError(f"heurigym reader: unknown option(s) {', '.join(sorted(options))}")
    text, src = load_text(path_or_text, ("{",), name)
    return from_dict(load_json(text, src), src, text)


def from_dict(obj, src: Source | None = None, text: str = "") -> Problem:
    src = src or Source("<dict>", "problem")

    def line(token):
        return json_line(text, token) if text else None

    if not isinstance(obj, dict):
        raise error(src, f"expected a JSON object at the top level, got {type(obj).__name__}")
    for key in ("delay", "nodes"):
        if key not in obj:
            raise error(src, f"missing required key {key!r} (heurigym needs name, delay, resource, nodes, edges)")
    delay, resource = obj["delay"], obj.get("resource", {}) or {}
    nodes, edges = obj["nodes"], obj.get("edges", []) or []
    if not isinstance(delay, dict):
        raise error(src, "'delay' must be an object {type: cycles}", line("delay"))
    if not isinstance(resource, dict):
        raise error(src, "'resource' must be an object {type: units}", line("resource"))
    if not isinstance(nodes, list):
        raise error(src, "'nodes' must be a list of [id, type] pairs", line("nodes"))
    if not isinstance(edges, list):
        raise error(src, "'edges' must be a list of [src, dst, label] triples", line("edges"))

    latency: dict[str, int] = {}
    for t, d in delay.items():
        latency[str(t)] = as_int(d, src, f"delay of type {t!r}", line(t), minimum=0)
    limits: dict[str, int | None] = {}
    for t, r in resource.items():
        if r is None:
            limits[str(t)] = None
            continue
        v = as_int(r, src, f"resource limit of type {t!r}", line(t))
        if v == -1:
            limits[str(t)] = None
        elif v < 1:
            raise error(src, f"resource limit of type {t!r} must be >= 1 (or -1/null for unlimited), got {v}", line(t))
        else:
            limits[str(t)] = v

    ops = []
    seen: set[str] = set()
    for k, rec in enumerate(nodes):
        if not isinstance(rec, (list, tuple)) or len(rec) < 2:
            raise error(src, f"nodes[{k}] must be [id, type], got {json.dumps(rec)[:60]}", line(rec[0]) if isinstance(rec, list) and rec else None)
        op_id, tname = rec[0], rec[1]
        if not isinstance(op_id, (str, int)) or isinstance(op_id, bool):
            raise error(src, f"nodes[{k}]: id must be a string or integer, got {op_id!r}")
        if not isinstance(tname, str):
            raise error(src, f"nodes[{k}] ({op_id}): type must be a string, got {tname!r}", line(op_id))
        op_id = str(op_id)
        if op_id in seen:
            raise error(src, f"duplicate node id {op_id!r} (nodes[{k}])", line(op_id))
        seen.add(op_id)
        if tname not in latency:
            raise error(
                src,
                f"node {op_id!r} has type {tname!r} which has no entry in 'delay' (known: {', '.join(latency) or 'none'})",
                line(op_id),
            )
        ops.append((op_id, tname))

    edge_recs = []
    for k, rec in enumerate(edges):
        if not isinstance(rec, (list, tuple)) or len(rec) < 2:
            raise error(src, f"edges[{k}] must be [src, dst, label], got {json.dumps(rec)[:60]}")
        a, b = str(rec[0]), str(rec[1])
        for end in (a, b):
            if end not in seen:
                raise error(src, f"edges[{k}] {a} -> {b} refers to unknown node {end!r}", line(end))
        edge_recs.append((a, b, 0, 0, 1.0))

    types = list(latency)
    res = [ResourceType(t, limits.get(t), "blocking") for t in types]
    with in_source(src):
        return Problem.build(
            latency,
            ops,
            edge_recs,
            resource_types=res,
            type_resources={t: [t] for t in types},
            name=src.stem,
        )


# ---------------------------------------------------------------------------- writers
def to_dict(problem: Problem) -> dict:
    """The heurigym JSON object for a problem; `ProblemError` if the problem cannot be expressed."""
    if np.any(problem.edge_delay) or np.any(problem.edge_distance):
        raise ProblemError(f"{problem.name}: heurigym JSON cannot express edge delays or iteration distances")
    res_of_type: dict[int, int | None] = {}
    use_op = problem.use_op
    counts = np.diff(problem.use_ptr)
    if np.any(counts > 1):
        raise ProblemError(f"{problem.name}: heurigym JSON allows at most one resource per operation")
    op_res = np.full(problem.n_ops, -1, dtype=np.int64)
    op_res[use_op] = problem.use_res
    for t, ot in enumerate(problem.operator_types):
        rs = np.unique(op_res[problem.op_type == t])
        if len(rs) > 1:
            raise ProblemError(f"{problem.name}: heurigym JSON needs one resource per operator type; type {ot.name!r} uses several")
        res_of_type[t] = int(rs[0]) if len(rs) and rs[0] >= 0 else None
    delay = {t.name: int(t.latency) for t in problem.operator_types}
    resource: dict[str, int] = {}
    for t, r in res_of_type.items():
        tname = problem.operator_types[t].name
        if r is None:
            continue
        rt = problem.resource_types[r]
        if rt.name != tname or rt.occupancy != "blocking" or rt.blocking_time is not None:
            raise ProblemError(
                f"{problem.name}: heurigym JSON needs each type {tname!r} to use a blocking resource of the same name"
            )
        if rt.limit is not None:
            resource[tname] = int(rt.limit)
    type_names = [t.name for t in problem.operator_types]
    nodes = [[op, type_names[k]] for op, k in zip(problem.op_ids, problem.op_type.tolist())]
    ids = problem.op_ids
    edges = [[ids[a], ids[b], str(k)] for k, (a, b) in enumerate(zip(problem.edge_src.tolist(), problem.edge_dst.tolist()))]
    return {"name": problem.name, "delay": delay, "resource": resource, "nodes": nodes, "edges": edges}


def dumps(problem: Problem) -> str:
    obj = to_dict(problem)
    # One node / edge per line, like the upstream files.
    lines = ["{", f'  "name": {json.dumps(obj["name"])},', f'  "delay": {json.dumps(obj["delay"])},',
             f'  "resource": {json.dumps(obj["resource"])},', '  "nodes": [']
    lines.append(",\n".join("    " + json.dumps(n) for n in obj["nodes"]))
    lines.append("  ],")
    lines.append('  "edges": [')
    lines.append(",\n".join("    " + json.dumps(e) for e in obj["edges"]))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(line for line in lines if line != "") + "\n"


def write(path, problem: Problem) -> None:
    write_output(path, dumps(problem))


def dumps_schedule(problem: Problem, schedule: Schedule) -> str:
    """heurigym's expected output: one ``id:start`` line per op, in the problem's op order."""
    start = np.asarray(schedule.start)
    if len(start) != problem.n_ops:
        raise ProblemError(f"schedule has {len(start)} starts but the problem has {problem.n_ops} operations")
    return "".join(f"{op}:{int(t)}\n" for op, t in zip(problem.op_ids, start.tolist()))


def write_schedule(path, problem: Problem, schedule: Schedule) -> None:
    write_output(path, dumps_schedule(problem, schedule))


def parse_schedule(text: str, src: Source, problem: Problem) -> Schedule:
    """Parse ``id:start`` lines (blank lines and ``#`` comments ignored) into a schedule for ``problem``."""
    index = problem.index_of()
    start = np.zeros(problem.n_ops, dtype=np.int64)
    line_of = np.zeros(problem.n_ops, dtype=np.int64)
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if ":" not in s:
            raise error(src, f"expected 'id:start', got {s[:60]!r}", lineno)
        op, t = s.rsplit(":", 1)
        op = op.strip()
        if op not in index:
            raise error(src, f"unknown operation {op!r} (not in problem {problem.name!r})", lineno)
        k = index[op]
        if line_of[k]:
            raise error(src, f"operation {op!r} scheduled twice (first on line {line_of[k]})", lineno)
        try:
            start[k] = int(t.strip())
        except ValueError:
            raise error(src, f"start of {op!r} must be an integer, got {t.strip()!r}", lineno) from None
        except OverflowError:
            raise error(src, f"start of {op!r} is out of range: {t.strip()[:30]}", lineno) from None
        line_of[k] = lineno
    missing = np.flatnonzero(line_of == 0)
    if len(missing):
        raise error(src, f"no start for operation {problem.op_ids[int(missing[0])]!r} ({len(missing)} missing)")
    return Schedule(start, problem.ii)
