"""Search the design space over the analytic model: enumerate small spaces, NSGA-II (Optuna) for large ones.

Space: kept exits (every subset holding the final exit, mode "anytime"; a
single earlier exit, mode "subnet") x the threshold sets calibrated for that
subset at each accuracy-drop target of the flow's sweep x the parallelism of
every conv stage (one P per distinct initiation interval). Accuracy, reach and
exit rates come from routing a split, in its real order, through the
bit-exact exit-unit reference with the kept exits only.

Splits: every choice (the threshold candidates, MIN_ACCURACY and the latency
bound, the front and the chosen design) is made on the selection split, the
calibration split the thresholds come from (``Context.codes``). The test split
(``Context.test_codes``) is only reported: each point's ``accuracy_test`` and,
for the points a user can build, ``predicted_test`` (the model's figures with
the test split routed). Calibration, not a validation split carved from the
training data: it is already held out from training, the thresholds are chosen
on it, and taking another split from training would shrink the training set
and change the trained model.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from flows.errors import UserError

from .front import pareto_mask
from .model import Design, Platform, Prediction, StageCost, predict, route_kept

OBJECTIVES = {"throughput": ("throughput_samples_per_s", "max"), "latency": ("mean_latency_cycles", "min"),
              "energy": ("energy_nj_per_sample", "min")}


class InfeasibleObjective(UserError):
    """No design meets the constraints; the message names the best reachable value."""


def distinct_parallelisms(pixels: int) -> list[int]:
    """Smallest P for every distinct initiation interval ceil(pixels / P), increasing."""
    return sorted({math.ceil(pixels / ii) for ii in range(1, pixels + 1)})


def design_id(design: Design) -> str:
    return hashlib.sha1(json.dumps(design.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


SELECTION_SPLIT = "calibration"


@dataclass
class Context:
    """Everything the model needs about one model on one board."""

    stages: Sequence[StageCost]
    platform: Platform
    configs: list               # ExitUnitConfig per exit
    codes: list[np.ndarray]     # logit codes per exit of the selection (calibration) split: every choice
    labels: np.ndarray
    threshold_sets: dict[tuple[int, ...], list[tuple[int, ...]]]  # kept exits -> threshold candidates
    test_codes: list[np.ndarray] | None = None   # the test split: reported, never chosen on
    test_y: np.ndarray | None = None
    others: dict[str, Context] = field(default_factory=dict)  # other exit policies: their own configs,
    _routes: dict = field(default_factory=dict)                # thresholds and exit-unit figures

    @property
    def n_exits(self) -> int:
        return len(self.stages)

    @property
    def policy(self) -> str:
        return self.configs[0].policy

    def policies(self) -> list[Context]:
        """This context (the calibrated policy) first, then the others."""
        return [self, *self.others.values()]

    def for_policy(self, policy: str | None) -> Context:
        if policy is None or policy == self.policy:
            return self
        if policy not in self.others:
            raise ValueError(f"policy {policy!r} was not explored; explored: {[c.policy for c in self.policies()]}")
        return self.others[policy]

    def routed(self, exits: tuple[int, ...], thresholds: tuple[int, ...],
               split: str = "selection") -> tuple[np.ndarray, np.ndarray]:
        """(exit per sample, correct per sample) of the selection split, or of the test split (reporting)."""
        key = (split, exits, thresholds)
        if key not in self._routes:
            if split == "selection":
                codes, labels = self.codes, self.labels
            elif split == "test" and self.test_codes is not None:
                codes, labels = self.test_codes, self.test_y
            else:
                raise ValueError(f"no {split!r} split in this context; use 'selection' or give test_codes")
            d = Design(exits, thresholds, (1,) * self.n_exits, "budgeted")
            exit_stage, predicted = route_kept(self.configs, codes, d)
            self._routes[key] = (exit_stage, predicted == labels)
        return self._routes[key]

    def predict(self, design: Design, with_fifo: bool = False, split: str = "selection") -> Prediction:
        ctx = self.for_policy(design.policy)
        exit_stage, correct = ctx.routed(design.exits, design.thresholds, split)
        return predict(design, ctx.stages, ctx.platform, exit_stage, correct, with_fifo=with_fifo)

    def accuracy(self, design: Design, split: str) -> float:
        """Accuracy of the design's routing on a split (no hardware model needed)."""
        _, correct = self.for_policy(design.policy).routed(design.exits, design.thresholds, split)
        return float(np.mean(correct))


def calibrated_threshold_sets(configs, cal_codes, cal_y, exit_macs, drops: Sequence[float]) -> dict:
    """Threshold candidates per kept-exit subset: one calibration per accuracy-drop target."""
    from frontend.calibrate import calibrate

    n = len(configs)
    subsets = [s + (n,) for r in range(n) for s in itertools.combinations(range(1, n), r)]
    subsets += [(k,) for k in range(1, n)]  # subnets
    sets = {}
    for s in subsets:
        idx = [k - 1 for k in s]
        found = []
        for drop in drops:
            thr = tuple(calibrate([configs[i] for i in idx], [cal_codes[i] for i in idx], cal_y,
                                  [exit_macs[i] for i in idx], drop))
            if thr not in found:
                found.append(thr)
        sets[s] = found
    return sets


def _mode(exits: tuple[int, ...], n: int) -> str:
    return "anytime" if exits[-1] == n else "subnet"


def space_size(ctx: Context) -> int:
    p_options = [len(distinct_parallelisms(max(s.conv_pixels))) if s.conv_pixels else 1 for s in ctx.stages]
    return sum(len(v) * int(np.prod(p_options[:s[-1]])) for c in ctx.policies() for s, v in c.threshold_sets.items())


def _policy_of(ctx: Context, c: Context) -> str | None:
    """Designs of the calibrated policy keep policy None (their ids stay those of a one-policy search)."""
    return None if c is ctx else c.policy


def enumerate_designs(ctx: Context):
    p_options = [distinct_parallelisms(max(s.conv_pixels)) if s.conv_pixels else [1] for s in ctx.stages]
    for c in ctx.policies():
        for exits, sets in c.threshold_sets.items():
            deployed = exits[-1]
            for thr in sets:
                for ps in itertools.product(*p_options[:deployed]):
                    yield Design(exits, thr, tuple(ps) + (1,) * (ctx.n_exits - deployed), _mode(exits, ctx.n_exits),
                                 _policy_of(ctx, c))


def nsga2_designs(ctx: Context, objectives: dict[str, str], n_trials: int, seed: int = 0,
                  feasible: Callable[[Prediction], bool] = lambda p: True) -> list[Design]:
    """Designs visited by Optuna's NSGA-II sampler over the analytic model (infeasible ones penalised)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    subsets = [(c, exits) for c in ctx.policies() for exits in c.threshold_sets]
    p_options = [distinct_parallelisms(max(s.conv_pixels)) if s.conv_pixels else [1] for s in ctx.stages]
    max_sets = max(len(v) for c in ctx.policies() for v in c.threshold_sets.values())
    keys = list(objectives)
    worst = [(-1e30 if objectives[k] == "max" else 1e30) for k in keys]
    seen: dict[str, Design] = {}

    def trial_design(trial) -> Design:
        c, exits = subsets[trial.suggest_int("subset", 0, len(subsets) - 1)]
        sets = c.threshold_sets[exits]
        thr = sets[trial.suggest_int("thresholds", 0, max_sets - 1) % len(sets)]
        ps = tuple(opts[trial.suggest_int(f"p{k}", 0, len(opts) - 1)] if k <= exits[-1] else 1
                   for k, opts in enumerate(p_options, start=1))
        return Design(exits, thr, ps, _mode(exits, ctx.n_exits), _policy_of(ctx, c))

    def objective(trial):
        d = trial_design(trial)
        seen[design_id(d)] = d
        p = ctx.predict(d)
        if not feasible(p):
            return worst
        m = p.metrics()
        return [m[k] for k in keys]

    study = optuna.create_study(directions=["maximize" if objectives[k] == "max" else "minimize" for k in keys],
                                sampler=optuna.samplers.NSGAIISampler(seed=seed, population_size=40))
    study.optimize(objective, n_trials=n_trials)
    return list(seen.values())


@dataclass
class Exploration:
    objective: str
    objectives: dict[str, str]
    points: list[dict]          # feasible points: id, design, predicted, on_front
    chosen: str
    baselines: dict[str, dict | None]
    searched: str               # "enumerated" or "nsga2"
    candidates: int


def _largest_uniform(ctx: Context, exits, thresholds, fits: Callable[[Prediction], bool]) -> dict | None:
    """Same P on every conv stage (clamped to its windows), the fastest that fits."""
    best = None
    for p in sorted({q for s in ctx.stages if s.conv_pixels for q in distinct_parallelisms(max(s.conv_pixels))}):
        d = Design(exits, thresholds, tuple(min(p, s.max_parallelism) for s in ctx.stages), "anytime")
        pred = ctx.predict(d)
        if fits(pred):
            best = _point(ctx, d, pred, buildable=True)
    return best


def _point(ctx: Context, d: Design, p: Prediction, buildable: bool) -> dict:
    """A design's record with the split of every figure: ``predicted`` and ``accuracy_selection`` on the
    selection split (what every choice used); ``accuracy_test`` and, for a point a user can build,
    ``predicted_test`` with the test split routed (reported only)."""
    test = ctx.test_codes is not None
    return {"id": design_id(d), **d.to_dict(), "predicted": p.metrics(), "predicted_on": SELECTION_SPLIT,
            "accuracy_selection": float(p.accuracy), "accuracy_test": ctx.accuracy(d, "test") if test else None,
            "predicted_test": ctx.predict(d, split="test").metrics() if test and buildable else None}


def explore(ctx: Context, objective: str, budget: dict, min_accuracy: float | None = None,
            max_latency_cycles: float | None = None, calibrated_thresholds: Sequence[int] | None = None,
            max_enumerate: int = 20_000, n_trials: int = 400, seed: int = 0,
            tick: Callable[[int, int, str | None], None] | None = None) -> Exploration:
    """Evaluate the space against the model, keep designs within budget and constraints, mark the front.

    tick(done, total, best so far) while designs are predicted, for a progress bar.
    """
    if objective not in OBJECTIVES:
        raise InfeasibleObjective(f"objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}")
    metric, sense = OBJECTIVES[objective]
    if objective == "energy" and not all(c.platform.has_energy for c in ctx.policies()):
        raise InfeasibleObjective("OBJECTIVE=energy needs power.w_per_klut and power.pl_static_w in the board file "
                                  "(estimates with their sources, as in boards/pynq-z2.yaml); add them or use "
                                  "OBJECTIVE=throughput or latency")
    objectives = {metric: sense, "accuracy": "max", "lut": "min"}

    def fits(p: Prediction) -> bool:
        return p.lut <= budget["lut"] and p.ff <= budget["ff"] and p.dsp <= budget["dsp"] and p.bram <= budget["bram"]

    def feasible(p: Prediction) -> bool:
        return fits(p) and (min_accuracy is None or p.accuracy >= min_accuracy) and \
            (max_latency_cycles is None or p.max_latency_cycles <= max_latency_cycles)

    size = space_size(ctx)
    if size <= max_enumerate:
        designs, searched = list(enumerate_designs(ctx)), "enumerated"
    else:
        designs, searched = nsga2_designs(ctx, objectives, n_trials, seed, feasible), "nsga2"
    preds, best = [], None
    for i, d in enumerate(designs):
        preds.append(ctx.predict(d))
        value = preds[-1].metrics()[metric] * (1.0 if sense == "max" else -1.0)
        if feasible(preds[-1]) and (best is None or value > best[0]):
            shown = f"{abs(value):,.0f}" if abs(value) >= 1000 else f"{abs(value):.4g}"
            best = (value, f"{design_id(d)}: {shown} {metric}")
        if tick and (i % 25 == 0 or i + 1 == len(designs)):
            tick(i + 1, len(designs), best and best[1])
    in_budget = [i for i, p in enumerate(preds) if fits(p)]
    if not in_budget:
        small = min(range(len(preds)), key=lambda i: preds[i].lut)
        raise InfeasibleObjective(
            f"LUT budget {budget['lut']:,} (FF {budget['ff']:,}) is smaller than the smallest design "
            f"{design_id(designs[small])} ({preds[small].lut:,.0f} LUTs, {preds[small].ff:,.0f} FFs); raise LUT_BUDGET")
    if min_accuracy is not None and not any(preds[i].accuracy >= min_accuracy for i in in_budget):
        best = max(in_budget, key=lambda i: preds[i].accuracy)
        raise InfeasibleObjective(f"no design within budget reaches accuracy {min_accuracy:.4f} on the "
                                  f"{SELECTION_SPLIT} split; the best reachable is {preds[best].accuracy:.4f} "
                                  f"({design_id(designs[best])})")
    ok = [i for i in in_budget if feasible(preds[i])]
    if not ok:
        pool = [i for i in in_budget if min_accuracy is None or preds[i].accuracy >= min_accuracy]
        best = min(pool, key=lambda i: preds[i].max_latency_cycles)
        us = preds[best].max_latency_cycles / ctx.platform.clock_mhz
        raise InfeasibleObjective(f"no design meets the latency bound of {max_latency_cycles / ctx.platform.clock_mhz:g}"
                                  f" us; the lowest reachable worst-case latency is {us:g} us "
                                  f"({design_id(designs[best])})")
    metrics = [preds[i].metrics() for i in ok]
    mask = pareto_mask(metrics, objectives)
    sign = 1.0 if sense == "max" else -1.0
    front = [i for i, on in zip(ok, mask) if on]
    chosen = max(front, key=lambda i: (sign * preds[i].metrics()[metric], preds[i].accuracy, -preds[i].lut))
    points = []
    for i, on in zip(ok, mask):
        d, p = designs[i], preds[i]
        points.append({**_point(ctx, d, p, buildable=bool(on) or i == chosen), "on_front": bool(on),
                       "model": {"ii": list(p.ii), "reach": list(p.reach), "exit_rates": list(p.exit_rates),
                                 "max_latency_cycles": p.max_latency_cycles}})
    n = ctx.n_exits
    final_only = ctx.threshold_sets[(n,)][0]
    all_exits = tuple(range(1, n + 1))
    uniform_thr = tuple(calibrated_thresholds) if calibrated_thresholds is not None else ctx.threshold_sets[all_exits][0]
    baselines = {"no_exit": _largest_uniform(ctx, (n,), final_only, fits),
                 "uniform": _largest_uniform(ctx, all_exits, uniform_thr, fits)}
    return Exploration(objective, objectives, points, design_id(designs[chosen]), baselines, searched, len(designs))
