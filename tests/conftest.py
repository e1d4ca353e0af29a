"""Shared fixtures: seeded generators, the MNIST location, Hypothesis profiles, --runslow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("slow", max_examples=5000, deadline=None,
                          suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
_SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
if "LOWBIT_DATA" not in os.environ and _SHARED_MNIST.is_dir():
    os.environ["LOWBIT_DATA"] = str(_SHARED_MNIST)


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread_per_worker():
    """One BLAS thread per test process: with two xdist workers on two cores, threaded BLAS
    only oversubscribes the machine (digits training ran ~10x slower under load)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow tier: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def rng():
    """A seeded generator, fresh for each test."""
    return np.random.default_rng(20141)


@pytest.fixture(scope="session")
def mnist_dir():
    """The directory with the original MNIST IDX files (skips the test when absent)."""
    path = os.environ.get("LOWBIT_DATA")
    if not path or not Path(path, "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("MNIST IDX files not found: set LOWBIT_DATA to their directory")
    return Path(path)
