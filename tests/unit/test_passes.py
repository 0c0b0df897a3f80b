"""One test group per pass: what it changes in the IR, and that it keeps the computation."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.transforms.dead_code_elimination import DeadCodeElimination

from rtlflow.config import ModelConfig, config_from_dict
from rtlflow.delay_model import DelayModel
from rtlflow.dialects import circuit, context, fxp
from rtlflow.errors import RtlflowError
from rtlflow.frontend import import_onnx
from rtlflow.parts import find_part
from rtlflow.passes.convert_fxp_to_circuit import ConvertFxpToCircuitPass
from rtlflow.passes.convert_nn_to_fxp import ConvertNnToFxpPass
from rtlflow.passes.nn_assign_precision import NnAssignPrecisionPass
from rtlflow.passes.fxp_set_reuse_factor import FxpSetReuseFactorPass
from rtlflow.passes.nn_fold_affine import NnFoldAffinePass
from rtlflow.passes.nn_fold_reshapes import NnFoldReshapesPass
from rtlflow.passes.nn_form_dense import NnFormDensePass
from rtlflow.pipeline import Options, lower
from rtlflow.sim.nn_interpreter import run_nn
from rtlflow.rtl.adder_graph import node_operators
from rtlflow.units import graph_nodes, unit_spec
from tests.e2e.models import Graph, two_outputs, wide_mlp

CTX = context()


def op_names(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.split(".")[0] in ("nn", "fxp", "circuit")]


def run(module, *passes):
    for p in passes:
        p.apply(CTX, module)
    module.verify()
    return module


def same_function(before, after, shape, seed=0):
    x = np.random.default_rng(seed).normal(0, 2, (32, *shape))
    for a, b in zip(run_nn(before, [x]), run_nn(after, [x]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# ---- nn-form-dense ---------------------------------------------------------------------------


def test_gemm_with_alpha_beta_and_transposes_becomes_dense():
    g = Graph("gemm", {"x": [1, 4]}, seed=1)
    w = g.constant(g.rng.normal(0, 1, (4, 3)))  # [K, N]: transB = 0
    c = g.constant(g.rng.normal(0, 1, (1, 3)))
    module = import_onnx(g.model({"y": g.node("Gemm", ["x", w, c], alpha=0.5, beta=2.0)}))
    before = module.clone()
    run(module, NnFormDensePass(), DeadCodeElimination())
    assert op_names(module) == ["nn.dense"]
    same_function(before, module, (1, 4))


def test_matmul_with_constant_left_operand_becomes_reshape_dense_reshape():
    g = Graph("left", {"x": [4, 1]}, seed=2)
    w = g.constant(g.rng.normal(0, 1, (3, 4)))
    module = import_onnx(g.model({"y": g.node("MatMul", [w, "x"])}))
    before = module.clone()
    run(module, NnFormDensePass(), DeadCodeElimination())
    assert op_names(module) == ["nn.reshape", "nn.dense", "nn.reshape"]
    same_function(before, module, (4, 1))


def test_product_of_two_activations_is_left_alone():
    g = Graph("two", {"a": [2, 3], "b": [3, 2]})
    module = import_onnx(g.model({"y": g.node("MatMul", ["a", "b"])}))
    run(module, NnFormDensePass())
    assert op_names(module) == ["nn.matmul"]


# ---- nn-fold-affine --------------------------------------------------------------------------


def test_input_normalisation_and_output_scaling_fold_into_the_dense_layer():
    g = Graph("affine", {"x": [1, 5]}, seed=3)
    h = g.node("Div", [g.node("Sub", ["x", g.constant(g.rng.normal(0, 1, 5))]), g.constant([2.0] * 5)])
    h = g.dense(h, 5, 4)
    h = g.node("Add", [g.node("Mul", [h, g.constant(g.rng.normal(0, 1, 4))]), g.constant([0.25] * 4)])
    module = import_onnx(g.model({"y": h}))
    before = module.clone()
    run(module, NnFormDensePass(), NnFoldAffinePass(), DeadCodeElimination())
    assert op_names(module) == ["nn.dense"]
    same_function(before, module, (1, 5))


def test_affine_map_that_is_not_per_feature_stays():
    g = Graph("rows", {"x": [2, 3]}, seed=4)
    relu = g.node("Relu", ["x"])
    module = import_onnx(g.model({"y": g.node("Mul", [relu, g.constant([[1.0, 2, 3], [4, 5, 6]])])}))
    run(module, NnFormDensePass(), NnFoldAffinePass(), DeadCodeElimination())
    assert op_names(module) == ["nn.relu", "nn.scale_shift"]


def test_a_chain_of_affine_maps_becomes_one_scale_shift():
    g = Graph("chain", {"x": [1, 3]}, seed=6)
    h = g.node("Tanh", ["x"])
    h = g.node("Mul", [g.node("Sub", [h, g.constant(g.rng.normal(0, 1, 3))]), g.constant(1.75)])
    h = g.node("Div", [g.node("Add", [h, g.constant([0.5, 0.25, 0.125])]), g.constant(4.0)])
    module = import_onnx(g.model({"y": h}))
    before = module.clone()
    run(module, NnFoldAffinePass(), DeadCodeElimination())
    assert op_names(module) == ["nn.tanh", "nn.scale_shift"]
    same_function(before, module, (1, 3))


# ---- nn-fold-reshapes ------------------------------------------------------------------------


def test_reshape_chains_collapse_and_identities_vanish():
    g = Graph("shapes", {"x": [1, 2, 3]})
    h = g.node("Flatten", ["x"], axis=1)
    h = g.node("Reshape", [h, g.constant(np.array([3, 2]))])
    h = g.node("Reshape", [h, g.constant(np.array([1, 6]))])
    module = import_onnx(g.model({"y": g.node("Relu", [h])}))
    before = module.clone()
    run(module, NnFoldReshapesPass(), DeadCodeElimination())
    assert op_names(module).count("nn.reshape") == 1
    same_function(before, module, (1, 2, 3))
    # there and back again: the chain folds to a reshape to the same shape, which vanishes
    same = Graph("same", {"x": [1, 6]})
    column = same.node("Reshape", ["x", same.constant(np.array([6, 1]))])
    row = same.node("Reshape", [column, same.constant(np.array([1, 6]))])
    identity = import_onnx(same.model({"y": same.node("Relu", [row])}))
    assert op_names(identity).count("nn.reshape") == 2
    run(identity, NnFoldReshapesPass(), DeadCodeElimination())
    assert op_names(identity) == ["nn.relu"]


# ---- convert-nn-to-fxp and fxp-set-reuse-factor ----------------------------------------------


def to_fxp(model, config: ModelConfig = ModelConfig()):
    return lower(import_onnx(model), Options(config=config), stop_at="fxp")["fxp"]


def test_formats_come_from_defaults_and_per_layer_settings():
    model = wide_mlp()
    first = model.graph.node[0].name
    config = config_from_dict(
        {"precision": "fixed<12,4>", "layers": {first: {"weight": "fixed<8,2,RND>", "result": "ufixed<10,5>"}}},
        "test",
    )
    module = to_fxp(model, config)
    dense = [op for op in module.walk() if isinstance(op, fxp.DenseOp)]
    assert str(dense[0].weight_type.format) == "fixed<8,2,RND,WRAP>"
    assert str(dense[0].output_format) == "ufixed<10,5>"
    assert str(dense[1].weight_type.format) == "fixed<12,4,RND,WRAP>"  # the default rounds
    assert str(dense[1].input_format) == "fixed<12,4>"
    # the weights are the floats, quantized with the weight format's rounding
    weights = next(init for init in model.graph.initializer if init.name == model.graph.node[0].input[1])
    floats = np.frombuffer(weights.raw_data, np.float32).reshape(weights.dims)
    np.testing.assert_array_equal(dense[0].weights, np.floor(floats * 2**6 + 0.5).astype(np.int64))


def test_rounding_and_overflow_shorthands():
    model = wide_mlp()
    first = model.graph.node[0].name
    config = config_from_dict(
        {"rounding": "RND", "layers": {first: {"overflow": "SAT", "result": "fixed<10,3>"}}}, "test"
    )
    dense = [op for op in to_fxp(model, config).walk() if isinstance(op, fxp.DenseOp)]
    assert str(dense[0].output_format) == "fixed<10,3,TRN,SAT>"
    assert str(dense[1].output_format) == "fixed<16,6,RND,WRAP>"
    assert str(dense[1].weight_type.format) == "fixed<16,6,RND,WRAP>"


def test_a_weight_that_would_wrap_is_an_error_naming_the_node():
    model = wide_mlp()
    first = model.graph.node[0].name
    config = config_from_dict({"layers": {first: {"weight": "fixed<4,1>"}}}, "test")
    with pytest.raises(RtlflowError, match=rf"node '{first}' \(dense\).*weight values reach"):
        to_fxp(model, config)


def test_configuration_for_an_unknown_layer_is_an_error():
    config = config_from_dict({"layers": {"no_such_layer": {"reuse_factor": 2}}}, "test")
    with pytest.raises(RtlflowError, match="no_such_layer"):
        to_fxp(wide_mlp(), config)


def test_reuse_factor_default_and_per_layer():
    model = wide_mlp()
    last = [node.name for node in model.graph.node if node.op_type == "Gemm"][-1]
    config = config_from_dict({"reuse_factor": 2, "layers": {last: {"reuse_factor": 7}}}, "test")
    module = to_fxp(model, config)
    reuse = [op.reuse_factor.value.data for op in module.walk() if isinstance(op, fxp.DenseOp)]
    assert reuse == [2, 2, 7]
    run(module, FxpSetReuseFactorPass(config=ModelConfig(reuse_factor=3)))
    assert [op.reuse_factor.value.data for op in module.walk() if isinstance(op, fxp.DenseOp)] == [3, 3, 3]


# ---- circuit level -------------------------------------------------------------------------


def circuit_module(model, clock_mhz: float = 200.0, part: str = "xcvu13p"):
    return lower(import_onnx(model), Options(part=part, clock_mhz=clock_mhz))["circuit"]


def test_every_fxp_op_with_hardware_becomes_one_unit():
    g = Graph("wrap", {"x": [1, 2, 3]}, seed=5)
    h = g.node("Flatten", ["x"], axis=1)
    h = g.node("Sigmoid", [g.dense(h, 6, 4)])
    fixed = to_fxp(g.model({"y": h}))
    kinds = [op.name for op in fixed.walk() if isinstance(op, fxp.FxpOp)]
    run(fixed, ConvertFxpToCircuitPass())
    units = [op for op in fixed.walk() if isinstance(op, circuit.UnitOp)]
    assert [u.inner.name for u in units] == [k for k in kinds if k != "fxp.reshape"]
    top = [op.name for op in next(iter(fixed.ops)).body.block.ops]
    assert top == ["fxp.reshape", "circuit.unit", "circuit.unit", "func.return"]


def stage_delays(module, model: DelayModel) -> list[tuple[float, int]]:
    """Every register-to-register path and its number of steps, walking the units in order."""
    function = next(iter(module.ops))
    arrival, delays = {a: (0.0, 0) for a in function.body.block.args}, []
    for op in function.body.block.ops:
        if isinstance(op, fxp.ReshapeOp):
            arrival[op.output] = arrival[op.input]
        elif isinstance(op, circuit.DelayOp):
            arrival[op.output] = (0.0, 0)
        elif isinstance(op, circuit.UnitOp) and op.graph is not None:
            arrival[op.outputs[0]] = graph_delays(op, model, max(arrival[v] for v in op.inputs), delays)
        elif isinstance(op, circuit.UnitOp):
            plan = unit_spec(op).plan()
            registers = set(op.register_boundaries)
            assert plan.latency(frozenset(registers)) == op.latency.value.data
            time, steps = max(arrival[v] for v in op.inputs)
            for boundary in range(plan.boundaries):
                if boundary in registers:
                    delays.append((time, steps))
                    time = model.memory_read if boundary in plan.memory_boundaries else 0.0
                    steps = 0
                if boundary < len(plan.steps) and plan.steps[boundary].operators:
                    time += model.step(plan.steps[boundary])
                    steps += 1
            arrival[op.outputs[0]] = (time, steps)
        elif isinstance(op, func.ReturnOp):
            assert all(arrival[v][0] == 0.0 for v in op.arguments), "outputs are registered"
    return delays


def graph_delays(op, model: DelayModel, arrival, delays) -> tuple[float, int]:
    """The paths through a unit's adder graph, op by op: an op starts when the operands of its
    own cycle are ready (earlier cycles' come from registers, ending their paths); the outputs'
    (time, steps) after the unit."""
    block = op.graph
    registers = set(op.register_boundaries)
    if 0 in registers:
        delays.append(arrival)
        arrival = (0.0, 0)
    nodes, ranges, _ = graph_nodes(block)
    ready = {value: (0, arrival) for value in block.args}  # value -> (cycle, (time, steps))
    last = 0
    for inner, node in nodes:
        cycle = inner.cycle_number
        start = (0.0, 0)
        for value in inner.operands:
            produced, path = ready[value]
            assert produced <= cycle
            if produced == cycle:
                start = max(start, path)
            else:
                delays.append(path)  # registered before this op's cycle
        delay = max((model.operator(o) for o in node_operators(node, ranges)), default=0.0)
        ready[inner.results[0]] = (cycle, (start[0] + delay, start[1] + (delay > 0)))
        last = max(last, cycle)
    out = (0.0, 0)
    for value in block.last_op.operands:
        produced, path = ready[value]
        if produced == last:
            out = max(out, path)
        else:
            delays.append(path)
    if last + 1 in registers:  # the output register
        delays.append(out)
        out = (0.0, 0)
    return out


@pytest.mark.parametrize("clock_mhz", [100.0, 200.0, 350.0])
def test_registers_keep_every_path_within_the_clock_period(clock_mhz):
    module = circuit_module(wide_mlp(), clock_mhz)
    model = DelayModel.for_target(find_part("xcvu13p"))
    budget = 1000.0 / clock_mhz - model.register
    delays = stage_delays(module, model)
    # a stage is within the budget, or it is one step that nothing could split
    assert all(delay <= budget + 1e-9 or steps == 1 for delay, steps in delays)
    fmax = next(iter(module.ops)).attributes[circuit.FMAX_MHZ].value.data
    slowest = max(delay for delay, _ in delays)
    assert fmax == pytest.approx(1000.0 / (slowest + model.register), abs=0.1)


def test_a_faster_clock_needs_more_pipeline_stages():
    latencies = [
        next(iter(circuit_module(wide_mlp(), mhz).ops)).attributes[circuit.LATENCY].value.data
        for mhz in (50.0, 200.0, 400.0)
    ]
    assert latencies[0] < latencies[1] < latencies[2]


def test_balancing_delays_the_shorter_output():
    module = circuit_module(two_outputs())
    function = next(iter(module.ops))
    ready = {a: 0 for a in function.body.block.args}
    for op in function.body.block.ops:
        if isinstance(op, circuit.UnitOp):
            starts = {ready[v] for v in op.inputs}
            assert len(starts) == 1
            ready[op.outputs[0]] = starts.pop() + op.latency.value.data
        elif isinstance(op, circuit.DelayOp):
            ready[op.output] = ready[op.input] + op.cycles.value.data
        elif isinstance(op, func.ReturnOp):
            cycles = {ready[v] for v in op.arguments}
    assert any(isinstance(op, circuit.DelayOp) for op in function.body.block.ops)
    assert cycles == {function.attributes[circuit.LATENCY].value.data}


def test_precision_auto_sizes_results_from_exact_ranges():
    """``precision: auto``: dense results take the integer bits of their exact range, so no
    sample can overflow, and the accumulators stay below worst-case bit growth."""
    import rtlflow
    from rtlflow.numerics.fixed_point import worst_case_bits
    from tests.conftest import DATA

    data = np.load(DATA / "models" / "jet_tagger_mlp.npz")
    compiled = rtlflow.compile(DATA / "models" / "jet_tagger_mlp.onnx", precision="auto", stop_at="fxp")
    compiled.predict({"x": data["x"]})
    assert not compiled.emulator.overflows
    ours = worst = 0
    for op in compiled.levels["fxp"].walk():
        if op.name == "fxp.dense":
            weights = op.weights.astype(object)
            fx, fw = op.input_format, op.weight_type.format
            # the exact range of every neuron's sum, by hand, over the whole input format
            low = (np.minimum(weights * fx.min_raw, weights * fx.max_raw)).sum(axis=1)
            high = (np.maximum(weights * fx.min_raw, weights * fx.max_raw)).sum(axis=1)
            shift = fx.frac_bits + fw.frac_bits - op.output_format.frac_bits
            bias = op.biases.astype(object) << (fx.frac_bits + fw.frac_bits - op.bias_type.format.frac_bits)
            assert (min(low + bias) >> shift) >= op.output_format.min_raw
            assert (max(high + bias) >> shift) <= op.output_format.max_raw
            ours += op.accumulator.format.width
            worst += worst_case_bits(fx, fw, op.weights.shape[1])
    assert ours < worst


@pytest.mark.parametrize("model", ["muon_cnn_w4a4.qonnx.onnx", "jet_tagger_w6a6.qonnx.onnx"])
def test_relu_and_saturating_quantizer_fold_into_the_layer(model):
    """fxp-fuse-activation: every ReLU + saturating quantizer after a dense or conv layer whose
    result holds its accumulator becomes that layer's unsigned saturating result (plus an exact
    cast back), and the emulator's raw outputs do not change on the seed model's samples."""
    from rtlflow.passes.fxp_fuse_activation import FxpFuseActivationPass
    from rtlflow.sim.emulator import Emulator
    from tests.conftest import DATA

    def fxp_level(fuse: bool):
        module = import_onnx(DATA / "models" / model)
        passes = [NnFormDensePass(), NnFoldReshapesPass(), NnFoldAffinePass(), DeadCodeElimination(),
                  NnAssignPrecisionPass(config=ModelConfig()), ConvertNnToFxpPass()]
        return run(module, *passes, *([FxpFuseActivationPass()] if fuse else []))

    plain, fused = fxp_level(False), fxp_level(True)
    relus = sum(op.name == "fxp.relu" for op in plain.walk())
    assert relus > 0 and not any(op.name == "fxp.relu" for op in fused.walk())
    layers = [op for op in fused.walk() if isinstance(op, fxp.DenseOp | fxp.ConvOp)]
    rectified = [op for op in layers if not op.output_format.signed]
    assert len(rectified) == relus
    assert all(op.output_format.overflow == "SAT" for op in rectified)
    samples = np.load(DATA / "models" / model.replace(".qonnx.onnx", ".npz"))["x"][:300]
    raw = Emulator(plain).quantize_inputs([samples])[0]
    expected, got = Emulator(plain).run_raw(raw), Emulator(fused).run_raw(raw)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))


def test_precision_auto_covers_every_op_on_the_way():
    """``precision: auto`` through a convolution, leaky ReLU (alpha 3), average pooling, an
    open clip, a residual add, a subtraction, an element-wise product, a concatenation and a
    dense layer: no result can wrap (no compile warning), and inputs at the corners of the
    input format overflow nothing."""
    import rtlflow

    g = Graph("auto", {"x": [1, 2, 6, 6]}, seed=7)
    conv = g.node("Conv", ["x", g.constant(g.rng.normal(0, 0.5, (4, 2, 3, 3))),
                           g.constant(g.rng.normal(0, 0.1, 4))], pads=[1, 1, 1, 1])
    leaky = g.node("LeakyRelu", [conv], alpha=3.0)
    pooled = g.node("AveragePool", [leaky], kernel_shape=[2, 2], strides=[2, 2])
    clipped = g.node("Clip", [pooled, g.constant(np.float32(-1.0))])
    residual = g.node("Add", [clipped, pooled])
    difference = g.node("Sub", [residual, clipped])
    product = g.node("Mul", [difference, pooled])
    joined = g.node("Concat", [product, residual], axis=1)
    y = g.dense(g.node("Flatten", [joined]), 72, 3)
    model = g.model({"y": y})
    compiled = rtlflow.compile(model, precision="auto", stop_at="fxp")
    assert not [w for w in compiled.warnings if "can wrap" in w], compiled.warnings
    default = rtlflow.compile(model, stop_at="fxp")  # the leaky ReLU grows past fixed<16,6>
    assert [w for w in default.warnings if "can wrap" in w], default.warnings
    fmt = compiled.emulator.input_formats[0]
    corners = np.random.default_rng(1).choice([fmt.min_value, fmt.max_value], (64, 1, 2, 6, 6))
    compiled.predict(corners)
    assert not compiled.emulator.overflows


def test_a_balance_delay_and_the_input_register_after_it_are_one_shift_register():
    """A residual's skip path is a latency balance; when the add registers its inputs at
    boundary 0, that register continues the balance's chain (its only reader), and synthesis
    makes them one SRL per bit. The estimate counts it there: the delay as a shift register
    one cycle longer (its valid bits in flip-flops, less the one the add keeps), the add's
    boundary-0 flip-flops without the skip path's bits."""
    from rtlflow.delay_model import SRL_DEPTH, plan_resources
    from rtlflow.report import estimate

    g = Graph("residual", {"x": [1, 16]}, seed=3)
    y = g.node("Add", [g.node("Relu", [g.dense("x", 16, 16)]), "x"])
    module = circuit_module(g.model({"y": y}), 400.0)
    ops = [op for op in next(iter(module.ops)).body.block.ops
           if isinstance(op, circuit.UnitOp | circuit.DelayOp)]
    delay = next(op for op in ops if isinstance(op, circuit.DelayOp))
    add = next(op for op in ops if isinstance(op, circuit.UnitOp) and op.inner.name == "fxp.add")
    assert [use.operation for use in delay.output.uses] == [add]
    assert 0 in add.register_boundaries
    cycles, bits = delay.cycles.value.data, unit_spec(delay).plan().input_bits
    assert bits == 16 * 16
    layers = estimate(module, find_part("xcvu13p")).layers
    by_op = dict(zip(ops, [layer["resources"] for layer in layers], strict=True))
    assert by_op[delay] == {"lut": bits * -(-(cycles + 1) // SRL_DEPTH), "ff": cycles, "dsp": 0,
                            "bram18": 0}
    alone = plan_resources(unit_spec(add).plan(), frozenset(add.register_boundaries),
                           "ultrascale+")
    assert by_op[add]["ff"] == alone.ff - bits
