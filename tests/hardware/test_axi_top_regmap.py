"""The register map: one description, three views that agree; the wrapped top's generator refuses what
it cannot build; the driver's packing and result decoding against the project's reference packer."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hardware.axi_top.regmap import ResultField, register_map, to_c_header, to_json, to_markdown

FIELDS = [ResultField("id", 0, 16), ResultField("exit", 16, 2), ResultField("class", 18, 4),
          ResultField("confidence", 22, 13)]


def _map(exits=(1, 3)):
    return register_map(list(exits), {k: 13 for k in exits}, {k: 100 * k for k in exits}, 64, 8, 1, 512, FIELDS,
                        0xDEADBEEF, {"shape": [8, 8, 1], "width": 8, "frac": 7, "signed": False})


def test_header_json_and_markdown_carry_the_same_offsets_and_reset_values():
    rm = _map()
    header, data, md = to_c_header(rm), json.loads(to_json(rm)), to_markdown(rm)
    defines = dict(re.findall(r"#define EXITFLOW_(\w+)_OFFSET (0x[0-9a-f]+)u", header))
    resets = dict(re.findall(r"#define EXITFLOW_(\w+)_RESET (0x[0-9a-f]+)u", header))
    rows = dict(re.findall(r"\| (0x[0-9a-f]{3}) \| (\w+) \|", md))
    table = [line for line in md.splitlines() if line.startswith("| 0x")]
    assert all(line.count("|") == 6 for line in table), "a description breaks the Markdown table"
    assert {r["name"]: r["offset"] for r in data["registers"]} == {k: int(v, 16) for k, v in defines.items()}
    assert {v: int(k, 16) for k, v in rows.items()} == {k: int(v, 16) for k, v in defines.items()}
    nonzero = {r["name"]: r["reset"] for r in data["registers"] if r["reset"]}
    assert nonzero == {k: int(v, 16) for k, v in resets.items()}
    # per-exit registers sit at their exit index: exit 2 (dropped) leaves a hole
    assert int(defines["THRESHOLD_3"], 16) - int(defines["THRESHOLD_1"], 16) == 8 and "THRESHOLD_2" not in defines
    assert data["registers"][[r["name"] for r in data["registers"]].index("THRESHOLD_3")]["reset"] == 300
    assert "0xdeadbeef" in md and data["design_id"] == 0xDEADBEEF
    assert header.count("#ifndef") == 1 and header.rstrip().endswith("#endif /* EXITFLOW_REGMAP_H */")


def test_c_header_compiles(tmp_path):
    import shutil
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "regmap.h").write_text(to_c_header(_map()))
    (tmp_path / "use.c").write_text('#include "regmap.h"\n'
                                    "_Static_assert(EXITFLOW_THRESHOLD_3_OFFSET == 0x108u, \"offset\");\n"
                                    "_Static_assert(EXITFLOW_THRESHOLD_3_RESET == 300u, \"reset\");\n"
                                    "_Static_assert((EXITFLOW_CTRL_APPLY_MASK >> EXITFLOW_CTRL_APPLY_SHIFT) == 1u,"
                                    " \"field\");\n"
                                    "int main(void) { return (int)EXITFLOW_RESULT_CLASS_SHIFT - 18; }\n")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-fsyntax-only", str(tmp_path / "use.c")], check=True)


def test_exit_enable_resets_with_every_kept_exit_on():
    rm = _map((1, 2, 4))
    assert rm["EXIT_ENABLE"].reset == 0b1011
    assert rm["GEOMETRY"].reset == 8 | 8 << 16 | 3 << 24


def test_driver_packing_equals_the_reference_packer_for_any_word_width():
    from frontend.fixedpoint import FixedFormat
    from hardware.axi_top.driver import ExitflowDriver
    from hardware.stage.packing import PortTensor, pack

    rng = np.random.default_rng(0)
    for fmt, shape, dw in ((FixedFormat(8, 7, False), (8, 8, 1), 64), (FixedFormat(7, 5, True), (3, 5, 1), 32)):
        t = PortTensor("x", shape, fmt)
        codes = rng.integers(fmt.min_code, fmt.max_code + 1, size=(6,) + shape)
        words = -(-t.bits // dw)
        regmap = {"input": {"shape": list(shape), "width": fmt.width, "frac": fmt.frac, "signed": fmt.signed},
                  "words_per_sample": words, "data_width": dw}
        got = ExitflowDriver(io=None, regmap=regmap).pack(codes)
        want = [int(w).to_bytes(words * dw // 8, "little") for w in pack([t], [codes])]
        assert [row.tobytes() for row in got] == want


def test_driver_decodes_result_words_by_the_map():
    from hardware.axi_top.driver import ExitflowDriver

    rm = json.loads(to_json(_map()))
    word = 77 | 3 << 16 | 9 << 18 | 4321 << 22
    f = ExitflowDriver(io=None, regmap=rm).decode(np.array([word], dtype=np.uint64))
    assert (f["id"][0], f["exit"][0], f["class"][0], f["confidence"][0]) == (77, 3, 9, 4321)


def test_generator_refuses_what_it_cannot_build(tmp_path):
    from hardware.axi_top.generate import AxiTopError, AxiTopParams, result_layout
    from hardware.pipeline.generate import PipelineParams, PipelineRtl

    with pytest.raises(AxiTopError, match="pick one of them"):
        AxiTopParams(data_width=48)
    wide = PipelineRtl("pipeline_top", [], PipelineParams(), 3, 512, 3,
                       {"id": (0, 16), "exit": (16, 2), "class": (18, 8), "confidence": (26, 20), "valid": (46, 1)},
                       [20, 20, 20], [None, None, None])
    with pytest.raises(AxiTopError, match="use data_width=64"):
        result_layout(wide, 32)
    assert [f.width for f in result_layout(wide, 64)] == [16, 2, 8, 20]
