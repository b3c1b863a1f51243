"""Exit-policy calibration: per-exit thresholds chosen on held-out data.

Every decision goes through ``exit_unit.reference`` (the bit-exact model of
the hardware exit unit, integer arithmetic on quantised logits), so the
accuracy and exit rates reported here are what the hardware will do.

Search: each early exit's candidate thresholds are the confidence codes seen
on the calibration split (thinned to at most ``max_candidates``) plus both
extremes; small spaces are enumerated, larger ones searched coordinate-wise.
The objective is the fewest average MACs per sample with overall accuracy at
least (final-exit accuracy - accuracy_drop points). The calibration split is
small, so the constraint carries a safety margin of ``margin_se`` standard
errors of the paired per-sample accuracy difference (early-exit vs final
exit): thresholds that only just pass on calibration data would fail on new
data about half the time.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from exit_unit.reference import ExitUnitConfig, decide


@dataclass(frozen=True)
class ExitReport:
    index: int
    policy: str
    threshold: float | None   # in the policy's own units (probability, normalised entropy, logit margin);
    #                           None when the code lets no sample out (max_prob code 0: no probability is 1/0)
    threshold_code: int       # the value written to the exit unit's threshold register
    exit_rate: float
    accuracy_at_exit: float | None  # None when no sample leaves there
    cumulative_macs: int
    samples: int


@dataclass(frozen=True)
class Evaluation:
    exits: list[ExitReport]
    accuracy: float
    final_exit_accuracy: float
    avg_macs: float
    baseline_macs: int
    exit_of_sample: np.ndarray   # 1-based exit index each sample leaves at
    predicted: np.ndarray


def logit_codes(model, stages, x: np.ndarray) -> list[np.ndarray]:
    """Integer logit codes of every exit, exactly as the hardware sees them (before any softmax)."""
    from tensorflow import keras

    logits = keras.Model(model.input, [model.get_layer(s.plan.logits).output for s in stages])
    outputs = logits.predict(x, verbose=0, batch_size=512)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [stage.logit_format.to_codes(out) for stage, out in zip(stages, outputs)]


def exit_configs(stages, policy: str) -> list[ExitUnitConfig]:
    classes = int(stages[0].model.outputs[0].shape[-1])
    return [ExitUnitConfig(classes=classes, logit=s.logit_format, policy=policy) for s in stages]


def route(configs, codes: list[np.ndarray], thresholds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(exit index 1..N, predicted class) per sample; the last exit always decides."""
    n = len(codes[0])
    exit_at = np.full(n, len(codes), dtype=np.int64)
    predicted = np.zeros(n, dtype=np.int64)
    pending = np.ones(n, dtype=bool)
    for k, (cfg, z, thr) in enumerate(zip(configs, codes, thresholds), start=1):
        decision = decide(cfg, z, thr)
        leave = pending & (decision.exit if k < len(codes) else True)
        exit_at[leave] = k
        predicted[leave] = decision.cls[leave]
        pending &= ~leave
    return exit_at, predicted


def evaluate(configs, codes, y: np.ndarray, thresholds: list[int], exit_macs: list[int],
             baseline_macs: int) -> Evaluation:
    exit_at, predicted = route(configs, codes, thresholds)
    correct = predicted == y
    reports = []
    for k, (cfg, thr) in enumerate(zip(configs, thresholds), start=1):
        here = exit_at == k
        reports.append(ExitReport(
            index=k, policy=cfg.policy, threshold=cfg.threshold_value(thr), threshold_code=int(thr),
            exit_rate=float(here.mean()), accuracy_at_exit=float(correct[here].mean()) if here.any() else None,
            cumulative_macs=int(exit_macs[k - 1]), samples=int(here.sum())))
    final_only = decide(configs[-1], codes[-1], thresholds[-1]).cls
    return Evaluation(
        exits=reports, accuracy=float(correct.mean()), final_exit_accuracy=float((final_only == y).mean()),
        avg_macs=float(np.mean(np.asarray(exit_macs)[exit_at - 1])), baseline_macs=int(baseline_macs),
        exit_of_sample=exit_at, predicted=predicted)


def calibrate(configs, codes, y: np.ndarray, exit_macs: list[int], accuracy_drop: float = 1.0,
              margin_se: float = 1.0, max_candidates: int = 48, max_combinations: int = 50_000) -> list[int]:
    """Threshold codes (one per exit) that meet the accuracy target with the fewest MACs."""
    if accuracy_drop < 0:
        raise ValueError(f"accuracy_drop must be >= 0 points, got {accuracy_drop}")
    conf = [decide(cfg, z, 0).confidence for cfg, z in zip(configs, codes)]
    candidates = [_candidates(cfg, c, max_candidates) for cfg, c in zip(configs[:-1], conf[:-1])]
    final_threshold = _always_exit(configs[-1], conf[-1])
    # exit masks per (exit, candidate), so a combination costs one pass over samples
    masks = [[cfg.exits(conf[k], t) for t in candidates[k]] for k, cfg in enumerate(configs[:-1])]
    predicted = [np.argmax(z, axis=1) for z in codes]
    correct = [p == y for p in predicted]
    target = correct[-1].mean() - accuracy_drop / 100.0
    macs = np.asarray(exit_macs, dtype=np.float64)

    def score(choice: tuple[int, ...]) -> tuple[bool, float, float]:
        pending = np.ones(len(y), dtype=bool)
        total_macs = 0.0
        right = np.zeros(len(y), dtype=bool)
        for k, c in enumerate(choice):
            leave = pending & masks[k][c]
            total_macs += macs[k] * leave.sum()
            right[leave] = correct[k][leave]
            pending &= ~leave
        total_macs += macs[-1] * pending.sum()
        right[pending] = correct[-1][pending]
        accuracy = right.mean()
        paired = right.astype(np.float64) - correct[-1]
        margin = margin_se * paired.std() / np.sqrt(len(y))
        return accuracy - margin >= target - 1e-12, total_macs / len(y), accuracy

    sizes = [len(c) for c in candidates]
    if int(np.prod(sizes)) <= max_combinations:
        best = max(itertools.product(*(range(s) for s in sizes)), key=lambda ch: _rank(score(ch)))
    else:
        best = _coordinate_search(sizes, score)
    return [int(candidates[k][c]) for k, c in enumerate(best)] + [final_threshold]


def _rank(score: tuple[bool, float, float]) -> tuple:
    """Feasible first, then fewer MACs, then higher accuracy."""
    feasible, macs, accuracy = score
    return feasible, -macs, accuracy


def _coordinate_search(sizes, score) -> tuple[int, ...]:
    strictest = tuple(s - 1 for s in sizes)  # candidates are sorted loosest first
    best, best_score = strictest, score(strictest)
    improved = True
    while improved:
        improved = False
        for k, size in enumerate(sizes):
            for c in range(size):
                trial = best[:k] + (c,) + best[k + 1:]
                s = score(trial)
                if _rank(s) > _rank(best_score):
                    best, best_score, improved = trial, s, True
    return best


def _candidates(cfg: ExitUnitConfig, confidence: np.ndarray, limit: int) -> list[int]:
    """Threshold codes sorted from loosest (most exits) to strictest (fewest)."""
    fmt = cfg.confidence_format
    values = np.unique(np.concatenate([confidence, [fmt.min_code, fmt.max_code]]))
    if len(values) > limit:
        values = np.unique(values[np.linspace(0, len(values) - 1, limit).round().astype(int)])
    rates = [cfg.exits(confidence, int(v)).mean() for v in values]
    order = np.argsort(-np.asarray(rates), kind="stable")
    return [int(values[i]) for i in order]


def _always_exit(cfg: ExitUnitConfig, confidence: np.ndarray) -> int:
    """The final exit always decides; its threshold register is set to let every sample out."""
    fmt = cfg.confidence_format
    for code in (fmt.min_code, fmt.max_code):
        if cfg.exits(confidence, code).all():
            return int(code)
    return int(fmt.min_code)
