from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator: every test is deterministic."""
    return np.random.default_rng(0)


TESTS = Path(__file__).resolve().parent
# Tests that run only when asked for by path (each has its make target), never as part of a
# plain `pytest`: tests/browser drives headless Chromium over whatever old _build/html lies
# around, tests/jupyterlab drives a JupyterLab, and test_standalone_chapters.py builds a fresh
# venv and runs every chapter in it.
ONLY_WHEN_NAMED = (TESTS / "browser", TESTS / "jupyterlab", TESTS / "test_standalone_chapters.py")


def pytest_ignore_collect(collection_path, config):
    """Leave out ONLY_WHEN_NAMED unless the command line names it (`pytest tests/browser`,
    `make browser`, `make lab-browser`, `make standalone`)."""
    target = Path(collection_path).resolve()
    if target not in ONLY_WHEN_NAMED:
        return None
    here = config.invocation_params.dir
    asked = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    if any(path == target or target in path.parents for path in asked):
        return None
    return True
