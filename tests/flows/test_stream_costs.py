"""Cost models of the streaming primitives (flows/dse/stream_costs): the block list they price is the one the
builder writes, the memory-mapping rule agrees with Yosys, and a fit predicts a probe it was not fitted on."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("tensorflow").keras
qk = pytest.importorskip("qkeras")

W4 = "quantized_bits(4,0,alpha=1)"


def small_stage(strided: bool = False):
    """12x12 input -> conv 3x3x4 -> maxpool 2 -> [forwarded]; head: maxpool 2 -> flatten -> dense 10."""
    init = keras.initializers.RandomUniform(-1, 1, seed=3)
    inp = keras.Input((12, 12, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = qk.QConv2D(4, 3, strides=2 if strided else 1, padding="same" if strided else "valid", kernel_quantizer=W4,
                   bias_quantizer=W4, kernel_initializer=init, bias_initializer=init, name="c1")(x)
    x = qk.QActivation("quantized_relu(4,2)", name="c1_act")(x)
    fwd = keras.layers.MaxPooling2D(2, name="p1")(x)
    h = keras.layers.MaxPooling2D(2, name="hp")(fwd) if not strided else fwd
    h = keras.layers.Flatten(name="hf")(h)
    h = qk.QDense(10, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="hd")(h)
    logits = qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(h)
    return keras.Model(inp, [logits, fwd])


def _conv(x, filters, name, kernel=3, act="quantized_relu(4,2)", seed=1, **kw):
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)
    x = qk.QConv2D(filters, kernel, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init,
                   bias_initializer=init, name=name if act is None else f"{name}_conv", **kw)(x)
    return x if act is None else qk.QActivation(act, name=name)(x)


def _logits(x, seed=2):
    init = keras.initializers.RandomUniform(-1, 1, seed=seed)
    x = qk.QDense(10, kernel_quantizer=W4, bias_quantizer=W4, kernel_initializer=init, name="hd")(x)
    return qk.QActivation("quantized_bits(16,6,alpha=1)", name="logits")(x)


def lenet_like_stage():
    """LeNet stage 1 in small: 20x20 -> conv 5x5 -> 4 -> maxpool 2 -> [forwarded]; head: maxpool 2 -> dense 10.
    At P = 4 the conv is 4 kernel copies, the pools stream_pools (4 -> 2 -> 1 pixels per beat)."""
    inp = keras.Input((20, 20, 1))
    x = qk.QActivation("quantized_relu(8,0)", name="in_q")(inp)
    x = _conv(x, 4, "c1", kernel=5)
    fwd = keras.layers.MaxPooling2D(2, name="p1")(x)
    h = keras.layers.Flatten(name="hf")(keras.layers.MaxPooling2D(2, name="hp")(fwd))
    return keras.Model(inp, [_logits(h), fwd])


def residual_stage():
    """x -> conv -> conv (exact accumulator) -> Add(x, .) -> relu -> GlobalAveragePooling2D -> dense;
    forwarded: a zero-padded 1x1 conv of the sum (ZeroPadding2D as a 1x1 swg)."""
    inp = keras.Input((8, 8, 1))
    x = qk.QActivation("quantized_relu(6,0)", name="in_q")(inp)
    x = _conv(x, 3, "c1", padding="same")
    y = _conv(x, 3, "r_a", padding="same", seed=3)
    y = _conv(y, 3, "r_b", act=None, padding="same", seed=4)
    s = qk.QActivation("quantized_relu(5,2)", name="res_act")(keras.layers.Add(name="res_add")([x, y]))
    fwd = keras.layers.ZeroPadding2D(1, name="pad")(_conv(s, 2, "down", kernel=1, seed=5))
    return keras.Model(inp, [_logits(keras.layers.GlobalAveragePooling2D(name="gap")(s)), fwd])


@pytest.mark.parametrize("model, plans, parallelism", [
    ("small", {}, 1),                                                      # kernels, gather + 1x1 dense kernel
    ("small", {"c1_act": ("mvau", 3, 2), "logits": ("mvau", 4, 2)}, 1),   # MVAU conv (read FIFO) and dense
    ("strided", {"logits": ("mvau", 2, 5)}, 1),                           # stride 2, 'same' padding
    ("lenet", {"logits": ("mvau", 4, 2)}, 2),           # conv kernel x2, pool 2 -> 1, exit pool on a swg
    ("lenet", {}, 4),                                   # conv kernel x4, pools 4 -> 2 -> 1, gather, dense kernel
    ("lenet", {"c1": ("mvau", 5, 2)}, 4),               # a split to one pixel per beat before the MVAU conv
    ("residual", {"r_a": ("mvau", 3, 1)}, 1),           # fork, skip FIFO, join, global sum, zeropad swg
])
def test_modelled_blocks_are_the_builders_blocks(model, plans, parallelism, tmp_path):
    from flows.dse.stream_costs.blocks import stage_blocks
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import LayerPlan, build_stream_stage

    keras_model = {"small": small_stage, "strided": lambda: small_stage(True), "lenet": lenet_like_stage,
                   "residual": residual_stage}[model]()
    ir = fuse_requantisers(stage_ir(keras_model))
    plans = {k: LayerPlan(*v) for k, v in plans.items()}
    built = build_stream_stage(ir, plans, tmp_path, "sst", parallelism=parallelism).blocks
    modelled = stage_blocks(ir, plans, parallelism)
    assert [(b.instance, b.kind, b.layer, b.cycles_per_frame) for b in modelled] == \
        [(b.instance, b.kind, b.layer, b.cycles_per_frame) for b in built]
    assert [b.knobs.depth for b in modelled if b.kind == "fifo"] == [b.knobs["depth"] for b in built if b.kind == "fifo"]
    kinds = {b.kind for b in built}
    assert kinds >= {"swg", "fork", "fifo"} if model != "lenet" else kinds >= {"swg", "fork"}
    if model == "lenet" and parallelism == 4:
        assert kinds >= ({"split", "mvau"} if plans else {"pool", "gather"})
    if model == "residual":
        assert kinds >= {"join", "global_sum"}
        depths = {b.knobs["depth"] for b in built if b.kind == "fifo"}
        assert max(depths) > 16                     # the skip branch's FIFO is deepened (skip.py)


# stream_fifo probes: (data bits, depth); the last is held out of the fit
FIFOS = ((24, 16), (16, 128), (32, 128), (48, 32))


@pytest.fixture(scope="module")
def fifo_records(tmp_path_factory):
    """Yosys records of the FIFO probes (synthesised once for the module)."""
    from flows.dse.jobs import run_jobs
    from flows.dse.stream_costs.blocks import FifoKnobs
    from flows.dse.stream_costs.probes import Probe, probe_job

    root = tmp_path_factory.mktemp("fifo_probes")
    probes = [Probe("fifo", FifoKnobs(w, d), f"{w}b x {d}") for w, d in FIFOS]
    jobs = [probe_job(p, root / "rtl") for p in probes]
    report = run_jobs(jobs, root / "yosys")
    return [(p, report.results[j.key()]) for p, j in zip(probes, jobs)]


def test_memory_rule_puts_a_fifo_where_yosys_does(fifo_records):
    """16 x 128 fits LUTRAM (RAM64M banks), 32 x 128 is cheaper as one RAMB18 (Yosys' own cost rule)."""
    from flows.dse.stream_costs.memory import ram_map

    records = {(p.knobs.width, p.knobs.depth): r for p, r in fifo_records}
    lutram, bram = ram_map(128, 17), ram_map(128, 33)       # data + tlast
    assert lutram.kind == "lutram" and bram.kind == "bram"
    assert records[16, 128]["lut_as_memory"] == lutram.lut_as_memory and records[16, 128]["bram"] == 0
    assert (records[32, 128]["ramb18"], records[32, 128]["ramb36"]) == (bram.ramb18, bram.ramb36)
    assert records[32, 128]["lut_as_memory"] == 0
    for (w, d), r in records.items():    # every probe: the rule's block RAMs and LUTRAM are Yosys'
        m = ram_map(d, w + 1)
        assert (r["ramb18"], r["ramb36"], r["lut_as_memory"]) == (m.ramb18, m.ramb36, m.lut_as_memory), (w, d)


def test_fifo_fit_predicts_a_held_out_probe_within_ten_percent(fifo_records):
    from flows.dse.stream_costs.describe import describe
    from flows.dse.stream_costs.features import KernelCostCache
    from flows.dse.stream_costs.fit import fit_kind

    kernels = KernelCostCache()
    rows = [(p, describe("fifo", p.knobs, kernels), r) for p, r in fifo_records]
    fit = fit_kind("fifo", rows[:-1])
    held_probe, held_features, held = rows[-1]
    predicted = fit.predict(held_features)
    assert abs(predicted["lut"] - held["lut"]) <= 0.10 * held["lut"], (predicted, held)
    assert abs(predicted["ff"] - held["ff"]) <= 0.10 * held["ff"], (predicted, held)
    assert predicted["ramb18"] == held["ramb18"] and predicted["ramb36"] == held["ramb36"]


def test_at_a_probed_configuration_the_model_gives_what_yosys_measured(fifo_records):
    from flows.dse.stream_costs.describe import describe
    from flows.dse.stream_costs.features import KernelCostCache
    from flows.dse.stream_costs.fit import fit_kind

    kernels = KernelCostCache()
    rows = [(p, describe("fifo", p.knobs, kernels), r) for p, r in fifo_records]
    fit = fit_kind("fifo", rows)
    assert any(pt["residual_pct"]["lut"] for pt in fit.points)      # the line itself misses some probes
    for _, features, record in rows:
        assert fit.predict(features)["lut"] == record["lut"] and fit.predict(features)["ff"] == record["ff"]


def priced_costs(kernel_lut: float):
    """A StreamCosts with set (not fitted) prices: MVAU LUTs = products (SIMD x PE), a kernel ``kernel_lut``,
    every other block 10 LUTs."""
    from flows.dse.stream_costs.costs import StreamCosts
    from flows.dse.stream_costs.features import KernelCostCache
    from flows.dse.stream_costs.fit import KindFit, LinearFit

    def flat(lut_feature, lut):
        return {"lut": LinearFit((lut_feature,), (lut,)), "ff": LinearFit(("one",), (10.0,)),
                "lut_as_memory": LinearFit((), ())}

    fits = {k: KindFit(k, flat("one", 10.0)) for k in ("swg", "fifo", "fork", "gather", "split", "pool", "join",
                                                        "global_sum")}
    fits["kernel"] = KindFit("kernel", flat("one", kernel_lut))
    fits["mvau"] = KindFit("mvau", flat("products", 1.0))
    return StreamCosts(fits, KernelCostCache(), "xc7", "set-by-hand")


def test_planner_meets_the_target_on_the_built_stage_and_follows_the_prices(tmp_path):
    from flows.dse.stream_costs import plan_stage_with_costs
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import build_stream_stage

    ir = fuse_requantisers(stage_ir(small_stage()))
    expensive_kernels, cheap_kernels = priced_costs(1e6), priced_costs(1.0)
    folds = {}
    for target in (150, 600):        # the 12x12 input takes 144 cycles a frame: no stage is faster
        plans = plan_stage_with_costs(ir, target, expensive_kernels)
        assert {p.impl for p in plans.values()} == {"mvau"}
        st = build_stream_stage(ir, plans, tmp_path / str(target), f"sst_{target}")
        assert st.ii_cycles <= target
        folds[target] = sum(p.simd * p.pe for p in plans.values())
    assert folds[150] > folds[600]          # a faster target takes more parallel MVAUs
    # kernels priced below any MVAU: every layer a kernel (100 windows a frame meet 150 cycles)
    assert {p.impl for p in plan_stage_with_costs(ir, 150, cheap_kernels).values()} == {"kernel"}


@pytest.mark.parametrize("parallelism", [2, 4])
def test_planner_at_p_above_one_builds_what_it_planned_and_meets_the_target(parallelism, tmp_path):
    """On a P-wide stream an MVAU conv reads through a split (400 one-pixel beats a frame), a kernel conv at
    P needs only 400 / P: a target below 400 takes the kernel whatever it costs; above it, the prices choose."""
    from flows.dse.stream_costs import plan_stage_with_costs, predict_stage
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import build_stream_stage

    ir = fuse_requantisers(stage_ir(lenet_like_stage()))
    expensive_kernels = priced_costs(1e6)
    fast = plan_stage_with_costs(ir, 400 // parallelism, expensive_kernels, parallelism)
    slow = plan_stage_with_costs(ir, 800, expensive_kernels, parallelism)
    assert fast["c1"].impl == "kernel" and slow["c1"].impl == "mvau"
    for target, plans in ((400 // parallelism, fast), (800, slow)):
        st = build_stream_stage(ir, plans, tmp_path / str(target), f"sst_{target}", parallelism=parallelism)
        assert st.ii_cycles <= target
        assert predict_stage(ir, plans, parallelism, expensive_kernels).ii_cycles == st.ii_cycles
    kinds = {b.kind for b in build_stream_stage(ir, slow, tmp_path / "s", "sst_s", parallelism=parallelism).blocks}
    assert "split" in kinds and "mvau" in kinds


@pytest.mark.slow
def test_fresh_fit_then_a_stage_predicted_within_ten_percent_of_yosys(tmp_path):
    """The whole probe set fitted from scratch on a local Dask cluster (minutes), loaded again without
    synthesis, then the small stage planned by the fits, predicted and synthesised."""
    import time

    from flows.dse.jobs import SynthJob, dask_client, run_jobs
    from flows.dse.stream_costs import fit_costs, plan_stage_with_costs, predict_stage
    from frontend.ir import fuse_requantisers, stage_ir
    from hardware.stream_stage import build_stream_stage

    start = time.perf_counter()
    with dask_client(workers=2) as client:
        costs = fit_costs(tmp_path / "costs", client=client)
    print(f"fresh fit: {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    again = fit_costs(tmp_path / "costs")
    assert time.perf_counter() - start < 5 and again.digest == costs.digest
    for kind in ("swg", "kernel", "mvau"):     # where a stage's LUTs are: a probe left out is still predicted
        assert costs.fits[kind].worst("lut", loo=True) <= 15, (kind, costs.fits[kind].worst("lut", loo=True))
    ir = fuse_requantisers(stage_ir(small_stage()))
    for target in (150, 600):     # the 12x12 input takes 144 cycles a frame
        plans = plan_stage_with_costs(ir, target, costs)
        pred = predict_stage(ir, plans, 1, costs)
        st = build_stream_stage(ir, plans, tmp_path / f"rtl{target}", f"sst{target}")
        assert st.ii_cycles == pred.ii_cycles <= target
        job = SynthJob(tuple(str(f) for f in st.verilog_files), st.top)
        measured = run_jobs([job], tmp_path / "yosys").results[job.key()]
        assert abs(pred.lut - measured["lut"]) <= 0.10 * measured["lut"], (target, pred.lut, measured["lut"])
        assert pred.bram == measured["bram"]



def test_a_fit_read_back_from_its_file_predicts_exactly_what_the_fresh_fit_did(fifo_records):
    """Point files and the search cache carry predictions; saving and loading a fit must not move them (it
    did when only the saved copy was rounded, and a rerun's point files missed every measured record)."""
    import json

    from flows.dse.stream_costs.describe import describe
    from flows.dse.stream_costs.features import KernelCostCache
    from flows.dse.stream_costs.fit import KindFit, fit_kind

    kernels = KernelCostCache()
    rows = [(p, describe("fifo", p.knobs, kernels), r) for p, r in fifo_records]
    fresh = fit_kind("fifo", rows[:-1])
    loaded = KindFit.from_dict("fifo", json.loads(json.dumps(fresh.to_dict())))
    unprobed = describe("fifo", type(rows[0][0].knobs)(40, 64), kernels)
    assert loaded.predict(unprobed) == fresh.predict(unprobed)
    assert loaded.predict(rows[-1][1]) == fresh.predict(rows[-1][1])
