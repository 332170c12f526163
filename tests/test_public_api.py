"""Each package's ``__all__`` lists exactly what it exports (httpx's habit)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "ehx.schemas",
    "ehx.adapters",
    "ehx.broker",
    "ehx.intake",
    "ehx.database",
    "ehx.consent",
    "ehx.api",
    "ehx.linker",
    "ehx.timeline",
    "ehx.alerts",
    "ehx",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_public_names_are_listed(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    public = {
        item
        for item in vars(module)
        if not item.startswith("_") and not isinstance(getattr(module, item), type(module))
    }
    assert public == exported
