"""A small sweep's figures equal the frozen golden file bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from tests.golden import make_lowbit


def test_sweep_figures_equal_the_golden_file(tmp_path):
    if not make_lowbit.OUT.exists():
        pytest.fail(f"{make_lowbit.OUT} is missing: run python tests/golden/make_lowbit.py")
    got = make_lowbit.compute(tmp_path)
    with np.load(make_lowbit.OUT, allow_pickle=False) as golden:
        assert sorted(golden.files) == sorted(got)
        for name in golden.files:
            np.testing.assert_array_equal(got[name], golden[name], err_msg=name)
