"""Current code reproduces tests/golden/compress.npz bit for bit (see make_compress.py)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.conftest import GOLDEN
from tests.golden.make_compress import golden


def test_compression_matches_the_golden_file():
    path = GOLDEN / "compress.npz"
    if not path.exists():
        pytest.fail(f"{path} is missing: run python tests/golden/make_compress.py")
    with np.load(path, allow_pickle=False) as f:
        expected = dict(f)
    current = golden()
    assert current.keys() == expected.keys()
    for key, value in expected.items():
        assert current[key].dtype == value.dtype, key
        assert_array_equal(current[key], value, err_msg=key)
