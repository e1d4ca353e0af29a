"""Every frozen ops output in tests/golden/ops.npz is reproduced bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.conftest import GOLDEN
from tests.golden.make_ops import cases

_CASES = cases()


def test_golden_file_covers_every_case():
    with np.load(GOLDEN / "ops.npz") as data:
        assert sorted(data.files) == sorted(_CASES)


@pytest.mark.parametrize("name", sorted(_CASES))
def test_golden(name):
    with np.load(GOLDEN / "ops.npz") as data:
        expected = data[name]
    got = np.asarray(_CASES[name]())
    assert got.dtype == expected.dtype
    assert_array_equal(got, expected)
