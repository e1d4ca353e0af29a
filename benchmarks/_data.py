"""Where the benchmarks find MNIST: ``$LOWBIT_DATA`` if set, else the project's shared copy
beside the checkout (``../shared/data/mnist``), which the tests use too.

Importing this module sets ``LOWBIT_DATA`` to that copy when it is unset, so that code reading
the variable (``datasets.load("mnist")``, a sweep spec naming the ``mnist`` data set) finds it.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

if not os.environ.get("LOWBIT_DATA") and SHARED_MNIST.is_dir():
    os.environ["LOWBIT_DATA"] = str(SHARED_MNIST)


def mnist_dir() -> Path | None:
    """The MNIST directory, or None when neither ``$LOWBIT_DATA`` nor the shared copy exists."""
    path = os.environ.get("LOWBIT_DATA")
    return Path(path) if path else None
