from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator: every test is deterministic."""
    return np.random.default_rng(0)


BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_ignore_collect(collection_path, config):
    """tests/browser drives headless Chromium over a built site, so it runs only when asked for
    by path (`pytest tests/browser`, `make browser`), never as part of a plain `pytest`."""
    if Path(collection_path).resolve() != BROWSER_TESTS:
        return None
    here = config.invocation_params.dir
    asked = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    if any(path == BROWSER_TESTS or BROWSER_TESTS in path.parents for path in asked):
        return None
    return True
