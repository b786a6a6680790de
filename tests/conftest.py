"""Shared fixtures. Tests marked ``tf`` need TensorFlow and are skipped without it."""

from __future__ import annotations

import importlib.util
import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
HAVE_TF = importlib.util.find_spec("tensorflow") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_TF:
        return
    skip = pytest.mark.skip(reason="TensorFlow is not installed (pip install -e '.[tf]')")
    for item in items:
        if "tf" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def fixtures_dir() -> pathlib.Path:
    return FIXTURES
