"""Energy per sample and per exit, modelled from simulated switching activity.

Energy is modelled, never measured on a board: the toggle counts come from
the RTL simulation, every coefficient that turns them into joules is an
estimate from the board file (``energy:`` and ``power.pl_static_w``, each with
its source). The model is the one Xilinx Power Estimator (XPE) applies to a
design it has resource counts and toggle rates for, with the toggle rates
simulated instead of guessed:

* Activity: from the run's SAIF, each module group g (stage core k with its id
  FIFO and input FIFO, exit unit k with its side FIFO and router, the output
  merge) gets ``t_g`` = toggles per net bit over the run (sum of TC / bits).
* Dynamic energy of g = ``t_g x (LUT_g e_lut + FF_g e_ff + (LUT_g + FF_g) e_route
  + DSP_g e_dsp + BRAM_g e_bram)``: every resource of the group is assumed to
  switch as often as the group's nets do on average; e_* is the energy of one
  output transition of one resource (board file ``energy:``).
* Clock energy = cycles x FF_total x e_clock (the clock tree toggles whether or
  not data moves: no clock gating). Static = ``power.pl_static_w`` x run time.

Per exit: a sample leaving at exit k pays the activity energy of stages 1..k
and exit units 1..k, each module's activity energy shared equally among the
samples it processed; the output merge, the clock and static energy are
shared equally among all samples. Averaging the per-exit figures over the
samples gives back the run's total / samples exactly. Samples that leave early
never reach later stages, so those stages' activity (and energy) falls:
that is the saving early exits buy; the clock and static shares do not fall,
except that a shorter run takes less time.

Resources per group come from the caller (e.g. Yosys records the flow
already has) or from estimates: stage cores from da4ml's cost model (adder
LUTs) and pipeline register bits, FIFOs from their width and depth.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flows.errors import UserError

from .saif import SaifActivity

RESOURCE_KEYS = ("lut", "ff", "dsp", "bram")
class MissingEnergyData(UserError):
    """The board file has no energy coefficients: the simulation still runs, without energy figures."""


COEFFICIENTS = ("lut_pj_per_toggle", "ff_pj_per_toggle", "routing_pj_per_toggle", "dsp_pj_per_toggle",
                "bram_pj_per_toggle", "clock_pj_per_ff_cycle")


@dataclass(frozen=True)
class EnergyCoefficients:
    lut_pj_per_toggle: float
    ff_pj_per_toggle: float
    routing_pj_per_toggle: float
    dsp_pj_per_toggle: float
    bram_pj_per_toggle: float
    clock_pj_per_ff_cycle: float
    static_w: float
    clock_hz: float
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_board(cls, board) -> "EnergyCoefficients":
        """From ``board.extra['energy']`` and ``board.extra['power']['pl_static_w']`` (value + source each)."""
        energy = board.extra.get("energy")
        power = board.extra.get("power") or {}
        if not energy or "pl_static_w" not in power:
            raise MissingEnergyData(f"board {board.name} has no energy: coefficients or power.pl_static_w; "
                             "add them to boards/<board>.yaml (see boards/pynq-z2.yaml)")
        missing = [k for k in COEFFICIENTS if k not in energy]
        if missing:
            raise UserError(f"board {board.name}: energy: lacks {', '.join(missing)}; add them as "
                            "{value: ..., source: ...} (see boards/pynq-z2.yaml)")
        values = {k: float(energy[k]["value"]) for k in COEFFICIENTS}
        sources = {k: str(energy[k].get("source", "")) for k in COEFFICIENTS}
        sources["static_w"] = str(power["pl_static_w"].get("source", ""))
        return cls(**values, static_w=float(power["pl_static_w"]["value"]), clock_hz=board.clock_mhz * 1e6,
                   sources=sources)

    def per_toggle_pj(self, r: dict) -> float:
        """Energy (pJ) when every resource of a group makes one transition."""
        return (r.get("lut", 0) * self.lut_pj_per_toggle + r.get("ff", 0) * self.ff_pj_per_toggle
                + (r.get("lut", 0) + r.get("ff", 0)) * self.routing_pj_per_toggle
                + r.get("dsp", 0) * self.dsp_pj_per_toggle + r.get("bram", 0) * self.bram_pj_per_toggle)


@dataclass
class RunEnergy:
    samples: int
    cycles: int
    activity_pj: dict[str, float]  # group -> activity energy over the run
    toggles_per_bit: dict[str, float]
    clock_pj: float
    static_pj: float

    @property
    def total_nj(self) -> float:
        return (sum(self.activity_pj.values()) + self.clock_pj + self.static_pj) / 1e3

    @property
    def per_sample_nj(self) -> float:
        return self.total_nj / self.samples if self.samples else 0.0

    def per_sample_parts_nj(self) -> dict[str, float]:
        """nJ per sample by origin: ``toggles`` (the simulation's SAIF toggle counts x the per-toggle
        estimates), ``clock`` (simulated cycles x flip-flops x the clock estimate) and ``static`` (simulated
        run time x power.pl_static_w, an estimate)."""
        n = max(self.samples, 1)
        return {"toggles": sum(self.activity_pj.values()) / n / 1e3, "clock": self.clock_pj / n / 1e3,
                "static": self.static_pj / n / 1e3}

    def per_exit_nj(self, reached: dict[str, int], exits: int) -> list[float]:
        """nJ per sample leaving at exit 1..exits; reached[group] = samples the group processed."""
        shared = (self.clock_pj + self.static_pj + self.activity_pj.get("output", 0.0)) / max(self.samples, 1)
        out = []
        for k in range(1, exits + 1):
            e = shared
            for j in range(1, k + 1):
                for g in (f"stage_{j}", f"exit_unit_{j}"):
                    e += self.activity_pj.get(g, 0.0) / max(reached.get(g, 0), 1)
            out.append(e / 1e3)
        return out


def energy_basis(coeffs: EnergyCoefficients, board_name: str) -> dict:
    """What every energy figure of a simulated run is: modelled, how, and where each coefficient comes from."""
    return {"basis": "modelled",
            "method": "SAIF toggle counts of the simulated run x estimated energy per toggle of each resource "
                      "(LUT, FF, routing, DSP, BRAM), plus simulated cycles x flip-flops x estimated clock energy, "
                      "plus simulated run time x estimated PL static power",
            "from_simulation": ["toggle counts (SAIF)", "cycles", "samples per module"],
            "estimated": [f"energy.{k}" for k in COEFFICIENTS] + ["power.pl_static_w"],
            "coefficients": f"boards/{board_name}.yaml energy: and power.pl_static_w",
            "sources": {("power.pl_static_w" if k == "static_w" else f"energy.{k}"): v
                        for k, v in coeffs.sources.items()}}


def energy_sentence(model: dict) -> str:
    """One sentence saying what the energy figures are (``energy_basis``), for the Markdown and HTML views."""
    return (f"{model['basis']}, not measured on a board: {model['method']}. Simulated: "
            f"{', '.join(model['from_simulation'])}; estimated: the coefficients in {model['coefficients']} "
            "(sources there).")


def run_energy(activity: SaifActivity, top_path: str, groups: dict[str, list[str]], resources: dict[str, dict],
               coeffs: EnergyCoefficients, samples: int, cycles: int) -> RunEnergy:
    """Energy of one simulated run from its SAIF activity (see the module docstring)."""
    act, rate = {}, {}
    for g, instances in groups.items():
        toggles = bits = 0
        for inst in instances:
            t, b = activity.subtree(f"{top_path}/{inst}")
            toggles, bits = toggles + t, bits + b
        rate[g] = toggles / bits if bits else 0.0
        act[g] = rate[g] * coeffs.per_toggle_pj(resources.get(g, {}))
    ffs = sum(r.get("ff", 0) for r in resources.values())
    clock = cycles * ffs * coeffs.clock_pj_per_ff_cycle
    static = coeffs.static_w * cycles / coeffs.clock_hz * 1e12
    return RunEnergy(samples, cycles, act, rate, clock, static)


def fifo_estimate(width: int, depth: int) -> dict:
    """LUTRAM FIFO: RAM32M/RAM64M hold 6 (32 deep) / 3 (64 deep) bits in 4 LUTs; pointers and count in FFs."""
    per_lutram = 6 if depth <= 32 else 3
    rams = -(-width // per_lutram) * -(-depth // (32 if depth <= 32 else 64))
    aw = max(1, (depth - 1).bit_length())
    return {"lut": 4 * rams + 2 * aw + 4, "ff": 3 * aw + 1, "dsp": 0, "bram": 0}
