"""Yosys resources of MVAU design points: the measurements behind README.md's table and cost rule.

    .venv/bin/python -m hardware.mvau.sweep build/mvau_sweep        # every README point, one Yosys run each
    .venv/bin/python -m hardware.mvau.sweep build/mvau_sweep conv2:15:4:lut dense:16:2:dsp

A point is ``layer:simd:pe:multiplier`` with layer ``conv2`` (LeNet conv2 on windows: VEC = 5x5x6 = 150,
one window per beat -> 16), ``conv2t`` (the same with ternary weights) or ``dense`` (256 -> 84 on a pixel
stream, 16 beats of 16 channels). Weights are seeded random 4-bit signed codes (ternary for conv2t),
inputs 4-bit unsigned, output quantized_relu(4,2).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontend.fixedpoint import FixedFormat

IN_FMT = FixedFormat(4, 4, False)
QUANTIZER = (FixedFormat(4, 2, False), True)
LAYERS = {"conv2": (150, 16, 150, None), "conv2t": (150, 16, 150, (-1, 0, 1)), "dense": (256, 84, 16, None)}
README_POINTS = ["conv2:5:2:lut", "conv2:15:4:lut", "conv2:25:8:lut", "conv2:50:16:lut", "conv2:150:16:lut",
                 "conv2t:15:4:lut", "conv2:5:2:dsp", "conv2:15:4:dsp", "conv2:25:8:dsp", "dense:8:2:lut",
                 "dense:16:2:lut", "dense:16:4:lut", "dense:16:2:dsp"]


@dataclass(frozen=True)
class Point:
    layer: str
    simd: int
    pe: int
    multiplier: str

    @classmethod
    def parse(cls, text: str) -> "Point":
        layer, simd, pe, multiplier = text.split(":")
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r} in point {text!r}; use one of {', '.join(LAYERS)}")
        return cls(layer, int(simd), int(pe), multiplier)

    @property
    def tag(self) -> str:
        return f"{self.layer}_{self.simd}x{self.pe}_{self.multiplier}"


def layer_weights(layer: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    vec, out, _, values = LAYERS[layer]
    rng = np.random.default_rng(seed)
    codes = rng.integers(-8, 8, (vec, out)) if values is None else rng.choice(values, (vec, out))
    return codes / 8, rng.integers(-32, 32, out) / 16


def measure(point: Point, out_dir: Path) -> dict:
    """Generate the point's MVAU and synthesise it; its folding, timing and resource record."""
    from flows.yosys import synth_xilinx
    from hardware.mvau import build_mvau

    kernel, bias = layer_weights(point.layer)
    in_elems = LAYERS[point.layer][2]
    work = Path(out_dir) / point.tag
    mvau = build_mvau(f"sweep_{point.tag}", work, kernel, bias, IN_FMT, in_elems, QUANTIZER, point.simd, point.pe,
                      point.multiplier)
    record = synth_xilinx(list(mvau.files), mvau.top, work_dir=work / "synth")
    return dict(point=point.tag, simd=point.simd, pe=point.pe, multiplier=point.multiplier,
                cycles_per_vector=mvau.cycles_per_vector, latency_cycles=mvau.latency_cycles,
                rom=f"{mvau.rom_depth}x{mvau.rom_width}", weight_encoding=mvau.weight_encoding, **record.to_dict())


def table_row(r: dict) -> str:
    return (f"| {r['point']} | {r['simd']} | {r['pe']} | {r['cycles_per_vector']:,} | {r['rom']} | "
            f"{r['weight_encoding']} | {r['lut']:,} | {r['ff']:,} | {r['dsp']} | {r['bram']:g} | {r['lut_as_memory']} "
            f"| {r['lut_levels']} | {r['seconds']:.0f} |")


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m hardware.mvau.sweep OUT_DIR [layer:simd:pe:multiplier ...]")
    out_dir = Path(argv[0])
    for text in argv[1:] or README_POINTS:
        record = measure(Point.parse(text), out_dir)
        with open(out_dir / "results.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(table_row(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
