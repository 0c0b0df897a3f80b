"""Hardware units, units with lookup tables: tables, softmax, layer normalisation."""

from __future__ import annotations

import math

from rtlflow.dialects import fxp
from rtlflow.rtl.layer_norm import LayerNormUnit
from rtlflow.rtl.softmax import SoftmaxUnit
from rtlflow.rtl.table import TableUnit
from rtlflow.units.core import UnitSpec, builds, cast_into, elements, shape_of


@builds(fxp.TableOp)
def _table(op: fxp.TableOp) -> UnitSpec:
    table = op.table
    count = elements(op)
    return UnitSpec(
        f"table_{table.function}",
        str(count),
        TableUnit,
        {
            "entries": tuple(int(e) for e in table.entries()),
            "entry_shape": shape_of(op.output_format),
            "start": table.start_raw,
            "shift": table.shift,
            "input_shape": shape_of(op.input_format),
            "count": count,
        },
    )


@builds(fxp.SoftmaxOp)
def _softmax(op: fxp.SoftmaxOp) -> UnitSpec:
    shape = fxp.tensor_shape(op.input)
    exp_table, inv_table = op.exp_table, op.inv_table
    frac = exp_table.output.frac_bits + inv_table.output.frac_bits
    return UnitSpec(
        "softmax",
        f"{math.prod(shape[:-1])}x{shape[-1]}",
        SoftmaxUnit,
        {
            "rows": math.prod(shape[:-1]),
            "n": shape[-1],
            "input_shape": shape_of(op.input_format),
            "exp_entries": tuple(int(e) for e in exp_table.entries()),
            "exp_shape": shape_of(exp_table.output),
            "exp_shift": exp_table.shift,
            "inv_entries": tuple(int(e) for e in inv_table.entries()),
            "inv_shape": shape_of(inv_table.output),
            "inv_start": inv_table.start_raw,
            "inv_shift": inv_table.shift,
            "casts": (cast_into(op.output_format, frac),),
        },
    )


@builds(fxp.LayerNormOp)
def _layer_norm(op: fxp.LayerNormOp) -> UnitSpec:
    shape, n, table = fxp.tensor_shape(op.input), op.count, op.table
    frac, scale, bias = op.aligned()
    return UnitSpec(
        "layer_norm",
        f"{math.prod(shape) // n}x{n}",
        LayerNormUnit,
        {
            "rows": math.prod(shape) // n,
            "n": n,
            "input_shape": shape_of(op.input_format),
            "entries": tuple(int(e) for e in table.entries()),
            "entry_shape": shape_of(table.output),
            "offset": table.offset,
            "thresholds": table.thresholds,
            "scale": tuple(int(v) for v in scale),
            "bias": tuple(int(v) for v in bias),
            "casts": (cast_into(op.output_format, frac),),
        },
    )
