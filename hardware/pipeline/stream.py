"""Generate the multi-exit pipeline top from streaming stage cores (hardware/stream_stage) and exit units.

A sample is a frame of beats (hls4ml io_stream: P pixels per beat, stage 1's P on s_axis, each later
stage reading the P its predecessor forwards; tlast on the frame's last). Stages may run at different
IIs: a slow stage back-pressures through its conditional buffer into the stage before. Per
stage k the top instantiates (instance names are what the energy model reads in SAIF):

* ``u_stage{k}``: the streaming core; its input takes the first beat of a frame only when the
  frame's id can be queued (``u_ids{k}``, pushed with that beat);
* ``u_eu{k}``: the exit unit on the core's logits (one beat per frame), its threshold register
  reset to the calibrated code (THRESHOLD_INIT); ``u_side{k}``: the ids queued beside it;
* ``u_route{k}`` (pl_frame_route.v): the sample leaves as a result, or goes on;
* ``u_cbuf{k}`` (cond_buffer.v, ATHEENA's conditional buffer, ``PipelineParams.frames_after(k)`` frames
  deep: ``buffer_frames``, one value or one per boundary): holds the forwarded frame in
  BRAM/LUTRAM until the router's decision, then passes it to stage k+1 or drops it; the ids of kept
  samples wait in ``u_fwdid{k+1}`` until stage k+1 takes their frame;
* a stage whose exit the design drops (unit None, core headless) has no unit, router or buffer:
  its forwarded stream feeds stage k+1 directly, its ids queue (``u_ids{k}``) go on with it;
* ``u_out``: one lane per kept exit in each output beat (or ``u_reorder``), as the parallel pipeline.

Ports: those of the parallel pipeline (hardware/pipeline/generate.py) plus ``s_axis_tlast``; ids
count frames (samples) 0, 1, 2, ... mod 2**id_width.
"""
from __future__ import annotations

from pathlib import Path

from hardware.cond_buffer import CondBuffer
from hardware.exit_unit.generate import GeneratedUnit
from hardware.stream_stage import StreamStage

from .generate import (FIFO_SOURCE, RTL_DIR, TOP, PipelineParams, PipelineRtl, _check_thresholds, output_block,
                       result_fields, top_ports)

ROUTER_SOURCE = RTL_DIR / "pl_frame_route.v"
IDS_DEPTH = 16           # frames in flight inside one streaming core, with room to spare


def _pow2_at_least(n: int) -> int:
    return 1 << max(1, (n - 1).bit_length())


def _check_chain(stages: list[StreamStage], units: list[GeneratedUnit | None]) -> None:
    if not stages or len(stages) != len(units):
        raise ValueError(f"got {len(stages)} stage cores and {len(units)} exit units; give one exit unit per stage "
                         "(None where the exit is dropped)")
    if units[-1] is None:
        raise ValueError(f"exit unit {len(units)} is None: the final exit is always kept")
    for k, (st, eu) in enumerate(zip(stages, units), start=1):
        if (eu is None) == st.has_logits:
            raise ValueError(f"stage {k}: core {st.top} {'has' if st.has_logits else 'has no'} logits but exit unit "
                             f"{k} is {'None' if eu is None else 'given'}; a dropped exit has a headless core")
        if eu is not None:
            if st.logits.size != eu.cfg.classes or st.logits.fmt != eu.cfg.logit:
                raise ValueError(f"stage {k} logits {st.logits.shape} {st.logits.fmt} do not match exit unit {k} "
                                 f"({eu.cfg.classes} x {eu.cfg.logit}); build the unit from the stage's logit format")
            if eu.ii != 1:
                raise ValueError(f"exit unit {k} has II {eu.ii}; the pipeline needs the parallel variant (II = 1)")
        last = k == len(stages)
        if last != (st.forwarded is None):
            raise ValueError(f"stage {k} {'forwards' if last else 'does not forward'} a tensor; only the last stage "
                             "ends without one")
        if not last and (st.forwarded.bits != stages[k].in_width or st.forwarded.fmt != stages[k].input_format):
            raise ValueError(f"stage {k} forwards {st.forwarded.bits}-bit beats of {st.forwarded.fmt} but stage "
                             f"{k + 1} reads {stages[k].in_width}-bit beats of {stages[k].input_format}")


def _core(k: int, st: StreamStage, id_src: str) -> str:
    """Stage core k and its ids: in{k}_* (a frame stream) in, ids of its frames queued in u_ids{k}.
    ``id_src``: the stream the frame ids come from (``{id_src}_data/_valid/_ready``)."""
    fwd = ""
    if st.forwarded is not None:
        fwd = (f",\n        .m_fwd_tdata(fwd{k}_data), .m_fwd_tvalid(fwd{k}_valid), .m_fwd_tready(fwd{k}_ready), "
               f".m_fwd_tlast(fwd{k}_last)")
        fwd_decl = (f"    wire [{st.forwarded.bits - 1}:0] fwd{k}_data;\n    wire fwd{k}_valid, fwd{k}_ready, "
                    f"fwd{k}_last;\n")
    else:
        fwd_decl = ""
    logits = ""
    lg_decl = ""
    if st.logits is not None:
        logits = (f",\n        .m_logits_tdata(lg{k}_data), .m_logits_tvalid(lg{k}_valid), "
                  f".m_logits_tready(lg{k}_ready)")
        lg_decl = f"    wire [{st.logits.bits - 1}:0] lg{k}_data;\n    wire lg{k}_valid, lg{k}_ready;\n"
    return f"""
    // ---- stage {k}: streaming core {st.top} ({st.input_beats} beats per frame, II {st.ii_cycles} cycles)
{lg_decl}{fwd_decl}    wire st{k}_s_ready, ids{k}_s_ready, ids{k}_m_valid, ids{k}_m_ready;
    wire [ID_W-1:0] ids{k}_m_data;
    reg first{k};                       // the next beat into stage {k} opens a frame
    // a frame's first beat goes in only with its id, and only when the id queue has room
    wire open{k} = !first{k} || ({id_src}_valid && ids{k}_s_ready);
    assign in{k}_ready = st{k}_s_ready && open{k};
    wire take{k} = in{k}_valid && in{k}_ready;
    assign {id_src}_ready = take{k} && first{k};
    always @(posedge clk) begin
        if (rst) first{k} <= 1'b1;
        else if (take{k}) first{k} <= in{k}_last;
    end
    {st.top} u_stage{k} (
        .clk(clk), .rst(rst),
        .s_axis_tdata(in{k}_data), .s_axis_tvalid(in{k}_valid && open{k}), .s_axis_tready(st{k}_s_ready),
        .s_axis_tlast(in{k}_last){logits}{fwd});
    pl_fifo #(.W(ID_W), .DEPTH({IDS_DEPTH})) u_ids{k} (
        .clk(clk), .rst(rst),
        .s_data({id_src}_data), .s_valid(take{k} && first{k}), .s_ready(ids{k}_s_ready),
        .m_data(ids{k}_m_data), .m_valid(ids{k}_m_valid), .m_ready(ids{k}_m_ready));
"""


def _exit(k: int, st: StreamStage, eu: GeneratedUnit, last: bool, lane: int, conf_max: int,
          threshold: int | None, buffer_depth: int, per_exit_enable: bool = False) -> str:
    """Exit unit k on the core's logits, its router, and (when stage k forwards) the conditional buffer."""
    conf_w, cls_w = eu.cfg.confidence_format.width, eu.cfg.class_bits
    side_depth = _pow2_at_least(eu.latency_cycles + 1)
    pad = conf_max - conf_w
    res = f"{{{{{pad}{{1'b0}}}}, res{k}_raw}}" if pad else f"res{k}_raw"
    init = "" if threshold is None else f" #(.THRESHOLD_INIT({conf_w}'d{threshold}))"
    text = f"""    wire [{conf_w + cls_w}:0] eu{k}_data;
    wire eu{k}_s_ready, eu{k}_m_valid, eu{k}_m_ready, side{k}_s_ready, side{k}_m_valid, side{k}_m_ready;
    wire [ID_W-1:0] side{k}_data;
    assign lg{k}_ready = eu{k}_s_ready && side{k}_s_ready && ids{k}_m_valid;
    assign ids{k}_m_ready = lg{k}_valid && lg{k}_ready;
    {eu.top}{init} u_eu{k} (
        .clk(clk), .rst(rst),
        .s_axis_tdata(lg{k}_data), .s_axis_tvalid(lg{k}_valid && side{k}_s_ready && ids{k}_m_valid),
        .s_axis_tready(eu{k}_s_ready),
        .m_axis_tdata(eu{k}_data), .m_axis_tvalid(eu{k}_m_valid), .m_axis_tready(eu{k}_m_ready),
        .thr_we(thr{k}_we), .thr_data(thr{k}_data));
    pl_fifo #(.W(ID_W), .DEPTH({side_depth})) u_side{k} (
        .clk(clk), .rst(rst),
        .s_data(ids{k}_m_data), .s_valid(lg{k}_valid && eu{k}_s_ready && ids{k}_m_valid), .s_ready(side{k}_s_ready),
        .m_data(side{k}_data), .m_valid(side{k}_m_valid), .m_ready(side{k}_m_ready));
    wire [{conf_w + cls_w}+EXIT_W+ID_W-1:0] res{k}_raw;
    wire keep{k}_data, keep{k}_valid, keep{k}_ready;
    wire [ID_W-1:0] nid{k + 1}_data;
    wire nid{k + 1}_valid, nid{k + 1}_ready;
    pl_frame_route #(.ID_W(ID_W), .CONF_W({conf_w}), .CLS_W(CLS_W), .EXIT_W(EXIT_W), .K({k}), .LAST({int(last)})) u_route{k} (
        .exits_enable({f"exits_enable && exit_enable[{lane}]" if per_exit_enable else "exits_enable"}),
        .dec_data(eu{k}_data), .dec_valid(eu{k}_m_valid), .dec_ready(eu{k}_m_ready),
        .id_data(side{k}_data), .id_valid(side{k}_m_valid), .id_ready(side{k}_m_ready),
        .res_data(res{k}_raw), .res_valid(res_valid[{lane}]), .res_ready(res_ready[{lane}]),
        .keep_data(keep{k}_data), .keep_valid(keep{k}_valid), .keep_ready(keep{k}_ready),
        .next_id(nid{k + 1}_data), .next_valid(nid{k + 1}_valid), .next_ready(nid{k + 1}_ready));
    assign res_data[{lane}*RES_W +: RES_W] = {res};
"""
    if last:
        return text + f"    assign keep{k}_ready = 1'b1;\n    assign nid{k + 1}_ready = 1'b1;\n"
    buffer = CondBuffer(st.forwarded.bits, st.forwarded_beats, buffer_depth)
    frames = buffer_depth // st.forwarded_beats
    return text + f"""    // stage {k}'s forwarded frames wait here for their sample's decision
    // verilator lint_off PINCONNECTEMPTY
    cond_buffer #(.W({buffer.width}), .FRAME_BEATS({buffer.frame_beats}), .DEPTH({buffer.depth})) u_cbuf{k} (
        .clk(clk), .rst(rst),
        .s_axis_tdata(fwd{k}_data), .s_axis_tlast(fwd{k}_last), .s_axis_tvalid(fwd{k}_valid), .s_axis_tready(fwd{k}_ready),
        .dec_tdata(keep{k}_data), .dec_tvalid(keep{k}_valid), .dec_tready(keep{k}_ready),
        .m_axis_tdata(in{k + 1}_data), .m_axis_tlast(in{k + 1}_last), .m_axis_tvalid(in{k + 1}_valid),
        .m_axis_tready(in{k + 1}_ready), .frames_held(), .frame_error());
    // verilator lint_on PINCONNECTEMPTY
    pl_fifo #(.W(ID_W), .DEPTH({_pow2_at_least(frames + 2)})) u_fwdid{k + 1} (
        .clk(clk), .rst(rst),
        .s_data(nid{k + 1}_data), .s_valid(nid{k + 1}_valid), .s_ready(nid{k + 1}_ready),
        .m_data(fid{k + 1}_data), .m_valid(fid{k + 1}_valid), .m_ready(fid{k + 1}_ready));
"""


def conditional_buffer(st: StreamStage, params: PipelineParams, k: int = 1) -> CondBuffer:
    """The conditional buffer after stage k (core ``st``): ``params.frames_after(k)`` of its forwarded
    frames, plus the two beats the decision takes to arrive, rounded up to a power of two."""
    return CondBuffer(st.forwarded.bits, st.forwarded_beats,
                      _pow2_at_least(params.frames_after(k) * st.forwarded_beats + 2))


def _wires(k: int, st: StreamStage) -> str:
    """The frame stream into stage k and the ids that come with its frames."""
    return (f"    wire [{st.in_width - 1}:0] in{k}_data;\n    wire in{k}_valid, in{k}_ready, in{k}_last;\n"
            f"    wire [ID_W-1:0] fid{k}_data;\n    wire fid{k}_valid, fid{k}_ready;\n")


def _top(stages: list[StreamStage], units: list[GeneratedUnit | None], p: PipelineParams,
         thresholds: list[int | None]) -> tuple[str, dict, int]:
    n = len(stages)
    kept = [u for u in units if u is not None]
    m = len(kept)
    fields, res_w, conf_max, cls_w, exit_w = result_fields(units, n, p)
    lanes = 1 if p.reorder else m
    body, lane = [], 0
    for k, (st, eu) in enumerate(zip(stages, units), start=1):
        body.append(_wires(k, st))
    for k, (st, eu) in enumerate(zip(stages, units), start=1):
        body.append(_core(k, st, f"fid{k}"))
        if eu is None:   # headless: the forwarded frames and the ids of stage k go straight on
            body.append(f"""    assign in{k + 1}_data = fwd{k}_data;
    assign in{k + 1}_valid = fwd{k}_valid;
    assign in{k + 1}_last = fwd{k}_last;
    assign fwd{k}_ready = in{k + 1}_ready;
    assign fid{k + 1}_data = ids{k}_m_data;
    assign fid{k + 1}_valid = ids{k}_m_valid;
    assign ids{k}_m_ready = fid{k + 1}_ready;
""")
            continue
        depth = conditional_buffer(st, p, k).depth if st.forwarded is not None else 0
        body.append(_exit(k, st, eu, k == n, lane, conf_max, thresholds[k - 1], depth, p.per_exit_enable))
        lane += 1
    exit_list = ", ".join(str(k) for k, u in enumerate(units, start=1) if u is not None)
    text = f"""`timescale 1ns / 1ps
// Generated by hardware/pipeline/stream.py: {n}-stage streaming pipeline, exits {exit_list}. Do not edit; regenerate.
// s_axis: frames of {stages[0].input_beats} beats (tlast on the last). m_axis_tdata: {lanes} lane(s) of
//   {{valid, confidence[{conf_max}], class[{cls_w}], exit index[{exit_w}], id[{p.id_width}]}}.
// exits_enable = 0 sends every sample to the last exit (baseline on the same hardware).
module {TOP} (
    input clk,
    input rst,
{top_ports(stages[0].in_width, True, lanes * (res_w + 1), units, p)}
);
    // some FIFO status outputs mirror others and the last router's forward outputs go nowhere
    // verilator lint_off UNUSEDSIGNAL
    localparam ID_W = {p.id_width};
    localparam CLS_W = {cls_w};
    localparam EXIT_W = {exit_w};
    localparam RES_W = {res_w};

    wire [{m}*RES_W-1:0] res_data;
    wire [{m - 1}:0] res_valid, res_ready;
    wire can_admit;

{"".join(body[:n])}
    // ---- input: frame ids count accepted frames; a frame's first beat waits for the reorder slot
    reg [ID_W-1:0] next_id;
    reg in_first;
    assign in1_data = s_axis_tdata;
    assign in1_last = s_axis_tlast;
    assign in1_valid = s_axis_tvalid && (!in_first || can_admit);
    assign s_axis_tready = in1_ready && (!in_first || can_admit);
    assign fid1_data = next_id;
    assign fid1_valid = 1'b1;
    wire admit = s_axis_tvalid && s_axis_tready && in_first;
    always @(posedge clk) begin
        if (rst) begin
            next_id <= 0;
            in_first <= 1'b1;
        end else if (s_axis_tvalid && s_axis_tready) begin
            in_first <= s_axis_tlast;
            if (s_axis_tlast) next_id <= next_id + 1'b1;
        end
    end
{"".join(body[n:])}{output_block(m, p, "admit")}endmodule
"""
    return text, fields, lanes


def write_stream_pipeline(stages: list[StreamStage], units: list[GeneratedUnit | None], out_dir: Path,
                          params: PipelineParams = PipelineParams(),
                          thresholds: list[int | None] | None = None) -> PipelineRtl:
    """Write ``pipeline_top.v`` of streaming stages into out_dir; return it with every source in compile order.

    units[k-1]: stage k's exit unit, None where the design drops exit k (stage k's core is then headless);
    thresholds[k-1]: the code exit k's threshold register resets to (None: the unit's own default)."""
    _check_chain(stages, units)
    thresholds = _check_thresholds(units, thresholds)
    if not isinstance(params.buffer_frames, int) and len(params.buffer_frames) != len(stages) - 1:
        raise ValueError(f"buffer_frames={list(params.buffer_frames)}: give one value per stage boundary "
                         f"({len(stages) - 1} for {len(stages)} stages), or one for all")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text, fields, lanes = _top(stages, units, params, thresholds)
    path = out_dir / f"{TOP}.v"
    path.write_text(text)
    files: list[Path] = []
    unit_files = (f for u in units if u is not None for f in u.files)
    library = [FIFO_SOURCE, ROUTER_SOURCE, RTL_DIR / "pl_reorder.v",
               *CondBuffer(8, 1, 2).files]
    for f in [*(f for st in stages for f in st.verilog_files), *unit_files, *library, path]:
        if Path(f).resolve() not in {Path(x).resolve() for x in files}:
            files.append(Path(f))
    n = len(stages)
    groups = {f"stage_{k}": [f"u_stage{k}", f"u_ids{k}"] + ([f"u_fwdid{k}"] if k > 1 and units[k - 2] else [])
              for k in range(1, n + 1)}
    groups.update({f"exit_unit_{k}": [f"u_eu{k}", f"u_side{k}", f"u_route{k}"] + ([f"u_cbuf{k}"] if k < n else [])
                   for k, u in enumerate(units, start=1) if u is not None})
    groups["output"] = ["u_reorder" if params.reorder else "u_out"]
    return PipelineRtl(top=TOP, files=files, params=params, stages=n, in_width=stages[0].in_width, lanes=lanes,
                       fields=fields, threshold_widths=[u.cfg.confidence_format.width if u else None for u in units],
                       reset_thresholds=[r if r is not None else (u.cfg.never_exit_code if u else None)
                                         for r, u in zip(thresholds, units)],
                       module_groups=groups, frame_beats=stages[0].input_beats)
