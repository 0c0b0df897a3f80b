"""Fixed-point formats, quantization, casts and lookup tables (rtlflow.numerics.fixed_point).

Every expectation comes from a small exact reference written here from the ap_fixed definitions
with Python integers and fractions: TRN = floor, RND = floor(x + 1/2), RND_CONV = nearest with ties
to even, WRAP = the low W bits read as two's complement (or unsigned), SAT = clamp to the raw
range, SAT_SYM = clamp to the symmetric range of a signed format.
"""

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest

from rtlflow.numerics.fixed_point import (
    FixedFormat,
    TableSpec,
    apply_overflow,
    bits_for_range,
    cast,
    dot_product_format,
    shift_right,
)

# ------------------------------------------------------------------------- exact reference


def ref_range(width, signed):
    return (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)


def ref_fit(value, width, signed, overflow):
    """(raw, overflowed) of an integer brought into ``width`` bits."""
    low, high = ref_range(width, signed)
    if overflow == "SAT_SYM" and signed:
        low += 1  # symmetric: the most negative code is never produced
    if overflow in ("SAT", "SAT_SYM"):
        return min(max(value, low), high), not low <= value <= high
    wrapped = value % 2**width
    if signed and wrapped >= 2 ** (width - 1):
        wrapped -= 2**width
    return wrapped, not low <= value <= high


def ref_round(value: Fraction, rounding):
    if rounding == "RND_CONV":
        return round(value)  # Python rounds a Fraction half to even
    return math.floor(value + Fraction(1, 2)) if rounding == "RND" else math.floor(value)


def ref_quantize(x, fmt):
    scaled = Fraction(float(x)) * Fraction(2) ** fmt.frac_bits
    return ref_fit(ref_round(scaled, fmt.rounding), fmt.width, fmt.signed, fmt.overflow)


def ref_shift(value, shift, rounding):
    """Drop ``shift`` fractional bits of an integer (negative: append zeros)."""
    return ref_round(Fraction(value, 1) / Fraction(2) ** shift, rounding)


def as_ints(array):
    return [int(v) for v in np.asarray(array).reshape(-1)]


def random_format(rng, max_width=20, modes=True):
    width = int(rng.integers(1, max_width + 1))
    return FixedFormat(
        width,
        int(rng.integers(-4, width + 5)),
        bool(rng.integers(2)),
        str(rng.choice(["TRN", "RND", "RND_CONV"])) if modes else "TRN",
        str(rng.choice(["WRAP", "SAT", "SAT_SYM"])) if modes else "WRAP",
    )


# ------------------------------------------------------------------------------ FixedFormat


@pytest.mark.parametrize(
    ("fmt", "frac_bits", "min_raw", "max_raw", "min_value", "max_value"),
    [
        (FixedFormat(16, 6), 10, -32768, 32767, -32.0, 32.0 - 2**-10),
        (FixedFormat(8, 3, signed=False), 5, 0, 255, 0.0, 8.0 - 2**-5),
        (FixedFormat(8, 8), 0, -128, 127, -128.0, 127.0),
        (FixedFormat(4, 4, signed=False), 0, 0, 15, 0.0, 15.0),
        (FixedFormat(8, -2), 10, -128, 127, -0.125, 127 / 1024),
        (FixedFormat(4, 6), -2, -8, 7, -32.0, 28.0),
        (FixedFormat(1, 1), 0, -1, 0, -1.0, 0.0),
        (FixedFormat(1, 0, signed=False), 1, 0, 1, 0.0, 0.5),
    ],
)
def test_format_properties(fmt, frac_bits, min_raw, max_raw, min_value, max_value):
    assert fmt.frac_bits == frac_bits
    assert (fmt.min_raw, fmt.max_raw) == (min_raw, max_raw)
    assert (fmt.min_value, fmt.max_value) == (min_value, max_value)
    assert fmt.lsb == 2.0**-frac_bits


def test_to_float_scales_raw_by_lsb():
    fmt = FixedFormat(8, 3)
    raw = np.array([-128, -1, 0, 1, 127])
    np.testing.assert_array_equal(fmt.to_float(raw), raw / 32.0)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (FixedFormat(16, 6), "fixed<16,6>"),
        (FixedFormat(8, 3, signed=False), "ufixed<8,3>"),
        (FixedFormat(16, 6, True, "RND", "SAT"), "fixed<16,6,RND,SAT>"),
        (FixedFormat(16, 6, True, "RND", "WRAP"), "fixed<16,6,RND,WRAP>"),
        (FixedFormat(16, 6, True, "TRN", "SAT"), "fixed<16,6,TRN,SAT>"),
        (FixedFormat(8, -2, signed=False), "ufixed<8,-2>"),
    ],
)
def test_format_str(fmt, text):
    assert str(fmt) == text
    assert FixedFormat.parse(text) == fmt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fixed<16,6>", FixedFormat(16, 6)),
        ("ufixed<8,3>", FixedFormat(8, 3, signed=False)),
        ("fixed<16,6,RND,SAT>", FixedFormat(16, 6, True, "RND", "SAT")),
        ("ap_fixed<16,6,AP_RND,AP_SAT>", FixedFormat(16, 6, True, "RND", "SAT")),
        ("ap_fixed<8,2,AP_RND_CONV,AP_SAT_SYM>", FixedFormat(8, 2, True, "RND_CONV", "SAT_SYM")),
        ("ap_ufixed<8,2,AP_SAT>", FixedFormat(8, 2, False, "TRN", "SAT")),
        ("fixed<16,6,SAT>", FixedFormat(16, 6, True, "TRN", "SAT")),
        ("fixed<16,6,SAT,RND>", FixedFormat(16, 6, True, "RND", "SAT")),
        ("fixed<16,6,rnd,sat>", FixedFormat(16, 6, True, "RND", "SAT")),
        ("  fixed< 16, 6 >  ", FixedFormat(16, 6)),
        ("int<8>", FixedFormat(8, 8)),
        ("uint<4>", FixedFormat(4, 4, signed=False)),
        ("ap_int<12>", FixedFormat(12, 12)),
        ("ap_uint<4>", FixedFormat(4, 4, signed=False)),
        ("fixed<8,-2>", FixedFormat(8, -2)),
        ("ufixed<6,-3>", FixedFormat(6, -3, signed=False)),
        ("fixed<8,12>", FixedFormat(8, 12)),
    ],
)
def test_parse(text, expected):
    assert FixedFormat.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fixed",
        "fixed<16>",
        "fixed<16,6",
        "fixed<16,6,7>",
        "fixed<16,,6>",
        "fixed<a,b>",
        "fixed<16,6,FOO>",
        "fixed<16,6,RND,SAT,TRN>",
        "int<8,3>",
        "float<3>",
        "fixed<0,0>",
        "fixed<-4,2>",
        "ap_fixed<16.5,6>",
    ],
)
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        FixedFormat.parse(text)


@pytest.mark.parametrize("text", ["INT<8>", "UInt<4>"])
def test_parse_upper_case_int(text):
    expected = FixedFormat(int(text[-2]), int(text[-2]), signed=not text.lower().startswith("u"))
    assert FixedFormat.parse(text) == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 0, "int_bits": 0}, {"width": 8, "int_bits": 2, "rounding": "RNE"},
     {"width": 8, "int_bits": 2, "overflow": "SAT_ZERO"}],
)
def test_format_validation(kwargs):
    with pytest.raises(ValueError):
        FixedFormat(**kwargs)


def test_round_trip_random_formats():
    rng = np.random.default_rng(1)
    for _ in range(200):
        fmt = random_format(rng, max_width=80)
        assert FixedFormat.parse(str(fmt)) == fmt


def test_with_modes_keeps_unchanged_modes():
    fmt = FixedFormat(10, 4, False, "RND", "WRAP")
    assert fmt.with_modes(overflow="SAT") == FixedFormat(10, 4, False, "RND", "SAT")
    assert fmt.with_modes(rounding="TRN") == FixedFormat(10, 4, False, "TRN", "WRAP")
    assert fmt.with_modes() == fmt


# ------------------------------------------------------------------------------- quantize


@pytest.mark.parametrize(
    ("x", "trn", "rnd"),
    [(2.5, 2, 3), (-2.5, -3, -2), (2.49, 2, 2), (-2.51, -3, -3), (0.5, 0, 1), (-0.5, -1, 0),
     (3.0, 3, 3), (-3.0, -3, -3), (-0.01, -1, 0)],
)
def test_quantize_rounding_examples(x, trn, rnd):
    """TRN floors, RND rounds half up (toward plus infinity), at frac_bits 0."""
    assert int(FixedFormat(8, 8, True, "TRN").quantize(x)[0]) == trn
    assert int(FixedFormat(8, 8, True, "RND").quantize(x)[0]) == rnd


@pytest.mark.parametrize(
    ("fmt", "x", "raw", "overflowed"),
    [
        (FixedFormat(8, 8), 128.0, -128, True),  # wraps to the most negative value
        (FixedFormat(8, 8), -129.0, 127, True),
        (FixedFormat(8, 8, overflow="SAT"), 1000.0, 127, True),
        (FixedFormat(8, 8, overflow="SAT"), -1000.0, -128, True),
        (FixedFormat(4, 4, signed=False), 17.0, 1, True),
        (FixedFormat(4, 4, signed=False), -1.0, 15, True),
        (FixedFormat(4, 4, signed=False, overflow="SAT"), -1.0, 0, True),
        (FixedFormat(8, 3, overflow="SAT"), 3.96875, 127, False),  # largest value, exact
        (FixedFormat(8, 3, rounding="RND", overflow="SAT"), 3.99, 127, True),  # rounds up out
    ],
)
def test_quantize_overflow_examples(fmt, x, raw, overflowed):
    got, flag = fmt.quantize(x)
    assert (int(got), bool(flag)) == (raw, overflowed)


def test_quantize_matches_reference_on_random_values():
    rng = np.random.default_rng(2)
    for _ in range(150):
        fmt = random_format(rng, max_width=40)
        span = 2.0 ** (fmt.int_bits + 2)
        values = rng.uniform(-span, span, size=40)
        # exact multiples of the LSB and half-LSB ties too
        ties = (rng.integers(-(2**12), 2**12, size=20) + 0.5) * fmt.lsb
        values = np.concatenate([values, ties, ties + 0.5 * fmt.lsb])
        raw, overflowed = fmt.quantize(values)
        assert raw.dtype == np.int64
        expected = [ref_quantize(x, fmt) for x in values]
        assert as_ints(raw) == [r for r, _ in expected]
        assert [bool(o) for o in overflowed] == [o for _, o in expected]


def test_quantize_keeps_shape():
    raw, overflowed = FixedFormat(8, 4).quantize(np.zeros((2, 3, 4)))
    assert raw.shape == overflowed.shape == (2, 3, 4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_quantize_rejects_non_finite(bad):
    with pytest.raises(ValueError):
        FixedFormat(8, 4).quantize(np.array([0.0, bad]))


@pytest.mark.parametrize(
    "fmt",
    [FixedFormat(70, 40), FixedFormat(70, 40, rounding="RND", overflow="SAT"),
     FixedFormat(64, 10, signed=False), FixedFormat(100, 60, signed=False, overflow="SAT"),
     FixedFormat(63, 63, rounding="RND")],
)
def test_quantize_wide_formats_use_python_integers(fmt):
    rng = np.random.default_rng(3)
    span = 2.0 ** (fmt.int_bits + 1)
    values = np.concatenate([rng.uniform(-span, span, 30), [0.0, fmt.lsb * 2.5, -fmt.lsb * 2.5]])
    raw, overflowed = fmt.quantize(values)
    assert raw.dtype == object
    expected = [ref_quantize(x, fmt) for x in values]
    assert as_ints(raw) == [r for r, _ in expected]
    assert [bool(o) for o in overflowed] == [o for _, o in expected]


@pytest.mark.parametrize(
    ("fmt", "x"),
    [(FixedFormat(8, 8, rounding="RND"), float(np.nextafter(0.5, 0.0))),
     (FixedFormat(60, 60, rounding="RND"), 2.0**52 + 1)],
)
def test_quantize_rnd_below_half_is_exact(fmt, x):
    assert int(fmt.quantize(x)[0]) == ref_quantize(x, fmt)[0]


# ----------------------------------------------------------- shift_right / overflow / cast


def test_shift_right_matches_reference():
    rng = np.random.default_rng(4)
    raw = rng.integers(-(2**40), 2**40, size=200)
    raw = np.concatenate([raw, [-3, -2, -1, 0, 1, 2, 3]])
    for shift in range(-12, 20):
        for rounding in ("TRN", "RND"):
            got = shift_right(raw, shift, rounding)
            assert as_ints(got) == [ref_shift(int(v), shift, rounding) for v in raw]


def test_shift_right_object_integers():
    values = [3 * 2**90 + 5, -(2**100) - 1, 2**70 - 1, -7, 0]
    raw = np.array(values, dtype=object)
    for shift in (-30, -1, 0, 1, 3, 65, 99):
        for rounding in ("TRN", "RND"):
            got = shift_right(raw, shift, rounding)
            assert as_ints(got) == [ref_shift(v, shift, rounding) for v in values]


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("overflow", ["WRAP", "SAT"])
def test_apply_overflow_matches_reference(signed, overflow):
    rng = np.random.default_rng(5)
    for width in list(range(1, 20)) + [31, 32, 33, 47, 61, 62]:
        fmt = FixedFormat(width, 0, signed, "TRN", overflow)
        bound = 2 ** min(width + 2, 62)
        raw = np.concatenate(
            [rng.integers(-bound, bound, size=60), [fmt.min_raw, fmt.max_raw, fmt.min_raw - 1,
                                                     fmt.max_raw + 1, 0, -1]]
        )
        fitted, overflowed = apply_overflow(raw, fmt)
        expected = [ref_fit(int(v), width, signed, overflow) for v in raw]
        assert fitted.dtype == np.int64
        assert as_ints(fitted) == [r for r, _ in expected]
        assert [bool(o) for o in overflowed] == [o for _, o in expected]


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("overflow", ["WRAP", "SAT"])
@pytest.mark.parametrize("width", [63, 64, 65, 100, 128])
def test_apply_overflow_wide_object_values(signed, overflow, width):
    rng = np.random.default_rng(width)
    values = [int(v) * 2 ** (width - 20) + int(w) for v, w in
              zip(rng.integers(-(2**22), 2**22, 40), rng.integers(0, 2**20, 40), strict=True)]
    fmt = FixedFormat(width, 0, signed, "TRN", overflow)
    values += [fmt.min_raw, fmt.max_raw, fmt.min_raw - 1, fmt.max_raw + 1]
    fitted, overflowed = apply_overflow(np.array(values, dtype=object), fmt)
    expected = [ref_fit(v, width, signed, overflow) for v in values]
    assert fitted.dtype == object
    assert as_ints(fitted) == [r for r, _ in expected]
    assert [bool(o) for o in overflowed] == [o for _, o in expected]


def check_cast(raw_values, raw_array, frac_bits, fmt):
    got, overflowed = cast(raw_array, frac_bits, fmt)
    expected = [
        ref_fit(ref_shift(v, frac_bits - fmt.frac_bits, fmt.rounding), fmt.width, fmt.signed,
                fmt.overflow)
        for v in raw_values
    ]
    assert as_ints(got) == [r for r, _ in expected], (frac_bits, fmt)
    assert [bool(o) for o in overflowed] == [o for _, o in expected], (frac_bits, fmt)


def test_cast_matches_reference():
    """Random source widths and fractions into random formats (shifts of both signs)."""
    rng = np.random.default_rng(6)
    for _ in range(300):
        fmt = random_format(rng, max_width=24)
        source_width = int(rng.integers(1, 30))
        frac_bits = int(rng.integers(-6, 30))
        if source_width + fmt.frac_bits - frac_bits > 62:
            continue  # int64 left shift would overflow: see test_cast_int64_left_shift_saturates
        low, high = ref_range(source_width, bool(rng.integers(2)))
        values = [int(v) for v in rng.integers(low, high + 1, size=30)] + [low, high]
        check_cast(values, np.array(values, dtype=np.int64), frac_bits, fmt)


def test_cast_wide_values_in_object_arrays():
    rng = np.random.default_rng(7)
    for _ in range(60):
        fmt = random_format(rng, max_width=100)
        frac_bits = int(rng.integers(-10, 80))
        values = [int(a) * 2**50 + int(b) for a, b in
                  zip(rng.integers(-(2**30), 2**30, 20), rng.integers(0, 2**50, 20), strict=True)]
        check_cast(values, np.array(values, dtype=object), frac_bits, fmt)


def test_cast_int64_left_shift_saturates():
    fmt = FixedFormat(62, 32, overflow="SAT")
    values = [2**40, -(2**40), 3]
    check_cast(values, np.array(values, dtype=np.int64), 0, fmt)


@pytest.mark.parametrize("fmt", [FixedFormat(70, 40), FixedFormat(64, 10, signed=False)])
def test_cast_int64_into_wide_format(fmt):
    values = [5, -3, 2**20]
    check_cast(values, np.array(values, dtype=np.int64), 4, fmt)


# ------------------------------------------------------------------------- bits_for_range


@pytest.mark.parametrize(
    ("low", "high", "signed", "expected"),
    [
        (-128, 127, None, (8, True)),
        (-129, 0, None, (9, True)),
        (-1, 0, None, (1, True)),
        (0, 255, None, (8, False)),
        (0, 256, None, (9, False)),
        (0, 0, None, (1, False)),
        (0, 5, True, (4, True)),
        (3, 3, False, (2, False)),
    ],
)
def test_bits_for_range_examples(low, high, signed, expected):
    assert bits_for_range(low, high, signed) == expected


def test_bits_for_range_is_minimal():
    rng = random.Random(8)
    for _ in range(500):
        bits = rng.randrange(0, 70)
        low, high = sorted(rng.randrange(-(2**bits), 2**bits + 1) for _ in range(2))
        for forced in (None, True, False):
            if forced is False and low < 0:
                with pytest.raises(ValueError):
                    bits_for_range(low, high, forced)
                continue
            width, signed = bits_for_range(low, high, forced)
            assert signed == (low < 0 if forced is None else forced)
            lo, hi = ref_range(width, signed)
            assert lo <= low and high <= hi
            if width > 1:
                lo, hi = ref_range(width - 1, signed)
                assert not (lo <= low and high <= hi)


def test_bits_for_range_rejects_empty_range():
    with pytest.raises(ValueError):
        bits_for_range(3, 2)


# --------------------------------------------------------------------- dot_product_format


@pytest.mark.parametrize("seed", range(25))
def test_dot_product_format_holds_every_sum_and_is_minimal(seed):
    rng = np.random.default_rng(seed)
    n_out, n_in = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    weight_format = random_format(rng, max_width=8, modes=False)
    bias_format = random_format(rng, max_width=10, modes=False)
    input_format = random_format(rng, max_width=8, modes=False)
    w_low, w_high = ref_range(weight_format.width, weight_format.signed)
    b_low, b_high = ref_range(bias_format.width, bias_format.signed)
    weights = rng.integers(w_low, w_high + 1, size=(n_out, n_in))
    biases = rng.integers(b_low, b_high + 1, size=n_out)
    if seed % 5 == 0:
        biases[:] = 0
    if seed % 7 == 0:
        weights = np.abs(weights)  # all sums of one sign for unsigned inputs

    fmt = dot_product_format(weights, weight_format, biases, bias_format, input_format)

    wlsb = Fraction(2) ** -weight_format.frac_bits
    blsb = Fraction(2) ** -bias_format.frac_bits
    xlsb = Fraction(2) ** -input_format.frac_bits
    corners = ref_range(input_format.width, input_format.signed)
    sums = []
    for n in range(n_out):
        for xs in itertools.product(corners, repeat=n_in):
            total = int(biases[n]) * blsb + sum(
                int(weights[n, k]) * wlsb * x * xlsb for k, x in enumerate(xs)
            )
            sums.append(total)
    fmt_lsb = Fraction(2) ** -fmt.frac_bits
    raws = []
    for total in sums:
        raw = total / fmt_lsb
        assert raw.denominator == 1, "sum is not exact in the format"
        raws.append(int(raw))
    assert fmt.min_raw <= min(raws) and max(raws) <= fmt.max_raw
    if fmt.width > 1:
        narrower = FixedFormat(fmt.width - 1, fmt.int_bits - 1, fmt.signed)
        assert not (narrower.min_raw <= min(raws) and max(raws) <= narrower.max_raw)
    assert fmt.signed == (min(raws) < 0)


# ------------------------------------------------------------------------------ TableSpec

REF_FUNCTIONS = {
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "tanh": math.tanh,
    "exp_neg": lambda x: math.exp(-x),
    "reciprocal": lambda x: 1.0 / x,
}

TABLES = [
    TableSpec("sigmoid", 10, -8.0, 10, -6, FixedFormat(16, 2, signed=False)),
    TableSpec("tanh", 10, -4.0, 10, -7, FixedFormat(16, 6)),
    TableSpec("tanh", 2, -4.0, 6, -4, FixedFormat(10, 2)),  # step < LSB: negative shift
    TableSpec("tanh", -2, -8.0, 4, 3, FixedFormat(10, 2)),  # negative input_frac
    TableSpec("exp_neg", 6, 0.0, 8, -3, FixedFormat(18, 1, signed=False)),
    TableSpec("reciprocal", 12, 0.5, 9, -4, FixedFormat(12, 2, signed=False)),
    TableSpec("sigmoid", 0, -3.0, 2, 1, FixedFormat(4, 1, rounding="TRN", overflow="WRAP")),
    TableSpec("tanh", 5, -1.0, 5, -5, FixedFormat(6, 1)),  # step == LSB
]


def ref_index(spec, raw):
    """floor((value - start) / step) clamped: the bin an input value lies in."""
    value = raw * Fraction(2) ** -spec.input_frac
    bin_ = math.floor((value - Fraction(spec.start)) / Fraction(2) ** spec.step_log2)
    return min(max(bin_, 0), 2**spec.index_bits - 1)


@pytest.mark.parametrize("spec", TABLES, ids=str)
def test_table_index(spec):
    lsb = Fraction(2) ** -spec.input_frac
    start_raw = Fraction(spec.start) / lsb
    span = int(2**spec.index_bits * Fraction(2) ** spec.step_log2 / lsb)
    rng = np.random.default_rng(9)
    raw = np.concatenate([
        rng.integers(int(start_raw) - span, int(start_raw) + 2 * span + 2, size=300),
        [int(start_raw) - 1, int(start_raw), int(start_raw) + span - 1, int(start_raw) + span],
    ])
    assert as_ints(spec.index(raw)) == [ref_index(spec, int(v)) for v in raw]
    assert spec.start_raw == start_raw
    assert spec.size == 2**spec.index_bits


@pytest.mark.parametrize("spec", TABLES, ids=str)
def test_table_entries_are_function_at_bin_centres(spec):
    step = Fraction(2) ** spec.step_log2
    lsb = Fraction(2) ** -spec.input_frac
    rnd_sat = spec.output.with_modes("RND", "SAT")
    expected = []
    for k in range(2**spec.index_bits):
        first = Fraction(spec.start) + k * step
        last = first + step - lsb if step >= lsb else first  # last input value in the bin
        centre = float((first + last) / 2)
        expected.append(ref_quantize(REF_FUNCTIONS[spec.function](centre), rnd_sat)[0])
    entries = spec.entries()
    assert len(entries) == spec.size
    assert as_ints(entries) == expected


@pytest.mark.parametrize("spec", TABLES, ids=str)
def test_table_lookup_out_of_range_reads_end_entries(spec):
    entries = as_ints(spec.entries())
    lsb = Fraction(2) ** -spec.input_frac
    start_raw = int(Fraction(spec.start) / lsb)
    stop_raw = int(Fraction(spec.stop) / lsb)
    low = np.array([start_raw - 1, start_raw - 1000, -(2**40)])
    high = np.array([stop_raw, stop_raw + 1000, 2**40])
    assert as_ints(spec.lookup(low)) == [entries[0]] * 3
    assert as_ints(spec.lookup(high)) == [entries[-1]] * 3
    inside = np.arange(start_raw, stop_raw)
    assert as_ints(spec.lookup(inside)) == [entries[ref_index(spec, int(v))] for v in inside]


def test_table_validation():
    with pytest.raises(ValueError):
        TableSpec("tanh", 2, -4.1, 6, -4, FixedFormat(10, 2))  # start not a multiple of LSB
    with pytest.raises(ValueError):
        TableSpec("sine", 2, -4.0, 6, -4, FixedFormat(10, 2))


def test_table_range_and_description():
    spec = TableSpec("sigmoid", 10, -8.0, 10, -6, FixedFormat(16, 2, signed=False))
    assert (spec.step, spec.stop, spec.shift) == (1 / 64, -8.0 + 1024 / 64, -6 + 10)
    assert "sigmoid" in spec.describe() and "1024 entries" in spec.describe()
