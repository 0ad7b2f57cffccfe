"""The one problem model every reader produces and every solver consumes.

A `Problem` is array-based so that it scales to millions of operations and edges:

* operations ``0..n-1`` with string ids, an operator type (which fixes the integer latency), a weight (counted
  in the weighted resource profile of objective A) and a bit width (for register pressure);
* resource types with a unit limit (``None`` = unlimited) and an occupancy rule: ``pipelined`` (an op holds one
  unit in its start step only) or ``blocking`` (it holds the unit for ``blocking_time`` steps, by default its
  latency); which resources each op uses is a CSR list (``use_ptr``, ``use_res``);
* dependences ``u -> v`` with an extra delay, an iteration distance and a communication weight, meaning
  ``t_u + lat_u + delay <= t_v + distance * II``;
* an optional depth bound ``D`` (every op must satisfy ``t_i + max(lat_i, 1) <= D``: a latency-0 op still takes
  one stage) and an optional initiation interval ``II``.

Conventions for objectives (evaluated in `verify.py`): the weighted profile counts an op's weight in its start
step (the ICML'24 stage formulation); communication is ``sum_e comm_e * (t_v + distance_e * II - t_u)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

OCCUPANCY_RULES = ("pipelined", "blocking")
# Largest latency, delay, distance, blocking time, unit limit, depth or II accepted: keeps every sum of steps far
# inside int64 (larger values used to escape as OverflowError from numpy instead of a ProblemError).
MAX_STEPS = 2**31 - 1


class ProblemError(ValueError):
    """Bad or impossible input: the message is meant for the user, one line."""


class NoScheduleError(ProblemError):
    """The input is well formed, but no legal schedule was found (CLI exit code 1, not 2)."""


@dataclass(frozen=True)
class OperatorType:
    name: str
    latency: int
    # Operator chaining (CIRCT ChainingProblem): physical delay from the op's start to where it needs its inputs
    # (incoming) and from its last step's start until its result is ready (outgoing), in the units of
    # ``Problem.cycle_time``; None = not given.
    incoming_delay: float | None = None
    outgoing_delay: float | None = None


@dataclass(frozen=True)
class ResourceType:
    name: str
    limit: int | None = None  # units per step; None means unlimited
    occupancy: str = "pipelined"  # "pipelined" or "blocking"
    blocking_time: int | None = None  # blocking only: steps held; None means the op's latency


def _int_array(values, dtype, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ProblemError(f"{what} must be integers")
    elif arr.size and arr.dtype.kind not in "iub":
        raise ProblemError(f"{what} must be integers, got {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype).reshape(-1)


def _float_array(values, what: str) -> np.ndarray:
    try:
        return np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ProblemError(f"{what} must be numbers") from None


@dataclass(eq=False)
class Problem:
    op_ids: list[str]
    op_type: np.ndarray  # int32[n], index into operator_types
    operator_types: list[OperatorType]
    edge_src: np.ndarray  # int32[m]
    edge_dst: np.ndarray  # int32[m]
    resource_types: list[ResourceType] = field(default_factory=list)
    use_ptr: np.ndarray | None = None  # int64[n+1]
    use_res: np.ndarray | None = None  # int32[nnz]
    op_weight: np.ndarray | None = None  # float64[n]
    op_bits: np.ndarray | None = None  # int64[n]
    edge_delay: np.ndarray | None = None  # int64[m]
    edge_distance: np.ndarray | None = None  # int64[m]
    edge_comm: np.ndarray | None = None  # float64[m]
    depth: int | None = None
    ii: int | None = None
    name: str = "problem"
    # Optional, informational: the source's problem class (e.g. CIRCT SSP "ModuloProblem"), the id of the op
    # whose start time is the objective (CIRCT's "last op"), and the physical time per step for chaining.
    problem_class: str | None = None
    last_op: str | None = None
    cycle_time: float | None = None

    def __post_init__(self) -> None:
        n = len(self.op_ids)
        self.op_ids = [str(i) for i in self.op_ids]
        self.op_type = _int_array(self.op_type, np.int32, "operator type indices")
        self.edge_src = _int_array(self.edge_src, np.int32, "edge sources")
        self.edge_dst = _int_array(self.edge_dst, np.int32, "edge targets")
        m = len(self.edge_src)
        if self.use_ptr is None:
            self.use_ptr = np.zeros(n + 1, dtype=np.int64)
            self.use_res = np.zeros(0, dtype=np.int32)
        self.use_ptr = _int_array(self.use_ptr, np.int64, "resource use pointers")
        self.use_res = _int_array(self.use_res, np.int32, "resource use indices")
        self.op_weight = np.ones(n) if self.op_weight is None else _float_array(self.op_weight, "operation weights")
        self.op_bits = np.full(n, 32, np.int64) if self.op_bits is None else _int_array(self.op_bits, np.int64, "bit widths")
        self.edge_delay = np.zeros(m, np.int64) if self.edge_delay is None else _int_array(self.edge_delay, np.int64, "edge delays")
        self.edge_distance = (
            np.zeros(m, np.int64) if self.edge_distance is None else _int_array(self.edge_distance, np.int64, "edge distances")
        )
        self.edge_comm = np.zeros(m) if self.edge_comm is None else _float_array(self.edge_comm, "communication weights")
        self.validate()

    # ---------------------------------------------------------------- sizes and derived arrays
    @property
    def n_ops(self) -> int:
        return len(self.op_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_src)

    @property
    def latency(self) -> np.ndarray:
        """int64[n]: each op's latency, from its operator type."""
        lat = np.array([t.latency for t in self.operator_types], dtype=np.int64)
        return lat[self.op_type]

    @property
    def span(self) -> np.ndarray:
        """int64[n]: steps an op takes against the depth bound, max(latency, 1)."""
        return np.maximum(self.latency, 1)

    @property
    def limits(self) -> np.ndarray:
        """int64[R]: units per step, -1 for unlimited."""
        return np.array([-1 if r.limit is None else r.limit for r in self.resource_types], dtype=np.int64)

    @property
    def use_len(self) -> np.ndarray:
        """int32[nnz]: steps each (op, resource) use holds one unit: 1 if pipelined, else the blocking time."""
        counts = np.diff(self.use_ptr)
        op_of_use = np.repeat(np.arange(self.n_ops), counts)
        lat = self.latency[op_of_use]
        out = np.ones(len(self.use_res), dtype=np.int32)
        for r, res in enumerate(self.resource_types):
            if res.occupancy != "blocking":
                continue
            mask = self.use_res == r
            held = lat[mask] if res.blocking_time is None else np.full(mask.sum(), res.blocking_time)
            out[mask] = np.maximum(held, 1)
        return out

    @property
    def use_op(self) -> np.ndarray:
        """int32[nnz]: the op of each resource use."""
        return np.repeat(np.arange(self.n_ops, dtype=np.int32), np.diff(self.use_ptr))

    def edge_lag(self, ii: int | None = None) -> np.ndarray:
        """int64[m]: the lag of each dependence, ``lat_u + delay - distance * II``."""
        ii = self.ii if ii is None else ii
        lag = self.latency[self.edge_src] + self.edge_delay
        if np.any(self.edge_distance):
            if ii is None:
                raise ProblemError("the graph has loop-carried dependences (distance > 0) but no II is given")
            lag = lag - self.edge_distance * ii
        return lag

    def intra_edges(self) -> np.ndarray:
        """Indices of the distance-0 edges (the acyclic part)."""
        return np.flatnonzero(self.edge_distance == 0)

    def has_limits(self) -> bool:
        return any(r.limit is not None for r in self.resource_types)

    def index_of(self) -> dict[str, int]:
        return {op: i for i, op in enumerate(self.op_ids)}

    def resource_index(self, name: str) -> int:
        for r, res in enumerate(self.resource_types):
            if res.name == name:
                return r
        raise ProblemError(f"unknown resource type {name!r}; known: {', '.join(r.name for r in self.resource_types) or 'none'}")

    # ---------------------------------------------------------------- validation
    def validate(self) -> None:
        n, m = self.n_ops, self.n_edges
        if len(set(self.op_ids)) != n:
            seen: set[str] = set()
            dup = next(op for op in self.op_ids if op in seen or seen.add(op))
            raise ProblemError(f"duplicate operation id {dup!r}")
        for t in self.operator_types:
            if not isinstance(t.latency, (int, np.integer)) or isinstance(t.latency, bool):
                raise ProblemError(f"operator type {t.name!r}: latency must be an integer, got {t.latency!r}")
            if t.latency < 0:
                raise ProblemError(f"operator type {t.name!r}: negative latency {t.latency}")
            if t.latency > MAX_STEPS:
                raise ProblemError(f"operator type {t.name!r}: latency {t.latency} is too large (at most {MAX_STEPS})")
            for what, d in (("incoming", t.incoming_delay), ("outgoing", t.outgoing_delay)):
                if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float, np.integer, np.floating))
                                      or not np.isfinite(d) or d < 0):
                    raise ProblemError(f"operator type {t.name!r}: {what} delay must be a finite number >= 0, got {d!r}")
        if len(self.op_type) != n:
            raise ProblemError(f"{n} operations but {len(self.op_type)} operator types")
        if n and (self.op_type.min() < 0 or self.op_type.max() >= len(self.operator_types)):
            raise ProblemError("an operation refers to an unknown operator type")
        for r in self.resource_types:
            if r.occupancy not in OCCUPANCY_RULES:
                raise ProblemError(f"resource {r.name!r}: occupancy must be one of {OCCUPANCY_RULES}, got {r.occupancy!r}")
            if r.limit is not None and (not isinstance(r.limit, (int, np.integer)) or r.limit < 1):
                raise ProblemError(f"resource {r.name!r}: limit must be an integer >= 1 (or unlimited), got {r.limit!r}")
            if r.blocking_time is not None and (not isinstance(r.blocking_time, (int, np.integer)) or r.blocking_time < 1):
                raise ProblemError(f"resource {r.name!r}: blocking time must be an integer >= 1, got {r.blocking_time!r}")
            for what, v in (("limit", r.limit), ("blocking time", r.blocking_time)):
                if v is not None and v > MAX_STEPS:
                    raise ProblemError(f"resource {r.name!r}: {what} {v} is too large (at most {MAX_STEPS})")
        if len(set(r.name for r in self.resource_types)) != len(self.resource_types):
            raise ProblemError("duplicate resource type name")
        if len(self.use_ptr) != n + 1 or self.use_ptr[0] != 0 or np.any(np.diff(self.use_ptr) < 0) or self.use_ptr[-1] != len(self.use_res):
            raise ProblemError("malformed resource use lists")
        if len(self.use_res) and (self.use_res.min() < 0 or self.use_res.max() >= len(self.resource_types)):
            raise ProblemError("an operation uses an unknown resource type")
        for arr, what in ((self.op_weight, "weights"), (self.op_bits, "bit widths")):
            if len(arr) != n:
                raise ProblemError(f"{n} operations but {len(arr)} {what}")
            if n and (not np.all(np.isfinite(arr)) or arr.min() < 0):
                raise ProblemError(f"operation {what} must be finite and >= 0")
        for arr, what in ((self.edge_dst, "targets"), (self.edge_delay, "delays"), (self.edge_distance, "distances"), (self.edge_comm, "communication weights")):
            if len(arr) != m:
                raise ProblemError(f"{m} edges but {len(arr)} edge {what}")
        if m:
            if min(self.edge_src.min(), self.edge_dst.min()) < 0 or max(self.edge_src.max(), self.edge_dst.max()) >= n:
                raise ProblemError("an edge refers to an unknown operation")
            if self.edge_delay.min() < 0:
                raise ProblemError("negative edge delay")
            if self.edge_distance.min() < 0:
                raise ProblemError("negative iteration distance")
            if max(self.edge_delay.max(), self.edge_distance.max()) > MAX_STEPS:
                raise ProblemError(f"edge delays and distances must be at most {MAX_STEPS}")
            if not np.all(np.isfinite(self.edge_comm)) or self.edge_comm.min() < 0:
                raise ProblemError("communication weights must be finite and >= 0")
        for what, v in (("depth bound", self.depth), ("II", self.ii)):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or (isinstance(v, (float, np.floating)) and not np.isfinite(v)) or int(v) != v or v < 1:
                raise ProblemError(f"{what} must be an integer >= 1, got {v!r}")
            if v > MAX_STEPS:
                raise ProblemError(f"{what} {v} is too large (at most {MAX_STEPS})")
        if self.problem_class is not None and not isinstance(self.problem_class, str):
            raise ProblemError(f"problem class must be a string, got {self.problem_class!r}")
        if self.last_op is not None and str(self.last_op) not in set(self.op_ids):
            raise ProblemError(f"last op {self.last_op!r} is not an operation id")
        if self.cycle_time is not None and (
            isinstance(self.cycle_time, bool) or not isinstance(self.cycle_time, (int, float, np.integer, np.floating))
            or not np.isfinite(self.cycle_time) or self.cycle_time <= 0
        ):
            raise ProblemError(f"cycle time must be a finite number > 0, got {self.cycle_time!r}")
        self.check_acyclic()

    def check_acyclic(self) -> None:
        """Raise ProblemError naming ops on a dependence cycle whose total distance is 0."""
        from . import _core

        intra = self.intra_edges()
        try:
            _core.topological_order(self.n_ops, self.edge_src[intra], self.edge_dst[intra])
        except ValueError as err:
            msg = str(err)
            # The core names op indices; translate them to the user's ids.
            import re

            ids = [self.op_ids[int(k)] if int(k) < self.n_ops else k for k in re.findall(r"\b(\d+)\b", msg.split("ops", 1)[-1])]
            raise ProblemError(f"dependence cycle with total distance 0 through ops {' -> '.join(ids)}") from None

    # ---------------------------------------------------------------- construction helpers
    @classmethod
    def build(
        cls,
        operator_types: Mapping[str, int] | Sequence[OperatorType],
        ops: Iterable[Sequence],
        edges: Iterable[Sequence] = (),
        resource_types: Sequence[ResourceType] = (),
        type_resources: Mapping[str, Sequence[str]] | None = None,
        depth: int | None = None,
        ii: int | None = None,
        name: str = "problem",
    ) -> "Problem":
        """Build a problem from plain Python records (readers of small formats use this).

        ``ops``: ``(id, type)`` or ``(id, type, resources, weight, bits)`` with ``resources`` a list of resource
        names or None (None: the operator type's default from ``type_resources``).
        ``edges``: ``(src_id, dst_id)`` or ``(src_id, dst_id, delay, distance, comm)``.
        """
        if isinstance(operator_types, Mapping):
            types = [OperatorType(str(k), _checked_latency(k, v)) for k, v in operator_types.items()]
        else:
            types = list(operator_types)
        type_index = {t.name: i for i, t in enumerate(types)}
        res_index = {r.name: i for i, r in enumerate(resource_types)}
        type_resources = dict(type_resources or {})
        for tname, rnames in type_resources.items():
            for rn in rnames:
                if rn not in res_index:
                    raise ProblemError(f"operator type {tname!r} uses unknown resource type {rn!r}")
        op_ids, op_type, weights, bits, use_ptr, use_res = [], [], [], [], [0], []
        for rec in ops:
            op_id, tname = str(rec[0]), rec[1]
            if tname not in type_index:
                raise ProblemError(f"operation {op_id!r} has unknown operator type {tname!r}")
            res = rec[2] if len(rec) > 2 else None
            if res is None:
                res = type_resources.get(tname, ())
            for rn in res:
                if rn not in res_index:
                    raise ProblemError(f"operation {op_id!r} uses unknown resource type {rn!r}")
                use_res.append(res_index[rn])
            use_ptr.append(len(use_res))
            op_ids.append(op_id)
            op_type.append(type_index[tname])
            weights.append(rec[3] if len(rec) > 3 and rec[3] is not None else 1.0)
            bits.append(rec[4] if len(rec) > 4 and rec[4] is not None else 32)
        index = {op: i for i, op in enumerate(op_ids)}
        if len(index) != len(op_ids):
            seen: set[str] = set()
            dup = next(op for op in op_ids if op in seen or seen.add(op))
            raise ProblemError(f"duplicate operation id {dup!r}")
        src, dst, delay, dist, comm = [], [], [], [], []
        for rec in edges:
            for end in rec[:2]:
                if str(end) not in index:
                    raise ProblemError(f"edge {rec[0]!s} -> {rec[1]!s} refers to unknown operation {end!s}")
            src.append(index[str(rec[0])])
            dst.append(index[str(rec[1])])
            delay.append(rec[2] if len(rec) > 2 else 0)
            dist.append(rec[3] if len(rec) > 3 else 0)
            comm.append(rec[4] if len(rec) > 4 else 0.0)
        return cls(
            op_ids=op_ids,
            op_type=np.array(op_type, dtype=np.int32),
            operator_types=types,
            edge_src=np.array(src, dtype=np.int32),
            edge_dst=np.array(dst, dtype=np.int32),
            resource_types=list(resource_types),
            use_ptr=np.array(use_ptr, dtype=np.int64),
            use_res=np.array(use_res, dtype=np.int32),
            # Plain lists: __post_init__ converts and checks them (np.array(..., dtype=int64) would truncate 0.5 to 0).
            op_weight=weights,
            op_bits=bits,
            edge_delay=delay,
            edge_distance=dist,
            edge_comm=comm,
            depth=depth,
            ii=ii,
            name=name,
        )

    def with_limits(self, limits: Mapping[str, int | None]) -> "Problem":
        """A copy with some resource limits replaced (``None`` = unlimited)."""
        from dataclasses import replace

        known = {r.name for r in self.resource_types}
        for k in limits:
            if k not in known:
                raise ProblemError(f"unknown resource type {k!r} in limits; known: {', '.join(sorted(known)) or 'none'}")
        new_res = [replace(r, limit=limits[r.name]) if r.name in limits else r for r in self.resource_types]
        return self.replace(resource_types=new_res)

    def replace(self, **changes) -> "Problem":
        """A copy with some fields replaced (validated again)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        return Problem(**fields)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "ops": self.n_ops,
            "edges": self.n_edges,
            "operator_types": len(self.operator_types),
            "resource_types": {r.name: r.limit for r in self.resource_types},
            "loop_carried_edges": int(np.count_nonzero(self.edge_distance)),
            "depth": self.depth,
            "ii": self.ii,
        }


def _checked_latency(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)):
        raise ProblemError(f"operator type {name!r}: latency must be an integer, got {value!r}")
    if isinstance(value, float):
        if value != int(value):
            raise ProblemError(f"operator type {name!r}: latency must be an integer, got {value!r}")
        value = int(value)
    if value < 0:
        raise ProblemError(f"operator type {name!r}: negative latency {value}")
    return int(value)
