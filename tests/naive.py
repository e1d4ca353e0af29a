"""The oracle: slow, obviously-correct references in Python ints and ``fractions.Fraction``.

Kernels are compared against these with ``assert_array_equal``, never "almost equal".  One file
per area (``naive_fixed.py``, ``naive_float.py``, ...); this module re-exports them all.
"""

from tests.naive_binary import *  # noqa: F401,F403
from tests.naive_compress import *  # noqa: F401,F403
from tests.naive_fixed import *  # noqa: F401,F403
from tests.naive_float import *  # noqa: F401,F403
from tests.naive_models import *  # noqa: F401,F403
from tests.naive_ops import *  # noqa: F401,F403
