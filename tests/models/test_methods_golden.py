"""Low-precision training reproduces tests/golden/methods.npz bit for bit."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from tests.golden.make_methods import OUT, golden


def test_methods_reproduce_the_golden_file():
    """Parameters, logits and losses of four seeded runs equal the frozen ones exactly."""
    with np.load(OUT, allow_pickle=False) as f:
        frozen = {k: f[k] for k in f.files}
    current = golden()
    assert sorted(current) == sorted(frozen)
    for key, value in frozen.items():
        assert current[key].dtype == value.dtype, key
        assert_array_equal(current[key], value, err_msg=key)
