"""The GauS solver: Gaussian start times, augmented Lagrangian, Adam, periodic legalisation, keep the best.

Each op i has a start time ``X_i ~ N(mu_i, sigma_i^2)`` with ``sigma_i = floor + softplus(rho_i)``. The loss is
built from the relaxation terms in `relax.py` (expected dependency violations, expected occupancy); constraints
go through an augmented Lagrangian whose multipliers grow with the expected violations. Every few iterations the
C++ legalizer turns mu into a legal integer schedule; the best one is kept, and after a run of legalisations
without improvement the search restarts from the best schedule with fresh (narrower) sigmas.

Objectives:
* ``"A"``: weighted peak (ops counted in their start step) + alpha * communication, within D stages;
* ``"latency"``: the makespan under resource limits; the solver tightens a makespan target M from the best list
  schedule towards the lower bound, treating each M as a feasibility problem.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from . import baselines, bounds, kernels, relax, score
from .problem import NoScheduleError, Problem, ProblemError
from .schedule import Schedule

OBJECTIVES = ("A", "latency", "memory", "ii")  # memory: peak live bits, `solver_memory`; ii: `solver_modulo`
INITS = ("best", "list", "midpoint", "random")
# Each legalisation also tries mu perturbed by these amounts (in steps): a cheap randomised list schedule around
# the relaxed solution, which helps most on small graphs where one legalisation costs microseconds.
LEGALIZE_NOISE = (0.0, 0.15, 0.3, 0.5, 0.8)


@dataclass
class SolverConfig:
    objective: str = "A"
    depth: int | None = None  # objective A: number of stages D (default: nodes on the longest path)
    alpha: float = 0.01  # objective A: weight of communication
    time_limit: float = 60.0  # seconds, wall clock, for the optimisation loop
    max_iters: int = 200_000
    patience: int | None = None  # iterations without a better legal schedule before stopping (None: 20000 for
    # objective A, whose small graphs keep improving through restarts for tens of seconds; 1000 for latency,
    # where small graphs find their best within tens of iterations)
    seed: int = 0
    lr: float = 0.1  # Adam step, in units of schedule steps
    sigma_floor: float = 0.25  # keeps ops on the critical path movable
    sigma_kappa: float = 0.25  # initial sigma = kappa * mobility
    sigma_max: float = 4.0
    legalize_every: int = 10
    restart_after: int | None = None  # legalisations without improvement before re-initialising (None: 20 for
    # objective A; 10 for latency, where restarts with fresh multipliers find the makespan steps best)
    rho: float = 1.0  # augmented-Lagrangian penalty weight
    dep_tolerance: float = 0.0  # steps of slack granted to dependences in the relaxation (rounding absorbs it)
    optimizer: str = "adam"  # "adam" or "normalized" (momentum on the max-normalised gradient)
    temperature: float = 0.02  # objective A: soft-maximum temperature, relative to the lower bound
    sigma_init_scale: float = 1.0  # objective A: sigma at (re)starts = scale * kappa * mobility
    window_cap: int = 24  # half-width cap of the occupancy window, in steps
    device: str = "cpu"
    backend: str = "auto"
    deterministic: bool = False  # kernels without float atomics or thread-count-dependent sums: bit-identical runs
    dtype: torch.dtype = torch.float64
    threads: int = 1  # CPU threads for torch during the solve (more gave no speed-up on small CPUs; see notes)
    init: str = "best"  # objective A start (the ablation in perf/compare.py): "best" of the baselines after local
    # search; or from one source only: "list" schedule, ASAP/ALAP "midpoint", "random" mu in [ASAP, ALAP]

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ProblemError(f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}")
        if self.init not in INITS:
            raise ProblemError(f"unknown init {self.init!r}; choose one of {', '.join(INITS)}")
        for name in ("time_limit", "lr", "sigma_floor", "rho"):
            if not getattr(self, name) > 0:
                raise ProblemError(f"{name.replace('_', ' ')} must be > 0, got {getattr(self, name)}")
        if self.patience is None:
            self.patience = 20000 if self.objective == "A" else 1000
        if self.restart_after is None:
            self.restart_after = 10 if self.objective == "latency" else 20
        if self.max_iters < 0 or self.patience < 1 or self.restart_after < 1:
            raise ProblemError("max iterations must be >= 0, patience >= 1 and restart_after >= 1")
        # alpha < 0 would make the reported lower bound invalid; depth 0 must not silently mean "default".
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha >= 0):
            raise ProblemError(f"alpha must be a finite number >= 0, got {self.alpha}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ProblemError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.depth is not None and (isinstance(self.depth, bool) or not isinstance(self.depth, (int, np.integer)) or self.depth < 1):
            raise ProblemError(f"depth must be an integer >= 1, got {self.depth!r}")


@dataclass
class SolveResult:
    schedule: Schedule
    objective: str
    value: float  # objective value of the returned schedule (the solver's score)
    lower_bound: float
    baselines: dict[str, float]  # name -> objective value
    depth: int | None
    iterations: int = 0
    legalizations: int = 0
    restarts: int = 0
    seconds: float = 0.0
    backend: str = "torch"
    device: str = "cpu"
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best value)

    @property
    def gap(self) -> float:
        if self.lower_bound <= 0:
            return 0.0 if self.value <= 0 else math.inf
        return self.value / self.lower_bound - 1.0

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / self.iterations if self.iterations else 0.0


ProgressFn = Callable[[float, float], None]  # (fraction done, best value)


def resolve_backend(backend: str, device: str) -> str:
    try:
        return kernels.resolve_backend(backend, device)
    except ValueError as err:
        raise ProblemError(str(err)) from None


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ProblemError("device 'cuda' requested but no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise ProblemError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return device


def solve(problem: Problem, config: SolverConfig | None = None, progress: ProgressFn | None = None) -> SolveResult:
    """Schedule ``problem``; the returned schedule always satisfies every dependence and resource limit."""
    config = config or SolverConfig()
    config.device = resolve_device(config.device)
    config.backend = resolve_backend(config.backend, config.device)
    if config.objective == "ii" or problem.ii is not None or np.any(problem.edge_distance):
        # Pipelined problems: minimum II, then the length (`solver_modulo`, which imports this module).
        from .solver_modulo import solve_modulo

        if config.objective not in ("ii", "latency"):
            raise ProblemError(f"objective {config.objective!r} has no modulo form (loop-carried edges or an II); use 'ii'")
        return solve_modulo(problem, config, progress)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, config.threads))
    try:
        if config.objective == "A":
            return _solve_objective_a(problem, config, progress)
        if config.objective == "memory":
            from .solver_memory import solve_memory  # it imports this module

            return solve_memory(problem, config, progress)
        return _solve_latency(problem, config, progress)
    finally:
        torch.set_num_threads(previous_threads)


# ----------------------------------------------------------------------------------------------- shared machinery
class _Adam:
    """Plain Adam on a few tensors (torch.optim.Adam pulls in torch._dynamo: seconds of start-up on CPU)."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8, normalized: bool = False):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.normalized = normalized
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            if self.normalized:
                # Momentum on the gradient scaled by its largest entry: the most pressed ops move lr per step,
                # the others proportionally less (Adam would move every op by lr and overshoot together).
                g = p.grad / (p.grad.abs().max() + 1e-30)
                m.mul_(b1).add_(g, alpha=1 - b1)
                p.add_(m, alpha=-self.lr / c1)
                continue
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            p.addcdiv_(m, v.div(c2).sqrt_().add_(self.eps), value=-self.lr / c1)


class _Relaxation:
    """Parameters (mu, rho) and the Adam state for one problem on one device."""

    def __init__(self, problem: Problem, config: SolverConfig, span_for_bound: np.ndarray):
        self.config = config
        dev, dt = config.device, config.dtype
        self.tensor = lambda a, dtype=dt: torch.as_tensor(np.asarray(a), dtype=dtype, device=dev)
        intra = problem.intra_edges()
        self.src = self.tensor(problem.edge_src[intra], torch.long)
        self.dst = self.tensor(problem.edge_dst[intra], torch.long)
        self.lag = self.tensor(problem.latency[problem.edge_src[intra]] + problem.edge_delay[intra] - config.dep_tolerance)
        self.span = self.tensor(span_for_bound)
        self.edge_mult = torch.zeros(len(intra), dtype=dt, device=dev)
        self.mu = torch.zeros(problem.n_ops, dtype=dt, device=dev, requires_grad=True)
        self.rho_param = torch.zeros(problem.n_ops, dtype=dt, device=dev, requires_grad=True)
        self.optimizer = None

    def reset(self, mu0: np.ndarray, sigma0: np.ndarray) -> None:
        floor = self.config.sigma_floor
        excess = np.maximum(np.asarray(sigma0, dtype=np.float64) - floor, 1e-3)
        with torch.no_grad():
            self.mu.copy_(self.tensor(mu0))
            self.rho_param.copy_(self.tensor(np.log(np.expm1(excess))))  # inverse softplus
        self.optimizer = _Adam([self.mu, self.rho_param], lr=self.config.lr, normalized=self.config.optimizer == "normalized")

    def sigma(self) -> torch.Tensor:
        return self.config.sigma_floor + torch.nn.functional.softplus(self.rho_param)

    def dependence_loss(self, sigma: torch.Tensor, update_multipliers: bool, comm_weight=None, alpha: float = 0.0) -> torch.Tensor:
        """Augmented-Lagrangian loss of the dependences (plus alpha * communication over the same edges); with
        ``update_multipliers`` the kernel also raises each edge's multiplier by rho * its violation, in the same pass."""
        return kernels.dependency_loss(
            self.mu, sigma, self.src, self.dst, self.lag, self.edge_mult, self.config.rho,
            comm_weight=comm_weight, alpha=alpha, multiplier_step=self.config.rho if update_multipliers else 0.0,
            backend=self.config.backend, deterministic=self.config.deterministic,
        )

    def usage(self, mu, sigma, weight, hold, horizon, half, channel=None, n_channels=1, ii=None) -> torch.Tensor:
        """Expected usage over per-row windows (the global ``half`` is set by the widest row)."""
        return kernels.expected_usage(mu, sigma, weight, hold, horizon, half, channel, n_channels, ii,
                                      window_sigmas=relax.WINDOW_SIGMAS, backend=self.config.backend,
                                      deterministic=self.config.deterministic)

    def bound_loss(self, sigma: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """Expected violation of ``0 <= t_i <= upper_i``, summed (one fused pass on CPU)."""
        return kernels.bound_loss(self.mu, sigma, 0.0, upper, backend=self.config.backend, deterministic=self.config.deterministic)

    def step(self, loss: torch.Tensor) -> None:
        self.mu.grad = self.rho_param.grad = None
        loss.backward()
        self.optimizer.step()

    def mu_numpy(self, noise: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        mu = self.mu.detach().cpu().numpy()
        if noise and rng is not None:
            mu = mu + rng.normal(0.0, noise, size=mu.shape)
        return mu


class LimitTerm:
    """Augmented Lagrangian of the unit limits: one row per use of a limited resource (its channel is the resource's
    rank among the limited ones), the expected usage per (resource, step) -- or slot mod II -- against the limit,
    multipliers raised by the expected excess."""

    def __init__(self, problem: Problem, state: _Relaxation):
        self.state, self.config = state, state.config
        limited = [r for r, res in enumerate(problem.resource_types) if res.limit is not None]
        rank = np.full(len(problem.resource_types), -1)
        rank[limited] = np.arange(len(limited))
        on = rank[problem.use_res] >= 0 if len(problem.use_res) else np.zeros(0, bool)
        self.op = state.tensor(problem.use_op[on], torch.long)
        self.hold = state.tensor(problem.use_len[on], torch.long)
        self.channel = state.tensor(rank[problem.use_res[on]], torch.long)
        self.weight = torch.ones(len(self.op), dtype=self.config.dtype, device=self.config.device)
        self.limit = state.tensor([problem.resource_types[r].limit for r in limited])[:, None]
        self.n_channels = len(limited)
        self.max_hold = int(problem.use_len[on].max()) if on.any() else 1
        self.excess: torch.Tensor | None = None

    def __bool__(self) -> bool:
        return len(self.op) > 0

    def multipliers(self, width: int) -> torch.Tensor:
        return torch.zeros(self.n_channels, width, dtype=self.config.dtype, device=self.config.device)

    def loss(self, sigma: torch.Tensor, multipliers: torch.Tensor, horizon: int, ii: int | None = None) -> torch.Tensor:
        mu = self.state.mu
        half = relax.occupancy_window(float(sigma.detach().max()), self.max_hold, self.config.window_cap)
        usage = self.state.usage(mu[self.op], sigma[self.op], self.weight, self.hold, horizon, half, self.channel,
                                 self.n_channels, ii)
        self.excess = torch.relu(usage - self.limit)
        return (multipliers * self.excess).sum() + 0.5 * self.config.rho * (self.excess * self.excess).sum()

    def raise_multipliers(self, multipliers: torch.Tensor) -> None:
        """``mult <- min(mult + rho * excess, 1e3)`` with the excess of the last `loss`."""
        if self.excess is not None:
            with torch.no_grad():
                multipliers.add_(self.config.rho * self.excess.detach()).clamp_(max=1e3)


def _initial_sigma(config: SolverConfig, early: np.ndarray, late: np.ndarray, scale: float = 1.0) -> np.ndarray:
    mobility = np.maximum(late - early, 0).astype(np.float64)
    return np.clip(scale * config.sigma_kappa * mobility, config.sigma_floor * 1.05, config.sigma_max)


class _Clock:
    def __init__(self, config: SolverConfig, progress: ProgressFn | None):
        self.t0 = time.perf_counter()
        self.config = config
        self.progress = progress

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def out_of_time(self) -> bool:
        return self.elapsed >= self.config.time_limit

    def report(self, it: int, best: float) -> None:
        if self.progress is not None:
            frac = max(self.elapsed / self.config.time_limit, it / max(self.config.max_iters, 1))
            self.progress(min(frac, 1.0), best)


# ----------------------------------------------------------------------------------------------- objective A
def default_depth(problem: Problem) -> int:
    """Objective A's default D: the number of nodes on the longest path (as the ICML'24 scripts do)."""
    return max(bounds.longest_path_nodes(problem), 1)


def _meets_limits(problem: Problem, start: np.ndarray) -> bool:
    """Whether ``start`` keeps every limited resource within its units (both occupancy rules)."""
    use_op = np.repeat(np.arange(problem.n_ops), np.diff(problem.use_ptr))
    for r, res in enumerate(problem.resource_types):
        if res.limit is None:
            continue
        rows = problem.use_res == r
        if not rows.any():
            continue
        begin = start[use_op[rows]]
        end = begin + np.maximum(problem.use_len[rows], 1)
        # Busy units per step: +1 at each begin, -1 at each end, prefix sums over the sorted event steps.
        steps = np.concatenate([begin, end])
        delta = np.concatenate([np.ones(len(begin), np.int64), -np.ones(len(end), np.int64)])
        order = np.lexsort((delta, steps))  # ends before begins at the same step
        if np.cumsum(delta[order]).max(initial=0) > res.limit:
            return False
    return True


def _polish_a(problem: Problem, start: np.ndarray, alpha: float, depth: int) -> np.ndarray | None:
    """Objective-A local search on a legal schedule; under resource limits the result is repaired by the
    legalizer (the local search ignores limits) and ``None`` is returned when no legal schedule comes out."""
    polished = bounds.polish_objective_a(problem, start, alpha, depth)
    if not problem.has_limits() or _meets_limits(problem, polished):
        return polished
    repaired, ok = bounds.legalize(problem, polished.astype(np.float64), depth)
    if ok and _meets_limits(problem, repaired):
        return repaired
    return start if _meets_limits(problem, start) and (start + problem.span).max(initial=0) <= depth else None


def _ablation_start(problem: Problem, init: str, depth: int, listed: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """(legal start, initial mu) from one source only, without the local search: the list schedule, the ASAP/ALAP
    midpoint or uniform random mu in [ASAP, ALAP], legalised (the list schedule when that fails)."""
    if init == "list":
        return listed, listed.astype(np.float64)
    early, late = bounds.asap(problem).astype(np.float64), bounds.alap(problem, depth).astype(np.float64)
    mu = (early + late) / 2.0 if init == "midpoint" else rng.uniform(early, late + 1e-9)
    start, ok = bounds.legalize(problem, mu, depth)
    if not (ok and _meets_limits(problem, start)):
        return listed, listed.astype(np.float64)
    return start, mu


class ObjectiveARelaxation:
    """Objective A's relaxed loss and one Adam step on it: the soft maximum of the expected per-step weights, the
    dependences' augmented Lagrangian with alpha * communication fused into the same edge pass, and the expected
    depth-bound violation. One `gradient_step` is one solver iteration without legalisation (`perf/bench_kernels.py`
    times it)."""

    def __init__(self, problem: Problem, config: SolverConfig, depth: int, lower: float):
        self.config, self.depth = config, depth
        self.state = _Relaxation(problem, config, problem.span)
        self.weight = self.state.tensor(problem.op_weight)
        self.hold = self.state.tensor(np.ones(problem.n_ops), torch.long)
        self.comm_w = self.state.tensor(problem.edge_comm[problem.intra_edges()])
        self.upper = self.state.tensor(depth - problem.span)
        # Normalise the objective so that one unit of loss is one lower bound; the peak is a soft maximum.
        self.scale = max(lower, 1e-9)

    def gradient_step(self, update_multipliers: bool) -> None:
        config, state = self.config, self.state
        sigma = state.sigma()
        half = relax.occupancy_window(float(sigma.detach().max()), 1, config.window_cap)
        usage = state.usage(state.mu, sigma, self.weight, self.hold, self.depth, half)[0]
        tau = config.temperature * self.scale
        peak = tau * torch.logsumexp(usage / tau, 0)
        # Communication rides along in the dependence kernel (objective A has only intra-iteration edges).
        dep_loss = state.dependence_loss(sigma, update_multipliers, self.comm_w, config.alpha / self.scale)
        state.step(peak / self.scale + dep_loss + config.rho * state.bound_loss(sigma, self.upper))


def restart_near(state, best_start: np.ndarray, rng, config: SolverConfig, early, late, restarts: int) -> None:
    """Restart the relaxation around the best schedule: mu jittered by N(0, 0.25), sigma narrower each restart
    (the initial scale halved, in a cycle of four) so that later restarts search closer to it."""
    jitter = rng.normal(0.0, 0.25, size=len(best_start))
    state.reset(best_start + jitter, _initial_sigma(config, early, late, config.sigma_init_scale * 0.5 ** (restarts % 4)))


def _solve_objective_a(problem: Problem, config: SolverConfig, progress: ProgressFn | None) -> SolveResult:
    clock = _Clock(config, progress)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    depth = config.depth or problem.depth or default_depth(problem)
    bounds.check_depth(problem, depth)
    alpha = config.alpha
    comm_lb = alpha * float(np.dot(problem.edge_comm, np.maximum(problem.edge_lag(0), 0)))
    lower = bounds.peak_weight_lower_bound(problem, depth) + comm_lb
    asap = baselines.asap_objective_a(problem, alpha)
    listed_all = baselines.list_schedules_objective_a(problem, depth, alpha, seed=config.seed)
    listed = listed_all[0]
    layered = baselines.layered_objective_a(problem, depth, alpha)
    base = {"asap": asap.value, "list": listed.value, "layered": layered.value}
    # Start from the best baseline after the legalizer's local search (it never makes a schedule worse); every
    # list schedule competes, since the local search reorders them.
    # ASAP, the layered schedules and the local search know no resource limits: with limits, only the list
    # schedule is legal by construction, and every candidate goes through `_polish_a`.
    if problem.has_limits():
        for key, b in (("asap", asap), ("layered", layered)):
            if not _meets_limits(problem, b.start):
                base[key] = math.nan  # not a legal schedule under the limits
    best_value = math.inf
    for b in (asap, *listed_all, layered):
        # The local search's repair under limits can lose to its own input, so the legal input competes too.
        raw = b.start if _meets_limits(problem, b.start) and (b.start + problem.span).max(initial=0) <= depth else None
        for start in (raw, _polish_a(problem, b.start, alpha, depth)):
            if start is None:
                continue
            value = score.objective_a(problem, start, alpha)
            if value < best_value:
                best_start, best_value = start, value
    if not math.isfinite(best_value):
        # Only possible under resource limits: the legalizer gets one more try from the list schedule's order.
        start, ok = bounds.legalize(problem, listed.start.astype(np.float64), depth)
        if not (ok and _meets_limits(problem, start)):
            need = int((listed.start + problem.span).max(initial=0))
            raise NoScheduleError(f"no schedule within D={depth} stages under the resource limits was found "
                                  f"(list scheduling needs {need}); raise the depth bound or the limits")
        best_start, best_value = start, score.objective_a(problem, start, alpha)
    mu0 = best_start.astype(np.float64)
    if config.init != "best":
        best_start, mu0 = _ablation_start(problem, config.init, depth, listed.start, rng)
        best_value = score.objective_a(problem, best_start, alpha)
    result = SolveResult(Schedule(best_start), "A", best_value, lower, base, depth, backend=config.backend, device=config.device)
    result.history.append((clock.elapsed, best_value))
    if problem.n_ops == 0 or best_value <= lower + 1e-9 or config.max_iters == 0:
        result.seconds = clock.elapsed
        return result

    early, late = bounds.asap(problem), bounds.alap(problem, depth)
    relaxed = ObjectiveARelaxation(problem, config, depth, lower)
    relax_state = relaxed.state
    relax_state.reset(mu0, _initial_sigma(config, early, late, config.sigma_init_scale))
    since_best = 0
    fails = 0
    restarts = 0
    it = 0
    while it < config.max_iters and not clock.out_of_time() and since_best < config.patience:
        legalize_now = (it + 1) % config.legalize_every == 0
        relaxed.gradient_step(update_multipliers=legalize_now)
        it += 1
        since_best += 1
        if legalize_now:
            improved = False
            for noise in LEGALIZE_NOISE[:2]:
                start, ok = bounds.legalize(problem, relax_state.mu_numpy(noise, rng), depth)
                result.legalizations += 1
                if not ok:
                    continue
                start = _polish_a(problem, start, alpha, depth)
                if start is None:
                    continue
                value = score.objective_a(problem, start, alpha)
                if value < best_value - 1e-9:
                    best_start, best_value, improved = start, value, True
            if improved:
                since_best, fails = 0, 0
                result.history.append((clock.elapsed, best_value))
                if best_value <= lower + 1e-9:
                    break
            else:
                fails += 1
                if fails >= config.restart_after:
                    restarts += 1
                    fails = 0
                    fresh = _random_list_a(problem, depth, alpha, rng) if restarts % 2 else None
                    if fresh is None:
                        restart_near(relax_state, best_start, rng, config, early, late, restarts)
                    else:
                        # Every other restart explores: a random-priority list schedule after the local search.
                        value = score.objective_a(problem, fresh, alpha)
                        if value < best_value - 1e-9:
                            best_start, best_value = fresh, value
                            since_best = 0
                            result.history.append((clock.elapsed, best_value))
                        relax_state.reset(fresh.astype(np.float64), _initial_sigma(config, early, late, config.sigma_init_scale))
            clock.report(it, best_value)
    result.schedule = Schedule(best_start)
    result.value = best_value
    result.iterations, result.restarts, result.seconds = it, restarts, clock.elapsed
    return result


def _random_list_a(problem: Problem, depth: int, alpha: float, rng) -> np.ndarray | None:
    """List scheduling with a random priority (under the smallest weight capacity that fits in ``depth``), then
    the local search; None when it does not fit. Cheap, and on small circuits often better than any fixed
    priority."""
    from .heuristics import list_scheduling  # it imports this module lazily

    try:
        start = list_scheduling(problem, "A", depth, alpha, names=["random"], seed=int(rng.integers(2**31)))[0].start
    except NoScheduleError:
        return None
    return _polish_a(problem, start, alpha, depth)


# ----------------------------------------------------------------------------------------------- latency
def _solve_latency(problem: Problem, config: SolverConfig, progress: ProgressFn | None) -> SolveResult:
    clock = _Clock(config, progress)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    lower = float(bounds.makespan_lower_bound(problem))
    plain, best = baselines.list_scheduling_latency(problem)
    base = {"list": plain.value, "list(best priority)": best.value}
    best_start, best_value = best.start.copy(), int(best.value)
    result = SolveResult(Schedule(best_start), "latency", best_value, lower, base, None, backend=config.backend, device=config.device)
    result.history.append((clock.elapsed, best_value))
    if problem.n_ops == 0 or best_value <= lower or config.max_iters == 0:
        result.seconds = clock.elapsed
        return result

    lat = problem.latency
    span = lat + 1  # with depth M + 1, ``t + lat + 1 <= M + 1`` is the makespan bound ``t + lat <= M``
    relax_state = _Relaxation(problem, config, span)
    limits = LimitTerm(problem, relax_state)
    it = 0
    restarts = 0
    since_best = 0
    target = best_value - 1

    def start_target(m: int) -> tuple:
        # Compress the best schedule into the target horizon and widen sigma by the mobility there.
        early, late = bounds.asap(problem), bounds.alap(problem, m + 1, span=span)
        mu0 = best_start * (m / max(best_value, 1))
        relax_state.reset(mu0, _initial_sigma(config, early, late))
        return early, late, limits.multipliers(m + 1)

    early, late, res_mult = start_target(target)
    upper = relax_state.tensor(target - lat)
    fails = 0
    while it < config.max_iters and not clock.out_of_time() and since_best < config.patience:
        sigma = relax_state.sigma()
        legalize_now = (it + 1) % config.legalize_every == 0
        dep_loss = relax_state.dependence_loss(sigma, legalize_now)
        loss = dep_loss + config.rho * relax_state.bound_loss(sigma, upper)
        if limits:
            loss = loss + limits.loss(sigma, res_mult, target + 1)
        # A gentle pull towards early starts keeps the schedule compact.
        loss = loss + 1e-3 * relax_state.mu.sum() / max(problem.n_ops, 1)
        relax_state.step(loss)
        it += 1
        since_best += 1
        if legalize_now:
            limits.raise_multipliers(res_mult)
            found = None
            for noise in LEGALIZE_NOISE:
                mu = relax_state.mu_numpy(noise, rng)
                # Two ways to round: stay near mu, or use mu as the priority list of a serial (earliest-start)
                # list schedule, which is the dominant rule for makespan.
                candidates = (
                    bounds.legalize(problem, mu, target + 1, span=span)[0],
                    bounds.list_schedule(problem, mu, mode="serial"),
                )
                for start in candidates:
                    result.legalizations += 1
                    value = score.makespan(problem, start)
                    if value < best_value:
                        best_start, best_value, found = start, value, True
            if found:
                since_best, fails = 0, 0
                result.history.append((clock.elapsed, float(best_value)))
                if best_value <= lower:
                    break
                target = best_value - 1
                early, late, res_mult = start_target(target)
                upper = relax_state.tensor(target - lat)
            else:
                fails += 1
                if fails >= config.restart_after:
                    restarts += 1
                    fails = 0
                    # Shake the stuck mu and start over with fresh multipliers: grown multipliers freeze the
                    # landscape the search is stuck in (measured: perf/latency_vs_exact.py).
                    if len(result.history) > 1 or restarts % 2:
                        origin = relax_state.mu_numpy(0.5 + 0.25 * (restarts % 4), rng)
                    else:  # nothing found yet from the list schedule's basin: try the one of a list schedule of
                        # random priorities, squeezed into the target
                        other = bounds.list_schedule(problem, early + late + rng.uniform(0.0, 4.0, problem.n_ops), mode="serial")
                        origin = other * (target / max(score.makespan(problem, other), 1))
                    relax_state.reset(origin, _initial_sigma(config, early, late, 0.5 ** (restarts % 3)))
                    relax_state.edge_mult.zero_()
                    res_mult = limits.multipliers(target + 1)
            clock.report(it, float(best_value))
    result.schedule = Schedule(best_start)
    result.value = float(best_value)
    result.iterations, result.restarts, result.seconds = it, restarts, clock.elapsed
    return result
