"""Streaming units: one pixel (all its channels) per beat, line buffers build the windows.

The streaming architecture for images too large to compute at once. A tensor ``[C, *spatial]``
travels as ``prod(spatial)`` beats in raster order, beat ``p`` holding the C channels of pixel
``p``. :class:`StreamWindowUnit` shifts every accepted beat into a line buffer that holds the
last ``(K_h - 1) d_h W + (K_w - 1) d_w + 1`` pixels; when the newest pixel completes a window
whose position the strides select, the window is presented (one cycle later, registered) to the
window's arithmetic: a convolution (one output pixel, all output channels, as the dense unit
builds it) or a pooling tree per channel. :class:`CollectUnit` gathers a stream back into a
whole tensor for the layers that need all of it (a dense head).

Backpressure: in a streaming design every unit is built with ``stall``, and a low ``en`` holds
every register; the top level lowers ``en`` while an output waits for ``ready``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, unsigned
from amaranth.lib.memory import Memory

from rtlflow.rtl.arith import Cast, Term, choose
from rtlflow.rtl.dense import linear_sums
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages
from rtlflow.rtl.pool import pool_groups
from rtlflow.numerics.windows import Window, padded_axes


def _flag(values: list[bool], index: Value) -> Value:
    """``values[index]`` of a constant list of flags: one bit of a constant selected by a shift
    (a table lookup would be a chain of conditionals as long as the list, which the Verilog of a
    200-pixel row makes too deep for Yosys to parse). An index past the list reads 0."""
    mask = sum(1 << i for i, v in enumerate(values) if v)
    return Const(mask, max(1, len(values))).bit_select(index, 1)


def beat_history(m: Module, accept: Value, beat: list[Value], depth: int, name: str):
    """A shift register of the last ``depth`` accepted beats, newest first."""
    history = [
        [Signal(v.shape(), name=f"{name}{d}_c{c}", reset_less=True) for c, v in enumerate(beat)]
        for d in range(depth)
    ]
    with m.If(accept):
        m.d.sync += [register.eq(value) for register, value in zip(history[0], beat, strict=True)]
        for d in range(1, depth):
            m.d.sync += [a.eq(b) for a, b in zip(history[d], history[d - 1], strict=True)]
    return history


def wrapping_counter(m: Module, advance: Value, size: int, name: str) -> tuple[Signal, Value]:
    """A counter 0 .. size - 1 that steps when ``advance`` and wraps; and its last value."""
    counter = Signal(range(max(2, size)), name=name)
    last = counter == size - 1
    with m.If(advance):
        m.d.sync += counter.eq(Mux(last, 0, counter + 1))
    return counter, last


def selected_positions(window: Window) -> list[tuple[list[bool], ...]]:
    """Per spatial axis (rows, columns): for each input coordinate, whether a window whose last
    tap sits there is an output position."""
    flags = []
    for axis in range(window.rank):
        span = window.dilations[axis] * (window.kernel[axis] - 1)
        stride, out = window.strides[axis], window.output_shape[axis]
        flags.append([
            c >= span and (c - span) % stride == 0 and (c - span) // stride < out
            for c in range(window.input_shape[axis])
        ])
    return flags


class StreamWindowUnit(Unit):
    """A convolution or pooling layer on a pixel stream (1-D or 2-D, no padding).

    Parameters
    ----------
    kind : "conv", "max" or "average".
    window : the geometry (unpadded).
    channels : C_in (elements per input beat).
    weights : conv only, [C_out][C_in / group][taps] integers in the accumulator's LSB.
    bias : conv only, C_out integers in the accumulator's LSB.
    group : conv only.
    scale : average only, the constant the window sum is multiplied by.
    input_shape, casts, registers, stall : as for the other units.

    Latency: 1 (the line buffer) plus the registered boundaries after it; one beat per cycle.
    """

    def __init__(
        self,
        *,
        kind: str,
        window: Window,
        channels: int,
        input_shape,
        casts: tuple[Cast, ...],
        weights: tuple = (),
        bias: tuple[int, ...] = (),
        group: int = 1,
        scale: int = 1,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if window.padded or window.rank > 2:
            raise ValueError("streaming windows are 1-D or 2-D and unpadded")
        if kind not in ("conv", "max", "average"):
            raise ValueError("kind is conv, max or average")
        self.kind, self.window, self.channels = kind, window, channels
        self.weights, self.bias, self.group, self.scale = weights, tuple(bias), group, scale
        self.casts = tuple(casts)
        shape = (1,) * (2 - window.rank) + tuple(window.input_shape)
        kernel = (1,) * (2 - window.rank) + tuple(window.kernel)
        dilation = (1,) * (2 - window.rank) + tuple(window.dilations)
        self.width = shape[1]
        # offsets (in pixels, back from the newest) of every tap, taps in C order
        self.offsets = [
            ((kernel[0] - 1 - i) * dilation[0]) * shape[1] + (kernel[1] - 1 - j) * dilation[1]
            for i in range(kernel[0])
            for j in range(kernel[1])
        ]
        self.depth = max(self.offsets) + 1
        self.held_bits = self.depth * channels * Shape.cast(input_shape).width
        outputs = len(weights) if kind == "conv" else channels
        super().__init__(
            input_shape=input_shape,
            input_count=channels,
            output_shape=casts[-1].shape,
            output_count=outputs,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        window_terms = self._line_buffer(m, pipeline, inputs)
        taps = self.window.taps_per_window
        if self.kind == "conv":
            per_out = len(self.weights) // self.group
            per_in = len(self.weights[0])
            rows = []
            for co, planes in enumerate(self.weights):
                first = (co // per_out) * per_in
                rows.append([
                    ((first + ci) * taps + t, w)
                    for ci in range(per_in)
                    for t, w in enumerate(planes[ci])
                ])
            rounding = self.casts[0].rounding_constant
            sums = linear_sums(
                pipeline, window_terms, rows, [b + rounding for b in self.bias], started=True
            )
            return [t.value for t in cast_stages(pipeline, sums, self.casts, rounded=True)]
        groups = [window_terms[c * taps : (c + 1) * taps] for c in range(self.channels)]
        results = pool_groups(pipeline, groups, self.kind, [self.scale] * self.channels)
        return [t.value for t in cast_stages(pipeline, results, self.casts)]

    def _line_buffer(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Term]:
        """Boundary 0: the line buffer. Returns the window as terms [C_in, taps] (C order)."""
        pipeline.stage_forced("", [], 0)
        accept = pipeline.valid
        pixels = beat_history(m, accept, [term.value for term in inputs], self.depth, "line")
        # the newest pixel's coordinates (counted over accepted beats, wrapping per image)
        shape = (1,) * (2 - self.window.rank) + tuple(self.window.input_shape)
        column, last_column = wrapping_counter(m, accept, shape[1], "column")
        row, _ = wrapping_counter(m, accept & last_column, shape[0], "row")
        flags = selected_positions(self.window)
        row_flags = [True] * shape[0] if self.window.rank == 1 else flags[0]
        column_flags = flags[-1]
        valid = Signal(name="window_valid")
        m.d.sync += valid.eq(accept & _flag(row_flags, row) & _flag(column_flags, column))
        pipeline.valid = valid
        low, high = inputs[0].low, inputs[0].high
        return [
            Term(pixels[offset][c], low, high)
            for c in range(self.channels)
            for offset in self.offsets
        ]


def padded_positions(shape, pads) -> tuple[list[bool], list[bool]]:
    """``padded_axes`` as rows and columns (1-D: one row)."""
    axes = [axis.tolist() for axis in padded_axes(shape, pads)]
    return ([True], axes[0]) if len(axes) == 1 else (axes[0], axes[1])


#: buffers deeper than this are a memory (the synthesis tool maps it to LUT or block RAM), not
#: registers and a multiplexer
MEMORY_DEPTH = 16


def beat_fifo(
    m: Module, push: Value, values: list[Value], pop: Value, depth: int, name: str
) -> tuple[list[Value], Value]:
    """A first-in first-out buffer of ``depth`` beats: ``values`` enter when ``push``, the oldest
    leaves when ``pop`` (only while there is one). Returns the oldest beat's values (same
    shapes) and whether there is one; a beat pushed in cycle t can leave in cycle t + 1."""
    data = Cat(*values)
    write = Signal(range(max(2, depth)), name=f"{name}_write")  # (never zero bits wide)
    read = Signal(range(max(2, depth)), name=f"{name}_read")
    count = Signal(range(depth + 1), name=f"{name}_count")
    with m.If(push):
        m.d.sync += write.eq(Mux(write == depth - 1, 0, write + 1))
    with m.If(pop):
        m.d.sync += read.eq(Mux(read == depth - 1, 0, read + 1))
    m.d.sync += count.eq(count + push - pop)
    if depth > MEMORY_DEPTH:  # a memory (distributed or block RAM), read without a clock
        memory = Memory(shape=unsigned(len(data)), depth=depth, init=[])
        memory._MustUse__silence = True  # (a plan's dry run builds it and never elaborates it)
        m.submodules[f"{name}_memory"] = memory
        stored, oldest_port = memory.write_port(), memory.read_port(domain="comb")
        m.d.comb += [
            stored.addr.eq(write), stored.data.eq(data), stored.en.eq(push),
            oldest_port.addr.eq(read),
        ]  # fmt: skip
        head = oldest_port.data
    else:
        entries = [Signal(len(data), name=f"{name}{k}", reset_less=True) for k in range(depth)]
        for k, entry in enumerate(entries):
            with m.If(push & (write == k)):
                m.d.sync += entry.eq(data)
        head = choose(m, entries, read, f"{name}_head") if depth > 1 else entries[0]
    oldest, offset = [], 0
    for value in values:
        shape = value.shape()
        bits = head[offset : offset + shape.width]
        oldest.append(bits.as_signed() if shape.signed else bits)
        offset += shape.width
    return oldest, count != 0


class StreamPadUnit(Unit):
    """A pixel stream with an image border of zero pixels inserted, for the padded convolution
    that reads it (``fxp.pad`` on a stream).

    Row and column counters walk the padded grid, one position per beat sent. A border position
    sends zeros at once; a position inside the image sends the image's next pixel as soon as it
    is there. The border before an image's first pixel is sent ahead, as soon as the previous
    image has passed, and the border after its last pixel follows it at once, which completes the
    last windows without waiting for the next image. Reading the design input (``fifo`` 0), the
    unit holds the input while it sends the border: ``take`` (the top level's ``in_ready``, with
    the design's enable) is low, an image takes the padded grid's beats and II = those beats.
    Deeper in a stream (after a pooling, whose beats leave idle cycles), the pixels that arrive
    while the border is sent wait in a first-in first-out buffer of ``fifo`` beats (as many as
    the compiler's beat schedule ever holds), one cycle at least. Latency 1: the beat sent is
    registered (forced boundary 0).
    """

    def __init__(
        self, *, shape, channels: int, image: tuple[int, ...], pads: tuple[int, ...],
        fifo: int = 0, registers: tuple[int, ...] | frozenset[int] = (), stall: bool = False,
    ):  # fmt: skip
        self.image, self.pads, self.channels, self.fifo = tuple(image), tuple(pads), channels, fifo
        if fifo:  # the sent beat's register and the buffer (deeper ones are memories)
            registered = 1 + (fifo if fifo <= MEMORY_DEPTH else 0)
            self.held_bits = registered * channels * Shape.cast(shape).width
        super().__init__(
            input_shape=shape,
            input_count=channels,
            output_shape=shape,
            output_count=channels,
            registers=registers,
            stall=stall,
            take=not fifo,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        rows, columns = padded_positions(self.image, self.pads)
        inside, send = Signal(name="inside"), Signal(name="send")
        values = [term.value for term in inputs]
        if self.fifo:
            values, waiting = beat_fifo(m, pipeline.valid, values, send & inside, self.fifo, "fifo")
        else:
            waiting = pipeline.valid
            m.d.comb += self.take.eq(inside)
        m.d.comb += send.eq(Mux(inside, waiting, 1))  # the image's pixel, or a border zero
        column, last_column = wrapping_counter(m, send, len(columns), "column")
        row, _ = wrapping_counter(m, send & last_column, len(rows), "row")
        m.d.comb += inside.eq(_flag(rows, row) & _flag(columns, column))
        pipeline.valid = send
        pipeline.forced.add(0)
        return pipeline.start([Mux(inside, value, 0) for value in values])


class CollectUnit(Unit):
    """A stream of ``beats`` beats of ``channels`` elements gathered into one ``[C, beats]``
    tensor, presented for one cycle after its last beat arrives. Latency 1 (from the last beat).
    """

    def __init__(self, *, shape, channels: int, beats: int, stall: bool = False):
        self.channels, self.beats = channels, beats
        self.held_bits = beats * channels * Shape.cast(shape).width
        super().__init__(
            input_shape=shape,
            input_count=channels,
            output_shape=shape,
            output_count=channels * beats,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        pipeline.stage_forced("", [], 0)
        accept = pipeline.valid
        history = beat_history(m, accept, [term.value for term in inputs], self.beats, "slot")
        slots = history[::-1]  # slots[b]: beat b of the image, once the last one is in
        _, last = wrapping_counter(m, accept, self.beats, "count")
        valid = Signal(name="collected")
        m.d.sync += valid.eq(accept & last)
        pipeline.valid = valid
        return [slots[b][c] for c in range(self.channels) for b in range(self.beats)]
