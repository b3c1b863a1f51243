"""The cost model of each primitive: which structural quantities (features.py) its resources are linear in.

Per kind and metric, ``MODELS[kind][metric]`` names the features; fit.py finds non-negative
coefficients by least squares over the kind's probes. Memory that Yosys maps by rule
(memory.py: LUTRAM cells, RAMB18/RAMB36, DSP48 per product) is not fitted: ``RULES`` says which
feature gives it, and every fit record compares the rule with Yosys on each probe.

Why these features (the hardware each coefficient stands for):

- swg: LUTs = the line buffer's data path (its width: the row shift between buffer rows and the
  window column it feeds), a constant for LUTRAM control, the counters, LUTRAM cells (4 LUTs each);
  FFs = the window registers, the RAM's read register when it is LUTRAM (a block RAM holds
  its own), counters.
- kernel: LUTs = da4ml's adder cost of the P copies (carry-chain adders: about one LUT per adder
  bit) plus the stream_shell's result FIFO (LUTRAM) and control; FFs = the input register, the da4ml
  pipeline registers (which grow with the cost) and the output FIFO's register.
- mvau (LUT multipliers): LUTs = the lanes' adder trees (bits summed over the generated tree's
  adders, which depend on SIMD and the weight and input widths), the accumulators with their
  quantisers (per lane), the weight ROM in LUTs (one LUT6 per bit per 64 words, memory.py), the held
  input beat and its SIMD slice select (``in_w``); FFs = tree pipeline registers, the SIMD slice,
  the held beat, the output gather of the PE folds. DSP-multiplier MVAUs have no fit (no probes).
- fifo, cond_buffer: LUTs = LUTRAM cells, bank multiplexer, pointer logic; FFs = read and output
  registers, pointers.
- fork: registers and their load enables. gather: per output bit, a select of the held piece, the
  input or zero by the piece counter (``bits`` and ``bits x counter bits``: the select's inputs grow
  with the counter).
- split: the held beat (FFs) and the piece select (LUTs per bit of the pieces after the first).
- pool: the K comparisons per pooled element (a comparator and a select per bit), the row of the
  group's running maxima in LUTRAM (its read is asynchronous, no read register), the output register.
- join: the output register; an adder per output bit for Add (Concatenate only aligns wires).
- global_sum: the P adders into each channel's accumulator, the accumulators and the held sums.
- exit_unit: per policy, a constant (its exp/ln/reciprocal tables, threshold register, control) and
  the logit bits (classes x width) its top-2 scan, subtractors and adder trees take.
"""
from __future__ import annotations

LUT_PER_LUTRAM_CELL = 4

MODELS: dict[str, dict[str, tuple[str, ...]]] = {
    "swg": {"lut": ("lb_width", "lb_lutram", "counter_bits", "lutram_luts"),
            "ff": ("one", "window_bits", "lb_read_reg", "counter_bits"),
            "lut_as_memory": ("lutram_luts",)},
    "kernel": {"lut": ("one", "cost", "lutram_luts"),
               "ff": ("one", "cost", "in_bits", "out_bits"),
               "lut_as_memory": ("lutram_luts",)},
    "mvau": {"lut": ("tree", "acc", "rom_luts", "in_w"),
             "ff": ("tree_regs", "slice", "in_w", "gather"),
             "lut_as_memory": ("one", "saved")},
    "fifo": {"lut": ("one", "lutram_luts", "lutram_read_mux"),
             "ff": ("one", "read_regs", "ptr"),
             "lut_as_memory": ("lutram_luts",)},
    "cond_buffer": {"lut": ("one", "lutram_luts", "lutram_read_mux", "ptr"),
                    "ff": ("one", "read_regs", "ptr"),
                    "lut_as_memory": ("lutram_luts",)},
    "fork": {"lut": ("one", "outputs"), "ff": ("one", "width", "outputs"), "lut_as_memory": ()},
    "gather": {"lut": ("bits", "bits_count"), "ff": ("one", "bits", "acc_bits"), "lut_as_memory": ()},
    "split": {"lut": ("one", "select_luts"), "ff": ("one", "bits"), "lut_as_memory": ()},
    "pool": {"lut": ("one", "compare_bits", "lutram_luts"), "ff": ("one", "out_bits", "row_bits", "counter_bits"),
             "lut_as_memory": ("lutram_luts",)},
    "join": {"lut": ("one", "adder_bits"), "ff": ("one", "out_bits"), "lut_as_memory": ()},
    "global_sum": {"lut": ("one", "adder_bits", "acc_bits"), "ff": ("one", "acc_bits"), "lut_as_memory": ()},
    "exit_unit": {m: ("max_prob", "max_prob_bits", "entropy", "entropy_bits", "margin", "margin_bits")
                  for m in ("lut", "ff")} | {"lut_as_memory": ()},
}
RULES = {"ramb18": "ramb18", "ramb36": "ramb36", "dsp": "dsp"}
METRICS = ("lut", "ff", "lut_as_memory")
