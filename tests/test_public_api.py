"""The public surface is explicit: every name in `os1.__all__` (and in the `__all__` of the
core value and seam modules) exists, and nothing else is advertised by accident."""

from __future__ import annotations

import importlib

import pytest

import os1

CORE_MODULES = [
    "os1.events",
    "os1.errors",
    "os1.config",
    "os1.profiles",
    "os1.testing",
    "os1.voices",
    "os1.backends",
    "os1.storage",
    "os1.prompts",
]


def test_package_all_is_complete_and_sorted():
    assert sorted(os1.__all__) == os1.__all__
    for name in os1.__all__:
        assert hasattr(os1, name), name


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_modules_declare_their_surface(module: str):
    mod = importlib.import_module(module)
    assert isinstance(mod.__all__, list) and mod.__all__
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"
