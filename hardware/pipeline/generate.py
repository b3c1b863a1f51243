"""Generate the multi-exit pipeline top from stage cores and exit units.

One generator, parameters in one place (``PipelineParams``). Per stage k the
top instantiates (instance names are what the energy model reads in SAIF):

* ``u_stage{k}``: the stage core (hardware/stage stream top, in order, fixed latency);
* ``u_ids{k}``: a FIFO of sample ids beside it, as deep as the core's shell can
  hold, pushed when the core takes a sample and popped when it delivers one;
* ``u_eu{k}``: the exit unit on the core's logits (threshold register ``thr{k}_*``, reset to
  exit k's calibrated code when ``write_pipeline`` is given the thresholds: THRESHOLD_INIT, so the
  pipeline decides as calibrated before a host writes anything);
* ``u_side{k}``: id + forwarded tensor, queued beside the exit unit;
* ``u_route{k}``: leaves as a result, or goes on through ``u_fifo{k+1}`` to
  stage k+1 (conditional forwarding: later stages only see hard samples);
* a stage whose exit the design drops (its unit is None, its core headless:
  ``has_logits`` False) has only ``u_stage{k}`` and ``u_ids{k}``: every sample
  goes on with its id into ``u_fifo{k+1}``; exit indices stay the stages'
  positions, so results never carry a dropped exit's index;
* then ``u_out``, an output FIFO whose beat has one lane per kept exit, so results
  of different exits leave in the same cycle (a one-result output port would
  be a second bottleneck at full input rate: results of easy and hard samples
  collide there and queue), or ``u_reorder`` (``reorder=True``): one result
  per beat, in input order.

Ports: ``s_axis_*`` the stage-1 input (packing of hardware/stage/packing.py);
``m_axis_tdata``: ``PipelineRtl.lanes`` lanes, lane i at [i*L +: L], each
{valid, confidence, class, exit index, id} with the id in the low bits (field
offsets: ``PipelineRtl.fields``; ``decode`` splits a beat); ``exits_enable`` (0: every
sample runs to the last exit, the baseline on the same RTL); ``thr{k}_we``,
``thr{k}_data`` for each kept exit k. Ids count accepted samples 0, 1, 2, ... mod 2**id_width.
With ``PipelineParams(per_exit_enable=True)`` also ``exit_enable``: bit i for the i-th kept exit
(lane order); 0 forces the samples of that exit onward (the last exit ignores it), ANDed with
``exits_enable``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from hardware.exit_unit.generate import GeneratedUnit
from hardware.stage import StageRtl
from hardware.stage.emit import FIFO_SOURCE

RTL_DIR = Path(__file__).resolve().parent
LIBRARY = [FIFO_SOURCE] + [RTL_DIR / f for f in ("pl_reorder.v", "pl_exit_route.v")]
TOP = "pipeline_top"


@dataclass(frozen=True)
class PipelineParams:
    id_width: int = 16          # sample ids wrap mod 2**id_width (far above what is ever in flight)
    fifo_depth: int = 4         # FIFO in front of every stage k > 1
    output_fifo_depth: int = 2  # cuts the ready path from m_axis_tready into the exit units
    reorder: bool = False       # deliver results in input order
    reorder_slots_log2: int = 7  # reorder buffer: at most 2**this samples in flight
    per_exit_enable: bool = False  # an ``exit_enable`` port, one bit per kept exit (lane order), beside exits_enable
    # streaming pipelines: frames the conditional buffer after stage k holds (the queue): one value for every
    # boundary, or one per boundary k = 1 .. stages-1 (a dropped exit's boundary has no buffer; its value is unused)
    buffer_frames: int | tuple[int, ...] = 2

    def __post_init__(self) -> None:
        for name in ("fifo_depth", "output_fifo_depth"):
            v = getattr(self, name)
            if v < 2 or v & (v - 1):
                raise ValueError(f"{name}={v} must be a power of two >= 2")
        frames = (self.buffer_frames,) if isinstance(self.buffer_frames, int) else tuple(self.buffer_frames)
        if not frames or any(not isinstance(f, int) or f < 1 for f in frames):
            raise ValueError(f"buffer_frames={self.buffer_frames} must be >= 1 (one int, or one per stage boundary): "
                             "the exit head decides on a whole frame, so its buffer must hold one")
        if not 1 <= self.reorder_slots_log2 < self.id_width:
            raise ValueError(f"reorder_slots_log2={self.reorder_slots_log2} must be 1..id_width-1")

    def frames_after(self, k: int) -> int:
        """Frames the conditional buffer after stage k holds."""
        if isinstance(self.buffer_frames, int):
            return self.buffer_frames
        if not 1 <= k <= len(self.buffer_frames):
            raise ValueError(f"buffer_frames={list(self.buffer_frames)} has no value for the boundary after stage "
                             f"{k}; give one per stage boundary ({k} or more)")
        return self.buffer_frames[k - 1]


@dataclass
class PipelineRtl:
    top: str
    files: list[Path]
    params: PipelineParams
    stages: int
    in_width: int
    lanes: int                           # results per output beat
    fields: dict[str, tuple[int, int]]   # field of a lane -> (bit offset, width); 'valid' is the top bit
    threshold_widths: list[int | None]   # per stage; None where the exit is dropped (no thr port)
    reset_thresholds: list[int | None]   # per stage: the code each threshold register holds after reset
    module_groups: dict[str, list[str]] = field(default_factory=dict)  # energy group -> instance names
    frame_beats: int = 1                 # s_axis beats per sample (whole-tensor stages: 1; streaming: a frame)

    @property
    def has_tlast(self) -> bool:
        """s_axis carries tlast (on a frame's last beat) when a sample takes more than one beat."""
        return self.frame_beats > 1

    @property
    def lane_width(self) -> int:
        return sum(w for _, w in self.fields.values())

    @property
    def out_width(self) -> int:
        return self.lanes * self.lane_width

    def decode(self, beat: int) -> list[dict[str, int]]:
        """The valid results of one output beat, lane 0 first."""
        out = []
        for i in range(self.lanes):
            lane = beat >> (i * self.lane_width)
            f = {name: (lane >> off) & ((1 << w) - 1) for name, (off, w) in self.fields.items()}
            if f.pop("valid"):
                out.append(f)
        return out

    @property
    def exits(self) -> list[int]:
        """Indices (stage positions) of the exits the hardware has."""
        return [k for k, w in enumerate(self.threshold_widths, start=1) if w is not None]

    def to_dict(self) -> dict:
        return {"top": self.top, "files": [str(f) for f in self.files], "params": asdict(self.params),
                "stages": self.stages, "exits": self.exits, "in_width": self.in_width, "out_width": self.out_width,
                "reset_thresholds": self.reset_thresholds, "frame_beats": self.frame_beats,
                "lanes": self.lanes,
                "fields": {k: list(v) for k, v in self.fields.items()}, "module_groups": self.module_groups}


def _pow2_at_least(n: int) -> int:
    return 1 << max(1, (n - 1).bit_length())


def _check_chain(stages: list[StageRtl], units: list[GeneratedUnit | None]) -> None:
    if not stages or len(stages) != len(units):
        raise ValueError(f"got {len(stages)} stage cores and {len(units)} exit units; give one exit unit per stage "
                         "(None where the exit is dropped)")
    if units[-1] is None:
        raise ValueError(f"exit unit {len(units)} is None: the final exit is always kept")
    for k, (st, eu) in enumerate(zip(stages, units), start=1):
        if eu is None and st.has_logits:
            raise ValueError(f"stage {k} has no exit unit but its core {st.top} outputs logits; build the core "
                             "from frontend.stages.headless_model with has_logits=False, or give exit unit "
                             f"{k}")
        if eu is not None and not st.has_logits:
            raise ValueError(f"stage {k}'s core {st.top} is headless (has_logits=False) but has exit unit {k}; "
                             "pass None as its unit, or build the core with its exit head")
        if eu is not None:
            logits = st.outputs[0]
            if logits.size != eu.cfg.classes or logits.fmt != eu.cfg.logit:
                raise ValueError(f"stage {k} logits {logits.shape} {logits.fmt} do not match exit unit {k} "
                                 f"({eu.cfg.classes} x {eu.cfg.logit}); build the unit from the stage's logit "
                                 "format")
            if eu.ii != 1:
                raise ValueError(f"exit unit {k} has II {eu.ii}; the pipeline needs the parallel variant (II = 1)")
        last = k == len(stages)
        if last != (st.forwarded is None):
            raise ValueError(f"stage {k} {'forwards' if last else 'does not forward'} a tensor; "
                             "only the last stage ends without one")
        if not last and st.forwarded.bits != stages[k].in_width:
            raise ValueError(f"stage {k} forwards {st.forwarded.bits} bits but stage {k + 1} takes "
                             f"{stages[k].in_width}; build stage {k + 1} from stage {k}'s forwarded format")
    if len({eu.cfg.class_bits for eu in units if eu is not None}) != 1:
        raise ValueError("exit units disagree on the class count")


def _core_block(k: int, st: StageRtl, title: str) -> str:
    """Stage core k with its id FIFO: ``in{k}_*`` in, ``st{k}_m_data``/``st{k}_id`` out."""
    shell_depth = _pow2_at_least(st.latency_cycles + 2)   # stream_shell's FIFO depth: the ids always fit
    return f"""
    // ---- stage {k}: core {st.top} (latency {st.latency_cycles}), {title}
    wire [{st.out_width - 1}:0] st{k}_m_data;
    wire st{k}_s_ready, st{k}_m_valid, st{k}_m_ready, ids{k}_s_ready;
    // verilator lint_off UNUSEDSIGNAL
    wire ids{k}_m_valid;  // mirrors st{k}_m_valid: the ids enter and leave with the core's samples
    // verilator lint_on UNUSEDSIGNAL
    wire [ID_W-1:0] st{k}_id;
    assign in{k}_ready = st{k}_s_ready && ids{k}_s_ready;
    {st.top} u_stage{k} (
        .clk(clk), .rst(rst),
        .s_axis_tdata(in{k}_data), .s_axis_tvalid(in{k}_valid && ids{k}_s_ready), .s_axis_tready(st{k}_s_ready),
        .m_axis_tdata(st{k}_m_data), .m_axis_tvalid(st{k}_m_valid), .m_axis_tready(st{k}_m_ready));
    pl_fifo #(.W(ID_W), .DEPTH({shell_depth})) u_ids{k} (
        .clk(clk), .rst(rst),
        .s_data(in{k}_id), .s_valid(in{k}_valid && st{k}_s_ready), .s_ready(ids{k}_s_ready),
        .m_data(st{k}_id), .m_valid(ids{k}_m_valid), .m_ready(st{k}_m_valid && st{k}_m_ready));
"""


def _headless_block(k: int, st: StageRtl) -> str:
    """A stage whose exit is dropped: its whole output (the forwarded tensor) and id go on to stage k+1."""
    return _core_block(k, st, "exit dropped: every sample goes on") + f"""
    localparam FWD{k}_W = {st.out_width};
    wire [FWD{k}_W+ID_W-1:0] next{k}_data = {{st{k}_m_data, st{k}_id}};
    wire next{k}_valid = st{k}_m_valid;
    wire next{k}_ready;
    assign st{k}_m_ready = next{k}_ready;
"""


def _stage_block(k: int, st: StageRtl, eu: GeneratedUnit, n: int, lane: int, conf_max: int,
                 threshold: int | None, per_exit_enable: bool = False) -> str:
    """Stage core k, its exit unit (threshold register reset to ``threshold``, None: the unit's default)
    and router; results leave on output lane ``lane``."""
    last = k == n
    lw, ow = st.outputs[0].bits, st.out_width
    conf_w, cls_w = eu.cfg.confidence_format.width, eu.cfg.class_bits
    side_depth = _pow2_at_least(eu.latency_cycles + 1)    # every sample inside the unit fits beside it
    fwd = "1'b0" if last else f"st{k}_m_data[{ow - 1}:{lw}]"
    pad = conf_max - conf_w
    res = f"{{{{{pad}{{1'b0}}}}, res{k}_raw}}" if pad else f"res{k}_raw"
    if last:
        nxt = ("// verilator lint_off UNUSEDSIGNAL\n"
               f"    wire [FWD{k}_W+ID_W-1:0] next{k}_data;  // the last exit lets every sample out: nothing goes on\n"
               f"    wire next{k}_valid;\n    // verilator lint_on UNUSEDSIGNAL\n    wire next{k}_ready = 1'b0;")
    else:
        nxt = (f"wire [FWD{k}_W+ID_W-1:0] next{k}_data;\n    wire next{k}_valid, next{k}_ready;")
    init = "" if threshold is None else f" #(.THRESHOLD_INIT({conf_w}'d{threshold}))"
    return _core_block(k, st, f"exit unit {eu.top} (latency {eu.latency_cycles})") + f"""
    localparam FWD{k}_W = {1 if last else ow - lw};
    wire [{conf_w + cls_w}:0] eu{k}_data;
    wire eu{k}_s_ready, eu{k}_m_valid, eu{k}_m_ready, side{k}_s_ready, side{k}_m_valid, side{k}_m_ready;
    wire [FWD{k}_W+ID_W-1:0] side{k}_data;
    assign st{k}_m_ready = eu{k}_s_ready && side{k}_s_ready;
    {eu.top}{init} u_eu{k} (
        .clk(clk), .rst(rst),
        .s_axis_tdata(st{k}_m_data[{lw - 1}:0]), .s_axis_tvalid(st{k}_m_valid && side{k}_s_ready),
        .s_axis_tready(eu{k}_s_ready),
        .m_axis_tdata(eu{k}_data), .m_axis_tvalid(eu{k}_m_valid), .m_axis_tready(eu{k}_m_ready),
        .thr_we(thr{k}_we), .thr_data(thr{k}_data));
    pl_fifo #(.W(FWD{k}_W + ID_W), .DEPTH({side_depth})) u_side{k} (
        .clk(clk), .rst(rst),
        .s_data({{{fwd}, st{k}_id}}), .s_valid(st{k}_m_valid && eu{k}_s_ready), .s_ready(side{k}_s_ready),
        .m_data(side{k}_data), .m_valid(side{k}_m_valid), .m_ready(side{k}_m_ready));

    {nxt}
    wire [{conf_w + cls_w}+EXIT_W+ID_W-1:0] res{k}_raw;
    pl_exit_route #(.ID_W(ID_W), .FWD_W(FWD{k}_W), .CONF_W({conf_w}), .CLS_W(CLS_W), .EXIT_W(EXIT_W),
                    .K({k}), .LAST({int(last)})) u_route{k} (
        .exits_enable({f"exits_enable && exit_enable[{lane}]" if per_exit_enable else "exits_enable"}),
        .dec_data(eu{k}_data), .dec_valid(eu{k}_m_valid), .dec_ready(eu{k}_m_ready),
        .side_data(side{k}_data), .side_valid(side{k}_m_valid), .side_ready(side{k}_m_ready),
        .res_data(res{k}_raw), .res_valid(res_valid[{lane}]), .res_ready(res_ready[{lane}]),
        .next_data(next{k}_data), .next_valid(next{k}_valid), .next_ready(next{k}_ready));
    assign res_data[{lane}*RES_W +: RES_W] = {res};
"""


def _forward_block(k: int, depth: int) -> str:
    """FIFO from exit k-1's router (or headless stage k-1) into stage k: {forwarded tensor, id}."""
    return f"""
    // ---- into stage {k}: the samples stage {k - 1} did not let out
    wire [FWD{k - 1}_W+ID_W-1:0] in{k}_word;
    wire in{k}_valid, in{k}_ready;
    wire [ID_W-1:0] in{k}_id = in{k}_word[ID_W-1:0];
    wire [FWD{k - 1}_W-1:0] in{k}_data = in{k}_word[FWD{k - 1}_W+ID_W-1:ID_W];
    pl_fifo #(.W(FWD{k - 1}_W + ID_W), .DEPTH({depth})) u_fifo{k} (
        .clk(clk), .rst(rst),
        .s_data(next{k - 1}_data), .s_valid(next{k - 1}_valid), .s_ready(next{k - 1}_ready),
        .m_data(in{k}_word), .m_valid(in{k}_valid), .m_ready(in{k}_ready));
"""


def top_ports(in_width: int, tlast: bool, out_width: int, units: list, p: PipelineParams) -> str:
    """The port list every pipeline top shares after clk/rst: s_axis (with tlast for frame streams),
    m_axis, one threshold write port per kept exit, the per-exit enable (when asked) and exits_enable."""
    m = len([u for u in units if u is not None])
    lines = [f"input [{in_width - 1}:0] s_axis_tdata", "input s_axis_tvalid", "output s_axis_tready"]
    lines += ["input s_axis_tlast"] if tlast else []
    lines += [f"output [{out_width - 1}:0] m_axis_tdata", "output m_axis_tvalid", "input m_axis_tready"]
    for k, u in enumerate(units, start=1):
        if u is not None:
            lines += [f"input thr{k}_we", f"input [{u.cfg.confidence_format.width - 1}:0] thr{k}_data"]
    lines += [f"input [{m - 1}:0] exit_enable"] if p.per_exit_enable else []
    lines.append("input exits_enable")
    return ",\n".join(f"    {line}" for line in lines)


def result_fields(units: list, n: int, p: PipelineParams) -> tuple[dict, int, int, int, int]:
    """The result lane layout shared by every pipeline top: (fields, RES_W, confidence width, class bits,
    exit-index bits); a lane is {valid, confidence, class, exit index, id}, the id in the low bits."""
    kept = [u for u in units if u is not None]
    cls_w = kept[0].cfg.class_bits
    exit_w = max(1, n.bit_length())  # exit index = stage position, also when exits are dropped
    conf_max = max(u.cfg.confidence_format.width for u in kept)
    res_w = p.id_width + exit_w + cls_w + conf_max
    fields = {"id": (0, p.id_width), "exit": (p.id_width, exit_w), "class": (p.id_width + exit_w, cls_w),
              "confidence": (p.id_width + exit_w + cls_w, conf_max), "valid": (res_w, 1)}
    return fields, res_w, conf_max, cls_w, exit_w


def output_block(m: int, p: PipelineParams, admit: str) -> str:
    """The results of the m kept exits onto m_axis: one lane per exit in each beat, or (reorder) one
    result per beat in input order; ``admit`` pulses once per sample the input takes."""
    if p.reorder:
        return f"""
    // ---- results back in input order, one per beat
    wire [RES_W-1:0] ro_data;
    wire ro_ready;
    assign res_ready = {{{m}{{ro_ready}}}};  // constant 1: the admission limit keeps a slot free
    pl_reorder #(.N({m}), .W(RES_W), .ID_W(ID_W), .AW({p.reorder_slots_log2})) u_reorder (
        .clk(clk), .rst(rst), .admit({admit}), .can_admit(can_admit),
        .s_data(res_data), .s_valid(res_valid), .s_ready(ro_ready),
        .m_data(ro_data), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready));
    assign m_axis_tdata = {{1'b1, ro_data}};
"""
    # idle lanes read as zeros, not as whatever the exit unit's registers hold
    lanes_expr = ", ".join(f"res_valid[{i}], {{RES_W{{res_valid[{i}]}}}} & res_data[{i}*RES_W +: RES_W]"
                           for i in reversed(range(m)))
    return f"""
    // ---- one lane per exit: results of different exits leave in the same beat
    wire out_ready;
    assign can_admit = 1'b1;
    assign res_ready = {{{m}{{out_ready}}}};
    pl_fifo #(.W({m}*(RES_W+1)), .DEPTH({p.output_fifo_depth})) u_out (
        .clk(clk), .rst(rst),
        .s_data({{{lanes_expr}}}), .s_valid(|res_valid), .s_ready(out_ready),
        .m_data(m_axis_tdata), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready));
"""


def _top(stages: list[StageRtl], units: list[GeneratedUnit | None], p: PipelineParams,
         thresholds: list[int | None]) -> tuple[str, dict, int]:
    n = len(stages)
    m = len([u for u in units if u is not None])   # result streams: one per kept exit
    fields, res_w, conf_max, cls_w, exit_w = result_fields(units, n, p)
    lanes = 1 if p.reorder else m
    exit_list = ", ".join(str(k) for k, u in enumerate(units, start=1) if u is not None)
    body = []
    lane = 0
    for k, (st, eu) in enumerate(zip(stages, units), start=1):
        if k > 1:
            body.append(_forward_block(k, p.fifo_depth))
        if eu is None:
            body.append(_headless_block(k, st))
        else:
            body.append(_stage_block(k, st, eu, n, lane, conf_max, thresholds[k - 1], p.per_exit_enable))
            lane += 1
    out = output_block(m, p, "s_axis_tvalid && s_axis_tready")
    text = f"""`timescale 1ns / 1ps
// Generated by hardware/pipeline/generate.py: {n}-stage pipeline, exits {exit_list}. Do not edit; regenerate.
// m_axis_tdata: {lanes} lane(s) of
//   {{valid, confidence[{conf_max}], class[{cls_w}], exit index[{exit_w}], id[{p.id_width}]}}.
// exits_enable = 0 sends every sample to the last exit (baseline on the same hardware).
module {TOP} (
    input clk,
    input rst,
{top_ports(stages[0].in_width, False, lanes * (res_w + 1), units, p)}
);
    localparam ID_W = {p.id_width};
    localparam CLS_W = {cls_w};
    localparam EXIT_W = {exit_w};
    localparam RES_W = {res_w};

    wire [{m}*RES_W-1:0] res_data;
    wire [{m - 1}:0] res_valid, res_ready;
    wire can_admit;

    // ---- input: ids count accepted samples
    reg [ID_W-1:0] next_id;
    wire in1_valid = s_axis_tvalid && can_admit;
    wire in1_ready;
    wire [ID_W-1:0] in1_id = next_id;
    wire [{stages[0].in_width - 1}:0] in1_data = s_axis_tdata;
    assign s_axis_tready = in1_ready && can_admit;
    always @(posedge clk) begin
        if (rst) next_id <= 0;
        else if (s_axis_tvalid && s_axis_tready) next_id <= next_id + 1'b1;
    end
{"".join(body)}{out}endmodule
"""
    return text, fields, lanes


def _check_thresholds(units: list[GeneratedUnit | None], thresholds: list[int | None] | None) -> list[int | None]:
    if thresholds is None:
        return [None] * len(units)
    if len(thresholds) != len(units):
        raise ValueError(f"{len(thresholds)} reset thresholds for {len(units)} stages; give one per stage "
                         "(None where the exit is dropped)")
    for k, (eu, code) in enumerate(zip(units, thresholds), start=1):
        if eu is None or code is None:
            continue
        fmt = eu.cfg.confidence_format
        if not fmt.min_code <= int(code) <= fmt.max_code:
            raise ValueError(f"reset threshold {code} of exit {k} is outside its confidence codes "
                             f"{fmt.min_code}..{fmt.max_code}; give the calibrated register code")
    return [None if eu is None or code is None else int(code) for eu, code in zip(units, thresholds)]


def write_pipeline(stages: list[StageRtl], units: list[GeneratedUnit | None], out_dir: Path,
                   params: PipelineParams = PipelineParams(),
                   thresholds: list[int | None] | None = None) -> PipelineRtl:
    """Write ``pipeline_top.v`` into out_dir; return it with every source in compile order.

    units[k-1] is stage k's exit unit, or None when the design drops exit k (stage k's core is then
    headless, has_logits False); the last stage always has one. thresholds[k-1]: the register code
    exit unit k holds after reset (its THRESHOLD_INIT), normally the calibrated one; None (or no
    list): the unit's own default, which lets the fewest samples out.
    """
    _check_chain(stages, units)
    resets = _check_thresholds(units, thresholds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text, fields, lanes = _top(stages, units, params, resets)
    path = out_dir / f"{TOP}.v"
    path.write_text(text)
    files: list[Path] = []
    unit_files = (f for u in units if u is not None for f in u.files)
    for f in [*(f for st in stages for f in st.verilog_files), *unit_files, *LIBRARY, path]:
        if Path(f).resolve() not in {Path(x).resolve() for x in files}:
            files.append(Path(f))
    n = len(stages)
    groups = {f"stage_{k}": [f"u_stage{k}", f"u_ids{k}"] + ([f"u_fifo{k}"] if k > 1 else []) for k in range(1, n + 1)}
    groups.update({f"exit_unit_{k}": [f"u_eu{k}", f"u_side{k}", f"u_route{k}"]
                   for k, u in enumerate(units, start=1) if u is not None})
    groups["output"] = ["u_reorder" if params.reorder else "u_out"]
    return PipelineRtl(top=TOP, files=files, params=params, stages=n, in_width=stages[0].in_width, lanes=lanes,
                       fields=fields,
                       threshold_widths=[u.cfg.confidence_format.width if u else None for u in units],
                       reset_thresholds=[r if r is not None else (u.cfg.never_exit_code if u else None)
                                         for r, u in zip(resets, units)],
                       module_groups=groups)
