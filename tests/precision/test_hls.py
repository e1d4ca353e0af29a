"""HLS type strings: parsing, defaults, round trips and malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from precision import FixedPoint
from precision.modes import HLS_OVERFLOW, HLS_ROUNDING


@pytest.mark.parametrize("spec, expected", [
    ("ap_fixed<16,6,AP_RND_CONV,AP_SAT>",
     FixedPoint(6, 10, rounding="nearest_even", overflow="saturate")),
    ("ap_fixed<16,6>", FixedPoint(6, 10, rounding="floor", overflow="wrap")),
    ("ap_ufixed<8, 2, AP_RND>", FixedPoint(2, 6, signed=False, rounding="nearest",
                                           overflow="wrap")),
    (" ap_fixed< 8 , 8 , AP_TRN , AP_WRAP , 3 > ",
     FixedPoint(8, 0, rounding="floor", overflow="wrap", saturation_bits=3)),
    ("ap_fixed<8,-2,AP_RND_ZERO,AP_SAT_SYM>",
     FixedPoint(-2, 10, rounding="nearest_zero", overflow="saturate_symmetric")),
    ("ap_fixed<4,10,AP_RND_MIN_INF,AP_SAT_ZERO>",
     FixedPoint(10, -6, rounding="nearest_down", overflow="saturate_zero")),
    ("ap_fixed<5,1,AP_RND_INF,AP_WRAP_SM,2>",
     FixedPoint(1, 4, rounding="nearest_away", overflow="wrap_sign_magnitude",
                saturation_bits=2)),
    ("ap_int<8>", FixedPoint(8, 0, rounding="toward_zero", overflow="wrap")),
    ("ap_uint<64>", FixedPoint(64, 0, signed=False, rounding="toward_zero", overflow="wrap")),
])
def test_from_hls(spec, expected):
    assert FixedPoint.from_hls(spec) == expected


@st.composite
def hls_formats(draw):
    wl = draw(st.integers(1, 64))
    signed = draw(st.booleans())
    overflow = draw(st.sampled_from([o for o in HLS_OVERFLOW.values()
                                     if signed or o != "wrap_sign_magnitude"]))
    fl = draw(st.integers(-20, 60))
    return FixedPoint(
        il=wl - fl, fl=fl, signed=signed,
        rounding=draw(st.sampled_from(list(HLS_ROUNDING.values()))), overflow=overflow,
        saturation_bits=draw(st.integers(0, wl)) if overflow.startswith("wrap") else 0)


@given(hls_formats())
def test_round_trip(fmt):
    """from_hls(to_hls(f)) == f for every HLS-expressible format."""
    text = fmt.to_hls()
    assert text.startswith("ap_")
    assert FixedPoint.from_hls(text) == fmt


@pytest.mark.parametrize("fmt, text", [
    (FixedPoint(6, 10, rounding="floor", overflow="wrap"), "ap_fixed<16,6>"),
    (FixedPoint(6, 10, rounding="nearest", overflow="wrap"), "ap_fixed<16,6,AP_RND>"),
    (FixedPoint(6, 10), "ap_fixed<16,6,AP_RND,AP_SAT>"),
    (FixedPoint(8, 0, signed=False, rounding="toward_zero", overflow="wrap"), "ap_uint<8>"),
    (FixedPoint(8, 0, overflow="wrap", saturation_bits=1), "ap_fixed<8,8,AP_RND,AP_WRAP,1>"),
])
def test_to_hls_is_shortest(fmt, text):
    assert fmt.to_hls() == text


def test_stochastic_has_no_hls_name():
    with pytest.raises(ValueError, match="rounding='stochastic' has no HLS equivalent"):
        FixedPoint(4, 4, rounding="stochastic").to_hls()


@pytest.mark.parametrize("spec, why", [
    ("ap_fixed<16>", "takes 2 to 5 arguments"),
    ("ap_fixed<16,6,AP_FOO>", "Q='AP_FOO' is not one of"),
    ("ap_fixed<16,6,AP_RND,AP_BAR>", "O='AP_BAR' is not one of"),
    ("ap_fixed<16,6,AP_RND,AP_WRAP,x>", "N='x' is not an integer"),
    ("ap_fixed<a,6>", "W='a' is not an integer"),
    ("ap_int<8,2>", "takes exactly one integer width"),
    ("ap_fixed(16,6)", "not of the form"),
    ("ap_float<8,23>", "not of the form"),
    ("ap_fixed<16,6,AP_RND,AP_SAT,1,2>", "takes 2 to 5 arguments"),
])
def test_malformed_strings(spec, why):
    """The error shows the string, the reason and the grammar."""
    with pytest.raises(ValueError, match=rf"malformed HLS type .*{why}.*expected ap_fixed<W,I"):
        FixedPoint.from_hls(spec)


def test_invalid_formats_from_hls_keep_format_errors():
    with pytest.raises(ValueError, match=r"wl=il\+fl=65 .* expected 1 <= wl <= 64"):
        FixedPoint.from_hls("ap_fixed<65,1>")
    with pytest.raises(ValueError, match="saturation_bits=9 is out of range"):
        FixedPoint.from_hls("ap_fixed<8,1,AP_TRN,AP_WRAP,9>")
    with pytest.raises(ValueError, match="needs a signed format"):
        FixedPoint.from_hls("ap_ufixed<8,1,AP_TRN,AP_WRAP_SM>")
    with pytest.raises(TypeError, match="an HLS type must be a string"):
        FixedPoint.from_hls(8)
