"""Current code reproduces tests/golden/compress.npz bit for bit (see make_compress.py)."""

from tests.golden.check import assert_matches_golden
from tests.golden.make_compress import golden


def test_compression_matches_the_golden_file():
    assert_matches_golden("compress", golden())
