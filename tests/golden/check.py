"""The one comparison of every golden test: current outputs equal a frozen ``.npz`` bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.conftest import GOLDEN


def assert_matches_golden(name: str, current: dict) -> None:
    """``current`` (key -> array) equals ``tests/golden/<name>.npz``: same keys, dtypes, bits."""
    path = GOLDEN / f"{name}.npz"
    if not path.exists():
        pytest.fail(f"{path} is missing: run python tests/golden/make_{name}.py")
    with np.load(path, allow_pickle=False) as f:
        expected = dict(f)
    assert current.keys() == expected.keys()
    for key, value in expected.items():
        assert current[key].dtype == value.dtype, key
        assert_array_equal(current[key], value, err_msg=key)
