"""Folded (streaming) convolution core: frame register + window sequencer + P copies of one window kernel.

The fully parallel stage core computes every output pixel at once. Folding
builds ONE per-window kernel with da4ml (a (kh, kw, cin) patch -> cout outputs,
bias and the layer's activation quantiser included, traced with the functions
of trace.py, so rounding is QKeras's) and instantiates it P times; a sequencer
(folded_sequencer.v) walks the output pixels in raster order, P per cycle, so
one frame takes ceil(pixels / P) cycles (the initiation interval the DSE model
uses). Padding taps are fed as zeros, which is exact (they add nothing), so
the same kernel serves border windows.

Ports of the generated top ``<name>``: ``s_axis_tdata`` one whole input
tensor per beat (project packing, packing.py); ``m_axis_tdata`` P output
pixels per beat, pixel j of the beat at bits [j*cout*W +: cout*W] with its
channels in packing order; ``m_axis_tlast`` on a frame's last beat. The last
beat of a frame whose pixel count is not a multiple of P carries don't-care
pixels after the frame's end (the kernel applied to a zero window).
Scope: one convolution layer (optionally followed by its QActivation); pooling
and the exit head are not folded here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from da4ml.trace import FixedVariableArray, comb_trace

from frontend.fixedpoint import FixedFormat

from hardware.stage.emit import SHELL_LIBRARY, TIMESCALE, emit_stage, stream_module
from hardware.stage.packing import PortTensor, StreamPorts
from hardware.stage.quantize import kif
from hardware.stage.trace import HWCONF, SOLVER_OPTIONS, _affine, _apply_activation, _array, _quantizer_weights

SEQUENCER_SOURCE = Path(__file__).with_name("folded_sequencer.v")


@dataclass
class FoldedConv:
    name: str
    top: str
    verilog_files: list[Path]
    input: PortTensor           # whole input tensor per s-beat
    pixel: PortTensor           # one output pixel (cout,)
    out_shape: tuple[int, int, int]
    parallelism: int
    steps: int                  # beats per frame = initiation interval in cycles
    kernel_latency_cycles: int
    lut_estimate: float         # da4ml estimate of ONE window kernel

    @property
    def pixels(self) -> int:
        return self.out_shape[0] * self.out_shape[1]

    @property
    def out_width(self) -> int:
        return self.parallelism * self.pixel.bits

    def frame_codes(self, beats: list[int]) -> np.ndarray:
        """Output beats of one frame -> (out_h, out_w, cout) codes (trailing don't-care pixels dropped)."""
        from hardware.stage.packing import unpack

        per_pixel = []
        mask = (1 << self.pixel.bits) - 1
        for word in beats:
            per_pixel += [(word >> (j * self.pixel.bits)) & mask for j in range(self.parallelism)]
        codes = unpack([self.pixel], per_pixel[:self.pixels])[0]
        return codes.reshape(self.out_shape)


def _conv_geometry(layer, in_shape: tuple[int, int, int]) -> tuple[int, int, int, int]:
    kh, kw = layer.kernel_size
    height, width, _ = in_shape
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
        raise ValueError(f"layer {layer.name!r}: only strides=1, dilation 1 can be folded")
    if layer.padding == "same":
        return (kh - 1) // 2, (kw - 1) // 2, height, width
    if layer.padding == "valid":
        return 0, 0, height - kh + 1, width - kw + 1
    raise ValueError(f"layer {layer.name!r}: padding {layer.padding!r} is not supported; use 'same' or 'valid'")


def _trace_window(layer, input_format: FixedFormat, activation_layer):
    """da4ml trace of one (kh, kw, cin) window -> (inputs, Traced (cout,))."""
    kernel = _quantizer_weights(layer, layer.kernel, layer.kernel_quantizer_internal, "kernel")
    bias = _quantizer_weights(layer, layer.bias, layer.bias_quantizer_internal, "bias") if layer.use_bias else None
    shape = kernel.shape[:3]
    k, i, f = kif(input_format)
    window = FixedVariableArray.from_kif(np.full(shape, k), np.full(shape, i), np.full(shape, f),
                                         hwconf=HWCONF, solver_options=dict(SOLVER_OPTIONS))
    y = _array(window._vars.ravel()) @ kernel.reshape(-1, kernel.shape[3])
    out = _affine(layer, y, bias, layer.activation)
    if activation_layer is not None:
        out = _apply_activation(activation_layer, activation_layer.quantizer, out)
    return window, out


def _window_mux(name: str, in_shape, kernel_hw, geometry, parallelism: int, steps: int, width: int) -> str:
    """Generated combinational mux: step -> the P windows of that step (zeros outside the image)."""
    height, img_w, cin = in_shape
    kh, kw = kernel_hw
    top, left, out_h, out_w = geometry
    win_elems = kh * kw * cin
    step_w = max(1, math.ceil(math.log2(steps))) if steps > 1 else 1
    cases = []
    for s in range(steps):
        parts = []  # element 0 of copy 0 at bit 0
        for j in range(parallelism):
            o = s * parallelism + j
            for dh in range(kh):
                for dw in range(kw):
                    for c in range(cin):
                        ih, iw = o // out_w - top + dh, o % out_w - left + dw
                        inside = o < out_h * out_w and 0 <= ih < height and 0 <= iw < img_w
                        idx = (ih * img_w + iw) * cin + c
                        parts.append(f"frame[{idx * width} +: {width}]" if inside else f"{width}'d0")
        cases.append(f"            {step_w}'d{s}: windows = {{{', '.join(reversed(parts))}}};")
    total = parallelism * win_elems * width
    return f"""{TIMESCALE}
// Generated by hardware/folded/folded.py: the {parallelism} windows of each step, raster order.
module {name}_windows (
    // pixels no window reads (outside a valid conv's reach) are not used
    // verilator lint_off UNUSEDSIGNAL
    input [{height * img_w * cin * width - 1}:0] frame,
    // verilator lint_on UNUSEDSIGNAL
    input [{step_w - 1}:0] step,
    output reg [{total - 1}:0] windows
);
    always @* begin
        case (step)
{chr(10).join(cases)}
            default: windows = {total}'d0;
        endcase
    end
endmodule
"""


def _top(name: str, frame_w: int, win_w: int, pix_w: int, parallelism: int, steps: int, latency: int) -> str:
    step_w = max(1, math.ceil(math.log2(steps))) if steps > 1 else 1
    in_w, out_w = parallelism * win_w, parallelism * pix_w
    last_delay = ("always @(posedge clk) last_sr <= core_in[IN_W];" if latency == 1 else
                  "always @(posedge clk) last_sr <= {last_sr[LATENCY-2:0], core_in[IN_W]};")
    return f"""{TIMESCALE}
// Generated by hardware/folded/folded.py: folded conv core, {parallelism} window kernels, {steps} steps per frame.
module {name} (
    input clk,
    input rst,
    input [{frame_w - 1}:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    output [{out_w - 1}:0] m_axis_tdata,
    output m_axis_tlast,
    output m_axis_tvalid,
    input m_axis_tready
);
    localparam integer IN_W = {in_w};
    localparam integer OUT_W = {out_w};
    localparam integer LATENCY = {latency};
    wire [{frame_w - 1}:0] frame;
    wire [{step_w - 1}:0] step;
    wire last, w_valid, w_ready;
    wire [IN_W-1:0] windows;
    wire [IN_W:0] core_in;
    wire [OUT_W:0] core_out;
    reg [LATENCY-1:0] last_sr;

    folded_sequencer #(.FRAME_W({frame_w}), .STEPS({steps}), .STEP_W({step_w})) seq (
        .clk(clk), .rst(rst), .s_data(s_axis_tdata), .s_valid(s_axis_tvalid), .s_ready(s_axis_tready),
        .frame(frame), .step(step), .last(last), .w_valid(w_valid), .w_ready(w_ready));
    {name}_windows win (.frame(frame), .step(step), .windows(windows));
    stream_shell #(.IN_W(IN_W + 1), .OUT_W(OUT_W + 1), .LATENCY(LATENCY)) shell (
        .clk(clk), .rst(rst), .s_data({{last, windows}}), .s_valid(w_valid), .s_ready(w_ready),
        .m_data({{m_axis_tlast, m_axis_tdata}}), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready),
        .core_in(core_in), .core_out(core_out));
    // the frame's last flag travels beside the kernels' pipeline
    {last_delay}
    assign core_out[OUT_W] = last_sr[LATENCY-1];
    genvar j;
    generate
        for (j = 0; j < {parallelism}; j = j + 1) begin : g_kernel
            {name}_kernel_io kernel (.clk(clk), .inp(core_in[j*{win_w} +: {win_w}]), .out(core_out[j*{pix_w} +: {pix_w}]));
        end
    endgenerate
endmodule
"""


def build_folded_conv(layer, input_format: FixedFormat, out_dir: Path, name: str, parallelism: int,
                      activation_layer=None) -> FoldedConv:
    """Write a folded core of QConv2D ``layer`` (+ its following QActivation) with P = ``parallelism``."""
    if type(layer).__name__ != "QConv2D":
        raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__}; only QConv2D can be folded")
    in_shape = tuple(int(d) for d in layer.input_shape[1:])
    geometry = _conv_geometry(layer, in_shape)
    pixels = geometry[2] * geometry[3]
    if not 1 <= parallelism <= pixels:
        raise ValueError(f"parallelism {parallelism} must be in 1..{pixels} (output pixels of {layer.name!r})")
    window, out = _trace_window(layer, input_format, activation_layer)
    comb = comb_trace(window._vars.ravel(), out.vars._vars.ravel())
    win_port = PortTensor("window", tuple(window.shape), input_format)
    pixel = PortTensor("pixel", (int(layer.filters),), out.fmt)
    out_dir = Path(out_dir)
    emitted = emit_stage(comb, win_port, [pixel], out_dir, f"{name}_kernel")
    steps = math.ceil(pixels / parallelism)
    mux = out_dir / f"{name}_windows.v"
    mux.write_text(_window_mux(name, in_shape, tuple(layer.kernel_size), geometry, parallelism, steps,
                               input_format.width))
    top = out_dir / f"{name}.v"
    frame_w = int(np.prod(in_shape)) * input_format.width
    top.write_text(_top(name, frame_w, win_port.bits, pixel.bits, parallelism, steps, emitted.latency_cycles))
    kernel_files = [p for p in emitted.files if p.name != f"{name}_kernel.v" and p not in SHELL_LIBRARY]
    files = kernel_files + [*SHELL_LIBRARY, SEQUENCER_SOURCE, mux, top]
    return FoldedConv(name, name, files, PortTensor("input", in_shape, input_format), pixel,
                      (geometry[2], geometry[3], int(layer.filters)), parallelism, steps,
                      emitted.latency_cycles, float(comb.cost))


# ---------------------------------------------------------------- folded stage


GATHER_SOURCE = Path(__file__).with_name("folded_gather.v")


@dataclass
class FoldedStage(StreamPorts):
    """A whole stage with its first convolution folded: conv core -> gather -> fully parallel rest core.

    Ports are those of a fully parallel stage core (StageRtl): one input tensor per s-beat, all
    outputs (exit logits, forwarded tensor) in one m-beat, packing.py packing; a headless stage
    (``has_logits`` False) outputs the forwarded tensor only.
    """

    name: str
    top: str
    verilog_files: list[Path]
    input: PortTensor
    outputs: list[PortTensor]
    conv: FoldedConv
    rest_latency_cycles: int
    has_logits: bool = True

    @property
    def steps(self) -> int:
        return self.conv.steps

    @property
    def latency_cycles(self) -> int:
        """First input beat to the result, without stalls: all steps, kernel, gather, rest."""
        return self.conv.steps + self.conv.kernel_latency_cycles + 1 + self.rest_latency_cycles


def _first_conv(stage_model):
    from hardware.stage.trace import _nodes_in_order

    for node in _nodes_in_order(stage_model):
        layer = node.layer
        kind = type(layer).__name__
        if kind == "QConv2D":
            return layer
        if kind not in ("InputLayer", "QActivation"):
            raise ValueError(f"stage {stage_model.name!r}: {layer.name!r} ({kind}) comes before the first conv; "
                             "only an input quantiser may precede the folded convolution")
    raise ValueError(f"stage {stage_model.name!r} has no QConv2D to fold")


def _rest_model(stage_model, start_layer):
    """Keras model from ``start_layer``'s output to the stage outputs (layers shared, weights kept)."""
    from tensorflow import keras

    from hardware.stage.trace import _nodes_in_order

    inp = keras.Input(tuple(start_layer.output_shape[1:]), name=f"{start_layer.name}_out")
    tensors = {id(start_layer.output): inp}
    for node in _nodes_in_order(stage_model):
        ins = node.keras_inputs
        if len(ins) != 1 or id(ins[0]) not in tensors:
            continue
        outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
        tensors[id(outs[0])] = node.layer(tensors[id(ins[0])])
    return keras.Model(inp, [tensors[id(t)] for t in stage_model.outputs], name=f"{stage_model.name}_rest")


def _stage_top(name: str, in_w: int, beat_w: int, steps: int, frame_w: int, out_w: int) -> str:
    comment = "Generated by hardware/folded/folded.py: folded stage = folded conv -> gather -> fully parallel rest."
    return stream_module(name, in_w, out_w, comment) + f"""    wire [{beat_w - 1}:0] c_data;
    wire c_last, c_valid, c_ready;
    wire [{frame_w - 1}:0] g_data;
    wire g_valid, g_ready;
    {name}_conv conv (.clk(clk), .rst(rst), .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready), .m_axis_tdata(c_data), .m_axis_tlast(c_last), .m_axis_tvalid(c_valid),
        .m_axis_tready(c_ready));
    folded_gather #(.BEAT_W({beat_w}), .STEPS({steps}), .FRAME_W({frame_w})) gather (
        .clk(clk), .rst(rst), .s_data(c_data), .s_last(c_last), .s_valid(c_valid), .s_ready(c_ready),
        .m_data(g_data), .m_valid(g_valid), .m_ready(g_ready));
    {name}_rest rest (.clk(clk), .rst(rst), .s_axis_tdata(g_data), .s_axis_tvalid(g_valid), .s_axis_tready(g_ready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready));
endmodule
"""


def build_folded_stage(stage_model, input_format: FixedFormat | None, out_dir: Path, name: str,
                       parallelism: int, has_logits: bool = True) -> FoldedStage:
    """Stage core with its first QConv2D folded to ``parallelism`` windows per cycle; the rest fully parallel.

    input_format: None for stage 1 (its input QActivation's format), else the previous stage's forwarded format.
    has_logits: False for a headless stage (frontend.stages.headless_model), as in build_stage_rtl.
    """
    from hardware.stage.build import build_stage_rtl
    from hardware.stage.trace import input_format_of

    if input_format is None:
        input_format = input_format_of(stage_model)
    conv_layer = _first_conv(stage_model)
    nodes = [n for n in conv_layer._outbound_nodes]
    act = nodes[0].layer if len(nodes) == 1 and type(nodes[0].layer).__name__ == "QActivation" else None
    out_dir = Path(out_dir)
    conv = build_folded_conv(conv_layer, input_format, out_dir / "conv", f"{name}_conv", parallelism, act)
    rest = build_stage_rtl(_rest_model(stage_model, act or conv_layer), conv.pixel.fmt, out_dir / "rest",
                           f"{name}_rest", has_logits=has_logits)
    in_shape = tuple(int(d) for d in stage_model.inputs[0].shape[1:])
    inp = PortTensor("input", in_shape, input_format)
    top = out_dir / f"{name}.v"
    top.write_text(_stage_top(name, inp.bits, conv.out_width, conv.steps, conv.pixels * conv.pixel.bits,
                              sum(t.bits for t in rest.outputs)))
    files = [f for f in conv.verilog_files if f not in SHELL_LIBRARY] + \
        [f for f in rest.verilog_files if f not in SHELL_LIBRARY] + [*SHELL_LIBRARY, GATHER_SOURCE, top]
    return FoldedStage(name, name, files, inp, list(rest.outputs), conv, rest.latency_cycles, has_logits)
