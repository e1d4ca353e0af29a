"""Current code reproduces tests/golden/models.npz bit for bit (see make_models.py)."""

from tests.golden.check import assert_matches_golden
from tests.golden.make_models import golden


def test_models_pipeline_matches_the_golden_file():
    assert_matches_golden("models", golden())
