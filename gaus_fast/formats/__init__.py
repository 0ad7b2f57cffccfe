"""Readers and writers for every input format, and a dispatcher that picks one.

========== =================== ============================================ =====================================
format     extensions          reader options                               writers
========== =================== ============================================ =====================================
native     .json (``format``)  ``name``                                     problem JSON, schedule JSON
heurigym   .json               ``name``                                     problem JSON, ``id:start`` schedule
dot        .dot .gv            ``latencies limits default_type preset_graph  problem DOT
                               stats_path name``
gml        .gml                ``depth default_weight ids name``            problem GML
aig / aag  .aig .aag           ``depth name``                               ``.aag`` and ``.aig``
ssp        .mlir               ``case check last_op cycle_time name``       problem SSP (+ ``t``), schedule SSP
graphml    .graphml (+_RM.xml) ``resource_model name``                      GraphML + RM XML, schedule CSV
========== =================== ============================================ =====================================

`read_problem` detects the format from the extension and the content: a ``.json`` file is ours when it has
``"format": "gaus_fast.problem"``, heurigym when it has ``nodes``/``edges``/``delay``/``resource``; AIGER binary
or ASCII is told by its header; files with other extensions are sniffed (``{``, ``digraph``, ``graph [``,
``aig``/``aag``, ``ssp.``/``module``, ``<graphml``). CIRCT SSP files may hold several instances: `read_problem`
returns one (``case=`` index or instance name, default 0); `ssp.read_instances` (also exported as
`read_ssp_instances`) returns them all with the ``t``/``z`` they carry. Every error a user can cause is a one-line `ProblemError` naming the file (and the line
where known). Format details and semantics are in each module's docstring; our own JSON formats are documented in
`gaus_fast.formats.native`.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Mapping

from ..problem import Problem, ProblemError
from ..schedule import Schedule
from . import aiger, dot, gml, graphml, heurigym, native, ssp
from ._io import Source, decode, error, load_bytes, load_json

FORMATS = ["native", "heurigym", "dot", "gml", "aig", "aag", "ssp", "graphml"]
PROBLEM_WRITERS = ["json", "heurigym", "dot", "gml", "aag", "aig", "ssp", "graphml"]
SCHEDULE_WRITERS = ["json", "heurigym", "ssp", "csv"]
read_ssp_instances = ssp.read_instances

_ALIASES = {
    "json": "native",
    "gaus_fast": "native",
    "gaus_fast.problem": "native",
    "heurigym": "heurigym",
    "dot": "dot",
    "gv": "dot",
    "gml": "gml",
    "aiger": "aiger",
    "aig": "aiger",
    "aag": "aiger",
    "native": "native",
    "ssp": "ssp",
    "mlir": "ssp",
    "circt": "ssp",
    "graphml": "graphml",
    "hatschet": "graphml",
}
_BY_EXT = {".json": "json", ".dot": "dot", ".gv": "dot", ".gml": "gml", ".aig": "aiger", ".aag": "aiger",
           ".mlir": "ssp", ".graphml": "graphml"}
_READERS = {"native": native.read, "heurigym": heurigym.read, "dot": dot.read, "gml": gml.read, "aiger": aiger.read,
            "ssp": ssp.read, "graphml": graphml.read}

__all__ = [
    "FORMATS",
    "detect_format",
    "read_problem",
    "write_problem",
    "read_schedule",
    "write_schedule",
    "aiger",
    "dot",
    "gml",
    "heurigym",
    "native",
    "ssp",
    "graphml",
    "read_ssp_instances",
]


def _canonical(format: str) -> str:
    key = str(format).lower().lstrip(".")
    if key not in _ALIASES:
        raise ProblemError(f"unknown format {format!r}; known: {', '.join(FORMATS)} (aliases: json, gv, aiger, mlir, hatschet)")
    return _ALIASES[key]


def _sniff(data: bytes, src: Source) -> str:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"aig ", b"aag ", b"aig\n", b"aag\n")):
        return "aiger"
    if head.startswith(b"{"):
        return "json"
    low = head.lower()
    if low.startswith((b"digraph", b"strict")):
        return "dot"
    if low.startswith(b"graph"):
        rest = head[5:].lstrip()
        return "gml" if rest.startswith(b"[") else "dot"
    if low.startswith((b"creator", b"version")):
        return "gml"
    if graphml.looks_like(data):
        return "graphml"
    if ssp.looks_like(data[:65536].decode("utf-8", "replace")):
        return "ssp"
    raise error(src, f"cannot tell the file format; pass format= (one of {', '.join(FORMATS)})")


def _json_kind(obj, src: Source) -> str:
    if native.looks_like(obj):
        return "native"
    if isinstance(obj, dict) and obj.get("format") == native.SCHEDULE_FORMAT:
        raise error(src, "this is a schedule file (gaus_fast.schedule), not a problem; use read_schedule")
    if heurigym.looks_like(obj):
        return "heurigym"
    if isinstance(obj, dict) and "format" in obj:
        raise error(src, f"unknown JSON format {obj['format']!r} (expected {native.PROBLEM_FORMAT!r})")
    raise error(
        src,
        "JSON is neither a gaus_fast problem (\"format\": \"gaus_fast.problem\") "
        "nor a heurigym instance (nodes, edges, delay, resource)",
    )


def detect_format(path) -> str:
    """The reader `read_problem` would use for ``path``: native, heurigym, dot, gml, aiger, ssp or graphml."""
    data, src = load_bytes(Path(path))
    kind = _BY_EXT.get(Path(path).suffix.lower()) or _sniff(data, src)
    if kind == "json":
        kind = _json_kind(load_json(decode(data, src), src), src)
    return kind


def _check_options(fmt: str, options: Mapping[str, Any], src: Source) -> None:
    params = inspect.signature(_READERS[fmt]).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values() if p.name != "options"):
        return
    allowed = [p for p in params if p not in ("path_or_text", "path_or_data", "options")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise error(src, f"the {fmt} reader has no option(s) {', '.join(unknown)}; it takes: {', '.join(allowed) or 'none'}")


def read_problem(path, format: str | None = None, **options) -> Problem:
    """Read a problem file, detecting the format unless ``format`` is given (see the module docstring)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ProblemError(f"read_problem needs a file path, got {type(path).__name__}")
    path = Path(path)
    data, src = load_bytes(path, name=options.get("name"))
    if format is not None:
        kind = _canonical(format)
    else:
        kind = _BY_EXT.get(path.suffix.lower()) or _sniff(data, src)
    if kind in ("native", "heurigym", "json"):
        text = decode(data, src)
        obj = load_json(text, src)
        if kind == "json":
            kind = _json_kind(obj, src)
        _check_options(kind, options, src)
        if kind == "native":
            return native.from_dict(obj, src, text, name_given="name" in options and options["name"] is not None)
        return heurigym.from_dict(obj, src, text)
    _check_options(kind, options, src)
    if kind == "aiger":
        return aiger.parse(data, src, **options)
    if kind == "graphml":
        return graphml.parse(data, src, **options)
    if kind == "ssp":
        return ssp.parse(decode(data, src), src, **options)
    parse = {"dot": dot.parse, "gml": gml.parse}[kind]
    return parse(decode(data, src), src, **options)


def write_problem(path, problem: Problem, format: str = "json") -> None:
    """Write ``problem`` as ``format``: json (ours), heurigym, dot, gml, aag (ASCII AIGER), aig (binary), ssp (CIRCT
    SSP text) or graphml (HatScheT GraphML plus ``<stem>_RM.xml`` beside it)."""
    key = str(format).lower().lstrip(".")
    writers = {
        "json": native.write,
        "native": native.write,
        "heurigym": heurigym.write,
        "dot": dot.write,
        "gv": dot.write,
        "gml": gml.write,
        "aag": aiger.write_ascii,
        "aig": aiger.write_binary,
        "ssp": ssp.write,
        "mlir": ssp.write,
        "graphml": graphml.write,
        "hatschet": graphml.write,
    }
    if key not in writers:
        raise ProblemError(f"unknown problem output format {format!r}; known: {', '.join(PROBLEM_WRITERS)}")
    writers[key](path, problem)


def read_schedule(path, problem: Problem) -> Schedule:
    """Read a schedule for ``problem``: our schedule JSON, the ``t`` of the first instance of a CIRCT SSP file,
    a ``name,start`` CSV (`graphml.dumps_schedule`) or heurigym ``id:start`` lines (told by content)."""
    data, src = load_bytes(Path(path) if isinstance(path, (str, os.PathLike)) else path)
    text = decode(data, src)
    if text.lstrip().startswith("{"):
        return native.schedule_from_dict(load_json(text, src), src, problem, text)
    if ssp.looks_like(text):
        return ssp.read_schedule(text if src.path is None else src.path, problem)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if first.replace(" ", "").lower() == "name,start":
        return graphml.parse_schedule(text, src, problem)
    return heurigym.parse_schedule(text, src, problem)


def write_schedule(
    path, problem: Problem, schedule: Schedule, format: str | None = None, extra: Mapping[str, Any] | None = None
) -> None:
    """Write a schedule: ``format="json"`` (ours; ``extra`` keys are added), ``"heurigym"`` (``id:start``
    lines), ``"ssp"`` (the problem as CIRCT SSP with ``t`` on every op) or ``"csv"`` (``name,start`` rows after
    an optional ``# II=k`` line); ``extra`` is ignored except by json. Default: json for a ``.json`` path, ssp for
    ``.mlir``, csv for ``.csv``, else heurigym."""
    if format is None:
        low = str(path).lower()
        format = "json" if low.endswith(".json") else "ssp" if low.endswith(".mlir") else "csv" if low.endswith(".csv") else "heurigym"
    key = str(format).lower()
    if key in ("json", "native", "gaus_fast"):
        native.write_schedule(path, problem, schedule, extra)
    elif key in ("heurigym", "text", "txt"):
        heurigym.write_schedule(path, problem, schedule)
    elif key in ("ssp", "mlir", "circt"):
        ssp.write(path, problem, schedule)
    elif key in ("csv", "hatschet", "graphml"):
        graphml.write_schedule(path, problem, schedule)
    else:
        raise ProblemError(f"unknown schedule output format {format!r}; known: {', '.join(SCHEDULE_WRITERS)}")
