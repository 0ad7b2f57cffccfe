"""AIGER and-inverter graphs: binary ``.aig`` and ASCII ``.aag`` (combinational only; the EPFL suite).

Format (http://fmv.jku.at/aiger/): header ``aig M I L O A`` (or ``aag``); binary files then list L latch lines
and O output literals in ASCII and A AND gates as two LEB128-style unsigned deltas each (7 bits per byte, high
bit = more), ``lhs - rhs0`` and ``rhs0 - rhs1`` with ``lhs = 2 * (I + L + k + 1)`` for the k-th gate; inputs are
implicit (vars 1..I). ASCII files list I input literals, L latches, O outputs and A ``lhs rhs0 rhs1`` lines
explicitly, in any variable order. A literal is ``2 * var + complement``; var 0 is the constant FALSE. A symbol
table and comments may follow (ignored). AIGER 1.9 header fields B C J F must be 0.

Problem built (the GauS paper's real-world set):

* ops: the constant (id ``"0"``, type ``"const"``) only when some primary output or AND fan-in refers to var 0;
  one op per primary input (ids ``"1".."I"`` in binary files: the variable index; type ``"input"``); one op per
  AND gate (id = its variable index, type ``"and"``); op order: const, inputs, gates (file order);
* edges: one per *distinct* fan-in variable of each gate (both fan-ins on one var give one edge), from the
  fan-in to the gate, communication weight 1.0; complement bits and outputs are not kept;
* every op has weight 1.0 and latency 0; no resource types; latches are rejected.

The binary AND section is decoded with numpy (no per-gate Python loop): ``hyp.aig`` (214,591 nodes, 428,670
edges) reads in about 0.07 s including `Problem` validation. `dumps_ascii`/`write_ascii` and `dumps_binary`/`write_binary` write a problem of this
shape back (outputs: gates without fan-out, and the constant if present; fan-ins uncomplemented).
"""
from __future__ import annotations

import numpy as np

from ..problem import OperatorType, Problem, ProblemError
from ._io import Source, error, in_source, load_bytes, write_output

FORMAT = "aiger"
EXTENSIONS = (".aig", ".aag")
TYPES = ("const", "input", "and")


def read(path_or_data, depth: int | None = None, name: str | None = None) -> Problem:
    """Read binary or ASCII AIGER (chosen by the header), from a path or the file's bytes."""
    data, src = load_bytes(path_or_data, ("aig ", "aag "), name)
    return parse(data, src, depth)


def parse(data: bytes, src: Source, depth: int | None = None, name=None) -> Problem:
    """`read` on bytes already loaded (``src`` names it in messages)."""
    if data.startswith(b"aag"):
        return _read_ascii(data, src, depth)
    if data.startswith(b"aig"):
        return _read_binary(data, src, depth)
    raise error(src, "not an AIGER file (the header must start with 'aig' or 'aag')", 1)


# ---------------------------------------------------------------------------- header
def _header(data: bytes, src: Source, magic: str) -> tuple[list[int], int]:
    end = data.find(b"\n")
    if end < 0:
        raise error(src, "truncated file: no end of header line", 1)
    try:
        words = data[:end].decode("ascii").split()
    except UnicodeDecodeError:
        raise error(src, "header is not ASCII text", 1) from None
    if not words or words[0] != magic:
        raise error(src, f"header must start with {magic!r}", 1)
    if not 6 <= len(words) <= 10:
        raise error(src, f"header must be '{magic} M I L O A' (got {' '.join(words)!r})", 1)
    try:
        nums = [int(w) for w in words[1:]]
    except ValueError:
        raise error(src, f"header fields must be non-negative integers (got {' '.join(words)!r})", 1) from None
    if any(v < 0 for v in nums):
        raise error(src, f"header fields must be non-negative integers (got {' '.join(words)!r})", 1)
    M, I, L, O, A = nums[:5]
    if L:
        raise error(src, f"{L} latches: only combinational AIGs are supported", 1)
    if any(nums[5:]):
        raise error(src, "bad-state, constraint, justice and fairness sections (AIGER 1.9) are not supported", 1)
    if M < I + L + A:
        raise error(src, f"header: M={M} is smaller than I+L+A={I + L + A}", 1)
    if I + L + A >= 2**31 - 1 or M >= 2**62:
        raise error(src, f"header: too many variables for this reader (M={M})", 1)
    return nums[:5], end + 1


def _read_lines(data: bytes, pos: int, count: int, src: Source, line0: int, what: str) -> tuple[list[list[int]], int]:
    """``count`` ASCII lines of integers from byte ``pos``; returns them and the position after."""
    out = []
    for k in range(count):
        end = data.find(b"\n", pos)
        if end < 0:
            if pos < len(data):
                end = len(data)
            else:
                raise error(src, f"truncated file: expected {count} {what} lines, found {k}", line0 + k)
        try:
            out.append([int(w) for w in data[pos:end].split()])
        except ValueError:
            raise error(src, f"bad {what} line {data[pos:end][:40]!r}: expected integers", line0 + k) from None
        pos = end + 1
    return out, pos


def _check_literal(lit: int, maxvar: int, src: Source, line: int | None, what: str) -> None:
    if lit < 0 or lit >> 1 > maxvar:
        raise error(src, f"{what} literal {lit} is out of range (max variable {maxvar})", line)


# ---------------------------------------------------------------------------- binary
def _decode_varints(buf: np.ndarray, count: int, src: Source, line: int) -> tuple[np.ndarray, int]:
    """The first ``count`` unsigned LEB128 numbers in ``buf`` (uint8); returns values and bytes consumed."""
    if count == 0:
        return np.zeros(0, dtype=np.int64), 0
    ends = np.flatnonzero(buf < 128)
    if len(ends) < count:
        raise error(src, f"truncated AND section: {count // 2} gates announced, data for {len(ends) // 2} at most", line)
    ends = ends[:count]
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > 9:
        raise error(src, "corrupt AND section: a delta is longer than 9 bytes", line)
    used = int(ends[-1]) + 1
    b = buf[:used].astype(np.int64) & 0x7F
    shift = 7 * (np.arange(used, dtype=np.int64) - np.repeat(starts, lengths))
    vals = np.add.reduceat(b << shift, starts)
    return vals, used


def _read_binary(data: bytes, src: Source, depth) -> Problem:
    (M, I, L, O, A), pos = _header(data, src, "aig")
    outs, pos = _read_lines(data, pos, O, src, 2, "output")
    out_lits = []
    for k, rec in enumerate(outs):
        if len(rec) != 1:
            raise error(src, f"output line must hold one literal, got {len(rec)} numbers", 2 + k)
        _check_literal(rec[0], M, src, 2 + k, "output")
        out_lits.append(rec[0])
    and_line = 2 + O  # line where the binary section begins (for messages)
    buf = np.frombuffer(data, dtype=np.uint8, offset=pos) if pos < len(data) else np.zeros(0, np.uint8)
    vals, _ = _decode_varints(buf, 2 * A, src, and_line)
    d0 = vals[0::2]
    d1 = vals[1::2]
    lhs = 2 * (I + L + 1 + np.arange(A, dtype=np.int64))
    rhs0 = lhs - d0
    rhs1 = rhs0 - d1
    bad = np.flatnonzero((d0 <= 0) | (rhs1 < 0))
    if len(bad):
        k = int(bad[0])
        raise error(
            src,
            f"corrupt AND gate {k} (var {lhs[k] // 2}): fan-ins must satisfy lhs > rhs0 >= rhs1 >= 0 "
            f"(deltas {int(d0[k])}, {int(d1[k])})",
            and_line,
        )
    v0 = rhs0 >> 1
    v1 = rhs1 >> 1
    gate_var = lhs >> 1
    const_used = bool(np.any(np.asarray(out_lits, dtype=np.int64) >> 1 == 0)) or bool(np.any(v1 == 0))
    input_vars = np.arange(1, I + 1, dtype=np.int64)
    return _assemble(src, M, input_vars, gate_var, v0, v1, const_used, depth, contiguous=True)


# ---------------------------------------------------------------------------- ASCII
def _read_ascii(data: bytes, src: Source, depth) -> Problem:
    (M, I, L, O, A), pos = _header(data, src, "aag")
    ins, pos = _read_lines(data, pos, I, src, 2, "input")
    line = 2 + I
    outs, pos = _read_lines(data, pos, O, src, line, "output")
    line_out = line
    line += O
    ands, pos = _read_lines(data, pos, A, src, line, "AND")
    line_and = line
    defined: dict[int, int] = {}  # var -> line defining it
    input_vars = np.empty(I, dtype=np.int64)
    for k, rec in enumerate(ins):
        if len(rec) != 1:
            raise error(src, f"input line must hold one literal, got {len(rec)} numbers", 2 + k)
        lit = rec[0]
        _check_literal(lit, M, src, 2 + k, "input")
        if lit & 1 or lit < 2:
            raise error(src, f"input literal {lit} must be even and non-zero", 2 + k)
        if lit >> 1 in defined:
            raise error(src, f"variable {lit >> 1} defined twice (first on line {defined[lit >> 1]})", 2 + k)
        defined[lit >> 1] = 2 + k
        input_vars[k] = lit >> 1
    const_used = False
    for k, rec in enumerate(outs):
        if len(rec) != 1:
            raise error(src, f"output line must hold one literal, got {len(rec)} numbers", line_out + k)
        _check_literal(rec[0], M, src, line_out + k, "output")
        const_used |= rec[0] >> 1 == 0
    gate_var = np.empty(A, dtype=np.int64)
    v0 = np.empty(A, dtype=np.int64)
    v1 = np.empty(A, dtype=np.int64)
    for k, rec in enumerate(ands):
        ln = line_and + k
        if len(rec) != 3:
            raise error(src, f"AND line must be 'lhs rhs0 rhs1', got {len(rec)} numbers", ln)
        lhs, r0, r1 = rec
        for lit, what in ((lhs, "AND output"), (r0, "AND input"), (r1, "AND input")):
            _check_literal(lit, M, src, ln, what)
        if lhs & 1 or lhs < 2:
            raise error(src, f"AND output literal {lhs} must be even and non-zero", ln)
        if lhs >> 1 in defined:
            raise error(src, f"variable {lhs >> 1} defined twice (first on line {defined[lhs >> 1]})", ln)
        defined[lhs >> 1] = ln
        gate_var[k], v0[k], v1[k] = lhs >> 1, r0 >> 1, r1 >> 1
    known = np.sort(np.fromiter(defined, dtype=np.int64, count=len(defined)))
    for vv in (v0, v1):
        pos = np.minimum(np.searchsorted(known, vv), max(len(known) - 1, 0))
        is_defined = known[pos] == vv if len(known) else np.zeros(len(vv), dtype=bool)
        undefined = np.flatnonzero((vv > 0) & ~is_defined)
        if len(undefined):
            k = int(undefined[0])
            raise error(src, f"AND gate {gate_var[k]} uses undefined variable {vv[k]}", line_and + k)
    const_used = const_used or bool(np.any(v0 == 0)) or bool(np.any(v1 == 0))
    return _assemble(src, M, input_vars, gate_var, v0, v1, const_used, depth, contiguous=False)


# ---------------------------------------------------------------------------- assembly
def _assemble(src, M, input_vars, gate_var, v0, v1, const_used, depth, contiguous) -> Problem:
    I, A = len(input_vars), len(gate_var)
    n = I + A + int(const_used)
    all_vars = np.concatenate([np.zeros(int(const_used), np.int64), input_vars, gate_var])
    if contiguous:
        # binary files: vars are 0 (const), 1..I, I+1..I+A in op order, so op index = var (- 1 without the const)
        offset = 0 if const_used else -1

        def to_op(v):
            return v + offset

    else:
        # ASCII files: any variable numbering (M may be large), map through the sorted variables
        order = np.argsort(all_vars, kind="stable")
        sorted_vars = all_vars[order]

        def to_op(v):
            return order[np.searchsorted(sorted_vars, v)]

    gate_op = np.arange(I + int(const_used), n, dtype=np.int64)
    keep1 = v1 != v0
    src_idx = np.concatenate([to_op(v0)[:, None], to_op(v1)[:, None]], axis=1).ravel()
    dst_idx = np.repeat(gate_op, 2)
    mask = np.ones(2 * A, dtype=bool)
    mask[1::2] = keep1
    src_idx, dst_idx = src_idx[mask], dst_idx[mask]
    op_type = np.concatenate(
        [np.zeros(int(const_used), np.int32), np.ones(I, np.int32), np.full(A, 2, np.int32)]
    )
    if contiguous:
        op_ids = list(map(str, range(0 if const_used else 1, n + (0 if const_used else 1))))
    else:
        op_ids = list(map(str, all_vars.tolist()))
    with in_source(src):
        return Problem(
            op_ids=op_ids,
            op_type=op_type,
            operator_types=[OperatorType(t, 0) for t in TYPES],
            edge_src=src_idx.astype(np.int32),
            edge_dst=dst_idx.astype(np.int32),
            edge_comm=np.ones(len(src_idx)),
            depth=depth,
            name=src.stem,
        )


# ---------------------------------------------------------------------------- writers
def _structure(problem: Problem):
    """(kind per op: 0 const / 1 input / 2 and, fan-in op lists) of a problem shaped like an AIG."""
    n = problem.n_ops
    indeg = np.bincount(problem.edge_dst, minlength=n)
    names = [t.name for t in problem.operator_types]
    if set(names) <= set(TYPES):
        kind = np.array([TYPES.index(names[t]) for t in range(len(names))], dtype=np.int64)[problem.op_type] if n else np.zeros(0, np.int64)
    else:
        kind = np.where(indeg == 0, 1, 2)
    if np.any((kind == 2) & ((indeg < 1) | (indeg > 2))):
        k = int(np.flatnonzero((kind == 2) & ((indeg < 1) | (indeg > 2)))[0])
        raise ProblemError(f"{problem.name}: AND gate {problem.op_ids[k]!r} has {indeg[k]} fan-ins (AIGER needs 1 or 2)")
    if np.any((kind != 2) & (indeg > 0)):
        k = int(np.flatnonzero((kind != 2) & (indeg > 0))[0])
        raise ProblemError(f"{problem.name}: {TYPES[kind[k]]} {problem.op_ids[k]!r} has fan-ins")
    if np.sum(kind == 0) > 1:
        raise ProblemError(f"{problem.name}: more than one constant op")
    order = np.argsort(problem.edge_dst, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(indeg)])
    fanin = problem.edge_src[order]
    return kind, fanin, ptr


def dumps_ascii(problem: Problem) -> str:
    """ASCII AIGER for an AIG-shaped problem; variables are the op ids when they are usable integers
    (const "0", distinct positive integers otherwise), else inputs 1..I then gates in topological order."""
    kind, fanin, ptr = _structure(problem)
    var = _variables(problem, kind, topo=False)
    return _ascii_text(problem, kind, fanin, ptr, var)


def _variables(problem: Problem, kind: np.ndarray, topo: bool) -> np.ndarray:
    n = problem.n_ops
    try:
        ids = np.array([int(op) for op in problem.op_ids], dtype=np.int64) if n else np.zeros(0, np.int64)
        good = (
            all(str(v) == op for v, op in zip(ids.tolist(), problem.op_ids))
            and np.all((ids == 0) == (kind == 0))
            and np.all(ids >= 0)
        )
    except ValueError:
        good = False
    if good and not topo:
        return ids
    if good:
        # binary AIGER needs inputs 1..I (in op order) and gates I+1..I+A with every fan-in below its gate
        inputs, gates = ids[kind == 1], np.sort(ids[kind == 2])
        I = len(inputs)
        if (
            np.array_equal(inputs, np.arange(1, I + 1))
            and np.array_equal(gates, np.arange(I + 1, I + len(gates) + 1))
            and np.all(ids[problem.edge_src] < ids[problem.edge_dst])
        ):
            return ids
    from .. import _core

    order = np.asarray(_core.topological_order(n, problem.edge_src, problem.edge_dst), dtype=np.int64)
    var = np.zeros(n, dtype=np.int64)
    inputs = np.flatnonzero(kind == 1)
    var[inputs] = np.arange(1, len(inputs) + 1)
    gates = order[kind[order] == 2]
    var[gates] = np.arange(len(inputs) + 1, len(inputs) + len(gates) + 1)
    return var


def _outputs(problem: Problem, kind: np.ndarray, var: np.ndarray) -> list[int]:
    outdeg = np.bincount(problem.edge_src, minlength=problem.n_ops)
    outs = [int(2 * var[k]) for k in np.flatnonzero((kind == 2) & (outdeg == 0))]
    if np.any(kind == 0) and not np.any(outdeg[kind == 0]):
        outs.append(0)
    return outs


def _ascii_text(problem, kind, fanin, ptr, var) -> str:
    inputs = np.flatnonzero(kind == 1)
    gates = np.flatnonzero(kind == 2)
    outs = _outputs(problem, kind, var)
    M = int(var.max()) if len(var) else 0
    lines = [f"aag {M} {len(inputs)} 0 {len(outs)} {len(gates)}"]
    lines += [str(2 * int(var[k])) for k in inputs]
    lines += [str(o) for o in outs]
    for g in gates.tolist():
        f = fanin[ptr[g]:ptr[g + 1]].tolist()
        a, b = (f[0], f[0]) if len(f) == 1 else f
        la, lb = 2 * int(var[a]), 2 * int(var[b])
        lines.append(f"{2 * int(var[g])} {max(la, lb)} {min(la, lb)}")
    lines.append(f"c\nwritten by gaus_fast from {problem.name}")
    return "\n".join(lines) + "\n"


def write_ascii(path, problem: Problem) -> None:
    write_output(path, dumps_ascii(problem))


def dumps_binary(problem: Problem) -> bytes:
    """Binary AIGER: inputs become vars 1..I and gates I+1.. in topological order (op ids are not kept
    unless they already follow that numbering)."""
    kind, fanin, ptr = _structure(problem)
    var = _variables(problem, kind, topo=True)
    inputs = np.flatnonzero(kind == 1)
    gates = np.flatnonzero(kind == 2)
    gates = gates[np.argsort(var[gates])]
    outs = _outputs(problem, kind, var)
    head = f"aig {len(inputs) + len(gates)} {len(inputs)} 0 {len(outs)} {len(gates)}\n"
    head += "".join(f"{o}\n" for o in outs)
    body = bytearray()
    for g in gates.tolist():
        f = fanin[ptr[g]:ptr[g + 1]].tolist()
        a, b = (f[0], f[0]) if len(f) == 1 else f
        r0, r1 = max(2 * int(var[a]), 2 * int(var[b])), min(2 * int(var[a]), 2 * int(var[b]))
        lhs = 2 * int(var[g])
        for x in (lhs - r0, r0 - r1):
            while x >= 0x80:
                body.append((x & 0x7F) | 0x80)
                x >>= 7
            body.append(x)
    return head.encode("ascii") + bytes(body) + f"c\nwritten by gaus_fast from {problem.name}\n".encode()


def write_binary(path, problem: Problem) -> None:
    write_output(path, dumps_binary(problem))
