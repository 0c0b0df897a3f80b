"""nn → fxp: the converter, which walks a function's ops in order and lowers each with the
method its family registered (``@lowers``)."""

from __future__ import annotations

from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerType
from xdsl.ir import Block, Operation, SSAValue

from rtlflow.config import ModelConfig, check_layer_names
from rtlflow.dialects import fxp, nn
from rtlflow.errors import RtlflowError
from rtlflow.lowering.carried import Carried
from rtlflow.lowering.common import (
    first_quantizer,
    index_axis_sizes,
    kind,
    lowering_of,
    quant_format,
    unsupported_reason,
)
from rtlflow.numerics.fixed_point import FixedFormat


class ConverterCore:
    """The walk over a function: input formats, each op lowered by its registered method."""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.values: dict[SSAValue, SSAValue] = {}
        #: a quantization-aware model: formats are exact unless configured (see ``exact_result``)
        self.exact = False
        #: each dense / conv layer's quantized constants, computed once (``weighted``)
        self.constants: dict[Operation, dict] = {}
        #: values carried with a scale (and offset, ReLU) not yet applied (see ``Carried``)
        self.carried: dict[SSAValue, Carried] = {}
        #: the carried form of a dense / conv / quantizer result, set while converting it
        self.outgoing: dict[Operation, Carried] = {}
        self.block: Block | None = None

    def convert(self, function: func.FuncOp) -> None:
        old = function.body.block
        names = [attr.data for attr in function.attributes["onnx.inputs"]]  # type: ignore
        check_layer_names(self.config, {op.node_name for op in old.ops if isinstance(op, nn.NnOp)})
        unknown_inputs = sorted(set(self.config.inputs) - set(names))
        if unknown_inputs:
            raise RtlflowError(
                f"the configuration names input(s) {unknown_inputs} that the model does not "
                f"have (its inputs: {', '.join(names)})"
            )
        self.exact = any(isinstance(op, nn.QuantOp) for op in old.ops)
        arg_types = []
        for name, argument in zip(names, old.args, strict=True):
            fmt = self.config.input_format(name)
            if isinstance(argument.type.element_type, IntegerType):  # type: ignore[attr-defined]
                fmt = self.integer_input_format(name, argument)
            quantizer = first_quantizer(argument)
            if quantizer is not None and name not in self.config.inputs:
                fmt = quant_format(quantizer)  # the input is quantized as the model says
            arg_types.append(fxp.fixed_tensor(nn.shape_of(argument), fmt))
        block = Block(arg_types=arg_types)
        self.block = block
        for new, argument in zip(block.args, old.args, strict=True):
            new.name_hint = argument.name_hint
            self.values[argument] = new
        for op in list(old.ops):
            if isinstance(op, func.ReturnOp):
                for value in op.arguments:
                    self.apply_carried(value)
                block.add_op(func.ReturnOp(*[self.values[v] for v in op.arguments]))
            elif not isinstance(op, nn.ConstantOp):
                if any(isinstance(v.owner, nn.ConstantOp) for v in op.operands[1:]) and isinstance(
                    op, nn.AddOp
                ):
                    raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
                for value in op.operands:
                    if value in self.carried and not self.takes_carried(op, self.carried[value]):
                        self.apply_carried(value)
                carried = self.carried.get(op.operands[0]) if op.operands else None
                if isinstance(op, nn.ReluOp) and carried is not None and not carried.linear:
                    self.values[op.output] = self.values[op.input]  # the next quantizer's job
                    self.carried[op.output] = Carried(
                        carried.scale, carried.offset, True, carried.node
                    )
                    continue
                new_op = self.convert_op(op)
                if new_op is None:  # a quantizer into the format its input already has
                    self.values[op.results[0]] = self.values[op.operands[0]]
                    continue
                block.add_op(new_op)
                new_op.results[0].name_hint = op.results[0].name_hint
                self.values[op.results[0]] = new_op.results[0]
                self.carry_through(op, carried)
        function.body.detach_block(old)
        function.body.add_block(block)
        function.update_function_type()

    def integer_input_format(self, name: str, argument: SSAValue) -> FixedFormat:
        """An integer input's format: configured (an integer format), else, for indices, the
        unsigned width that numbers the largest axis they index with at least one code to spare
        (a padding value past the real entries, which selects nothing); else the default input
        format."""
        if name in self.config.inputs:
            fmt = self.config.inputs[name]
            if fmt.frac_bits != 0:
                raise RtlflowError(
                    f"input '{name}' is an integer tensor: give it an integer format "
                    f"(fixed<W,W> or ufixed<W,W>), not {fmt}"
                )
            return fmt
        sizes = index_axis_sizes(argument)
        if not sizes:
            return self.config.input_format(name)
        width = max(sizes).bit_length()  # 0 .. 2**width - 1: at least one code selects nothing
        return FixedFormat(width, width, signed=False)

    def convert_op(self, op: Operation) -> Operation | None:
        assert isinstance(op, nn.NnOp)
        layer = self.config.layer(op.node_name)
        result = self.config.result_format(op.node_name)
        if self.exact and layer.result is None and op.results:
            result = self.exact_result(op) or result
        elif self.config.infer_precision and layer.result is None and op.results:
            result = self.inferred_result(op) or result
        lowering = lowering_of(op)
        if lowering is None:
            raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
        return lowering(self, op, layer, result)

    def input(self, op: nn.NnOp) -> SSAValue:
        return self.values[op.operands[0]]

    def result_type(self, op: nn.NnOp, fmt: FixedFormat):
        return fxp.fixed_tensor(nn.shape_of(op.results[0]), fmt)
