"""Conversions between numpy arrays and builtin dense attributes (constants, weights, tables)."""

from __future__ import annotations

import functools
import struct

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    Float64Type,
    IntegerType,
    TensorType,
    f32,
    i64,
)

from rtlflow.numerics.windows import Window



def dense_from_numpy(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    """A dense attribute holding ``array``: floats as f32, integers as i64."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        element, data = f32, array.astype("<f4")
    elif np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_):
        element, data = i64, array.astype("<i8")
    elif array.dtype == object:
        values = [int(v) for v in array.reshape(-1)]
        if any(v < -(2**63) or v >= 2**63 for v in values):
            raise ValueError("constants wider than 64 bits cannot be stored in the IR")
        element, data = i64, np.array(values, dtype="<i8").reshape(array.shape)
    else:
        raise TypeError(f"no dense attribute for numpy dtype {array.dtype}")
    return DenseIntOrFPElementsAttr(TensorType(element, array.shape), BytesAttr(data.tobytes()))


def numpy_from_dense(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """The values of a dense attribute as a numpy array of its shape (float32 or int64)."""
    element = attr.get_element_type()
    shape = attr.get_shape()
    if isinstance(element, Float32Type):
        dtype = "<f4"
    elif isinstance(element, Float64Type):
        dtype = "<f8"
    elif isinstance(element, IntegerType) and element.width.data == 64:
        dtype = "<i8"
    else:
        return np.array(attr.get_values()).reshape(shape)
    values = np.frombuffer(attr.data.data, dtype=dtype)
    if values.size == 1 and int(np.prod(shape)) != 1:
        values = np.broadcast_to(values, (int(np.prod(shape)),))
    return values.reshape(shape).astype(np.float32 if dtype.startswith("<f") else np.int64)


def int_array(values) -> DenseArrayBase:
    """``array<i64: ...>`` from Python integers (one attribute per distinct list: attributes are
    immutable, and the adder graphs' shift and sign lists repeat thousands of times)."""
    return _int_array(tuple(int(v) for v in values))


@functools.lru_cache(maxsize=4096)
def _int_array(values: tuple[int, ...]) -> DenseArrayBase:
    try:
        data = struct.pack(f"<{len(values)}q", *values)  # i64's layout, as xDSL packs it
    except struct.error:
        raise ValueError(f"integers beyond 64 bits in an array: {values}") from None
    return DenseArrayBase(i64, BytesAttr(data))


def int_tuple(attr: DenseArrayBase) -> tuple[int, ...]:
    """The integers of an ``array<i64: ...>``."""
    if attr.elt_type == i64:
        data = attr.data.data
        return struct.unpack(f"<{len(data) // 8}q", data)
    return tuple(int(v) for v in attr.get_values())  # type: ignore[arg-type]


#: the array properties that hold a window op's geometry (conv and pooling, both levels)
WINDOW_PROPERTIES = ("kernel", "strides", "pads", "dilations")


def window_properties(window: Window) -> dict[str, DenseArrayBase]:
    """The array properties of a window op from its geometry."""
    return {name: int_array(getattr(window, name)) for name in WINDOW_PROPERTIES}


def window_of(op, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> Window:
    """The geometry of a window op from its array properties and its tensors' spatial shapes."""
    kernel, strides, pads, dilations = (int_tuple(getattr(op, n)) for n in WINDOW_PROPERTIES)
    return Window(tuple(input_shape[2:]), kernel, strides, pads, dilations, tuple(output_shape[2:]))
