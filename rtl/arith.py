"""Exact-width integer arithmetic for building units: ranged terms, constant products, casts.

Every value carries the exact integer range it can take, so each adder is exactly as wide as its
values require and no sum can overflow. Signs travel with the terms (``negated``), so a negative
weight costs nothing: the tree subtracts instead of adding. Each helper also reports the operators
it used, ``(kind, width, size)`` triples, from which the compiler estimates delay and resources.
Ranges and casts follow the definitions in ``rtlflow.numerics.fixed_point``, which the emulator uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from amaranth.hdl import Array, Cat, Const, Module, Mux, Shape, Signal, Value, signed, unsigned

from rtlflow.numerics.fixed_point import RawBounds, bits_for_range, csd_digits

#: An operator instance: (kind, width, size). Kinds and the meaning of size:
#: "add" (adder or subtractor), "saturate" (compare and clamp; size = the clamped width when
#: known, else 0), "relu" (clamp at zero),
#: "max" (compare and select),
#: "select" (2:1 choice), "mux" (size = inputs), "rom" (a choice among size constants),
#: "equal" (comparisons of width bits with size constants, combined),
#: "multiply" (size = second operand's width), "shift_add" (a constant product as adders over
#: size canonical signed digits),
#: "memory" (a table read port, size = entries).
Operator = tuple[str, int, int]


@lru_cache(maxsize=1 << 16)
def shape_for_range(low: int, high: int) -> Shape:
    """The narrowest Amaranth shape holding every integer in [low, high] (shapes are values:
    kept, a graph asks for the same few ranges thousands of times)."""
    width, is_signed = bits_for_range(low, max(high, low))
    return signed(width) if is_signed else unsigned(width)


def fit(value: Value, low: int, high: int) -> Value:
    """``value`` (known to lie in [low, high]) narrowed to the exact shape of that range."""
    shape = shape_for_range(low, high)
    if len(value) <= shape.width:
        return value
    narrowed = value[: shape.width]
    return narrowed.as_signed() if shape.signed else narrowed


def choose(m: Module, values: list[Value], index: Value, name: str = "choice") -> Signal:
    """``values[index]`` as one multiplexer on a named wire, the list padded with its last value
    to every code of ``index`` (a complete case). A wire, because Amaranth rebuilds an
    ``Array`` proxy's case statement, and recomputes a case value's width over all its cases,
    on every use (its width, each operator it enters): seconds in a folded layer's thousands."""
    padded = list(values) + [values[-1]] * ((1 << len(index)) - len(values))
    return wire(m, Value.cast(Array(padded)[index]), name)


def wire(m: Module, value: Value, name: str) -> Signal:
    """``value`` on a named combinational wire."""
    named = Signal(value.shape(), name=name)
    m.d.comb += named.eq(value)
    return named


def extend(value: Value, width: int) -> Value:
    """``value`` sign- or zero-extended (by its shape) to at least ``width`` bits."""
    missing = width - len(value)
    if missing <= 0:
        return value
    fill = value[-1].replicate(missing) if value.shape().signed else Const(0, missing)
    extended = Cat(value, fill)
    return extended.as_signed() if value.shape().signed else extended


@dataclass(frozen=True)
class Term:
    """A value in [low, high] whose contribution to a sum is ``-value`` when ``negated``."""

    value: Value
    low: int
    high: int
    negated: bool = False

    @property
    def contribution(self) -> tuple[int, int]:
        return (-self.high, -self.low) if self.negated else (self.low, self.high)

    @property
    def width(self) -> int:
        return shape_for_range(self.low, self.high).width

    @staticmethod
    def constant(value: int) -> Term:
        return Term(Const(abs(value), shape_for_range(abs(value), abs(value))), abs(value),
                    abs(value), negated=value < 0)


def add(a: Term, b: Term) -> tuple[Term, Operator]:
    """``a + b`` with signs folded into subtraction; exact width."""
    if a.negated and not b.negated:
        a, b = b, a
    if not b.negated or a.negated:  # (+,+) or (-,-): add magnitudes
        low, high = a.low + b.low, a.high + b.high
        term = Term(fit(a.value + b.value, low, high), low, high, negated=a.negated)
    else:  # (+,-): a - b
        low, high = a.low - b.high, a.high - b.low
        term = Term(fit(a.value - b.value, low, high), low, high)
    return term, ("add", term.width, 0)


def resolve_sign(term: Term) -> tuple[Term, list[Operator]]:
    """A term with ``negated`` cleared (a negation when it was set)."""
    if not term.negated:
        return term, []
    low, high = -term.high, -term.low
    result = Term(fit(-term.value, low, high), low, high)
    return result, [("add", result.width, 0)]


def constant_multiply(x: Term, constant: int) -> tuple[Term | None, list[Operator]]:
    """``x * constant``: nothing for 0, a shift for ±2^k, one adder for two CSD digits, else a
    tree of adders over its digits (multiplierless: DSP slices are given to constant products
    only by the compiler's budget, ``rtlflow.rtl.adder_graph``). The sign of ``constant`` goes
    into ``negated``."""
    if constant == 0:
        return None, []
    magnitude = abs(constant)
    negated = (constant < 0) != x.negated
    low, high = sorted((x.low * magnitude, x.high * magnitude))
    digits = csd_digits(magnitude)
    if len(digits) == 1:
        return Term(x.value << digits[0][1], low, high, negated), []
    if len(digits) == 2:
        (small_sign, small), (_, big) = digits  # the leading digit is always +1
        first = x.value << big
        second = x.value << small
        value = first + second if small_sign > 0 else first - second
        term = Term(fit(value, low, high), low, high, negated)
        return term, [("add", term.width, 0)]
    parts = [(x.value << power, sign) for sign, power in digits]
    while len(parts) > 1:  # pairwise: ceil(log2(digits)) adder levels
        paired = []
        for (a, sa), (b, sb) in zip(parts[::2], parts[1::2]):
            paired.append((a + b, sa) if sa == sb else (a - b, sa))
        parts = paired + ([parts[-1]] if len(parts) % 2 else [])
    value, sign = parts[0]
    term = Term(fit(value if sign > 0 else -value, low, high), low, high, negated)
    return term, [("shift_add", term.width, len(digits))]


def adder_tree_levels(count: int) -> int:
    """Number of pairwise levels that reduce ``count`` terms to one."""
    levels = 0
    while count > 1:
        count = (count + 1) // 2
        levels += 1
    return levels


def pairwise_level(terms: list[Term], combine) -> tuple[list[Term], list[Operator]]:
    """One level of a pairwise tree of ``combine`` (terms 2k and 2k+1; an odd one passes)."""
    result, operators = [], []
    for index in range(0, len(terms) - 1, 2):
        term, operator = combine(terms[index], terms[index + 1])
        result.append(term)
        operators.append(operator)
    if len(terms) % 2:
        result.append(terms[-1])
    return result, operators


def add_level(terms: list[Term]) -> tuple[list[Term], list[Operator]]:
    """One level of a pairwise adder tree."""
    return pairwise_level(terms, add)


@dataclass(frozen=True)
class Cast(RawBounds):
    """Bring an integer into a W-bit output: drop ``shift`` fractional bits (negative: append),
    rounding TRN (floor), RND (add half, floor) or RND_CONV (add half - 1 and the kept LSB,
    floor: ties to even), then WRAP (keep low bits), SAT (clamp) or SAT_SYM (clamp, never the
    most negative code)."""

    shift: int
    rounding: str
    overflow: str
    width: int
    signed: bool

    @property
    def rounding_constant(self) -> int:
        """What RND and RND_CONV add before the shift (0 otherwise): half an output LSB."""
        if self.rounding in ("RND", "RND_CONV") and self.shift > 0:
            return 1 << (self.shift - 1)
        return 0

    @property
    def shape(self) -> Shape:
        return signed(self.width) if self.signed else unsigned(self.width)


def round_half_even(value: int, shift: int) -> int:
    """``value / 2**shift`` rounded to the nearest integer, ties to even."""
    quotient, rest = value >> shift, value & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    return quotient + int(rest > half or (rest == half and quotient & 1))


def apply_cast(term: Term, cast: Cast, *, rounded: bool = False) -> tuple[Term, list[Operator]]:
    """``term`` through ``cast``; ``rounded`` says the rounding constant was already added."""
    operators: list[Operator] = []
    term, negation = resolve_sign(term)
    operators += negation
    value, low, high = term.value, term.low, term.high
    constant = 0 if rounded else cast.rounding_constant
    if constant:
        low, high = low + constant, high + constant
        value = fit(value + constant, low, high)
        operators.append(("add", shape_for_range(low, high).width, 0))
    if cast.shift > 0 and cast.rounding == "RND_CONV":
        # t = v + half: t >> shift rounds half up; a tie (v's dropped bits exactly half, so
        # t's are all 0) rounds to even instead, which is t >> shift with bit 0 cleared (when
        # v >> shift is odd, t >> shift is even already): one LUT, no second adder
        tie = extend(value, cast.shift)[: cast.shift] == 0
        shifted = value >> cast.shift
        even = Cat(shifted[0] & ~tie, shifted[1:])
        half = 1 << (cast.shift - 1)
        low = round_half_even(low - half, cast.shift)
        high = round_half_even(high - half, cast.shift)
        value = fit(even.as_signed() if shifted.shape().signed else even, low, high)
        operators.append(("select", 1, 0))
    elif cast.shift > 0:
        value, low, high = value >> cast.shift, low >> cast.shift, high >> cast.shift
    elif cast.shift < 0:
        value, low, high = value << -cast.shift, low << -cast.shift, high << -cast.shift
    if low >= cast.saturation_low and high <= cast.max_raw:
        return Term(fit(value, low, high), low, high), operators
    if cast.overflow in ("SAT", "SAT_SYM"):
        if high > cast.max_raw:
            value = Mux(value > cast.max_raw, cast.max_raw, value)
        if low < cast.saturation_low:
            value = Mux(value < cast.saturation_low, cast.saturation_low, value)
        width = shape_for_range(low, high).width
        # both ends into the format (a range wholly beyond one bound becomes that bound)
        low = min(max(low, cast.saturation_low), cast.max_raw)
        high = max(min(high, cast.max_raw), cast.saturation_low)
        operators.append(("saturate", width, shape_for_range(low, high).width))
        return Term(fit(value, low, high), low, high), operators
    wrapped = extend(value, cast.width)[: cast.width]
    return Term(wrapped.as_signed() if cast.signed else wrapped, cast.min_raw, cast.max_raw), operators


def maximum(a: Term, b: Term) -> tuple[Term, Operator]:
    """The larger of two (non-negated) terms."""
    a, _ = resolve_sign(a)
    b, _ = resolve_sign(b)
    low, high = max(a.low, b.low), max(a.high, b.high)
    term = Term(fit(Mux(a.value > b.value, a.value, b.value), low, high), low, high)
    return term, ("max", max(a.width, b.width), 0)


def max_level(terms: list[Term]) -> tuple[list[Term], list[Operator]]:
    """One level of a pairwise maximum tree."""
    return pairwise_level(terms, maximum)
