"""The cost model of each primitive: which structural quantities (features.py) its resources are linear in.

Per kind and metric, ``MODELS[kind][metric]`` names the features; fit.py finds non-negative
coefficients by least squares over the kind's probes. Memory that Yosys maps by rule
(memory.py: LUTRAM cells, RAMB18/RAMB36, DSP48 per product) is not fitted: ``RULES`` says which
feature gives it, and every fit record compares the rule with Yosys on each probe.

Why these features (the hardware each coefficient stands for):

- swg: LUTs = the column multiplexer that loads a window column from the line buffer, the input or
  zeros (``column_bits``), LUTRAM cells (4 LUTs each) and the bank multiplexer of a buffer deeper than
  64 words; FFs = the window registers, the RAM's read register when it is LUTRAM (a block RAM holds
  its own), counters.
- kernel: LUTs = da4ml's adder cost of the P copies (carry-chain adders: about one LUT per adder
  bit) plus the stream_shell's result FIFO (LUTRAM) and control; FFs = the input register, the da4ml
  pipeline registers (which grow with the cost) and the output FIFO's register.
- mvau: LUTs = the lanes' adder trees (bits summed over the generated tree's adders, which depend on
  SIMD and the weight and input widths), the accumulators and quantisers, the weight ROM in LUTs
  (one LUT6 per bit per 64 words, memory.py), the SIMD slice multiplexer of a beat; FFs = the held
  beat, tree pipeline registers, accumulators and saved partial sums, the output gather.
- fifo, cond_buffer: LUTs = LUTRAM cells, bank multiplexer, pointer logic; FFs = read and output
  registers, pointers.
- fork, gather: registers and their load enables.
- exit_unit: per policy, a constant (its exp/ln/reciprocal tables, threshold register, control) and
  the logit bits (classes x width) its top-2 scan, subtractors and adder trees take.
"""
from __future__ import annotations

LUT_PER_LUTRAM_CELL = 4

MODELS: dict[str, dict[str, tuple[str, ...]]] = {
    "swg": {"lut": ("one", "column_bits", "counter_bits", "lutram_luts", "lutram_read_mux"),
            "ff": ("one", "window_bits", "lb_read_reg", "counter_bits"),
            "lut_as_memory": ("lutram_luts",)},
    "kernel": {"lut": ("one", "cost", "lutram_luts"),
               "ff": ("one", "cost", "in_bits", "out_bits"),
               "lut_as_memory": ("lutram_luts",)},
    "mvau": {"lut": ("one", "tree", "acc", "rom_luts", "slice_mux"),
             "ff": ("one", "in_w", "tree_regs", "acc", "saved", "out_w"),
             "lut_as_memory": ("one", "saved")},
    "fifo": {"lut": ("one", "lutram_luts", "lutram_read_mux"),
             "ff": ("one", "read_regs", "ptr"),
             "lut_as_memory": ("lutram_luts",)},
    "cond_buffer": {"lut": ("one", "lutram_luts", "lutram_read_mux", "ptr"),
                    "ff": ("one", "read_regs", "ptr"),
                    "lut_as_memory": ("lutram_luts",)},
    "fork": {"lut": ("one", "outputs"), "ff": ("one", "width", "outputs"), "lut_as_memory": ()},
    "gather": {"lut": ("one", "bits"), "ff": ("one", "bits", "acc_bits"), "lut_as_memory": ()},
    "exit_unit": {m: ("max_prob", "max_prob_bits", "entropy", "entropy_bits", "margin", "margin_bits")
                  for m in ("lut", "ff")} | {"lut_as_memory": ()},
}
RULES = {"ramb18": "ramb18", "ramb36": "ramb36", "dsp": "dsp"}
METRICS = ("lut", "ff", "lut_as_memory")
