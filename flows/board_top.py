"""The board step of ``make synth``: the AXI-wrapped top, its register map, the driver, its checks.

``board_top_block(build)`` writes under ``build/<model>/<board>/board/``:

- ``exitflow_axi_top.v`` (the wrapped top) and ``rtl/`` (the pipeline it wraps, built with a
  per-exit enable, and every source; ``rtl/files.f`` lists them in compile order);
- ``regmap.md``, ``regmap.h``, ``regmap.json`` from the one register description;
- ``driver.py`` and ``fixedpoint.py`` (the host driver and the fixed-point module it quantises
  with), ``report.json`` is added by the report step;
- ``sim/``: the cocotb run of the wrapped top (sim/axi_top) over the test set, the driver session;
- ``yosys/``: Yosys of the whole wrapped top (resources and the timing estimate of the design);
- ``vivado/``: the IP packaging and block-design Tcl (PS + AXI DMA + wrapped top), run when
  ``vivado`` is on PATH (the overlay's exitflow.bit/.hwh then land in board/).

and returns the report's ``board_top`` block.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def write_board_files(top, out: Path) -> dict[str, str]:
    """regmap.md / .h / .json, the driver and its fixed-point module, the source list."""
    import frontend.fixedpoint as fixedpoint
    from hardware.axi_top import driver
    from hardware.axi_top.regmap import to_c_header, to_json, to_markdown

    files = {"regmap_md": out / "regmap.md", "regmap_h": out / "regmap.h", "regmap_json": out / "regmap.json",
             "driver": out / "driver.py", "fixedpoint": out / "fixedpoint.py", "top": top.verilog,
             "sources": out / "rtl" / "files.f"}
    files["regmap_md"].write_text(to_markdown(top.regmap, f"Register map of {top.top}"))
    files["regmap_h"].write_text(to_c_header(top.regmap))
    files["regmap_json"].write_text(to_json(top.regmap))
    shutil.copyfile(driver.__file__, files["driver"])
    shutil.copyfile(fixedpoint.__file__, files["fixedpoint"])
    files["sources"].write_text("".join(f"{Path(f).resolve()}\n" for f in top.files))
    return {k: str(v) for k, v in files.items()}


def build_wrapped_top(build, out: Path):
    """The pipeline of this build with a per-exit enable, wrapped for the board: (top, stage cores, units)."""
    from dataclasses import replace

    from hardware.axi_top import write_axi_top
    from flows.synth import pipeline_params
    from sim.pipeline.simulate import build_rtl

    models = build.core_models or [s.model for s in build.stages]
    pipeline, stage_rtls, units = build_rtl(models, build.exit_configs, out / "rtl", stage_rtls=build.stage_rtls,
                                            params=replace(pipeline_params(build), per_exit_enable=True))
    tensor = frame_tensor(stage_rtls[0])
    desc = {"shape": list(tensor.shape), "width": tensor.fmt.width, "frac": tensor.fmt.frac,
            "signed": tensor.fmt.signed}
    return write_axi_top(pipeline, build.thresholds, out, input_desc=desc), stage_rtls, units


def frame_tensor(stage_rtl):
    """One sample at the pipeline's input as a whole tensor: a fully parallel core's input port, or a
    streaming core's frame (its beats are that tensor's raster order cut into beats, which is how the
    gearbox's dense packing lays them out)."""
    from hardware.stage.packing import PortTensor

    if hasattr(stage_rtl, "input_beats"):
        return PortTensor(stage_rtl.input.name, tuple(stage_rtl.input_shape), stage_rtl.input.fmt)
    return stage_rtl.input


def _stream_stub(st) -> str:
    """Black box with a streaming core's ports (hardware/stream_stage: frame in, logits and forwarded out)."""
    ports = ["    input clk", "    input rst", f"    input [{st.in_width - 1}:0] s_axis_tdata", "    input s_axis_tvalid",
             "    output s_axis_tready", "    input s_axis_tlast"]
    if st.logits is not None:
        ports += [f"    output [{st.logits.bits - 1}:0] m_logits_tdata", "    output m_logits_tvalid",
                  "    input m_logits_tready"]
    if st.forwarded is not None:
        ports += [f"    output [{st.forwarded.bits - 1}:0] m_fwd_tdata", "    output m_fwd_tvalid",
                  "    input m_fwd_tready", "    output m_fwd_tlast"]
    return f"(* blackbox *)\nmodule {st.top} (\n" + ",\n".join(ports) + "\n);\nendmodule"


def core_stubs(stage_rtls: list, units: list) -> str:
    """``(* blackbox *)`` modules with the ports of every stage core and exit unit (the stream contract)."""
    out = ["`timescale 1ns / 1ps", "// Black boxes of the cores, for Yosys of the glue around them. Generated."]
    stream = ("    input clk,\n    input rst,\n    input [{i}:0] s_axis_tdata,\n    input s_axis_tvalid,\n"
              "    output s_axis_tready,\n    output [{o}:0] m_axis_tdata,\n    output m_axis_tvalid,\n"
              "    input m_axis_tready")
    for st in stage_rtls:
        if hasattr(st, "input_beats"):
            out.append(_stream_stub(st))
            continue
        out.append(f"(* blackbox *)\nmodule {st.top} (\n{stream.format(i=st.in_width - 1, o=st.out_width - 1)}\n);"
                   "\nendmodule")
    for u in {u.top: u for u in units if u is not None}.values():
        w = u.cfg.confidence_format.width
        ports = stream.format(i=u.cfg.classes * u.cfg.logit.width - 1, o=u.output_width - 1)
        out.append(f"(* blackbox *)\nmodule {u.top} #(parameter [{w - 1}:0] THRESHOLD_INIT = {w}'d0) (\n{ports},\n"
                   f"    input thr_we,\n    input [{w - 1}:0] thr_data\n);\nendmodule")
    return "\n".join(out) + "\n"


def synthesise_design(top, stage_rtls: list, units: list, board, work: Path, cores: dict | None) -> dict:
    """Resources and timing of the whole wrapped design.

    The glue (AXI front end, gearbox, result serializer, registers, the pipeline's FIFOs and routers) is
    synthesised with every core as a black box; the cores' own Yosys records (``cores``: the flow's
    resources block) are added to it, and the design's estimated Fmax is the lowest of the glue's and
    the cores' (a core's ports taken as registered, as in its own estimate).
    """
    from hardware.axi_top.generate import LIBRARY as AXI_LIBRARY
    from hardware.pipeline.generate import LIBRARY as PIPELINE_LIBRARY
    from flows.timing import DelayFigures, MissingTimingData, estimate_netlist_file
    from flows.yosys import synth_xilinx

    work.mkdir(parents=True, exist_ok=True)
    stubs = work / "core_blackboxes.v"
    stubs.write_text(core_stubs(stage_rtls, units))
    opaque = frozenset([st.top for st in stage_rtls] + [u.top for u in units if u is not None])
    core_files = {Path(f) for st in stage_rtls for f in st.verilog_files}
    core_files |= {Path(f) for u in units if u is not None for f in u.files}
    pipeline_glue = [f for f in top.pipeline.files if Path(f) not in core_files]   # library, buffers, the top
    files = [stubs, *dict.fromkeys(Path(f) for f in [*PIPELINE_LIBRARY, *pipeline_glue]), *AXI_LIBRARY, top.verilog]
    glue = synth_xilinx(files, top.top, family=board.family, work_dir=work, opaque=opaque).to_dict()
    core_records = [(f"stage {r['index']}", r) for r in (cores or {}).get("stages", [])]
    core_records += [(f"exit unit {r['index']}", r) for r in (cores or {}).get("exit_units", [])]
    keys = ("lut", "ff", "carry4", "dsp", "bram")
    total = {k: glue[k] + sum(r[k] for _, r in core_records) for k in keys}
    total["lut_levels"] = max([glue["lut_levels"]] + [r["lut_levels"] for _, r in core_records])
    block = {"glue": glue, "total": total, "cores_included": [n for n, _ in core_records],
             "method": "glue synthesised with the cores as black boxes + the cores' own Yosys records"
             if core_records else "glue only: this flow made no Yosys records of the cores (vendor flow)"}
    try:
        figures = DelayFigures.from_board(board)
    except MissingTimingData as exc:
        return {"resources": block, "timing": None, "timing_note": str(exc)}
    est = estimate_netlist_file(work / f"{top.top}.netlist.json", top.top, figures, glue["lut_levels"], opaque)
    parts = [("glue", est.to_dict())] + [(n, r["timing"]) for n, r in core_records if r.get("timing")]
    limited_by, worst = min(parts, key=lambda item: item[1]["fmax_mhz"])
    timing = {"fmax_mhz": worst["fmax_mhz"], "critical_path_ns": worst["critical_path_ns"],
              "limited_by": limited_by, "luts_on_path": worst["luts_on_path"],
              "carry4_on_path": worst["carry4_on_path"], "glue": est.to_dict(), "method": est.method}
    return {"resources": block, "timing": timing}


def vivado_block(top, board, out: Path) -> dict:
    """The board design Tcl, always written; run when vivado is on PATH."""
    from flows.tools import find_vendor_tools
    from flows.vendor.flow import run_board_design, write_board_scripts
    from flows.vendor.tcl import BoardDesign, processing_system

    if processing_system(board.part) is None:
        return {"note": f"{board.name} has no processing system: no DMA block design (the wrapped top's RTL stands "
                        "alone)"}
    design = BoardDesign(board, top.top, top.files, top.params.data_width)
    scripts = write_board_scripts(design, out / "vivado", out)
    block = {"package_tcl": str(scripts.package), "block_design_tcl": str(scripts.block_design),
             "overlay": {"bit": str(out / "exitflow.bit"), "hwh": str(out / "exitflow.hwh")}}
    if find_vendor_tools().vivado is None:
        block["note"] = ("vivado not on PATH: the block design Tcl is written, not run (and never run against a real "
                         "Vivado by this project's tests)")
        return block
    block["implementation"] = run_board_design(scripts, out / "vivado").to_dict()
    return block


def board_top_block(build, simulator: str = "verilator", samples: int | None = None) -> dict:
    """Every board output of one build, and the report's board_top block (see the module doc)."""
    from frontend.calibrate import logit_codes
    from sim.axi_top.simulate import simulate_axi_top

    out = Path(build.out_dir) / "board"
    out.mkdir(parents=True, exist_ok=True)
    top, stage_rtls, units = build_wrapped_top(build, out)
    tensor = frame_tensor(stage_rtls[0])
    files = write_board_files(top, out)
    x = build.dataset.x_test[:samples] if samples else build.dataset.x_test
    codes = tensor.fmt.quantize(x).reshape((len(x),) + tuple(tensor.shape))
    logits = logit_codes(build.model, build.stages, x)
    with ThreadPoolExecutor(max_workers=2) as pool:
        synth = pool.submit(synthesise_design, top, stage_rtls, units, build.board, out / "yosys", build.resources)
        sim = simulate_axi_top(top, build.exit_configs, logits, codes, tensor, out / "sim", simulator=simulator)
        synthesis = synth.result()
    block = {"top": top.to_dict(), "files": files, "regmap": {
                 "registers": len(top.regmap.registers), "design_id": f"0x{top.design_id:08x}",
                 "result_word": [f.__dict__ for f in top.regmap.result_fields]},
             "sim": sim.to_dict(), "summary": sim.summary(), **synthesis,
             "vivado": vivado_block(top, build.board, out)}
    return block


def board_markdown(block: dict, clock_mhz: float) -> str:
    """The report.md section of the board_top block."""
    top, sim = block["top"], block["sim"]
    lines = ["## Board top (AXI)", "",
             f"`{top['top']}` (design id {top['design_id']}): AXI4-Stream {top['data_width']}-bit words, "
             f"{top['words_per_sample']} per sample in, one result per word out; AXI4-Lite registers in "
             f"`{Path(block['files']['regmap_md']).name}`. Files under `{Path(block['files']['regmap_md']).parent}`: "
             "regmap.md, regmap.h, regmap.json, exitflow_axi_top.v, driver.py.", "",
             f"- Simulation: {sim['summary']}."]
    res, t = block.get("resources"), block.get("timing")
    if res:
        g, tot = res["glue"], res["total"]
        lines.append(f"- Yosys, whole wrapped design: {tot['lut']:,} LUT, {tot['ff']:,} FF, {tot['carry4']:,} CARRY4, "
                     f"{tot['dsp']} DSP, {tot['bram']:g} BRAM36, {tot['lut_levels']} LUT levels; of which the AXI "
                     f"wrapper and pipeline glue {g['lut']:,} LUT, {g['ff']:,} FF ({res['method']}).")
    if t:
        warn = " **below the board clock**" if t["fmax_mhz"] < clock_mhz else ""
        lines.append(f"- Timing of the whole design (estimate): estimated Fmax {t['fmax_mhz']:.0f} MHz{warn} against "
                     f"{clock_mhz:g} MHz, limited by {t['limited_by']} (critical path {t['critical_path_ns']:.2f} ns, "
                     f"{t['luts_on_path']} LUTs, {t['carry4_on_path']} CARRY4); the glue alone "
                     f"{t['glue']['fmax_mhz']:.0f} MHz. Method: {t['method']}.")
    elif block.get("timing_note"):
        lines.append(f"- No timing estimate: {block['timing_note']}.")
    v = block.get("vivado", {})
    if v.get("implementation"):
        impl = v["implementation"]
        lines.append(f"- Vivado implementation: {impl.get('lut')} LUT, WNS {impl.get('wns_ns')} ns.")
    elif v.get("note"):
        lines.append(f"- Vivado: {v['note']}.")
    return "\n".join(lines) + "\n"

