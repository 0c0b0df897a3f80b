"""What passes ask of an op, declared where the op is defined.

A pass that needs to know whether an op is element-wise, only moves data, can share a unit over
rows or work on a pixel stream asks the op for the trait (``op.has_trait(ElementWise)``,
``holds(op, Streamable)``) instead of keeping its own list of op classes. A trait that holds for
some instances only (max pooling, not average pooling) carries a ``when`` predicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.ir import Operation
from xdsl.traits import OpTrait


@dataclass(frozen=True)
class ConditionalTrait(OpTrait):
    """A trait that holds for the instances ``when`` accepts (all of them without one)."""

    when: Callable[[Operation], bool] | None = None

    def holds(self, op: Operation) -> bool:
        return self.when is None or self.when(op)


def holds(op: Operation, trait: type[ConditionalTrait]) -> bool:
    """Whether ``op`` declares ``trait`` and it holds for this instance."""
    found = op.get_trait(trait)
    return found is not None and found.holds(op)


@dataclass(frozen=True)
class ElementWise(OpTrait):
    """Each result element is a function of the same input element alone (no per-element
    constants): a transpose or reshape commutes with the op unchanged."""


@dataclass(frozen=True)
class MovesData(OpTrait):
    """Only moves, repeats or selects the elements of its data input: its result takes that
    input's format and computes nothing."""


@dataclass(frozen=True)
class BoundedResult(OpTrait):
    """The op fixes its result's range itself (a table of a bounded function, softmax, a
    quantizer), so ranges measured on data say nothing new about it."""


@dataclass(frozen=True)
class KeepsGrid(ConditionalTrait):
    """Passes values on, or selects among them and zero (ReLU, max pooling, moves, zero
    padding): a value's place between two points of a fixed-point grid survives the op."""


@dataclass(frozen=True)
class RowFoldable(OpTrait):
    """Works row by row over the last axis: with a reuse factor R, the rows share one unit
    over R cycles (II = R)."""


@dataclass(frozen=True)
class RowWise(OpTrait):
    """Computes rows alike and apart: each result row (``width(op)`` elements, the last axis by
    default) from the same row of every operand alone, so rows nobody reads can be left out;
    ``per_element``: each result element from the same element of every operand."""

    width: Callable[[Operation], int] | None = None
    per_element: bool = False

    def row_width(self, op: Operation) -> int:
        if self.width is not None:
            return self.width(op)
        return op.results[0].type.get_shape()[-1]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Streamable(ConditionalTrait):
    """Can work on a pixel stream (one pixel, every channel, per beat) when its input is one."""


@dataclass(frozen=True)
class HasTables(OpTrait):
    """Holds lookup tables; the op's ``lookup_tables()`` lists them for the report."""

    def verify(self, op: Operation) -> None:
        assert callable(getattr(op, "lookup_tables", None)), f"{op.name} has no lookup_tables()"
