"""CIRCT static scheduling problems (the ``ssp`` dialect's textual IR, ``.mlir``).

Input (what CIRCT's ``circt-opt`` prints and its tests use)::

    ssp.library @Lib { operator_type @Sqrt [latency<10>] }        // stand-alone libraries (optional)
    ssp.resource @Ports { resource_type @Mem [limit<1>] }
    ssp.instance @name of "ModuloProblem" [II<3>] {
      library { operator_type @Add [latency<1>] }
      resource { resource_type @ReadPort [limit<1>] }
      graph {
        %0 = operation<@Add> @load_A(@store_A [dist<1>]) uses[@ReadPort] [t<2>]
        %1:2 = operation<@Lib::@Sqrt>(%0, %0)
        operation<@Add> @store_A(%1#1) uses[@Ports::@Mem] [t<4>]
      }
    }
    // -----
    ssp.instance ...                                                  // the next, independent case

Supported syntax: the six problem classes ``Problem``, ``CyclicProblem``, ``SharedOperatorsProblem``,
``ModuloProblem``, ``ChainingProblem``, ``ChainingCyclicProblem``; instance properties ``[II<k>]``; ``library``
(operator types with ``latency<N>``, ``incDelay<f>``, ``outDelay<f>`` and the older ``limit<N>``), ``resource``
(resource types with ``limit<N>``; optional), both optionally named; module-level ``ssp.library`` /
``ssp.resource`` blocks, also inside (nested, named) ``module`` ops, referenced by nested symbols
(``@Lib::@T``, ``@Module::@Lib::@T``, ``@Instance::@Lib::@T``) and resolved like CIRCT (the instance's library,
then the instance, then the enclosing module); operations with zero, one or several result groups (``%2:3``
defines ``%2#0..%2#2``; ``%2`` means ``%2#0``), optional symbol names, SSA (def-use) and symbol (auxiliary)
dependences each with optional ``[dist<k>]``, ``uses[...]`` (also the older ``uses<...>`` spellings before the
operand list), properties ``[t<N>, z<f>]``; the generic form ``"ssp.operation"(%a) {dependences = [...],
sspProperties = [...], sym_name = "x"} : (none) -> ()``; full-form properties (``#ssp.t<2>``); ``ssp.``
prefixes inside instances; float literals with an optional ``: f32``/``: f64`` type; ``//`` comments;
``// -----`` case separators (each chunk is parsed on its own, as ``circt-opt -split-input-file``). The graph is
an MLIR graph region, so values may be used before their definition.

Verification: every IR-level error CIRCT reports for this dialect (``errors.mlir``) becomes a `ProblemError`
``FILE:LINE: <CIRCT's message> (...)``: the instance must hold exactly one ``library`` and one ``graph`` (in that
order), the dependence attribute rules of ``OperationOp::verify`` (operand index bounds, increasing def-use
indices, auxiliary dependences after the SSA operands and consecutive), auxiliary dependences naming an existing
operation, linked operator/resource types that resolve; plus MLIR-level errors (undeclared or redefined SSA
values, invalid result numbers, redefined symbols) and syntax errors. With ``check=True`` (default) the
problem-level conditions of CIRCT's ``Problem::check()`` family are errors too: an operation without a linked
operator type, an operator type without latency, chaining delays missing/negative/unequal at latency 0, a
zero-latency operator type on a limited resource (``SharedOperatorsProblem``/``ModuloProblem``), a def-use
dependence with a distance in a ``ChainingCyclicProblem``; and so is a property the declared problem class does not
have (CIRCT silently ignores it, e.g. ``dist`` in a ``Problem``) or that sits on the wrong kind of element. With
``check=False`` those are tolerated and listed in `SSPCase.issues`: ignored properties are dropped (CIRCT's
semantics), a missing latency becomes 0, an unlinked operation gets the operator type ``""`` (latency 0, written
back as ``operation<>``).

Semantics (mapped onto `Problem`):

* ops in graph order; id = the symbol name (``load_A``) if any, else the first SSA result name (``%3``), else
  ``op<k>`` with ``k`` the position in the graph (as CIRCT's ``-ssp-print``);
* one edge per dependence (an SSA operand used twice gives two edges), ordered by destination op, SSA operands
  first: ``t_i + lat_i <= t_j + dist * II`` (``edge_delay`` 0); which edges are auxiliary is in
  `SSPCase.edge_aux` (they carry no value, which matters for chaining only);
* operator types: the instance library's in order, then the ones from other libraries as they are first used,
  renamed ``T_1``, ``T_2``... on a name clash (as CIRCT's loader); resource types likewise; a resource type without
  ``limit`` is unlimited; occupancy is ``pipelined`` (CIRCT counts ops *starting* in a step, or in a congruence class
  mod II); an old-style operator type ``limit<N>`` becomes a resource type named after the operator type that every op
  of that type uses;
* ``II`` sets `Problem.ii`; `Problem.problem_class` is the class; `Problem.last_op` is the op whose start time
  CIRCT's schedulers minimise: the last op of the graph unless ``last_op=`` names one (``cycle_time=`` sets
  `Problem.cycle_time`, the chaining scheduler's cycle time, which is a scheduler option, not part of the IR);
* CIRCT ``Problem::check()`` rejects a zero-latency operator type on a limited resource; the model allows it,
  the writer writes it, and reading that back needs ``check=False``;
* ``incDelay``/``outDelay`` go to `OperatorType.incoming_delay`/``outgoing_delay``; the solution properties ``t``
  and ``z`` go to `SSPCase.start` / `SSPCase.start_in_cycle` (and `SSPCase.schedule` when every op has ``t``).

Multi-case files: `read_instances` returns every instance of the file as an `SSPCase` (in file order over all
``// -----`` chunks); `read` / `read_problem(path, case=...)` return one `Problem`: ``case`` is the index (default 0)
or the instance's symbol name. Chunks after the chosen case are not parsed; instances before it are parsed but not
verified.

Output: `dumps`/`write` emit one instance (``[II<..>]``, ``t<..>`` on every op when a schedule is given, ``z<..>``
for chaining classes, computed as the earliest start in cycle when not given); `dumps_case`/`write_case` an
`SSPCase` (keeping which edges are auxiliary); `dumps_cases` several, separated by ``// -----``. Not representable
(error): edge delays, limited blocking resources (unless every use holds one step), resource limits together with
chaining delays; dropped: weights, bit widths, communication weights, the depth bound. Edges leave ops as SSA
results unless auxiliary; ops whose id starts with ``%`` are written as unnamed SSA definitions, other ops get their
id as symbol name, so ids survive a round trip; a `Problem.last_op` that is not the last op is moved to the end.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..problem import OperatorType, Problem, ProblemError, ResourceType
from ..schedule import Schedule
from ._io import Source, error, in_source, load_text, write_output

FORMAT = "ssp"
EXTENSIONS = (".mlir",)

PROBLEM_CLASSES = (
    "Problem",
    "CyclicProblem",
    "SharedOperatorsProblem",
    "ModuloProblem",
    "ChainingProblem",
    "ChainingCyclicProblem",
)
CYCLIC_CLASSES = frozenset({"CyclicProblem", "ModuloProblem", "ChainingCyclicProblem"})
SHARED_CLASSES = frozenset({"SharedOperatorsProblem", "ModuloProblem"})
CHAINING_CLASSES = frozenset({"ChainingProblem", "ChainingCyclicProblem"})

# property name -> (element kind it belongs to, classes that have it (None: all), value kind)
_PROPS = {
    "II": ("instance", CYCLIC_CLASSES, "uint"),
    "latency": ("operator type", None, "uint"),
    "incDelay": ("operator type", CHAINING_CLASSES, "float"),
    "outDelay": ("operator type", CHAINING_CLASSES, "float"),
    "limit": ("resource type", SHARED_CLASSES, "uint"),  # also accepted on operator types (older CIRCT)
    "opr": ("operation", None, "symref"),
    "rsrcs": ("operation", None, "symrefs"),
    "t": ("operation", None, "uint"),
    "z": ("operation", CHAINING_CLASSES, "float"),
    "dist": ("dependence", CYCLIC_CLASSES, "uint"),
}

_BARE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*\Z")
_SSA_SUFFIX = re.compile(r"(?:[0-9]+|[A-Za-z$._-][A-Za-z0-9$._-]*)\Z")

# ---------------------------------------------------------------------------------------------------- tokens
_TOKEN = re.compile(
    r"""
    [ \t\r\n\f\v]*
    (?:
      (?P<comment>//[^\n]*)
    | (?P<str>"(?:[^"\\\n]|\\.)*")
    | (?P<ssa>%(?:[0-9]+|[A-Za-z$._-][A-Za-z0-9$._-]*)(?:\#[0-9]+)?)
    | (?P<sym>@(?:[A-Za-z_][A-Za-z0-9_$.]*|"(?:[^"\\\n]|\\.)*"))
    | (?P<hash>\#[A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<num>[-+]?(?:0x[0-9A-Fa-f]+|[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?)?))
    | (?P<id>[A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<punct>::|->|[{}()\[\]<>,=:*!?])
    | (?P<end>\Z)
    | (?P<bad>.)
    )
    """,
    re.VERBOSE,
)
_SPLIT = re.compile(r"//\s*-----")


@dataclass(slots=True)
class _Tok:
    kind: str  # str ssa sym hash num id punct eof
    value: str
    line: int


def _unescape(body: str, src: Source, line: int) -> str:
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in ('"', "\\"):
            out.append(nxt)
            i += 2
        elif nxt == "n":
            out.append("\n")
            i += 2
        elif nxt == "t":
            out.append("\t")
            i += 2
        elif re.match(r"[0-9A-Fa-f]{2}", body[i + 1 : i + 3]):
            out.append(chr(int(body[i + 1 : i + 3], 16)))
            i += 3
        else:
            raise error(src, f"invalid escape '\\{nxt}' in string", line)
    return "".join(out)


def _escape(s: str) -> str:
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\{ord(c):02X}")
        else:
            out.append(c)
    return "".join(out)


_PAD = 4  # eof tokens after each chunk, so that peek(k) needs no bounds check


def _chunks(text: str, src: Source) -> list[list[_Tok]]:
    """Tokenise, splitting at ``// -----`` lines (each chunk ends with eof tokens)."""
    raw: list[tuple[str, str, int]] = []  # (kind, value, offset of the token)
    splits: list[int] = []  # index into raw where a new chunk starts
    split_lines: list[int] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "end":
            break
        pos = m.start(kind)
        val = m.group(kind)
        if kind == "comment":
            if _SPLIT.match(val) and not text[text.rfind("\n", 0, pos) + 1 : pos].strip():
                splits.append(len(raw))
                split_lines.append(text.count("\n", 0, pos) + 1)
            continue
        if kind == "bad":
            line = text.count("\n", 0, pos) + 1
            if val == '"':
                raise error(src, "unterminated string", line)
            raise error(src, f"unexpected character {val!r}", line)
        raw.append((kind, val, pos))
    # line numbers of all tokens at once
    offsets = np.fromiter((r[2] for r in raw), dtype=np.int64, count=len(raw))
    newlines = np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) == 10) if text else np.zeros(0, np.int64)
    lines = (np.searchsorted(newlines, offsets, side="right") + 1).tolist()
    last_line = len(newlines) + 1
    chunks: list[list[_Tok]] = []
    bounds = [0] + splits + [len(raw)]
    for c in range(len(bounds) - 1):
        toks = []
        for k in range(bounds[c], bounds[c + 1]):
            kind, val, _ = raw[k]
            line = lines[k]
            if kind == "str":
                val = _unescape(val[1:-1], src, line)
            elif kind == "sym":
                val = _unescape(val[2:-1], src, line) if val[1] == '"' else val[1:]
            toks.append(_Tok(kind, val, line))
        end_line = split_lines[c] if c < len(splits) else last_line
        toks.extend(_Tok("eof", "", end_line) for _ in range(_PAD))
        chunks.append(toks)
    return chunks


# ---------------------------------------------------------------------------------------------------- syntax tree
@dataclass
class _Prop:
    name: str
    value: object
    line: int


@dataclass
class _TypeDecl:  # operator_type / resource_type
    kind: str  # "operator type" / "resource type"
    name: str
    props: list[_Prop]
    line: int


@dataclass
class _Library:
    kind: str  # "library" / "resource"
    sym: str | None
    items: list[_TypeDecl]
    line: int
    symbols: dict = field(default_factory=dict)


@dataclass
class _Op:
    results: list[tuple[str, int]]  # (name without '%', count)
    sym: str | None
    opr: tuple[str, ...] | None  # symbol reference parts
    uses: list[tuple[tuple[str, ...], int]] | None
    operands: list[tuple[str, int, int]]  # (value name, result number, line)
    deps: list[tuple[int, str | None, list[_Prop], int]]  # (operand index, source symbol, props, line)
    props: list[_Prop]
    line: int
    dup_uses: bool = False


@dataclass
class _Graph:
    ops: list[_Op]
    line: int


@dataclass
class _Instance:
    sym: str | None
    problem_class: str
    props: list[_Prop]
    body: list  # _Library / _Graph in order
    line: int
    chunk: int
    scope: "_Scope"
    symbols: dict = field(default_factory=dict)


@dataclass
class _Scope:  # a module (the implicit top-level one or `module @name { ... }`)
    sym: str | None
    parent: "_Scope | None"
    line: int
    symbols: dict = field(default_factory=dict)


class _Parser:
    def __init__(self, toks: list[_Tok], src: Source, chunk: int):
        self.toks = toks
        self.pos = 0
        self.src = src
        self.chunk = chunk

    # -- token helpers
    def peek(self, k: int = 0) -> _Tok:
        return self.toks[self.pos + k]  # k < _PAD; next() never moves past the first eof

    def next(self) -> _Tok:
        t = self.peek()
        if t.kind != "eof":
            self.pos += 1
        return t

    def at(self, kind: str, value: str | None = None, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind == kind and (value is None or t.value == value)

    def accept(self, kind: str, value: str | None = None) -> _Tok | None:
        if self.at(kind, value):
            return self.next()
        return None

    def fail(self, msg: str, tok: _Tok | None = None) -> ProblemError:
        tok = tok or self.peek()
        return error(self.src, msg, tok.line)

    def _show(self, t: _Tok) -> str:
        if t.kind == "eof":
            return "end of input"
        if t.kind == "sym":
            return f"'@{t.value}'"
        if t.kind == "str":
            return f'"{t.value}"'
        return f"'{t.value}'"

    def expect(self, kind: str, value: str | None = None, what: str | None = None) -> _Tok:
        t = self.peek()
        if t.kind != kind or (value is not None and t.value != value):
            want = what or (f"'{value}'" if value is not None else {"sym": "a symbol name (@name)", "num": "a number",
                                                                    "str": "a string", "id": "a keyword",
                                                                    "ssa": "an SSA value (%name)"}.get(kind, kind))
            raise self.fail(f"expected {want}, got {self._show(t)}", t)
        return self.next()

    def keyword(self, word: str) -> bool:
        """Accept ``word`` or ``ssp.word``."""
        t = self.peek()
        if t.kind == "id" and t.value in (word, "ssp." + word):
            self.pos += 1
            return True
        return False

    def is_keyword(self, word: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind == "id" and t.value in (word, "ssp." + word)

    # -- generic values
    def symref(self) -> tuple[str, ...]:
        parts = [self.expect("sym").value]
        while self.accept("punct", "::"):
            parts.append(self.expect("sym", what="a symbol name after '::'").value)
        return tuple(parts)

    def uint(self, what: str) -> int:
        t = self.peek()
        if t.kind != "num":
            raise self.fail(f"expected an integer for {what}, got {self._show(t)}", t)
        self.next()
        v = t.value
        try:
            out = int(v, 16) if v.lower().lstrip("+-").startswith("0x") else int(v)
        except ValueError:
            raise self.fail(f"expected an integer for {what}, got '{v}'", t) from None
        if out < 0:
            raise self.fail(f"{what} must be >= 0, got {out}", t)
        return out

    def number(self, what: str) -> float:
        t = self.peek()
        if t.kind != "num":
            raise self.fail(f"expected a number for {what}, got {self._show(t)}", t)
        self.next()
        try:
            v = float(int(t.value, 16)) if t.value.lower().lstrip("+-").startswith("0x") else float(t.value)
        except ValueError:
            raise self.fail(f"expected a number for {what}, got '{t.value}'", t) from None
        if self.accept("punct", ":"):
            ty = self.expect("id", what="a float type (f32, f64, ...)")
            if not re.fullmatch(r"f16|bf16|f32|f64|f80|f128|tf32", ty.value):
                raise self.fail(f"expected a float type for {what}, got '{ty.value}'", ty)
        if not math.isfinite(v):
            raise self.fail(f"{what} must be finite", t)
        return v

    def prop(self) -> _Prop:
        """One property: ``name<value>`` or ``#ssp.name<value>``."""
        t = self.peek()
        if t.kind == "hash":
            if not t.value.startswith("#ssp."):
                raise self.fail(f"unsupported attribute '{t.value}' (only ssp properties are understood)", t)
            name = t.value[5:]
        elif t.kind == "id":
            name = t.value
        else:
            raise self.fail(f"expected a property like t<0> or latency<1>, got {self._show(t)}", t)
        self.next()
        if name not in _PROPS:
            raise self.fail(f"unknown SSP property '{name}'; known: {', '.join(_PROPS)}", t)
        kind = _PROPS[name][2]
        self.expect("punct", "<", what=f"'<' after '{name}'")
        what = f"property '{name}'"
        if kind == "uint":
            value: object = self.uint(what)
        elif kind == "float":
            value = self.number(what)
        elif kind == "symref":
            value = self.symref()
        else:  # symrefs
            self.expect("punct", "[")
            refs = []
            if not self.at("punct", "]"):
                refs.append(self.symref())
                while self.accept("punct", ","):
                    refs.append(self.symref())
            self.expect("punct", "]")
            value = refs
        self.expect("punct", ">", what=f"'>' to close '{name}<'")
        return _Prop(name, value, t.line)

    def prop_list(self) -> list[_Prop]:
        """``[p, p, ...]`` (the '[' is the current token)."""
        self.expect("punct", "[")
        props = []
        if not self.at("punct", "]"):
            props.append(self.prop())
            while self.accept("punct", ","):
                props.append(self.prop())
        self.expect("punct", "]", what="',' or ']' in the property list")
        return props

    def skip_attr_dict(self) -> None:
        """Skip a ``{...}`` attribute dictionary (balanced brackets)."""
        start = self.expect("punct", "{")
        depth = 1
        while depth:
            t = self.next()
            if t.kind == "eof":
                raise self.fail("unterminated attribute dictionary '{'", start)
            if t.kind == "punct" and t.value in "{[(<":
                depth += 1
            elif t.kind == "punct" and t.value in "}])>":
                depth -= 1

    # -- structure
    def module_body(self, scope: _Scope, instances: list[_Instance], closing: bool) -> None:
        while True:
            t = self.peek()
            if t.kind == "eof":
                if closing:
                    raise self.fail(f"missing '}}' to close the module opened on line {scope.line}", t)
                return
            if closing and self.accept("punct", "}"):
                return
            if t.kind == "id" and t.value == "ssp.instance":
                inst = self.instance(scope)
                instances.append(inst)
                if inst.sym is not None:
                    self.define(scope.symbols, inst.sym, inst, t)
            elif t.kind == "id" and t.value in ("ssp.library", "ssp.resource"):
                lib = self.library(t.value[4:])
                if lib.sym is not None:
                    self.define(scope.symbols, lib.sym, lib, t)
            elif t.kind == "id" and t.value in ("module", "builtin.module"):
                self.next()
                sym = self.accept("sym")
                if self.accept("id", "attributes"):
                    self.skip_attr_dict()
                inner = _Scope(sym.value if sym else None, scope, t.line)
                self.expect("punct", "{", what="'{' to open the module")
                self.module_body(inner, instances, closing=True)
                if sym is not None:
                    self.define(scope.symbols, sym.value, inner, t)
            else:
                raise self.fail(
                    f"expected 'ssp.instance', 'ssp.library', 'ssp.resource' or 'module', got {self._show(t)}", t
                )

    def define(self, table: dict, name: str, node, tok: _Tok) -> None:
        if name in table:
            raise error(self.src, f"redefinition of symbol named '{name}'", tok.line)
        table[name] = node

    def library(self, kind: str) -> _Library:
        """``library [@sym] { operator_type @T [props] ... }`` (the keyword is the current token)."""
        head = self.next()
        sym = self.accept("sym")
        lib = _Library(kind, sym.value if sym else None, [], head.line)
        item_kw = "operator_type" if kind == "library" else "resource_type"
        self.expect("punct", "{", what=f"'{{' to open the {kind}")
        while not self.accept("punct", "}"):
            t = self.peek()
            if t.kind == "eof":
                raise self.fail(f"missing '}}' to close the {kind} opened on line {head.line}", t)
            if not self.keyword(item_kw):
                raise self.fail(f"expected '{item_kw}' or '}}' in the {kind}, got {self._show(t)}", t)
            name = self.expect("sym", what=f"the {item_kw.replace('_', ' ')}'s name (@name)")
            props = self.prop_list() if self.at("punct", "[") else []
            if self.at("punct", "{"):
                self.skip_attr_dict()
            decl = _TypeDecl("operator type" if kind == "library" else "resource type", name.value, props, t.line)
            self.define(lib.symbols, name.value, decl, name)
            lib.items.append(decl)
        return lib

    def instance(self, scope: _Scope) -> _Instance:
        head = self.next()  # ssp.instance
        sym = self.accept("sym")
        self.expect("id", "of", what="'of \"ProblemClass\"'")
        cls = self.expect("str", what="the problem class as a string, e.g. \"Problem\"")
        props = self.prop_list() if self.at("punct", "[") else []
        inst = _Instance(sym.value if sym else None, cls.value, props, [], head.line, self.chunk, scope)
        self.expect("punct", "{", what="'{' to open the instance")
        while not self.accept("punct", "}"):
            t = self.peek()
            if t.kind == "eof":
                raise self.fail(f"missing '}}' to close the instance opened on line {head.line}", t)
            if self.is_keyword("library") or self.is_keyword("resource"):
                lib = self.library("library" if self.is_keyword("library") else "resource")
                if lib.sym is not None:
                    self.define(inst.symbols, lib.sym, lib, t)
                inst.body.append(lib)
            elif self.keyword("graph"):
                inst.body.append(self.graph(t))
            else:
                raise self.fail(f"expected 'library', 'resource', 'graph' or '}}' in the instance, got {self._show(t)}", t)
        if self.at("punct", "{"):
            self.skip_attr_dict()
        return inst

    def graph(self, head: _Tok) -> _Graph:
        g = _Graph([], head.line)
        self.expect("punct", "{", what="'{' to open the graph")
        while not self.accept("punct", "}"):
            t = self.peek()
            if t.kind == "eof":
                raise self.fail(f"missing '}}' to close the graph opened on line {head.line}", t)
            g.ops.append(self.operation())
        return g

    def operation(self) -> _Op:
        first = self.peek()
        results: list[tuple[str, int]] = []
        if first.kind == "ssa":
            while True:
                r = self.expect("ssa")
                if "#" in r.value:
                    raise self.fail(f"result names cannot carry a result number: '{r.value}'", r)
                count = 1
                if self.accept("punct", ":"):
                    count = self.uint("the number of results")
                    if count < 1:
                        raise self.fail("the number of results must be >= 1", r)
                results.append((r.value[1:], count))
                if not self.accept("punct", ","):
                    break
            self.expect("punct", "=", what="'=' after the result names")
        t = self.peek()
        if t.kind == "str":
            if t.value != "ssp.operation":
                raise self.fail(f"unsupported operation \"{t.value}\" in the graph (only ssp.operation)", t)
            self.next()
            return self.generic_operation(results, t)
        if not self.keyword("operation"):
            raise self.fail(f"expected 'operation' or '}}' in the graph, got {self._show(t)}", t)
        op = _Op(results, None, None, None, [], [], [], t.line)
        self.expect("punct", "<", what="'<' after 'operation'")
        if self.at("sym"):
            op.opr = self.symref()
        self.expect("punct", ">", what="'>' to close 'operation<'")
        self.maybe_uses(op)
        s = self.accept("sym")
        if s is not None:
            op.sym = s.value
        self.maybe_uses(op)
        # dependences
        self.expect("punct", "(", what="'(' to open the dependence list")
        idx = 0
        if not self.at("punct", ")"):
            while True:
                d = self.peek()
                if d.kind == "sym":
                    self.next()
                    props = self.prop_list() if self.at("punct", "[") else []
                    op.deps.append((idx, d.value, props, d.line))
                elif d.kind == "ssa":
                    self.next()
                    name, _, num = d.value[1:].partition("#")
                    props = self.prop_list() if self.at("punct", "[") else []
                    if props:
                        op.deps.append((idx, None, props, d.line))
                    op.operands.append((name, int(num) if num else 0, d.line))
                else:
                    raise self.fail(f"expected SSA value or symbol reference, got {self._show(d)}", d)
                idx += 1
                if not self.accept("punct", ","):
                    break
        self.expect("punct", ")", what="',' or ')' in the dependence list")
        self.maybe_uses(op)
        if self.at("punct", "["):
            op.props = self.prop_list()
        if self.at("punct", "{"):
            self.skip_attr_dict()
        return op

    def maybe_uses(self, op: _Op) -> None:
        t = self.peek()
        if not (t.kind == "id" and t.value == "uses" and self.peek(1).kind == "punct" and self.peek(1).value in "[<"):
            return
        self.next()
        close = "]" if self.next().value == "[" else ">"
        if op.uses is not None:
            op.dup_uses = True
        refs = list(op.uses or [])
        if not self.at("punct", close):
            while True:
                if not self.at("sym"):
                    raise self.fail("expected symbol reference inside uses[...]")
                line = self.peek().line
                refs.append((self.symref(), line))
                if not self.accept("punct", ","):
                    break
        self.expect("punct", close, what=f"',' or '{close}' in uses")
        op.uses = refs
        if op.dup_uses:
            raise self.fail("'uses' given twice", t)

    def generic_operation(self, results, head: _Tok) -> _Op:
        op = _Op(results, None, None, None, [], [], [], head.line)
        self.expect("punct", "(", what="'(' after \"ssp.operation\"")
        if not self.at("punct", ")"):
            while True:
                d = self.expect("ssa", what="an SSA operand")
                name, _, num = d.value[1:].partition("#")
                op.operands.append((name, int(num) if num else 0, d.line))
                if not self.accept("punct", ","):
                    break
        self.expect("punct", ")", what="',' or ')' in the operand list")
        if self.at("punct", "<") and self.at("punct", "{", 1):  # properties: <{...}>
            self.next()
            self.generic_attrs(op)
            self.expect("punct", ">", what="'>' to close the properties")
        if self.at("punct", "{"):  # attribute dictionary
            self.generic_attrs(op)
        colon = self.expect("punct", ":", what="':' and the function type")
        n_in, n_out = self.function_type()
        n_results = sum(count for _, count in results)
        if n_in != len(op.operands):
            raise self.fail(f"{len(op.operands)} operands but {n_in} operand types", colon)
        if n_out != n_results:
            raise self.fail(f"{n_results} results but {n_out} result types", colon)
        return op

    def function_type(self) -> tuple[int, int]:
        self.expect("punct", "(", what="'(' to open the operand types")
        n_in = self.type_list(")")
        self.expect("punct", "->", what="'->'")
        if self.accept("punct", "("):
            return n_in, self.type_list(")")
        self.one_type()
        return n_in, 1

    def type_list(self, close: str) -> int:
        if self.accept("punct", close):
            return 0
        n = 0
        while True:
            self.one_type()
            n += 1
            if not self.accept("punct", ","):
                break
        self.expect("punct", close, what=f"',' or '{close}' in the type list")
        return n

    def one_type(self) -> None:
        t = self.peek()
        if t.kind == "punct" and t.value == "!":
            self.next()
            self.expect("id", what="a dialect type name")
            if self.at("punct", "<"):
                depth = 0
                while True:
                    x = self.next()
                    if x.kind == "eof":
                        raise self.fail("unterminated type", t)
                    if x.kind == "punct" and x.value == "<":
                        depth += 1
                    elif x.kind == "punct" and x.value == ">":
                        depth -= 1
                        if not depth:
                            break
            return
        self.expect("id", what="a type")

    def generic_attrs(self, op: _Op) -> None:
        self.expect("punct", "{")
        if self.accept("punct", "}"):
            return
        while True:
            key = self.peek()
            if key.kind not in ("id", "str"):
                raise self.fail(f"expected an attribute name, got {self._show(key)}", key)
            self.next()
            if not self.accept("punct", "="):
                pass  # unit attribute
            elif key.value == "dependences":
                self.expect("punct", "[")
                if not self.at("punct", "]"):
                    while True:
                        op.deps.append(self.dependence_attr())
                        if not self.accept("punct", ","):
                            break
                self.expect("punct", "]", what="',' or ']' in the dependences")
            elif key.value == "sspProperties":
                op.props.extend(self.prop_list())
            elif key.value == "sym_name":
                op.sym = self.expect("str", what="the symbol name as a string").value
            else:
                raise self.fail(f"unsupported attribute '{key.value}' on ssp.operation", key)
            if not self.accept("punct", ","):
                break
        self.expect("punct", "}", what="',' or '}' in the attribute dictionary")

    def dependence_attr(self):
        t = self.expect("hash", what="#ssp.dependence<...>")
        if t.value != "#ssp.dependence":
            raise self.fail(f"expected #ssp.dependence<...>, got '{t.value}'", t)
        self.expect("punct", "<")
        idx = self.uint("the operand index")
        sym = None
        props: list[_Prop] = []
        if self.accept("punct", ","):
            sym = self.expect("sym", what="the source operation's symbol").value
        if self.accept("punct", ":"):
            props = self.prop_list()
        self.expect("punct", ">", what="'>' to close #ssp.dependence<")
        return (idx, sym, props, t.line)


# ---------------------------------------------------------------------------------------------------- result type
@dataclass
class SSPCase:
    """One ``ssp.instance`` of a file, as a `Problem` plus what the model does not hold.

    ``start``/``start_in_cycle``: the ``t``/``z`` properties present, ``{op id: value}``; ``schedule``: a `Schedule`
    when every op has ``t`` (with ``ii`` = the instance's II), else None; ``edge_aux``: bool per edge, True for
    auxiliary (symbol) dependences; ``issues``: problem-level conditions tolerated with ``check=False``;
    ``index``: position among the file's instances; ``chunk``: which ``// -----`` chunk; ``line``: of the instance.
    """

    problem: Problem
    problem_class: str
    instance_name: str | None
    start: dict[str, int]
    start_in_cycle: dict[str, float]
    edge_aux: np.ndarray
    index: int
    chunk: int
    line: int
    issues: list[str] = field(default_factory=list)
    library_name: str | None = None
    resource_library_name: str | None = None

    @property
    def schedule(self) -> Schedule | None:
        p = self.problem
        if len(self.start) != p.n_ops:
            return None
        return Schedule(np.array([self.start[i] for i in p.op_ids], dtype=np.int64), p.ii)

    def check_schedule(self) -> list[str]:
        """CIRCT's ``verify()`` for the ``t``/``z`` in the file: messages, [] when the solution is valid.

        Every op needs ``t``; cyclic classes need an II; dependences and resource use are checked by
        `gaus_fast.verify.check`; chaining classes also need ``z >= 0`` everywhere and in-cycle precedence
        (`check_chaining`)."""
        from .. import verify as V

        p = self.problem
        missing = [i for i in p.op_ids if i not in self.start]
        if missing:
            return [f"operation {missing[0]} has no start time ({len(missing)} ops without t)"]
        msgs = []
        if self.problem_class in CYCLIC_CLASSES and p.ii is None:
            msgs.append("Invalid initiation interval (the instance has no II)")
        msgs += V.check(p, self.schedule)
        if self.problem_class in CHAINING_CLASSES:
            msgs += check_chaining(p, self.schedule, self.start_in_cycle, self.edge_aux)
        return msgs


# ---------------------------------------------------------------------------------------------------- building
class _Builder:
    def __init__(self, inst: _Instance, src: Source, check: bool, index: int, name: str | None,
                 last_op: str | None, cycle_time: float | None):
        self.inst = inst
        self.src = src
        self.check = check
        self.index = index
        self.name = name
        self.last_op = last_op
        self.cycle_time = cycle_time
        self.pending: list[tuple[tuple, int, str, int | None]] = []

    def err(self, msg: str, line: int | None) -> ProblemError:
        return error(self.src, f"{msg} ({self.where()})", line)

    def where(self) -> str:
        return f"instance @{_sym_text(self.inst.sym)}" if self.inst.sym is not None else f"instance on line {self.inst.line}"

    def issue(self, msg: str, line: int | None, key: tuple) -> None:
        """A problem-level condition (an error with check=True, else listed): ``key`` orders them like CIRCT's
        ``check()`` so that the first one raised is the one CIRCT would report."""
        self.pending.append((key, len(self.pending), msg, line))

    def settle(self) -> list[str]:
        self.pending.sort(key=lambda x: (x[0], x[1]))
        if self.check and self.pending:
            _, _, msg, line = self.pending[0]
            raise error(self.src, f"{msg} ({self.where()}; read with check=False to accept it)", line)
        return [f"line {line}: {msg}" if line is not None else msg for _, _, msg, line in self.pending]

    # -- symbol lookup (SymbolTable::lookupSymbolIn semantics)
    @staticmethod
    def lookup_in(node, parts: tuple[str, ...]):
        for part in parts:
            table = getattr(node, "symbols", None)
            if table is None or part not in table:
                return None
            node = table[part]
        return node

    def resolve(self, parts: tuple[str, ...], own: _Library | None, kind: str):
        node = self.lookup_in(own, parts) if own is not None else None
        if not (isinstance(node, _TypeDecl) and node.kind == kind):
            node = self.lookup_in(self.inst, parts)
        if not (isinstance(node, _TypeDecl) and node.kind == kind):
            node = self.lookup_in(self.inst.scope, parts)
        return node if isinstance(node, _TypeDecl) and node.kind == kind else None

    def build(self) -> SSPCase:
        inst, src = self.inst, self.src
        cls = inst.problem_class
        # ---- InstanceOp::verify
        libs = [b for b in inst.body if isinstance(b, _Library) and b.kind == "library"]
        rlibs = [b for b in inst.body if isinstance(b, _Library) and b.kind == "resource"]
        graphs = [b for b in inst.body if isinstance(b, _Graph)]
        if len(libs) != 1 or len(graphs) != 1:
            raise self.err("'ssp.instance' op must contain exactly one 'library' op and one 'graph' op", inst.line)
        if inst.body.index(graphs[0]) < inst.body.index(libs[0]):
            raise self.err("'ssp.instance' op must contain the 'library' op followed by the 'graph' op", inst.line)
        if len(rlibs) > 1:
            raise self.err("'ssp.instance' op must contain at most one 'resource' op", rlibs[1].line)
        lib, rlib, graph = libs[0], (rlibs[0] if rlibs else None), graphs[0]
        ops = graph.ops

        # ---- MLIR-level: SSA values and symbols of the graph region
        values: dict[str, tuple[int, int]] = {}  # name -> (op index, result count)
        op_syms: dict[str, int] = {}
        for k, op in enumerate(ops):
            for rname, count in op.results:
                if rname in values:
                    raise self.err(f"redefinition of SSA value '%{rname}'", op.line)
                values[rname] = (k, count)
            if op.sym is not None:
                if op.sym in op_syms:
                    raise self.err(f"redefinition of symbol named '{op.sym}'", op.line)
                op_syms[op.sym] = k
        operand_src: list[list[int]] = []
        for op in ops:
            srcs = []
            for vname, num, line in op.operands:
                if vname not in values:
                    raise self.err(f"use of undeclared SSA value name '%{vname}'", line)
                k, count = values[vname]
                if num >= count:
                    raise self.err(f"reference to invalid result number '%{vname}#{num}' (it has {count} results)", line)
                srcs.append(k)
            operand_src.append(srcs)

        # ---- OperationOp::verify (the dependence attribute)
        for op in ops:
            n_operands, last = len(op.operands), -1
            for idx, sym, _props, line in op.deps:
                if sym is None:
                    if idx >= n_operands:
                        raise self.err("Operand index is out of bounds for def-use dependence attribute", line)
                    if idx <= last:
                        raise self.err("Def-use operand indices in dependence attribute are not monotonically increasing", line)
                else:
                    if idx < n_operands:
                        raise self.err(f"Auxiliary dependence from @{sym} is interleaved with SSA operands", line)
                    if not (idx == last + 1 or (idx > last and idx == n_operands)):
                        raise self.err("Auxiliary operand indices in dependence attribute are not consecutive", line)
                last = idx

        # ---- OperationOp::verifySymbolUses
        opr_of: list[_TypeDecl | None] = []
        rsrc_of: list[list[_TypeDecl] | None] = []
        for op in ops:
            for idx, sym, _props, line in op.deps:
                if sym is not None and sym not in op_syms:
                    raise self.err(f"Auxiliary dependence references invalid source operation: @{sym}", line)
            opr_props = [p for p in op.props if p.name == "opr"]
            ref = op.opr if op.opr is not None else (opr_props[0].value if opr_props else None)
            decl = None
            if ref is not None:
                decl = self.resolve(ref, lib, "operator type")
                if decl is None:
                    raise self.err(
                        f"Linked operator type property references invalid operator type: {_ref_text(ref)}", op.line
                    )
            opr_of.append(decl)
            urefs = list(op.uses or [])
            for p in op.props:
                if p.name == "rsrcs":
                    urefs += [(r, p.line) for r in p.value]
            if op.uses is None and not any(p.name == "rsrcs" for p in op.props):
                rsrc_of.append(None)
                continue
            decls = []
            for r, line in urefs:
                d = self.resolve(r, rlib, "resource type")
                if d is None:
                    raise self.err(f"Linked resource type property references invalid resource type: {_ref_text(r)}", line)
                decls.append(d)
            rsrc_of.append(decls)

        # ---- problem level (loadProblem + check)
        if cls not in PROBLEM_CLASSES:
            raise self.err(f"unknown problem class '{cls}'; known: {', '.join(PROBLEM_CLASSES)}", inst.line)

        def props_of(props: list[_Prop], element: str) -> dict[str, _Prop]:
            out: dict[str, _Prop] = {}
            for p in props:
                if p.name in out:
                    raise self.err(f"property '{p.name}' given twice on one {element}", p.line)
                belongs, classes, _ = _PROPS[p.name]
                if p.name == "limit" and element == "operator type":
                    belongs = "operator type"  # the older CIRCT spelling of resource limits
                if belongs != element:
                    self.issue(f"property '{p.name}' belongs on a {belongs}, not on a {element}; CIRCT ignores it",
                               p.line, (0, p.line))
                    continue
                if classes is not None and cls not in classes:
                    have = ", ".join(c for c in PROBLEM_CLASSES if c in classes)
                    self.issue(
                        f"property '{p.name}' is not part of problem class '{cls}' (CIRCT ignores it; classes with it: {have})",
                        p.line, (0, p.line),
                    )
                    continue
                out[p.name] = p
            return out

        iprops = props_of(inst.props, "instance")
        ii = iprops["II"].value if "II" in iprops else None
        if ii == 0:
            self.issue("Invalid initiation interval (II<0>)", iprops["II"].line, (0, iprops["II"].line))
            ii = None

        # operator types: the instance library's, then others on first use (renamed on clashes)
        op_types: list[OperatorType] = []
        type_index: dict[int, int] = {}  # id(decl) -> index
        type_names: dict[str, int] = {}
        type_decl: list[_TypeDecl | None] = []
        type_limit: list[tuple[int, _Prop] | None] = []
        no_latency: set[int] = set()

        def unique(name: str, taken: dict) -> str:
            if name not in taken:
                return name
            k = taken[name]
            while True:
                k += 1
                cand = f"{name}_{k}"
                if cand not in taken:
                    taken[name] = k
                    return cand

        def add_type(decl: _TypeDecl) -> int:
            if id(decl) in type_index:
                return type_index[id(decl)]
            props = props_of(decl.props, "operator type")
            name = unique(decl.name, type_names)
            type_names.setdefault(name, 0)
            lat = props["latency"].value if "latency" in props else None
            if lat is None:
                no_latency.add(len(op_types))
                lat = 0
            inc = props["incDelay"].value if "incDelay" in props else None
            out = props["outDelay"].value if "outDelay" in props else None
            key = (3, len(op_types))
            if cls in CHAINING_CLASSES:
                if inc is None or out is None:
                    self.issue(f"Missing delays for operator type '{decl.name}'", decl.line, key)
                elif inc < 0 or out < 0:
                    self.issue(f"Negative delays for operator type '{decl.name}'", decl.line, key)
                elif lat == 0 and inc != out:
                    self.issue(
                        f"Incoming & outgoing delay must be equal for zero-latency operator type '{decl.name}'",
                        decl.line, key,
                    )
            if inc is not None and inc < 0:
                inc = None
            if out is not None and out < 0:
                out = None
            op_types.append(OperatorType(name, int(lat), inc, out))
            type_decl.append(decl)
            type_limit.append((props["limit"].value, props["limit"]) if "limit" in props else None)
            type_index[id(decl)] = len(op_types) - 1
            return len(op_types) - 1

        for decl in lib.items:
            add_type(decl)

        res_types: list[ResourceType] = []
        res_index: dict[int, int] = {}
        res_names: dict[str, int] = {}

        def add_res(decl: _TypeDecl) -> int:
            if id(decl) in res_index:
                return res_index[id(decl)]
            props = props_of(decl.props, "resource type")
            limit = props["limit"].value if "limit" in props else None
            if limit == 0:
                raise self.err(f"resource type '{decl.name}': limit<0> leaves no unit to use (limit must be >= 1)", decl.line)
            name = unique(decl.name, res_names)
            res_names.setdefault(name, 0)
            res_types.append(ResourceType(name, limit, "pipelined"))
            res_index[id(decl)] = len(res_types) - 1
            return len(res_types) - 1

        if rlib is not None:
            for decl in rlib.items:
                add_res(decl)

        # operations
        n = len(ops)
        op_type = np.zeros(n, dtype=np.int32)
        uses: list[list[int]] = []
        unlinked = None
        reported_latency: set[int] = set()
        for k, op in enumerate(ops):
            decl = opr_of[k]
            if decl is None:
                self.issue("Operation is not linked to an operator type", op.line, (2, k, 0))
                if unlinked is None:
                    unlinked = -1  # placeholder, appended after all linked types are known
                op_type[k] = -1
            else:
                op_type[k] = add_type(decl)
                t = int(op_type[k])
                if t in no_latency and t not in reported_latency:
                    reported_latency.add(t)
                    self.issue(f"Operator type '{decl.name}' has no latency", decl.line, (2, k, 1))
            uses.append([add_res(d) for d in (rsrc_of[k] or [])])
        if unlinked is not None:
            op_types.append(OperatorType(unique("", type_names), 0))
            op_type[op_type < 0] = len(op_types) - 1
        # old-style operator type limits: one resource per such type
        type_res: dict[int, int] = {}
        for t, lim in enumerate(type_limit):
            if lim is None:
                continue
            value, prop = lim
            if value == 0:
                raise self.err(f"operator type '{type_decl[t].name}': limit<0> leaves no unit to use", prop.line)
            name = unique(op_types[t].name, res_names)
            res_names.setdefault(name, 0)
            res_types.append(ResourceType(name, value, "pipelined"))
            type_res[t] = len(res_types) - 1
        for k in range(n):
            r = type_res.get(int(op_type[k]))
            if r is not None and r not in uses[k]:
                uses[k].append(r)
        # zero latency on a limited resource
        if cls in SHARED_CLASSES:
            for k, op in enumerate(ops):
                lat = op_types[op_type[k]].latency
                for r in uses[k]:
                    if res_types[r].limit is not None and lat == 0 and int(op_type[k]) not in no_latency:
                        self.issue(
                            f"Operator type '{op_types[op_type[k]].name}' using limited resource "
                            f"'{res_types[r].name}' has zero latency.",
                            op.line, (2, k, 2),
                        )
                        break

        # ids
        ids: list[str] = []
        for k, op in enumerate(ops):
            if op.sym is not None:
                ids.append(op.sym)
            elif op.results:
                ids.append("%" + op.results[0][0])
            else:
                ids.append(None)  # type: ignore[arg-type]
        taken = set(i for i in ids if i is not None)
        for k in range(n):
            if ids[k] is None:
                cand, j = f"op{k}", 0
                while cand in taken:
                    j += 1
                    cand = f"op{k}_{j}"
                ids[k] = cand
                taken.add(cand)

        # edges: per destination, SSA operands in order, then auxiliary ones
        esrc, edst, edist, eaux = [], [], [], []
        for k, op in enumerate(ops):
            dep_props: dict[int, list[_Prop]] = {}
            aux = []
            for idx, sym, props, line in op.deps:
                if sym is None:
                    dep_props[idx] = props
                else:
                    aux.append((op_syms[sym], props, line))
            for j, s in enumerate(operand_src[k]):
                p = props_of(dep_props.get(j, []), "dependence")
                d = p["dist"].value if "dist" in p else 0
                if d and cls == "ChainingCyclicProblem":
                    self.issue(f"Def-use dependence cannot have non-zero distance. On operation: {ids[k]}",
                               p["dist"].line, (1, k))
                esrc.append(s)
                edst.append(k)
                edist.append(d)
                eaux.append(False)
            for s, props, line in aux:
                p = props_of(props, "dependence")
                esrc.append(s)
                edst.append(k)
                edist.append(p["dist"].value if "dist" in p else 0)
                eaux.append(True)

        # solution properties
        start: dict[str, int] = {}
        stic: dict[str, float] = {}
        for k, op in enumerate(ops):
            p = props_of([q for q in op.props if q.name not in ("opr", "rsrcs")], "operation")
            if "t" in p:
                start[ids[k]] = int(p["t"].value)
            if "z" in p:
                z = float(p["z"].value)
                if z < 0:
                    self.issue(f"Operation {ids[k]} has no non-negative start time in cycle (z = {z})",
                               p["z"].line, (4, k))
                stic[ids[k]] = z

        last = self.last_op
        if last is not None and str(last) not in taken:
            raise self.err(f"last_op {last!r} names no operation of the {self.where()}", inst.line)
        if last is None and n:
            last = ids[-1]
        issues = self.settle()
        pname = self.name if self.name is not None else (inst.sym if inst.sym is not None else f"{src.stem}_{self.index}")
        use_ptr = np.zeros(n + 1, dtype=np.int64)
        use_ptr[1:] = np.cumsum([len(u) for u in uses]) if n else []
        with in_source(src, inst.line):
            problem = Problem(
                op_ids=ids,
                op_type=op_type,
                operator_types=op_types,
                edge_src=np.array(esrc, dtype=np.int32),
                edge_dst=np.array(edst, dtype=np.int32),
                resource_types=res_types,
                use_ptr=use_ptr,
                use_res=np.array([r for u in uses for r in u], dtype=np.int32),
                edge_distance=np.array(edist, dtype=np.int64),
                ii=ii,
                name=pname,
                problem_class=cls,
                last_op=last,
                cycle_time=self.cycle_time,
            )
        return SSPCase(
            problem=problem,
            problem_class=cls,
            instance_name=inst.sym,
            start=start,
            start_in_cycle=stic,
            edge_aux=np.array(eaux, dtype=bool),
            index=self.index,
            chunk=inst.chunk,
            line=inst.line,
            issues=issues,
            library_name=lib.sym,
            resource_library_name=rlib.sym if rlib is not None else None,
        )


def _ref_text(parts: Sequence[str]) -> str:
    return "::".join("@" + _sym_text(p) for p in parts)


def _sym_text(name: str) -> str:
    return name if _BARE_ID.match(name) else f'"{_escape(name)}"'


# ---------------------------------------------------------------------------------------------------- reading
def _instances(text: str, src: Source, stop_at=None) -> list[_Instance]:
    """Parse chunk after chunk (syntax only); stop after the chunk in which ``stop_at(instances)`` is true."""
    out: list[_Instance] = []
    for c, toks in enumerate(_chunks(text, src)):
        parser = _Parser(toks, src, c)
        parser.module_body(_Scope(None, None, toks[0].line), out, closing=False)
        if stop_at is not None and stop_at(out):
            break
    return out


def _options(last_op, cycle_time, src: Source):
    if cycle_time is not None:
        if isinstance(cycle_time, bool) or not isinstance(cycle_time, (int, float)) or not math.isfinite(cycle_time) or cycle_time <= 0:
            raise error(src, f"cycle_time must be a number > 0, got {cycle_time!r}")
        cycle_time = float(cycle_time)
    return (None if last_op is None else str(last_op)), cycle_time


def parse_instances(
    text: str, src: Source | None = None, check: bool = True, name: str | None = None,
    last_op: str | None = None, cycle_time: float | None = None,
) -> list[SSPCase]:
    """Every instance of SSP text (see the module docstring); ``name`` prefixes problem names when there are several."""
    src = src or Source("<text>", "problem")
    last_op, cycle_time = _options(last_op, cycle_time, src)
    insts = _instances(text, src)
    out = []
    for k, inst in enumerate(insts):
        pname = None
        if name is not None:
            pname = name if len(insts) == 1 else f"{name}_{inst.sym if inst.sym is not None else k}"
        out.append(_Builder(inst, src, check, k, pname, last_op, cycle_time).build())
    return out


def read_instances(
    path_or_text, check: bool = True, name: str | None = None, last_op: str | None = None,
    cycle_time: float | None = None,
) -> list[SSPCase]:
    """Every ``ssp.instance`` of a file (or of SSP text), in order, as `SSPCase` objects."""
    text, src = load_text(path_or_text, ("ssp.", "module"), name)
    return parse_instances(text, src, check=check, name=name, last_op=last_op, cycle_time=cycle_time)


def parse_case(
    text: str, src: Source | None = None, case: int | str = 0, check: bool = True, name: str | None = None,
    last_op: str | None = None, cycle_time: float | None = None,
) -> SSPCase:
    """One instance of SSP text: ``case`` is its index among the file's instances or its symbol name."""
    src = src or Source("<text>", "problem")
    last_op, cycle_time = _options(last_op, cycle_time, src)
    if isinstance(case, bool) or not isinstance(case, (int, str, np.integer)):
        raise error(src, f"case must be an instance index or name, got {case!r}")
    if isinstance(case, (int, np.integer)):
        case = int(case)
        if case < 0:
            raise error(src, f"case must be >= 0, got {case}")
        insts = _instances(text, src, stop_at=lambda found: len(found) > case)
        if case >= len(insts):
            raise error(src, f"case {case} asked for, but the input has {len(insts)} instance(s)")
        k = case
    else:
        insts = _instances(text, src, stop_at=lambda found: any(i.sym == case for i in found))
        matches = [k for k, i in enumerate(insts) if i.sym == case]
        if not matches:
            known = ", ".join("@" + i.sym for i in insts if i.sym is not None) or "none named"
            raise error(src, f"no instance named @{case}; instances: {known}")
        k = matches[0]
    return _Builder(insts[k], src, check, k, name, last_op, cycle_time).build()


def parse(
    text: str, src: Source | None = None, case: int | str = 0, check: bool = True, name: str | None = None,
    last_op: str | None = None, cycle_time: float | None = None,
) -> Problem:
    """The `Problem` of one instance (``case``: index or symbol name; default the first)."""
    return parse_case(text, src, case, check, name, last_op, cycle_time).problem


def read(
    path_or_text, case: int | str = 0, check: bool = True, name: str | None = None, last_op: str | None = None,
    cycle_time: float | None = None,
) -> Problem:
    """Read one instance of an SSP file (path, or the text itself) as a `Problem`."""
    text, src = load_text(path_or_text, ("ssp.", "module"), name)
    return parse(text, src, case, check, name, last_op, cycle_time)


def read_case(path_or_text, case: int | str = 0, check: bool = True, name: str | None = None,
              last_op: str | None = None, cycle_time: float | None = None) -> SSPCase:
    """Like `read`, but the whole `SSPCase` (with the ``t``/``z`` given in the file)."""
    text, src = load_text(path_or_text, ("ssp.", "module"), name)
    return parse_case(text, src, case, check, name, last_op, cycle_time)


def looks_like(text: str) -> bool:
    return bool(re.search(r"(?m)^\s*(ssp\.(instance|library|resource)\b|module\b)", text[:65536]))


def read_schedule(path_or_text, problem: Problem, case: int | str = 0) -> Schedule:
    """The ``t`` of one instance of an SSP file, mapped by op id onto ``problem`` (its II: the instance's)."""
    text, src = load_text(path_or_text, ("ssp.", "module"))
    c = parse_case(text, src, case, check=False)
    try:
        return Schedule.from_dict(problem, c.start, c.problem.ii)
    except ProblemError as err:
        raise error(src, str(err), c.line) from None


# ---------------------------------------------------------------------------------------------------- chaining
def start_times_in_cycle(problem: Problem, schedule: Schedule, edge_aux: np.ndarray | None = None) -> np.ndarray:
    """The earliest start time in cycle ``z`` of every op for the step schedule (CIRCT ``ChainingProblem``).

    ``z_j = max(0, max over value edges i -> j with t_i + lat_i == t_j of (z_i if lat_i == 0 else 0) + outDelay_i)``;
    auxiliary edges (``edge_aux``) and loop-carried edges carry no value within the cycle. Missing delays count as 0.
    """
    n = problem.n_ops
    t = np.asarray(schedule.start, dtype=np.int64)
    lat = problem.latency
    out_delay = np.array([t_.outgoing_delay or 0.0 for t_ in problem.operator_types], dtype=np.float64)[problem.op_type] if n else np.zeros(0)
    aux = np.zeros(problem.n_edges, bool) if edge_aux is None else np.asarray(edge_aux, bool)
    keep = (~aux) & (problem.edge_distance == 0)
    src, dst = problem.edge_src[keep].astype(np.int64), problem.edge_dst[keep].astype(np.int64)
    chained = t[src] + lat[src] == t[dst]
    src, dst = src[chained], dst[chained]
    z = np.zeros(n, dtype=np.float64)
    if not len(src):
        return z
    # relax along a topological order of the chained edges (they are distance-0, so acyclic)
    order = np.argsort(dst, kind="stable")
    src, dst = src[order], dst[order]
    indeg = np.bincount(dst, minlength=n)
    succ_ptr = np.zeros(n + 1, dtype=np.int64)
    by_src = np.argsort(src, kind="stable")
    succ_ptr[1:] = np.cumsum(np.bincount(src, minlength=n))
    succ = dst[by_src]
    stack = [i for i in range(n) if indeg[i] == 0]
    while stack:
        i = stack.pop()
        zi = (z[i] if lat[i] == 0 else 0.0) + out_delay[i]
        for j in succ[succ_ptr[i] : succ_ptr[i + 1]]:
            if zi > z[j]:
                z[j] = zi
            indeg[j] -= 1
            if indeg[j] == 0:
                stack.append(int(j))
    return z


def check_chaining(problem: Problem, schedule: Schedule, start_in_cycle: Mapping[str, float] | Sequence[float],
                   edge_aux: np.ndarray | None = None, limit: int = 20) -> list[str]:
    """CIRCT ``ChainingProblem::verify`` beyond the step precedences: every op has ``z >= 0``, and for every value
    edge ``i -> j`` (not auxiliary) with ``t_i + lat_i == t_j``: ``(z_i if lat_i == 0 else 0) + outDelay_i <= z_j``.
    (Like CIRCT, the cycle time itself is not checked here.)"""
    n = problem.n_ops
    if isinstance(start_in_cycle, Mapping):
        z = np.full(n, np.nan)
        index = problem.index_of()
        for k, v in start_in_cycle.items():
            if k in index:
                z[index[k]] = float(v)
    else:
        z = np.asarray(start_in_cycle, dtype=np.float64)
    msgs: list[str] = []
    bad = np.flatnonzero(~(z >= 0))
    for i in bad[:limit]:
        msgs.append(f"Operation {problem.op_ids[i]} has no non-negative start time in cycle")
    if len(bad):
        return msgs
    t = np.asarray(schedule.start, dtype=np.int64)
    lat = problem.latency
    out_delay = np.array([t_.outgoing_delay or 0.0 for t_ in problem.operator_types], dtype=np.float64)[problem.op_type] if n else np.zeros(0)
    aux = np.zeros(problem.n_edges, bool) if edge_aux is None else np.asarray(edge_aux, bool)
    for e in np.flatnonzero(~aux):
        i, j = int(problem.edge_src[e]), int(problem.edge_dst[e])
        if t[i] + lat[i] != t[j] or problem.edge_distance[e] != 0:
            continue
        zi = (z[i] if lat[i] == 0 else 0.0) + out_delay[i]
        if not zi <= z[j] + 1e-9 * max(1.0, abs(z[j])):
            msgs.append(
                f"Precedence violated in cycle {t[j]} for dependence {problem.op_ids[i]} -> {problem.op_ids[j]}: "
                f"result after z={zi:g}, starts in z={z[j]:g}"
            )
            if len(msgs) >= limit:
                break
    return msgs


def chain_breaking_problem(problem: Problem, edge_aux: np.ndarray | None, cycle_time: float | None) -> Problem:
    """The problem a chaining scheduler solves (CIRCT ``computeChainBreakingDependences``): for every op j and
    every combinational chain reaching it along value edges (not auxiliary, distance 0) whose accumulated delay
    plus ``incDelay_j`` exceeds ``cycle_time``, an extra edge origin -> j with delay 1 (one more step separates
    them). A chain starts at its origin op; it accumulates ``outDelay`` through each latency-0 op and is cut by
    an op with latency > 0 (which contributes only its ``outDelay``). Errors as CIRCT: no cycle time, or delays of
    an operator type above it. Missing delays count as 0. Without chaining delays the problem comes back as is."""
    if not any(t.incoming_delay is not None or t.outgoing_delay is not None for t in problem.operator_types):
        return problem
    if cycle_time is None:
        raise ProblemError("chaining problems need a cycle time (CIRCT: Missing option 'cycle-time'); pass --cycle-time")
    for t in problem.operator_types:
        if (t.incoming_delay or 0.0) > cycle_time or (t.outgoing_delay or 0.0) > cycle_time:
            raise ProblemError(f"Delays of operator type '{t.name}' exceed maximum cycle time: {cycle_time:g}")
    n = problem.n_ops
    lat = problem.latency
    types = problem.operator_types
    inc = np.array([types[k].incoming_delay or 0.0 for k in problem.op_type], dtype=np.float64)
    out = np.array([types[k].outgoing_delay or 0.0 for k in problem.op_type], dtype=np.float64)
    aux = np.zeros(problem.n_edges, bool) if edge_aux is None else np.asarray(edge_aux, bool)
    value = np.flatnonzero(~aux & (problem.edge_distance == 0))
    preds: list[list[int]] = [[] for _ in range(n)]
    for e in value:
        preds[problem.edge_dst[e]].append(int(problem.edge_src[e]))
    from .. import _core

    order = _core.topological_order(n, problem.edge_src[value], problem.edge_dst[value])
    chains: list[dict[int, float]] = [dict() for _ in range(n)]  # chains[j][origin] = delay arriving at j
    extra: list[tuple[int, int]] = []
    for j in order:
        j = int(j)
        here = chains[j]
        here[j] = 0.0
        for i in preds[j]:
            if lat[i] > 0:  # registered result: only its outgoing delay reaches j
                here[i] = max(here.get(i, 0.0), out[i])
                continue
            for origin, d in chains[i].items():
                here[origin] = max(d + out[i], here.get(origin, 0.0))
        for origin in [o for o, d in here.items() if d + inc[j] > cycle_time]:
            extra.append((origin, j))
            del here[origin]
    if not extra:
        return problem
    src = np.concatenate([problem.edge_src, [a for a, _ in extra]]).astype(np.int32)
    dst = np.concatenate([problem.edge_dst, [b for _, b in extra]]).astype(np.int32)
    k = len(extra)
    return problem.replace(
        edge_src=src, edge_dst=dst, edge_delay=np.concatenate([problem.edge_delay, np.ones(k, np.int64)]),
        edge_distance=np.concatenate([problem.edge_distance, np.zeros(k, np.int64)]),
        edge_comm=np.concatenate([problem.edge_comm, np.zeros(k)]),
    )


def with_solution(case: SSPCase, schedule: Schedule) -> SSPCase:
    """A copy of ``case`` carrying ``schedule``: ``t`` on every op, the schedule's II on the instance (cyclic
    classes) and, for chaining classes, the earliest start times in cycle ``z`` (CIRCT ``computeStartTimesInCycle``)."""
    from dataclasses import replace as dc_replace

    p = case.problem
    start = {op: int(t) for op, t in zip(p.op_ids, np.asarray(schedule.start))}
    z = {}
    if case.problem_class in CHAINING_CLASSES:
        z = {op: float(v) for op, v in zip(p.op_ids, start_times_in_cycle(p, schedule, case.edge_aux))}
    ii = schedule.ii if schedule.ii is not None else p.ii
    problem = p.replace(ii=ii) if case.problem_class in CYCLIC_CLASSES and ii is not None else p
    return dc_replace(case, problem=problem, start=start, start_in_cycle=z)


# ---------------------------------------------------------------------------------------------------- writing
def _float_text(v: float) -> str:
    """CIRCT's spelling (``1.000000e-01 : f32``), with more digits when 7 do not give ``v`` back."""
    s = f"{v:.6e}"
    if float(s) != v:
        s = f"{v:.17e}"
    return f"{s} : f32"


def _infer_class(problem: Problem, ii) -> str:
    chaining = any(t.incoming_delay is not None or t.outgoing_delay is not None for t in problem.operator_types)
    cyclic = ii is not None or bool(np.any(problem.edge_distance > 0))
    shared = problem.has_limits()
    if chaining and shared:
        raise ProblemError("no SSP problem class has both chaining delays and resource limits")
    if chaining:
        return "ChainingCyclicProblem" if cyclic else "ChainingProblem"
    if shared:
        return "ModuloProblem" if cyclic else "SharedOperatorsProblem"
    return "CyclicProblem" if cyclic else "Problem"


def _dumps(
    problem: Problem,
    start: Sequence[int | None] | None,
    ii: int | None,
    z: Sequence[float | None] | None,
    edge_aux: np.ndarray | None,
    instance_name: str | None,
    problem_class: str | None,
    library_name: str | None = None,
    resource_library_name: str | None = None,
) -> str:
    p = problem
    n, m = p.n_ops, p.n_edges
    if np.any(p.edge_delay != 0):
        e = int(np.flatnonzero(p.edge_delay != 0)[0])
        raise ProblemError(
            f"SSP has no edge delays, but edge {p.op_ids[p.edge_src[e]]} -> {p.op_ids[p.edge_dst[e]]} has delay {p.edge_delay[e]}"
        )
    hold = p.use_len
    for r, rt in enumerate(p.resource_types):
        if rt.limit is not None and rt.occupancy == "blocking" and np.any(hold[p.use_res == r] > 1):
            raise ProblemError(f"SSP resources are pipelined, but limited resource {rt.name!r} blocks its units for several steps")
    cls = problem_class or p.problem_class or _infer_class(p, ii)
    if cls not in PROBLEM_CLASSES:
        raise ProblemError(f"unknown SSP problem class {cls!r}; known: {', '.join(PROBLEM_CLASSES)}")
    if (ii is not None or np.any(p.edge_distance > 0)) and cls not in CYCLIC_CLASSES:
        raise ProblemError(f"the problem has an II or loop-carried edges, which SSP class {cls!r} cannot express")
    if p.has_limits() and cls not in SHARED_CLASSES:
        raise ProblemError(f"the problem has resource limits, which SSP class {cls!r} cannot express")
    chaining = cls in CHAINING_CLASSES
    if not chaining and any(t.incoming_delay is not None or t.outgoing_delay is not None for t in p.operator_types):
        raise ProblemError(f"the problem has chaining delays, which SSP class {cls!r} cannot express")
    if start is not None:
        bad = [k for k, v in enumerate(start) if v is not None and int(v) < 0]
        if bad:
            raise ProblemError(f"SSP start times are unsigned, but op {p.op_ids[bad[0]]} starts at {start[bad[0]]}")
    if ii is not None and (int(ii) != ii or ii < 1):
        raise ProblemError(f"II must be an integer >= 1, got {ii!r}")
    aux = np.zeros(m, bool) if edge_aux is None else np.asarray(edge_aux, bool).copy()
    if len(aux) != m:
        raise ProblemError(f"edge_aux has {len(aux)} entries for {m} edges")

    # op naming: %-ids become SSA definitions, the others symbol names
    is_ssa = [i.startswith("%") and bool(_SSA_SUFFIX.match(i[1:])) for i in p.op_ids]
    for e in np.flatnonzero(aux):
        if is_ssa[p.edge_src[e]]:
            aux[e] = False  # an op named by its SSA value has no symbol to refer to
    needs_result = np.zeros(n, bool)
    needs_result[p.edge_src[~aux]] = True
    taken = set(i[1:] for i, s in zip(p.op_ids, is_ssa) if s)
    result_name: list[str | None] = []
    fresh = 0
    for k in range(n):
        if is_ssa[k]:
            result_name.append(p.op_ids[k][1:])
        elif needs_result[k]:
            while str(fresh) in taken:
                fresh += 1
            result_name.append(str(fresh))
            taken.add(str(fresh))
        else:
            result_name.append(None)

    order = list(range(n))
    if p.last_op is not None and n and p.op_ids[-1] != p.last_op:
        k = p.op_ids.index(p.last_op)
        order = order[:k] + order[k + 1 :] + [k]

    # incoming edges per destination, in edge order
    incoming: list[list[int]] = [[] for _ in range(n)]
    for e in range(m):
        incoming[p.edge_dst[e]].append(e)

    if z is None and chaining and start is not None and all(v is not None for v in start):
        z = list(start_times_in_cycle(p, Schedule(np.array(start, dtype=np.int64), ii), aux))

    lines = []
    head = "ssp.instance"
    if instance_name is not None:
        head += f" @{_sym_text(instance_name)}"
    head += f' of "{_escape(cls)}"'
    if ii is not None and cls in CYCLIC_CLASSES:
        head += f" [II<{int(ii)}>]"
    lines.append(head + " {")
    lines.append("  library" + (f" @{_sym_text(library_name)}" if library_name else "") + " {")
    for t in p.operator_types:
        if t.name == "":
            continue
        props = [f"latency<{int(t.latency)}>"]
        if t.incoming_delay is not None:
            props.append(f"incDelay<{_float_text(t.incoming_delay)}>")
        if t.outgoing_delay is not None:
            props.append(f"outDelay<{_float_text(t.outgoing_delay)}>")
        lines.append(f"    operator_type @{_sym_text(t.name)} [{', '.join(props)}]")
    lines.append("  }")
    lines.append("  resource" + (f" @{_sym_text(resource_library_name)}" if resource_library_name else "") + " {")
    for r in p.resource_types:
        lim = f" [limit<{int(r.limit)}>]" if r.limit is not None else ""
        lines.append(f"    resource_type @{_sym_text(r.name)}{lim}")
    lines.append("  }")
    lines.append("  graph {")
    for k in order:
        text = "    "
        if result_name[k] is not None:
            text += f"%{result_name[k]} = "
        tname = p.operator_types[p.op_type[k]].name
        text += f"operation<{'@' + _sym_text(tname) if tname else ''}>"
        if not is_ssa[k]:
            text += f" @{_sym_text(p.op_ids[k])}"
        deps = []
        for e in incoming[k]:
            if aux[e]:
                continue
            d = f"%{result_name[p.edge_src[e]]}"
            if p.edge_distance[e]:
                d += f" [dist<{int(p.edge_distance[e])}>]"
            deps.append(d)
        for e in incoming[k]:
            if not aux[e]:
                continue
            d = f"@{_sym_text(p.op_ids[p.edge_src[e]])}"
            if p.edge_distance[e]:
                d += f" [dist<{int(p.edge_distance[e])}>]"
            deps.append(d)
        text += f"({', '.join(deps)})"
        rs = p.use_res[p.use_ptr[k] : p.use_ptr[k + 1]]
        if len(rs):
            text += " uses[" + ", ".join("@" + _sym_text(p.resource_types[r].name) for r in rs) + "]"
        props = []
        if start is not None and start[k] is not None:
            props.append(f"t<{int(start[k])}>")
        if chaining and z is not None and z[k] is not None:
            props.append(f"z<{_float_text(float(z[k]))}>")
        if props:
            text += f" [{', '.join(props)}]"
        lines.append(text)
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dumps(
    problem: Problem,
    schedule: Schedule | None = None,
    start_in_cycle: Sequence[float] | None = None,
    problem_class: str | None = None,
    instance_name: str | None = None,
    edge_aux: np.ndarray | None = None,
) -> str:
    """SSP text of ``problem`` (and ``schedule``: ``t`` on every op, its II (else ``problem.ii``) on the instance)."""
    start = None
    ii = problem.ii
    if schedule is not None:
        s = np.asarray(schedule.start)
        if len(s) != problem.n_ops:
            raise ProblemError(f"schedule has {len(s)} start steps for {problem.n_ops} operations")
        start = [int(v) for v in s]
        if schedule.ii is not None:
            ii = schedule.ii
    z = None if start_in_cycle is None else [float(v) for v in start_in_cycle]
    if z is not None and len(z) != problem.n_ops:
        raise ProblemError(f"start_in_cycle has {len(z)} values for {problem.n_ops} operations")
    name = instance_name if instance_name is not None else problem.name
    return _dumps(problem, start, ii, z, edge_aux, name, problem_class)


def write(path, problem: Problem, schedule: Schedule | None = None, **options) -> None:
    """Write `dumps` to ``path``."""
    write_output(path, dumps(problem, schedule, **options))


def dumps_case(case: SSPCase) -> str:
    """SSP text of an `SSPCase`, keeping its auxiliary edges, its (possibly partial) ``t``/``z`` and names."""
    p = case.problem
    start = [case.start.get(i) for i in p.op_ids] if case.start else None
    z = [case.start_in_cycle.get(i) for i in p.op_ids] if case.start_in_cycle else None
    return _dumps(p, start, p.ii, z, case.edge_aux, case.instance_name, case.problem_class,
                  case.library_name, case.resource_library_name)


def dumps_cases(cases: Iterable[SSPCase]) -> str:
    return "\n// -----\n\n".join(dumps_case(c) for c in cases)


def write_case(path, case: SSPCase) -> None:
    write_output(path, dumps_case(case))
