"""Current fixed/dynamic codes equal the frozen golden vectors bit for bit."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from precision import get
from tests.golden.make_fixed import DYNAMIC, FORMATS, OUT, SEED, inputs, outputs
from tests.naive_fixed import naive_fixed_quantize


def test_inputs_are_reproducible():
    """The seeded input grid itself has not drifted (else the comparison below is moot)."""
    with np.load(OUT) as golden:
        for key, value in inputs().items():
            assert_array_equal(value, golden[f"input/{key}"])


def test_outputs_equal_golden():
    with np.load(OUT) as file:
        golden = dict(file)
    data = {k[len("input/"):]: golden[k] for k in golden if k.startswith("input/")}
    current = outputs(data)
    assert set(current) == {k for k in golden if not k.startswith("input/")}
    for key, value in current.items():
        assert value.dtype == golden[key].dtype, key
        assert_array_equal(value, golden[key], err_msg=key)
    assert len(FORMATS) + len(DYNAMIC) == len({k.split("/")[0] for k in current})


def test_golden_agrees_with_the_reference():
    """The frozen codes are themselves right (checked against Fractions)."""
    with np.load(OUT) as file:
        golden = dict(file)
    for key, spec in FORMATS:
        expected = naive_fixed_quantize(golden["input/x"], get(spec), key=SEED)
        assert_array_equal(golden[f"{key}/codes"], expected, err_msg=key)
