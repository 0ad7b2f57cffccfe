"""A schedule: one integer start step per operation (and the II for pipelined problems)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .problem import Problem, ProblemError

# Start steps are int64; anything beyond +-2^62 is nonsense that would overflow t + latency.
MAX_START = 2**62
MIN_START = -(2**62)


@dataclass
class Schedule:
    start: np.ndarray  # int64[n], indexed like problem.op_ids
    ii: int | None = None

    def __post_init__(self) -> None:
        start = np.asarray(self.start)
        if start.dtype.kind == "f" and start.size and (not np.all(np.isfinite(start)) or np.any(start != np.round(start))):
            raise ProblemError("schedule start times must be integers")
        if start.size and start.dtype.kind not in "iuf":
            raise ProblemError(f"schedule start times must be integers, got {start.dtype}")
        self.start = np.ascontiguousarray(start, dtype=np.int64).reshape(-1)

    def as_dict(self, problem: Problem) -> dict[str, int]:
        return {op: int(t) for op, t in zip(problem.op_ids, self.start)}

    @classmethod
    def from_dict(cls, problem: Problem, start: Mapping[str, int], ii: int | None = None) -> "Schedule":
        """Map ``{op_id: start}`` onto the problem's ops; every op needs exactly one integer start."""
        index = problem.index_of()
        out = np.full(problem.n_ops, -1, dtype=np.int64)
        have = np.zeros(problem.n_ops, dtype=bool)
        for op, t in start.items():
            op = str(op)
            if op not in index:
                raise ProblemError(f"schedule names unknown operation {op!r}")
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) and not (isinstance(t, float) and math.isfinite(t) and t == int(t)):
                raise ProblemError(f"schedule: start of {op!r} must be an integer, got {t!r}")
            if not MIN_START <= int(t) <= MAX_START:
                raise ProblemError(f"schedule: start of {op!r} is out of range: {t!r}")
            out[index[op]] = int(t)
            have[index[op]] = True
        if not have.all():
            missing = problem.op_ids[int(np.flatnonzero(~have)[0])]
            raise ProblemError(f"schedule has no start for operation {missing!r} ({int((~have).sum())} missing)")
        return cls(out, ii)
