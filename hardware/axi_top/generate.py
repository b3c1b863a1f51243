"""Generate the AXI-wrapped top of a multi-exit pipeline: what goes on the board.

``write_axi_top(pipeline, thresholds, out_dir)`` writes ``exitflow_axi_top.v`` around a
``pipeline_top`` built with ``PipelineParams(per_exit_enable=True)`` and returns an ``AxiTopRtl``
(files in compile order, the register map). Parameters in one place: ``AxiTopParams``.

Data path: s_axis words (the Zynq AXI DMA's MM2S stream) -> ``axis_gearbox`` (words -> pipeline
beats + tlast per frame; packing in regmap.PACKING) -> ``u_pipeline`` -> ``axis_result_serializer``
(multi-lane result beats -> one result per word) -> m_axis (the DMA's S2MM stream), tlast every
RESULT_BATCH results: the S2MM channel in simple mode ends a transfer on tlast, so a batch is one
DMA transfer each way (a tlast per result would cost one transfer, i.e. one host round trip, per
sample). Control: ``axil_slave`` + the registers of regmap.register_map, decoded here.

Thresholds and exit enables are written into shadow registers and applied by CTRL.apply: input is
held at the next sample boundary until no sample is in flight, then the shadow values become the
exit units' thresholds (``thr{k}_we`` is held high, so a unit's register follows the active value)
and the routers' ``exit_enable``. So every sample is decided under one consistent set, and
APPLY_ID names the first sample of the new one. The active registers reset to the calibrated codes.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from hardware.pipeline.generate import PipelineRtl

from .regmap import ADDR_W, RegisterMap, ResultField, register_map

RTL_DIR = Path(__file__).resolve().parent
LIBRARY = [RTL_DIR / f for f in ("axil_slave.v", "axis_gearbox.v", "axis_result_serializer.v")]
TOP = "exitflow_axi_top"
DATA_WIDTHS = (32, 64)
SOFT_RESET_CYCLES = 4


class AxiTopError(ValueError):
    """The pipeline cannot be wrapped as asked; the message says what to change."""


@dataclass(frozen=True)
class AxiTopParams:
    data_width: int = 64          # AXI4-Stream word, both directions (the AXI DMA's stream width)
    min_id_bits: int = 8          # a result word narrower than this for the sample id is refused

    def __post_init__(self) -> None:
        if self.data_width not in DATA_WIDTHS:
            raise AxiTopError(f"data_width={self.data_width}: the wrapped top streams {DATA_WIDTHS} bit words "
                              "(the Zynq AXI DMA widths this flow sets up); pick one of them")


@dataclass
class AxiTopRtl:
    top: str
    files: list[Path]
    regmap: RegisterMap
    pipeline: PipelineRtl
    params: AxiTopParams
    verilog: Path

    @property
    def design_id(self) -> int:
        return self.regmap.design_id

    def to_dict(self) -> dict:
        return {"top": self.top, "verilog": str(self.verilog), "files": [str(f) for f in self.files],
                "data_width": self.params.data_width, "design_id": f"0x{self.design_id:08x}",
                "words_per_sample": self.regmap.words_per_sample, "frame_beats": self.regmap.frame_beats,
                "beat_width": self.regmap.beat_width, "exits": self.regmap.exits}


def result_layout(pipeline: PipelineRtl, data_width: int, min_id_bits: int = 8) -> list[ResultField]:
    """Result word fields: {confidence, class, exit, id} from bit 0 up, the id cut to what fits the word."""
    f = pipeline.fields
    rest = f["exit"][1] + f["class"][1] + f["confidence"][1]
    id_bits = min(f["id"][1], data_width - rest)
    if id_bits < min_id_bits:
        raise AxiTopError(f"a {data_width}-bit result word leaves {id_bits} bits for the sample id after exit, class "
                          f"and confidence ({rest} bits); use data_width=64")
    out, lsb = [], 0
    for name, width in (("id", id_bits), ("exit", f["exit"][1]), ("class", f["class"][1]),
                        ("confidence", f["confidence"][1])):
        out.append(ResultField(name, lsb, width))
        lsb += width
    return out


def design_hash(pipeline: PipelineRtl, thresholds: dict[int, int], data_width: int) -> str:
    """sha256 of every RTL source of the pipeline, the reset thresholds and the stream width."""
    h = hashlib.sha256()
    for f in pipeline.files:
        h.update(Path(f).name.encode())
        h.update(Path(f).read_bytes())
    for f in LIBRARY:
        h.update(f.read_bytes())
    h.update(repr(sorted(thresholds.items())).encode())
    h.update(str(data_width).encode())
    return h.hexdigest()


def _check(pipeline: PipelineRtl, thresholds: dict[int, int]) -> None:
    if "exit_enable" not in Path(pipeline.files[-1]).read_text():
        raise AxiTopError(f"{pipeline.files[-1]} has no exit_enable port; build the pipeline with "
                          "PipelineParams(per_exit_enable=True)")
    if sorted(thresholds) != pipeline.exits:
        raise AxiTopError(f"thresholds for exits {sorted(thresholds)} but the pipeline keeps exits {pipeline.exits}; "
                          "give one calibrated code per kept exit")
    for k, code in thresholds.items():
        w = pipeline.threshold_widths[k - 1]
        if not 0 <= int(code) < 1 << w:
            raise AxiTopError(f"threshold code {code} of exit {k} does not fit its {w}-bit register")


def _merge(reg: str, width: int) -> str:
    """A write of wr_data into a width-bit register, byte by byte as wr_strb says."""
    parts = []
    for byte in reversed(range(-(-width // 8))):
        hi, lo = min(width, 8 * byte + 8) - 1, 8 * byte
        parts.append(f"(wr_strb[{byte}] ? wr_data[{hi}:{lo}] : {reg}[{hi}:{lo}])")
    return "{" + ", ".join(parts) + "}"


def _verilog(pipeline: PipelineRtl, rm: RegisterMap, thresholds: dict[int, int], p: AxiTopParams) -> str:
    dw = p.data_width
    exits, last = pipeline.exits, pipeline.exits[-1]
    lanes = pipeline.lanes
    lane_w = pipeline.lane_width
    res_w = lane_w - 1
    id_w = pipeline.fields["id"][1]
    fields = {f.name: f for f in rm.result_fields}
    id_bits = fields["id"].width
    word_bits = sum(f.width for f in rm.result_fields)
    exit_lsb, exit_w = pipeline.fields["exit"]
    beats, beat_w = rm.frame_beats, rm.beat_width
    unit = math.gcd(dw, beat_w)
    off = {r.name: r.offset >> 2 for r in rm.registers}

    thr_regs = "\n".join(f"    reg [{pipeline.threshold_widths[k - 1] - 1}:0] thr{k}_shadow, thr{k}_active;"
                         for k in exits)
    thr_reset = "\n".join(
        f"            thr{k}_shadow <= {pipeline.threshold_widths[k - 1]}'d{int(thresholds[k])};\n"
        f"            thr{k}_active <= {pipeline.threshold_widths[k - 1]}'d{int(thresholds[k])};" for k in exits)
    thr_write = "\n".join(f"            if (wr_en && wr_addr == 10'd{off[f'THRESHOLD_{k}']}) thr{k}_shadow <= "
                          f"{_merge(f'thr{k}_shadow', pipeline.threshold_widths[k - 1])};" for k in exits)
    thr_apply = "\n".join(f"                thr{k}_active <= thr{k}_shadow;" for k in exits)
    thr_ports = "".join(f"        .thr{k}_we(1'b1), .thr{k}_data(thr{k}_active),\n" for k in exits)
    enable_mask = rm["EXIT_ENABLE"].reset
    lane_enables = ", ".join(f"en_active[{k - 1}]" for k in reversed(exits))
    exit_counters = "\n".join(
        f"    reg [31:0] exit{k}_count;\n"
        f"    always @(posedge clk) if (clear) exit{k}_count <= 32'd0; "
        f"else if (out_beat && res_exit == {exit_w}'d{k}) exit{k}_count <= exit{k}_count + 1'b1;" for k in exits)
    lane_valid_sum = " + ".join(f"{{15'd0, pipe_m_data[{i * lane_w + res_w}]}}" for i in range(lanes))
    reads = {
        "MAGIC": f"32'h{rm['MAGIC'].reset:08x}", "VERSION": f"32'h{rm['VERSION'].reset:08x}",
        "DESIGN_ID": f"32'h{rm['DESIGN_ID'].reset:08x}", "GEOMETRY": f"32'h{rm['GEOMETRY'].reset:08x}",
        "CTRL": "32'd0",
        "STATUS": "{29'd0, dp_rst, apply_pending, idle}",
        "EXIT_ENABLE": f"(en_shadow & 32'h{enable_mask:08x}) | 32'h{1 << (last - 1):08x}",
        "RESULT_BATCH": "result_batch", "NEXT_ID": f"{{{32 - id_bits}'d0, next_id[{id_bits - 1}:0]}}",
        "APPLY_ID": f"{{{32 - id_bits}'d0, apply_id[{id_bits - 1}:0]}}", "IN_PHASE": "{16'd0, gb_phase}",
        "CYCLES_LO": "cycles[31:0]", "CYCLES_HI": "cycles_hi", "ACTIVE_CYCLES": "active_cycles",
        "IN_STALL_CYCLES": "in_stalls", "OUT_STALL_CYCLES": "out_stalls", "SAMPLES_IN": "samples_in",
        "SAMPLES_OUT": "samples_out",
    }
    for k in exits:
        w = pipeline.threshold_widths[k - 1]
        reads[f"THRESHOLD_{k}"] = f"{{{32 - w}'d0, thr{k}_shadow}}" if w < 32 else f"thr{k}_shadow"
        reads[f"EXIT_COUNT_{k}"] = f"exit{k}_count"
    missing = [r.name for r in rm.registers if r.name not in reads]
    if missing:
        raise AssertionError(f"registers without hardware: {missing}")  # the description and the decoder drifted
    read_cases = "\n".join(f"            10'd{r.offset >> 2}: rd_data = {reads[r.name]};" for r in rm.registers)
    tlast_port = "        .s_axis_tlast(gb_last),\n" if pipeline.has_tlast else ""
    word = (f"{{{dw - word_bits}'d0, res_word[{res_w - 1}:{id_w}], res_word[{id_bits - 1}:0]}}"
            if dw > word_bits else f"{{res_word[{res_w - 1}:{id_w}], res_word[{id_bits - 1}:0]}}")
    return f"""`timescale 1ns / 1ps
// Generated by hardware/axi_top/generate.py. Do not edit; regenerate.
// The board top: AXI4-Stream in ({dw}-bit words, {rm.words_per_sample} per sample) -> gearbox ->
// {pipeline.top} (exits {', '.join(map(str, exits))}) -> one result per {dw}-bit word out, tlast every
// RESULT_BATCH results; AXI4-Lite registers as in regmap.md (design id 0x{rm.design_id:08x}).
module {TOP} (
    input clk,
    input rst,
    input [{dw - 1}:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    // s_axis_tlast is unused: samples are delimited by the word count (the DMA's tlast ends a transfer)
    // verilator lint_off UNUSEDSIGNAL
    input s_axis_tlast,
    // verilator lint_on UNUSEDSIGNAL
    output [{dw - 1}:0] m_axis_tdata,
    output [{dw // 8 - 1}:0] m_axis_tkeep,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast,
    input [{ADDR_W - 1}:0] s_axil_awaddr,
    input s_axil_awvalid,
    output s_axil_awready,
    input [31:0] s_axil_wdata,
    input [3:0] s_axil_wstrb,
    input s_axil_wvalid,
    output s_axil_wready,
    output [1:0] s_axil_bresp,
    output s_axil_bvalid,
    input s_axil_bready,
    input [{ADDR_W - 1}:0] s_axil_araddr,
    input s_axil_arvalid,
    output s_axil_arready,
    output [31:0] s_axil_rdata,
    output [1:0] s_axil_rresp,
    output s_axil_rvalid,
    input s_axil_rready
);
    // the id bits of a result above what the word carries, and register write bits no register takes
    // verilator lint_off UNUSEDSIGNAL
    localparam integer DATA_W = {dw};
    localparam integer BEAT_W = {beat_w};

    // ---- AXI4-Lite: register port
    wire wr_en, rd_en;
    wire [{ADDR_W - 3}:0] wr_addr, rd_addr;
    wire [31:0] wr_data;
    wire [3:0] wr_strb;
    reg [31:0] rd_data;
    axil_slave #(.ADDR_W({ADDR_W})) u_axil (
        .clk(clk), .rst(rst),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
        .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready),
        .wr_en(wr_en), .wr_addr(wr_addr), .wr_data(wr_data), .wr_strb(wr_strb),
        .rd_en(rd_en), .rd_addr(rd_addr), .rd_data(rd_data));
    wire ctrl_wr = wr_en && wr_addr == 10'd{off['CTRL']} && wr_strb[0];

    // ---- data-path reset: rst, or CTRL.soft_reset held for {SOFT_RESET_CYCLES} cycles
    reg [2:0] soft_reset_left;
    wire dp_rst = rst || soft_reset_left != 3'd0;
    always @(posedge clk) begin
        if (rst) soft_reset_left <= 3'd0;
        else if (ctrl_wr && wr_data[0]) soft_reset_left <= 3'd{SOFT_RESET_CYCLES};
        else if (soft_reset_left != 3'd0) soft_reset_left <= soft_reset_left - 1'b1;
    end
    wire clear = dp_rst || (ctrl_wr && wr_data[1]);

    // ---- thresholds and exit enables: shadow (written) and active (in the pipeline), reset calibrated
{thr_regs}
    reg [31:0] en_shadow, en_active;
    reg [31:0] result_batch;
    reg apply_pending;
    reg [31:0] next_id, apply_id;
    reg [15:0] in_flight;
    wire gb_frame_start;
    wire apply_now = apply_pending && in_flight == 16'd0 && gb_frame_start && !dp_rst;
    always @(posedge clk) begin
        if (rst) begin
{thr_reset}
            en_shadow <= 32'h{enable_mask:08x};
            en_active <= 32'h{enable_mask:08x};
            result_batch <= 32'd1;
            apply_pending <= 1'b0;
            apply_id <= 32'd0;
        end else begin
{thr_write}
            if (wr_en && wr_addr == 10'd{off['EXIT_ENABLE']}) en_shadow <= {_merge('en_shadow', 32)};
            if (wr_en && wr_addr == 10'd{off['RESULT_BATCH']}) result_batch <= {_merge('result_batch', 32)};
            if (apply_now) begin
{thr_apply}
                en_active <= en_shadow;
                apply_id <= next_id;
            end
            if (ctrl_wr && wr_data[2]) apply_pending <= 1'b1;
            else if (apply_now) apply_pending <= 1'b0;
        end
    end

    // ---- input: words -> beats; held at a sample boundary while an apply waits
    wire [BEAT_W-1:0] gb_data;
    wire gb_s_ready, gb_valid, gb_last, gb_ready;
    wire [15:0] gb_phase;
    wire hold = apply_pending && gb_frame_start;
    axis_gearbox #(.DATA_W(DATA_W), .BEAT_W(BEAT_W), .UNIT_W({unit}), .FRAME_BEATS({beats}),
                   .WORDS({rm.words_per_sample})) u_gearbox (
        .clk(clk), .rst(dp_rst),
        .s_data(s_axis_tdata), .s_valid(s_axis_tvalid && !dp_rst), .s_ready(gb_s_ready),
        .m_data(gb_data), .m_valid(gb_valid), .m_last(gb_last), .m_ready(gb_ready),
        .frame_start(gb_frame_start), .word_phase(gb_phase));
    assign s_axis_tready = gb_s_ready && !dp_rst;

    // ---- the multi-exit pipeline
    wire pipe_s_valid = gb_valid && !hold && !dp_rst;
    wire pipe_s_ready, pipe_m_valid, pipe_m_ready;
    wire [{lanes * lane_w - 1}:0] pipe_m_data;
    assign gb_ready = pipe_s_ready && !hold;
    {pipeline.top} u_pipeline (
        .clk(clk), .rst(dp_rst),
        .s_axis_tdata(gb_data), .s_axis_tvalid(pipe_s_valid), .s_axis_tready(pipe_s_ready),
{tlast_port}        .m_axis_tdata(pipe_m_data), .m_axis_tvalid(pipe_m_valid), .m_axis_tready(pipe_m_ready),
{thr_ports}        .exit_enable({{{lane_enables}}}),
        .exits_enable(1'b1));

    // ---- results: one per word, tlast every RESULT_BATCH
    wire [{res_w - 1}:0] res_word;
    wire res_valid;
    wire [{lanes - 1}:0] res_pending;
    axis_result_serializer #(.LANES({lanes}), .LANE_W({lane_w})) u_results (
        .clk(clk), .rst(dp_rst),
        .s_data(pipe_m_data), .s_valid(pipe_m_valid), .s_ready(pipe_m_ready),
        .m_data(res_word), .m_valid(res_valid), .m_ready(m_axis_tready), .pending(res_pending));
    reg [31:0] batch_count;
    wire [31:0] batch_last = result_batch > 32'd1 ? result_batch - 1'b1 : 32'd0;
    wire out_beat = m_axis_tvalid && m_axis_tready;
    assign m_axis_tvalid = res_valid && !dp_rst;
    assign m_axis_tdata = {word};
    assign m_axis_tkeep = {{{dw // 8}{{1'b1}}}};
    assign m_axis_tlast = batch_count >= batch_last;
    always @(posedge clk) begin
        if (dp_rst || (wr_en && wr_addr == 10'd{off['RESULT_BATCH']})) batch_count <= 32'd0;
        else if (out_beat) batch_count <= m_axis_tlast ? 32'd0 : batch_count + 1'b1;
    end
    wire [{exit_w - 1}:0] res_exit = res_word[{exit_lsb + exit_w - 1}:{exit_lsb}];

    // ---- samples in flight (taken by the pipeline, result not yet out of it), ids
    wire sample_in = pipe_s_valid && pipe_s_ready && gb_last;
    wire [15:0] results_out = (pipe_m_valid && pipe_m_ready) ? {lane_valid_sum} : 16'd0;
    always @(posedge clk) begin
        if (dp_rst) begin
            in_flight <= 16'd0;
            next_id <= 32'd0;
        end else begin
            in_flight <= in_flight + (sample_in ? 16'd1 : 16'd0) - results_out;
            if (sample_in) next_id <= next_id + 1'b1;
        end
    end
    wire idle = in_flight == 16'd0 && !res_valid && !gb_valid && gb_phase == 16'd0 && gb_frame_start;

    // ---- counters
    reg [63:0] cycles;
    reg [31:0] cycles_hi, active_cycles, in_stalls, out_stalls, samples_in, samples_out;
    always @(posedge clk) begin
        if (clear) begin
            cycles <= 64'd0;
            active_cycles <= 32'd0;
            in_stalls <= 32'd0;
            out_stalls <= 32'd0;
            samples_in <= 32'd0;
            samples_out <= 32'd0;
        end else begin
            cycles <= cycles + 1'b1;
            if (!idle) active_cycles <= active_cycles + 1'b1;
            if (s_axis_tvalid && !s_axis_tready) in_stalls <= in_stalls + 1'b1;
            if (m_axis_tvalid && !m_axis_tready) out_stalls <= out_stalls + 1'b1;
            if (sample_in) samples_in <= samples_in + 1'b1;
            if (out_beat) samples_out <= samples_out + 1'b1;
        end
        if (rst) cycles_hi <= 32'd0;
        else if (rd_en && rd_addr == 10'd{off['CYCLES_LO']}) cycles_hi <= cycles[63:32];
    end
{exit_counters}

    // ---- register reads
    always @* begin
        case (rd_addr)
{read_cases}
            default: rd_data = 32'd0;
        endcase
    end
endmodule
"""


def write_axi_top(pipeline: PipelineRtl, thresholds: dict[int, int] | list[int | None], out_dir: Path,
                  params: AxiTopParams = AxiTopParams(), input_desc: dict | None = None) -> AxiTopRtl:
    """Write ``exitflow_axi_top.v`` into out_dir around ``pipeline`` (built with per_exit_enable=True).

    thresholds: the calibrated code of every kept exit, {exit index: code} or one entry per stage
    (None where the exit is dropped); the threshold registers reset to them. input_desc: the packed
    input tensor ({shape, width, frac, signed}) for the register map's documentation and the driver.
    """
    if isinstance(thresholds, (list, tuple)):
        thresholds = {k: int(t) for k, t in enumerate(thresholds, start=1) if t is not None}
    thresholds = {int(k): int(v) for k, v in thresholds.items()}
    _check(pipeline, thresholds)
    dw = params.data_width
    beats = getattr(pipeline, "frame_beats", 1)
    words = -(-beats * pipeline.in_width // dw)
    if words >= 1 << 15:
        raise AxiTopError(f"{words} words per sample exceed the gearbox's 15-bit word counter; "
                          "stream the input in more beats of a streaming stage 1")
    fields = result_layout(pipeline, dw, params.min_id_bits)
    digest = design_hash(pipeline, thresholds, dw)
    rm = register_map(pipeline.exits, {k: pipeline.threshold_widths[k - 1] for k in pipeline.exits}, thresholds,
                      dw, words, beats, pipeline.in_width, fields, int(digest[:8], 16), input_desc)
    rm.notes.append(f"design hash sha256 {digest}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{TOP}.v"
    path.write_text(_verilog(pipeline, rm, thresholds, params))
    files = [Path(f) for f in pipeline.files] + LIBRARY + [path]
    return AxiTopRtl(TOP, files, rm, pipeline, params, path)
