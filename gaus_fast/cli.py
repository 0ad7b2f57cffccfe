"""The `gaus-fast` command: solve, verify, info. Argument parsing, progress and reports; no scheduling logic.

Exit codes: 0 done, 1 no legal schedule found (or `verify` found violations), 2 bad input or usage.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

EXIT_OK, EXIT_NO_SCHEDULE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _parse_limits(items: list[str] | None) -> dict[str, int | None]:
    from .problem import ProblemError

    out: dict[str, int | None] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ProblemError(f"--limit expects TYPE=N, got {item!r}")
        if value.lower() in ("inf", "none", "unlimited", "-1"):
            out[name] = None
            continue
        try:
            out[name] = int(value)
        except ValueError:
            raise ProblemError(f"--limit {name}: N must be an integer or 'inf', got {value!r}") from None
        if out[name] < 1:
            raise ProblemError(f"--limit {name}: a limit must be >= 1, got {value}")
    return out


def _parse_latencies(items: list[str] | None) -> dict[str, int] | None:
    from .problem import ProblemError

    if not items:
        return None
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise ProblemError(f"--latency expects TYPE=N with N >= 0, got {item!r}")
        out[name] = int(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    from .formats import FORMATS

    parser = argparse.ArgumentParser(prog="gaus-fast", description="Differentiable operator scheduling (GauS), verified.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_input(p, optional=False):
        p.add_argument("input", nargs="?" if optional else None, help="graph file (omit for the embedded FFT example)" if optional else "graph file")
        p.add_argument("--format", choices=sorted(FORMATS), help="input format (default: detect)")
        p.add_argument("--limit", action="append", metavar="TYPE=N", help="resource limit (N or inf); repeatable")
        p.add_argument("--latency", action="append", metavar="TYPE=N", help="DOT only: latency of an operator type; repeatable")

    solve = sub.add_parser("solve", help="schedule a graph and verify the result")
    add_input(solve, optional=True)
    solve.add_argument("--objective", choices=["auto", "A", "latency", "memory", "ii"], default="auto",
                       help="A: weighted peak + alpha*communication within D stages; latency: makespan under limits; "
                            "memory: peak live bits within D stages; ii: modulo schedule, minimum II then length; "
                            "auto: ii for loop-carried edges or an II, else latency when a resource is limited, else A")
    solve.add_argument("--ii", type=int, help="modulo scheduling: use this initiation interval (default: the smallest found)")
    solve.add_argument("--last-op", help="SSP: the op whose start time is minimised (default: the graph's last op, as CIRCT)")
    solve.add_argument("--cycle-time", type=float, help="SSP chaining problems: the cycle time for chain breaking")
    solve.add_argument("--case", help="SSP: schedule only this instance (index from 0, or its symbol name); "
                                      "default: every instance of the file, as CIRCT's -ssp-schedule")
    solve.add_argument("--depth", type=int, help="objective A: number of stages D (default: nodes on the longest path)")
    solve.add_argument("--alpha", type=float, default=0.01, help="objective A: communication weight (default 0.01)")
    solve.add_argument("--time-limit", type=float, default=60.0, help="seconds of optimisation (default 60)")
    solve.add_argument("--max-iters", type=int, default=200_000, help="iteration cap (default 200000)")
    solve.add_argument("--patience", type=int, default=None,
                       help="stop after this many iterations without improvement (default 20000 for A, 1000 for latency)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    solve.add_argument("--backend", default="auto", help="relaxation backend: auto (triton on CUDA, numba on CPU), numba, triton, torch (the reference)")
    solve.add_argument("--deterministic", action="store_true",
                       help="kernels without float atomics or thread-count-dependent sums: bit-identical runs for a seed")
    solve.add_argument("--out", help="write the schedule: .json (ours) or .txt (heurigym id:start lines)")
    solve.add_argument("--plot", help="write a Gantt chart and resource profile (PNG)")
    solve.add_argument("--quiet", action="store_true", help="no progress bar or table; the JSON summary line only")
    solve.add_argument("--polish", choices=["highs", "cpsat"],
                       help="then warm-start this exact solver from the schedule and keep what it improves")
    solve.add_argument("--polish-time", type=float, default=10.0, help="seconds for --polish (default 10)")

    verify = sub.add_parser("verify", help="check a schedule against a graph and evaluate it")
    add_input(verify)
    verify.add_argument("schedule", help="schedule file (our JSON or heurigym id:start lines)")
    verify.add_argument("--alpha", type=float, default=0.01)
    verify.add_argument("--depth", type=int, help="also check this depth bound")

    info = sub.add_parser("info", help="sizes and bounds of a graph")
    add_input(info)
    info.add_argument("--depth", type=int, help="D for the objective-A bound (default: nodes on the longest path)")
    return parser


def _load(args):
    from .formats import read_problem
    from .generators import fft_example

    options = {**_ssp_options(args), "case": _case_key(args)} if args.input is not None and _is_ssp(args) else {}
    latencies = _parse_latencies(getattr(args, "latency", None))
    if latencies:
        options["latencies"] = latencies
    if args.input is None:
        problem = fft_example()
    else:
        if not os.path.exists(args.input):
            from .problem import ProblemError

            raise ProblemError(f"{args.input}: no such file")
        limits = _parse_limits(args.limit)
        if limits and _is_dot(args):
            # DOT files carry no resource types: limits are a reader option (one blocking unit per named type).
            problem = read_problem(args.input, format=args.format, limits=limits, **options)
            known = {r.name.upper() for r in problem.resource_types}
            unknown = sorted(k for k in limits if k.upper() not in known)
            if unknown:  # the DOT reader ignores them; say so instead, as for every other format
                from .problem import ProblemError

                names = ", ".join(sorted(r.name for r in problem.resource_types)) or "none"
                raise ProblemError(f"unknown resource type {unknown[0]!r} in limits; known: {names}")
            return problem
        problem = read_problem(args.input, format=args.format, **options)
    limits = _parse_limits(args.limit)
    problem = problem.with_limits(limits) if limits else problem
    if getattr(args, "last_op", None) is not None and not (args.input is not None and _is_ssp(args)):
        if args.last_op not in problem.index_of():
            from .problem import ProblemError

            raise ProblemError(f"--last-op {args.last_op!r} names no operation of {problem.name}")
        problem = problem.replace(last_op=args.last_op)
    if getattr(args, "ii", None) is not None:
        from .problem import ProblemError

        if args.ii < 1:
            raise ProblemError(f"--ii must be an integer >= 1, got {args.ii}")
        problem = problem.replace(ii=args.ii)
    return problem


def _ssp_options(args) -> dict:
    """Reader options of CIRCT SSP input: the last op and the cycle time (scheduler options in CIRCT)."""
    from .problem import ProblemError

    cycle_time = getattr(args, "cycle_time", None)
    if cycle_time is not None and not (math.isfinite(cycle_time) and cycle_time > 0):
        raise ProblemError(f"--cycle-time must be a number > 0, got {cycle_time}")
    options = {"last_op": getattr(args, "last_op", None), "cycle_time": cycle_time}
    return {k: v for k, v in options.items() if v is not None}


def _is_ssp(args) -> bool:
    from .formats import detect_format

    if args.format is not None:
        return args.format == "ssp"
    return os.path.splitext(args.input)[1].lower() == ".mlir" or detect_format(args.input) == "ssp"


def _ssp_case(args):
    """SSP input: the case to schedule (for its class, auxiliary edges and the writer)."""
    from .formats import ssp

    return ssp.read_case(args.input, case=_case_key(args), **_ssp_options(args))


def _case_key(args):
    case = getattr(args, "case", None)
    if case is None:
        return 0
    return int(case) if str(case).isdigit() else str(case).lstrip("@")


def _is_dot(args) -> bool:
    from .formats import detect_format

    if args.format is not None:
        return args.format == "dot"
    suffix = os.path.splitext(args.input)[1].lower()
    if suffix in (".dot", ".gv"):
        return True
    if suffix in (".json", ".gml", ".aig", ".aag"):
        return False
    return detect_format(args.input) == "dot"


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _table(title: str, rows: list[tuple[str, str]]):
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, v)
    return table


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf"
        return f"{x:,.2f}" if abs(x - round(x)) > 1e-9 else f"{int(round(x)):,}"
    return f"{x:,}" if isinstance(x, int) else str(x)


class _Progress:
    """A progress bar that appears only once a run has lasted a couple of seconds."""

    def __init__(self, enabled: bool, label: str):
        self.enabled, self.label, self.bar, self.t0 = enabled, label, None, time.perf_counter()

    def __call__(self, fraction: float, best: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.t0 < 2.0:
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("best {task.fields[best]}"),
                                TimeElapsedColumn(), console=_console(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0, best="-")
        self.bar.update(self.task, completed=fraction, best=_fmt(best))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _check_numbers(args) -> None:
    """Reject option values the solver would misuse: a depth below 1 (0 silently meant "default"), a negative or
    non-finite alpha (a negative one makes the reported lower bound invalid), a negative seed (numpy refuses it)."""
    from .problem import ProblemError

    if getattr(args, "depth", None) is not None and args.depth < 1:
        raise ProblemError(f"--depth must be >= 1, got {args.depth}")
    alpha = getattr(args, "alpha", None)
    if alpha is not None and not (math.isfinite(alpha) and alpha >= 0):
        raise ProblemError(f"--alpha must be a finite number >= 0, got {alpha}")
    if getattr(args, "seed", None) is not None and args.seed < 0:
        raise ProblemError(f"--seed must be >= 0, got {args.seed}")
    polish_time = getattr(args, "polish_time", None)
    if polish_time is not None and not (math.isfinite(polish_time) and polish_time > 0):
        raise ProblemError(f"--polish-time must be a number of seconds > 0, got {polish_time}")


def cmd_solve(args) -> int:
    """Schedule the input; an SSP file without --case: every instance, as CIRCT's -ssp-schedule pass."""
    if args.input is None or not os.path.exists(args.input) or not _is_ssp(args) or args.case is not None:
        return _solve_one(args)
    from .formats import ssp
    from .formats._io import write_output
    from .problem import ProblemError

    count = len(ssp.read_instances(args.input, check=False))
    if count <= 1:
        return _solve_one(args)
    to_mlir = bool(args.out) and str(args.out).lower().endswith(".mlir")
    if args.out and not to_mlir:
        raise ProblemError(f"{args.input} holds {count} instances: write them with --out FILE.mlir, or pick one with --case")
    if args.plot:
        raise ProblemError(f"{args.input} holds {count} instances: --plot needs one, picked with --case")
    solved: list = []
    worst = EXIT_OK
    for k in range(count):
        worst = max(worst, _solve_one(argparse.Namespace(**{**vars(args), "case": str(k)}), solved))
    if to_mlir:
        write_output(args.out, ssp.dumps_cases(solved))
    return worst


def _solve_one(args, solved_cases: list | None = None) -> int:
    """One instance; ``solved_cases``: where an SSP case with its solution goes instead of ``--out``."""
    from . import verify
    from .formats import write_schedule
    from .problem import ProblemError
    from .solver import SolverConfig, solve

    t0 = time.perf_counter()
    _check_numbers(args)
    problem = _load(args)
    objective = args.objective
    if objective == "auto":
        cyclic = problem.ii is not None or bool((problem.edge_distance > 0).any()) or (problem.problem_class or "").endswith("CyclicProblem") \
            or problem.problem_class == "ModuloProblem"
        objective = "ii" if cyclic else "latency" if problem.has_limits() else "A"
    case = None
    original = problem
    ssp_input = args.input is not None and _is_ssp(args)
    if ssp_input:
        from . import ssp_schedule
        from .formats import ssp

        if args.ii is None:
            problem = original = problem.replace(ii=None)  # an II in the file is a previous solution, not a given
        case = _ssp_case(args)
        problem = ssp_schedule.problem_to_solve(case).replace(ii=args.ii)
        if args.objective == "auto":  # CIRCT's objective: t(last op), after the II for the cyclic classes
            objective = "ii" if case.problem_class in ssp.CYCLIC_CLASSES else ssp_schedule.LAST_OP
    config = SolverConfig(objective="latency" if objective == "last_op" else objective, depth=args.depth, alpha=args.alpha, time_limit=args.time_limit,
                          max_iters=args.max_iters, patience=args.patience, seed=args.seed, device=args.device,
                          backend=args.backend, deterministic=args.deterministic)
    progress = _Progress(not args.quiet and sys.stderr.isatty(), f"{problem.name} [{objective}]")
    try:
        if ssp_input and args.objective == "auto":
            result = ssp_schedule.solve_case(case, config, ii=args.ii, progress=progress)
        else:
            result = solve(problem, config, progress)
    finally:
        progress.close()
    polished = _polish(problem, result, objective, args) if args.polish else None
    violations = verify.check(problem.replace(depth=result.depth) if result.depth else problem, result.schedule)
    if case is not None:  # CIRCT's verify() on the input itself (chaining: z and in-cycle precedence too)
        from .formats import ssp

        violations += [v for v in ssp.with_solution(case, result.schedule).check_schedule() if v not in violations]
    verified = not violations
    metrics = verify.evaluate(problem, result.schedule, alpha=args.alpha, last_op=problem.last_op)
    total = time.perf_counter() - t0
    value_key = {"A": "objective_a", "memory": "peak_live_bits", "ii": "ii", "last_op": "last_op_start"}.get(objective, "makespan")
    payload = {
        "format_version": 1,
        "instance": problem.name,
        "start": result.schedule.as_dict(problem),
        "ii": result.schedule.ii,
        "objective": {
            "name": objective,
            "value": metrics[value_key],
            "lower_bound": result.lower_bound,
            "gap": result.gap,
            "depth": result.depth,
            "alpha": args.alpha if objective == "A" else None,
            "baselines": result.baselines,
            **{k: v for k, v in metrics.items() if k not in ("ii",)},
        },
        "verified": verified,
        "solver": {
            "method": "gaus",
            "backend": result.backend,
            "device": result.device,
            "seed": args.seed,
            "iterations": result.iterations,
            "legalizations": result.legalizations,
            "restarts": result.restarts,
            "seconds": result.seconds,
            "seconds_per_iteration": result.seconds_per_iteration,
            "wall_seconds": total,
            "time_limit": args.time_limit,
        },
    }
    if polished is not None:
        payload["objective"]["value_before_polish"] = polished["value_before"]
        payload["solver"]["polish"] = polished
    if objective == "ii":
        payload["objective"].update(res_mii=result.res_mii, rec_mii=result.rec_mii, length=result.length,
                                    length_metric=result.length_metric, length_lower_bound=result.length_lower_bound,
                                    found_by=result.found_by)
    if solved_cases is not None and case is not None:
        solved_cases.append(ssp.with_solution(case, result.schedule))
    elif args.out and case is not None and str(args.out).lower().endswith(".mlir"):
        from .formats import ssp
        from .formats._io import write_output

        write_output(args.out, ssp.dumps_case(ssp.with_solution(case, result.schedule)))
    elif args.out:
        reserved = ("format_version", "instance", "start", "ii")
        write_schedule(args.out, original, result.schedule, extra={k: v for k, v in payload.items() if k not in reserved})
    if args.plot:
        from .plot import plot_schedule

        try:
            plot_schedule(problem, result.schedule, args.plot, title=f"{problem.name}: {objective} = {_fmt(metrics[value_key])}")
        except (OSError, ValueError) as err:  # unwritable path, or an extension matplotlib cannot write
            raise ProblemError(f"{args.plot}: cannot write the plot ({' '.join(str(getattr(err, 'strerror', None) or err).split())})") from None
    if args.quiet:
        summary = {k: payload[k] for k in ("instance", "verified")}
        summary.update(objective=objective, value=metrics[value_key], lower_bound=result.lower_bound, seconds=round(total, 3))
        if polished is not None:
            summary["value_before_polish"] = polished["value_before"]
        print(json.dumps(summary))
    else:
        base_rows = [(f"baseline: {k}", _fmt(v)) for k, v in result.baselines.items()]
        rows = [
            ("instance", problem.name),
            ("size", f"{problem.n_ops:,} ops, {problem.n_edges:,} edges"),
            ("objective", objective + (f" (D={result.depth}, alpha={args.alpha:g})" if objective == "A" else
                                       f" (D={result.depth})" if objective == "memory" else "")),
            ("value", _fmt(metrics[value_key])),
            *([("  peak weight", _fmt(metrics["peak_weighted"])), ("  communication", _fmt(metrics["communication"]))] if objective == "A" else []),
            *([(f"polish ({polished['method']}, {polished['seconds']:.1f} s)", f"{_fmt(polished['value_before'])} -> "
                f"{_fmt(polished['value'])} ({polished['status']})")] if polished else []),
            ("lower bound", _fmt(result.lower_bound)),
            ("gap to bound", f"{100 * result.gap:.1f}%" if math.isfinite(result.gap) else "-"),
            *base_rows,
            ("iterations", f"{result.iterations:,} ({1e3 * result.seconds_per_iteration:.2f} ms each), {result.restarts} restarts"),
            ("time", f"{total:.2f} s ({result.backend} on {result.device})"),
            ("verified", "yes" if verified else "NO"),
        ]
        if args.out:
            rows.append(("schedule", args.out))
        if args.plot:
            rows.append(("plot", args.plot))
        from rich.console import Console

        Console().print(_table("gaus-fast solve", rows))
    if not verified:
        print("gaus-fast: the schedule failed verification:\n  " + "\n  ".join(violations), file=sys.stderr)
        return EXIT_NO_SCHEDULE
    return EXIT_OK


def _polish(problem, result, objective: str, args) -> dict:
    """Hand the solver's schedule to an exact solver as a warm start (`exact.polish`, never worse) and adopt what
    it improves; the caller verifies the schedule again. Returns what the JSON and the table report."""
    from . import exact
    from .problem import ProblemError
    from .schedule import Schedule

    if objective in ("memory", "last_op"):
        raise ProblemError(f"--polish does not support the {objective.replace('_', ' ')} objective")
    before = result.value
    res = exact.polish(problem, result.schedule.start, objective, alpha=args.alpha, depth=result.depth,
                       method=args.polish, time_limit=args.polish_time)
    if res.improved:
        result.schedule, result.value = Schedule(res.start), res.value
    return {"method": args.polish, "status": res.status, "improved": bool(res.improved), "value_before": before,
            "value": result.value, "bound": res.bound, "seconds": res.seconds, "time_limit": args.polish_time,
            "message": res.message}


def cmd_verify(args) -> int:
    from . import verify
    from .formats import read_schedule

    _check_numbers(args)
    problem = _load(args)
    if args.depth is not None:
        problem = problem.replace(depth=args.depth)
    # An unreadable schedule file (missing, not text, not JSON) is bad input (exit 2); one that reads but does not
    # fit the problem (missing or unknown ops, non-integer starts) is an invalid schedule, like a violation (exit 1).
    from .formats._io import decode, load_bytes, load_json
    from .problem import ProblemError

    data, src = load_bytes(args.schedule)
    text = decode(data, src)
    if text.lstrip().startswith("{"):
        load_json(text, src)
    try:
        schedule = read_schedule(args.schedule, problem)
    except ProblemError as err:
        print(f"gaus-fast: invalid schedule: {err}", file=sys.stderr)
        return EXIT_NO_SCHEDULE
    except OverflowError:  # a start beyond int64 (the readers let numpy raise it)
        print(f"gaus-fast: invalid schedule: {args.schedule}: a start time is out of range", file=sys.stderr)
        return EXIT_NO_SCHEDULE
    violations = verify.check(problem, schedule)
    try:
        metrics = verify.evaluate(problem, schedule, alpha=args.alpha)
    except ProblemError:  # starts it cannot evaluate (out of range); check() has said why
        if not violations:
            raise
        metrics = {}
    rows = [("valid", "yes" if not violations else f"NO ({len(violations)} problems)")]
    rows += [(k, _fmt(v) if not isinstance(v, dict) else ", ".join(f"{a}={_fmt(b)}" for a, b in v.items())) for k, v in metrics.items()]
    from rich.console import Console

    Console().print(_table(f"gaus-fast verify: {problem.name}", rows))
    for line in violations:
        print(line, file=sys.stderr)
    return EXIT_OK if not violations else EXIT_NO_SCHEDULE


def cmd_info(args) -> int:
    from . import baselines, bounds
    from .solver import default_depth

    _check_numbers(args)
    problem = _load(args)
    depth = args.depth or problem.depth or default_depth(problem)
    rows = [
        ("instance", problem.name),
        ("operations", f"{problem.n_ops:,}"),
        ("edges", f"{problem.n_edges:,} ({int((problem.edge_distance > 0).sum()):,} loop-carried)"),
        ("operator types", ", ".join(f"{t.name}(lat {t.latency})" for t in problem.operator_types)),
        ("resources", ", ".join(f"{r.name}:{'inf' if r.limit is None else r.limit} {r.occupancy}" for r in problem.resource_types) or "none"),
        ("critical path (makespan)", _fmt(bounds.critical_path(problem))),
        ("longest path (nodes)", _fmt(bounds.longest_path_nodes(problem))),
        ("makespan lower bound", _fmt(bounds.makespan_lower_bound(problem))),
        (f"peak-weight lower bound (D={depth})", _fmt(bounds.peak_weight_lower_bound(problem, depth))),
    ]
    if problem.has_limits():
        plain, best = baselines.list_scheduling_latency(problem)
        rows.append(("list scheduling makespan", f"{_fmt(plain.value)} (best priority: {_fmt(best.value)})"))
    from rich.console import Console

    Console().print(_table("gaus-fast info", rows))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .problem import NoScheduleError, ProblemError

    try:
        return {"solve": cmd_solve, "verify": cmd_verify, "info": cmd_info}[args.command](args)
    except NoScheduleError as err:
        print(f"gaus-fast: no legal schedule: {err}", file=sys.stderr)
        return EXIT_NO_SCHEDULE
    except ProblemError as err:
        print(f"gaus-fast: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("gaus-fast: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug of ours: say so in one line unless debugging
        if os.environ.get("GAUS_FAST_DEBUG"):
            raise
        print(f"gaus-fast: internal error: {type(err).__name__}: {err} (set GAUS_FAST_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
