"""fxp → hardware: the rtl unit and its integer parameters for every hardware-level op.

``core`` holds ``UnitSpec``, the registry (``@builds``) and ``unit_spec``; each op family's module
registers the builders of its fxp ops:

    linear       dense (and its adder graph, one row module per row), matmul
    elementwise  scale_shift, relu, leaky_relu, clip, cast, threshold, add
    tables       table, softmax, layer_norm
    windows      conv, pool (parallel, or on a pixel stream)
    routing      transpose, pad, concat, take, gather, scatter
    folding      rows folded over R phases (reuse factor of softmax, layer norm, matmul)
    spec         unit_spec: the unit of any hardware-level op
"""

from rtlflow.units import elementwise, linear, routing, tables, windows  # noqa: F401 - each module registers its builders
from rtlflow.units.core import UnitSpec, builds, cast_into, shape_of
from rtlflow.units.linear import (
    CARRY, adder_graph_spec, dense_casts, graph_node, graph_nodes, row_registers, row_spec,
)  # fmt: skip
from rtlflow.units.spec import unit_spec

__all__ = [
    "CARRY", "UnitSpec", "adder_graph_spec", "builds", "cast_into", "dense_casts", "graph_node",
    "graph_nodes", "row_registers",
    "row_spec", "shape_of", "unit_spec",
]  # fmt: skip
