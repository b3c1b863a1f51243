"""simulate_axi_top: stream a test set through the AXI-wrapped top in cocotb and check it.

Steps, in order: the inputs packed by the reference packer (hardware/stage/packing.py, then cut into
words as regmap.PACKING says) -> one simulator build, both tests of tb_axi_top.py (the bus-level
stream and the driver session) -> every record checked against the software model
(``sim.pipeline.simulate.route_kept`` = ``frontend.calibrate.route`` over the kept exits; a disabled
exit is routed as a dropped one) -> ``BoardSimResult`` (``to_dict`` = the report's ``board_top`` sim part).

Checked: every sample back once with the predicted exit and class (before and after the mid-stream
threshold change, split at the APPLY_ID the hardware reports, and with an exit turned off); the
counters against the model (per-exit counts, samples) and against a cocotb monitor of the stream
handshakes (input and output stalls, exactly); register reset values against the register map; a
soft reset (counters and ids cleared, thresholds kept); the driver's results and counters.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hardware.axi_top.generate import AxiTopRtl

TB_DIR = Path(__file__).resolve().parent


@dataclass
class PhaseCheck:
    name: str
    samples: int
    mismatches: int
    lost: int
    duplicated: int
    exit_counts: dict[int, int]      # predicted by the model, per kept exit


@dataclass
class BoardSimResult:
    simulator: str
    phases: list[PhaseCheck]
    counter_failures: list[str]
    driver: dict
    apply_id: int
    thresholds_before: dict[int, int]
    thresholds_after: dict[int, int]
    disabled_exit: int
    moved_by_change: int            # samples after the change whose exit the new thresholds moved
    wall_seconds: float
    in_pause: float
    out_pause: float
    notes: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        """Test samples streamed (the second batch streams the first of them again)."""
        return self.phases[0].samples

    @property
    def mismatches(self) -> int:
        return sum(p.mismatches for p in self.phases) + self.driver.get("mismatches", 0)

    @property
    def lost(self) -> int:
        return sum(p.lost for p in self.phases)

    @property
    def duplicated(self) -> int:
        return sum(p.duplicated for p in self.phases)

    @property
    def counters_match_model(self) -> bool:
        return not self.counter_failures and self.driver.get("counters_match_model", False)

    @property
    def ok(self) -> bool:
        return (self.mismatches, self.lost, self.duplicated) == (0, 0, 0) and self.counters_match_model

    def summary(self) -> str:
        return (f"wrapped top simulated ({self.simulator}) with {self.samples} test samples through AXI4-Stream "
                f"(random pauses: input {self.in_pause:.0%}, output {self.out_pause:.0%}): {self.mismatches} "
                f"mismatches, {self.lost} lost, {self.duplicated} duplicated; thresholds changed mid-stream at "
                f"sample {self.apply_id}, then {self.phases[1].samples} of them again "
                + (f"with exit {self.disabled_exit} turned off" if self.disabled_exit else
                   "(one exit: none to turn off)") + "; counters "
                + ("equal to the model" if not self.counter_failures else
                   f"DIFFER from the model ({'; '.join(self.counter_failures[:3])})")
                + f"; driver: {self.driver.get('samples', 0)} samples, {self.driver.get('mismatches', 0)} "
                  f"mismatches, counters {'equal to' if self.driver.get('counters_match_model') else 'DIFFER from'} "
                  "the model")

    def to_dict(self) -> dict:
        return {"simulator": self.simulator, "samples": self.samples, "mismatches": self.mismatches,
                "lost": self.lost, "duplicated": self.duplicated, "counters_match_model": self.counters_match_model,
                "counter_failures": self.counter_failures, "summary": self.summary(),
                "phases": [p.__dict__ for p in self.phases], "threshold_change": {
                    "first_sample_with_new": self.apply_id, "before": self.thresholds_before,
                    "after": self.thresholds_after, "samples_moved": self.moved_by_change},
                "disabled_exit": self.disabled_exit, "driver": self.driver, "wall_seconds": self.wall_seconds,
                "in_pause": self.in_pause, "out_pause": self.out_pause, "notes": self.notes}


def packed_words(top: AxiTopRtl, input_tensor, codes: np.ndarray) -> np.ndarray:
    """(n, words_per_sample * bytes) uint8: the reference packing of the stage-1 tensor, cut into words."""
    from hardware.stage import pack

    rm = top.regmap
    nbytes = rm.words_per_sample * rm.data_width // 8
    return np.array([np.frombuffer(int(w).to_bytes(nbytes, "little"), dtype=np.uint8)
                     for w in pack([input_tensor], [codes])], dtype=np.uint8).reshape(len(codes), nbytes)


def _decode(top: AxiTopRtl, words: list[int]) -> list[dict[str, int]]:
    return [{f.name: (w >> f.lsb) & ((1 << f.width) - 1) for f in top.regmap.result_fields} for w in words]


def _route(configs: list, codes: list, thresholds: dict[int, int], disabled: set[int] = frozenset()):
    """(exit, class) per sample from the software model; a disabled exit routes as a dropped one."""
    from sim.pipeline.simulate import route_kept

    cfgs = [None if (c is None or k in disabled) else c for k, c in enumerate(configs, start=1)]
    thr = [thresholds.get(k) if c is not None else None for k, c in enumerate(cfgs, start=1)]
    return route_kept(cfgs, codes, thr)


def _check_phase(name: str, top: AxiTopRtl, words: list[int], base_id: int, exit_at: np.ndarray,
                 cls: np.ndarray) -> PhaseCheck:
    n = len(exit_at)
    id_bits = next(f.width for f in top.regmap.result_fields if f.name == "id")
    seen = np.zeros(n, dtype=np.int64)
    mismatches = extra = 0
    for f in _decode(top, words):
        i = (f["id"] - base_id) % (1 << id_bits)
        if i >= n or seen[i]:
            extra += 1
            continue
        seen[i] = 1
        mismatches += int(f["exit"] != exit_at[i] or f["class"] != cls[i])
    counts = {int(k): int(np.sum(exit_at == k)) for k in top.regmap.exits}
    return PhaseCheck(name, n, mismatches, int(np.sum(seen == 0)), extra, counts)


def _expect(failures: list[str], what: str, got, want) -> None:
    if got != want:
        failures.append(f"{what}: hardware {got}, model {want}")


def simulate_axi_top(top: AxiTopRtl, configs: list, logit_codes: list, x_codes: np.ndarray, input_tensor,
                     out_dir: Path, *, simulator: str = "verilator", new_thresholds: dict[int, int] | None = None,
                     driver_samples: int = 64, disabled_samples: int | None = None, in_pause: float = 0.3,
                     out_pause: float = 0.3, seed: int = 0) -> BoardSimResult:
    """Build the wrapped top in ``simulator`` and run both tests of tb_axi_top.py on ``x_codes``.

    configs / logit_codes: per stage, the exit configs and the exits' logit codes on x_codes (None
    where the exit is dropped), as sim.pipeline.simulate takes them. new_thresholds: the set applied
    mid-stream (default: the first kept exit at its median confidence, so the change moves samples).
    Raises ValueError on inconsistent inputs, sim.runner.CocotbFailure when a cocotb test fails.
    """
    from exit_unit.reference import confidence
    from sim.runner import run_cocotb
    from sim.stage.run import VERILATOR_CXX_OPT, _verilator_cxx_opt

    rm = top.regmap
    n = len(x_codes)
    if n < 4:
        raise ValueError(f"{n} samples: give at least 4 to split around a threshold change")
    calibrated = {r.exit: r.reset for r in rm.registers if r.name.startswith("THRESHOLD_")}
    first = rm.exits[0]
    if new_thresholds is None:
        conf = confidence(configs[first - 1], np.asarray(logit_codes[first - 1])[:n])
        new_thresholds = {**calibrated, first: int(np.median(conf))}
    disabled = first if len(rm.exits) > 1 else 0     # 0: a single (last) exit, which cannot be turned off
    m = min(driver_samples, n)
    n_b = min(disabled_samples or max(4, n // 4), n)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    vectors, records = out_dir / "vectors.npz", out_dir / "records.json"
    np.savez(vectors, codes=np.asarray(x_codes).reshape(n, -1), words=packed_words(top, input_tensor, x_codes))
    regmap_json = out_dir / "regmap.json"
    from hardware.axi_top.regmap import to_json
    regmap_json.write_text(to_json(rm))
    spec = {"regmap": str(regmap_json), "vectors": str(vectors), "records": str(records),
            "calibrated": calibrated, "new_thresholds": new_thresholds, "switch_at": n // 2, "stream_samples": n,
            "disable_exit": disabled, "enable_samples": n_b, "driver_samples": m, "driver_chunk": max(1, m // 2),
            "in_pause": in_pause, "out_pause": out_pause, "seed": seed}
    (out_dir / "spec.json").write_text(json.dumps(spec))
    sources, build_args = list(top.files), []
    if simulator == "verilator":  # VPI access to the top's ports only: the cores' nets need none (faster build)
        control = out_dir / "public_ports.vlt"
        control.write_text(f'`verilator_config\npublic_flat_rw -module "{top.top}" -var "*"\n')
        sources.insert(0, control)
        build_args = ["--no-public-flat-rw"]
    start = time.perf_counter()
    with _verilator_cxx_opt(VERILATOR_CXX_OPT):
        run_cocotb(sources, top.top, "tb_axi_top", TB_DIR, out_dir / f"build_{simulator}", simulator=simulator,
                   extra_env={"TB_SPEC": out_dir / "spec.json"}, build_args=build_args)
    wall = time.perf_counter() - start
    rec = json.loads(records.read_text())
    drv = json.loads((out_dir / "driver_records.json").read_text())
    codes = [None if c is None else np.asarray(c)[:n] for c in logit_codes]

    failures: list[str] = []
    for r in rm.registers:   # reset values, as the description says
        if r.name in rec["after_reset"]:
            _expect(failures, f"{r.name} after reset", rec["after_reset"][r.name], r.reset if r.access != "wo" else 0)
    apply_id = int(rec["apply_id"])
    exit_old, cls_old = _route(configs, codes, calibrated)
    exit_new, cls_new = _route(configs, codes, new_thresholds)
    ids = np.arange(n)
    exit_a, cls_a = np.where(ids < apply_id, exit_old, exit_new), np.where(ids < apply_id, cls_old, cls_new)
    phase_a = _check_phase("threshold change mid-stream", top, rec["stream_words"], 0, exit_a, cls_a)
    short = [None if c is None else c[:n_b] for c in codes]
    off = {disabled} - {0}
    exit_b, cls_b = _route(configs, short, new_thresholds, off)
    phase_b = _check_phase(f"exit {disabled} off" if off else "second batch", top, rec["disabled_words"], n,
                           exit_b, cls_b)
    if not 0 < apply_id < n:
        failures.append(f"the threshold change landed at sample {apply_id}, not mid-stream (0 < id < {n})")
    _expect(failures, "APPLY_ID of the exit-enable change", rec["disable_apply_id"], n)

    def counters(c: dict, phases: list[PhaseCheck], what: str) -> None:
        total = sum(p.samples for p in phases)
        for key in ("SAMPLES_IN", "SAMPLES_OUT", "NEXT_ID"):
            _expect(failures, f"{key} {what}", c[key], total)
        for k in rm.exits:
            _expect(failures, f"EXIT_COUNT_{k} {what}", c[f"EXIT_COUNT_{k}"], sum(p.exit_counts[k] for p in phases))
        mon = c["monitor"]
        _expect(failures, f"IN_STALL_CYCLES {what} (vs the handshake monitor)", c["IN_STALL_CYCLES"], mon["in_stalls"])
        _expect(failures, f"OUT_STALL_CYCLES {what} (vs the handshake monitor)", c["OUT_STALL_CYCLES"],
                mon["out_stalls"])
        _expect(failures, f"words taken {what} (vs the handshake monitor)", mon["words_in"],
                total * rm.words_per_sample)
        cycles = c["CYCLES_HI"] << 32 | c["CYCLES_LO"]
        if not total <= c["ACTIVE_CYCLES"] <= cycles:
            failures.append(f"ACTIVE_CYCLES {what} = {c['ACTIVE_CYCLES']} outside [results {total}, cycles {cycles}]")
        if c["STATUS"] & 3 != 1:
            failures.append(f"STATUS {what} = {c['STATUS']:#x}, expected idle without a pending apply")

    counters(rec["after_stream"], [phase_a], "after the stream")
    counters(rec["after_disabled"], [phase_a, phase_b], "after the exit-off batch")
    soft = rec["after_soft_reset"]
    for key in ("SAMPLES_IN", "SAMPLES_OUT", "NEXT_ID", "ACTIVE_CYCLES", *(f"EXIT_COUNT_{k}" for k in rm.exits)):
        _expect(failures, f"{key} after a soft reset", soft[key], 0)
    for k in rm.exits:
        _expect(failures, f"THRESHOLD_{k} kept by a soft reset", soft[f"THRESHOLD_{k}"], new_thresholds[k])
    _expect(failures, "EXIT_ENABLE kept by a soft reset", soft["EXIT_ENABLE"],
            rm["EXIT_ENABLE"].reset & ~sum(1 << (k - 1) for k in off) | 1 << (rm.exits[-1] - 1))

    driver = _check_driver(drv, rm, configs, [None if c is None else c[:m] for c in codes], calibrated,
                           new_thresholds, disabled, m)
    moved = int(np.sum((ids >= apply_id) & (exit_old != exit_new)))
    return BoardSimResult(simulator, [phase_a, phase_b], failures, driver, apply_id, calibrated, new_thresholds,
                          disabled, moved, round(wall, 1), in_pause, out_pause)


def _check_driver(drv: dict, rm, configs, codes, calibrated, new, disabled: int, m: int) -> dict:
    """The driver's session against the model: threshold read-back, two batches, their counters."""
    failures = []
    _expect(failures, "driver: thresholds after reset", {int(k): v for k, v in drv["thresholds_after_reset"].items()},
            calibrated)
    _expect(failures, "driver: thresholds written", {int(k): v for k, v in drv["thresholds_written"].items()}, new)
    mismatches = 0
    for key, thr, off in (("first", calibrated, set()), ("second", calibrated, {disabled} - {0})):
        exit_at, cls = _route(configs, codes, thr, off)
        got = drv[key]
        mismatches += int(np.sum((np.asarray(got["exits"]) != exit_at) | (np.asarray(got["classes"]) != cls)))
        c = drv[f"{key}_counters"]
        _expect(failures, f"driver: SAMPLES_IN ({key} batch)", c["SAMPLES_IN"], m)
        _expect(failures, f"driver: SAMPLES_OUT ({key} batch)", c["SAMPLES_OUT"], m)
        for k in rm.exits:
            _expect(failures, f"driver: EXIT_COUNT_{k} ({key} batch)", c[f"EXIT_COUNT_{k}"], int(np.sum(exit_at == k)))
    return {"samples": 2 * m, "mismatches": mismatches, "counters_match_model": not failures, "failures": failures,
            "register_reads": drv["io"]["reads"], "register_writes": drv["io"]["writes"]}
