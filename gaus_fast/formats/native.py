"""gaus_fast's own JSON formats: problems (``gaus_fast.problem``) and schedules (``gaus_fast.schedule``).

Problem file
============

A JSON object; only ``format``, ``operator_types`` and ``ops`` are required::

    {
      "format": "gaus_fast.problem",
      "format_version": 1,
      "name": "fir",
      "operator_types": {"mul": 2, "add": 1},
      "resource_types": [
        {"name": "mul", "limit": 2, "occupancy": "blocking", "blocking_time": null},
        {"name": "add", "limit": null, "occupancy": "pipelined"}
      ],
      "ops": [
        {"id": "m0", "type": "mul", "resources": ["mul"], "weight": 1, "bits": 32},
        {"id": "a0", "type": "add"}
      ],
      "edges": [
        {"src": "m0", "dst": "a0", "delay": 0, "distance": 0, "comm": 0}
      ],
      "depth": null,
      "ii": null
    }

Fields:

* ``format`` (required): ``"gaus_fast.problem"``. ``format_version``: 1 (files with a newer version are refused).
* ``name``: the instance name (default: the file stem).
* ``operator_types``: ``{name: latency}``, latency an integer >= 0 (cycles from an op's start until its result
  may be used; 0 = chaining / stage semantics).
* ``resource_types``: a list of ``{"name", "limit", "occupancy", "blocking_time"}``: ``limit`` units per step
  (an integer >= 1, ``null`` = unlimited); ``occupancy`` ``"pipelined"`` (an op holds one unit in its start step
  only; the default) or ``"blocking"`` (it holds the unit for ``blocking_time`` steps; ``null``, the default,
  means the op's latency, at least 1). With an II, usage is counted modulo II.
* ``ops``: a list of ``{"id", "type", "resources", "weight", "bits"}`` in the order that defines op indices:
  ``id`` a unique string (integers are converted), ``type`` a key of ``operator_types``, ``resources`` the list of
  resource type names the op uses (default ``[]``), ``weight`` >= 0 (default 1; counted in the weighted resource
  profile), ``bits`` an integer >= 0 (default 32; for register pressure).
* ``edges``: a list of ``{"src", "dst", "delay", "distance", "comm"}``: a dependence from op id ``src`` to
  ``dst`` meaning ``t_src + lat_src + delay <= t_dst + distance * II``; ``delay`` and ``distance`` integers >= 0
  (default 0), ``comm`` the communication weight >= 0 (default 0). A compact ``[src, dst, delay, distance, comm]``
  list (trailing items optional) is accepted as well.
* ``depth``: ``null`` or the depth bound D (every op ends by D: ``t_i + max(lat_i, 1) <= D``).
* ``ii``: ``null`` or the initiation interval.

The writer omits fields at their defaults (``resources`` empty, ``weight`` 1, ``bits`` 32, edge delay/distance/comm
0, ``blocking_time`` null).

Schedule file
=============

::

    {"format": "gaus_fast.schedule", "format_version": 1, "instance": "fir",
     "start": {"m0": 0, "a0": 2}, "ii": null, "makespan": 3, "solver": "..."}

``start`` maps every op id of the problem to an integer start step; ``ii`` is ``null`` or the II; ``instance``
names the problem; any other keys are free-form extras (metrics, solver settings) that readers ignore.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

import numpy as np

from ..problem import OperatorType, Problem, ProblemError, ResourceType
from ..schedule import Schedule
from ._io import Source, as_float, as_int, error, in_source, json_line, load_json, load_text, write_output

FORMAT = "native"
PROBLEM_FORMAT = "gaus_fast.problem"
SCHEDULE_FORMAT = "gaus_fast.schedule"
FORMAT_VERSION = 1
EXTENSIONS = (".json",)


def looks_like(obj) -> bool:
    return isinstance(obj, dict) and obj.get("format") == PROBLEM_FORMAT


def read(path_or_text, name: str | None = None, **options) -> Problem:
    """Read a ``gaus_fast.problem`` JSON file (path, or the JSON text itself)."""
    if options:
        raise ProblemError(f"native reader: unknown option(s) {', '.join(sorted(options))}")
    text, src = load_text(path_or_text, ("{",), name)
    obj = load_json(text, src)
    return from_dict(obj, src, text, name_given=name is not None)


def _version(obj: dict, src: Source, expected_format: str) -> None:
    fmt = obj.get("format")
    if fmt is not None and fmt != expected_format:
        raise error(src, f"'format' is {fmt!r}, expected {expected_format!r}")
    ver = obj.get("format_version", FORMAT_VERSION)
    ver = as_int(ver, src, "format_version")
    if ver > FORMAT_VERSION:
        raise error(src, f"format_version {ver} is newer than this gaus_fast supports ({FORMAT_VERSION})")
    if ver < 1:
        raise error(src, f"format_version must be >= 1, got {ver}")


def _opt_int(v, src, what, line=None, minimum=None):
    return None if v is None else as_int(v, src, what, line, minimum)


def from_dict(obj, src: Source | None = None, text: str = "", name_given: bool = False) -> Problem:
    src = src or Source("<dict>", "problem")

    def line(token):
        return json_line(text, token) if text else None

    if not isinstance(obj, dict):
        raise error(src, f"expected a JSON object at the top level, got {type(obj).__name__}")
    _version(obj, src, PROBLEM_FORMAT)
    for key in ("operator_types", "ops"):
        if key not in obj:
            raise error(src, f"missing required key {key!r}")
    name = src.stem if name_given or obj.get("name") is None else str(obj["name"])

    ot = obj["operator_types"]
    if not isinstance(ot, dict):
        raise error(src, "'operator_types' must be an object {name: latency}", line("operator_types"))
    types = [OperatorType(str(k), as_int(v, src, f"latency of operator type {k!r}", line(k), minimum=0)) for k, v in ot.items()]
    type_index = {t.name: i for i, t in enumerate(types)}

    rts = obj.get("resource_types", []) or []
    if not isinstance(rts, list):
        raise error(src, "'resource_types' must be a list", line("resource_types"))
    resources = []
    for k, r in enumerate(rts):
        if not isinstance(r, dict) or "name" not in r:
            raise error(src, f"resource_types[{k}] must be an object with a 'name'", line("resource_types"))
        rname = str(r["name"])
        ln = line(rname)
        limit = _opt_int(r.get("limit"), src, f"limit of resource {rname!r}", ln)
        if limit == -1:
            limit = None
        occ = r.get("occupancy", "pipelined")
        if occ not in ("pipelined", "blocking"):
            raise error(src, f"resource {rname!r}: occupancy must be 'pipelined' or 'blocking', got {occ!r}", ln)
        bt = _opt_int(r.get("blocking_time"), src, f"blocking_time of resource {rname!r}", ln)
        unknown = set(r) - {"name", "limit", "occupancy", "blocking_time"}
        if unknown:
            raise error(src, f"resource {rname!r}: unknown field(s) {', '.join(sorted(unknown))}", ln)
        resources.append(ResourceType(rname, limit, occ, bt))
    res_index = {r.name: i for i, r in enumerate(resources)}
    if len(res_index) != len(resources):
        dup = next(r.name for k, r in enumerate(resources) if res_index[r.name] != k)
        raise error(src, f"duplicate resource type {dup!r}", line(dup))

    ops = obj["ops"]
    if not isinstance(ops, list):
        raise error(src, "'ops' must be a list", line("ops"))
    n = len(ops)
    op_ids: list[str] = []
    op_type = np.empty(n, dtype=np.int32)
    weight = np.ones(n)
    bits = np.full(n, 32, dtype=np.int64)
    use_ptr = np.zeros(n + 1, dtype=np.int64)
    use_res: list[int] = []
    index: dict[str, int] = {}
    for k, rec in enumerate(ops):
        if not isinstance(rec, dict):
            raise error(src, f"ops[{k}] must be an object {{'id', 'type', ...}}")
        if "id" not in rec or "type" not in rec:
            raise error(src, f"ops[{k}] needs 'id' and 'type'", line(rec.get("id", "")) if "id" in rec else None)
        op = rec["id"]
        if isinstance(op, bool) or not isinstance(op, (str, int)):
            raise error(src, f"ops[{k}]: id must be a string, got {op!r}")
        op = str(op)
        if op in index:
            raise error(src, f"duplicate operation id {op!r} (ops[{index[op]}] and ops[{k}])", line(op))
        index[op] = k
        op_ids.append(op)
        t = rec["type"]
        if not isinstance(t, str) or t not in type_index:
            raise error(src, f"operation {op!r} has unknown operator type {t!r} (known: {', '.join(type_index) or 'none'})", line(op))
        op_type[k] = type_index[t]
        if "weight" in rec:
            weight[k] = as_float(rec["weight"], src, f"weight of operation {op!r}", line(op))
        if "bits" in rec:
            bits[k] = as_int(rec["bits"], src, f"bits of operation {op!r}", line(op), minimum=0)
        rs = rec.get("resources") or []
        if not isinstance(rs, list):
            raise error(src, f"operation {op!r}: 'resources' must be a list of names", line(op))
        for rn in rs:
            if rn not in res_index:
                raise error(src, f"operation {op!r} uses unknown resource type {rn!r}", line(op))
            use_res.append(res_index[rn])
        use_ptr[k + 1] = len(use_res)
        unknown = set(rec) - {"id", "type", "resources", "weight", "bits"}
        if unknown:
            raise error(src, f"operation {op!r}: unknown field(s) {', '.join(sorted(unknown))}", line(op))

    edges = obj.get("edges", []) or []
    if not isinstance(edges, list):
        raise error(src, "'edges' must be a list", line("edges"))
    m = len(edges)
    e_src = np.empty(m, dtype=np.int32)
    e_dst = np.empty(m, dtype=np.int32)
    delay = np.zeros(m, dtype=np.int64)
    dist = np.zeros(m, dtype=np.int64)
    comm = np.zeros(m)
    keys = ("src", "dst", "delay", "distance", "comm")
    for k, rec in enumerate(edges):
        if isinstance(rec, list):
            if not 2 <= len(rec) <= 5:
                raise error(src, f"edges[{k}]: a list edge must be [src, dst, delay, distance, comm]")
            rec = dict(zip(keys, rec))
        elif not isinstance(rec, dict):
            raise error(src, f"edges[{k}] must be an object {{'src', 'dst', ...}}")
        if "src" not in rec or "dst" not in rec:
            raise error(src, f"edges[{k}] needs 'src' and 'dst'")
        a, b = str(rec["src"]), str(rec["dst"])
        for end in (a, b):
            if end not in index:
                raise error(src, f"edges[{k}] {a} -> {b} refers to unknown operation {end!r}", line(end))
        e_src[k], e_dst[k] = index[a], index[b]
        if "delay" in rec:
            delay[k] = as_int(rec["delay"], src, f"delay of edge {a} -> {b}", minimum=0)
        if "distance" in rec:
            dist[k] = as_int(rec["distance"], src, f"distance of edge {a} -> {b}", minimum=0)
        if "comm" in rec:
            comm[k] = as_float(rec["comm"], src, f"comm of edge {a} -> {b}")
        if len(rec) > 2:
            unknown = set(rec) - set(keys)
            if unknown:
                raise error(src, f"edge {a} -> {b}: unknown field(s) {', '.join(sorted(unknown))}")

    depth = _opt_int(obj.get("depth"), src, "depth", line("depth"), minimum=1)
    ii = _opt_int(obj.get("ii"), src, "ii", line("ii"), minimum=1)
    with in_source(src):
        return Problem(
            op_ids=op_ids,
            op_type=op_type,
            operator_types=types,
            edge_src=e_src,
            edge_dst=e_dst,
            resource_types=resources,
            use_ptr=use_ptr,
            use_res=np.array(use_res, dtype=np.int32),
            op_weight=weight,
            op_bits=bits,
            edge_delay=delay,
            edge_distance=dist,
            edge_comm=comm,
            depth=depth,
            ii=ii,
            name=name,
        )


# ---------------------------------------------------------------------------- writers
def _num(v: float):
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def to_dict(problem: Problem) -> dict:
    ops = []
    tnames = [t.name for t in problem.operator_types]
    rnames = [r.name for r in problem.resource_types]
    ptr = problem.use_ptr.tolist()
    use = problem.use_res.tolist()
    for k, (op, t, w, b) in enumerate(zip(problem.op_ids, problem.op_type.tolist(), problem.op_weight.tolist(), problem.op_bits.tolist())):
        rec: dict[str, Any] = {"id": op, "type": tnames[t]}
        if ptr[k + 1] > ptr[k]:
            rec["resources"] = [rnames[r] for r in use[ptr[k]:ptr[k + 1]]]
        if w != 1:
            rec["weight"] = _num(w)
        if b != 32:
            rec["bits"] = int(b)
        ops.append(rec)
    ids = problem.op_ids
    edges = []
    for a, b, d, s, c in zip(
        problem.edge_src.tolist(), problem.edge_dst.tolist(), problem.edge_delay.tolist(),
        problem.edge_distance.tolist(), problem.edge_comm.tolist(),
    ):
        rec = {"src": ids[a], "dst": ids[b]}
        if d:
            rec["delay"] = int(d)
        if s:
            rec["distance"] = int(s)
        if c:
            rec["comm"] = _num(c)
        edges.append(rec)
    res = []
    for r in problem.resource_types:
        rec = {"name": r.name, "limit": None if r.limit is None else int(r.limit), "occupancy": r.occupancy}
        if r.blocking_time is not None:
            rec["blocking_time"] = int(r.blocking_time)
        res.append(rec)
    return {
        "format": PROBLEM_FORMAT,
        "format_version": FORMAT_VERSION,
        "name": problem.name,
        "operator_types": {t.name: int(t.latency) for t in problem.operator_types},
        "resource_types": res,
        "ops": ops,
        "edges": edges,
        "depth": None if problem.depth is None else int(problem.depth),
        "ii": None if problem.ii is None else int(problem.ii),
    }


def dumps(problem: Problem) -> str:
    """The problem as ``gaus_fast.problem`` JSON, one op / edge / resource per line."""
    obj = to_dict(problem)
    out = ["{"]
    items = list(obj.items())
    for k, (key, val) in enumerate(items):
        comma = "," if k < len(items) - 1 else ""
        if key in ("ops", "edges", "resource_types") and val:
            out.append(f"  {json.dumps(key)}: [")
            out.append(",\n".join("    " + json.dumps(v) for v in val))
            out.append(f"  ]{comma}")
        else:
            out.append(f"  {json.dumps(key)}: {json.dumps(val)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def write(path, problem: Problem) -> None:
    write_output(path, dumps(problem))


# ---------------------------------------------------------------------------- schedules
_RESERVED = ("format", "format_version", "instance", "start", "ii")


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def schedule_to_dict(problem: Problem, schedule: Schedule, extra: Mapping[str, Any] | None = None) -> dict:
    start = np.asarray(schedule.start)
    if len(start) != problem.n_ops:
        raise ProblemError(f"schedule has {len(start)} starts but problem {problem.name!r} has {problem.n_ops} operations")
    obj: dict[str, Any] = {
        "format": SCHEDULE_FORMAT,
        "format_version": FORMAT_VERSION,
        "instance": problem.name,
        "start": dict(zip(problem.op_ids, start.tolist())),
        "ii": None if schedule.ii is None else int(schedule.ii),
    }
    for k, v in (extra or {}).items():
        if k in _RESERVED:
            raise ProblemError(f"schedule extra key {k!r} is reserved ({', '.join(_RESERVED)})")
        obj[str(k)] = v
    return obj


def dumps_schedule(problem: Problem, schedule: Schedule, extra: Mapping[str, Any] | None = None) -> str:
    obj = schedule_to_dict(problem, schedule, extra)
    try:
        return json.dumps(obj, indent=1, default=_jsonable) + "\n"
    except (TypeError, ValueError) as err:
        raise ProblemError(f"schedule extras cannot be written as JSON: {err}") from None


def write_schedule(path, problem: Problem, schedule: Schedule, extra: Mapping[str, Any] | None = None) -> None:
    write_output(path, dumps_schedule(problem, schedule, extra))


def schedule_from_dict(obj, src: Source, problem: Problem, text: str = "") -> Schedule:
    if not isinstance(obj, dict):
        raise error(src, f"expected a JSON object at the top level, got {type(obj).__name__}")
    if obj.get("format") != SCHEDULE_FORMAT:
        raise error(src, f"'format' must be {SCHEDULE_FORMAT!r}, got {obj.get('format')!r}")
    _version(obj, src, SCHEDULE_FORMAT)
    start = obj.get("start")
    if not isinstance(start, dict):
        raise error(src, "'start' must be an object {op_id: step}", json_line(text, "start") if text else None)
    for op, t in start.items():
        if isinstance(t, bool) or not isinstance(t, (int, float)) or (isinstance(t, float) and not (math.isfinite(t) and t == int(t))):
            raise error(src, f"start of {op!r} must be an integer, got {t!r}", json_line(text, op) if text else None)
    ii = _opt_int(obj.get("ii"), src, "ii", minimum=1)
    with in_source(src):
        return Schedule.from_dict(problem, start, ii)
