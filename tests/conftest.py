import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator: every test is deterministic."""
    return np.random.default_rng(0)
