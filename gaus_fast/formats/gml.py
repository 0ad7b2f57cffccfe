"""GML graphs of the ICML'24 differentiable scheduler (networkx-style ``graph [ directed 1 node [...] edge [...] ]``).

Semantics (stage assignment, objective A of the GauS paper):

* one operator type ``"node"`` with latency 0 (``s_u <= s_v``; an op still takes one stage against a depth bound);
* op id = the node's ``id`` as a string (``ids="label"`` uses the ``label`` string instead);
* op weight = the node's ``parameter`` (``default_weight``, 0.0, when absent; every node in the shipped data has
  one, about 60% of them 0);
* an edge's communication weight is 1.0 if its ``parameter`` > 0, else 0.0 (absent: 0.0);
* no resource types; ``depth`` None unless given.

Parallel edges are kept; ``directed 0`` is rejected. The parser is a small regex tokenizer plus a flat loop over
the token list: ``rand_graph_10000_1.gml`` (9,432 nodes, 27,636 edges) reads in about 0.15 s including
`Problem` validation, against 1.6 s for ``networkx.read_gml`` on the same (shared, 2-core) machine.
`dumps`/`write` write networkx-compatible GML (integer ids; the op id goes to ``label``).
"""
from __future__ import annotations

import html
import re

import numpy as np

from ..problem import OperatorType, Problem, ProblemError
from ._io import Source, error, in_source, load_text, write_output

FORMAT = "gml"
EXTENSIONS = (".gml",)
NODE_TYPE = "node"

_TOKEN = re.compile(r'\[|\]|"[^"]*"|[^\s\[\]"]+')
_TOKEN_OR_BAD = re.compile(r'\[|\]|"[^"]*"|[^\s\[\]"]+|"')


class _Tokens:
    def __init__(self, text: str, src: Source):
        self.text = text
        self.src = src
        self.toks = _TOKEN.findall(text)
        if text.count('"') % 2:
            # find the unterminated quote for the message
            for m in _TOKEN_OR_BAD.finditer(text):
                if m.group() == '"':
                    raise error(src, "unterminated string", text.count("\n", 0, m.start()) + 1)

    def line(self, k: int) -> int | None:
        """Line of the k-th token (computed only for messages)."""
        if k >= len(self.toks):
            return self.text.count("\n") + 1
        for j, m in enumerate(_TOKEN.finditer(self.text)):
            if j == k:
                return self.text.count("\n", 0, m.start()) + 1
        return None

    def fail(self, k: int, msg: str) -> ProblemError:
        return error(self.src, msg, self.line(k))


def _skip_value(tk: _Tokens, i: int) -> int:
    """Index after the value starting at token i (a scalar or a nested [...] list)."""
    toks = tk.toks
    if i >= len(toks):
        raise tk.fail(i, "unexpected end of file (missing value)")
    if toks[i] == "]":
        raise tk.fail(i, "missing value before ']'")
    if toks[i] != "[":
        return i + 1
    depth = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if t == "[":
            depth += 1
        elif t == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise tk.fail(n, "unexpected end of file (unclosed '[')")


def _record(tk: _Tokens, i: int, wanted: tuple[str, ...]) -> tuple[int, dict[str, tuple[str, int]]]:
    """Parse ``[ key value ... ]`` starting at the '[' at token i; returns (index after, {key: (token, index)})."""
    toks = tk.toks
    n = len(toks)
    if i >= n or toks[i] != "[":
        raise tk.fail(i, "expected '['")
    i += 1
    out: dict[str, tuple[str, int]] = {}
    while True:
        if i >= n:
            raise tk.fail(n, "unexpected end of file (unclosed '[')")
        key = toks[i]
        if key == "]":
            return i + 1, out
        if key == "[" or key[0] == '"':
            raise tk.fail(i, f"expected a key, got {key[:30]!r}")
        if key in wanted:
            if i + 1 >= n:
                raise tk.fail(n, "unexpected end of file (missing value)")
            val = toks[i + 1]
            if val in ("[", "]"):
                raise tk.fail(i + 1, f"{key} must be a number or string")
            out[key] = (val, i + 1)
            i += 2
        else:
            i = _skip_value(tk, i + 1)


def _number(tk: _Tokens, tok: str, k: int, what: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise tk.fail(k, f"{what} must be a number, got {tok[:30]!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise tk.fail(k, f"{what} must be finite, got {tok!r}")
    return v


def _string(tok: str) -> str:
    if tok.startswith('"'):
        tok = tok[1:-1]
        return html.unescape(tok) if "&" in tok else tok
    return tok


def read(
    path_or_text,
    depth: int | None = None,
    default_weight: float = 0.0,
    ids: str = "id",
    name: str | None = None,
) -> Problem:
    """Read a GML graph (path, or the GML text itself); see the module docstring for the semantics."""
    if ids not in ("id", "label"):
        raise ProblemError(f"gml reader: ids must be 'id' or 'label', got {ids!r}")
    text, src = load_text(path_or_text, ("graph", "Creator", "creator"), name)
    return parse(text, src, depth, default_weight, ids)


def parse(text: str, src: Source, depth: int | None = None, default_weight: float = 0.0, ids: str = "id", name=None) -> Problem:
    """`read` on text already loaded (``src`` names it in messages)."""
    if ids not in ("id", "label"):
        raise ProblemError(f"gml reader: ids must be 'id' or 'label', got {ids!r}")
    tk = _Tokens(text, src)
    toks = tk.toks
    n = len(toks)
    i = 0
    # top level: key value pairs, one of them `graph [ ... ]`
    while i < n and toks[i] != "graph":
        if toks[i] in ("[", "]") or toks[i][0] == '"' or i + 1 >= n:
            raise tk.fail(i, f"expected 'graph [', got {toks[i][:30]!r}")
        i = _skip_value(tk, i + 1)
    if i >= n:
        raise error(src, "no 'graph [ ... ]' block found", 1)
    i += 1
    if i >= n or toks[i] != "[":
        raise tk.fail(i, "expected '[' after 'graph'")
    i += 1
    node_id: list[str] = []
    node_label: list[str | None] = []
    node_w: list[str | None] = []
    node_tok: list[int] = []
    e_src: list[str] = []
    e_dst: list[str] = []
    e_par: list[str | None] = []
    e_tok: list[int] = []
    directed = None
    want_node = ("id", "label", "parameter")
    want_edge = ("source", "target", "parameter")
    while True:
        if i >= n:
            raise tk.fail(n, "unexpected end of file (the graph block is not closed)")
        key = toks[i]
        if key == "]":
            i += 1
            break
        if key == "node":
            start = i
            i, rec = _record(tk, i + 1, want_node)
            if "id" not in rec:
                raise tk.fail(start, "node without 'id'")
            node_id.append(rec["id"][0])
            node_tok.append(start)
            lab = rec.get("label")
            node_label.append(_string(lab[0]) if lab else None)
            par = rec.get("parameter")
            node_w.append(par[0] if par else None)
        elif key == "edge":
            start = i
            i, rec = _record(tk, i + 1, want_edge)
            for k in ("source", "target"):
                if k not in rec:
                    raise tk.fail(start, f"edge without '{k}'")
            e_src.append(rec["source"][0])
            e_dst.append(rec["target"][0])
            par = rec.get("parameter")
            e_par.append(par[0] if par else None)
            e_tok.append(start)
        elif key == "directed":
            if i + 1 >= n:
                raise tk.fail(n, "unexpected end of file")
            directed = toks[i + 1]
            i += 2
        elif key == "[" or key[0] == '"':
            raise tk.fail(i, f"expected a key, got {key[:30]!r}")
        else:
            i = _skip_value(tk, i + 1)
    if i < n:
        raise tk.fail(i, f"unexpected {toks[i][:30]!r} after the graph block")
    if directed is not None and directed.strip('"') == "0":
        raise error(src, "'directed 0': an undirected graph is not a data-flow graph", tk.line(0))

    # ---- ids: GML node ids are integers; keep the id text (normalised) as the op id
    raw_ids = [_string(t) for t in node_id]
    try:
        norm = np.array(raw_ids, dtype=np.int64) if raw_ids else np.zeros(0, np.int64)
        id_keys = [str(v) for v in norm.tolist()]
    except (ValueError, OverflowError):
        for k, t in enumerate(raw_ids):
            try:
                v = int(t)
            except ValueError:
                raise tk.fail(node_tok[k], f"node id must be an integer, got {t[:30]!r}") from None
            if not -(2**63) <= v < 2**63:
                raise tk.fail(node_tok[k], f"node id {t[:30]} is out of the 64-bit integer range")
        raise error(src, "bad node id")
    index: dict[str, int] = {}
    for k, key in enumerate(id_keys):
        if index.setdefault(key, k) != k:
            raise tk.fail(node_tok[k], f"duplicate node id {key}")

    order = np.argsort(norm, kind="stable")
    sorted_ids = norm[order]

    def edge_ends(vals: list[str], what: str) -> np.ndarray:
        try:
            ends = np.array(vals, dtype=np.int64) if vals else np.zeros(0, np.int64)
        except (ValueError, OverflowError):
            ends = None
        if ends is not None and len(sorted_ids):
            pos = np.minimum(np.searchsorted(sorted_ids, ends), len(sorted_ids) - 1)
            ok = sorted_ids[pos] == ends
            if ok.all():
                return order[pos]
        elif ends is not None and not len(ends):
            return ends
        # slow path (quoted or odd values): look each end up, naming the first bad one
        out = np.empty(len(vals), dtype=np.int64)
        for k, t in enumerate(vals):
            s = _string(t)
            try:
                key = str(int(s))
            except ValueError:
                key = None
            if key is None or key not in index:
                raise tk.fail(e_tok[k], f"edge {what} {s[:30]} is not a node id")
            out[k] = index[key]
        return out

    src_idx = edge_ends(e_src, "source")
    dst_idx = edge_ends(e_dst, "target")

    def numbers(vals: list[str | None], default: float, toks_at: list[int], what: str) -> np.ndarray:
        filled = [default if v is None else v for v in vals]
        try:
            arr = np.array(filled, dtype=np.float64) if filled else np.zeros(0)
        except ValueError:
            for k, v in enumerate(vals):
                if v is not None:
                    _number(tk, v, toks_at[k], what)
            raise error(src, f"bad {what}")
        if len(arr) and not np.all(np.isfinite(arr)):
            k = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise tk.fail(toks_at[k], f"{what} must be finite, got {vals[k]!r}")
        return arr

    weight = numbers(node_w, default_weight, node_tok, "node parameter")
    if len(weight) and weight.min() < 0:
        k = int(np.argmin(weight))
        raise tk.fail(node_tok[k], f"node parameter (weight) must be >= 0, got {node_w[k]}")
    epar = numbers(e_par, 0.0, e_tok, "edge parameter")
    comm = (epar > 0).astype(np.float64)

    if ids == "label":
        op_ids = []
        for k, lab in enumerate(node_label):
            if lab is None:
                raise tk.fail(node_tok[k], "node without 'label' (ids='label')")
            op_ids.append(lab)
    else:
        op_ids = id_keys
    with in_source(src):
        return Problem(
            op_ids=op_ids,
            op_type=np.zeros(len(op_ids), dtype=np.int32),
            operator_types=[OperatorType(NODE_TYPE, 0)],
            edge_src=src_idx.astype(np.int32),
            edge_dst=dst_idx.astype(np.int32),
            op_weight=weight,
            edge_comm=comm,
            depth=depth,
            name=src.stem,
        )


# ---------------------------------------------------------------------------- writer
def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _gml_string(s: str) -> str:
    return '"' + html.escape(s, quote=True) + '"'


def dumps(problem: Problem) -> str:
    """networkx-style GML: integer ``id`` (the op id itself when every op id is an integer, else the op index),
    ``label`` = op id, ``parameter`` = op weight; edges carry ``parameter`` = communication weight."""
    try:
        gml_ids = [int(op) for op in problem.op_ids]
        if len(set(gml_ids)) != len(gml_ids) or any(str(g) != op for g, op in zip(gml_ids, problem.op_ids)):
            raise ValueError
    except ValueError:
        gml_ids = list(range(problem.n_ops))
    out = ["graph [", "  directed 1"]
    if problem.name:
        out.append(f"  name {_gml_string(problem.name)}")
    for g, op, w in zip(gml_ids, problem.op_ids, problem.op_weight.tolist()):
        out.append(f"  node [\n    id {g}\n    label {_gml_string(op)}\n    parameter {_num(w)}\n  ]")
    for k, (a, b, c) in enumerate(zip(problem.edge_src.tolist(), problem.edge_dst.tolist(), problem.edge_comm.tolist())):
        out.append(f'  edge [\n    source {gml_ids[a]}\n    target {gml_ids[b]}\n    name "{k}"\n    parameter {_num(c)}\n  ]')
    out.append("]")
    return "\n".join(out) + "\n"


def write(path, problem: Problem) -> None:
    write_output(path, dumps(problem))
